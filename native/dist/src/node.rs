//! The distribution node manager: registers with EPMD, accepts and makes
//! connections, keeps one connection per peer node, and hands every incoming
//! control message to a [`DistHandler`].
//!
//! | Erlang (`net_kernel`)                      | Rust                                              |
//! |--------------------------------------------|---------------------------------------------------|
//! | `erl -sname rust -hidden -setcookie c`     | `DistNode::start(NodeConfig::new(name).cookie(c), handler)` |
//! | `net_kernel:connect_node(Node)`            | `node.connect(peer).await?`                       |
//! | `erlang:nodes(hidden)` / `nodes(connected)`| `node.nodes()`                                    |
//! | `erlang:disconnect_node(Node)`             | `node.disconnect(peer)`                           |
//! | `net_kernel:monitor_nodes(true)`           | [`DistHandler::on_nodeup`] / [`DistHandler::on_nodedown`] |
//! | `net_adm:ping(Node)` answered by `net_kernel` | built in: `{is_auth, _}` calls get `yes`       |
//!
//! Simultaneous connects are settled as OTP settles them: when both nodes
//! dial each other at once, the connection started by the node with the
//! greater name survives (`ok_simultaneous` / `nok`).
//!
//! Every connection, disconnection and refused handshake is logged (tracing)
//! with the peer and the reason.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dist::node::NodeError> {
//! use std::sync::Arc;
//! use dist::control::ControlMessage;
//! use dist::node::{DistHandler, DistNode, NodeConfig};
//! use dist::{Cookie, NodeName};
//!
//! struct Print;
//! impl DistHandler for Print {
//!     fn on_control(&self, peer: NodeName, msg: ControlMessage, payload: Option<etf::Term>) {
//!         println!("{peer}: {msg:?} {payload:?}");
//!     }
//! }
//!
//! let name = NodeName::parse("rust@localhost").unwrap();
//! let node = DistNode::start(NodeConfig::new(name).cookie(Cookie::new("secret")), Arc::new(Print)).await?;
//! let peer = NodeName::parse("erl@localhost").unwrap();
//! node.send(peer, ControlMessage::RegSend { from: node.net_kernel_pid(), to_name: etf::Atom::new("logger") },
//!           Some(etf::Term::atom("hello"))).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use etf::{Atom, Pid, Term};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::connection::{
    CloseReason, Closed, Connection, ConnectionConfig, ConnectionSink, Incoming,
};
use crate::control::{ControlMessage, ProcRef};
use crate::cookie::{Cookie, CookieError};
use crate::epmd::{self, EpmdClient, EpmdError, NodeEntry, Registration};
use crate::epmd_server::{self, EpmdServer};
use crate::flags::DistFlags;
use crate::handshake::{self, HandshakeConfig, HandshakeError, Hello, Status};
use crate::name::NodeName;

/// Where the runtime plugs in: called from the connection tasks, so
/// implementations must not block (hand the signal to a mailbox and return).
pub trait DistHandler: Send + Sync + 'static {
    /// A control message (and its payload) arrived from `peer`. Messages
    /// from one peer arrive in order.
    fn on_control(&self, peer: NodeName, msg: ControlMessage, payload: Option<Term>);

    /// A connection to `peer` is up (`{nodeup, Node}`).
    fn on_nodeup(&self, peer: NodeName) {
        let _ = peer;
    }

    /// The connection to `peer` is gone (`{nodedown, Node}`): every link and
    /// monitor across it now fires with reason `noconnection`.
    fn on_nodedown(&self, peer: NodeName, reason: &CloseReason) {
        let _ = (peer, reason);
    }
}

/// How the node finds EPMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpmdMode {
    /// Use the EPMD on `127.0.0.1:epmd_port`; if none answers, start the
    /// system's `epmd -daemon`, and if that is not installed, an embedded one.
    Auto,
    /// Use the EPMD on `127.0.0.1:epmd_port`; fail if none answers.
    External,
    /// Run an embedded EPMD on `127.0.0.1:epmd_port` (see [`crate::epmd_server`]).
    Embedded,
    /// Do not register (peers cannot find us; we can still connect out).
    Disabled,
}

/// How to start a node. Build with [`NodeConfig::new`] and the setters.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Our full node name.
    pub name: NodeName,
    /// The cookie; `None` reads `~/.erlang.cookie` as `erl` does.
    pub cookie: Option<Cookie>,
    /// A hidden node (`erl -hidden`): not part of the peers' `nodes()`. Default `true`.
    pub hidden: bool,
    /// Where to accept connections (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// How to find EPMD (default [`EpmdMode::Auto`]).
    pub epmd: EpmdMode,
    /// EPMD's port, for registering and for finding peers (default:
    /// `ERL_EPMD_PORT` or 4369).
    pub epmd_port: u16,
    /// Per-connection tuning: ticktime, maximum message size, fragment size.
    pub connection: ConnectionConfig,
    /// How long a handshake (or a whole `connect`) may take (`net_setuptime`, 7 s in OTP).
    pub setup_timeout: Duration,
}

impl NodeConfig {
    /// Defaults for `name`: hidden, cookie from `~/.erlang.cookie`, listening
    /// on `127.0.0.1:0`, EPMD found automatically, ticktime 60 s.
    pub fn new(name: NodeName) -> NodeConfig {
        NodeConfig {
            name,
            cookie: None,
            hidden: true,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            epmd: EpmdMode::Auto,
            epmd_port: epmd::epmd_port(),
            connection: ConnectionConfig::default(),
            setup_timeout: Duration::from_secs(7),
        }
    }

    /// Sets the cookie (`-setcookie`).
    pub fn cookie(mut self, cookie: Cookie) -> NodeConfig {
        self.cookie = Some(cookie);
        self
    }

    /// Sets whether the node is hidden (`-hidden`; the default).
    pub fn hidden(mut self, hidden: bool) -> NodeConfig {
        self.hidden = hidden;
        self
    }

    /// Sets the address to accept connections on.
    pub fn listen(mut self, addr: SocketAddr) -> NodeConfig {
        self.listen = addr;
        self
    }

    /// Sets the EPMD port (`ERL_EPMD_PORT`).
    pub fn epmd_port(mut self, port: u16) -> NodeConfig {
        self.epmd_port = port;
        self
    }

    /// Sets how EPMD is found.
    pub fn epmd(mut self, mode: EpmdMode) -> NodeConfig {
        self.epmd = mode;
        self
    }

    /// Sets `net_ticktime`.
    pub fn ticktime(mut self, ticktime: Duration) -> NodeConfig {
        self.connection.ticktime = ticktime;
        self
    }

    /// Sets the largest incoming message accepted.
    pub fn max_message_size(mut self, bytes: usize) -> NodeConfig {
        self.connection.max_message_size = bytes;
        self
    }
}

/// What can go wrong starting a node or reaching a peer.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Listening or connecting failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// EPMD failed.
    #[error(transparent)]
    Epmd(#[from] EpmdError),
    /// The cookie could not be read.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// The handshake failed.
    #[error("handshake with {peer} failed: {source}")]
    Handshake {
        /// The peer.
        peer: NodeName,
        /// Why.
        source: HandshakeError,
    },
    /// The peer is not registered with its host's EPMD.
    #[error("{0} is not registered with epmd")]
    NotRegistered(NodeName),
    /// Setting up the connection took too long.
    #[error("connecting to {0} timed out")]
    Timeout(NodeName),
    /// Short and long names do not mix.
    #[error("cannot connect {ours} to {peer}: short and long node names do not mix")]
    NameMix {
        /// Our name.
        ours: NodeName,
        /// The peer's.
        peer: NodeName,
    },
    /// The connection closed before the message could be queued.
    #[error(transparent)]
    Closed(#[from] Closed),
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
}

enum Peer {
    /// A handshake is running: ours (`outgoing`) or the peer's.
    Pending {
        attempt: u64,
        outgoing: bool,
    },
    Up(Connection),
}

struct Inner {
    name: NodeName,
    creation: u32,
    cookie: Cookie,
    flags: DistFlags,
    local_addr: SocketAddr,
    epmd_port: u16,
    connection: ConnectionConfig,
    setup_timeout: Duration,
    handler: Arc<dyn DistHandler>,
    peers: Mutex<HashMap<NodeName, Peer>>,
    changed: watch::Sender<u64>,
    next_attempt: AtomicU64,
    stop: watch::Sender<bool>,
    registration: Mutex<Option<Registration>>,
    epmd_server: Mutex<Option<EpmdServer>>,
    /// Messages for peers being connected by [`DistNode::enqueue`], in send order.
    outbox: Mutex<HashMap<NodeName, Vec<Incoming>>>,
    /// The tokio runtime the node was started on: `enqueue` may be called from anywhere.
    runtime: tokio::runtime::Handle,
}

/// A running distribution node; cheap to clone. Stop it with [`DistNode::shutdown`].
#[derive(Clone)]
pub struct DistNode {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DistNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistNode")
            .field("name", &self.inner.name)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler panic while the lock was held must not take the node down.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

const NET_KERNEL: &str = "net_kernel";

impl DistNode {
    /// Starts the node: listens, registers with EPMD, and accepts connections.
    pub async fn start(
        config: NodeConfig,
        handler: Arc<dyn DistHandler>,
    ) -> Result<DistNode, NodeError> {
        let cookie = match config.cookie.clone() {
            Some(c) => c,
            None => Cookie::from_home()?,
        };
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let (registration, server) = register(&config, local_addr.port()).await?;
        let creation = registration
            .as_ref()
            .map(Registration::creation)
            .unwrap_or_else(|| rand::random::<u32>() | 1);
        info!(node = %config.name, %local_addr, creation, "distribution started");
        let (stop, stopped) = watch::channel(false);
        let inner = Arc::new(Inner {
            name: config.name,
            creation,
            cookie,
            flags: DistFlags::ours(config.hidden),
            local_addr,
            epmd_port: config.epmd_port,
            connection: config.connection,
            setup_timeout: config.setup_timeout,
            handler,
            peers: Mutex::new(HashMap::new()),
            changed: watch::channel(0).0,
            next_attempt: AtomicU64::new(1),
            stop,
            registration: Mutex::new(registration),
            epmd_server: Mutex::new(server),
            outbox: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
        });
        let node = DistNode { inner };
        tokio::spawn(node.clone().accept_loop(listener, stopped));
        Ok(node)
    }

    /// Our node name (`node()`).
    pub fn name(&self) -> NodeName {
        self.inner.name
    }

    /// Our creation: the incarnation number to put in our pids, ports and references.
    pub fn creation(&self) -> u32 {
        self.inner.creation
    }

    /// Where we accept connections.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The flags we advertise.
    pub fn flags(&self) -> DistFlags {
        self.inner.flags
    }

    /// The pid our built-in `net_kernel` responder answers from: `<0.0.0>` on this node.
    pub fn net_kernel_pid(&self) -> Pid {
        Pid {
            node: self.inner.name.atom(),
            id: 0,
            serial: 0,
            creation: self.inner.creation,
        }
    }

    /// The nodes we have a live connection to (`nodes(connected)`).
    pub fn nodes(&self) -> Vec<NodeName> {
        let mut v: Vec<NodeName> = lock(&self.inner.peers)
            .iter()
            .filter_map(|(n, p)| match p {
                Peer::Up(c) if !c.is_closed() => Some(*n),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// The live connection to `peer`, if any.
    pub fn connection(&self, peer: NodeName) -> Option<Connection> {
        match lock(&self.inner.peers).get(&peer) {
            Some(Peer::Up(c)) if !c.is_closed() => Some(c.clone()),
            _ => None,
        }
    }

    /// Sends a control message to `peer`, connecting first if needed (as
    /// sending to a remote pid auto-connects in Erlang).
    pub async fn send(
        &self,
        peer: NodeName,
        msg: ControlMessage,
        payload: Option<Term>,
    ) -> Result<(), NodeError> {
        let conn = self.connect(peer).await?;
        conn.send(msg, payload)?;
        Ok(())
    }

    /// Sends without waiting, connecting in the background when needed —
    /// what a runtime's synchronous `Transport::deliver` wants. Messages to
    /// one peer leave in the order they were enqueued, before and after the
    /// connection comes up. If connecting fails the queued messages are
    /// dropped and the handler sees `on_nodedown(peer, ConnectFailed(..))`,
    /// so links and monitors towards that node fire `noconnection`, as when
    /// an Erlang auto-connect fails. Callable from any thread.
    pub fn enqueue(&self, peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        let mut outbox = lock(&self.inner.outbox);
        if let Some(queue) = outbox.get_mut(&peer) {
            queue.push((msg, payload));
            return;
        }
        // Under the outbox lock, so this cannot overtake a queue being drained.
        let sent = match lock(&self.inner.peers).get(&peer) {
            Some(Peer::Up(conn)) => conn.send_or_return(msg, payload),
            _ => Err(Box::new((msg, payload))),
        };
        let (msg, payload) = match sent {
            Ok(()) => return,
            Err(back) => *back,
        };
        outbox.insert(peer, vec![(msg, payload)]);
        drop(outbox);
        let node = self.clone();
        self.inner.runtime.spawn(async move {
            let result = node.connect(peer).await;
            // Hold the outbox lock while draining: new messages wait behind these.
            let mut outbox = lock(&node.inner.outbox);
            let queued = outbox.remove(&peer).unwrap_or_default();
            match result {
                Ok(conn) => {
                    for (msg, payload) in queued {
                        if conn.send(msg, payload).is_err() {
                            break;
                        }
                    }
                }
                Err(e) => {
                    drop(outbox);
                    warn!(%peer, error = %e, dropped = queued.len(), "auto-connect failed");
                    node.nodedown(peer, &CloseReason::ConnectFailed(e.to_string()));
                }
            }
        });
    }

    /// Closes the connection to `peer` (`erlang:disconnect_node/1`); `true`
    /// if there was one. The handler sees `on_nodedown(peer, Disconnected)`.
    pub fn disconnect(&self, peer: NodeName) -> bool {
        match self.connection(peer) {
            Some(c) => {
                c.close();
                true
            }
            None => false,
        }
    }

    /// Stops accepting, closes every connection and unregisters from EPMD.
    pub fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let conns: Vec<Connection> = lock(&self.inner.peers)
            .values()
            .filter_map(|p| match p {
                Peer::Up(c) => Some(c.clone()),
                Peer::Pending { .. } => None,
            })
            .collect();
        for c in conns {
            c.close();
        }
        lock(&self.inner.registration).take();
        lock(&self.inner.epmd_server).take();
        info!(node = %self.inner.name, "distribution stopped");
    }

    fn bump(&self) {
        self.inner.changed.send_modify(|n| *n += 1);
    }

    /// Connects to `peer` (`net_kernel:connect_node/1`), or returns the
    /// existing connection. Waits for a handshake already under way.
    pub async fn connect(&self, peer: NodeName) -> Result<Connection, NodeError> {
        if *self.inner.stop.borrow() {
            return Err(NodeError::ShuttingDown);
        }
        if peer.is_long() != self.inner.name.is_long() {
            return Err(NodeError::NameMix {
                ours: self.inner.name,
                peer,
            });
        }
        let deadline = tokio::time::Instant::now() + self.inner.setup_timeout;
        let attempt = match self.claim_or_wait(peer, deadline).await? {
            Ok(conn) => return Ok(conn),
            Err(attempt) => attempt,
        };
        let result = tokio::time::timeout_at(deadline, self.dial(peer)).await;
        match result {
            Ok(Ok((stream, est))) => Ok(self.register_connection(stream, est)),
            Ok(Err(NodeError::Handshake {
                source: HandshakeError::Refused(Status::Nok | Status::Alive),
                ..
            })) => {
                // Simultaneous connect that the peer's attempt wins. Its
                // name may not have reached us yet: keep our claim so we
                // answer it `ok_simultaneous`, and wait for its connection.
                debug!(%peer, "simultaneous connect: waiting for the peer's connection");
                let up = self.wait_up(peer, deadline).await;
                self.clear_pending(peer, attempt);
                up.ok_or(NodeError::Timeout(peer))
            }
            Ok(Err(e)) => {
                self.clear_pending(peer, attempt);
                warn!(%peer, error = %e, "connection attempt failed");
                Err(e)
            }
            Err(_) => {
                self.clear_pending(peer, attempt);
                warn!(%peer, "connection attempt timed out");
                Err(NodeError::Timeout(peer))
            }
        }
    }

    /// Returns the live connection, or claims the right to dial (our attempt
    /// id), waiting while another handshake with `peer` is under way.
    async fn claim_or_wait(
        &self,
        peer: NodeName,
        deadline: tokio::time::Instant,
    ) -> Result<Result<Connection, u64>, NodeError> {
        let mut changed = self.inner.changed.subscribe();
        loop {
            {
                let mut peers = lock(&self.inner.peers);
                match peers.get(&peer) {
                    Some(Peer::Up(c)) if !c.is_closed() => return Ok(Ok(c.clone())),
                    Some(Peer::Pending { .. }) => {}
                    _ => {
                        let attempt = self.inner.next_attempt.fetch_add(1, Ordering::Relaxed);
                        peers.insert(
                            peer,
                            Peer::Pending {
                                attempt,
                                outgoing: true,
                            },
                        );
                        return Ok(Err(attempt));
                    }
                }
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(NodeError::ShuttingDown),
                Err(_) => return Err(NodeError::Timeout(peer)),
            }
        }
    }

    /// Waits until `peer` is up; `None` at the deadline or when no
    /// handshake with it is under way any more.
    async fn wait_up(&self, peer: NodeName, deadline: tokio::time::Instant) -> Option<Connection> {
        let mut changed = self.inner.changed.subscribe();
        loop {
            match lock(&self.inner.peers).get(&peer) {
                Some(Peer::Up(c)) if !c.is_closed() => return Some(c.clone()),
                Some(Peer::Pending { .. }) => {}
                _ => return None,
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }

    fn clear_pending(&self, peer: NodeName, attempt: u64) {
        let mut peers = lock(&self.inner.peers);
        if matches!(peers.get(&peer), Some(Peer::Pending { attempt: a, .. }) if *a == attempt) {
            peers.remove(&peer);
        }
        drop(peers);
        self.bump();
    }

    fn handshake_config(&self) -> HandshakeConfig {
        HandshakeConfig {
            name: self.inner.name,
            flags: self.inner.flags,
            creation: self.inner.creation,
            cookie: self.inner.cookie.clone(),
        }
    }

    async fn dial(&self, peer: NodeName) -> Result<(TcpStream, handshake::Established), NodeError> {
        let epmd = EpmdClient::for_host_port(peer.host(), self.inner.epmd_port).await?;
        let entry = epmd
            .port_please(peer.alive())
            .await?
            .ok_or(NodeError::NotRegistered(peer))?;
        let addr = SocketAddr::new(epmd.addr().ip(), entry.port);
        let mut stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        // B says `alive` when it holds a connection to us. It is stale unless
        // we hold one too, or B's own attempt is being accepted right now.
        let continue_if_alive = || match lock(&self.inner.peers).get(&peer) {
            Some(Peer::Up(c)) => c.is_closed(),
            Some(Peer::Pending { outgoing, .. }) => *outgoing,
            None => true,
        };
        let est = handshake::initiate_with(
            &mut stream,
            &self.handshake_config(),
            Some(peer),
            continue_if_alive,
        )
        .await
        .map_err(|source| NodeError::Handshake { peer, source })?;
        Ok((stream, est))
    }

    async fn accept_loop(self, listener: TcpListener, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let node = self.clone();
                        tokio::spawn(async move { node.handle_incoming(stream, addr).await });
                    }
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    }

    async fn handle_incoming(self, mut stream: TcpStream, addr: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let attempt = self.inner.next_attempt.fetch_add(1, Ordering::Relaxed);
        let cfg = self.handshake_config();
        let mut claimed: Option<NodeName> = None;
        let result = tokio::time::timeout(
            self.inner.setup_timeout,
            handshake::accept(&mut stream, &cfg, |hello| {
                let status = self.decide(hello, attempt);
                debug!(peer = %hello.peer, %status, "incoming handshake");
                if matches!(status, Status::Ok | Status::OkSimultaneous | Status::Alive) {
                    claimed = Some(hello.peer);
                }
                status
            }),
        )
        .await;
        match result {
            Ok(Ok(est)) => {
                self.register_connection(stream, est);
            }
            Ok(Err(e)) => {
                warn!(%addr, error = %e, "refused incoming handshake");
                if let Some(peer) = claimed {
                    self.clear_pending(peer, attempt);
                }
            }
            Err(_) => {
                warn!(%addr, "incoming handshake timed out");
                if let Some(peer) = claimed {
                    self.clear_pending(peer, attempt);
                }
            }
        }
    }

    /// `send_status`: how to answer a peer that is dialing us.
    fn decide(&self, hello: &Hello, attempt: u64) -> Status {
        let mut peers = lock(&self.inner.peers);
        let claim = Peer::Pending {
            attempt,
            outgoing: false,
        };
        match peers.get(&hello.peer) {
            Some(Peer::Up(c)) if !c.is_closed() => Status::Alive,
            Some(Peer::Pending { outgoing: true, .. }) => {
                // "ok_simultaneous ... simultaneous connect where A's name is
                // greater than B's name, compared literally"; else "nok".
                if hello.peer.as_str() > self.inner.name.as_str() {
                    peers.insert(hello.peer, claim);
                    Status::OkSimultaneous
                } else {
                    Status::Nok
                }
            }
            Some(Peer::Pending {
                outgoing: false, ..
            }) => Status::Nok,
            _ => {
                peers.insert(hello.peer, claim);
                Status::Ok
            }
        }
    }

    fn register_connection(&self, stream: TcpStream, est: handshake::Established) -> Connection {
        let peer = est.peer;
        let flags = est.flags;
        // Hold the sink's first message until the connection is in the map and nodeup is out.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = NodeSink {
            node: self.clone(),
            ready: Some(ready_rx),
            #[cfg(feature = "runtime")]
            woken: ferrotp::woken::Woken::new(),
        };
        let conn = Connection::spawn_tcp_with(stream, est, self.inner.connection.clone(), sink);
        let old = lock(&self.inner.peers).insert(peer, Peer::Up(conn.clone()));
        self.bump();
        if let Some(Peer::Up(old)) = old {
            old.close_because(CloseReason::Replaced);
            info!(%peer, "nodedown: replaced by a new connection");
            self.nodedown(peer, &CloseReason::Replaced);
        }
        info!(%peer, ?flags, "nodeup");
        let up = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.handler.on_nodeup(peer)));
        if up.is_err() {
            warn!(%peer, "on_nodeup handler panicked");
        }
        let _ = ready_tx.send(());
        conn
    }

    /// Tells the handler, which may panic without taking a task down with it.
    fn nodedown(&self, peer: NodeName, reason: &CloseReason) {
        let down = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.inner.handler.on_nodedown(peer, reason)
        }));
        if down.is_err() {
            warn!(%peer, "on_nodedown handler panicked");
        }
    }

    /// The connection ended: forget it (unless a newer one replaced it) and report nodedown.
    fn connection_closed(&self, conn: &Connection, reason: &CloseReason) {
        let peer = conn.peer();
        let removed = {
            let mut peers = lock(&self.inner.peers);
            let ours = matches!(peers.get(&peer), Some(Peer::Up(c)) if c.id() == conn.id());
            if ours {
                peers.remove(&peer);
            }
            ours
        };
        if removed {
            self.bump();
            info!(%peer, %reason, "nodedown");
            self.nodedown(peer, reason);
        }
    }

    /// The protocol-level part of `net_kernel`: answers `{is_auth, Node}`
    /// calls (what `net_adm:ping/1` sends) and swallows the monitors
    /// `gen:call` puts on the name. Returns `true` when it handled `msg`.
    fn net_kernel(&self, conn: &Connection, msg: &ControlMessage, payload: Option<&Term>) -> bool {
        match msg {
            ControlMessage::RegSend { to_name, .. } if to_name.as_str() == NET_KERNEL => {
                match payload.and_then(is_auth_call) {
                    Some((from, tag)) => self.reply(conn, from, tag, Term::atom("yes")),
                    None => debug!(peer = %conn.peer(), ?payload, "net_kernel: ignoring request"),
                }
                true
            }
            ControlMessage::MonitorP {
                to: ProcRef::Name(n),
                ..
            }
            | ControlMessage::DemonitorP {
                to: ProcRef::Name(n),
                ..
            } => n.as_str() == NET_KERNEL,
            _ => false,
        }
    }

    /// `gen:reply({From, Tag}, Reply)`: `{Tag, Reply}` to the alias in
    /// `Tag = [alias | Ref]` when the peer has aliases, else to `From`.
    fn reply(&self, conn: &Connection, from: Pid, tag: &Term, reply: Term) {
        let message = Term::tuple(vec![tag.clone(), reply]);
        let alias = match tag {
            Term::ImproperList(head, tail) if head.len() == 1 && head[0].is_atom("alias") => {
                match &**tail {
                    Term::Reference(r) if conn.flags().contains(DistFlags::ALIAS) => {
                        Some(r.clone())
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let control = match alias {
            Some(alias) => ControlMessage::AliasSend {
                from: self.net_kernel_pid(),
                alias,
            },
            None => ControlMessage::SendSender {
                from: self.net_kernel_pid(),
                to: from,
            },
        };
        if conn.send(control, Some(message)).is_err() {
            debug!(peer = %conn.peer(), "net_kernel: reply lost, connection closed");
        }
    }
}

/// Delivers a connection's traffic to the node's handler, from the connection's reading task.
struct NodeSink {
    node: DistNode,
    /// Set until the node has announced the connection (nodeup before any message).
    ready: Option<std::sync::mpsc::Receiver<()>>,
    /// Runtime processes woken by what this connection delivered, run by
    /// its reader once it has delivered everything it read (see
    /// `ferrotp::woken`): a call is read, handled and answered on one
    /// thread, as a BEAM scheduler polling its dist port does.
    #[cfg(feature = "runtime")]
    woken: ferrotp::woken::Woken,
}

impl NodeSink {
    fn wait_ready(&mut self) {
        if let Some(ready) = self.ready.take() {
            // `register_connection` signals right after nodeup, without awaiting.
            let _ = ready.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl ConnectionSink for NodeSink {
    fn message(&mut self, conn: &Connection, msg: ControlMessage, payload: Option<Term>) {
        self.wait_ready();
        if self.node.net_kernel(conn, &msg, payload.as_ref()) {
            return;
        }
        let handler = &self.node.inner.handler;
        #[cfg(feature = "runtime")]
        self.woken
            .collect(|| handler.on_control(conn.peer(), msg, payload));
        #[cfg(not(feature = "runtime"))]
        handler.on_control(conn.peer(), msg, payload);
    }

    #[cfg(feature = "runtime")]
    fn idle(&mut self, _conn: &Connection) {
        self.woken.run();
    }

    fn closed(&mut self, conn: &Connection, reason: &CloseReason) {
        self.wait_ready();
        self.node.connection_closed(conn, reason);
    }
}

/// `{'$gen_call', {From, Tag}, {is_auth, Node}}` → `(From, Tag)`.
fn is_auth_call(t: &Term) -> Option<(Pid, &Term)> {
    let [call, from_tag, request] = t.as_tuple()? else {
        return None;
    };
    if !call.is_atom("$gen_call") {
        return None;
    }
    let [from, tag] = from_tag.as_tuple()? else {
        return None;
    };
    let [what, _node] = request.as_tuple()? else {
        return None;
    };
    if !what.is_atom("is_auth") {
        return None;
    }
    Some((from.as_pid()?, tag))
}

/// Registers with EPMD as `config.epmd` says; returns the registration and
/// the embedded server if one was started.
async fn register(
    config: &NodeConfig,
    port: u16,
) -> Result<(Option<Registration>, Option<EpmdServer>), NodeError> {
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.epmd_port);
    let client = EpmdClient::new(addr);
    let entry = if config.hidden {
        NodeEntry::hidden(config.name.alive(), port)
    } else {
        NodeEntry::normal(config.name.alive(), port)
    };
    match config.epmd {
        EpmdMode::Disabled => Ok((None, None)),
        EpmdMode::External => Ok((Some(client.register(entry).await?), None)),
        EpmdMode::Embedded => {
            let server = epmd_server::serve(addr).await?;
            Ok((Some(client.register(entry).await?), Some(server)))
        }
        EpmdMode::Auto => {
            match client.register(entry.clone()).await {
                Ok(r) => return Ok((Some(r), None)),
                Err(EpmdError::Io { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            match epmd::start_system_epmd(Some(config.epmd_port)) {
                Ok(()) => {
                    info!(port = config.epmd_port, "started system epmd");
                    for _ in 0..50 {
                        match client.register(entry.clone()).await {
                            Ok(r) => return Ok((Some(r), None)),
                            Err(EpmdError::Io { .. }) => {
                                tokio::time::sleep(Duration::from_millis(100)).await
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => info!(error = %e, "no system epmd; starting the embedded one"),
            }
            let server = epmd_server::serve(addr).await?;
            Ok((Some(client.register(entry).await?), Some(server)))
        }
    }
}

/// An atom for `net_kernel`, for callers routing messages by name.
pub fn net_kernel_name() -> Atom {
    Atom::new(NET_KERNEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etf::Reference;

    #[test]
    fn is_auth_call_is_recognised() {
        let from = Pid {
            node: Atom::new("a@h"),
            id: 1,
            serial: 2,
            creation: 3,
        };
        let tag = Term::ImproperList(
            vec![Term::atom("alias")],
            Box::new(Term::Reference(Reference {
                node: Atom::new("a@h"),
                creation: 3,
                ids: vec![1, 2, 3],
            })),
        );
        let call = Term::tuple(vec![
            Term::atom("$gen_call"),
            Term::tuple(vec![Term::Pid(from), tag.clone()]),
            Term::tuple(vec![Term::atom("is_auth"), Term::atom("a@h")]),
        ]);
        assert_eq!(is_auth_call(&call), Some((from, &tag)));
        assert_eq!(is_auth_call(&Term::atom("x")), None);
    }
}
