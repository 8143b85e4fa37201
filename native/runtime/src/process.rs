//! Processes: spawning, the process context, and how a process ends.
//!
//! A process is a task on the node's scheduler threads with a mailbox,
//! links, monitors and a `trap_exit` flag. Its body is an async closure that receives the
//! [`Process`] context, the Rust side of Erlang's `self()`:
//!
//! | Erlang                                  | Rust                                        |
//! |-----------------------------------------|---------------------------------------------|
//! | `spawn(fun() -> ... end)`               | `node.spawn(\|ctx\| async move { ... })`    |
//! | `spawn_link(Fun)`                       | `ctx.spawn_link(f)`                         |
//! | `spawn_monitor(Fun)`                    | `ctx.spawn_monitor(f)` → `(Pid, Reference)` |
//! | `self()`                                | `ctx.pid()`                                 |
//! | `Pid ! Msg`                             | `ctx.send(&pid, msg)`                       |
//! | `Name ! Msg`, `{Name, Node} ! Msg`      | `ctx.send_to(name, msg)`                    |
//! | `receive M -> M end`                    | `ctx.receive().await`                       |
//! | `receive M -> M after T -> t end`       | `ctx.receive_timeout(t).await`              |
//! | `receive Pattern -> .. after T -> .. end` | `ctx.receive_match(pred, Some(t)).await`  |
//! | `exit(Reason)`                          | `ctx.exit_self(reason).await`               |
//!
//! A body ends the process when it returns: `()` or `Ok(())` is `normal`,
//! `Err(reason)` is `reason` ([`IntoExitReason`]); a panic becomes
//! `{panic, Msg, Location}` ([`crate::panic`]). A process also ends when an
//! exit signal kills it: its body is dropped at its next `.await`.
//!
//! On death a process, in this order: drops its body (and so everything it
//! owned), leaves the process table, releases its registered name, sends
//! an exit signal with its reason to every linked process and a `'DOWN'` to
//! every monitoring process, and logs a crash report if its own body
//! crashed (an error return other than `normal`, `shutdown`,
//! `{shutdown, _}`, or a panic).
//!
//! A body that never returns (an endless `loop`) has type `!`, which Rust
//! cannot yet use as an [`IntoExitReason`]: name the output type,
//! `ctx.spawn::<_, _, ()>(|ctx| async move { loop { .. } })`.
//!
//! ## Busy processes
//!
//! A task cannot be preempted: a process that loops without awaiting
//! holds its scheduler thread until it awaits. Other processes keep running
//! on the other scheduler threads (an idle thread takes the work queued
//! behind a busy one within a millisecond or so), but a long synchronous
//! loop should await [`Process::yield_now`] now and then (OTP's
//! reductions, by hand). `receive` spends a budget (128 per poll), so a
//! process that always has messages waiting still yields regularly.
//!
//! ```
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let (child, mref) = ctx.spawn_monitor(|_child| async { Err::<(), _>(Term::atom("boom")) });
//!     let down = ctx.receive().await.into_term().unwrap();
//!     assert_eq!(
//!         down,
//!         Term::tuple(vec![
//!             Term::atom("DOWN"), Term::Reference(mref), Term::atom("process"),
//!             Term::Pid(child), Term::atom("boom"),
//!         ])
//!     );
//! }).unwrap();
//! ```

use std::any::Any;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use etf::{Atom, Pid, Reference, Term};
use parking_lot::Mutex;

use crate::executor::Exited;
use crate::exit::{self, IntoExitReason};
use crate::hash::{FastMap, FastSet};
use crate::mailbox::{Mailbox, Message};
use crate::node::Node;
use crate::signal::{MonitorTarget, Signal};

/// Something that arrives in a process's signal queue.
pub(crate) enum Envelope {
    /// A signal (message, link, exit, monitor...).
    Signal(Signal),
    /// A typed Rust message from a process on the same node.
    Local(Box<dyn Any + Send>),
}

/// The part of a process other processes can reach: its pid, its signal
/// queue, and its state (locked only by its own task).
pub(crate) struct ProcShared {
    pub(crate) pid: Pid,
    inbox: Mutex<Inbox>,
    pub(crate) state: Mutex<ProcState>,
    /// `true` while the inbox holds envelopes (written under its lock), so
    /// a poll can skip the lock when nothing has arrived.
    mail: AtomicBool,
    /// Bumped each time another waker is registered with the inbox.
    waker_gen: AtomicU64,
    /// `true` once `state.exiting` may be set: saves a lock per poll.
    exit_flag: AtomicBool,
    /// Drains that handled something (only the process itself drains):
    /// while it is unchanged and no mail has arrived, the mailbox holds
    /// what it held (see `gen_server`'s direct calls).
    drains: AtomicU64,
}

/// The waker a poller last registered with a process's inbox: while it is
/// still the registered one and no mail has arrived, a poll need not lock
/// the inbox.
#[derive(Default)]
pub(crate) struct Registration(Option<(u64, Waker)>);

#[derive(Default)]
struct Inbox {
    queue: VecDeque<Envelope>,
    waker: Option<Waker>,
    closed: bool,
    /// Timers that send to this process (`erlang:send_after/3` to its
    /// pid): cancelled when it dies, as the BEAM cancels them.
    timers: Vec<crate::timer::Pending>,
}

/// A process's own state; only its task touches it.
#[derive(Default)]
pub(crate) struct ProcState {
    pub(crate) mailbox: Mailbox,
    /// Links and monitors, allocated on first use: many processes have
    /// none, and an idle process should stay small.
    relations: Option<Box<Relations>>,
    pub(crate) trap_exit: bool,
    pub(crate) name: Option<Atom>,
    /// Set when the process must die (a signal, or `exit_self`).
    pub(crate) exiting: Option<Box<Term>>,
    pub(crate) next_unlink_id: u64,
    /// Told the exit reason on death (used by `Node::run`).
    pub(crate) on_exit: Option<tokio::sync::oneshot::Sender<Term>>,
    /// The state its crash report shows ([`Exited::state`]).
    pub(crate) report_state: Option<Box<Term>>,
}

/// A process's links and monitors.
#[derive(Default)]
pub(crate) struct Relations {
    pub(crate) links: FastSet<Pid>,
    /// Monitors this process holds: ref -> what it watches (as given).
    pub(crate) monitors: FastMap<Reference, MonitorTarget>,
    /// Monitors held on this process: ref -> watcher.
    pub(crate) monitored_by: FastMap<Reference, Pid>,
    /// Tags of calls that timed out: a late reply with one of these is
    /// dropped on arrival (what OTP 24+'s call aliases achieve).
    pub(crate) abandoned: FastSet<Reference>,
}

impl ProcState {
    /// The links and monitors (allocated on first use).
    pub(crate) fn rel(&mut self) -> &mut Relations {
        self.relations.get_or_insert_with(Box::default)
    }
}

impl ProcShared {
    /// Queues an envelope and wakes the process; gives it back if the
    /// process has died.
    pub(crate) fn push(&self, envelope: Envelope) -> Result<(), Envelope> {
        // A monitor or demonitor only tidies the target's tables: it need
        // not wake the target, which handles it with its next signal (a
        // call's `$gen_call` follows its monitor at once) or, if it exits
        // first, answers a monitor with its exit reason (`terminate`). This
        // saves up to two wake-ups per remote gen_server call.
        let wake = !matches!(
            envelope,
            Envelope::Signal(Signal::Monitor { .. } | Signal::Demonitor { .. })
        );
        let mut inbox = self.inbox.lock();
        if inbox.closed {
            return Err(envelope);
        }
        inbox.queue.push_back(envelope);
        self.mail.store(true, Ordering::Release);
        // The waker stays registered: waking a task that is already queued
        // or running costs a load, and the receiver need not register it
        // again after every message.
        if wake {
            if let Some(w) = &inbox.waker {
                w.wake_by_ref();
            }
        }
        Ok(())
    }

    /// Takes the first queued envelope and says how many more were queued
    /// with it; registers `waker` for the next one.
    fn take_first(&self, waker: Option<&Waker>) -> Option<(Envelope, usize)> {
        let mut inbox = self.inbox.lock();
        if let Some(w) = waker {
            match &inbox.waker {
                Some(old) if old.will_wake(w) => {}
                _ => {
                    inbox.waker = Some(w.clone());
                    self.waker_gen.fetch_add(1, Ordering::Release);
                }
            }
        }
        let first = inbox.queue.pop_front();
        if inbox.queue.is_empty() {
            self.mail.store(false, Ordering::Relaxed);
        }
        Some((first?, inbox.queue.len()))
    }

    /// Takes the next queued envelope.
    fn take_next(&self) -> Option<Envelope> {
        let mut inbox = self.inbox.lock();
        let next = inbox.queue.pop_front();
        if inbox.queue.is_empty() {
            self.mail.store(false, Ordering::Relaxed);
        }
        next
    }

    /// [`ProcShared::drain`] for a poll with `waker`; skips the inbox lock
    /// when nothing has arrived and `waker` is already registered.
    pub(crate) fn drain_polled(&self, node: &Node, waker: &Waker, reg: &mut Registration) -> bool {
        let gen = self.waker_gen.load(Ordering::Acquire);
        let current = reg
            .0
            .as_ref()
            .is_some_and(|(g, w)| *g == gen && w.will_wake(waker));
        if current && !self.mail.load(Ordering::Acquire) {
            return false;
        }
        let handled = self.drain(node, Some(waker));
        if !current {
            // Only this task registers wakers: the generation read now is
            // the one of `waker` (stored, or already there).
            reg.0 = Some((self.waker_gen.load(Ordering::Acquire), waker.clone()));
        }
        handled
    }

    /// Whether signals may be queued (cheap; no lock): a signal pushed
    /// before this call (in happens-before order) shows.
    pub(crate) fn has_mail(&self) -> bool {
        self.mail.load(Ordering::Acquire)
    }

    /// How many drains have handled something (see the field).
    pub(crate) fn drains(&self) -> u64 {
        self.drains.load(Ordering::Acquire)
    }

    /// Whether `state.exiting` may be set (cheap; no lock).
    pub(crate) fn may_exit(&self) -> bool {
        self.exit_flag.load(Ordering::Relaxed)
    }

    /// Closes the queue for good and returns what was still in it.
    fn close(&self) -> VecDeque<Envelope> {
        let (queue, timers) = {
            let mut inbox = self.inbox.lock();
            inbox.closed = true;
            inbox.waker = None;
            (
                std::mem::take(&mut inbox.queue),
                std::mem::take(&mut inbox.timers),
            )
        };
        for timer in timers {
            timer.cancel();
        }
        queue
    }

    /// Keeps `timer`, which sends to this process, to cancel it when the
    /// process dies; gives it back if the process has died already.
    pub(crate) fn watch_timer(
        &self,
        timer: crate::timer::Pending,
    ) -> Result<(), crate::timer::Pending> {
        let mut inbox = self.inbox.lock();
        if inbox.closed {
            return Err(timer);
        }
        // Timers that fired or were cancelled are dropped now and then, so
        // a long-lived process with many timers keeps only the pending ones.
        let len = inbox.timers.len();
        if len >= 8 && len.is_power_of_two() {
            inbox.timers.retain(crate::timer::Pending::is_pending);
        }
        inbox.timers.push(timer);
        Ok(())
    }

    /// Handles every queued signal (messages into the mailbox, links,
    /// exits, monitors), then routes the signals that produced.
    ///
    /// Envelopes are popped one by one, so the queue keeps its buffer (no
    /// allocation per message); only those queued when the drain began
    /// are handled. Lock order: `state`, then `inbox` (a sender locks only
    /// `inbox`).
    ///
    /// Returns `false` if there was nothing to handle.
    pub(crate) fn drain(&self, node: &Node, waker: Option<&Waker>) -> bool {
        if self.may_exit() && self.state.lock().exiting.is_some() {
            // Exiting: what is still queued is for `terminate` (leftovers).
            return false;
        }
        let Some((first, more)) = self.take_first(waker) else {
            return false;
        };
        let mut out = Vec::new();
        {
            let mut st = self.state.lock();
            self.handle(&mut st, node, first, &mut out);
            for _ in 0..more {
                // Once a signal has ended the process, what was sent after
                // it finds the process exiting (a link or monitor is
                // answered `noproc` when it ends), as on the BEAM.
                if st.exiting.is_some() {
                    break;
                }
                let Some(envelope) = self.take_next() else {
                    break;
                };
                self.handle(&mut st, node, envelope, &mut out);
            }
            if st.exiting.is_some() {
                self.exit_flag.store(true, Ordering::Relaxed);
            }
            // Only the process drains: no read-modify-write needed.
            let drains = self.drains.load(Ordering::Relaxed);
            self.drains.store(drains.wrapping_add(1), Ordering::Release);
        }
        for s in out {
            node.route(s);
        }
        true
    }

    fn handle(&self, st: &mut ProcState, node: &Node, envelope: Envelope, out: &mut Vec<Signal>) {
        let signal = match envelope {
            Envelope::Local(msg) => {
                if !is_abandoned_local(st, &*msg) {
                    st.mailbox.push(Message::Local(msg));
                }
                return;
            }
            Envelope::Signal(s) => s,
        };
        let me = self.pid;
        match signal {
            Signal::Send { msg, .. }
            | Signal::RegSend { msg, .. }
            | Signal::AliasSend { msg, .. } => {
                if !is_abandoned_reply(st, &msg) {
                    st.mailbox.push(Message::Term(msg))
                }
            }
            Signal::Link { from, .. } => crate::link::on_link(me, st, node, from),
            Signal::Unlink { from, id, .. } => crate::link::on_unlink(me, st, node, from, id, out),
            Signal::UnlinkAck { .. } => {}
            Signal::Exit { from, reason, .. } => crate::link::on_exit(me, st, node, from, reason),
            Signal::Exit2 { from, reason, .. } => crate::exit::on_exit2(me, st, from, reason),
            Signal::Monitor {
                from, reference, ..
            } => crate::monitor::on_monitor(me, st, node, from, reference),
            Signal::Demonitor {
                from, reference, ..
            } => crate::monitor::on_demonitor(me, st, node, from, reference),
            Signal::Down {
                reference, reason, ..
            } => crate::monitor::on_down(me, st, node, reference, reason),
        }
    }
}

/// `true` (and forgets the tag) for a late typed reply to a call that timed out.
fn is_abandoned_local(st: &mut ProcState, msg: &(dyn Any + Send)) -> bool {
    let Some(rel) = st.relations.as_mut().filter(|r| !r.abandoned.is_empty()) else {
        return false;
    };
    match msg.downcast_ref::<crate::gen_server::CallReply>() {
        Some(reply) => rel.abandoned.remove(&reply.tag),
        None => false,
    }
}

/// `true` (and forgets the tag) for a late `{Ref, Reply}` (or
/// `{[alias | Ref], Reply}`) to a call that timed out.
fn is_abandoned_reply(st: &mut ProcState, msg: &Term) -> bool {
    let Some(rel) = st.relations.as_mut().filter(|r| !r.abandoned.is_empty()) else {
        return false;
    };
    match reply_tag(msg) {
        Some(tag) => rel.abandoned.remove(tag),
        None => false,
    }
}

/// The reference of a reply `{Ref, Reply}` or `{[alias | Ref], Reply}`.
fn reply_tag(msg: &Term) -> Option<&Reference> {
    match msg.as_tuple()? {
        [Term::Reference(tag), _] => Some(tag),
        [tag, _] => crate::alias::tag_alias(tag),
        _ => None,
    }
}

/// Spawns a process whose state is first prepared by `setup` (so
/// `spawn_link`/`spawn_monitor` are atomic: the link or monitor exists
/// before the body can run).
pub(crate) fn spawn_with<F, Fut, R>(
    node: &Node,
    f: F,
    setup: impl FnOnce(&mut ProcState),
    before_start: impl FnOnce(Pid),
) -> Pid
where
    F: FnOnce(Process) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoExitReason + 'static,
{
    let executor = node.executor();
    let pid = executor
        .as_ref()
        .and_then(|e| e.alloc_pid())
        .unwrap_or_else(|| node.alloc_pid());
    let mut state = ProcState::default();
    setup(&mut state);
    let exit_flag = AtomicBool::new(state.exiting.is_some());
    let shared = Arc::new(ProcShared {
        pid,
        inbox: Mutex::new(Inbox::default()),
        state: Mutex::new(state),
        mail: AtomicBool::new(false),
        waker_gen: AtomicU64::new(0),
        exit_flag,
        drains: AtomicU64::new(0),
    });
    node.insert(shared.clone());
    before_start(pid);
    let ctx = Process {
        shared: shared.clone(),
        node: node.clone(),
        reg: Registration::default(),
    };
    let task = run(shared, node.clone(), f, ctx);
    match executor {
        Some(e) => e.spawn(pid, Box::pin(task)),
        None => node.scheduler().spawn(Box::pin(task)),
    }
    pid
}

/// How a process came to end: its body finished (or crashed), or a signal
/// killed it.
enum Ending {
    Body(Term),
    Signal(Term),
}

async fn run<F, Fut, R>(shared: Arc<ProcShared>, node: Node, f: F, ctx: Process) -> Exited
where
    F: FnOnce(Process) -> Fut,
    Fut: Future<Output = R>,
    R: IntoExitReason,
{
    let ending = match catch_unwind(AssertUnwindSafe(move || f(ctx))) {
        Err(_) => Ending::Body(crate::panic::panic_reason(
            "panic while starting process",
            "unknown",
        )),
        Ok(body) => {
            // The body lives only in this block: it is dropped before the
            // exit signals go out.
            let mut body = pin!(body);
            let mut reg = Registration::default();
            let exiting = || match shared.may_exit() {
                true => shared.state.lock().exiting.take(),
                false => None,
            };
            poll_fn(|cx| {
                crate::scheduler::reset_budget();
                // Only a signal handled here can have set `exiting` since
                // the last poll (the body's own exits are checked below).
                if shared.drain_polled(&node, cx.waker(), &mut reg) {
                    if let Some(reason) = exiting() {
                        return Poll::Ready(Ending::Signal(*reason));
                    }
                }
                match crate::panic::catch_poll(body.as_mut(), cx) {
                    Err(panic_reason) => Poll::Ready(Ending::Body(panic_reason)),
                    Ok(Poll::Ready(out)) => Poll::Ready(Ending::Body(out.into_exit_reason())),
                    Ok(Poll::Pending) => match exiting() {
                        Some(reason) => Poll::Ready(Ending::Signal(*reason)),
                        None => Poll::Pending,
                    },
                }
            })
            .await
        }
    };
    terminate(&shared, &node, ending)
}

/// A process's death: see the module docs for the order of events.
fn terminate(shared: &ProcShared, node: &Node, ending: Ending) -> Exited {
    let me = shared.pid;
    node.remove(&me);
    let leftovers = shared.close();
    let (reason, crashed) = match ending {
        Ending::Body(r) => {
            let crashed = !exit::is_orderly(&r);
            (r, crashed)
        }
        Ending::Signal(r) => (r, false),
    };
    let (relations, name, on_exit, state) = {
        let mut st = shared.state.lock();
        (
            st.relations.take(),
            st.name.take(),
            st.on_exit.take(),
            st.report_state.take().map(|b| *b),
        )
    };
    let Relations {
        links,
        monitors,
        monitored_by,
        ..
    } = relations.map(|b| *b).unwrap_or_default();

    if let Some(n) = name {
        node.registry().unregister_pid(n, me);
    }
    if crashed {
        let location = crate::panic::panic_location(&reason).unwrap_or("");
        tracing::error!(
            target: "ferrotp::crash_report",
            pid = %me,
            registered_name = name.map(|n| n.as_str()).unwrap_or("[]"),
            reason = %reason.limited(crate::LOG_TERM_BYTES),
            panic_location = location,
            "crash report: process exited abnormally"
        );
    }
    for far in links {
        node.book_link(me, far, false);
        node.route(Signal::Exit {
            from: me,
            to: far,
            reason: reason.clone(),
        });
    }
    // In the order the monitors were made, as the BEAM sends its 'DOWN's:
    // a reference's words count up from the last one.
    let mut monitored_by: Vec<(Reference, Pid)> = monitored_by.into_iter().collect();
    if monitored_by.len() > 1 {
        monitored_by.sort_unstable_by(|(a, _), (b, _)| a.ids.iter().rev().cmp(b.ids.iter().rev()));
    }
    for (reference, watcher) in monitored_by {
        node.book_monitored_by(watcher, me, &reference, false);
        node.route(Signal::Down {
            from: MonitorTarget::Pid(me),
            to: watcher,
            reference,
            reason: reason.clone(),
        });
    }
    for (reference, target) in monitors {
        node.book_monitor(me, &target, &reference, false);
        node.route(Signal::Demonitor {
            from: me,
            target,
            reference,
        });
    }
    // Links and monitors still queued when we exited (sent after the exit
    // signal that ended us, say) are answered `noproc`, as the BEAM answers
    // a process that is exiting: `exit(P, foo), monitor(process, P)` gives
    // `{'DOWN', _, process, P, noproc}`.
    for envelope in leftovers {
        if let Envelope::Signal(s) = envelope {
            node.undeliverable(s, crate::exit::noproc());
        }
    }
    if let Some(tx) = on_exit {
        let _ = tx.send(reason.clone());
    }
    Exited {
        reason,
        crashed,
        state: if crashed { state } else { None },
    }
}

/// A destination for a message: a pid, a locally registered name, or a
/// name on a node (`Pid`, `Name`, `{Name, Node}` in Erlang).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A process by pid.
    Pid(Pid),
    /// A name registered on this node.
    Name(Atom),
    /// A name registered on `node`.
    Registered {
        /// The name.
        name: Atom,
        /// The node.
        node: Atom,
    },
}

impl From<Pid> for Dest {
    fn from(p: Pid) -> Dest {
        Dest::Pid(p)
    }
}

impl From<&Pid> for Dest {
    fn from(p: &Pid) -> Dest {
        Dest::Pid(*p)
    }
}

impl From<Atom> for Dest {
    fn from(a: Atom) -> Dest {
        Dest::Name(a)
    }
}

impl From<(Atom, Atom)> for Dest {
    fn from((name, node): (Atom, Atom)) -> Dest {
        Dest::Registered { name, node }
    }
}

/// Sending to a name that is not registered (`Name ! Msg` raises `badarg`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no process registered as {0}")]
pub struct NotRegistered(pub Atom);

/// The context of a running process: Erlang's `self()` and the BIFs that
/// act on it. Handed to the process body; lives as long as the body.
///
/// `receive*` only works inside the process's own task (the body): the
/// runtime wakes that task when signals arrive.
pub struct Process {
    pub(crate) shared: Arc<ProcShared>,
    pub(crate) node: Node,
    /// The waker `receive` last registered.
    reg: Registration,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.shared.pid)
            .finish()
    }
}

impl Process {
    /// Records the state this process's crash report shows, should it end
    /// abnormally (a gen_server's `State` in its terminate report; see
    /// [`Exited::state`]).
    pub(crate) fn set_report_state(&mut self, state: Term) {
        self.shared.state.lock().report_state = Some(Box::new(state));
    }

    /// This process's pid (`self()`).
    pub fn pid(&self) -> Pid {
        self.shared.pid
    }

    /// The node this process runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Sends `msg` to `to` (`To ! Msg`); never fails, as in Erlang
    /// (a dead or unreachable receiver just never gets it).
    pub fn send(&self, to: &Pid, msg: Term) {
        self.node.route(Signal::Send {
            from: Some(self.shared.pid),
            to: *to,
            msg,
        });
    }

    /// Sends to a pid, a registered name, or `{Name, Node}`.
    ///
    /// A local name that is not registered is an error (`badarg` in
    /// Erlang); `{Name, Node}` sends never fail.
    pub fn send_to(&self, to: impl Into<Dest>, msg: Term) -> Result<(), NotRegistered> {
        match to.into() {
            Dest::Pid(p) => self.send(&p, msg),
            Dest::Name(name) => match self.node.whereis(name) {
                Some(p) => self.send(&p, msg),
                None => return Err(NotRegistered(name)),
            },
            Dest::Registered { name, node } => self.node.route(Signal::RegSend {
                from: self.shared.pid,
                to_name: name,
                to_node: node,
                msg,
            }),
        }
        Ok(())
    }

    /// Sends a typed Rust value to a process on this node; it arrives as
    /// [`Message::Local`]. Values sent to remote pids are dropped (logged):
    /// they cannot be encoded.
    pub fn send_local<T: Any + Send>(&self, to: &Pid, msg: T) {
        self.node.send_local_boxed(to, Box::new(msg));
    }

    /// Waits for the next message (`receive M -> M end`).
    pub async fn receive(&mut self) -> Message {
        loop {
            if let Some(m) = self.receive_match(|_| true, None).await {
                return m;
            }
        }
    }

    /// Waits at most `timeout` for the next message (`receive M -> M after T -> timeout end`).
    /// `Duration::ZERO` only looks at what has already arrived.
    pub async fn receive_timeout(&mut self, timeout: Duration) -> Option<Message> {
        self.receive_match(|_| true, Some(timeout)).await
    }

    /// Selective receive: waits (at most `timeout`, `None` = forever) for
    /// the first message for which `matches` is true and removes it. The
    /// messages skipped stay in the mailbox, in order.
    pub async fn receive_match(
        &mut self,
        mut matches: impl FnMut(&Message) -> bool,
        timeout: Option<Duration>,
    ) -> Option<Message> {
        crate::scheduler::consume_budget().await;
        let mut scanned = 0usize;
        // `after 0`: look at what has arrived, and no more (a zero sleep
        // would wait for the timer wheel's next tick, up to a millisecond).
        let at_once = timeout == Some(Duration::ZERO);
        // Boxed: an idle process parked in `receive` should not carry a
        // timer entry inline (memory per process).
        let mut deadline = timeout
            .filter(|_| !at_once)
            .map(|t| Box::pin(tokio::time::sleep(t)));
        let shared = &self.shared;
        let node = &self.node;
        let reg = &mut self.reg;
        poll_fn(|cx| {
            shared.drain_polled(node, cx.waker(), reg);
            {
                let mut st = shared.state.lock();
                if st.exiting.is_some() {
                    // The task's top level ends the process on its next poll.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                if let Some(m) = st.mailbox.take_match(&mut scanned, &mut matches) {
                    return Poll::Ready(Some(m));
                }
            }
            if at_once {
                return Poll::Ready(None);
            }
            match deadline.as_mut() {
                Some(sleep) => sleep.as_mut().poll(cx).map(|()| None),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Number of messages waiting (`process_info(self(), message_queue_len)`).
    pub fn message_queue_len(&self) -> usize {
        self.shared.drain(&self.node, None);
        self.shared.state.lock().mailbox.len()
    }

    /// Ends this process with `reason` (`exit(Reason)`, erlang:exit/1): the
    /// returned future never completes; the body is dropped at this await.
    pub async fn exit_self(&mut self, reason: Term) -> Infallible {
        self.shared.state.lock().exiting = Some(Box::new(reason));
        self.shared.exit_flag.store(true, Ordering::Relaxed);
        poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    /// Lets other tasks run (`erlang:yield()`).
    pub async fn yield_now(&self) {
        crate::scheduler::yield_now().await;
    }

    /// Spawns an unlinked process on this node (`spawn(Fun)`).
    pub fn spawn<F, Fut, R>(&self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoExitReason + 'static,
    {
        spawn_with(&self.node, f, |_| {}, |_| {})
    }

    /// Spawns a process linked to this one (`spawn_link(Fun)`): the link
    /// exists before the child runs.
    pub fn spawn_link<F, Fut, R>(&mut self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoExitReason + 'static,
    {
        let me = self.shared.pid;
        let shared = &self.shared;
        spawn_with(
            &self.node,
            f,
            |st| {
                st.rel().links.insert(me);
            },
            |child| {
                shared.state.lock().rel().links.insert(child);
            },
        )
    }

    /// Spawns a process monitored by this one (`spawn_monitor(Fun)`): the
    /// monitor exists before the child runs.
    pub fn spawn_monitor<F, Fut, R>(&mut self, f: F) -> (Pid, Reference)
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoExitReason + 'static,
    {
        let me = self.shared.pid;
        let reference = self.node.make_ref();
        let r = reference.clone();
        let r2 = reference.clone();
        let shared = &self.shared;
        let child = spawn_with(
            &self.node,
            f,
            |st| {
                st.rel().monitored_by.insert(r2, me);
            },
            |child| {
                shared
                    .state
                    .lock()
                    .rel()
                    .monitors
                    .insert(r, MonitorTarget::Pid(child));
            },
        );
        (child, reference)
    }

    /// A new unique reference (`make_ref()`).
    pub fn make_ref(&self) -> Reference {
        self.node.make_ref()
    }

    /// Gives up on the reply to call `tag` (after a timeout): a reply
    /// already here is removed, one still on its way is dropped when it
    /// arrives, so late replies never reach the mailbox (as with OTP 24+'s
    /// call aliases). Replies are `{Tag, Reply}` terms or typed local replies.
    pub fn abandon_reply(&mut self, tag: &Reference) {
        self.shared.drain(&self.node, None);
        let mut st = self.shared.state.lock();
        let before = st.mailbox.len();
        st.mailbox.remove_where(|m| match m {
            Message::Term(t) => reply_tag(t) == Some(tag),
            Message::Local(b) => b
                .downcast_ref::<crate::gen_server::CallReply>()
                .is_some_and(|reply| reply.tag == *tag),
        });
        if st.mailbox.len() == before {
            st.rel().abandoned.insert(tag.clone());
        }
    }
}
