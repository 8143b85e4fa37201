//! Remote spawn, both directions (`SPAWN_REQUEST` / `SPAWN_REPLY`).
//!
//! | Erlang                                                    | here                                                    |
//! |-----------------------------------------------------------|---------------------------------------------------------|
//! | `spawn_request(RustNode, counter, start_link, [0], [link, monitor])` | a process on the Rust node *runs the behaviour* (there is no other code to run there); `{spawn_reply, ReqId, ok, Pid}` |
//! | `spawn(RustNode, supervisor, start_link, [Flags, Specs])` | the same, without link or monitor                       |
//! | `spawn_request(BeamNode, M, F, A, [link])` from Rust      | [`SpawnService::spawn_request`]                         |
//!
//! A spawned behaviour that is linked to its requester takes the
//! requester as its OTP parent, as with `ferrotp:start_link/3`. A start
//! MFA that names no behaviour gives a process that exits at once with
//! `{undef, [{M, F, A, []}]}`, as a BEAM process calling a missing
//! function does.
//!
//! The monitor a `monitor` option sets up uses the request id as its
//! reference, as the protocol says; the link and monitor are in place
//! before the spawned process runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use dist::control::ControlMessage;
use dist::node::DistNode;
use dist::NodeName;
use etf::{Atom, Pid, Reference, Term};
use ferrotp::start::Init;
use ferrotp::{behaviours, MonitorTarget, Node, Signal};
use tokio::sync::oneshot;
use tracing::debug;

/// `SPAWN_REPLY` flag: the link was set up.
pub const FLAG_LINK: u32 = 1;
/// `SPAWN_REPLY` flag: the monitor was set up.
pub const FLAG_MONITOR: u32 = 2;

/// Answers spawn requests from peers and makes our own; cheap to clone.
#[derive(Clone)]
pub struct SpawnService {
    node: Node,
    dist: DistNode,
    pending: Arc<Mutex<HashMap<Reference, Pending>>>,
}

struct Pending {
    peer: NodeName,
    requester: Pid,
    reply: oneshot::Sender<Result<Pid, Term>>,
}

fn has_opt(opts: &Term, name: &str) -> bool {
    matches!(opts, Term::List(items) if items.iter().any(|o| o.is_atom(name)))
}

impl SpawnService {
    /// The service for `node`, speaking through `dist`.
    pub fn new(node: Node, dist: DistNode) -> SpawnService {
        SpawnService {
            node,
            dist,
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<Reference, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Handles a `SPAWN_REQUEST(_TT)` from `peer`.
    pub fn request(&self, peer: NodeName, msg: ControlMessage, payload: Option<Term>) {
        let (req_id, from, module, function, opts) = match msg {
            ControlMessage::SpawnRequest {
                req_id,
                from,
                module,
                function,
                opts,
                ..
            }
            | ControlMessage::SpawnRequestTt {
                req_id,
                from,
                module,
                function,
                opts,
                ..
            } => (req_id, from, module, function, opts),
            _ => return,
        };
        let args = match payload {
            Some(Term::List(args)) => args,
            _ => {
                self.reply(peer, req_id, from, 0, Term::atom("badarg"));
                return;
            }
        };
        let link = has_opt(&opts, "link");
        let monitor = has_opt(&opts, "monitor");
        let body = behaviours::body_for_mfa(module, function, args);
        let (go, wait) = oneshot::channel::<()>();
        let parent = link.then_some(from);
        let pid = self.node.spawn(move |ctx| async move {
            // Runs once the requester's link and monitor are in place.
            let _ = wait.await;
            match body {
                Ok(body) => {
                    let init = Init::detached(Vec::new());
                    let init = match parent {
                        Some(p) => init.on_behalf_of(p),
                        None => init,
                    };
                    body(ctx, init).await
                }
                Err(reason) => reason,
            }
        });
        let flags = if link { FLAG_LINK } else { 0 } | if monitor { FLAG_MONITOR } else { 0 };
        self.reply(peer, req_id.clone(), from, flags, Term::Pid(pid));
        if link {
            self.node.deliver(Signal::Link { from, to: pid });
        }
        if monitor {
            self.node.deliver(Signal::Monitor {
                from,
                target: MonitorTarget::Pid(pid),
                reference: req_id,
            });
        }
        let _ = go.send(());
    }

    fn reply(&self, peer: NodeName, req_id: Reference, to: Pid, flags: u32, result: Term) {
        let msg = ControlMessage::SpawnReply {
            req_id,
            to,
            flags,
            result,
        };
        self.dist.enqueue(peer, msg, None);
    }

    /// Handles a `SPAWN_REPLY(_TT)` to one of our requests.
    pub fn reply_arrived(&self, msg: ControlMessage) {
        let (req_id, flags, result) = match msg {
            ControlMessage::SpawnReply {
                req_id,
                flags,
                result,
                ..
            }
            | ControlMessage::SpawnReplyTt {
                req_id,
                flags,
                result,
                ..
            } => (req_id, flags, result),
            _ => return,
        };
        let Some(p) = self.pending().remove(&req_id) else {
            debug!(?req_id, "spawn reply for no pending request");
            return;
        };
        let outcome = match result {
            Term::Pid(pid) => {
                if flags & FLAG_LINK != 0 {
                    // Our half of the link the peer set up.
                    self.node.deliver(Signal::Link {
                        from: pid,
                        to: p.requester,
                    });
                }
                Ok(pid)
            }
            reason => Err(reason),
        };
        if let Err(Ok(pid)) = p.reply.send(outcome) {
            // Nobody waits any more: do not leave an orphan linked to nobody.
            self.node.deliver(Signal::Exit2 {
                from: p.requester,
                to: pid,
                reason: Term::atom("kill"),
            });
        }
    }

    /// `spawn_request(Peer, M, F, Args, [link])` on behalf of `requester`:
    /// the new pid once the peer replied (linked to `requester` when
    /// `link`), or the error atom it answered (`noconnection` if the
    /// connection went down first).
    pub async fn spawn_request(
        &self,
        peer: NodeName,
        requester: Pid,
        mfa: (Atom, Atom, Vec<Term>),
        link: bool,
    ) -> Result<Pid, Term> {
        let (module, function, args) = mfa;
        let req_id = self.node.make_ref();
        let (tx, rx) = oneshot::channel();
        self.pending().insert(
            req_id.clone(),
            Pending {
                peer,
                requester,
                reply: tx,
            },
        );
        let opts = if link {
            Term::List(vec![Term::atom("link")])
        } else {
            Term::nil()
        };
        let msg = ControlMessage::SpawnRequest {
            req_id,
            from: requester,
            group_leader: requester,
            module,
            function,
            arity: u32::try_from(args.len()).unwrap_or(u32::MAX),
            opts,
        };
        self.dist.enqueue(peer, msg, Some(Term::List(args)));
        rx.await.unwrap_or_else(|_| Err(Term::atom("noconnection")))
    }

    /// The connection to `peer` is gone: its pending requests fail with
    /// `noconnection`.
    pub fn connection_lost(&self, peer: NodeName) {
        let lost: Vec<Pending> = {
            let mut pending = self.pending();
            let refs: Vec<Reference> = pending
                .iter()
                .filter(|(_, p)| p.peer == peer)
                .map(|(r, _)| r.clone())
                .collect();
            refs.into_iter()
                .filter_map(|r| pending.remove(&r))
                .collect()
        };
        for p in lost {
            let _ = p.reply.send(Err(Term::atom("noconnection")));
        }
    }
}
