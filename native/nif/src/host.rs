//! The VM as ferrotp's host: one [`Node`] named as this VM's node, whose
//! processes are named by BEAM pids and polled by BEAM processes.
//!
//! * [`NifExecutor`] gives each new Rust process a BEAM pid: the pid of the
//!   BEAM process that started it (`ferrotp_nif:start_link/3`), or one
//!   taken from a pool of idle proxies kept by `ferrotp_nif_pool` for
//!   processes that Rust code spawns (a Rust supervisor's children).
//! * [`BeamTransport`] carries signals from Rust processes to the VM's own
//!   processes: messages with `enif_send`; links, unlinks, exit signals
//!   and monitors as requests to the sender's proxy, which performs them as
//!   the BEAM process it is (`link/1`, `erlang:monitor/2`, ...).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

use etf::{Atom, Pid, Term};
use ferrotp::behaviours::RemoteStarter;
use ferrotp::direct::DirectServer;
use ferrotp::executor::{Executor, ProcessTask};
use ferrotp::start::{BoxFuture, Started};
use ferrotp::{MonitorTarget, Node, Process, Signal, Transport};
use parking_lot::Mutex;
use rustler::{Encoder, ResourceArc};

use crate::beam_env;
use crate::convert::to_beam;
use crate::process::RustProcess;

/// Proxies kept idle for Rust-spawned processes.
const POOL_LOW: usize = 32;

static NODE: OnceLock<Node> = OnceLock::new();

/// Processes spawned but not yet taken by their proxy (by pid).
static NEWBORN: OnceLock<Mutex<HashMap<Pid, ResourceArc<RustProcess>>>> = OnceLock::new();

static POOL: Mutex<Vec<Pid>> = Mutex::new(Vec::new());
static POOL_KEEPER: Mutex<Option<Pid>> = Mutex::new(None);
static REFILL_ASKED: AtomicBool = AtomicBool::new(false);

/// Pids handed out for processes spawned when no idle proxy was left.
static UNPROXIED: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// The pid the next spawn on this thread takes (set by the start NIF).
    static NEXT_PID: Cell<Option<Pid>> = const { Cell::new(None) };
    /// The proxy the last `pool_take` gave refills the pool as it starts.
    static REFILL_ON_ADOPT: Cell<bool> = const { Cell::new(false) };
}

/// The VM's node, created on first use from a pid of this VM (its node name
/// and creation).
pub fn node(sample: &Pid) -> &'static Node {
    NODE.get_or_init(|| {
        let node = Node::new(sample.node, sample.creation);
        node.set_spare_creation(unproxied_creation(sample.creation));
        node.set_executor(std::sync::Arc::new(NifExecutor));
        node.set_local_transport(std::sync::Arc::new(BeamTransport));
        ferrotp::behaviours::set_remote_starter(std::sync::Arc::new(BeamStarter));
        node
    })
}

/// Puts this thread (a BEAM scheduler) inside the node's tokio runtime for
/// the rest of its life, so Rust callbacks run here can start timers and
/// spawn tasks: entering once instead of around every callback. Later
/// enters (and their guards) nest inside it.
pub fn enter_runtime() {
    if beam_env::in_runtime(false) {
        return;
    }
    if let Some(node) = existing_node() {
        std::mem::forget(node.handle().enter());
        beam_env::in_runtime(true);
    }
}

/// The node, if a process was ever started.
pub fn existing_node() -> Option<&'static Node> {
    NODE.get()
}

fn newborn() -> &'static Mutex<HashMap<Pid, ResourceArc<RustProcess>>> {
    NEWBORN.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Runs `f` with spawns on this thread taking `pid` first.
pub fn with_next_pid<R>(pid: Pid, f: impl FnOnce() -> R) -> R {
    let previous = NEXT_PID.with(|c| c.replace(Some(pid)));
    let out = f();
    NEXT_PID.with(|c| c.set(previous));
    out
}

/// Takes the process spawned for proxy `pid`.
pub fn take_newborn(pid: &Pid) -> Option<ResourceArc<RustProcess>> {
    newborn().lock().remove(pid)
}

/// Adds idle proxies to the pool; `keeper` refills it when asked.
pub fn pool_add(keeper: Pid, pids: Vec<Pid>) {
    *POOL_KEEPER.lock() = Some(keeper);
    POOL.lock().extend(pids);
    REFILL_ASKED.store(false, Ordering::Release);
}

/// The process that keeps the pool (`ferrotp_nif_pool`), once it has
/// filled it.
pub fn pool_keeper() -> Option<Pid> {
    *POOL_KEEPER.lock()
}

/// Idle proxies in the pool.
pub fn pool_len() -> usize {
    POOL.lock().len()
}

fn pool_take() -> Option<Pid> {
    let (pid, left) = {
        let mut pool = POOL.lock();
        let pid = pool.pop();
        (pid, pool.len())
    };
    if left < POOL_LOW && !REFILL_ASKED.swap(true, Ordering::AcqRel) {
        match pid {
            // The proxy taken refills the pool before it runs its process
            // (`'$ferrotp_adopt_refill'`): the processes that use proxies
            // make them, so a busy VM that leaves the keeper waiting
            // cannot drain the pool.
            Some(_) => REFILL_ON_ADOPT.with(|c| c.set(true)),
            None => {
                if let Some(keeper) = *POOL_KEEPER.lock() {
                    beam_env::send(&keeper, &Term::atom("refill"));
                }
            }
        }
    }
    pid
}

/// A pid for a process spawned with no idle proxy left, which no BEAM
/// process has or will have: this VM's node name with another creation
/// (to the VM, a pid of an earlier incarnation of this node, which it
/// never delivers to), and a serial the VM's own pids do not reach (so no
/// proxy's pid is the same in the runtime's process table).
fn unproxied_pid(node: &Node) -> Pid {
    let n = UNPROXIED.fetch_add(1, Ordering::Relaxed);
    Pid {
        node: node.name(),
        id: n & 0x7fff,
        serial: 0x8000_0000 | (n >> 15),
        creation: unproxied_creation(node.creation()),
    }
}

/// The creation of the pids of processes with no proxy: not the VM's, and
/// the node's spare one (so Rust processes reach them).
fn unproxied_creation(creation: u32) -> u32 {
    creation ^ 1
}

/// Names new processes with BEAM pids and hands their tasks to proxies.
pub struct NifExecutor;

impl Executor for NifExecutor {
    fn alloc_pid(&self) -> Option<Pid> {
        let pid = NEXT_PID.with(|c| c.take()).or_else(pool_take);
        LAST_ALLOC_PROXIED.with(|c| c.set(pid.is_some()));
        pid.or_else(|| existing_node().map(unproxied_pid))
    }

    fn spawn(&self, pid: Pid, task: ProcessTask) {
        if !LAST_ALLOC_PROXIED.with(|c| c.replace(false)) {
            // The pool ran dry within one poll (more spawns than idle
            // proxies, with no await in between): this process has no BEAM
            // proxy, so it runs on the runtime's threads. Rust processes
            // reach it; BEAM code cannot (its pid is the node's own).
            tracing::error!(pid = ?pid, "ferrotp_nif: no idle proxy left; process runs unproxied");
            if let Some(node) = existing_node() {
                node.handle().spawn(task);
            }
            return;
        }
        let process = ResourceArc::new(RustProcess::new(pid, task));
        newborn().lock().insert(pid, process);
        // A pooled proxy is waiting for its process; the start NIF takes
        // its own directly (it knows the pid).
        if !is_starting(&pid) {
            let adopt = match REFILL_ON_ADOPT.with(|c| c.replace(false)) {
                true => "$ferrotp_adopt_refill",
                false => "$ferrotp_adopt",
            };
            beam_env::send(&pid, &Term::atom(adopt));
        }
    }

    fn direct_server(&self, pid: Pid, server: std::sync::Arc<dyn DirectServer>) -> bool {
        crate::process::offer_direct(pid, server)
    }
}

thread_local! {
    /// Whether the pid `alloc_pid` just gave is a proxy's.
    static LAST_ALLOC_PROXIED: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    static STARTING: Cell<Option<Pid>> = const { Cell::new(None) };
}

fn is_starting(pid: &Pid) -> bool {
    STARTING.with(|c| c.get()) == Some(*pid)
}

/// Runs `f` (a behaviour's start) for the proxy `pid`, which takes the first
/// process spawned.
pub fn starting<R>(pid: Pid, f: impl FnOnce() -> R) -> R {
    let previous = STARTING.with(|c| c.replace(Some(pid)));
    let out = with_next_pid(pid, f);
    STARTING.with(|c| c.set(previous));
    out
}

/// Signals from Rust processes to the VM's processes (see the module docs).
pub struct BeamTransport;

impl Transport for BeamTransport {
    /// Asked in a NIF call (a Rust supervisor's `count_children`, run by
    /// its proxy): `enif_is_process_alive`. Elsewhere the VM cannot be asked.
    fn is_alive(&self, pid: &Pid) -> Option<bool> {
        beam_env::with_caller_env(|env| {
            let env = env?;
            let local: rustler::LocalPid = crate::convert::pid_to_beam(env, pid).decode().ok()?;
            Some(env.is_process_alive(local))
        })
    }

    fn deliver(&self, signal: Signal) {
        match signal {
            // A reply to an `[alias | Ref]` call tag goes to the alias
            // (`gen:reply/2`); a NIF cannot send to an alias, the proxy does.
            Signal::Send {
                from: Some(from),
                msg,
                ..
            } if crate::convert::is_alias_reply(&msg) => request(&from, "reply", vec![msg]),
            Signal::Send { to, msg, .. } => beam_env::send(&to, &msg),
            Signal::RegSend { to_name, msg, .. } => send_to_name(to_name, &msg),
            // `Alias ! Msg` has no NIF call: the sender's proxy sends it.
            Signal::AliasSend { from, alias, msg } => {
                request(&from, "send", vec![Term::Reference(alias), msg])
            }
            Signal::Link { from, to } => request(&from, "link", vec![Term::Pid(to)]),
            Signal::Unlink { from, to, .. } => request(&from, "unlink", vec![Term::Pid(to)]),
            Signal::Exit2 { from, to, reason } => {
                request(&from, "exit", vec![Term::Pid(to), reason])
            }
            Signal::Monitor {
                from,
                target,
                reference,
            } => {
                let target = match target {
                    MonitorTarget::Pid(p) => Term::Pid(p),
                    MonitorTarget::Name { name, node } => {
                        Term::Tuple(vec![Term::Atom(name), Term::Atom(node)])
                    }
                };
                request(&from, "monitor", vec![target, Term::Reference(reference)])
            }
            Signal::Demonitor {
                from, reference, ..
            } => request(&from, "demonitor", vec![Term::Reference(reference)]),
            // A link's exit signal when a Rust process dies: its proxy
            // exits with the same reason right after, and the BEAM link
            // carries it. BEAM processes never monitor through the runtime
            // (they monitor the proxy), so no `Down` is for them.
            Signal::Exit { .. } | Signal::UnlinkAck { .. } | Signal::Down { .. } => {}
        }
    }
}

/// `{'$ferrotp', Key, Op, Args...}` to the proxy of Rust process `proxy`:
/// what the proxy is to do as the process it is. `Key` ([`request_key`])
/// tells these from a message of the same shape that anyone could send.
fn request(proxy: &Pid, op: &str, args: Vec<Term>) {
    let mut items = vec![
        Term::atom("$ferrotp"),
        Term::Int(request_key()),
        Term::atom(op),
    ];
    items.extend(args);
    beam_env::send(proxy, &Term::Tuple(items));
}

/// This VM's request key: random, drawn once (a small integer, so it costs
/// the messages nothing to carry). A proxy acts only on requests that
/// carry it (`ferrotp_nif:request_key/0`); a message that merely looks
/// like one (`Pid ! {'$ferrotp', exit, Victim, kill}`) is the Rust
/// process's, as it would be a gen_server's.
pub fn request_key() -> i64 {
    static KEY: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // SipHash keyed from the OS's random source (std's RandomState).
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        (h.finish() >> 6) as i64
    })
}

fn send_to_name(name: Atom, msg: &Term) {
    beam_env::with_caller_env(|env| {
        if let Some(env) = env {
            let atom = to_beam(env, &Term::Atom(name));
            if let Some(pid) = env.whereis_pid(atom) {
                let _ = env.send(&pid, to_beam(env, msg));
            }
        }
    });
}

/// `ok`, for NIFs that answer it.
pub fn ok<'a>(env: rustler::Env<'a>) -> rustler::Term<'a> {
    rustler::types::atom::ok().encode(env)
}

/// Starts child specs whose module is Erlang code (`{my_server,
/// start_link, Args}` under a Rust supervisor): the supervisor's proxy runs
/// `catch apply(M, F, Args)` itself, so the child is linked to the
/// supervisor's pid exactly as under an OTP supervisor, and hands the
/// result back as a message.
pub struct BeamStarter;

impl RemoteStarter for BeamStarter {
    fn start_link<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>> {
        Box::pin(async move { Started::from_term(&self.apply(ctx, module, function, args).await?) })
    }

    /// The process's proxy runs `catch apply(M, F, Args)` and sends the
    /// value back as `{'$ferrotp_applied', Tag, Value}`.
    fn apply<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Term, Term>> {
        Box::pin(async move {
            let tag = Term::Reference(ctx.make_ref());
            let mfa = Term::Tuple(vec![
                Term::Atom(module),
                Term::Atom(function),
                Term::List(args),
            ]);
            request(&ctx.pid(), "apply", vec![mfa, tag.clone()]);
            ferrotp::behaviours::receive_applied(ctx, &tag, None)
                .await
                .ok_or(Term::atom("badarg"))
        })
    }
}
