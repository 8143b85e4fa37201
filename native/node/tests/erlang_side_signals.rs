//! Links, monitors and exit signals from a real erl node to Rust
//! processes, with OTP's semantics.

mod common;

use common::*;
use etf::Term;

/// Runs `steps` (Erlang expressions) one by one on a fresh erl connected
/// to a fresh Rust node; `{N}` in a step is the Rust node's name.
async fn on_erl(cookie: &str, steps: &[&str]) -> Vec<Term> {
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, cookie).await;
    spawn_echo(&rust.hidden);
    let erl = Erl::start(&epmd, cookie);
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let steps: Vec<String> = steps
        .iter()
        .map(|s| s.replace("{N}", &format!("'{n}'")))
        .collect();
    eval_all(&rust, e, steps).await
}

const START: &str = "process_flag(trap_exit, true), {ok, P} = gen_server:call({ferrotp, {N}}, {start_link, self(), counter, 0, []}), is_pid(P).";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_from_erlang_is_seen_as_killed_by_monitors_and_links() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k1",
        &[
            START,
            "M = erlang:monitor(process, P), exit(P, kill), \
             R1 = receive {'DOWN', M, process, P, R} -> R after 30000 -> timeout end, \
             R2 = receive {'EXIT', P, X} -> X after 30000 -> timeout end, {R1, R2}.",
        ],
    )
    .await;
    assert_eq!(r[0], Term::atom("true"));
    assert_eq!(text(&r[1]), "{killed,killed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_exit_signals_do_not_stop_a_rust_process() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k2",
        &[
            START,
            // A linked Erlang process ending normally, and exit(P, normal).
            "Self = self(), E = spawn(fun() -> link(P), Self ! linked, receive go -> ok end end), \
             receive linked -> ok end, ME = erlang:monitor(process, E), E ! go, \
             receive {'DOWN', ME, process, E, normal} -> ok end, \
             exit(P, normal), gen_server:call(P, value).",
            "is_process_alive(self()) andalso (catch gen_server:call(P, value)) =:= 0.",
        ],
    )
    .await;
    assert_eq!(r[1], Term::Int(0));
    assert_eq!(r[2], Term::atom("true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abnormal_exit_of_a_linked_erlang_process_kills_the_rust_process() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k3",
        &[
            START,
            "M = erlang:monitor(process, P), Self = self(), \
             E = spawn(fun() -> link(P), Self ! linked, receive go -> exit(boom) end end), \
             receive linked -> ok end, E ! go, \
             receive {'DOWN', M, process, P, R} -> R after 30000 -> timeout end.",
            "receive {'EXIT', P, X} -> X after 30000 -> timeout end.",
        ],
    )
    .await;
    assert_eq!(r[1], Term::atom("boom"));
    assert_eq!(r[2], Term::atom("boom"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_server_stop_is_normal_and_only_trapping_links_see_it() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k4",
        &[
            START,
            "M = erlang:monitor(process, P), ok = gen_server:stop(P), \
             R1 = receive {'DOWN', M, process, P, R} -> R after 30000 -> timeout end, \
             R2 = receive {'EXIT', P, X} -> X after 30000 -> timeout end, {R1, R2}.",
        ],
    )
    .await;
    assert_eq!(text(&r[1]), "{normal,normal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noproc_for_unknown_names_and_dead_pids() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k5",
        &[
            START,
            "M = erlang:monitor(process, {nosuch, {N}}), \
             receive {'DOWN', M, process, {nosuch, _}, R} -> R after 30000 -> timeout end.",
            "{'EXIT', {noproc, _}} = (catch gen_server:call({nosuch, {N}}, value)), ok.",
            // A dead Rust pid: messages vanish, a link answers noproc, a monitor DOWN noproc.
            "ok = gen_server:stop(P), receive {'EXIT', P, normal} -> ok end, P ! hello, \
             link(P), R1 = receive {'EXIT', P, X} -> X after 30000 -> timeout end, \
             M2 = erlang:monitor(process, P), \
             R2 = receive {'DOWN', M2, process, P, Y} -> Y after 30000 -> timeout end, {R1, R2}.",
        ],
    )
    .await;
    assert_eq!(r[1], Term::atom("noproc"));
    assert_eq!(r[2], Term::atom("ok"));
    assert_eq!(text(&r[3]), "{noproc,noproc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_by_name_and_demonitor() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k6",
        &[
            "M = erlang:monitor(process, {counter, {N}}), true = erlang:demonitor(M), \
             M2 = erlang:monitor(process, {counter, {N}}), \
             [{counter, C, _, _}] = supervisor:which_children({top_sup, {N}}), exit(C, kill), \
             receive {'DOWN', M2, process, Obj, R} -> {Obj, R} =:= {{counter, {N}}, killed} after 30000 -> timeout end.",
            "receive {'DOWN', M, _, _, _} -> got_demonitored_down after 500 -> none end.",
        ],
    )
    .await;
    assert_eq!(r[0], Term::atom("true"), "{}", text(&r[0]));
    assert_eq!(r[1], Term::atom("none"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_node_fires_noconnection_on_links_and_monitors() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k7",
        &[
            START,
            "M = erlang:monitor(process, P), M2 = erlang:monitor(process, {counter, {N}}), \
             true = erlang:disconnect_node({N}), \
             R1 = receive {'DOWN', M, process, P, A} -> A after 30000 -> timeout end, \
             R2 = receive {'DOWN', M2, process, _, B} -> B after 30000 -> timeout end, \
             R3 = receive {'EXIT', P, C} -> C after 30000 -> timeout end, {R1, R2, R3}.",
        ],
    )
    .await;
    assert_eq!(text(&r[1]), "{noconnection,noconnection,noconnection}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabyte_messages_and_bignums_round_trip() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k8",
        &[
            "B = crypto:strong_rand_bytes(10 bsl 20), {echo, {N}} ! {self(), B}, \
             receive B -> same after 60000 -> timeout end.",
            "L = lists:seq(1, 200000), T = {L, [float(X) || X <- lists:seq(1, 1000)], B}, \
             {echo, {N}} ! {self(), T}, receive T -> same after 60000 -> timeout end.",
            "Big = (1 bsl 10000) - 12345, Neg = -Big, {echo, {N}} ! {self(), {Big, Neg}}, \
             receive {Big, Neg} -> same after 30000 -> timeout end.",
        ],
    )
    .await;
    assert_eq!(r[0], Term::atom("same"));
    assert_eq!(r[1], Term::atom("same"));
    assert_eq!(r[2], Term::atom("same"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_from_erlang_removes_the_link_on_both_sides() {
    if !have_erl() {
        return;
    }
    let r = on_erl(
        "k9",
        &[
            START,
            "true = unlink(P), M = erlang:monitor(process, P), exit(P, kill), \
             receive {'DOWN', M, process, P, killed} -> ok end, \
             receive {'EXIT', P, R} -> {still_linked, R} after 1000 -> unlinked end.",
            // A Rust process unlinked from the Erlang side does not die with it.
            "{ok, Q} = gen_server:call({ferrotp, {N}}, {start_link, self(), counter, 0, []}), \
             Self = self(), E = spawn(fun() -> link(Q), unlink(Q), Self ! ready, receive go -> exit(boom) end end), \
             receive ready -> ok end, ME = erlang:monitor(process, E), E ! go, \
             receive {'DOWN', ME, process, E, boom} -> ok end, gen_server:call(Q, value).",
        ],
    )
    .await;
    assert_eq!(r[1], Term::atom("unlinked"), "{}", text(&r[1]));
    assert_eq!(r[2], Term::Int(0));
}
