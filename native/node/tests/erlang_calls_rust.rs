//! From a real erl node: gen_server and sys against the Rust counter and
//! OTP's supervisor API against the Rust `top_sup`.

mod common;

use common::*;
use etf::Term;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_server_call_cast_and_sys_reach_the_registered_counter() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c1").await;
    let erl = Erl::start(&epmd, "c1");
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let results = eval_all(
        &rust,
        e,
        vec![
            format!("gen_server:call({{counter, '{n}'}}, value)."),
            format!("gen_server:cast({{counter, '{n}'}}, {{bump, 5}}), gen_server:call({{counter, '{n}'}}, value)."),
            format!("sys:get_state({{counter, '{n}'}})."),
            format!("[{{counter, Pid, _, _}}] = supervisor:which_children({{top_sup, '{n}'}}), gen_server:call(Pid, value) =:= 5."),
            format!("gen_server:cast({{counter, '{n}'}}, {{bump, 1 bsl 80}}), gen_server:call({{counter, '{n}'}}, value) =:= 5 + (1 bsl 80)."),
        ],
    )
    .await;
    assert_eq!(results[0], Term::Int(0));
    assert_eq!(results[1], Term::Int(5));
    assert_eq!(results[2], Term::Int(5));
    assert_eq!(results[3], Term::atom("true"));
    assert_eq!(results[4], Term::atom("true"), "bignum bump");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_supervisor_api_works_on_the_rust_top_sup() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c2").await;
    let erl = Erl::start(&epmd, "c2");
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let results = eval_all(
        &rust,
        e,
        vec![
            format!("[{{counter, C, worker, [counter]}}] = supervisor:which_children({{top_sup, '{n}'}}), is_pid(C) andalso node(C) =:= '{n}'."),
            format!("supervisor:count_children({{top_sup, '{n}'}})."),
            format!("{{ok, C2}} = supervisor:start_child({{top_sup, '{n}'}}, #{{id => c2, start => {{counter, start_link, [7]}}}}), gen_server:call(C2, value)."),
            format!("supervisor:terminate_child({{top_sup, '{n}'}}, c2)."),
            format!("{{ok, C3}} = supervisor:restart_child({{top_sup, '{n}'}}, c2), gen_server:call(C3, value)."),
            format!("ok = supervisor:terminate_child({{top_sup, '{n}'}}, c2), supervisor:delete_child({{top_sup, '{n}'}}, c2)."),
            format!("{{ok, S}} = supervisor:start_child({{top_sup, '{n}'}}, #{{id => sub, type => supervisor, start => {{supervisor, start_link, [#{{strategy => one_for_one}}, [#{{id => w, start => {{counter, start_link, [3]}}}}]]}}}}), [{{w, W, worker, _}}] = supervisor:which_children(S), gen_server:call(W, value)."),
            format!("length(supervisor:which_children({{top_sup, '{n}'}}))."),
        ],
    )
    .await;
    assert_eq!(results[0], Term::atom("true"), "{}", text(&results[0]));
    assert_eq!(
        text(&results[1]),
        "[{specs,1},{active,1},{supervisors,0},{workers,1}]"
    );
    assert_eq!(results[2], Term::Int(7), "{}", text(&results[2]));
    assert_eq!(results[3], Term::atom("ok"));
    assert_eq!(results[4], Term::Int(7), "{}", text(&results[4]));
    assert_eq!(results[5], Term::atom("ok"), "{}", text(&results[5]));
    assert_eq!(results[6], Term::Int(3), "{}", text(&results[6]));
    assert_eq!(results[7], Term::Int(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_an_erlang_callers_timeout_never_reaches_it() {
    // OTP 24+: gen_server:call's tag is [alias | Mref] and the reply goes to
    // the alias, so once the call timed out a late reply is dropped.
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c3").await;
    let erl = Erl::start(&epmd, "c3");
    erl.connect(&rust.hidden).await;
    let n = rust.name().to_string();
    let e = erl.name;
    let result = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let src = format!(
                "C = {{counter, '{n}'}}, ok = sys:suspend(C), \
                 R = case catch gen_server:call(C, value, 200) of {{'EXIT', {{timeout, _}}}} -> timeout; O -> O end, \
                 ok = sys:resume(C), 0 = gen_server:call(C, value), \
                 Stray = receive M -> {{stray, M}} after 500 -> none end, {{R, Stray}}."
            );
            eval(&mut ctx, e, &src).await
        })
        .await
        .expect("driver process");
    assert_eq!(text(&result), "{timeout,none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_to_erlang_use_alias_tags_and_drop_late_replies() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c4").await;
    let erl = Erl::start(&epmd, "c4");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let here = rust.hidden.name().atom();
    rust.hidden
        .runtime()
        .run(move |mut ctx| async move {
            // An Erlang server that answers {Req, Tag} with gen_server:reply
            // after Delay ms.
            let started = eval(
                &mut ctx,
                e,
                "Srv = fun L() -> receive {'$gen_call', {_, Tag} = From, {Req, Delay}} -> \
                 timer:sleep(Delay), gen_server:reply(From, {Req, Tag}), L() end end, \
                 register(tag_echo, spawn(Srv)), ok.",
            )
            .await;
            assert_eq!(started, Term::atom("ok"));
            let dest = ferrotp::Dest::Registered {
                name: etf::Atom::new("tag_echo"),
                node: e.atom(),
            };
            let req = |delay: i64| Term::tuple(vec![Term::atom("ping"), Term::Int(delay)]);
            let reply = ferrotp::gen_server::call_term(
                &mut ctx,
                dest.clone(),
                req(0),
                std::time::Duration::from_secs(30),
            )
            .await
            .expect("reply through the alias");
            let tag = elem(&reply, 1);
            let alias = ferrotp::alias::tag_alias(&tag).expect("[alias | Ref] tag");
            assert_eq!(alias.node, here, "the alias is the Rust node's");
            assert_eq!(elem(&reply, 0), Term::atom("ping"));
            // A reply after the timeout is dropped.
            let late = ferrotp::gen_server::call_term(
                &mut ctx,
                dest,
                req(300),
                std::time::Duration::from_millis(100),
            )
            .await;
            assert!(late.is_err(), "{late:?}");
            let stray = ctx
                .receive_timeout(std::time::Duration::from_millis(800))
                .await;
            assert!(stray.is_none(), "late reply reached the caller: {stray:?}");
        })
        .await
        .expect("driver process");
}

/// `sys:replace_state/2` from a real erl node: the fun runs on the BEAM
/// node (a process spawned there for it), and the Rust counter takes its
/// result; a fun that raises fails the call as it does for a gen_server.
/// And `ferrotp:start_link/4` with a global name, a malformed one, or
/// options a Rust node has no use for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_replace_state_and_global_names_from_a_beam_node() {
    if !have_erl() {
        return;
    }
    let beams = compile_erlang();
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c9").await;
    let erl = Erl::start_with(&epmd, "c9", &["-pa", beams.to_str().expect("utf-8 path")]);
    erl.connect(&rust.hidden).await;
    rust.hidden.start_beam_children(Some(erl.name));
    let n = rust.name().to_string();
    let node = n.clone();
    let e = erl.name;
    let results = eval_all(
        &rust,
        e,
        vec![
            format!("gen_server:cast({{counter, '{n}'}}, {{bump, 4}}), sys:replace_state({{counter, '{n}'}}, fun(N) -> N * 10 end)."),
            format!("gen_server:call({{counter, '{n}'}}, value)."),
            format!("{{'EXIT', {{R, _}}}} = (catch sys:replace_state({{counter, '{n}'}}, fun(_) -> error(boom) end)), R."),
            format!("sys:get_state({{counter, '{n}'}})."),
            // A global name is registered on the BEAM side, for the Rust pid.
            format!("{{ok, G}} = ferrotp:start_link('{n}', counter, 7, [{{name, {{global, rust_gc}}}}]), \
                     {{error, {{already_started, G}}}} = ferrotp:start_link('{n}', counter, 8, [{{name, {{global, rust_gc}}}}]), \
                     {{node(G), gen_server:call({{global, rust_gc}}, value)}}."),
            format!("ferrotp:start_link('{n}', counter, 9, [{{name, {{a, b, c}}}}])."),
            // Options a gen_server takes and a Rust node has no use for
            // are ignored, as gen ignores options it does not know.
            format!("{{ok, H}} = ferrotp:start_link('{n}', counter, 3, [{{hibernate_after, 10}}, {{spawn_opt, []}}, {{bogus, 1}}]), \
                     gen_server:call(H, value)."),
        ],
    )
    .await;
    let _ = std::fs::remove_dir_all(&beams);
    assert_eq!(text(&results[4]), format!("{{{node},7}}"));
    assert_eq!(text(&results[5]), "{error,{bad_name,{a,b,c}}}");
    assert_eq!(results[6], Term::Int(3), "{}", text(&results[6]));
    assert_eq!(results[0], Term::Int(40), "{}", text(&results[0]));
    assert_eq!(results[1], Term::Int(40));
    assert_eq!(
        text(&results[2]),
        "{callback_failed,{gen_server,system_replace_state},{error,boom}}"
    );
    assert_eq!(results[3], Term::Int(40));
}

/// The start option `{timeout, Ms}`, as gen_server:start_link/4's: an init
/// still running then (a Rust supervisor whose BEAM child takes 1.5 s to
/// start) is killed and the start returns `{error, timeout}`, with no exit
/// signal for a trapping caller and the name free for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_timeout_kills_a_slow_init_as_gen_server_does() {
    if !have_erl() {
        return;
    }
    let beams = compile_erlang();
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c10").await;
    let erl = Erl::start_with(&epmd, "c10", &["-pa", beams.to_str().expect("utf-8 path")]);
    erl.connect(&rust.hidden).await;
    rust.hidden.start_beam_children(Some(erl.name));
    let n = rust.name().to_string();
    let results = eval_all(
        &rust,
        erl.name,
        vec![format!(
            "process_flag(trap_exit, true), \
             Slow = {{#{{}}, [#{{id => slow, start => {{timer, sleep, [1500]}}}}]}}, \
             R = ferrotp:start_link('{n}', supervisor, Slow, [{{timeout, 200}}, {{name, slow_sup}}]), \
             receive after 2000 -> ok end, \
             {{messages, Left}} = process_info(self(), messages), \
             {{ok, C}} = ferrotp:start_link('{n}', counter, 4, [{{timeout, 5000}}, {{name, slow_sup}}]), \
             {{R, Left, gen_server:call(C, value)}}."
        )],
    )
    .await;
    let _ = std::fs::remove_dir_all(&beams);
    assert_eq!(text(&results[0]), "{{error,timeout},[],4}");
}

/// With two BEAM nodes connected, `sys:replace_state/2`'s fun runs on the
/// caller's node: there, and only there, is its module loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sys_replace_state_and_beam_children_run_on_the_callers_node() {
    if !have_erl() {
        return;
    }
    let beams = compile_erlang();
    let only_b = std::env::temp_dir().join(unique("only_b_beams"));
    std::fs::create_dir_all(&only_b).expect("dir");
    let src = only_b.join("only_b.erl");
    std::fs::write(
        &src,
        "-module(only_b).\n-export([add/1, start_link/0, boom/0]).\n\
         add(K) -> fun(N) -> N + K end.\n\
         start_link() -> {ok, spawn_link(fun() -> receive stop -> ok end end)}.\n\
         boom() -> error(boom).\n",
    )
    .expect("write only_b.erl");
    let compiled = std::process::Command::new("erlc")
        .arg("-o")
        .arg(&only_b)
        .arg(&src)
        .status()
        .expect("erlc runs");
    assert!(compiled.success());
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c10").await;
    let beams_dir = beams.to_str().expect("utf-8 path");
    let a = Erl::start_with(&epmd, "c10", &["-pa", beams_dir]);
    let b = Erl::start_with(
        &epmd,
        "c10",
        &[
            "-pa",
            beams_dir,
            "-pa",
            only_b.to_str().expect("utf-8 path"),
        ],
    );
    a.connect(&rust.hidden).await;
    b.connect(&rust.hidden).await;
    // BEAM children (and funs, by default) go to node a.
    rust.hidden.start_beam_children(Some(a.name));
    let n = rust.name().to_string();
    let (ea, eb) = (a.name, b.name);
    let results = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            vec![
                eval(&mut ctx, ea, "code:which(only_b).").await,
                eval(
                    &mut ctx,
                    eb,
                    &format!("sys:replace_state({{counter, '{n}'}}, only_b:add(5))."),
                )
                .await,
                // A Rust supervisor started from b starts its BEAM children
                // on b (an OTP supervisor's starts run on its own node; the
                // Rust node's is the node of its parent), and reads a start
                // that raised as OTP's does: `{error, {{'EXIT', Why}, Child}}`.
                eval(
                    &mut ctx,
                    eb,
                    &format!("{{ok, S}} = ferrotp:start_link('{n}', supervisor, \
                              {{#{{}}, [#{{id => w, start => {{only_b, start_link, []}}}}]}}), \
                              [{{w, W, worker, _}}] = supervisor:which_children(S), \
                              {{error, {{{{'EXIT', {{boom, _}}}}, _}}}} = \
                                  supervisor:start_child(S, #{{id => x, start => {{only_b, boom, []}}}}), \
                              unlink(S), exit(S, shutdown), node(W) =:= node()."),
                )
                .await,
            ]
        })
        .await
        .expect("driver process");
    let _ = std::fs::remove_dir_all(&beams);
    let _ = std::fs::remove_dir_all(&only_b);
    assert_eq!(
        results[0],
        Term::atom("non_existing"),
        "only_b is not on node a"
    );
    assert_eq!(results[1], Term::Int(5), "{}", text(&results[1]));
    assert_eq!(results[2], Term::atom("true"), "{}", text(&results[2]));
}

/// A Rust node's supervisor stops its BEAM children as an OTP supervisor
/// does, although they run behind a bridge on the BEAM node: `brutal_kill`
/// kills a child that traps exits (its `terminate/2` never runs), and a
/// child slower than its shutdown timeout is killed once it is up; either
/// way the child is dead when `gen_server:stop/1` of the supervisor returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beam_children_of_a_rust_supervisor_are_killed_as_otp_kills_them() {
    if !have_erl() {
        return;
    }
    let beams = compile_erlang();
    let src = beams.join("slow_trapper.erl");
    std::fs::write(
        &src,
        "-module(slow_trapper).\n-behaviour(gen_server).\n\
         -export([start_link/1, init/1, handle_call/3, handle_cast/2, terminate/2]).\n\
         start_link(Report) -> gen_server:start_link(?MODULE, Report, []).\n\
         init(Report) -> process_flag(trap_exit, true), {ok, Report}.\n\
         handle_call(_, _, S) -> {reply, ok, S}.\n\
         handle_cast(_, S) -> {noreply, S}.\n\
         terminate(Reason, Report) -> Report ! {terminating, self(), Reason}, timer:sleep(2000).\n",
    )
    .expect("write slow_trapper.erl");
    let compiled = std::process::Command::new("erlc")
        .arg("-o")
        .arg(&beams)
        .arg(&src)
        .status()
        .expect("erlc runs");
    assert!(compiled.success());
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "c11").await;
    let erl = Erl::start_with(&epmd, "c11", &["-pa", beams.to_str().expect("utf-8 path")]);
    erl.connect(&rust.hidden).await;
    rust.hidden.start_beam_children(None);
    let n = rust.name().to_string();
    let e = erl.name;
    // Each evaluation keeps its bindings: `V` tells the two apart.
    let stop = |shutdown: &str, v: &str| {
        format!(
            "Me{v} = self(), \
             {{ok, S{v}}} = ferrotp:start_link('{n}', supervisor, {{#{{}}, \
                 [#{{id => a, start => {{slow_trapper, start_link, [Me{v}]}}, shutdown => {shutdown}}}]}}), \
             [{{a, A{v}, worker, _}}] = supervisor:which_children(S{v}), \
             unlink(S{v}), \
             T{v} = erlang:monotonic_time(millisecond), \
             ok = gen_server:stop(S{v}), \
             Ms{v} = erlang:monotonic_time(millisecond) - T{v}, \
             {{is_process_alive(A{v}), Ms{v} < 1500, \
              receive {{terminating, A{v}, R{v}}} -> R{v} after 100 -> no_terminate end}}."
        )
    };
    let results = eval_all(&rust, e, vec![stop("brutal_kill", "1"), stop("300", "2")]).await;
    let _ = std::fs::remove_dir_all(&beams);
    assert_eq!(text(&results[0]), "{false,true,no_terminate}");
    assert_eq!(text(&results[1]), "{false,true,shutdown}");
}
