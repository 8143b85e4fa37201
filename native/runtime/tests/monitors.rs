//! Monitors: one-way, fire once, `'DOWN'` shapes exactly as Erlang's.

mod common;

use std::time::Duration;

use common::*;
use etf::{Atom, Term};
use ferrotp::Node;

fn a(s: &str) -> Term {
    Term::atom(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_dead_process_gives_noproc_down() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let dead = ctx.spawn(|_| async {});
        let _ = wait_exit(&mut ctx, &dead).await;
        let r = ctx.monitor(&dead);
        assert_eq!(
            recv(&mut ctx).await,
            down_msg(r, Term::Pid(dead), a("noproc"))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_delivers_exit_reason() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let p = ctx.spawn(|mut c| async move {
            c.receive().await;
            Err::<(), _>(Term::tuple(vec![a("bad"), Term::Int(1)]))
        });
        let r = ctx.monitor(&p);
        ctx.send(&p, a("go"));
        assert_eq!(
            recv(&mut ctx).await,
            down_msg(r, Term::Pid(p), Term::tuple(vec![a("bad"), Term::Int(1)]))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_by_registered_name() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let here = ctx.node().name();
        let p = ctx.spawn(move |mut c| async move {
            c.register(Atom::new("watched")).unwrap();
            c.send(&me, a("registered"));
            c.receive().await;
            Err::<(), _>(a("gone"))
        });
        assert_eq!(recv(&mut ctx).await, a("registered"));
        let r = ctx.monitor_name(Atom::new("watched"), here);
        ctx.send(&p, a("go"));
        let object = Term::tuple(vec![a("watched"), Term::Atom(here)]);
        assert_eq!(recv(&mut ctx).await, down_msg(r, object.clone(), a("gone")));
        // A name nobody holds: noproc at once, still naming {Name, Node}.
        let r2 = ctx.monitor_name(Atom::new("watched"), here);
        assert_eq!(recv(&mut ctx).await, down_msg(r2, object, a("noproc")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonitor_flush_removes_down() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let p = ctx.spawn(|_| async {});
        let r = ctx.monitor(&p);
        // Wait until the DOWN has arrived (without taking it out).
        let me = ctx.pid();
        let r2 = ctx.monitor(&p);
        let _ = ctx
            .receive_match(
                |m| {
                    m.is_tagged("DOWN")
                        && m.as_term().unwrap().as_tuple().unwrap()[1]
                            == Term::Reference(r2.clone())
                },
                Some(WAIT),
            )
            .await
            .unwrap();
        ctx.send(&me, a("marker"));
        assert!(ctx.message_queue_len() >= 1);
        ctx.demonitor(&r, true);
        // Only the marker is left.
        assert_eq!(recv(&mut ctx).await, a("marker"));
        assert!(quiet(&mut ctx, Duration::from_millis(100)).await.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonitor_stops_down() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let p = ctx.spawn(|mut c| async move {
            c.receive().await;
        });
        let r = ctx.monitor(&p);
        assert!(ctx.demonitor(&r, false));
        assert!(!ctx.demonitor(&r, false));
        let r2 = ctx.monitor(&p);
        ctx.send(&p, a("go"));
        // The only DOWN is for the second monitor.
        assert_eq!(
            recv(&mut ctx).await,
            down_msg(r2, Term::Pid(p), a("normal"))
        );
        assert!(quiet(&mut ctx, Duration::from_millis(100)).await.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_do_not_propagate_death() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let p = ctx.spawn(|_| async { Err::<(), _>(a("boom")) });
        let r = ctx.monitor(&p);
        assert_eq!(recv(&mut ctx).await, down_msg(r, Term::Pid(p), a("boom")));
        // We are alive and can still receive.
        let me = ctx.pid();
        ctx.send(&me, a("alive"));
        assert_eq!(recv(&mut ctx).await, a("alive"));
    })
    .await
    .unwrap();
}

/// A monitor or link sent right after an exit signal that kills its
/// target is answered `noproc`, as OTP 25 answers it: the signals arrive
/// in the order sent, so the target is already exiting
/// (`exit(P, foo), monitor(process, P)` gives `{'DOWN', _, process, P, noproc}`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_or_link_after_a_fatal_exit_signal_gets_noproc() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        for _ in 0..200 {
            let p = ctx.spawn(|mut c| async move {
                c.receive().await;
            });
            ctx.exit(&p, a("foo"));
            let r = ctx.monitor(&p);
            assert_eq!(recv(&mut ctx).await, down_msg(r, Term::Pid(p), a("noproc")));
            let q = ctx.spawn(|mut c| async move {
                c.receive().await;
            });
            ctx.exit(&q, a("foo"));
            ctx.link(&q);
            assert_eq!(
                recv(&mut ctx).await,
                Term::tuple(vec![a("EXIT"), Term::Pid(q), a("noproc")])
            );
        }
    })
    .await
    .unwrap();
}

/// Several monitors on one process: their 'DOWN's come in the order the
/// monitors were made, as the BEAM sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downs_come_in_the_order_the_monitors_were_made() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        for _ in 0..20 {
            let p = ctx.spawn(|mut c| async move {
                c.receive().await;
            });
            let refs: Vec<_> = (0..8).map(|_| ctx.monitor(&p)).collect();
            ctx.exit(&p, a("kill"));
            for r in refs {
                assert_eq!(recv(&mut ctx).await, down_msg(r, Term::Pid(p), a("killed")));
            }
        }
    })
    .await
    .unwrap();
}
