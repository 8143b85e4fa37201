//! BEAM children for Rust supervisors: starting Erlang start MFAs through
//! the host.
//!
//! A Rust `supervisor` in a port program may list children whose start MFA
//! names an Erlang module (`{my_worker, start_link, []}`). The runtime hands
//! such MFAs to its [`RemoteStarter`]; in a port program that is
//! [`PortStarter`], which sends the host a `SPAWN_REQUEST` from the
//! supervisor. On the BEAM side the supervisor's proxy calls
//! `apply(M, F, Args)` itself, so the new process is linked to it (as an
//! OTP supervisor's children are linked to the supervisor), and answers
//! with `SPAWN_REPLY` carrying what the start function returned (`{ok, Pid}`,
//! `ignore`, `{error, Reason}`...).
//!
//! | Erlang (an OTP supervisor)              | port program                                   |
//! |-----------------------------------------|------------------------------------------------|
//! | `apply(M, F, Args)` in the supervisor   | `SPAWN_REQUEST {29, ReqId, Sup, Sup, {M, F, N}, [link]}` + `Args` |
//! | its return value                        | `SPAWN_REPLY {31, ReqId, Sup, 1, Return}`      |

use std::collections::HashMap;
use std::sync::Arc;

use dist::control::ControlMessage;
use etf::{Atom, Reference, Term};
use ferrotp::behaviours::RemoteStarter;
use ferrotp::start::{BoxFuture, Started};
use ferrotp::Process;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::frame::Frame;
use crate::outbox::Outbox;

/// Starts Erlang start MFAs on the host for Rust supervisors.
#[derive(Debug, Clone)]
pub struct PortStarter {
    outbox: Outbox,
    pending: Arc<Mutex<HashMap<Reference, oneshot::Sender<Term>>>>,
}

impl PortStarter {
    /// A starter writing its requests to `outbox`.
    pub fn new(outbox: Outbox) -> PortStarter {
        PortStarter {
            outbox,
            pending: Arc::default(),
        }
    }

    /// A `SPAWN_REPLY` arrived: `true` if it answered one of our requests.
    pub fn reply(&self, req_id: &Reference, result: Term) -> bool {
        match self.pending.lock().remove(req_id) {
            Some(tx) => {
                let _ = tx.send(result);
                true
            }
            None => false,
        }
    }
}

impl RemoteStarter for PortStarter {
    fn start_link<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>> {
        Box::pin(async move {
            let returned = self.apply(ctx, module, function, args).await?;
            let started = Started::from_term(&returned)?;
            if let Some(child) = started.pid() {
                // The host linked the child to this process's proxy; this
                // side of the link must know it too.
                ctx.link(&child);
            }
            Ok(started)
        })
    }

    /// The process's proxy on the host runs `catch apply(M, F, Args)`
    /// (`SPAWN_REQUEST`) and answers its value (`SPAWN_REPLY`).
    fn apply<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Term, Term>> {
        Box::pin(async move {
            let req_id = ctx.make_ref();
            let (tx, rx) = oneshot::channel();
            self.pending.lock().insert(req_id.clone(), tx);
            let me = ctx.pid();
            self.outbox.push(&Frame::new(
                ControlMessage::SpawnRequest {
                    req_id: req_id.clone(),
                    from: me,
                    group_leader: me,
                    module,
                    function,
                    arity: args.len() as u32,
                    opts: Term::List(vec![Term::atom("link")]),
                },
                Some(Term::List(args)),
            ));
            match rx.await {
                Ok(t) => Ok(t),
                Err(_) => {
                    self.pending.lock().remove(&req_id);
                    Err(Term::atom("noconnection"))
                }
            }
        })
    }
}
