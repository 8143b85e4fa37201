//! Transports: how signals reach processes on other nodes.
//!
//! The runtime knows nothing of sockets. When a process sends a signal to a
//! pid (or name) on another node, the runtime hands it to the
//! [`Transport`] registered for that node with
//! [`Node::set_transport`](crate::Node::set_transport). A transport delivers
//! signals that arrive from its peer with [`Node::deliver`](crate::Node::deliver)
//! and, when the peer goes away, calls
//! [`Node::connection_lost`](crate::Node::connection_lost), which fires every
//! link (`noconnection`) and monitor (`'DOWN'` with `noconnection`) that
//! crossed to that node, once.
//!
//! With no transport for a node, the node is unreachable, as in OTP: links
//! and monitors to its pids fire `noconnection` at once and messages are
//! dropped.
//!
//! | Erlang (distribution)                     | Rust                                   |
//! |-------------------------------------------|----------------------------------------|
//! | connection to `Node` up                   | `node.set_transport(peer, transport)`  |
//! | control message from `Node`               | `node.deliver(signal)`                 |
//! | `{nodedown, Node}` / connection closed    | `node.connection_lost(peer)`           |
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use ferrotp::{Node, Signal, Transport};
//! use etf::Atom;
//!
//! struct Recorder(Mutex<Vec<Signal>>);
//! impl Transport for Recorder {
//!     fn deliver(&self, signal: Signal) {
//!         self.0.lock().unwrap().push(signal);
//!     }
//! }
//! let node = Node::new(Atom::new("a@localhost"), 1);
//! node.set_transport(Atom::new("b@localhost"), Arc::new(Recorder(Mutex::new(vec![]))));
//! ```

use etf::Pid;

use crate::signal::Signal;

/// Carries signals to one remote node (or VM, or port peer).
///
/// `deliver` is called from inside processes: it must not block for long
/// (queue the signal and return).
pub trait Transport: Send + Sync {
    /// Sends `signal` to the peer.
    fn deliver(&self, signal: Signal);

    /// Whether the peer's process `pid` is alive (`is_process_alive(Pid)`
    /// asked of the peer), where the transport can tell at once; `None`
    /// (the default) where it cannot.
    fn is_alive(&self, _pid: &Pid) -> Option<bool> {
        None
    }
}
