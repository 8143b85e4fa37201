//! One distribution connection after the handshake: a tokio task pair that
//! reads and writes `{packet, 4}` frames, keeps the link alive with ticks,
//! and exchanges typed control messages through channels.
//!
//! | Erlang (`dist_util`, `net_kernel`)               | Rust                                      |
//! |--------------------------------------------------|-------------------------------------------|
//! | `net_ticktime` (60 s, a tick every 15 s)         | [`ConnectionConfig::ticktime`]            |
//! | `erlang:send(Pid, Msg)` to a remote pid          | `conn.send(ControlMessage::SendSender{..}, Some(msg))` |
//! | connection lost → `{nodedown, Node, Info}`       | `conn.closed().await` → [`CloseReason`]   |
//! | `erlang:disconnect_node(Node)`                   | `conn.close()`                            |
//!
//! Ticks: "a zero-length packet". A tick goes out whenever nothing else was
//! written during the last `ticktime / 4`, which also answers the peer's
//! ticks; the peer is declared dead when nothing at all arrived for
//! between `ticktime` and `1.25 × ticktime`, as in OTP (the writer looks at
//! a count of arrived packets on every tick, so the reader never reads the
//! clock). As in OTP,
//! both nodes must use the same `net_ticktime`: a peer ticking less often
//! than every `ticktime` looks dead.
//!
//! A malformed frame closes this connection only, with a logged reason; no
//! input can make the tasks panic.
//!
//! Incoming messages go to a channel ([`Connection::spawn`]) or, one task hop
//! shorter, to a [`ConnectionSink`] called from the reading task
//! ([`Connection::spawn_with`]; [`Connection::spawn_tcp_with`] is what
//! [`crate::node`] uses). Outgoing messages are encoded (atom cache,
//! fragments) by the sending thread under the connection's write lock. On
//! a TCP connection, a small message with nothing queued before it is then
//! written straight to the socket by that thread (one `sendto`, no wake-up
//! of the writing task); everything else queues on an unbounded channel,
//! in order, and the writing task flushes once per batch of whatever is
//! queued. The reading
//! task reads through a 64 KiB buffer, so a burst of small packets costs one
//! read syscall rather than two per packet, and takes packets already in
//! that buffer without going back to the scheduler.
//!
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream, est: dist::handshake::Established) {
//! use dist::connection::{Connection, ConnectionConfig};
//! let (conn, mut incoming) = Connection::spawn(stream, est, ConnectionConfig::default());
//! while let Some((control, payload)) = incoming.recv().await {
//!     println!("{control:?} {payload:?}");
//! }
//! println!("closed: {}", conn.closed().await);
//! # }
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use etf::Term;
use parking_lot::Mutex;
use tokio::io::{
    AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::control::ControlMessage;
use crate::flags::DistFlags;
use crate::framing::{Frame, Reassembler};
use crate::handshake::Established;
use crate::message::{decode, MessageEncoder};
use crate::name::NodeName;
use crate::shared_tcp::SharedTcp;

/// Tuning for one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `net_ticktime`: the peer is dead after this long without a byte; a
    /// tick goes out every quarter of it. OTP's default is 60 s.
    pub ticktime: Duration,
    /// The largest message (control + payload, after reassembly) accepted.
    pub max_message_size: usize,
    /// Outgoing messages longer than this are fragmented (peers with `FRAGMENTS`).
    pub fragment_size: usize,
    /// How many fragmented messages may be in flight from the peer at once.
    pub max_sequences: usize,
    /// How long a TCP connection's reader, having delivered everything it
    /// read, may busy-wait for more before it sleeps, while that pays
    /// ([`crate::busy_wait`]); zero never.
    pub busy_wait: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            ticktime: Duration::from_secs(60),
            max_message_size: 128 * 1024 * 1024,
            fragment_size: 64 * 1024,
            max_sequences: 1024,
            busy_wait: Duration::from_micros(50),
        }
    }
}

/// Why a connection ended: the `nodedown` reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed the TCP connection.
    PeerClosed,
    /// Nothing arrived for a whole `ticktime`: `net_tick_timeout`.
    TickTimeout,
    /// Reading or writing failed.
    Io(String),
    /// The peer sent something that is not valid distribution traffic.
    Malformed(String),
    /// We closed it ([`Connection::close`], `disconnect_node`).
    Disconnected,
    /// Another connection to the same node replaced this one.
    Replaced,
    /// The connection could not be set up at all (from [`crate::node::DistNode::enqueue`]).
    ConnectFailed(String),
    /// The code receiving our messages panicked; the connection is closed
    /// rather than left half-working.
    HandlerPanicked(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("connection_closed"),
            CloseReason::TickTimeout => f.write_str("net_tick_timeout"),
            CloseReason::Io(e) => write!(f, "io error: {e}"),
            CloseReason::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            CloseReason::HandlerPanicked(e) => write!(f, "handler panicked: {e}"),
            CloseReason::Malformed(e) => write!(f, "malformed traffic: {e}"),
            CloseReason::Disconnected => f.write_str("disconnect"),
            CloseReason::Replaced => f.write_str("replaced by a new connection"),
        }
    }
}

/// The connection is closed; the message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connection to {peer} is closed")]
pub struct Closed {
    /// The peer.
    pub peer: NodeName,
}

/// Counters of what arrived on a connection ([`Connection::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Complete messages decoded.
    pub messages_in: u64,
    /// Fragments received (first and continuation frames).
    pub fragments_in: u64,
    /// Ticks received.
    pub ticks_in: u64,
    /// Atom cache references that created or replaced an entry.
    pub new_atom_refs_in: u64,
    /// Atom cache references that reused an entry sent earlier.
    pub cached_atom_refs_in: u64,
}

#[derive(Default)]
struct Stats {
    messages_in: AtomicU64,
    fragments_in: AtomicU64,
    ticks_in: AtomicU64,
    new_atom_refs_in: AtomicU64,
    cached_atom_refs_in: AtomicU64,
}

impl Stats {
    fn count_frame(&self, frame: &Frame) {
        let header = match frame {
            Frame::Tick => {
                self.ticks_in.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Frame::FragmentCont { .. } => {
                self.fragments_in.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Frame::FragmentStart { header, .. } => {
                self.fragments_in.fetch_add(1, Ordering::Relaxed);
                header
            }
            Frame::Header { header, .. } => header,
            Frame::PassThrough(_) => return,
        };
        let new = header.refs.iter().filter(|r| r.new_text.is_some()).count() as u64;
        self.new_atom_refs_in.fetch_add(new, Ordering::Relaxed);
        self.cached_atom_refs_in
            .fetch_add(header.refs.len() as u64 - new, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            messages_in: self.messages_in.load(Ordering::Relaxed),
            fragments_in: self.fragments_in.load(Ordering::Relaxed),
            ticks_in: self.ticks_in.load(Ordering::Relaxed),
            new_atom_refs_in: self.new_atom_refs_in.load(Ordering::Relaxed),
            cached_atom_refs_in: self.cached_atom_refs_in.load(Ordering::Relaxed),
        }
    }
}

/// One incoming message: the control message and its payload, if it has one.
pub type Incoming = (ControlMessage, Option<Term>);

enum Outgoing {
    /// An encoded message (encoded by the sender, under the write lock,
    /// so the atom cache sees messages in wire order).
    Frames(Vec<Frame>),
    /// One packet without its length prefix.
    Raw(Vec<u8>),
    /// Bytes ready for the wire: what a direct write left unwritten.
    Wire(Vec<u8>),
}

/// Messages no longer than this may be written straight from the sending
/// thread; longer ones always go through the writing task.
const DIRECT_MAX: usize = 64 * 1024;

/// Everything that decides what goes on the wire next, behind one lock
/// taken by every sender and by the writing task.
///
/// Order: a message is encoded and then either written to the socket at
/// once (only when nothing is queued for the writing task, so it cannot
/// overtake an earlier message) or queued, all under the lock. The writing
/// task counts down `queued` only after the bytes are in the socket.
struct WriteState {
    encoder: MessageEncoder,
    /// Items sent to the writing task and not yet written out by it.
    queued: usize,
    /// The socket, when senders may write to it themselves (TCP
    /// connections, until the writing task ends).
    direct: Option<SharedTcp>,
    /// Reused for direct writes.
    scratch: Vec<u8>,
}

/// What the handles and the writing task share about writing.
struct Writes {
    state: Mutex<WriteState>,
    /// A direct write happened since the writing task last looked (no tick needed).
    wrote: AtomicBool,
}

/// A handle to a running connection; cheap to clone. The connection runs
/// until either side closes it, ticks stop, or bad traffic arrives.
#[derive(Clone)]
pub struct Connection {
    peer: NodeName,
    flags: DistFlags,
    peer_creation: u32,
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    writes: Arc<Writes>,
    closed: watch::Receiver<Option<CloseReason>>,
    close_tx: Arc<watch::Sender<Option<CloseReason>>>,
    stats: Arc<Stats>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("id", &self.id)
            .finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Sets the close reason once; the first reason wins.
fn close_with(tx: &watch::Sender<Option<CloseReason>>, reason: CloseReason) -> bool {
    tx.send_if_modified(|slot| {
        if slot.is_none() {
            *slot = Some(reason);
            true
        } else {
            false
        }
    })
}

/// Where a connection's reader delivers what arrives, in order, from the
/// connection's own task (so implementations must not block).
pub trait ConnectionSink: Send + 'static {
    /// One incoming message.
    fn message(&mut self, conn: &Connection, msg: ControlMessage, payload: Option<Term>);
    /// The connection closed; no more messages follow.
    fn closed(&mut self, conn: &Connection, reason: &CloseReason);
    /// Everything read so far has been delivered; the reader is about to
    /// wait for more. Work deferred by [`ConnectionSink::message`] (such
    /// as running the processes it woke) is done here.
    fn idle(&mut self, _conn: &Connection) {}
}

/// The sink behind [`Connection::spawn`]: a channel that ends when the connection does.
struct ChannelSink(Option<mpsc::UnboundedSender<Incoming>>);

impl ConnectionSink for ChannelSink {
    fn message(&mut self, _conn: &Connection, msg: ControlMessage, payload: Option<Term>) {
        if let Some(tx) = &self.0 {
            // Nobody listening is fine: the connection stays up regardless.
            let _ = tx.send((msg, payload));
        }
    }

    fn closed(&mut self, _conn: &Connection, _reason: &CloseReason) {
        self.0 = None;
    }
}

impl Connection {
    /// Starts the connection's tasks on `stream`, which has just completed
    /// the handshake `established`. Returns the handle and the stream of
    /// incoming messages (it ends when the connection closes).
    pub fn spawn<S>(
        stream: S,
        established: Established,
        config: ConnectionConfig,
    ) -> (Connection, mpsc::UnboundedReceiver<Incoming>)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let conn = Connection::spawn_with(stream, established, config, ChannelSink(Some(in_tx)));
        (conn, in_rx)
    }

    /// Like [`Connection::spawn`], delivering to `sink` straight from the
    /// reading task: one task hop less per message than the channel.
    pub fn spawn_with<S, K>(
        stream: S,
        established: Established,
        config: ConnectionConfig,
        sink: K,
    ) -> Connection
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
        K: ConnectionSink,
    {
        let (reader, writer) = tokio::io::split(stream);
        Connection::start(reader, writer, None, established, config, sink)
    }

    /// Like [`Connection::spawn_with`] on a TCP socket (what [`crate::node`]
    /// uses): a small message sent while nothing is queued is written to
    /// the socket by the sending thread itself (one `sendto`, no wake-up of
    /// the writing task); the rest goes through the writing task, in order.
    pub fn spawn_tcp_with<K>(
        stream: TcpStream,
        established: Established,
        config: ConnectionConfig,
        sink: K,
    ) -> Connection
    where
        K: ConnectionSink,
    {
        match crate::shared_tcp::split(&stream, config.busy_wait) {
            Ok((reader, socket)) => {
                drop(stream);
                let writer = socket.writer();
                Connection::start(reader, writer, Some(socket), established, config, sink)
            }
            Err(e) => {
                debug!(peer = %established.peer, error = %e, "socket not split: every write goes through the writing task");
                Connection::spawn_with(stream, established, config, sink)
            }
        }
    }

    fn start<R, W, K>(
        reader: R,
        writer: W,
        direct: Option<SharedTcp>,
        established: Established,
        config: ConnectionConfig,
        sink: K,
    ) -> Connection
    where
        R: AsyncRead + Send + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
        K: ConnectionSink,
    {
        let (tx, out_rx) = mpsc::unbounded_channel();
        let (close_tx, closed) = watch::channel(None);
        let close_tx = Arc::new(close_tx);
        let packets_in = Arc::new(AtomicU64::new(0));
        let stats = Arc::new(Stats::default());
        let writes = Arc::new(Writes {
            state: Mutex::new(WriteState {
                encoder: MessageEncoder::new(established.flags, config.fragment_size),
                queued: 0,
                direct,
                scratch: Vec::with_capacity(256),
            }),
            wrote: AtomicBool::new(false),
        });
        let conn = Connection {
            peer: established.peer,
            flags: established.flags,
            peer_creation: established.peer_creation,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tx,
            writes: writes.clone(),
            closed: closed.clone(),
            close_tx: close_tx.clone(),
            stats: stats.clone(),
        };
        tokio::spawn(read_loop(
            reader,
            conn.clone(),
            config.clone(),
            sink,
            close_tx.clone(),
            closed.clone(),
            packets_in.clone(),
            stats,
        ));
        tokio::spawn(write_loop(
            writer, conn.peer, config, out_rx, writes, close_tx, closed, packets_in,
        ));
        conn
    }

    /// Sends one control message, with its payload when it takes one
    /// ([`ControlMessage::has_payload`]). Messages are written in the order sent.
    pub fn send(&self, msg: ControlMessage, payload: Option<Term>) -> Result<(), Closed> {
        self.send_or_return(msg, payload)
            .map_err(|_| Closed { peer: self.peer })
    }

    /// Like [`Connection::send`], but a closed connection hands the message back.
    pub(crate) fn send_or_return(
        &self,
        msg: ControlMessage,
        payload: Option<Term>,
    ) -> Result<(), Box<Incoming>> {
        let mut state = self.writes.state.lock();
        if self.is_closed() {
            return Err(Box::new((msg, payload)));
        }
        let frames = state.encoder.encode(&msg, payload.as_ref());
        let out = match self.write_direct(&mut state, frames) {
            Ok(None) => return Ok(()),
            Ok(Some(out)) => out,
            Err(e) => {
                close_with(&self.close_tx, CloseReason::Io(e.to_string()));
                return Err(Box::new((msg, payload)));
            }
        };
        state.queued += 1;
        self.tx.send(out).map_err(|_| Box::new((msg, payload)))
    }

    /// Writes `frames` to the socket now if this connection allows it and
    /// nothing is queued before them. `Ok(None)`: all written; otherwise
    /// what is left for the writing task.
    fn write_direct(
        &self,
        state: &mut WriteState,
        frames: Vec<Frame>,
    ) -> std::io::Result<Option<Outgoing>> {
        let WriteState {
            queued,
            direct,
            scratch,
            ..
        } = state;
        let Some(socket) = direct.as_ref().filter(|_| *queued == 0) else {
            return Ok(Some(Outgoing::Frames(frames)));
        };
        let bodies: usize = frames.iter().map(|f| f.body().len()).sum();
        if bodies > DIRECT_MAX {
            return Ok(Some(Outgoing::Frames(frames)));
        }
        scratch.clear();
        for frame in &frames {
            let at = scratch.len();
            scratch.extend_from_slice(&[0; 4]);
            frame.encode_head(scratch);
            scratch.extend_from_slice(frame.body());
            let len = (scratch.len() - at - 4) as u32;
            if let Some(prefix) = scratch.get_mut(at..at + 4) {
                prefix.copy_from_slice(&len.to_be_bytes());
            }
        }
        let written = socket.write_now(scratch)?;
        self.writes.wrote.store(true, Ordering::Relaxed);
        Ok(match scratch.get(written..) {
            Some(rest) if !rest.is_empty() => Some(Outgoing::Wire(rest.to_vec())),
            _ => None,
        })
    }

    /// Writes raw packet bytes (without the length prefix). For tests of
    /// the peer's handling of malformed traffic.
    #[doc(hidden)]
    pub fn send_raw_packet(&self, packet: Vec<u8>) -> Result<(), Closed> {
        let mut state = self.writes.state.lock();
        state.queued += 1;
        self.tx
            .send(Outgoing::Raw(packet))
            .map_err(|_| Closed { peer: self.peer })
    }

    /// What has arrived so far.
    pub fn stats(&self) -> ConnectionStats {
        self.stats.snapshot()
    }

    /// The peer's node name.
    pub fn peer(&self) -> NodeName {
        self.peer
    }

    /// The flags in use (ours ∩ the peer's).
    pub fn flags(&self) -> DistFlags {
        self.flags
    }

    /// The peer's creation.
    pub fn peer_creation(&self) -> u32 {
        self.peer_creation
    }

    /// A number telling this connection apart from earlier ones to the same peer.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Closes the connection ([`CloseReason::Disconnected`]).
    pub fn close(&self) {
        self.close_because(CloseReason::Disconnected);
    }

    /// Closes the connection with `reason` (the first reason given wins).
    pub fn close_because(&self, reason: CloseReason) {
        close_with(&self.close_tx, reason);
    }

    /// `true` once the connection is closed or closing.
    pub fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Waits until the connection is closed and says why.
    pub async fn closed(&self) -> CloseReason {
        let mut rx = self.closed.clone();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                // Both tasks are gone without a reason: the peer went away.
                return rx.borrow().clone().unwrap_or(CloseReason::PeerClosed);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn read_loop<R: AsyncRead, K: ConnectionSink>(
    reader: R,
    conn: Connection,
    config: ConnectionConfig,
    mut sink: K,
    close_tx: Arc<watch::Sender<Option<CloseReason>>>,
    mut closed: watch::Receiver<Option<CloseReason>>,
    packets_in: Arc<AtomicU64>,
    stats: Arc<Stats>,
) {
    // One read syscall fills the buffer with many small packets; the length
    // prefix and body of each then come from memory. Bodies larger than the
    // buffer are read straight into their own allocation.
    let reader = BufReader::with_capacity(READ_BUFFER, reader);
    tokio::pin!(reader);
    let peer = conn.peer;
    let mut reassembler = Reassembler::new(config.max_message_size, config.max_sequences);
    // A single packet may carry a whole message plus a header of at most
    // 255 atoms of up to 1020 bytes each.
    let max_packet = config.max_message_size.saturating_add(300 * 1024);
    let reason = loop {
        // Packets already buffered are taken at once; only an empty buffer
        // waits on the socket (and on a close from our side).
        let packet = match buffered_packet(&mut reader, max_packet) {
            Some(p) if !closed.has_changed().unwrap_or(true) => p,
            Some(_) => break None,
            None => {
                let idle =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.idle(&conn)));
                if let Err(panic) = idle {
                    break Some(CloseReason::HandlerPanicked(panic_text(&*panic)));
                }
                tokio::select! {
                    // Fixed order: no random number per wait.
                    biased;
                    _ = closed.changed() => break None,
                    p = read_packet(&mut reader, max_packet) => p,
                }
            }
        };
        let packet = match packet {
            Ok(p) => p,
            Err(reason) => break Some(reason),
        };
        packets_in.fetch_add(1, Ordering::Relaxed);
        let frame = match Frame::decode(packet) {
            Ok(f) => f,
            Err(e) => break Some(CloseReason::Malformed(e.to_string())),
        };
        stats.count_frame(&frame);
        let message = match reassembler.push(frame) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => break Some(CloseReason::Malformed(e.to_string())),
        };
        match decode(&message) {
            Ok((msg, payload)) => {
                stats.messages_in.fetch_add(1, Ordering::Relaxed);
                let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sink.message(&conn, msg, payload)
                }));
                if let Err(panic) = delivered {
                    break Some(CloseReason::HandlerPanicked(panic_text(&*panic)));
                }
            }
            Err(e) => break Some(CloseReason::Malformed(e.to_string())),
        }
    };
    if let Some(reason) = reason {
        match &reason {
            CloseReason::Malformed(e) => {
                warn!(%peer, error = %e, "closing connection: malformed traffic")
            }
            CloseReason::HandlerPanicked(e) => {
                warn!(%peer, panic = %e, "closing connection: message handler panicked")
            }
            other => debug!(%peer, reason = %other, "read side ended"),
        }
        close_with(&close_tx, reason);
    }
    let reason = closed.borrow().clone().unwrap_or(CloseReason::PeerClosed);
    let reported =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.closed(&conn, &reason)));
    if let Err(panic) = reported {
        warn!(%peer, panic = %panic_text(&*panic), "connection close handler panicked");
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}

/// Bytes requested from the socket per read syscall.
const READ_BUFFER: usize = 64 * 1024;

/// The next packet if the read buffer holds all of it, without a syscall
/// or a trip through the scheduler.
fn buffered_packet<R: AsyncRead>(
    reader: &mut Pin<&mut BufReader<R>>,
    max: usize,
) -> Option<Result<Bytes, CloseReason>> {
    let buffered = reader.buffer();
    let (head, rest) = buffered.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*head) as usize;
    if len > max {
        // read_packet reports it.
        return None;
    }
    let body = rest.get(..len)?;
    let packet = Bytes::copy_from_slice(body);
    reader.as_mut().consume(4 + len);
    Some(Ok(packet))
}

async fn read_packet<R: AsyncRead>(
    reader: &mut Pin<&mut BufReader<R>>,
    max: usize,
) -> Result<Bytes, CloseReason> {
    let len = match reader.read_u32().await {
        Ok(n) => n as usize,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(CloseReason::PeerClosed)
        }
        Err(e) => return Err(CloseReason::Io(e.to_string())),
    };
    if len > max {
        return Err(CloseReason::Malformed(format!(
            "packet of {len} bytes exceeds the maximum of {max}"
        )));
    }
    // Grow the buffer as bytes arrive: a declared length alone reserves at most 64 KiB.
    let mut buf = Vec::with_capacity(len.min(READ_BUFFER));
    // What is already buffered comes first; a body larger than that is then
    // read straight from the socket, past the read buffer.
    let buffered = reader.buffer();
    let from_buffer = buffered.len().min(len);
    buf.extend_from_slice(buffered.get(..from_buffer).unwrap_or_default());
    reader.as_mut().consume(from_buffer);
    let rest = (len - buf.len()) as u64;
    let read = if rest as usize >= READ_BUFFER {
        reader
            .as_mut()
            .get_pin_mut()
            .take(rest)
            .read_to_end(&mut buf)
            .await
    } else {
        reader.as_mut().take(rest).read_to_end(&mut buf).await
    };
    match read {
        Ok(_) if buf.len() == len => Ok(Bytes::from(buf)),
        Ok(_) => Err(CloseReason::PeerClosed),
        Err(e) => Err(CloseReason::Io(e.to_string())),
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    peer: NodeName,
    config: ConnectionConfig,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    writes: Arc<Writes>,
    close_tx: Arc<watch::Sender<Option<CloseReason>>>,
    mut closed: watch::Receiver<Option<CloseReason>>,
    packets_in: Arc<AtomicU64>,
) {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let mut head = Vec::with_capacity(256);
    let tick_every = (config.ticktime / 4).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(tick_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick fires at once
    let mut wrote_since_tick = false;
    let mut senders_gone = false;
    // What the reader had counted at the last tick, and when it last changed.
    let mut packets_seen = 0;
    let mut heard_at = Instant::now();
    loop {
        let result = tokio::select! {
            // Fixed order: a close wins, ticks are rare, no random number per message.
            biased;
            _ = closed.changed() => break,
            _ = ticker.tick() => {
                let packets = packets_in.load(Ordering::Relaxed);
                if packets != packets_seen {
                    packets_seen = packets;
                    heard_at = Instant::now();
                }
                let silent_for = heard_at.elapsed();
                if silent_for > config.ticktime {
                    warn!(%peer, silent_ms = silent_for.as_millis() as u64, "no ticks from peer: net_tick_timeout");
                    close_with(&close_tx, CloseReason::TickTimeout);
                    break;
                }
                let direct_writes = writes.wrote.swap(false, Ordering::Relaxed);
                if std::mem::take(&mut wrote_since_tick) || direct_writes {
                    Ok(())
                } else {
                    // Counted as queued while it is written, so no direct
                    // write can land in the middle of it.
                    writes.state.lock().queued += 1;
                    let ticked = match writer.write_all(&[0, 0, 0, 0]).await {
                        Ok(()) => writer.flush().await,
                        Err(e) => Err(e),
                    };
                    writes.state.lock().queued -= 1;
                    ticked
                }
            }
            out = outgoing.recv(), if !senders_gone => match out {
                // Every handle is gone: nobody can send any more; keep ticking
                // so the peer's messages still arrive until it closes.
                None => {
                    senders_gone = true;
                    Ok(())
                }
                Some(out) => {
                    wrote_since_tick = true;
                    write_batch(&mut writer, &mut head, out, &mut outgoing, &writes).await
                }
            },
        };
        if let Err(e) = result {
            close_with(&close_tx, CloseReason::Io(e.to_string()));
            break;
        }
    }
    // No more direct writes: they would follow the shutdown.
    writes.state.lock().direct = None;
    let _ = writer.shutdown().await;
    let reason = closed.borrow().clone();
    if let Some(r) = reason {
        info!(%peer, reason = %r, "connection closed");
    }
}

/// How many queued messages are written before one flush.
const WRITE_BATCH: usize = 256;

/// Writes `first` and whatever else is already queued (up to a batch), then
/// flushes once: small messages share syscalls, large bodies bypass the
/// buffer. Once flushed, they no longer count as queued.
async fn write_batch<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    head: &mut Vec<u8>,
    first: Outgoing,
    queue: &mut mpsc::UnboundedReceiver<Outgoing>,
    writes: &Writes,
) -> std::io::Result<()> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(out) = next.take() {
        match out {
            Outgoing::Frames(frames) => {
                for frame in frames {
                    head.clear();
                    frame.encode_head(head);
                    let body = frame.body();
                    let len = u32::try_from(head.len() + body.len())
                        .map_err(|_| std::io::Error::other("packet over 4 GiB"))?;
                    writer.write_all(&len.to_be_bytes()).await?;
                    writer.write_all(head).await?;
                    writer.write_all(body).await?;
                }
            }
            Outgoing::Raw(p) => {
                let len = u32::try_from(p.len())
                    .map_err(|_| std::io::Error::other("packet over 4 GiB"))?;
                writer.write_all(&len.to_be_bytes()).await?;
                writer.write_all(&p).await?;
            }
            Outgoing::Wire(bytes) => writer.write_all(&bytes).await?,
        }
        written += 1;
        if written < WRITE_BATCH {
            next = queue.try_recv().ok();
        }
    }
    if head.capacity() > 4096 {
        // A header full of new atoms was written: do not keep its buffer.
        *head = Vec::with_capacity(256);
    }
    writer.flush().await?;
    writes.state.lock().queued -= written;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etf::{Atom, Pid};

    fn est(peer: &str) -> Established {
        Established {
            peer: NodeName::parse(peer).unwrap(),
            peer_flags: DistFlags::ours(true),
            flags: DistFlags::ours(true),
            peer_creation: 1,
        }
    }

    fn pid(node: &str, id: u32) -> Pid {
        Pid {
            node: Atom::new(node),
            id,
            serial: 0,
            creation: 1,
        }
    }

    fn config(ticktime_ms: u64) -> ConnectionConfig {
        ConnectionConfig {
            ticktime: Duration::from_millis(ticktime_ms),
            fragment_size: 1000,
            ..ConnectionConfig::default()
        }
    }

    #[tokio::test]
    async fn messages_flow_both_ways_in_order() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ca, _ia) = Connection::spawn(a, est("b@h"), config(60_000));
        let (_cb, mut ib) = Connection::spawn(b, est("a@h"), config(60_000));
        for i in 0..100 {
            let msg = ControlMessage::SendSender {
                from: pid("a@h", 1),
                to: pid("b@h", 2),
            };
            ca.send(msg, Some(Term::Int(i))).unwrap();
        }
        let big = Term::binary(vec![3u8; 100_000]);
        ca.send(
            ControlMessage::RegSend {
                from: pid("a@h", 1),
                to_name: Atom::new("x"),
            },
            Some(big.clone()),
        )
        .unwrap();
        for i in 0..100 {
            let (_, p) = ib.recv().await.unwrap();
            assert_eq!(p, Some(Term::Int(i)));
        }
        assert_eq!(ib.recv().await.unwrap().1, Some(big));
    }

    #[tokio::test]
    async fn malformed_packet_closes_the_connection_with_a_reason() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ca, _ia) = Connection::spawn(a, est("b@h"), config(60_000));
        let (cb, mut ib) = Connection::spawn(b, est("a@h"), config(60_000));
        ca.send_raw_packet(vec![131, 68, 1, 0x08]).unwrap();
        assert!(matches!(cb.closed().await, CloseReason::Malformed(_)));
        assert!(ib.recv().await.is_none());
        assert_eq!(ca.closed().await, CloseReason::PeerClosed);
    }

    #[tokio::test]
    async fn a_connection_whose_handles_are_all_dropped_still_closes() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ca, mut ia) = Connection::spawn(a, est("b@h"), config(60_000));
        let (cb, _ib) = Connection::spawn(b, est("a@h"), config(60_000));
        drop(ca);
        cb.send(ControlMessage::NodeLink, None).unwrap();
        assert_eq!(ia.recv().await.map(|m| m.0), Some(ControlMessage::NodeLink));
        cb.close();
        assert!(ia.recv().await.is_none());
    }

    /// Two TCP ends: the sending one with direct writes, the receiving one
    /// not started yet (so the sender's socket buffer fills up).
    async fn tcp_pair(ticktime_ms: u64) -> (Connection, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let sink = ChannelSink(None);
        let conn =
            Connection::spawn_tcp_with(dialed.unwrap(), est("b@h"), config(ticktime_ms), sink);
        (conn, accepted.unwrap().0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_writes_never_overtake_queued_messages() {
        let (conn, far) = tcp_pair(60_000).await;
        // Four threads at once, each mixing messages small enough to be
        // written directly with ones the writing task must take, while the
        // peer reads nothing (the socket buffer fills, direct writes stop
        // half-way). New atoms in every message: the atom cache must see
        // them in wire order too.
        const PER_THREAD: i64 = 600;
        let senders: Vec<_> = (0..4i64)
            .map(|t| {
                let conn = conn.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        let big = if i % 7 == 0 { 70_000 } else { 0 };
                        let payload = Term::Tuple(vec![
                            Term::Int(t),
                            Term::Int(i),
                            Term::atom(&format!("t{t}_{i}")),
                            Term::binary(vec![t as u8; big]),
                        ]);
                        let msg = ControlMessage::SendSender {
                            from: pid("a@h", 1),
                            to: pid("b@h", 2),
                        };
                        conn.send(msg, Some(payload)).unwrap();
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        let (_far, mut incoming) = Connection::spawn(far, est("a@h"), config(60_000));
        let mut next = [0i64; 4];
        for _ in 0..4 * PER_THREAD {
            let (_, payload) = tokio::time::timeout(Duration::from_secs(60), incoming.recv())
                .await
                .unwrap()
                .unwrap();
            let Some(Term::Tuple(items)) = payload else {
                panic!("unexpected payload {payload:?}");
            };
            let [Term::Int(t), Term::Int(i), Term::Atom(a), _] = items.as_slice() else {
                panic!("unexpected payload {items:?}");
            };
            let slot = &mut next[*t as usize];
            assert_eq!(
                *i, *slot,
                "thread {t}: message {i} arrived when {slot} was due"
            );
            assert_eq!(a.as_str(), format!("t{t}_{i}"));
            *slot += 1;
        }
        assert_eq!(next, [PER_THREAD; 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tcp_connection_still_ticks_and_closes() {
        let (conn, far) = tcp_pair(400).await;
        let (far, _incoming) = Connection::spawn(far, est("a@h"), config(400));
        let conn_alive = conn.clone();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!conn_alive.is_closed() && !far.is_closed());
        conn.close();
        assert_eq!(far.closed().await, CloseReason::PeerClosed);
    }

    struct Panicky;
    impl ConnectionSink for Panicky {
        fn message(&mut self, _: &Connection, _: ControlMessage, _: Option<Term>) {
            panic!("handler bug");
        }
        fn closed(&mut self, _: &Connection, _: &CloseReason) {}
    }

    #[tokio::test]
    async fn a_panicking_handler_closes_only_its_connection() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ca, _ia) = Connection::spawn(a, est("b@h"), config(60_000));
        let cb = Connection::spawn_with(b, est("a@h"), config(60_000), Panicky);
        ca.send(ControlMessage::NodeLink, None).unwrap();
        assert_eq!(
            cb.closed().await,
            CloseReason::HandlerPanicked("handler bug".into())
        );
        assert_eq!(ca.closed().await, CloseReason::PeerClosed);
    }

    #[tokio::test]
    async fn silent_peer_is_declared_dead_after_ticktime() {
        // The far end is a bare stream that never writes.
        let (a, _b) = tokio::io::duplex(1 << 16);
        let (ca, _ia) = Connection::spawn(a, est("b@h"), config(400));
        let reason = tokio::time::timeout(Duration::from_secs(30), ca.closed())
            .await
            .unwrap();
        assert_eq!(reason, CloseReason::TickTimeout);
    }

    #[tokio::test]
    async fn ticks_keep_an_idle_connection_alive() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ca, _ia) = Connection::spawn(a, est("b@h"), config(400));
        let (cb, _ib) = Connection::spawn(b, est("a@h"), config(400));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!ca.is_closed() && !cb.is_closed());
        cb.close();
        assert_eq!(ca.closed().await, CloseReason::PeerClosed);
        assert!(ca.send(ControlMessage::NodeLink, None).is_err());
    }
}
