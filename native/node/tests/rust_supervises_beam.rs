//! A Rust supervisor owning an Erlang worker on a real erl node (its own
//! test binary: the remote starter is process-wide).

mod common;

use std::time::Duration;

use common::*;
use etf::{Pid, Term};
use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
use ferrotp::Process;

async fn child_pid(ctx: &mut Process, sup: Pid) -> Option<Pid> {
    supervisor::which_children(ctx, sup)
        .await
        .ok()
        .and_then(|c| c.first().and_then(|c| c.pid()))
}

async fn wait_new_child(ctx: &mut Process, sup: Pid, old: Pid) -> Pid {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(p) = child_pid(ctx, sup).await {
            if p != old {
                return p;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child never restarted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_supervisor_starts_restarts_and_shuts_down_an_erlang_worker() {
    if !have_erl() {
        return;
    }
    let beams = compile_erlang();
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "b1").await;
    let erl = Erl::start_with(&epmd, "b1", &["-pa", beams.to_str().expect("utf-8 path")]);
    erl.connect(&rust.hidden).await;
    rust.hidden.start_beam_children(Some(erl.name));
    let e = erl.name;
    let result = rust
        .hidden
        .runtime()
        .run(move |mut ctx| async move {
            ctx.trap_exit(true);
            let spec = ChildSpec::worker(
                "w",
                Start::mfa("node_test_sup", "worker", vec![Term::atom("w1")]),
            );
            let flags = SupFlags::one_for_one().intensity(1).period(10);
            let sup = supervisor::start_link(&mut ctx, flags, vec![spec], SupOpts::default())
                .await
                .expect("supervisor with an Erlang child starts");
            let child = child_pid(&mut ctx, sup).await.expect("child pid");
            assert_eq!(child.node, e.atom(), "the child runs on the BEAM node");
            let w1 = eval(&mut ctx, e, "W1 = whereis(w1), is_pid(W1).").await;
            assert_eq!(w1, Term::atom("true"));
            // which_children shows the worker itself, as OTP's does.
            let shown = eval(
                &mut ctx,
                e,
                &format!("W1 =:= list_to_pid(\"<0.{}.{}>\").", child.id, child.serial),
            )
            .await;
            assert_eq!(shown, Term::atom("true"), "which_children names the worker");

            // Messages to the child reach the worker, which answers directly.
            ctx.send(
                &child,
                Term::tuple(vec![Term::atom("ping"), Term::Pid(ctx.pid())]),
            );
            let pong = recv_term(&mut ctx, |t| tagged(t, "pong")).await;
            let same = eval(
                &mut ctx,
                e,
                &format!(
                    "W1 =:= list_to_pid(\"<0.{}.{}>\").",
                    pid_of(&pong).id,
                    pid_of(&pong).serial
                ),
            )
            .await;
            assert_eq!(same, Term::atom("true"));

            // The worker crashes: restarted (a new worker registered as w1).
            eval(&mut ctx, e, "exit(W1, kill), ok.").await;
            let child2 = wait_new_child(&mut ctx, sup, child).await;
            let fresh = loop {
                let t = eval(
                    &mut ctx,
                    e,
                    "case whereis(w1) of W when is_pid(W), W =/= W1 -> true; _ -> false end.",
                )
                .await;
                if t == Term::atom("true") {
                    break t;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            assert_eq!(fresh, Term::atom("true"));

            // terminate_child: the worker gets shutdown.
            eval(
                &mut ctx,
                e,
                "W2 = whereis(w1), MW2 = erlang:monitor(process, W2), ok.",
            )
            .await;
            supervisor::terminate_child(&mut ctx, sup, Term::atom("w"))
                .await
                .expect("terminated");
            let why = eval(
                &mut ctx,
                e,
                "receive {'DOWN', MW2, process, W2, R} -> R after 30000 -> timeout end.",
            )
            .await;
            assert_eq!(why, Term::atom("shutdown"));
            assert_eq!(child2.node, e.atom());

            // Escalation: a second crash within the period (intensity 1) stops the supervisor.
            supervisor::restart_child(&mut ctx, sup, Term::atom("w"))
                .await
                .expect("restarted");
            let t = eval(&mut ctx, e, "W3 = whereis(w1), exit(W3, kill), ok.").await;
            assert_eq!(t, Term::atom("ok"));
            let exit = recv_term(&mut ctx, |t| {
                tagged(t, "EXIT") && elem(t, 1) == Term::Pid(sup)
            })
            .await;
            elem(&exit, 2)
        })
        .await
        .expect("test process");
    ferrotp::behaviours::clear_remote_starter();
    let _ = std::fs::remove_dir_all(beams);
    assert_eq!(result, Term::atom("shutdown"));
}

fn pid_of(t: &Term) -> Pid {
    match elem(t, 1) {
        Term::Pid(p) => p,
        other => panic!("not a pid: {other}"),
    }
}
