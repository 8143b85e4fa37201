//! The bridge between a runtime [`Node`] and a [`DistNode`]: what
//! `net_kernel` and the emulator's distribution code are to an Erlang node.
//!
//! | Erlang                                        | here                                              |
//! |-----------------------------------------------|---------------------------------------------------|
//! | a signal to a pid on `Node` leaves on the wire | [`DistTransport::deliver`] → `DistNode::enqueue` |
//! | a control message arrives                     | [`Bridge::on_control`] → `Node::deliver`          |
//! | `{nodeup, Node}`                              | `Node::set_transport(peer, DistTransport)`        |
//! | `{nodedown, Node}`: links and monitors fire `noconnection` | `Node::connection_lost(peer)`        |

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use dist::connection::CloseReason;
use dist::control::ControlMessage;
use dist::node::{DistHandler, DistNode};
use dist::NodeName;
use etf::{Atom, Reference, Term};
use ferrotp::{MonitorTarget, Node, Signal, Transport};
use tracing::{debug, warn};

use crate::spawn::SpawnService;
use dist::runtime_signal as signals;

/// Carries the runtime's signals for pids on one peer node over the
/// distribution connection to it (connecting in the background if needed).
pub struct DistTransport {
    dist: DistNode,
    peer: NodeName,
    names: NamedMonitors,
}

impl DistTransport {
    /// The transport to `peer` through `dist`.
    pub fn new(dist: DistNode, peer: NodeName) -> DistTransport {
        DistTransport::with_names(dist, peer, NamedMonitors::default())
    }

    fn with_names(dist: DistNode, peer: NodeName, names: NamedMonitors) -> DistTransport {
        DistTransport { dist, peer, names }
    }
}

impl Transport for DistTransport {
    fn deliver(&self, signal: Signal) {
        let signal = self.names.name_down(signal);
        let (msg, payload) = signals::to_control(signal);
        self.dist.enqueue(self.peer, msg, payload);
    }
}

/// Monitors peers took on our processes *by name*: the runtime resolves
/// the name to a pid, but the `'DOWN'` the peer gets must name
/// `{Name, Node}`, as `erlang:monitor(process, {Name, Node})` promises.
#[derive(Clone, Default)]
struct NamedMonitors(Arc<Mutex<HashMap<Reference, Atom>>>);

impl NamedMonitors {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<Reference, Atom>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes (or forgets) a by-name monitor arriving from a peer.
    fn observe(&self, signal: &Signal) {
        match signal {
            Signal::Monitor {
                target: MonitorTarget::Name { name, .. },
                reference,
                ..
            } => {
                self.table().insert(reference.clone(), *name);
            }
            Signal::Demonitor { reference, .. } => {
                self.table().remove(reference);
            }
            _ => {}
        }
    }

    /// A `'DOWN'` for a by-name monitor names the process as it was monitored.
    fn name_down(&self, signal: Signal) -> Signal {
        match signal {
            Signal::Down {
                from,
                to,
                reference,
                reason,
            } => {
                let from = match (self.table().remove(&reference), from) {
                    (Some(name), MonitorTarget::Pid(pid)) => MonitorTarget::Name {
                        name,
                        node: pid.node,
                    },
                    (_, from) => from,
                };
                Signal::Down {
                    from,
                    to,
                    reference,
                    reason,
                }
            }
            other => other,
        }
    }

    /// Forgets every monitor held by processes on `peer`.
    fn forget_node(&self, peer: Atom) {
        self.table().retain(|r, _| r.node != peer);
    }
}

/// The [`DistHandler`] that hands every incoming control message to the
/// runtime. Created before the [`DistNode`] exists (the node's creation
/// comes from EPMD), then [`Bridge::attach`]ed to both.
#[derive(Default)]
pub struct Bridge {
    ends: OnceLock<Ends>,
    names: NamedMonitors,
}

struct Ends {
    node: Node,
    dist: DistNode,
    spawn: SpawnService,
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
        let spawn = SpawnService::new(node.clone(), dist.clone());
        if self.ends.set(Ends { node, dist, spawn }).is_err() {
            warn!("bridge attached twice; keeping the first");
        }
    }
}

impl Bridge {
    /// The spawn service, once attached.
    pub fn spawn_service(&self) -> Option<SpawnService> {
        self.ends.get().map(|e| e.spawn.clone())
    }
}

impl DistHandler for Bridge {
    fn on_control(&self, peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        let Some(ends) = self.ends.get() else {
            warn!(%peer, ?msg, "control message before the runtime was attached: dropped");
            return;
        };
        let local = ends.node.name();
        match msg {
            ControlMessage::SpawnRequest { .. } | ControlMessage::SpawnRequestTt { .. } => {
                ends.spawn.request(peer, msg, payload);
                return;
            }
            ControlMessage::SpawnReply { .. } | ControlMessage::SpawnReplyTt { .. } => {
                ends.spawn.reply_arrived(msg);
                return;
            }
            _ => {}
        }
        let op = msg.op();
        match signals::from_control(local, peer.atom(), msg, payload) {
            Ok(signal) => {
                self.names.observe(&signal);
                ends.node.deliver(signal)
            }
            Err(why) => {
                debug!(%peer, op, %why, "control message without a runtime signal: ignored")
            }
        }
    }

    fn on_nodeup(&self, peer: NodeName) {
        if let Some(ends) = self.ends.get() {
            let transport = Arc::new(DistTransport::with_names(
                ends.dist.clone(),
                peer,
                self.names.clone(),
            ));
            ends.node.set_transport(peer.atom(), transport);
        }
    }

    fn on_nodedown(&self, peer: NodeName, reason: &CloseReason) {
        if let Some(ends) = self.ends.get() {
            debug!(%peer, %reason, "connection lost: links and monitors fire noconnection");
            ends.node.connection_lost(peer.atom());
            self.names.forget_node(peer.atom());
            ends.spawn.connection_lost(peer);
        }
    }
}
