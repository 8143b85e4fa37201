//! The node: one runtime instance, the home of processes.
//!
//! A [`Node`] is what an Erlang node is to its processes: it names them
//! (`Pid`s carry the node name and its `creation`), routes every signal
//! (locally, or to the [`Transport`] for the destination node), holds the
//! registry of names, and makes references.
//!
//! | Erlang                                   | Rust                                   |
//! |------------------------------------------|----------------------------------------|
//! | `erl -sname a` (the node itself)         | `Node::new(Atom::new("a@host"), creation)` |
//! | `erl` (not distributed)                  | `Node::local()` (`nonode@nohost`)       |
//! | `node()`                                 | `node.name()`                          |
//! | `spawn(Fun)`                             | `node.spawn(f)`                        |
//! | `whereis(Name)`                          | `node.whereis(name)`                   |
//! | `make_ref()`                             | `node.make_ref()`                      |
//!
//! ## Which threads run the processes
//!
//! Processes run on the node's own scheduler threads, one per core, as the
//! BEAM's do (see `scheduler.rs`; an [`Executor`] installed with
//! [`Node::set_executor`] replaces them). tokio drives their timers and
//! I/O: a node created inside a tokio runtime (e.g. in `#[tokio::main]`)
//! uses that ambient runtime; a node created outside any runtime builds
//! and owns a multi-threaded one; a synchronous `main` then uses
//! [`Node::block_on`] or [`Node::block_on_process`]:
//!
//! ```
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! let answer = node
//!     .block_on_process(|mut ctx| async move {
//!         let me = ctx.pid();
//!         ctx.send(&me, Term::Int(42));
//!         ctx.receive().await.into_term().ok()
//!     })
//!     .unwrap();
//! assert_eq!(answer, Some(Term::Int(42)));
//! ```

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use etf::{Atom, Pid, Reference, Term};
use parking_lot::{Mutex, RwLock};
use tokio::runtime::{Handle, Runtime};

use crate::alias::Aliases;
use crate::executor::Executor;
use crate::exit::{self, IntoExitReason};
use crate::hash::PidKeyMap;
use crate::process::{self, Envelope, ProcShared, Process};
use crate::registry::Registry;
use crate::scheduler::Scheduler;
use crate::signal::{MonitorTarget, Signal};
use crate::transport::Transport;

const SHARDS: usize = 32;

/// Pid numbers: 15 bits of id and 13 of serial, as the BEAM's pids have.
const PID_ID_BITS: u32 = 15;
const PID_NUMBER_MASK: u32 = (1 << 28) - 1;

/// One shard of the process table: pid key -> process.
type ProcTable = PidKeyMap<Arc<ProcShared>>;

/// An envelope [`Node::push_to`] could not queue.
enum Undelivered {
    /// No process has that pid here.
    NoProcess(Envelope),
    /// The process has exited (its queue is closed).
    Exited(Envelope),
}

/// A handle to a runtime instance; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    name: Atom,
    creation: u32,
    /// Another creation whose pids also name this node's processes (see
    /// [`Node::set_spare_creation`]); `creation` when there is none.
    spare_creation: AtomicU32,
    next_pid: AtomicU32,
    next_ref: AtomicU64,
    procs: Vec<Mutex<ProcTable>>,
    registry: Registry,
    transports: RwLock<HashMap<Atom, Arc<dyn Transport>>>,
    default_transport: RwLock<Option<Arc<dyn Transport>>>,
    /// Where signals go for pids of this node that are not in the process
    /// table (the VM's own processes, for the NIF).
    local_transport: RwLock<Option<Arc<dyn Transport>>>,
    executor: RwLock<Option<Arc<dyn Executor>>>,
    /// The threads that run processes (started on the first spawn).
    scheduler: OnceLock<Scheduler>,
    remote: Mutex<HashMap<Atom, RemoteBook>>,
    aliases: Aliases,
    handle: Handle,
    runtime: Option<Runtime>,
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Links and monitors that cross to one remote node, so a lost connection
/// can fire each of them once.
#[derive(Default)]
struct RemoteBook {
    /// (local pid, remote pid)
    links: HashSet<(Pid, Pid)>,
    /// Local watchers of remote targets: ref -> (watcher, target).
    monitors: HashMap<Reference, (Pid, MonitorTarget)>,
    /// Remote watchers of local processes: ref -> (remote watcher, local target).
    monitored_by: HashMap<Reference, (Pid, Pid)>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.inner.name)
            .field("creation", &self.inner.creation)
            .finish()
    }
}

impl Node {
    /// A node named `name` (`a@host`) with incarnation `creation`.
    ///
    /// Runs its processes on the ambient tokio runtime if there is one, on
    /// a runtime of its own otherwise (see the module docs).
    ///
    /// # Panics
    /// Outside a runtime, if a tokio runtime cannot be built (no threads).
    pub fn new(name: Atom, creation: u32) -> Node {
        crate::panic::install_hook();
        let (handle, runtime) = match Handle::try_current() {
            Ok(h) => (h, None),
            Err(_) => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .thread_name("ferrotp")
                    .build()
                    .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"));
                (rt.handle().clone(), Some(rt))
            }
        };
        Node {
            inner: Arc::new(NodeInner {
                name,
                creation,
                spare_creation: AtomicU32::new(creation),
                next_pid: AtomicU32::new(1),
                next_ref: AtomicU64::new(1),
                procs: (0..SHARDS)
                    .map(|_| Mutex::new(ProcTable::default()))
                    .collect(),
                registry: Registry::default(),
                transports: RwLock::new(HashMap::new()),
                default_transport: RwLock::new(None),
                local_transport: RwLock::new(None),
                executor: RwLock::new(None),
                scheduler: OnceLock::new(),
                remote: Mutex::new(HashMap::new()),
                aliases: Aliases::default(),
                handle,
                runtime,
            }),
        }
    }

    /// A fresh, non-distributed node: `nonode@nohost`, creation 0.
    pub fn local() -> Node {
        Node::new(Atom::new("nonode@nohost"), 0)
    }

    /// The node's name (`node()`).
    pub fn name(&self) -> Atom {
        self.inner.name
    }

    /// The node's incarnation.
    pub fn creation(&self) -> u32 {
        self.inner.creation
    }

    /// The tokio runtime that drives the processes' timers and I/O (and
    /// runs the node's own tokio tasks: timers, transports).
    pub fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// Runs `fut` to completion on the node's runtime, from synchronous code.
    ///
    /// # Panics
    /// When called from inside an async context (as `Handle::block_on` does).
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match &self.inner.runtime {
            Some(rt) => rt.block_on(fut),
            None => self.inner.handle.block_on(fut),
        }
    }

    /// Spawns a process running `f` (`spawn(Fun)`); returns its pid.
    ///
    /// The body's output is its exit reason ([`IntoExitReason`]): `()` is
    /// `normal`, `Err(reason)` is `reason`; a panic is
    /// `{panic, Msg, Location}` (see [`crate::panic`]).
    pub fn spawn<F, Fut, R>(&self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoExitReason + 'static,
    {
        process::spawn_with(self, f, |_| {}, |_| {})
    }

    /// Runs `f` in a new process and returns what it returns, or the exit
    /// reason if the process died first (killed by a signal, panicked).
    ///
    /// The process exits `normal` after `f` returns; `run` returns once it
    /// has fully exited (its name released, its links and monitors fired).
    pub async fn run<F, Fut, T>(&self, f: F) -> Result<T, Term>
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
        process::spawn_with(
            self,
            move |ctx| async move {
                let value = f(ctx).await;
                let _ = tx.send(value);
            },
            |st| st.on_exit = Some(exit_tx),
            |_| {},
        );
        let value = rx.await;
        // Wait until the process is fully gone (name released, links and
        // monitors fired), so the caller sees a settled node.
        let reason = exit_rx.await.unwrap_or_else(|_| exit::noproc());
        value.map_err(|_| reason)
    }

    /// [`Node::run`] from synchronous code (see [`Node::block_on`]).
    pub fn block_on_process<F, Fut, T>(&self, f: F) -> Result<T, Term>
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.block_on(self.run(f))
    }

    /// The pid registered as `name` (`whereis(Name)`).
    pub fn whereis(&self, name: Atom) -> Option<Pid> {
        self.inner.registry.whereis(name)
    }

    /// All registered names (`registered()`).
    pub fn registered(&self) -> Vec<Atom> {
        self.inner.registry.names()
    }

    /// `true` if `pid` is a live process of this node (`is_process_alive/1`).
    pub fn is_alive(&self, pid: &Pid) -> bool {
        self.lookup(pid).is_some()
    }

    /// `is_process_alive(Pid)` for a pid of this node: a live ferrotp
    /// process, or a process the local transport stands for (the VM's own
    /// processes, in NIF mode) that it says is alive, or cannot say is not.
    pub fn is_process_alive(&self, pid: &Pid) -> bool {
        if self.is_alive(pid) {
            return true;
        }
        let local = self.inner.local_transport.read().clone();
        local.is_some_and(|t| t.is_alive(pid).unwrap_or(true))
    }

    /// Number of live processes on this node.
    pub fn process_count(&self) -> usize {
        self.inner.procs.iter().map(|s| s.lock().len()).sum()
    }

    /// A new unique reference (`make_ref()`).
    pub fn make_ref(&self) -> Reference {
        let n = self.inner.next_ref.fetch_add(1, Ordering::Relaxed);
        Reference {
            node: self.inner.name,
            creation: self.inner.creation,
            ids: vec![(n & 0x3_ffff) as u32, (n >> 18) as u32, (n >> 50) as u32],
        }
    }

    /// Sends `msg` to `to` from outside any process (`erlang:send/2` with
    /// no sender).
    pub fn send(&self, to: &Pid, msg: Term) {
        self.route(Signal::Send {
            from: None,
            to: *to,
            msg,
        });
    }

    /// Sends exit signal `reason` to `to` as if from `from` (`exit/2`).
    /// Used by code that acts for a process without being one (a transport,
    /// a test harness).
    pub fn exit(&self, from: &Pid, to: &Pid, reason: Term) {
        self.route(Signal::Exit2 {
            from: *from,
            to: *to,
            reason,
        });
    }

    /// Pids of this node's name with creation `creation` name its
    /// processes too: an executor's own pid space, for processes no peer
    /// must reach. A peer reads them as an earlier incarnation's (which
    /// it never delivers to), while this node's processes reach them as
    /// any other (NIF mode names so the processes it has no proxy for).
    pub fn set_spare_creation(&self, creation: u32) {
        self.inner.spare_creation.store(creation, Ordering::Relaxed);
    }

    /// Registers `transport` as the way to reach `remote`; replaces any previous one.
    pub fn set_transport(&self, remote: Atom, transport: Arc<dyn Transport>) {
        self.inner.transports.write().insert(remote, transport);
    }

    /// Registers `transport` for signals to pids of *this* node that are not
    /// ferrotp processes, and to names not in its registry: the host's own
    /// processes when ferrotp runs inside another runtime (the BEAM, through
    /// the NIF). Without one, such signals find no process (`noproc`).
    pub fn set_local_transport(&self, transport: Arc<dyn Transport>) {
        *self.inner.local_transport.write() = Some(transport);
    }

    /// Makes `executor` run (and name) every process spawned from now on
    /// (see [`crate::executor`]).
    pub fn set_executor(&self, executor: Arc<dyn Executor>) {
        *self.inner.executor.write() = Some(executor);
    }

    /// Starts the node's scheduler threads now instead of at the first
    /// spawn: a program that caps its own address space (`RLIMIT_AS`)
    /// starts its threads before the cap.
    pub fn start_schedulers(&self) {
        self.scheduler();
    }

    /// The node's scheduler threads, started on first use.
    pub(crate) fn scheduler(&self) -> &Scheduler {
        self.inner
            .scheduler
            .get_or_init(|| Scheduler::start(&self.inner.handle))
    }

    pub(crate) fn executor(&self) -> Option<Arc<dyn Executor>> {
        self.inner.executor.read().clone()
    }

    /// Registers `transport` for every node that has no transport of its
    /// own: a port program reaches all other nodes through its host VM, as
    /// a hidden node with a single connection would.
    pub fn set_default_transport(&self, transport: Arc<dyn Transport>) {
        *self.inner.default_transport.write() = Some(transport);
    }

    /// Removes the transport for `remote`, returning it. Does not fire
    /// links or monitors: call [`Node::connection_lost`] for that.
    pub fn remove_transport(&self, remote: Atom) -> Option<Arc<dyn Transport>> {
        self.inner.transports.write().remove(&remote)
    }

    /// Entry point for signals arriving from a transport: delivers `signal`
    /// to its local destination (or forwards it if it is for another node).
    pub fn deliver(&self, signal: Signal) {
        self.route(signal);
    }

    /// The connection to `remote` is gone: removes its transport and fires,
    /// once each, every link with a process there (exit signal
    /// `noconnection`) and every monitor of a process there
    /// (`{'DOWN', Ref, process, Object, noconnection}`); monitors held by
    /// processes there on local processes are dropped.
    pub fn connection_lost(&self, remote: Atom) {
        self.inner.transports.write().remove(&remote);
        let Some(book) = self.inner.remote.lock().remove(&remote) else {
            return;
        };
        for (local, far) in book.links {
            self.deliver_local(Signal::Exit {
                from: far,
                to: local,
                reason: exit::noconnection(),
            });
        }
        for (reference, (watcher, target)) in book.monitors {
            self.deliver_local(Signal::Down {
                from: target,
                to: watcher,
                reference,
                reason: exit::noconnection(),
            });
        }
        for (reference, (watcher, target)) in book.monitored_by {
            self.deliver_local(Signal::Demonitor {
                from: watcher,
                target: MonitorTarget::Pid(target),
                reference,
            });
        }
    }

    // ---- internal -------------------------------------------------------

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn is_local(&self, pid: &Pid) -> bool {
        pid.node == self.inner.name
    }

    pub(crate) fn alloc_pid(&self) -> Pid {
        let n = self.inner.next_pid.fetch_add(1, Ordering::Relaxed) & PID_NUMBER_MASK;
        Pid {
            node: self.inner.name,
            id: n & ((1 << PID_ID_BITS) - 1),
            serial: n >> PID_ID_BITS,
            creation: self.inner.creation,
        }
    }

    /// The table key: the whole id and serial (an executor may hand out
    /// pids wider than the node's own 15+13 bits).
    fn key(pid: &Pid) -> u64 {
        (u64::from(pid.serial) << 32) | u64::from(pid.id)
    }

    fn shard(&self, key: u64) -> &Mutex<ProcTable> {
        &self.inner.procs[key as usize % SHARDS]
    }

    pub(crate) fn insert(&self, shared: Arc<ProcShared>) {
        let key = Node::key(&shared.pid);
        self.shard(key).lock().insert(key, shared);
    }

    pub(crate) fn remove(&self, pid: &Pid) {
        let key = Node::key(pid);
        let mut table = self.shard(key).lock();
        table.remove(&key);
        // A burst of processes leaves a big, sparse table behind, whose
        // lookups miss the cache: give the memory back as they go.
        let capacity = table.capacity();
        if capacity > 1024 && table.len() < capacity / 8 {
            let keep = table.len() * 2;
            table.shrink_to(keep);
        }
        drop(table);
        self.inner.aliases.forget(pid);
    }

    pub(crate) fn aliases(&self) -> &Aliases {
        &self.inner.aliases
    }

    /// Whether `pid` names a process of this incarnation of this node (its
    /// creation, or the spare one).
    fn is_ours(&self, pid: &Pid) -> bool {
        pid.node == self.inner.name
            && (pid.creation == self.inner.creation
                || pid.creation == self.inner.spare_creation.load(Ordering::Relaxed))
    }

    pub(crate) fn lookup(&self, pid: &Pid) -> Option<Arc<ProcShared>> {
        if !self.is_ours(pid) {
            return None;
        }
        let key = Node::key(pid);
        self.shard(key).lock().get(&key).cloned()
    }

    /// Queues `envelope` for the local process `pid`; gives it back if
    /// there is no such process (`Ok(false)` never: see [`Undelivered`]).
    fn push_to(&self, pid: &Pid, envelope: Envelope) -> Result<(), Undelivered> {
        if !self.is_ours(pid) {
            return Err(Undelivered::NoProcess(envelope));
        }
        let key = Node::key(pid);
        // Pushed under the shard lock: no reference count to touch.
        let table = self.shard(key).lock();
        match table.get(&key) {
            Some(p) => p.push(envelope).map_err(Undelivered::Exited),
            None => Err(Undelivered::NoProcess(envelope)),
        }
    }

    /// Sends a signal wherever it must go: a local process, or the transport
    /// for its node (no transport: the node is unreachable).
    pub(crate) fn route(&self, signal: Signal) {
        let dest = signal.destination_node();
        if dest == self.inner.name {
            self.deliver_local(signal);
            return;
        }
        let transport = self
            .inner
            .transports
            .read()
            .get(&dest)
            .cloned()
            .or_else(|| self.inner.default_transport.read().clone());
        match transport {
            Some(t) => t.deliver(signal),
            None => self.undeliverable(signal, exit::noconnection()),
        }
    }

    /// Delivers a typed Rust message to a local process; dropped if the
    /// process is dead or remote (such values cannot cross nodes).
    pub(crate) fn send_local_boxed(&self, to: &Pid, msg: Box<dyn Any + Send>) {
        if let Err(Undelivered::NoProcess(_)) = self.push_to(to, Envelope::Local(msg)) {
            if !self.is_local(to) {
                tracing::warn!(to = ?to, "typed local message to a remote pid dropped");
            }
        }
    }

    /// A message to a name or an alias: to the local process it names, or
    /// else to the VM's own processes (NIF) through the local transport.
    fn deliver_resolved(&self, pid: Option<Pid>, signal: Signal) {
        match (pid, signal) {
            (Some(to), Signal::RegSend { from, msg, .. } | Signal::AliasSend { from, msg, .. }) => {
                self.deliver_local(Signal::Send {
                    from: Some(from),
                    to,
                    msg,
                })
            }
            (None, signal) => {
                if let Some(t) = self.local_transport() {
                    t.deliver(signal);
                }
            }
            (Some(_), _) => {}
        }
    }

    fn deliver_local(&self, signal: Signal) {
        let target = match &signal {
            Signal::RegSend { to_name, .. } => {
                let pid = self.whereis(*to_name);
                self.deliver_resolved(pid, signal);
                return;
            }
            Signal::AliasSend { alias, .. } => {
                let pid = self.inner.aliases.resolve(alias);
                self.deliver_resolved(pid, signal);
                return;
            }
            Signal::Monitor {
                from,
                target: MonitorTarget::Name { name, .. },
                reference,
            } => match self.whereis(*name) {
                Some(pid) => {
                    let resolved = Signal::Monitor {
                        from: *from,
                        target: MonitorTarget::Pid(pid),
                        reference: reference.clone(),
                    };
                    self.deliver_local(resolved);
                    return;
                }
                None => {
                    match self.local_transport() {
                        Some(t) => t.deliver(signal),
                        None => self.undeliverable(signal, exit::noproc()),
                    }
                    return;
                }
            },
            Signal::Demonitor {
                target: MonitorTarget::Name { name, .. },
                ..
            } => match self.whereis(*name) {
                Some(pid) => pid,
                None => return,
            },
            Signal::Monitor {
                target: MonitorTarget::Pid(p),
                ..
            }
            | Signal::Demonitor {
                target: MonitorTarget::Pid(p),
                ..
            } => *p,
            Signal::Send { to, .. }
            | Signal::Link { to, .. }
            | Signal::Unlink { to, .. }
            | Signal::UnlinkAck { to, .. }
            | Signal::Exit { to, .. }
            | Signal::Exit2 { to, .. }
            | Signal::Down { to, .. } => *to,
        };
        match self.push_to(&target, Envelope::Signal(signal)) {
            Ok(()) => {}
            Err(Undelivered::Exited(Envelope::Signal(s))) => self.undeliverable(s, exit::noproc()),
            Err(Undelivered::NoProcess(Envelope::Signal(s))) => match self.local_transport() {
                Some(t) => t.deliver(s),
                None => self.undeliverable(s, exit::noproc()),
            },
            Err(_) => {}
        }
    }

    fn local_transport(&self) -> Option<Arc<dyn Transport>> {
        self.inner.local_transport.read().clone()
    }

    /// A signal whose destination is gone (`noproc`) or unreachable
    /// (`noconnection`): links answer with an exit signal, monitors with a
    /// `'DOWN'`; everything else is dropped, as in OTP.
    pub(crate) fn undeliverable(&self, signal: Signal, reason: Term) {
        match signal {
            Signal::Link { from, to } => self.route(Signal::Exit {
                from: to,
                to: from,
                reason,
            }),
            Signal::Monitor {
                from,
                target,
                reference,
            } => self.route(Signal::Down {
                from: target,
                to: from,
                reference,
                reason,
            }),
            _ => {}
        }
    }

    // ---- remote book-keeping (for connection_lost) ---------------------

    pub(crate) fn book_link(&self, local: Pid, far: Pid, present: bool) {
        if self.is_local(&far) {
            return;
        }
        let mut remote = self.inner.remote.lock();
        if present {
            remote
                .entry(far.node)
                .or_default()
                .links
                .insert((local, far));
        } else if let Some(book) = remote.get_mut(&far.node) {
            book.links.remove(&(local, far));
        }
    }

    pub(crate) fn book_monitor(
        &self,
        watcher: Pid,
        target: &MonitorTarget,
        reference: &Reference,
        present: bool,
    ) {
        let node = target.node();
        if node == self.inner.name {
            return;
        }
        let mut remote = self.inner.remote.lock();
        if present {
            remote
                .entry(node)
                .or_default()
                .monitors
                .insert(reference.clone(), (watcher, target.clone()));
        } else if let Some(book) = remote.get_mut(&node) {
            book.monitors.remove(reference);
        }
    }

    pub(crate) fn book_monitored_by(
        &self,
        watcher: Pid,
        target: Pid,
        reference: &Reference,
        present: bool,
    ) {
        if self.is_local(&watcher) {
            return;
        }
        let mut remote = self.inner.remote.lock();
        if present {
            remote
                .entry(watcher.node)
                .or_default()
                .monitored_by
                .insert(reference.clone(), (watcher, target));
        } else if let Some(book) = remote.get_mut(&watcher.node) {
            book.monitored_by.remove(reference);
        }
    }
}
