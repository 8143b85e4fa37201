//! Direct calls (`ferrotp::direct`): a host that polls a gen_server itself
//! hands it calls and casts while it waits idle, with the results the
//! ordinary path would give.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use etf::{Atom, Pid, Term};
use ferrotp::direct::{Direct, DirectServer};
use ferrotp::executor::{Executor, Exited, ProcessTask};
use ferrotp::gen_server::{self, CallNow, CallResult, CastResult, GenServer, Init};
use ferrotp::{start, Node, Process, Signal, Transport};
use serde::{Deserialize, Serialize};

/// A waker that does nothing: the test polls by hand.
struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn noop() -> Waker {
    Waker::from(Arc::new(Noop))
}

/// Keeps the task and the direct entry; the test polls by hand.
#[derive(Default)]
struct Host {
    task: Mutex<Option<ProcessTask>>,
    direct: Mutex<Option<Arc<dyn DirectServer>>>,
}

impl Executor for Host {
    fn spawn(&self, _pid: Pid, task: ProcessTask) {
        *self.task.lock().unwrap() = Some(task);
    }
    fn direct_server(&self, _pid: Pid, server: Arc<dyn DirectServer>) -> bool {
        *self.direct.lock().unwrap() = Some(server);
        true
    }
}

/// Signals for pids the node does not run (the callers).
#[derive(Default)]
struct Outside(Mutex<Vec<Signal>>);
impl Transport for Outside {
    fn deliver(&self, signal: Signal) {
        self.0.lock().unwrap().push(signal);
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Call {
    Get,
    Hold,
    StopWith,
    Boom,
    /// Answered by `handle_call_now`.
    Now,
    /// Panics in `handle_call_now`.
    NowBoom,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cast {
    Add(i64),
    Cont,
    Release,
}

struct Server {
    n: i64,
    held: Option<gen_server::From>,
}

impl GenServer for Server {
    type Arg = ();
    type Call = Call;
    type Reply = i64;
    type Cast = Cast;
    type Continue = ();

    async fn init(_: (), _ctx: &mut Process) -> Init<Self> {
        Init::Ok(Server { n: 0, held: None })
    }

    fn handle_call_now(&mut self, request: Call, _ctx: &mut Process) -> CallNow<Self> {
        match request {
            Call::Now => CallNow::Reply(self.n + 1000),
            Call::NowBoom => panic!("now boom"),
            other => CallNow::Later(other),
        }
    }

    async fn handle_call(
        &mut self,
        request: Call,
        from: gen_server::From,
        _ctx: &mut Process,
    ) -> CallResult<Self> {
        match request {
            Call::Now | Call::NowBoom => unreachable!("answered by handle_call_now"),
            Call::Get => CallResult::Reply(self.n),
            Call::Hold => {
                self.held = Some(from);
                CallResult::NoReply
            }
            Call::StopWith => CallResult::Stop {
                reason: Term::atom("bye"),
                reply: Some(self.n),
            },
            Call::Boom => panic!("boom"),
        }
    }

    async fn handle_cast(&mut self, msg: Cast, ctx: &mut Process) -> CastResult<Self> {
        match msg {
            Cast::Add(k) => self.n += k,
            Cast::Cont => return CastResult::Continue(()),
            Cast::Release => {
                if let Some(from) = self.held.take() {
                    let _ = gen_server::reply(ctx, &from, self.n);
                }
            }
        }
        CastResult::NoReply
    }

    async fn handle_continue(&mut self, _: (), _ctx: &mut Process) -> CastResult<Self> {
        self.n += 100;
        CastResult::NoReply
    }
}

struct Fixture {
    node: Node,
    host: Arc<Host>,
    outside: Arc<Outside>,
    pid: Pid,
    caller: Pid,
}

impl Fixture {
    fn start() -> Fixture {
        let node = Node::new(Atom::new("direct@localhost"), 1);
        let host = Arc::new(Host::default());
        let outside = Arc::new(Outside::default());
        node.set_executor(host.clone());
        node.set_local_transport(outside.clone());
        let (init, _ack) = start::Init::attached(Vec::new(), None);
        let body = gen_server::body::<Server>(());
        let pid = node.spawn(move |ctx| body(ctx, init));
        let caller = Pid {
            node: node.name(),
            id: 9999,
            serial: 0,
            creation: node.creation(),
        };
        let f = Fixture {
            node,
            host,
            outside,
            pid,
            caller,
        };
        assert!(f.poll().is_none(), "the server runs");
        assert!(f.host.direct.lock().unwrap().is_some(), "offered its entry");
        f
    }

    /// Polls the task once: `Some` once the process has ended.
    fn poll(&self) -> Option<Exited> {
        let _rt = self.node.handle().enter();
        let mut slot = self.host.task.lock().unwrap();
        let task = slot.as_mut()?;
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        match task.as_mut().poll(&mut cx) {
            Poll::Ready(exited) => {
                *slot = None;
                Some(exited)
            }
            Poll::Pending => None,
        }
    }

    fn server(&self) -> Arc<dyn DirectServer> {
        self.host.direct.lock().unwrap().clone().unwrap()
    }

    fn call(&self, request: &str, tag: i64) -> Direct {
        let _rt = self.node.handle().enter();
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        self.server()
            .call(self.caller, Term::Int(tag), &Term::atom(request), &mut cx)
    }

    /// `call_now`, and how many times it asked for the tag.
    fn call_now(&self, request: &str, tag: i64) -> (Direct, usize) {
        let _rt = self.node.handle().enter();
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        let mut asked = 0;
        let mut make_tag = || {
            asked += 1;
            Term::Int(tag)
        };
        let out = self
            .server()
            .call_now(self.caller, &mut make_tag, &Term::atom(request), &mut cx);
        (out, asked)
    }

    fn casts(&self, msgs: &[Term]) -> (usize, Direct) {
        let _rt = self.node.handle().enter();
        let waker = noop();
        let mut cx = Context::from_waker(&waker);
        self.server().casts(msgs, &mut cx)
    }

    /// The `{Tag, Reply}` messages sent to the caller so far.
    fn replies(&self) -> Vec<Term> {
        self.outside
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| match s {
                Signal::Send { to, msg, .. } if *to == self.caller => Some(msg.clone()),
                _ => None,
            })
            .collect()
    }
}

fn add(k: i64) -> Term {
    Term::tuple(vec![Term::atom("add"), Term::Int(k)])
}

#[test]
fn idle_server_answers_a_call_in_place() {
    let f = Fixture::start();
    assert_eq!(f.call("get", 1), Direct::Replied(Term::Int(0)));
    assert!(
        f.replies().is_empty(),
        "the host sends the reply, not the server"
    );
}

#[test]
fn casts_run_in_order_and_the_server_waits_again() {
    let f = Fixture::start();
    assert_eq!(f.casts(&[add(1), add(2)]), (2, Direct::Done));
    assert_eq!(f.call("get", 1), Direct::Replied(Term::Int(3)));
}

#[test]
fn casts_after_a_continue_wait_at_the_head_of_the_mailbox() {
    let f = Fixture::start();
    let (taken, outcome) = f.casts(&[add(1), Term::atom("cont"), add(5)]);
    assert_eq!((taken, outcome), (3, Direct::Poll));
    // Not idle until the loop has run the continuation and the rest.
    assert_eq!(f.call("get", 1), Direct::Queue);
    assert!(f.poll().is_none());
    assert_eq!(f.call("get", 2), Direct::Replied(Term::Int(106)));
}

#[test]
fn a_cast_that_does_not_decode_is_not_taken() {
    let f = Fixture::start();
    let (taken, outcome) = f.casts(&[add(1), Term::atom("surprise"), add(5)]);
    assert_eq!((taken, outcome), (1, Direct::Done));
}

#[test]
fn a_waiting_message_keeps_its_turn() {
    let f = Fixture::start();
    f.node.send(&f.pid, Term::atom("info"));
    assert_eq!(f.call("get", 1), Direct::Queue);
    assert_eq!(f.casts(&[add(1)]), (0, Direct::Queue));
    assert!(f.poll().is_none());
    assert_eq!(f.call("get", 2), Direct::Replied(Term::Int(0)));
}

#[test]
fn deferred_reply_goes_out_later_with_the_callers_tag() {
    let f = Fixture::start();
    assert_eq!(f.call("hold", 77), Direct::Poll);
    assert!(f.poll().is_none());
    assert_eq!(f.casts(&[add(4), Term::atom("release")]), (2, Direct::Done));
    assert_eq!(
        f.replies(),
        vec![Term::tuple(vec![Term::Int(77), Term::Int(4)])]
    );
}

#[test]
fn stop_with_reply_terminates_then_replies() {
    let f = Fixture::start();
    assert_eq!(f.casts(&[add(2)]), (1, Direct::Done));
    assert_eq!(f.call("stop_with", 5), Direct::Poll);
    let exited = f.poll().expect("the server stops");
    assert_eq!(exited.reason, Term::atom("bye"));
    assert_eq!(
        f.replies(),
        vec![Term::tuple(vec![Term::Int(5), Term::Int(2)])]
    );
}

#[test]
fn panic_in_a_direct_call_is_the_exit_reason() {
    let f = Fixture::start();
    assert_eq!(f.call("boom", 1), Direct::Poll);
    let exited = f.poll().expect("the server dies");
    assert!(exited.crashed);
    match exited.reason.as_tuple() {
        Some([label, ..]) => assert!(label.is_atom("panic"), "{}", exited.reason),
        _ => panic!("not a panic reason: {}", exited.reason),
    }
    assert!(f.replies().is_empty());
}

#[test]
fn an_exit_signal_while_idle_is_not_overtaken() {
    let f = Fixture::start();
    f.node.exit(&f.caller, &f.pid, Term::atom("kill"));
    assert_eq!(f.call("get", 1), Direct::Queue);
    let exited = f.poll().expect("killed");
    assert_eq!(exited.reason, Term::atom("killed"));
}

#[test]
fn handle_call_now_answers_in_place_without_the_tag() {
    let f = Fixture::start();
    assert_eq!(f.casts(&[add(2)]), (1, Direct::Done));
    assert_eq!(f.call_now("now", 1), (Direct::Replied(Term::Int(1002)), 0));
    // Handed on to `handle_call` (a future, which holds `From`).
    assert_eq!(f.call_now("get", 2), (Direct::Replied(Term::Int(2)), 1));
    // Still idle: the next call is answered in place again.
    assert_eq!(f.call_now("now", 3), (Direct::Replied(Term::Int(1002)), 0));
    assert!(f.replies().is_empty());
}

#[test]
fn a_deferred_reply_after_handle_call_now_declines_keeps_the_tag() {
    let f = Fixture::start();
    assert_eq!(f.call_now("hold", 55), (Direct::Poll, 1));
    assert!(f.poll().is_none());
    assert_eq!(f.casts(&[add(1), Term::atom("release")]), (2, Direct::Done));
    assert_eq!(
        f.replies(),
        vec![Term::tuple(vec![Term::Int(55), Term::Int(1)])]
    );
}

#[test]
fn panic_in_handle_call_now_is_the_exit_reason() {
    let f = Fixture::start();
    assert_eq!(f.call_now("now_boom", 1).0, Direct::Poll);
    let exited = f.poll().expect("the server dies");
    assert!(exited.crashed);
    match exited.reason.as_tuple() {
        Some([label, Term::Binary(msg), Term::Binary(location)]) => {
            assert!(label.is_atom("panic"), "{}", exited.reason);
            assert_eq!(msg.as_ref(), b"now boom");
            assert!(
                String::from_utf8_lossy(location).contains("direct.rs"),
                "{}",
                exited.reason
            );
        }
        _ => panic!("not a panic reason: {}", exited.reason),
    }
    assert!(f.replies().is_empty());
}

#[test]
fn handle_call_now_answers_calls_from_the_mailbox_too() {
    let f = Fixture::start();
    let call = |tag: i64, request: &str| {
        Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![Term::Pid(f.caller), Term::Int(tag)]),
            Term::atom(request),
        ])
    };
    // Queued the ordinary way (not through the direct entry).
    f.node.send(&f.pid, call(8, "now"));
    f.node.send(&f.pid, call(9, "get"));
    assert!(f.poll().is_none());
    assert_eq!(
        f.replies(),
        vec![
            Term::tuple(vec![Term::Int(8), Term::Int(1000)]),
            Term::tuple(vec![Term::Int(9), Term::Int(0)]),
        ]
    );
}
