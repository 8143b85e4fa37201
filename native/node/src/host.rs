//! A hidden Rust node: a runtime [`Node`] reachable over Erlang
//! distribution.
//!
//! | Erlang                                          | Rust                                              |
//! |-------------------------------------------------|---------------------------------------------------|
//! | `erl -sname rust -hidden -setcookie C`          | `HiddenNode::start(NodeConfig::new(name).cookie(c)).await?` |
//! | `net_kernel:connect_node(Peer)`                 | `hidden.connect(peer).await?`                     |
//! | `erlang:disconnect_node(Peer)`                  | `hidden.dist().disconnect(peer)`                  |
//! | `spawn(fun() -> ... end)` on the node           | `hidden.runtime().spawn(...)`                     |
//! | `init:stop()`                                   | `hidden.shutdown()`                               |

use std::sync::Arc;

use dist::connection::Connection;
use dist::node::{DistHandler, DistNode, NodeConfig, NodeError};
use dist::NodeName;
use etf::{Atom, Pid, Term};
use ferrotp::Node;

use crate::bridge::Bridge;
use crate::remote_start::BeamStarter;
use crate::service;

/// A runtime node wired to a distribution node; cheap to clone.
#[derive(Clone)]
pub struct HiddenNode {
    node: Node,
    dist: DistNode,
    service: Pid,
    bridge: Arc<Bridge>,
}

impl std::fmt::Debug for HiddenNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiddenNode")
            .field("name", &self.dist.name())
            .finish()
    }
}

impl HiddenNode {
    /// Starts distribution (EPMD registration, listening) and a runtime
    /// node with the same name and creation, bridged to it, with the
    /// `ferrotp` start service registered. Must run inside a tokio runtime.
    pub async fn start(config: NodeConfig) -> Result<HiddenNode, NodeError> {
        let bridge = Bridge::new();
        let dist = DistNode::start(config, bridge.clone()).await?;
        let node = Node::new(dist.name().atom(), dist.creation());
        bridge.attach(node.clone(), dist.clone());
        // Peers that connected while we were attaching.
        for peer in dist.nodes() {
            bridge.on_nodeup(peer);
        }
        let service = service::spawn(&node);
        Ok(HiddenNode {
            node,
            dist,
            service,
            bridge,
        })
    }

    /// The runtime node (processes, registry).
    pub fn runtime(&self) -> &Node {
        &self.node
    }

    /// The distribution node (connections).
    pub fn dist(&self) -> &DistNode {
        &self.dist
    }

    /// Our node name.
    pub fn name(&self) -> NodeName {
        self.dist.name()
    }

    /// The `ferrotp` start service's pid.
    pub fn service(&self) -> Pid {
        self.service
    }

    /// `spawn_request(Peer, M, F, Args, [link])` on behalf of local
    /// process `requester` (see [`crate::spawn`]).
    pub async fn spawn_request(
        &self,
        peer: NodeName,
        requester: Pid,
        mfa: (Atom, Atom, Vec<Term>),
        link: bool,
    ) -> Result<Pid, Term> {
        match self.bridge.spawn_service() {
            Some(s) => s.spawn_request(peer, requester, mfa, link).await,
            None => Err(Term::atom("noconnection")),
        }
    }

    /// Makes every Rust supervisor in this OS process start children whose
    /// start module is not a Rust behaviour on a BEAM node through this
    /// node: `peer`, or the first connected node (see
    /// [`crate::remote_start`]). The behaviour registry is process-wide,
    /// so the last node to call this wins.
    pub fn start_beam_children(&self, peer: Option<NodeName>) {
        if let Some(spawn) = self.bridge.spawn_service() {
            let starter = BeamStarter::new(spawn, self.dist.clone(), peer);
            ferrotp::behaviours::set_remote_starter(Arc::new(starter));
        }
    }

    /// Connects to `peer` (`net_kernel:connect_node/1`).
    pub async fn connect(&self, peer: NodeName) -> Result<Connection, NodeError> {
        self.dist.connect(peer).await
    }

    /// Closes every connection and unregisters from EPMD. Links and
    /// monitors across the connections fire `noconnection`.
    pub fn shutdown(&self) {
        self.dist.shutdown();
    }
}

/// The bridge as a plain handler, for callers that build their own
/// [`DistNode`].
pub fn handler() -> Arc<Bridge> {
    Bridge::new()
}
