//! A Rust process as the BEAM sees it: a resource owned by its proxy, the
//! BEAM process whose pid it has.
//!
//! The proxy (`ferrotp_nif:loop/1`, a lean receive loop) hands every
//! message to the Rust process and polls it, in one short NIF call on its
//! own scheduler (design A in `docs/nif.md`). When something else wakes the
//! Rust process (a message from another Rust process, a timer on a tokio
//! thread), its waker sends `'$ferrotp_poll'` to the proxy, once until the
//! next poll.
//!
//! | Erlang                               | here                               |
//! |--------------------------------------|------------------------------------|
//! | a process being scheduled            | [`RustProcess::poll`]              |
//! | `exit(Pid, kill)` on the proxy       | the destructor: the Rust process dies `killed` |

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use etf::{Pid, Term};
use ferrotp::direct::DirectServer;
use ferrotp::executor::{Exited, ProcessTask};
use ferrotp::start::Ack;
use ferrotp::Signal;
use parking_lot::Mutex;
use rustler::Env;
use tokio::sync::oneshot;

use crate::beam_env;
use crate::clock::Stopwatch;
use crate::host;

/// What a poll left behind.
pub enum Step {
    /// The process is waiting (or will be polled again).
    Running,
    /// The process has died.
    Exited(Exited),
    /// The process had already died before this poll.
    Gone,
}

/// A Rust process, owned by its proxy's heap (a NIF resource).
pub struct RustProcess {
    pid: Pid,
    task: Mutex<Option<ProcessTask>>,
    waker: Arc<PollWaker>,
    /// `waker` as a `Waker`, made once (polls borrow it).
    task_waker: Waker,
    /// The start's acknowledgement, until read (`proc_lib:init_ack/1`).
    ack: Mutex<Option<oneshot::Receiver<Ack>>>,
    /// Its gen_server's direct entry, once its server loop runs (see
    /// `ferrotp::direct`).
    direct: OnceLock<Arc<dyn DirectServer>>,
}

thread_local! {
    /// The process being polled on this thread.
    static POLLING: Cell<Option<Pid>> = const { Cell::new(None) };
    /// A direct entry offered during the poll in progress.
    static OFFERED: RefCell<Option<Arc<dyn DirectServer>>> = const { RefCell::new(None) };
}

/// Keeps gen_server `pid`'s direct entry, if `pid` is the process being
/// polled on this thread (the executor's `direct_server` hook).
pub fn offer_direct(pid: Pid, server: Arc<dyn DirectServer>) -> bool {
    if POLLING.with(|p| p.get()) != Some(pid) {
        return false;
    }
    OFFERED.with(|o| *o.borrow_mut() = Some(server));
    true
}

/// Where a start stands (`init_status/1`).
pub enum InitStatus {
    /// Not acknowledged yet.
    Pending,
    /// Acknowledged (or not a started body).
    Acked(Ack),
}

// The task is only touched under its lock; a panic in a poll is caught by
// the runtime (a panic in a process is its exit reason) before it reaches
// the NIF boundary.
impl std::panic::RefUnwindSafe for RustProcess {}

/// Wakes a process by asking its proxy to poll it.
struct PollWaker {
    proxy: Pid,
    scheduled: AtomicBool,
    /// The process's Rust work not yet charged to the BEAM scheduler, in
    /// nanoseconds (see `account`). Always under 1% of a slice, so 16
    /// bits, which fit beside `scheduled` here at no cost.
    unbilled: AtomicU16,
}

impl Wake for PollWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            beam_env::send(&self.proxy, &Term::atom("$ferrotp_poll"));
        }
    }
}

#[rustler::resource_impl]
impl rustler::Resource for RustProcess {
    const IMPLEMENTS_DESTRUCTOR: bool = true;

    /// The proxy is gone (its heap held the only reference) without the
    /// Rust process having ended — killed with `exit(Pid, kill)`: the Rust
    /// process dies `killed`, so its Rust links and monitors fire.
    fn destructor(self, env: Env<'_>) {
        self.kill(env);
    }
}

/// A Rust process as a NIF argument (the proxy's resource term), read
/// with a cached resource type: rustler looks the type up in a hash map
/// keyed by `TypeId` on every decode, which costs as much as the rest of a
/// short NIF call's argument handling.
pub struct Proc<'a>(&'a RustProcess);

impl std::ops::Deref for Proc<'_> {
    type Target = RustProcess;

    fn deref(&self) -> &RustProcess {
        self.0
    }
}

impl<'a> rustler::Decoder<'a> for Proc<'a> {
    fn decode(term: rustler::Term<'a>) -> rustler::NifResult<Proc<'a>> {
        if let Some(process) = decode_cached(term) {
            return Ok(Proc(process));
        }
        let process: &'a RustProcess = term.decode()?;
        learn_resource_type(term, process);
        Ok(Proc(process))
    }
}

/// `RustProcess`'s BEAM resource type, once learnt (0 until then).
static RESOURCE_TYPE: AtomicUsize = AtomicUsize::new(0);

/// Where rustler puts the value in a resource object: at the first
/// `align_of` boundary strictly after the object's start (rustler 0.36,
/// `align_alloced_mem_for_struct`; checked against rustler's own decode
/// before the type is cached, see [`learn_resource_type`]).
fn value_of(object: usize) -> usize {
    let align = std::mem::align_of::<RustProcess>();
    object + (align - object % align)
}

fn decode_cached<'a>(term: rustler::Term<'a>) -> Option<&'a RustProcess> {
    let kind = RESOURCE_TYPE.load(Ordering::Relaxed);
    if kind == 0 {
        return None;
    }
    let object = resource_object(term, kind)?;
    // SAFETY: a `RustProcess` resource (the VM checked the term's type is
    // `kind`, verified by the VM itself when learnt), laid out as rustler
    // lays it out (checked then too); the term keeps it alive for the NIF
    // call ('a).
    Some(unsafe { &*(value_of(object) as *const RustProcess) })
}

/// `enif_get_resource(Env, Term, Kind, &Object)`: the address of the
/// resource object when `term` is a resource of type `kind`. The VM only
/// compares `kind` with the term's type, never dereferences it.
fn resource_object(term: rustler::Term<'_>, kind: usize) -> Option<usize> {
    let mut object: *const rustler::sys::c_void = std::ptr::null();
    // SAFETY: the VM checks that `term` is a resource of type `kind`
    // before it writes `object`; `kind` is only compared.
    let found = unsafe {
        rustler::sys::enif_get_resource(
            term.get_env().as_c_arg(),
            term.as_c_arg(),
            kind as *const rustler::sys::ErlNifResourceType,
            &mut object,
        )
    };
    (found != 0).then_some(object as usize)
}

/// Learns `RustProcess`'s resource type from a resource rustler has just
/// decoded: the VM keeps the type pointer in the resource's header, a few
/// words before the object; each candidate word is confirmed by
/// `enif_get_resource` (which only compares it with the term's type) and
/// the object it gives must hold `process` where rustler put it. If none
/// is confirmed, decoding keeps rustler's lookup.
fn learn_resource_type(term: rustler::Term<'_>, process: &RustProcess) {
    if RESOURCE_TYPE.load(Ordering::Relaxed) != 0 {
        return;
    }
    let value = process as *const RustProcess as usize;
    let align = std::mem::align_of::<RustProcess>();
    // Where the object may start (rustler's padding before the value is
    // 1 to `align` bytes); the VM's answer below says which.
    for object in (1..=align)
        .map(|k| value - k)
        .filter(|o| value_of(*o) == value)
    {
        for words_back in 1..=4 {
            // SAFETY: the resource header (the VM's magic binary) precedes
            // the object in the same allocation and is longer than four
            // words.
            let candidate =
                unsafe { std::ptr::read_unaligned((object as *const usize).sub(words_back)) };
            if candidate == 0 {
                continue;
            }
            if resource_object(term, candidate) == Some(object) {
                RESOURCE_TYPE.store(candidate, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Nanoseconds of Rust work charged as 1% of a scheduler time slice.
const SLICE_NS_PER_PERCENT: u64 = 3_000;

/// The longest single poll so far, in nanoseconds (`max_poll_ns/0`).
pub static MAX_POLL_NS: AtomicU64 = AtomicU64::new(0);

/// Tells the scheduler how much of its time slice the process's Rust work
/// used (as reductions do for Erlang code), so a busy Rust process is
/// switched out as often as a busy gen_server is. The NIF documentation
/// puts a slice at about 1 ms, but a slice of Erlang code (4000 reductions)
/// runs in about 0.3 ms here; charging by that measure keeps a burst of
/// Rust work as short as a gen_server's (the scheduler-latency tests
/// compare the two). `ns` is the work's time. Work shorter than 1% of a
/// slice is carried over in `unbilled` until it adds up to 1%, the least
/// `enif_consume_timeslice` takes: a direct call of a few hundred
/// nanoseconds is charged what it costs (a few reductions, as a
/// gen_server's `handle_call` is), not 40.
fn account(env: Env<'_>, unbilled: &AtomicU16, ns: u64) {
    // Read first: a locked read-modify-write on every poll would bounce
    // the cache line between schedulers.
    if ns > MAX_POLL_NS.load(Ordering::Relaxed) {
        MAX_POLL_NS.fetch_max(ns, Ordering::Relaxed);
    }
    // The process's task lock is held: no other thread charges it now.
    let total = u64::from(unbilled.load(Ordering::Relaxed)).saturating_add(ns);
    let percent = (total / SLICE_NS_PER_PERCENT).min(100);
    // Under SLICE_NS_PER_PERCENT, so it fits in 16 bits.
    let left = if percent == 100 {
        0
    } else {
        total % SLICE_NS_PER_PERCENT
    };
    unbilled.store(left as u16, Ordering::Relaxed);
    if percent == 0 {
        return;
    }
    rustler::schedule::consume_timeslice(env, percent as i32);
}

impl RustProcess {
    /// A process whose whole life is `task`.
    pub fn new(pid: Pid, task: ProcessTask) -> RustProcess {
        let waker = Arc::new(PollWaker {
            proxy: pid,
            scheduled: AtomicBool::new(false),
            unbilled: AtomicU16::new(0),
        });
        RustProcess {
            pid,
            task: Mutex::new(Some(task)),
            task_waker: Waker::from(waker.clone()),
            waker,
            ack: Mutex::new(None),
            direct: OnceLock::new(),
        }
    }

    /// Watches for the start acknowledgement on `ack`.
    pub fn expect_ack(&self, ack: oneshot::Receiver<Ack>) {
        *self.ack.lock() = Some(ack);
    }

    /// Whether the body has acknowledged its start. A body that ended
    /// without acknowledging shows as pending: its exit reason comes with
    /// the stop step.
    pub fn init_status(&self) -> InitStatus {
        let mut slot = self.ack.lock();
        let Some(rx) = slot.as_mut() else {
            return InitStatus::Acked(Ack::Ok);
        };
        match rx.try_recv() {
            Ok(ack) => {
                *slot = None;
                InitStatus::Acked(ack)
            }
            Err(_) => InitStatus::Pending,
        }
    }

    /// The process's pid (its proxy's).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Runs the process until it waits: one poll of its task, on this
    /// thread, inside the NIF call whose environment is `env`.
    pub fn poll(&self, env: Env<'_>) -> Step {
        self.poll_in(env, true)
    }

    /// `in_nif`: `env` is a NIF call's (it can be charged the time slice),
    /// not a resource callback's.
    fn poll_in(&self, env: Env<'_>, in_nif: bool) -> Step {
        let mut slot = self.task.lock();
        let Some(task) = slot.as_mut() else {
            return Step::Gone;
        };
        self.waker.scheduled.store(false, Ordering::Release);
        let mut cx = Context::from_waker(&self.task_waker);
        let started = Stopwatch::start();
        let polled = {
            let _env = beam_env::enter(env);
            let _rt = host::existing_node().map(|n| n.handle().enter());
            let previous = POLLING.with(|p| p.replace(Some(self.pid)));
            let polled = task.as_mut().poll(&mut cx);
            POLLING.with(|p| p.set(previous));
            polled
        };
        if let Some(server) = OFFERED.with(|o| o.borrow_mut().take()) {
            let _ = self.direct.set(server);
        }
        if in_nif {
            account(env, &self.waker.unbilled, started.elapsed_ns());
        }
        match polled {
            Poll::Pending => Step::Running,
            Poll::Ready(exited) => {
                *slot = None;
                Step::Exited(exited)
            }
        }
    }

    /// Whether the process's gen_server takes messages directly.
    pub fn has_direct(&self) -> bool {
        self.direct.get().is_some()
    }

    /// Runs `f` on the process's direct entry (see `ferrotp::direct`),
    /// holding its task as a poll does; `None` if it has none or has died.
    pub fn direct<R>(
        &self,
        env: Env<'_>,
        f: impl FnOnce(&dyn DirectServer, &mut Context<'_>) -> R,
    ) -> Option<R> {
        let server = self.direct.get()?;
        let slot = self.task.lock();
        slot.as_ref()?;
        let mut cx = Context::from_waker(&self.task_waker);
        let started = Stopwatch::start();
        let out = {
            let _env = beam_env::enter(env);
            host::enter_runtime();
            f(server.as_ref(), &mut cx)
        };
        account(env, &self.waker.unbilled, started.elapsed_ns());
        drop(slot);
        Some(out)
    }

    /// Delivers a signal from outside the runtime (a message, an exit
    /// signal, a `'DOWN'`) and polls.
    pub fn deliver(&self, env: Env<'_>, signal: Signal) -> Step {
        if let Some(node) = host::existing_node() {
            // About to poll anyway: the push need not ask the proxy to.
            self.waker.scheduled.store(true, Ordering::Release);
            let _env = beam_env::enter(env);
            node.deliver(signal);
        }
        self.poll(env)
    }

    /// Delivers several signals, in order, and polls once.
    pub fn deliver_all(&self, env: Env<'_>, signals: Vec<Signal>) -> Step {
        if let Some(node) = host::existing_node() {
            self.waker.scheduled.store(true, Ordering::Release);
            let _env = beam_env::enter(env);
            for signal in signals {
                node.deliver(signal);
            }
        }
        self.poll(env)
    }

    /// Ends the process with `killed` if it still runs (its proxy is gone).
    fn kill(&self, env: Env<'_>) {
        if self.task.lock().is_none() {
            return;
        }
        if let Some(node) = host::existing_node() {
            let _env = beam_env::enter(env);
            node.deliver(Signal::Exit2 {
                from: self.pid,
                to: self.pid,
                reason: Term::atom("kill"),
            });
        }
        // A killed process ends at its next poll; a few polls cover a body
        // that wakes itself in between.
        for _ in 0..8 {
            match self.poll_in(env, false) {
                Step::Running => continue,
                Step::Exited(_) | Step::Gone => return,
            }
        }
        self.task.lock().take();
    }
}
