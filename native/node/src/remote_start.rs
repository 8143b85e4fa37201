//! Rust supervisors owning BEAM processes: a child spec whose start
//! `{M, F, A}` names no Rust behaviour is started on a BEAM node.
//!
//! There, `ferrotp_node:supervised(Sup, M, F, A)` (from `erlang/`, which
//! must be on the BEAM node's code path) is spawned linked to the Rust
//! supervisor (`SPAWN_REQUEST` with `link`). It calls `M:F(A...)` and stands
//! between the supervisor and the started process as OTP's
//! `supervisor_bridge` does:
//!
//! | the Rust supervisor sees                       | on the BEAM                                              |
//! |------------------------------------------------|----------------------------------------------------------|
//! | `Started::Via { via: Bridge, child: Pid }`: it links to and shuts down the bridge; `which_children`, `start_child`'s `{ok, Pid}` and reports show `Pid` | `M:F(A)` returned `{ok, Pid}`; `Pid`'s parent is the bridge |
//! | `ignore` / `{error, R}`                        | what `M:F(A)` returned                                   |
//! | `{'EXIT', Child, R}`                           | `Pid` exited with `R`                                    |
//! | `exit(Child, shutdown)` then `kill`            | forwarded to `Pid` (shutdown), or the bridge dies (kill) and takes `Pid` with it |
//! | `gen_server:call(Child, Req)`                  | forwarded to `Pid`, which replies directly               |

use std::sync::Mutex;
use std::time::Duration;

use dist::node::DistNode;
use dist::NodeName;
use etf::{Atom, Pid, Term};
use ferrotp::behaviours::RemoteStarter;
use ferrotp::start::{BoxFuture, Started};
use ferrotp::Process;

use crate::spawn::SpawnService;

/// The module and function of the bridge process on the BEAM node.
pub const BRIDGE: (&str, &str) = ("ferrotp_node", "supervised");

/// The module and function of a process that runs `catch apply(M, F, A)`
/// on the BEAM node for [`RemoteStarter::apply`] and sends the value back
/// (see [`ferrotp::behaviours::receive_applied`]).
pub const APPLIER: (&str, &str) = ("ferrotp_node", "applied");

/// How long a BEAM start may take before the supervisor gives up on it.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts non-Rust start MFAs on a BEAM node: the one named, or the first
/// connected one.
pub struct BeamStarter {
    spawn: SpawnService,
    dist: DistNode,
    peer: Mutex<Option<NodeName>>,
}

impl BeamStarter {
    /// A starter using `spawn` over `dist`; `peer` fixes the BEAM node
    /// (default: the first connected node).
    pub fn new(spawn: SpawnService, dist: DistNode, peer: Option<NodeName>) -> BeamStarter {
        BeamStarter {
            spawn,
            dist,
            peer: Mutex::new(peer),
        }
    }

    /// Sets the BEAM node children are started on.
    pub fn set_peer(&self, peer: Option<NodeName>) {
        *self.peer.lock().unwrap_or_else(|p| p.into_inner()) = peer;
    }

    /// `catch apply(M, F, A)` on `peer`, by a process spawned there.
    async fn apply_on(
        &self,
        peer: Option<NodeName>,
        ctx: &mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> Result<Term, Term> {
        let Some(peer) = peer else {
            return Err(no_beam_node(module, function, args));
        };
        let tag = Term::Reference(ctx.make_ref());
        let applier_args = vec![
            Term::Pid(ctx.pid()),
            tag.clone(),
            Term::Atom(module),
            Term::Atom(function),
            Term::List(args),
        ];
        let mfa = (Atom::new(APPLIER.0), Atom::new(APPLIER.1), applier_args);
        self.spawn
            .spawn_request(peer, ctx.pid(), mfa, false)
            .await?;
        ferrotp::behaviours::receive_applied(ctx, &tag, Some(START_TIMEOUT))
            .await
            .ok_or(Term::atom("timeout"))
    }

    fn peer(&self) -> Option<NodeName> {
        let fixed = *self.peer.lock().unwrap_or_else(|p| p.into_inner());
        fixed.or_else(|| self.dist.nodes().into_iter().next())
    }

    /// Where a supervisor `ctx` starts its BEAM children. An OTP supervisor
    /// runs their starts on its own node; a Rust node has no Erlang code,
    /// so they run on the BEAM node of a process the supervisor is linked
    /// to (its parent, when a BEAM process started it: the node that asked
    /// for the tree, where its modules surely are), else on [`Self::peer`].
    fn peer_for(&self, ctx: &Process) -> Option<NodeName> {
        let connected = self.dist.nodes();
        ctx.links()
            .into_iter()
            .filter_map(|p| NodeName::from_atom(p.node).ok())
            .find(|n| connected.contains(n))
            .or_else(|| self.peer())
    }
}

fn no_beam_node(module: Atom, function: Atom, args: Vec<Term>) -> Term {
    Term::tuple(vec![
        Term::atom("no_beam_node"),
        Term::tuple(vec![
            Term::Atom(module),
            Term::Atom(function),
            Term::List(args),
        ]),
    ])
}

fn is_report(t: &Term, proxy: Pid) -> bool {
    matches!(t.as_tuple(), Some([tag, Term::Pid(p), _]) if (tag.is_atom("ferrotp_started") || tag.is_atom("EXIT")) && *p == proxy)
}

impl RemoteStarter for BeamStarter {
    fn start_link<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>> {
        Box::pin(async move {
            let Some(peer) = self.peer_for(ctx) else {
                return Err(no_beam_node(module, function, args));
            };
            let bridge_args = vec![
                Term::Pid(ctx.pid()),
                Term::Atom(module),
                Term::Atom(function),
                Term::List(args),
            ];
            let mfa = (Atom::new(BRIDGE.0), Atom::new(BRIDGE.1), bridge_args);
            let proxy = self.spawn.spawn_request(peer, ctx.pid(), mfa, true).await?;
            let report = ctx
                .receive_match(
                    |m| m.as_term().is_some_and(|t| is_report(t, proxy)),
                    Some(START_TIMEOUT),
                )
                .await;
            let Some(report) = report.and_then(|m| m.into_term().ok()) else {
                ctx.exit(&proxy, Term::atom("kill"));
                return Err(Term::atom("timeout"));
            };
            let (tag, result) = match report {
                Term::Tuple(mut items) if items.len() == 3 => {
                    let result = items.pop().unwrap_or_else(Term::nil);
                    (items.swap_remove(0), result)
                }
                _ => return Err(Term::atom("badarg")),
            };
            if tag.is_atom("EXIT") {
                return Err(result);
            }
            // Read as OTP's supervisor reads it (`Started::from_term`),
            // the child behind its bridge.
            Ok(match Started::from_term(&result)? {
                Started::Ok(child) => Started::Via {
                    via: proxy,
                    child,
                    info: None,
                },
                Started::OkInfo(child, info) => Started::Via {
                    via: proxy,
                    child,
                    info: Some(info),
                },
                other => other,
            })
        })
    }

    /// `ferrotp_node:applied(Caller, Ref, M, F, A)` is spawned on the BEAM
    /// node and sends `{'$ferrotp_applied', Ref, catch apply(M, F, A)}` back.
    fn apply<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Term, Term>> {
        let peer = self.peer();
        Box::pin(self.apply_on(peer, ctx, module, function, args))
    }

    /// On `caller`'s node when it is connected, else as [`Self::apply`].
    fn apply_for<'a>(
        &'a self,
        ctx: &'a mut Process,
        caller: Pid,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Term, Term>> {
        let theirs = NodeName::from_atom(caller.node)
            .ok()
            .filter(|n| self.dist.nodes().contains(n));
        let peer = theirs.or_else(|| self.peer());
        Box::pin(self.apply_on(peer, ctx, module, function, args))
    }
}
