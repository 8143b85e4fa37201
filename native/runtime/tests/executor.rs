//! The hooks a host uses to run processes itself: an executor that names
//! and polls them, and a local transport for the host's own processes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etf::{Atom, Pid, Term};
use ferrotp::executor::{Executor, Exited, ProcessTask};
use ferrotp::{Node, Signal, Transport};

/// Hands out the pids it was given and runs each task on a thread of its own
/// (a stand-in for the BEAM's schedulers).
struct Host {
    pids: Mutex<Vec<Pid>>,
    exits: Arc<Mutex<Vec<(Pid, Exited)>>>,
    handle: tokio::runtime::Handle,
}

impl Executor for Host {
    fn alloc_pid(&self) -> Option<Pid> {
        self.pids.lock().unwrap().pop()
    }
    fn spawn(&self, pid: Pid, task: ProcessTask) {
        let exits = self.exits.clone();
        let handle = self.handle.clone();
        std::thread::spawn(move || {
            let exited = handle.block_on(task);
            exits.lock().unwrap().push((pid, exited));
        });
    }
}

struct Outside(Mutex<Vec<Signal>>);
impl Transport for Outside {
    fn deliver(&self, signal: Signal) {
        self.0.lock().unwrap().push(signal);
    }
}

fn host_pid(node: &Node, id: u32) -> Pid {
    Pid {
        node: node.name(),
        id,
        serial: 0,
        creation: node.creation(),
    }
}

fn wait_until(mut ok: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("condition not reached in 10 s");
}

#[test]
fn executor_names_and_runs_spawned_processes() {
    let node = Node::new(Atom::new("host@localhost"), 7);
    let exits = Arc::new(Mutex::new(Vec::new()));
    let given = host_pid(&node, 4242);
    node.set_executor(Arc::new(Host {
        pids: Mutex::new(vec![given]),
        exits: exits.clone(),
        handle: node.handle().clone(),
    }));
    let pid = node.spawn(|mut ctx| async move {
        let m = ctx.receive().await.into_term().ok();
        Err::<(), _>(m.unwrap_or(Term::atom("none")))
    });
    assert_eq!(pid, given);
    node.send(&pid, Term::atom("boom"));
    wait_until(|| !exits.lock().unwrap().is_empty());
    let (who, exited) = exits.lock().unwrap()[0].clone();
    assert_eq!(who, given);
    assert_eq!(
        exited,
        Exited {
            reason: Term::atom("boom"),
            crashed: true,
            state: None,
        }
    );
}

#[test]
fn exit_by_signal_is_not_a_crash() {
    let node = Node::new(Atom::new("host2@localhost"), 7);
    let exits = Arc::new(Mutex::new(Vec::new()));
    node.set_executor(Arc::new(Host {
        pids: Mutex::new(vec![]),
        exits: exits.clone(),
        handle: node.handle().clone(),
    }));
    let pid = node.spawn(|mut ctx| async move {
        ctx.receive().await;
    });
    node.exit(&host_pid(&node, 1), &pid, Term::atom("shutdown_now"));
    wait_until(|| !exits.lock().unwrap().is_empty());
    assert_eq!(
        exits.lock().unwrap()[0].1,
        Exited {
            reason: Term::atom("shutdown_now"),
            crashed: false,
            state: None,
        }
    );
}

#[test]
fn signals_to_unknown_local_pids_go_to_the_local_transport() {
    let node = Node::new(Atom::new("host3@localhost"), 3);
    let outside = Arc::new(Outside(Mutex::new(Vec::new())));
    node.set_local_transport(outside.clone());
    let stranger = host_pid(&node, 999);
    let me = node
        .block_on_process(move |mut ctx| async move {
            ctx.send(&stranger, Term::Int(1));
            ctx.link(&stranger);
            ctx.pid()
        })
        .unwrap();
    let got = outside.0.lock().unwrap().clone();
    assert!(got.iter().any(|s| matches!(s,
        Signal::Send { from: Some(f), to, msg: Term::Int(1) } if *f == me && *to == stranger)));
    assert!(got
        .iter()
        .any(|s| matches!(s, Signal::Link { from, to } if *from == me && *to == stranger)));
}

#[test]
fn attached_init_reports_the_ack_to_a_host_that_polls() {
    use ferrotp::start::{Ack, Init};
    use tokio::sync::oneshot::error::TryRecvError;
    let node = Node::new(Atom::new("host4@localhost"), 1);
    let counter = ferrotp::behaviours::behaviour(Atom::new("counter")).unwrap();
    let (init, mut ack) = Init::attached(Vec::new(), None);
    let body = counter.body(Term::Int(3)).unwrap();
    node.spawn(move |ctx| body(ctx, init));
    let mut got = Err(TryRecvError::Empty);
    wait_until(|| {
        got = ack.try_recv();
        got != Err(TryRecvError::Empty)
    });
    assert_eq!(got, Ok(Ack::Ok));

    let (init, mut ack) = Init::attached(Vec::new(), None);
    let body = counter.body(Term::atom("not_a_number"));
    assert!(body.is_err(), "a bad init argument fails before spawning");
    drop(init);
    assert_eq!(ack.try_recv(), Err(TryRecvError::Closed));
}
