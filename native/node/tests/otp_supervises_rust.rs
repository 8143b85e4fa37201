//! `ferrotp:start_link(Node, Behaviour, Arg)` from a real erl: Rust
//! processes owned by Erlang processes and OTP supervisors.

mod common;

use common::*;
use etf::Term;

async fn on_erl(cookie: &str, steps: &[&str]) -> Vec<Term> {
    let beams = compile_erlang();
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, cookie).await;
    let erl = Erl::start_with(&epmd, cookie, &["-pa", beams.to_str().expect("utf-8 path")]);
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let steps: Vec<String> = steps
        .iter()
        .map(|s| s.replace("{N}", &format!("'{n}'")))
        .collect();
    let out = eval_all(&rust, e, steps).await;
    let _ = std::fs::remove_dir_all(beams);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrotp_start_link_gives_a_linked_gen_server_on_the_rust_node() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "o1",
        &[
            "process_flag(trap_exit, true), {ok, C} = ferrotp:start_link({N}, counter, 5), \
             {node(C) =:= {N}, gen_server:call(C, value)}.",
            "{links, L} = process_info(self(), links), lists:member(C, L).",
            "{ok, C2} = ferrotp:start_link({N}, counter, 1, [{name, named_counter}]), \
             gen_server:cast({named_counter, {N}}, {bump, 2}), gen_server:call({named_counter, {N}}, value).",
            "{error, {already_started, C2}} =:= ferrotp:start_link({N}, counter, 1, [{name, named_counter}]).",
            // A start that fails in init, as a gen_server's: the error,
            // then the started process's exit (trapped here).
            "{error, {undef, _} = U} = ferrotp:start_link({N}, no_such_behaviour, 1), \
             {error, {badarg, foo} = B} = ferrotp:start_link({N}, counter, foo), \
             [receive {'EXIT', _, U} -> undef end, receive {'EXIT', _, B} -> badarg end].",
            "{error, {nodedown, _}} = ferrotp:start_link('nobody@localhost', counter, 1), ok.",
            // Linked: the caller's death takes the Rust process down.
            "Self = self(), Owner = spawn(fun() -> {ok, P} = ferrotp:start_link({N}, counter, 0), Self ! {p, P}, \
             receive die -> exit(owner_died) end end), P3 = receive {p, X} -> X end, \
             M3 = erlang:monitor(process, P3), Owner ! die, \
             receive {'DOWN', M3, process, P3, R3} -> R3 after 30000 -> timeout end.",
        ],
    )
    .await;
    assert_eq!(text(&r[0]), "{true,5}");
    assert_eq!(r[1], Term::atom("true"));
    assert_eq!(r[2], Term::Int(3));
    assert_eq!(r[3], Term::atom("true"));
    assert_eq!(text(&r[4]), "[undef,badarg]");
    assert_eq!(r[5], Term::atom("ok"), "{}", text(&r[5]));
    assert_eq!(r[6], Term::atom("owner_died"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otp_supervisor_restarts_and_shuts_down_a_rust_counter() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "o2",
        &[
            "process_flag(trap_exit, true), \
             {ok, S} = node_test_sup:start_link(#{strategy => one_for_one, intensity => 2, period => 10}, \
               [#{id => c, start => {ferrotp, start_link, [{N}, counter, 0]}}]), \
             [{c, C1, worker, _}] = supervisor:which_children(S), node(C1) =:= {N}.",
            // A crash is restarted: a new Rust pid, fresh state.
            "gen_server:cast(C1, {bump, 4}), 4 = gen_server:call(C1, value), M1 = erlang:monitor(process, C1), exit(C1, kill), \
             receive {'DOWN', M1, process, C1, killed} -> ok end, \
             Wait = fun W(Old) -> case supervisor:which_children(S) of [{c, P, _, _}] when is_pid(P), P =/= Old -> P; _ -> timer:sleep(20), W(Old) end end, \
             C2 = Wait(C1), {node(C2) =:= {N}, gen_server:call(C2, value)}.",
            // terminate_child delivers shutdown.
            "M2 = erlang:monitor(process, C2), ok = supervisor:terminate_child(S, c), \
             receive {'DOWN', M2, process, C2, R2} -> R2 after 30000 -> timeout end.",
            "{ok, C3} = supervisor:restart_child(S, c), gen_server:call(C3, value).",
            // Escalation: a third restart within 10 s (intensity 2) stops the supervisor.
            "Mk = erlang:monitor(process, C3), exit(C3, kill), receive {'DOWN', Mk, _, _, _} -> ok end, \
             C4 = Wait(C3), exit(C4, kill), \
             R5 = receive {'EXIT', S, SR} -> SR after 30000 -> timeout end, {R5, is_process_alive(S)}.",
        ],
    )
    .await;
    assert_eq!(r[0], Term::atom("true"));
    assert_eq!(text(&r[1]), "{true,0}");
    assert_eq!(r[2], Term::atom("shutdown"));
    assert_eq!(r[3], Term::Int(0));
    assert_eq!(text(&r[4]), "{shutdown,false}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_supervisor_under_an_otp_supervisor_shuts_its_tree_down() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "o3",
        &[
            "process_flag(trap_exit, true), \
             Flags = #{strategy => one_for_one}, Specs = [#{id => w, start => {counter, start_link, [9]}}], \
             {ok, S} = node_test_sup:start_link(#{strategy => one_for_one}, \
               [#{id => rs, type => supervisor, start => {ferrotp, start_link, [{N}, supervisor, {Flags, Specs}]}}]), \
             [{rs, RS, supervisor, _}] = supervisor:which_children(S), \
             [{w, W, worker, _}] = supervisor:which_children(RS), gen_server:call(W, value).",
            "MW = erlang:monitor(process, W), MRS = erlang:monitor(process, RS), ok = supervisor:terminate_child(S, rs), \
             A = receive {'DOWN', MW, process, W, RW} -> RW after 30000 -> timeout end, \
             B = receive {'DOWN', MRS, process, RS, RR} -> RR after 30000 -> timeout end, {A, B}.",
        ],
    )
    .await;
    assert_eq!(r[0], Term::Int(9), "{}", text(&r[0]));
    assert_eq!(text(&r[1]), "{shutdown,shutdown}");
}
