//! `start::start_body_remote`: starting a behaviour for a parent behind a
//! transport (what a `SPAWN_REQUEST` from a BEAM asks for).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etf::{Atom, Pid, Term};
use ferrotp::start::{self, RemoteParent, Started};
use ferrotp::{behaviours, Node, Signal, Transport};

struct Recorder(Mutex<Vec<Signal>>);
impl Transport for Recorder {
    fn deliver(&self, signal: Signal) {
        self.0.lock().unwrap().push(signal);
    }
}

fn vm_pid(id: u32) -> Pid {
    Pid {
        node: Atom::new("vm@localhost"),
        id,
        serial: 0,
        creation: 1,
    }
}

fn setup() -> (Node, Arc<Recorder>) {
    let node = Node::new(Atom::new("port@localhost"), 1);
    let rec = Arc::new(Recorder(Mutex::new(Vec::new())));
    node.set_transport(Atom::new("vm@localhost"), rec.clone());
    (node, rec)
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out");
}

#[test]
fn an_exit_signal_from_the_remote_parent_ends_the_child_and_the_monitor_reports_it() {
    let (node, rec) = setup();
    let (parent, host) = (vm_pid(1), vm_pid(2));
    let reference = node.make_ref();
    let body = behaviours::body(Atom::new("counter"), Term::Int(3)).unwrap();
    let started = node.block_on(start::start_body_remote(
        &node,
        RemoteParent {
            parent,
            monitor: Some((host, reference.clone())),
        },
        Vec::new(),
        body,
    ));
    let Ok(Started::Ok(child)) = started else {
        panic!("{started:?}")
    };
    node.deliver(Signal::Exit {
        from: parent,
        to: child,
        reason: Term::atom("shutdown"),
    });
    let reason = wait_for(|| {
        rec.0.lock().unwrap().iter().find_map(|s| match s {
            Signal::Down {
                to,
                reference: r,
                reason,
                ..
            } if *to == host && *r == reference => Some(reason.clone()),
            _ => None,
        })
    });
    assert_eq!(reason, Term::atom("shutdown"));
}

#[test]
fn a_child_that_dies_in_init_fails_the_start_with_its_reason() {
    let (node, _rec) = setup();
    let started = node.block_on(start::start_body_remote(
        &node,
        RemoteParent {
            parent: vm_pid(1),
            monitor: None,
        },
        Vec::new(),
        start::body(|_ctx, _init| async { Err::<(), _>(Term::atom("boom")) }),
    ));
    assert_eq!(started, Err(Term::atom("boom")));
}

#[test]
fn an_unknown_behaviour_is_undef() {
    let err = behaviours::body(Atom::new("no_such"), Term::Int(1)).err();
    assert!(matches!(err, Some(Term::Tuple(ref t)) if t[0].is_atom("undef")));
}
