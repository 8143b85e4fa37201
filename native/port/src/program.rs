//! The port program: a runtime node behind stdin/stdout.
//!
//! ```text
//!  host (BEAM)  ──{packet,4} frames──▶  reader ──▶ node.deliver / spawn ──▶ runs the woken processes
//!  host (BEAM)  ◀──{packet,4} frames──  Outbox ◀── PortTransport ◀── processes
//! ```
//!
//! With one reading thread (the default) the reader blocks in `read(2)`
//! and runs the processes a frame woke itself, before it reads again
//! ([`ferrotp::woken`]); processes woken otherwise run on the node's
//! scheduler threads.
//!
//! The node is named as the host asks (`--node-name`); every pid of the
//! host's VM (`--peer`), and of any other node, is reached through the
//! [`PortTransport`]: the host delivers it. The
//! program ends when stdin closes (status 0), when a frame is malformed
//! (status [`BAD_FRAME`], the reason on stderr), or when its parent goes
//! away (the [`watchdog`](crate::watchdog)).
//!
//! | Erlang                                                | Rust                         |
//! |-------------------------------------------------------|------------------------------|
//! | `open_port({spawn_executable, "ferrotp"}, [{args, ["port", ..]}, {packet, 4}, binary])` | `program::run(config)` |

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use dist::busy_wait::BusyWait;
use dist::control::ControlMessage;
use etf::{Atom, Term};
use ferrotp::woken::Woken;
use ferrotp::Node;

use crate::frame::{Frame, FrameDecoder, FrameError};
use crate::input::{AsyncInput, BlockingInput};
use crate::outbox::{Outbox, PortTransport};
use crate::packet::DEFAULT_MAX_PACKET;
use crate::remote_start::PortStarter;
use crate::signals::{frame_to_incoming, Incoming, IncomingError};

/// How long the reader busy-waits for the next frame by default.
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_micros(50);

/// Exit status after a malformed frame.
pub const BAD_FRAME: i32 = 2;

/// How to run the port program.
#[derive(Debug, Clone)]
pub struct Config {
    /// This program's node name: the node of the pids of its processes.
    pub node_name: Atom,
    /// The node incarnation for those pids.
    pub creation: u32,
    /// The host VM's node name (`node()` there): its pids are reached
    /// through stdout.
    pub peer: Atom,
    /// Largest frame accepted from the host.
    pub max_packet: usize,
    /// How often the watchdog checks the parent; `None`: no watchdog.
    pub watchdog: Option<Duration>,
    /// Threads reading: 1 (the default) reads with blocking reads, as a C
    /// port does, and runs the processes a frame wakes on the reading
    /// thread; more read on a tokio runtime of that many threads. Other
    /// wake-ups (timers, messages between processes) run processes on the
    /// node's scheduler threads.
    pub threads: usize,
    /// Caps the program's address space (`RLIMIT_AS`,
    /// [`crate::limits::max_memory`]) once its threads are started.
    pub max_memory: Option<u64>,
    /// With one reading thread: how long it may busy-wait for the next
    /// frame before it sleeps, while that pays ([`dist::busy_wait`]);
    /// zero never.
    pub busy_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_name: Atom::new("ferrotp_port@localhost"),
            creation: 1,
            peer: Atom::new("nonode@nohost"),
            max_packet: DEFAULT_MAX_PACKET,
            watchdog: Some(Duration::from_millis(500)),
            threads: 1,
            max_memory: None,
            busy_wait: DEFAULT_BUSY_WAIT,
        }
    }
}

/// Why the port program stopped.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Reading stdin failed (including a packet cut short).
    #[error("reading from the host: {0}")]
    Read(#[from] io::Error),
    /// The memory cap could not be set (`setrlimit`).
    #[error("setting the memory limit: {0}")]
    Limit(io::Error),
    /// A frame that is not a control message.
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    /// A control message a port program does not take.
    #[error("unexpected frame: {0}")]
    Incoming(#[from] IncomingError),
}

impl PortError {
    /// The exit status this error ends the program with.
    pub fn exit_status(&self) -> i32 {
        match self {
            PortError::Read(_) | PortError::Limit(_) => 1,
            PortError::Frame(_) | PortError::Incoming(_) => BAD_FRAME,
        }
    }
}

/// Runs the port program on this process's stdin and stdout until stdin
/// closes or a frame is malformed.
pub fn run(config: Config) -> Result<(), PortError> {
    if let Some(every) = config.watchdog {
        crate::watchdog::start(every);
    }
    let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let stdout = File::from(io::stdout().as_fd().try_clone_to_owned()?);
    let outbox = Outbox::new(stdout);
    let runtime = build_runtime(config.threads)?;
    let _entered = runtime.enter();
    let node = Node::new(config.node_name, config.creation);
    node.start_schedulers();
    if let Some(bytes) = config.max_memory {
        // After every thread is started (the watchdog, the runtime's, the
        // node's schedulers): their stacks are new mappings, which fail
        // once the address space in use is over the cap.
        crate::limits::max_memory(bytes).map_err(PortError::Limit)?;
    }
    // The host VM, and through it every node it knows.
    let transport = Arc::new(PortTransport::new(outbox.clone()));
    node.set_transport(config.peer, transport.clone());
    node.set_default_transport(transport);
    let starter = PortStarter::new(outbox.clone());
    ferrotp::behaviours::set_remote_starter(Arc::new(starter.clone()));
    ferrotp::logger::set_logger(Arc::new(crate::logger::PortLogger::new(
        outbox.clone(),
        config.node_name,
        config.creation,
    )));
    let result = if config.threads <= 1 {
        // This thread reads with blocking reads, as a C port does, and
        // runs the processes a frame wakes before it reads again
        // (`ferrotp::woken`): a call is read, handled and answered here.
        // Processes woken otherwise (timers, each other) run on the node's
        // scheduler threads.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_inline(
                &node,
                &outbox,
                &starter,
                stdin,
                config.max_packet,
                config.busy_wait,
            )
        }))
        .unwrap_or_else(|_| Err(reader_failed("panicked")))
    } else {
        // The reader is a task on a worker thread, so the processes it
        // wakes run next on the same worker: no thread hand-off on the way
        // in.
        let reader = read_loop(node.clone(), outbox, starter, stdin, config.max_packet);
        match runtime.block_on(runtime.spawn(reader)) {
            Ok(result) => result,
            Err(join) => Err(reader_failed(&join.to_string())),
        }
    };
    drop(_entered);
    runtime.shutdown_background();
    result
}

fn reader_failed(why: &str) -> PortError {
    PortError::Read(io::Error::other(format!("the reader task failed: {why}")))
}

/// The tokio runtime behind the processes' timers and I/O (one worker
/// when the reader runs the processes itself), and the reader's with more
/// threads.
///
/// Returns once its worker threads run (a thread still starting up maps
/// memory of its own, which a memory cap set meanwhile would refuse).
fn build_runtime(threads: usize) -> io::Result<tokio::runtime::Runtime> {
    let workers = threads.max(1);
    let (running, running_rx) = std::sync::mpsc::channel::<()>();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("ferrotp-port")
        .on_thread_start(move || {
            let _ = running.send(());
        })
        .enable_all()
        .build()?;
    for _ in 0..workers {
        if running_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            break;
        }
    }
    Ok(runtime)
}

/// The reader of [`Config::threads`] 1: blocking reads on this thread;
/// the processes what it delivers wakes run here once nothing more is
/// buffered, before the next read.
fn read_inline(
    node: &Node,
    outbox: &Outbox,
    starter: &PortStarter,
    stdin: File,
    max_packet: usize,
    busy_wait: Duration,
) -> Result<(), PortError> {
    let mut input = BlockingInput::new(stdin, max_packet);
    let mut frames = FrameDecoder::default();
    let mut woken = Woken::new();
    let here = node.name();
    let mut busy_wait = BusyWait::new(busy_wait);
    loop {
        if !input.has_packet() {
            woken.run();
            let _ = busy_wait.wait(|| input.readable());
        }
        let Some(body) = input.next_packet()? else {
            return Ok(());
        };
        let incoming = frame_to_incoming(frames.decode(body)?, here)?;
        woken.collect(|| deliver(node, outbox, starter, incoming));
    }
}

async fn read_loop(
    node: Node,
    outbox: Outbox,
    starter: PortStarter,
    stdin: File,
    max_packet: usize,
) -> Result<(), PortError> {
    let mut input = AsyncInput::new(stdin, max_packet)?;
    let mut frames = FrameDecoder::default();
    let here = node.name();
    while let Some(body) = input.next_packet().await? {
        let frame = frames.decode(body)?;
        deliver(&node, &outbox, &starter, frame_to_incoming(frame, here)?);
    }
    Ok(())
}

/// Acts on one frame from the host.
fn deliver(node: &Node, outbox: &Outbox, starter: &PortStarter, incoming: Incoming) {
    match incoming {
        Incoming::Signal(signal) => node.deliver(signal),
        Incoming::Spawn(req) => crate::spawn::handle(node, outbox, req),
        Incoming::SpawnReply { req_id, result } => {
            if !starter.reply(&req_id, result) {
                tracing::warn!(?req_id, "SPAWN_REPLY for no request; ignored");
            }
        }
    }
}

/// The `SPAWN_REPLY` for a request: `result` is the new pid, or the reason
/// the start failed; `flags` 2 says the requester monitors the new process.
pub(crate) fn spawn_reply(req: &crate::signals::SpawnRequest, flags: u32, result: Term) -> Frame {
    Frame::new(
        ControlMessage::SpawnReply {
            req_id: req.req_id.clone(),
            to: req.from,
            flags,
            result,
        },
        None,
    )
}
