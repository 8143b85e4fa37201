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
use etf::Pid;
use ferrotp::Node;

use crate::bridge::Bridge;
use crate::service;

/// A runtime node wired to a distribution node; cheap to clone.
#[derive(Clone, Debug)]
pub struct HiddenNode {
    node: Node,
    dist: DistNode,
    service: Pid,
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
