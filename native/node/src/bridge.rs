//! The bridge between a runtime [`Node`] and a [`DistNode`]: what
//! `net_kernel` and the emulator's distribution code are to an Erlang node.
//!
//! | Erlang                                        | here                                              |
//! |-----------------------------------------------|---------------------------------------------------|
//! | a signal to a pid on `Node` leaves on the wire | [`DistTransport::deliver`] → `DistNode::enqueue` |
//! | a control message arrives                     | [`Bridge::on_control`] → `Node::deliver`          |
//! | `{nodeup, Node}`                              | `Node::set_transport(peer, DistTransport)`        |
//! | `{nodedown, Node}`: links and monitors fire `noconnection` | `Node::connection_lost(peer)`        |

use std::sync::{Arc, OnceLock};

use dist::connection::CloseReason;
use dist::control::ControlMessage;
use dist::node::{DistHandler, DistNode};
use dist::NodeName;
use etf::Term;
use ferrotp::{Node, Signal, Transport};
use tracing::{debug, warn};

use crate::signals;

/// Carries the runtime's signals for pids on one peer node over the
/// distribution connection to it (connecting in the background if needed).
pub struct DistTransport {
    dist: DistNode,
    peer: NodeName,
}

impl DistTransport {
    /// The transport to `peer` through `dist`.
    pub fn new(dist: DistNode, peer: NodeName) -> DistTransport {
        DistTransport { dist, peer }
    }
}

impl Transport for DistTransport {
    fn deliver(&self, signal: Signal) {
        let (msg, payload) = signals::to_control(signal);
        self.dist.enqueue(self.peer, msg, payload);
    }
}

/// The [`DistHandler`] that hands every incoming control message to the
/// runtime. Created before the [`DistNode`] exists (the node's creation
/// comes from EPMD), then [`Bridge::attach`]ed to both.
#[derive(Default)]
pub struct Bridge {
    ends: OnceLock<Ends>,
}

struct Ends {
    node: Node,
    dist: DistNode,
}

impl Bridge {
    /// A bridge not yet attached: control messages arriving before
    /// [`Bridge::attach`] are dropped (logged).
    pub fn new() -> Arc<Bridge> {
        Arc::new(Bridge::default())
    }

    /// Connects the bridge to its two ends. The runtime node's name and
    /// creation must be the distribution node's. A second call is ignored.
    pub fn attach(&self, node: Node, dist: DistNode) {
        if self.ends.set(Ends { node, dist }).is_err() {
            warn!("bridge attached twice; keeping the first");
        }
    }
}

impl DistHandler for Bridge {
    fn on_control(&self, peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        let Some(ends) = self.ends.get() else {
            warn!(%peer, ?msg, "control message before the runtime was attached: dropped");
            return;
        };
        let local = ends.node.name();
        let op = msg.op();
        match signals::from_control(local, peer.atom(), msg, payload) {
            Some(signal) => ends.node.deliver(signal),
            None => debug!(%peer, op, "control message without a runtime signal: ignored"),
        }
    }

    fn on_nodeup(&self, peer: NodeName) {
        if let Some(ends) = self.ends.get() {
            let transport = Arc::new(DistTransport::new(ends.dist.clone(), peer));
            ends.node.set_transport(peer.atom(), transport);
        }
    }

    fn on_nodedown(&self, peer: NodeName, reason: &CloseReason) {
        if let Some(ends) = self.ends.get() {
            debug!(%peer, %reason, "connection lost: links and monitors fire noconnection");
            ends.node.connection_lost(peer.atom());
        }
    }
}
