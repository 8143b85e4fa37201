//! Signals for remote pids go to the transport for their node; a lost
//! connection fires links and monitors once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use etf::{Atom, Pid, Term};
use ferrotp::{MonitorTarget, Node, Signal, Transport};
use parking_lot::Mutex;

/// Records what the runtime hands it.
#[derive(Default)]
struct Recorder(Mutex<Vec<Signal>>);

impl Transport for Recorder {
    fn deliver(&self, signal: Signal) {
        self.0.lock().push(signal);
    }
}

fn remote_pid(id: u32) -> Pid {
    Pid {
        node: Atom::new("far@host"),
        id,
        serial: 0,
        creation: 7,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_receives_signals_for_remote_pids() {
    let node = Node::new(Atom::new("near@host"), 3);
    let rec = Arc::new(Recorder::default());
    node.set_transport(Atom::new("far@host"), rec.clone());
    let far = remote_pid(42);
    let me = node
        .run(move |mut ctx| async move {
            ctx.send(&far, Term::atom("hello"));
            ctx.send_to((Atom::new("server"), Atom::new("far@host")), Term::Int(1))
                .unwrap();
            ctx.link(&far);
            let r = ctx.monitor(&far);
            ctx.exit(&far, Term::atom("shutdown"));
            ctx.demonitor(&r, false);
            ctx.unlink(&far);
            ctx.pid()
        })
        .await
        .unwrap();
    let got = rec.0.lock().clone();
    assert!(
        matches!(&got[0], Signal::Send { from: Some(f), to, msg } if *f == me && *to == far && msg.is_atom("hello"))
    );
    assert!(
        matches!(&got[1], Signal::RegSend { from, to_name, msg, .. } if *from == me && to_name.as_str() == "server" && *msg == Term::Int(1))
    );
    assert!(matches!(&got[2], Signal::Link { from, to } if *from == me && *to == far));
    let reference = match &got[3] {
        Signal::Monitor {
            from,
            target: MonitorTarget::Pid(t),
            reference,
        } if *from == me && *t == far => reference.clone(),
        other => panic!("expected Monitor, got {other:?}"),
    };
    assert!(
        matches!(&got[4], Signal::Exit2 { from, to, reason } if *from == me && *to == far && reason.is_atom("shutdown"))
    );
    assert!(matches!(&got[5], Signal::Demonitor { reference: r, .. } if *r == reference));
    assert!(matches!(&got[6], Signal::Unlink { from, to, .. } if *from == me && *to == far));
    assert_eq!(got.len(), 7, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_from_transport_reach_local_processes() {
    let node = Node::new(Atom::new("near2@host"), 3);
    let rec = Arc::new(Recorder::default());
    node.set_transport(Atom::new("far@host"), rec.clone());
    let n = node.clone();
    node.run(move |mut ctx| async move {
        ctx.trap_exit(true);
        let me = ctx.pid();
        let far = remote_pid(5);
        n.deliver(Signal::Send { from: Some(far), to: me, msg: Term::atom("from_far") });
        assert_eq!(recv(&mut ctx).await, Term::atom("from_far"));
        n.deliver(Signal::Link { from: far, to: me });
        n.deliver(Signal::Exit { from: far, to: me, reason: Term::atom("remote_crash") });
        assert_eq!(recv(&mut ctx).await, exit_msg(far, Term::atom("remote_crash")));
        // a remote monitor on us: our death is reported over the transport
        let (p, _) = ctx.spawn_monitor(|mut c| async move {
            c.receive().await;
        });
        let reference = n.make_ref();
        n.deliver(Signal::Monitor { from: far, target: MonitorTarget::Pid(p), reference: reference.clone() });
        ctx.send(&p, Term::atom("go"));
        ctx.receive_match(|m| m.is_tagged("DOWN"), Some(WAIT)).await.unwrap();
        let got = rec.0.lock().clone();
        assert!(got.iter().any(|s| matches!(s, Signal::Down { to, reference: r, reason, .. } if *to == far && *r == reference && reason.is_atom("normal"))), "{got:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_node_gives_noconnection() {
    let node = Node::new(Atom::new("lonely@host"), 1);
    node.run(|mut ctx| async move {
        ctx.trap_exit(true);
        let far = remote_pid(9);
        ctx.link(&far);
        assert_eq!(
            recv(&mut ctx).await,
            exit_msg(far, Term::atom("noconnection"))
        );
        let r = ctx.monitor(&far);
        assert_eq!(
            recv(&mut ctx).await,
            down_msg(r, Term::Pid(far), Term::atom("noconnection"))
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_lost_fires_links_and_monitors_once() {
    let node = Node::new(Atom::new("near3@host"), 3);
    let rec = Arc::new(Recorder::default());
    node.set_transport(Atom::new("far@host"), rec.clone());
    let n = node.clone();
    node.run(move |mut ctx| async move {
        ctx.trap_exit(true);
        let far1 = remote_pid(1);
        let far2 = remote_pid(2);
        ctx.link(&far1);
        let r1 = ctx.monitor(&far2);
        let r2 = ctx.monitor_name(Atom::new("reg"), Atom::new("far@host"));
        // A non-trapping local process linked to a remote one dies noconnection.
        let (victim, _) = ctx.spawn_monitor(move |mut c| async move {
            c.link(&far2);
            c.receive().await;
        });
        // let the victim link
        tokio::time::sleep(Duration::from_millis(50)).await;
        n.connection_lost(Atom::new("far@host"));
        n.connection_lost(Atom::new("far@host"));
        let mut got = quiet(&mut ctx, Duration::from_millis(300)).await;
        got.sort_by_key(|t| format!("{t:?}"));
        let mut want = vec![
            exit_msg(far1, Term::atom("noconnection")),
            down_msg(r1, Term::Pid(far2), Term::atom("noconnection")),
            down_msg(
                r2,
                Term::tuple(vec![Term::atom("reg"), Term::atom("far@host")]),
                Term::atom("noconnection"),
            ),
        ];
        let victim_down = got.iter().position(|t| {
            t.as_tuple()
                .is_some_and(|x| x.get(3) == Some(&Term::Pid(victim)))
        });
        let victim_down = got.remove(victim_down.expect("victim died"));
        assert_eq!(
            victim_down.as_tuple().unwrap()[4],
            Term::atom("noconnection")
        );
        want.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(got, want);
        // The transport is gone: new links fire noconnection immediately.
        ctx.link(&far1);
        assert_eq!(
            recv(&mut ctx).await,
            exit_msg(far1, Term::atom("noconnection"))
        );
    })
    .await
    .unwrap();
}

#[test]
fn the_default_transport_carries_signals_for_nodes_without_their_own() {
    use std::sync::{Arc, Mutex};
    struct Rec(Mutex<Vec<ferrotp::Signal>>);
    impl ferrotp::Transport for Rec {
        fn deliver(&self, s: ferrotp::Signal) {
            self.0.lock().unwrap().push(s);
        }
    }
    let node = ferrotp::Node::new(etf::Atom::new("port@localhost"), 1);
    let rec = Arc::new(Rec(Mutex::new(Vec::new())));
    node.set_default_transport(rec.clone());
    let far = etf::Pid {
        node: etf::Atom::new("anywhere@else"),
        id: 3,
        serial: 0,
        creation: 7,
    };
    node.send(&far, etf::Term::Int(1));
    let got = rec.0.lock().unwrap();
    assert!(matches!(got.as_slice(), [ferrotp::Signal::Send { to, .. }] if *to == far));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_to_unreachable_node_exits_with_nodedown() {
    let node = Node::new(Atom::new("alone@host"), 1);
    node.run(|mut ctx| async move {
        let far = remote_pid(3);
        let r = ferrotp::gen_server::call_term(&mut ctx, far, Term::atom("value"), WAIT).await;
        let want = Term::tuple(vec![Term::atom("nodedown"), Term::atom("far@host")]);
        assert_eq!(r, Err(ferrotp::gen_server::CallError::Exit(want.clone())));
        let r = ferrotp::gen_server::call_term(
            &mut ctx,
            (Atom::new("reg"), Atom::new("far@host")),
            Term::atom("value"),
            WAIT,
        )
        .await;
        assert_eq!(r, Err(ferrotp::gen_server::CallError::Exit(want)));
    })
    .await
    .unwrap();
}
