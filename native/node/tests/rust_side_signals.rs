//! Links, monitors and exit signals from Rust processes to processes on a
//! real erl node, and what a lost connection does to them.

mod common;

use common::*;
use dist::node::{EpmdMode, NodeConfig};
use dist::{Cookie, NodeName};
use etf::{Atom, Term};
use node::host::HiddenNode;

const WAITER: &str = "E = spawn(fun() -> receive {stop, R} -> exit(R) end end), E.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_monitors_and_trapped_links_see_erlang_exits() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r1").await;
    let erl = Erl::start(&epmd, "r1");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let (down, exit) = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            ctx.trap_exit(true);
            let Term::Pid(p) = eval(&mut ctx, e, WAITER).await else {
                panic!("no pid");
            };
            let mref = ctx.monitor(&p);
            ctx.link(&p);
            // The link is in place on the Erlang side before the stop.
            let links = eval(&mut ctx, e, "{links, L} = process_info(E, links), L.").await;
            assert_eq!(links, Term::List(vec![Term::Pid(ctx.pid())]));
            eval(&mut ctx, e, "E ! {stop, {shutdown, done}}.").await;
            let down = recv_term(&mut ctx, |t| tagged(t, "DOWN")).await;
            assert_eq!(elem(&down, 1), Term::Reference(mref));
            let exit = recv_term(&mut ctx, |t| tagged(t, "EXIT")).await;
            (down, exit)
        })
        .await
        .expect("test process");
    assert_eq!(text(&elem(&down, 4)), "{shutdown,done}");
    assert_eq!(text(&elem(&exit, 2)), "{shutdown,done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_exit_kill_is_killed_for_erlang_watchers_and_untrappable() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r2").await;
    let erl = Erl::start(&epmd, "r2");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let reason = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let src = "T = spawn(fun() -> process_flag(trap_exit, true), receive after infinity -> ok end end), \
                       MT = erlang:monitor(process, T), T.";
            let Term::Pid(t) = eval(&mut ctx, e, src).await else {
                panic!("no pid");
            };
            ctx.exit(&t, Term::atom("kill"));
            eval(
                &mut ctx,
                e,
                "receive {'DOWN', MT, process, T, R} -> R after 30000 -> timeout end.",
            )
            .await
        })
        .await
        .expect("test process");
    assert_eq!(reason, Term::atom("killed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_trapping_rust_process_dies_with_its_erlang_link_and_normal_does_not_propagate() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r3").await;
    let erl = Erl::start(&epmd, "r3");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let (normal_survivor, crash_reason) = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let mut outcome = Vec::new();
            for stop in ["normal", "crash"] {
                // A fresh variable per round (the driver keeps bindings).
                let var = format!("E_{stop}");
                let Term::Pid(p) = eval(&mut ctx, e, &WAITER.replace('E', &var)).await else {
                    panic!("no pid");
                };
                let linked = ctx.spawn(move |mut c| async move {
                    c.link(&p);
                    std::future::pending::<()>().await
                });
                let mref = ctx.monitor(&linked);
                // Wait for the link to be in place on the Erlang side.
                let check = format!("{{links, [_]}} = process_info({var}, links), {var} ! {{stop, {stop}}}, ok.");
                loop {
                    if eval(&mut ctx, e, &check).await == Term::atom("ok") {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                if stop == "normal" {
                    // The Erlang process is gone; ours must still be alive.
                    let src = format!("erlang:monitor(process, {var}), receive {{'DOWN', _, _, {var}, Probe}} -> Probe end.");
                    let probe = eval(&mut ctx, e, &src).await;
                    // normal, or noproc if it was already gone when monitored.
                    assert!(probe.is_atom("normal") || probe.is_atom("noproc"), "{probe}");
                    let alive = ctx.node().is_alive(&linked);
                    ctx.exit(&linked, Term::atom("kill"));
                    outcome.push(Term::atom(if alive { "alive" } else { "dead" }));
                } else {
                    let down = recv_term(&mut ctx, |t| tagged(t, "DOWN") && elem(t, 1) == Term::Reference(mref.clone())).await;
                    outcome.push(elem(&down, 4));
                }
            }
            (outcome[0].clone(), outcome[1].clone())
        })
        .await
        .expect("test process");
    assert_eq!(normal_survivor, Term::atom("alive"));
    assert_eq!(crash_reason, Term::atom("crash"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_monitor_of_unknown_erlang_name_is_noproc_and_send_by_name_works() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r4").await;
    let erl = Erl::start(&epmd, "r4");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let (reason, got) = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let mref = ctx.monitor_name(Atom::new("nosuch"), e.atom());
            let down = recv_term(&mut ctx, |t| tagged(t, "DOWN")).await;
            assert_eq!(elem(&down, 1), Term::Reference(mref));
            assert_eq!(text(&elem(&down, 3)), format!("{{nosuch,{}}}", e.as_str()));
            eval(
                &mut ctx,
                e,
                "register(box, spawn(fun() -> receive {From, M} -> From ! {got, M} end end)), ok.",
            )
            .await;
            let _ = ctx.send_to(
                (Atom::new("box"), e.atom()),
                Term::tuple(vec![Term::Pid(ctx.pid()), Term::atom("hi")]),
            );
            let got = recv_term(&mut ctx, |t| tagged(t, "got")).await;
            (elem(&down, 4), elem(&got, 1))
        })
        .await
        .expect("test process");
    assert_eq!(reason, Term::atom("noproc"));
    assert_eq!(got, Term::atom("hi"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_erlang_os_process_fires_noconnection_once() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r5").await;
    let mut erl = Erl::start(&epmd, "r5");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let node = rust.hidden.runtime().clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (killed_tx, killed_rx) = tokio::sync::oneshot::channel::<()>();
    let (result_tx, result_rx) = tokio::sync::oneshot::channel();
    node.spawn(move |mut ctx| async move {
        ctx.trap_exit(true);
        let Term::Pid(p) = eval(&mut ctx, e, WAITER).await else {
            panic!("no pid");
        };
        ctx.monitor(&p);
        ctx.link(&p);
        let _ = eval(&mut ctx, e, "{links, [_]} = process_info(E, links), ok.").await;
        let _ = tx.send(());
        let _ = killed_rx.await;
        let down = recv_term(&mut ctx, |t| tagged(t, "DOWN")).await;
        let exit = recv_term(&mut ctx, |t| tagged(t, "EXIT")).await;
        // Exactly once: nothing else arrives.
        let extra = ctx
            .receive_timeout(std::time::Duration::from_millis(500))
            .await;
        let _ = result_tx.send((elem(&down, 4), elem(&exit, 2), extra.is_none()));
    });
    rx.await.expect("watcher set up");
    erl.kill();
    let _ = killed_tx.send(());
    let (down, exit, once) = tokio::time::timeout(WAIT, result_rx)
        .await
        .expect("watcher saw noconnection in time")
        .expect("watcher result");
    assert_eq!(down, Term::atom("noconnection"));
    assert_eq!(exit, Term::atom("noconnection"));
    assert!(once, "more than one signal for one lost connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_cookie_is_refused_both_ways() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "right").await;
    let erl = Erl::start(&epmd, "wrong");
    // Rust → erl: the handshake fails (retry while erl boots: not registered yet).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match rust.hidden.connect(erl.name).await {
            Ok(_) => panic!("connected with the wrong cookie"),
            Err(dist::node::NodeError::Handshake { .. }) => break,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "unexpected: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    // erl → Rust: a second Rust node with erl's cookie drives erl's ping.
    let name = NodeName::parse(&format!("{}@localhost", unique("helper"))).expect("name");
    let helper = HiddenNode::start(
        NodeConfig::new(name)
            .cookie(Cookie::new("wrong"))
            .epmd(EpmdMode::External)
            .epmd_port(epmd.port),
    )
    .await
    .expect("helper node");
    erl.connect(&helper).await;
    let target = rust.name().to_string();
    let e = erl.name;
    let pong = helper
        .runtime()
        .run(move |mut ctx| async move {
            eval(&mut ctx, e, &format!("net_adm:ping('{target}').")).await
        })
        .await
        .expect("driver");
    helper.shutdown();
    assert_eq!(pong, Term::atom("pang"));
    assert!(rust.hidden.dist().nodes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_from_rust_removes_the_link_on_the_erlang_side() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r6").await;
    let erl = Erl::start(&epmd, "r6");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let (links_after, alive) = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            let Term::Pid(p) = eval(&mut ctx, e, WAITER).await else {
                panic!("no pid");
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (unlink_tx, unlink_rx) = tokio::sync::oneshot::channel::<()>();
            let linked = ctx.spawn(move |mut c| async move {
                c.link(&p);
                let _ = tx.send(());
                let _ = unlink_rx.await;
                c.unlink(&p);
                std::future::pending::<()>().await
            });
            let _ = rx.await;
            loop {
                if eval(&mut ctx, e, "{links, [_]} = process_info(E, links), ok.").await == Term::atom("ok") {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let _ = unlink_tx.send(());
            let links_after = loop {
                let l = eval(&mut ctx, e, "element(2, process_info(E, links)).").await;
                if l == Term::nil() {
                    break l;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            eval(&mut ctx, e, "MZ = erlang:monitor(process, E), E ! {stop, crash}, receive {'DOWN', MZ, _, _, _} -> ok end.").await;
            // Let any (wrong) exit signal arrive before looking.
            eval(&mut ctx, e, "ok.").await;
            (links_after, ctx.node().is_alive(&linked))
        })
        .await
        .expect("test process");
    assert_eq!(links_after, Term::nil());
    assert!(alive, "an unlinked process died with its former link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_from_rust_fires_noconnection_for_rust_watchers() {
    if !have_erl() {
        return;
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "r7").await;
    let erl = Erl::start(&epmd, "r7");
    erl.connect(&rust.hidden).await;
    let e = erl.name;
    let hidden = rust.hidden.clone();
    let (down, exit) = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            ctx.trap_exit(true);
            let Term::Pid(p) = eval(&mut ctx, e, WAITER).await else {
                panic!("no pid");
            };
            ctx.monitor(&p);
            ctx.link(&p);
            assert!(hidden.dist().disconnect(e), "was connected");
            let down = recv_term(&mut ctx, |t| tagged(t, "DOWN")).await;
            let exit = recv_term(&mut ctx, |t| tagged(t, "EXIT")).await;
            (elem(&down, 4), elem(&exit, 2))
        })
        .await
        .expect("test process");
    assert_eq!(down, Term::atom("noconnection"));
    assert_eq!(exit, Term::atom("noconnection"));
}
