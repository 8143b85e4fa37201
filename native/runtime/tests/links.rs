//! Links and exit signals, as the Erlang Reference Manual's "Processes" chapter describes them.

mod common;

use std::time::Duration;

use common::*;
use etf::Term;
use ferrotp::Node;

fn a(s: &str) -> Term {
    Term::atom(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_exit_does_not_kill_linked_process() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let (survivor, _) = ctx.spawn_monitor(|mut c| async move {
            let child = c.spawn_link(|_| async {}); // exits normal
            let r = c.monitor(&child);
            let _down = c.receive_match(|m| m.is_tagged("DOWN"), None).await;
            let _ = r;
            // still alive: wait for an instruction
            let m = c.receive().await;
            assert!(m.as_term().is_some_and(|t| t.is_atom("stop")));
        });
        // Give the link a chance to fire, then check it is alive.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(ctx.node().is_alive(&survivor));
        ctx.send(&survivor, a("stop"));
        assert_eq!(wait_exit(&mut ctx, &survivor).await, a("normal"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abnormal_exit_kills_linked_process() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let (p, r) = ctx.spawn_monitor(move |mut c| async move {
            c.spawn_link(|_| async { Err::<(), _>(a("boom")) });
            c.send(&me, a("linked"));
            std::future::pending::<()>().await;
        });
        let down = recv(&mut ctx).await;
        assert_eq!(down, a("linked"));
        assert_eq!(recv(&mut ctx).await, down_msg(r, Term::Pid(p), a("boom")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_is_untrappable() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let trapper = ctx.spawn(move |mut c| async move {
            c.trap_exit(true);
            c.send(&me, a("ready"));
            std::future::pending::<()>().await;
        });
        assert_eq!(recv(&mut ctx).await, a("ready"));
        let r = ctx.monitor(&trapper);
        ctx.exit(&trapper, a("kill"));
        assert_eq!(
            recv(&mut ctx).await,
            down_msg(r, Term::Pid(trapper), a("killed"))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_reaches_links_as_killed() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let victim = ctx.spawn_link(|mut c| async move {
            c.trap_exit(true);
            std::future::pending::<()>().await;
        });
        ctx.exit(&victim, a("kill"));
        assert_eq!(recv(&mut ctx).await, exit_msg(victim, a("killed")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_with_reason_kill_reaches_links_as_trappable_kill() {
    // OTP: a process that itself exits with reason `kill` sends `kill` (not
    // `killed`) to its links, and that signal is trappable.
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let child = ctx.spawn_link(|_| async { Err::<(), _>(a("kill")) });
        assert_eq!(recv(&mut ctx).await, exit_msg(child, a("kill")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_exit_turns_signals_into_messages() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        assert!(!ctx.trap_exit(true));
        let me = ctx.pid();
        let child = ctx.spawn_link(|_| async { Err::<(), _>(a("crash")) });
        assert_eq!(recv(&mut ctx).await, exit_msg(child, a("crash")));
        // exit/2 from another process, normal and abnormal, also become messages.
        let other = ctx.spawn(move |c| async move {
            c.exit(&me, a("normal"));
            c.exit(&me, a("custom"));
        });
        assert_eq!(recv(&mut ctx).await, exit_msg(other, a("normal")));
        assert_eq!(recv(&mut ctx).await, exit_msg(other, a("custom")));
        assert!(ctx.trap_exit(false));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_normal_to_self_terminates_caller() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let (p, _) = ctx.spawn_monitor(|mut c| async move {
            let me = c.pid();
            c.exit(&me, a("normal"));
            c.receive().await; // dies here
            Err::<(), _>(a("survived"))
        });
        assert_eq!(wait_exit(&mut ctx, &p).await, a("normal"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_normal_from_other_is_ignored() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let target = ctx.spawn(|mut c| async move {
            c.receive().await;
        });
        ctx.exit(&target, a("normal"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(ctx.node().is_alive(&target));
        ctx.send(&target, a("go"));
        assert_eq!(wait_exit(&mut ctx, &target).await, a("normal"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_to_dead_process_gives_noproc() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let dead = ctx.spawn(|_| async {});
        let _ = wait_exit(&mut ctx, &dead).await;
        // Trapping: a message.
        ctx.trap_exit(true);
        ctx.link(&dead);
        assert_eq!(recv(&mut ctx).await, exit_msg(dead, a("noproc")));
        // Not trapping: the exit signal kills the caller with noproc.
        let (p, _) = ctx.spawn_monitor(move |mut c| async move {
            c.link(&dead);
            c.receive().await;
        });
        assert_eq!(wait_exit(&mut ctx, &p).await, a("noproc"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_idempotent() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let me = ctx.pid();
        let child = ctx.spawn(move |mut c| async move {
            c.link(&me);
            c.link(&me);
            c.send(&me, a("linked"));
            c.receive().await;
            Err::<(), _>(a("bye"))
        });
        ctx.link(&child);
        assert_eq!(recv(&mut ctx).await, a("linked"));
        assert_eq!(ctx.links(), vec![child]);
        ctx.send(&child, a("go"));
        assert_eq!(recv(&mut ctx).await, exit_msg(child, a("bye")));
        // exactly one EXIT
        assert!(quiet(&mut ctx, Duration::from_millis(200)).await.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlink_stops_propagation() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let (p, r) = ctx.spawn_monitor(move |mut c| async move {
            let child = c.spawn_link(|mut cc| async move {
                cc.receive().await;
                Err::<(), _>(a("boom"))
            });
            c.unlink(&child);
            c.send(&child, a("go"));
            let _ = c.monitor(&child);
            c.receive_match(|m| m.is_tagged("DOWN"), None).await;
            c.send(&me, a("survived"));
            c.receive().await;
        });
        assert_eq!(recv(&mut ctx).await, a("survived"));
        ctx.send(&p, a("stop"));
        assert_eq!(recv(&mut ctx).await, down_msg(r, Term::Pid(p), a("normal")));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_link_is_atomic() {
    // A child that dies at once still reaches its parent: the link exists
    // before the child runs.
    let node = Node::local();
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        for _ in 0..200 {
            let child = ctx.spawn_link(|_| async { Err::<(), _>(a("instant")) });
            assert_eq!(recv(&mut ctx).await, exit_msg(child, a("instant")));
        }
        for _ in 0..200 {
            let (child, r) = ctx.spawn_monitor(|_| async { Err::<(), _>(a("instant")) });
            assert_eq!(
                recv(&mut ctx).await,
                down_msg(r, Term::Pid(child), a("instant"))
            );
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_death_delivers_exit_to_all_links() {
    let node = Node::local();
    node.run(|mut ctx| async move {
        let me = ctx.pid();
        let hub = ctx.spawn(|mut c| async move {
            c.receive().await;
            Err::<(), _>(a("hub_down"))
        });
        let mut watchers = Vec::new();
        for _ in 0..5 {
            let (w, _) = ctx.spawn_monitor(move |mut c| async move {
                c.trap_exit(true);
                c.link(&hub);
                c.send(&me, a("linked"));
                let m = c.receive().await.into_term().unwrap();
                c.send(&me, m);
            });
            watchers.push(w);
            assert_eq!(recv(&mut ctx).await, a("linked"));
        }
        ctx.send(&hub, a("die"));
        for _ in 0..5 {
            let m = ctx
                .receive_match(|m| m.is_tagged("EXIT"), Some(WAIT))
                .await
                .unwrap();
            assert_eq!(m.into_term().unwrap(), exit_msg(hub, a("hub_down")));
        }
    })
    .await
    .unwrap();
}
