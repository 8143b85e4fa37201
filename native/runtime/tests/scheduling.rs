//! Fairness and responsiveness of processes on the node's schedulers.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use etf::Term;
use ferrotp::Node;

/// A process that always has a message waiting must still let others run
/// (receive spends a budget, then yields).
#[tokio::test(flavor = "current_thread")]
async fn busy_process_does_not_freeze_others() {
    Node::local()
        .run(|mut ctx| async move {
            // An endless body has type `!`: name the output type.
            let busy = ctx.spawn::<_, _, ()>(|mut c| async move {
                let me = c.pid();
                c.send(&me, Term::Int(0));
                loop {
                    let n = c
                        .receive()
                        .await
                        .into_term()
                        .ok()
                        .and_then(|t| t.as_i64())
                        .unwrap_or(0);
                    c.send(&me, Term::Int(n + 1));
                }
            });
            let me = ctx.pid();
            let echo = ctx.spawn(move |mut c| async move {
                for _ in 0..100 {
                    let m = c.receive().await.into_term().unwrap_or(Term::nil());
                    c.send(&me, m);
                }
            });
            for i in 0..100 {
                ctx.send(&echo, Term::Int(i));
                assert_eq!(recv(&mut ctx).await, Term::Int(i));
            }
            assert_eq!(
                exit_and_wait(&mut ctx, &busy, Term::atom("kill")).await,
                Term::atom("killed")
            );
        })
        .await
        .unwrap();
}

/// An exit signal reaches a process that is awaiting something other than
/// its mailbox (here a long sleep): its body is dropped at that await.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_interrupts_a_process_awaiting_something_else() {
    Node::local()
        .run(|mut ctx| async move {
            let me = ctx.pid();
            let sleeper = ctx.spawn(move |c| async move {
                c.send(&me, Term::atom("sleeping"));
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
            assert_eq!(recv(&mut ctx).await, Term::atom("sleeping"));
            let started = std::time::Instant::now();
            assert_eq!(
                exit_and_wait(&mut ctx, &sleeper, Term::atom("custom")).await,
                Term::atom("custom")
            );
            assert!(started.elapsed() < WAIT);
        })
        .await
        .unwrap();
}

/// A process woken by one that then never yields (a synchronous loop, no
/// await) still runs: another scheduler thread takes it from the busy
/// thread's queue. (Needs two cores: with one thread nothing can.)
#[test]
fn work_queued_behind_a_process_that_never_yields_still_runs() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    let node = Node::local();
    let first = node
        .block_on_process(|mut ctx| async move {
            let me = ctx.pid();
            let stop = Arc::new(AtomicBool::new(false));
            let echo = ctx.spawn(move |mut c| async move {
                c.send(&me, Term::atom("ready"));
                let _ = c.receive().await;
                c.send(&me, Term::atom("echo"));
            });
            // `echo` waits in `receive` before the spinner starts.
            assert_eq!(recv(&mut ctx).await, Term::atom("ready"));
            let spinning = stop.clone();
            ctx.spawn(move |c| async move {
                // Wakes `echo` (queued on this thread), then holds the thread.
                c.send(&echo, Term::atom("go"));
                let start = Instant::now();
                while !spinning.load(Ordering::Acquire) && start.elapsed() < WAIT {
                    std::hint::spin_loop();
                }
                c.send(&me, Term::atom("spun"));
            });
            let first = recv(&mut ctx).await;
            stop.store(true, Ordering::Release);
            first
        })
        .unwrap();
    assert_eq!(first, Term::atom("echo"));
}

/// A timer to a process that dies is cancelled, as on the BEAM: it keeps
/// no message (nor task) until its deadline, and cancel_timer says it was
/// not pending (`erlang:cancel_timer/1` returns `false`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_to_a_process_that_dies_is_cancelled() {
    let node = ferrotp::Node::local();
    node.run(|mut ctx| async move {
        let hour = std::time::Duration::from_secs(3600);
        let mut timers = Vec::new();
        for _ in 0..100 {
            let p = ctx.spawn(|mut c| async move {
                c.receive().await;
            });
            let watch = ctx.monitor(&p);
            timers.push(ctx.send_after(hour, &p, etf::Term::atom("late")));
            ctx.exit(&p, etf::Term::atom("kill"));
            let _ = ctx
                .receive_match(
                    |m| m.is_tagged("DOWN"),
                    Some(std::time::Duration::from_secs(10)),
                )
                .await
                .expect("a DOWN");
            ctx.demonitor(&watch, true);
        }
        assert!(timers.iter().all(|t| ctx.cancel_timer(t).is_none()));
        // A live one is still pending.
        let me = ctx.pid();
        let t = ctx.send_after(hour, &me, etf::Term::atom("later"));
        assert!(ctx.cancel_timer(&t).is_some());
    })
    .await
    .unwrap();
}
