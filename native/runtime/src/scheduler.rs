//! Schedulers: the threads that run processes, as the BEAM's schedulers do.
//!
//! A node runs its processes on a pool of its own threads, one per core
//! (started on the first spawn); tokio stays the driver of timers and I/O
//! (each scheduler thread enters the node's tokio runtime, so
//! `tokio::time::sleep` and tokio sockets work inside a process).
//!
//! | Erlang (inside the VM)                       | Rust                                     |
//! |----------------------------------------------|------------------------------------------|
//! | one scheduler thread per core (`+S`)         | one pool thread per core                 |
//! | a process woken by a send joins the run queue of the scheduler that sent | a wake from a pool thread queues on that thread |
//! | idle schedulers steal from busy ones         | idle threads steal half of a busy queue  |
//! | reductions: a process is preempted           | `receive` spends a budget, then yields   |
//!
//! Why not tokio's own scheduler: a message send wakes the receiver, and
//! tokio often runs the woken task on the *other* worker thread, so a chain
//! of wake-ups (a ring, ping-pong, a call and its reply) pays a cross-thread
//! wake-up per message. Here a wake from a scheduler thread stays on that
//! thread; an idle thread is only woken when work piles up (a queue that
//! already had two tasks), or when work arrives from outside the pool.
//!
//! A task queued behind a process that does not yield is still taken: an
//! idle thread looks at the other queues at least every millisecond while
//! any thread is busy, and steals what it finds.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio::runtime::Handle;

use crate::executor::ProcessTask;

/// Receives (or other budgeted steps) a process may take in one poll
/// before it yields to the other processes of its thread.
const BUDGET: u32 = 128;

/// How often (in polls) a thread looks at the shared queue first, so work
/// from outside the pool is not starved by a busy local queue.
const INJECTOR_INTERVAL: u32 = 61;

/// A run queue this long (before a push) is work to share: an idle
/// thread is woken to steal half of it. Shorter queues are left to their
/// thread (a chain of wake-ups, one task at a time, stays on one thread).
const SHARE_AT: usize = 2;

/// How long an idle thread sleeps while another one is busy before it
/// looks for stranded work (a task queued behind a process that does not
/// yield).
const BUSY_NAP: Duration = Duration::from_millis(1);

/// How long an idle thread sleeps when every thread is idle (it is woken
/// earlier by any work from outside the pool).
const IDLE_NAP: Duration = Duration::from_millis(50);

// Task states.
const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

thread_local! {
    /// The pool (by address) and index of the scheduler thread this is.
    static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    /// What is left of the running process's budget.
    static BUDGET_LEFT: Cell<u32> = const { Cell::new(BUDGET) };
    /// Tasks woken by this (non-scheduler) thread while it collects them
    /// for running here ([`crate::woken`]).
    static COLLECTING: RefCell<Option<Vec<Arc<Task>>>> = const { RefCell::new(None) };
}

/// Runs `f`; the tasks it wakes from outside the pool are appended to
/// `into` instead of being queued for a scheduler thread (also when `f`
/// panics). Nested calls collect into the outermost one.
pub(crate) fn collect_woken<R>(into: &mut Vec<Arc<Task>>, f: impl FnOnce() -> R) -> R {
    /// Takes the collected tasks back, on return and on unwind.
    struct Collecting<'a>(&'a mut Vec<Arc<Task>>);
    impl Drop for Collecting<'_> {
        fn drop(&mut self) {
            if let Some(tasks) = COLLECTING.with(|c| c.borrow_mut().take()) {
                self.0.extend(tasks);
            }
        }
    }
    let outermost = COLLECTING.with(|c| match c.try_borrow_mut() {
        Ok(mut slot) if slot.is_none() => {
            *slot = Some(Vec::new());
            true
        }
        _ => false,
    });
    if !outermost {
        return f();
    }
    let _collecting = Collecting(into);
    f()
}

/// Polls each of `tasks` once on this thread, as a scheduler thread
/// would; what they wake, and a task woken again while it ran, goes to the
/// scheduler threads.
pub(crate) fn run_woken(tasks: &mut Vec<Arc<Task>>) {
    for task in tasks.drain(..) {
        let pool = task.pool.clone();
        pool.run(usize::MAX, task);
    }
}

/// Queues `tasks` for the scheduler threads (collected, but not run here).
pub(crate) fn schedule_woken(tasks: &mut Vec<Arc<Task>>) {
    for task in tasks.drain(..) {
        let pool = task.pool.clone();
        pool.schedule(task);
    }
}

/// Gives the process about to be polled a fresh budget.
pub(crate) fn reset_budget() {
    BUDGET_LEFT.with(|b| b.set(BUDGET));
}

/// Spends one unit of the running process's budget; yields once (to the
/// back of its run queue) when it is spent.
pub(crate) async fn consume_budget() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        let left = BUDGET_LEFT.with(Cell::get);
        if left > 0 {
            BUDGET_LEFT.with(|b| b.set(left - 1));
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Lets the other processes run: back to the end of the run queue.
pub(crate) async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// A process's task: its future and where it is in its life.
pub(crate) struct Task {
    state: AtomicU8,
    future: Mutex<Option<ProcessTask>>,
    pool: Arc<Pool>,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        if self.mark_woken() {
            let pool = self.pool.clone();
            pool.schedule(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.mark_woken() {
            self.pool.schedule(self.clone());
        }
    }
}

impl Task {
    /// Records a wake-up; `true` if the task must now be queued.
    fn mark_woken(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (next, queue) = match state {
                IDLE => (SCHEDULED, true),
                RUNNING => (NOTIFIED, false),
                _ => return false,
            };
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return queue,
                Err(now) => state = now,
            }
        }
    }
}

/// One scheduler thread's run queue.
#[repr(align(128))]
struct RunQueue {
    tasks: Mutex<VecDeque<Arc<Task>>>,
    /// `tasks.len()`, readable without the lock.
    len: AtomicUsize,
    /// Set while the thread polls a task.
    busy: AtomicBool,
    /// Polls started by the thread (only it writes this).
    polls: AtomicU64,
}

impl RunQueue {
    fn new() -> RunQueue {
        RunQueue {
            tasks: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
            polls: AtomicU64::new(0),
        }
    }

    /// Appends a task; returns how many were queued before it.
    fn push(&self, task: Arc<Task>) -> usize {
        let mut tasks = self.tasks.lock();
        tasks.push_back(task);
        self.len.store(tasks.len(), Ordering::Release);
        tasks.len() - 1
    }

    fn pop(&self) -> Option<Arc<Task>> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut tasks = self.tasks.lock();
        let task = tasks.pop_front();
        self.len.store(tasks.len(), Ordering::Release);
        task
    }

    /// Takes the newer half of the queue (at least one task): the owner
    /// keeps the tasks it was about to run.
    fn steal_half(&self) -> VecDeque<Arc<Task>> {
        let mut tasks = self.tasks.lock();
        let keep = tasks.len() / 2;
        let stolen = tasks.split_off(keep);
        self.len.store(tasks.len(), Ordering::Release);
        stolen
    }
}

/// What the scheduler threads share.
struct Pool {
    queues: Box<[RunQueue]>,
    /// Tasks spawned or woken from outside the pool.
    injector: RunQueue,
    sleep: Mutex<()>,
    wake_up: Condvar,
    sleeping: AtomicUsize,
    shutdown: AtomicBool,
}

impl Pool {
    fn address(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    /// Queues a runnable task: on this thread's queue if this is one of
    /// the pool's threads, on the shared queue otherwise.
    fn schedule(self: &Arc<Self>, task: Arc<Task>) {
        let me = self.address();
        match CURRENT.with(Cell::get) {
            Some((pool, index)) if pool == me => {
                if let Some(queue) = self.queues.get(index) {
                    // A task woken by the one running is run by this
                    // thread next; a queue that grows is work to share.
                    if queue.push(task) >= SHARE_AT {
                        self.notify_one();
                    }
                    return;
                }
                self.injector.push(task);
                self.notify_one();
            }
            _ => {
                // A thread collecting what it wakes runs it itself.
                let task = COLLECTING.with(|c| match c.try_borrow_mut() {
                    Ok(mut slot) => match slot.as_mut() {
                        Some(tasks) => {
                            tasks.push(task);
                            None
                        }
                        None => Some(task),
                    },
                    Err(_) => Some(task),
                });
                if let Some(task) = task {
                    self.injector.push(task);
                    self.notify_one();
                }
            }
        }
    }

    /// Wakes one sleeping thread, if any.
    fn notify_one(&self) {
        // Pairs with `park`: either it sees the queued task, or this sees
        // it sleeping.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Taking the lock waits out a thread between its check and its
        // wait; notifying after releasing it lets the woken thread take
        // the lock at once instead of spinning (sched_yield) on it.
        drop(self.sleep.lock());
        self.wake_up.notify_one();
    }

    fn has_work(&self) -> bool {
        self.injector.len.load(Ordering::SeqCst) > 0
            || self.queues.iter().any(|q| q.len.load(Ordering::SeqCst) > 0)
    }

    fn others_busy(&self, index: usize) -> bool {
        self.queues
            .iter()
            .enumerate()
            .any(|(i, q)| i != index && q.busy.load(Ordering::Relaxed))
    }

    /// The next task for thread `index`: its own queue, the shared queue,
    /// or half of another thread's queue. `seen` holds the other threads'
    /// poll counts when last looked at.
    fn find_work(&self, index: usize, tick: u32, seen: &mut [u64]) -> Option<Arc<Task>> {
        let own = self.queues.get(index)?;
        let found = if tick % INJECTOR_INTERVAL == 0 {
            self.injector.pop().or_else(|| own.pop())
        } else {
            own.pop().or_else(|| self.injector.pop())
        };
        if found.is_some() {
            return found;
        }
        let n = self.queues.len();
        for step in 1..n {
            let v = (index + step) % n;
            let (Some(victim), Some(last_seen)) = (self.queues.get(v), seen.get_mut(v)) else {
                continue;
            };
            let queued = victim.len.load(Ordering::Acquire);
            if queued == 0 {
                continue;
            }
            // One task waiting is the one its thread runs next, unless
            // that thread has been in the same poll since we last looked.
            let polls = victim.polls.load(Ordering::Relaxed);
            let stuck = *last_seen == polls;
            *last_seen = polls;
            if queued < SHARE_AT && !stuck {
                continue;
            }
            let mut stolen = victim.steal_half();
            if let Some(first) = stolen.pop_front() {
                for task in stolen {
                    own.push(task);
                }
                return Some(first);
            }
        }
        None
    }

    /// Sleeps until woken, or for a nap (shorter while others are busy).
    fn park(&self, index: usize) {
        let mut guard = self.sleep.lock();
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        if !self.has_work() && !self.shutdown.load(Ordering::SeqCst) {
            let nap = if self.others_busy(index) {
                BUSY_NAP
            } else {
                IDLE_NAP
            };
            self.wake_up.wait_for(&mut guard, nap);
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
    }

    /// Polls `task` once on thread `index`.
    fn run(self: &Arc<Self>, index: usize, task: Arc<Task>) {
        task.state.store(RUNNING, Ordering::Release);
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let finished = {
            let mut future = task.future.lock();
            match future.as_mut() {
                // A process catches its own panics; this one is the
                // runtime's, and must not take the thread down.
                Some(f) => catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(&mut cx).is_ready()))
                    .unwrap_or(true),
                None => true,
            }
        };
        if finished {
            task.state.store(DONE, Ordering::Release);
            let future = task.future.lock().take();
            drop(future);
            return;
        }
        if task
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken while running: back to the end of this thread's queue.
            task.state.store(SCHEDULED, Ordering::Release);
            match self.queues.get(index) {
                Some(q) => {
                    if q.push(task) >= SHARE_AT {
                        self.notify_one();
                    }
                }
                None => self.schedule(task),
            }
        }
    }

    fn work(self: Arc<Self>, index: usize, handle: Handle) {
        let _runtime = handle.enter();
        CURRENT.with(|c| c.set(Some((self.address(), index))));
        let mut tick = 0u32;
        let mut seen = vec![u64::MAX; self.queues.len()];
        while !self.shutdown.load(Ordering::Acquire) {
            tick = tick.wrapping_add(1);
            match self.find_work(index, tick, &mut seen) {
                Some(task) => {
                    let own = self.queues.get(index);
                    if let Some(q) = own {
                        q.polls
                            .store(q.polls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                        q.busy.store(true, Ordering::Relaxed);
                    }
                    self.run(index, task);
                    if let Some(q) = own {
                        q.busy.store(false, Ordering::Relaxed);
                    }
                }
                None => self.park(index),
            }
        }
        CURRENT.with(|c| c.set(None));
        // Queued tasks hold the pool: drop them, or neither is ever freed.
        let mut leftovers = Vec::new();
        for q in self.queues.iter().chain(std::iter::once(&self.injector)) {
            leftovers.extend(std::mem::take(&mut *q.tasks.lock()));
        }
        drop(leftovers);
    }
}

/// A node's scheduler threads; stops them when dropped.
pub(crate) struct Scheduler {
    pool: Arc<Pool>,
    /// Set when no scheduler thread could be started: processes are
    /// tasks on the node's tokio runtime instead.
    fallback: Option<Handle>,
}

impl Scheduler {
    /// Starts one scheduler thread per core, in the context of `handle`'s
    /// runtime.
    ///
    /// # Panics
    /// If no thread can be started.
    pub(crate) fn start(handle: &Handle) -> Scheduler {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .max(1);
        let pool = Arc::new(Pool {
            queues: (0..threads).map(|_| RunQueue::new()).collect(),
            injector: RunQueue::new(),
            sleep: Mutex::new(()),
            wake_up: Condvar::new(),
            sleeping: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        });
        let mut started = 0;
        // Each thread says when it runs: a thread still starting up maps
        // memory of its own (its signal stack), which a memory cap set
        // right after this returns would refuse.
        let (running, running_rx) = std::sync::mpsc::channel::<()>();
        for index in 0..threads {
            let (pool, handle, running) = (pool.clone(), handle.clone(), running.clone());
            match std::thread::Builder::new()
                .name(format!("ferrotp-sched-{index}"))
                .spawn(move || {
                    let _ = running.send(());
                    pool.work(index, handle)
                }) {
                Ok(_) => started += 1,
                Err(e) => {
                    // A thread limit or an address-space limit: run with
                    // the threads there are (their queues are the only
                    // ones used), or on tokio if there are none.
                    tracing::error!(index, error = %e, "cannot start a scheduler thread");
                    break;
                }
            }
        }
        drop(running);
        for _ in 0..started {
            if running_rx.recv_timeout(Duration::from_secs(5)).is_err() {
                break;
            }
        }
        let fallback = (started == 0).then(|| handle.clone());
        Scheduler { pool, fallback }
    }

    /// Runs `task` until it completes.
    pub(crate) fn spawn(&self, task: ProcessTask) {
        if let Some(handle) = &self.fallback {
            drop(handle.spawn(task));
            return;
        }
        let task = Arc::new(Task {
            state: AtomicU8::new(SCHEDULED),
            future: Mutex::new(Some(task)),
            pool: self.pool.clone(),
        });
        self.pool.schedule(task);
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.pool.shutdown.store(true, Ordering::SeqCst);
        let _guard = self.pool.sleep.lock();
        self.pool.wake_up.notify_all();
    }
}
