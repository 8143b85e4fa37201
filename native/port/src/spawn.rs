//! `SPAWN_REQUEST`: starting a behaviour in the port program.
//!
//! The host sends `{29, ReqId, Host, GroupLeader, {Behaviour, start_link, 1}, Opts}`
//! followed by `[Arg]`, `Arg` being the behaviour's one init argument (as
//! `ferrotp:start_link(Host, Behaviour, Arg)` takes it). The program starts the behaviour from the runtime's
//! registry (`counter`, `supervisor`, and any registered one) and answers
//! `{31, ReqId, Host, Flags, PidOrReason}` once `init` has run, as
//! `proc_lib:start_link` returns only then.
//!
//! `Opts`:
//! - `{parent, Pid}`: the BEAM process that called `ferrotp:start_link`;
//!   the new process is linked to it and treats it as its OTP parent
//!   (its exit signal makes a trapping supervisor shut down);
//! - `monitor`: the host monitors the new process under `ReqId` from its
//!   first instant, so it always learns how the process ends
//!   (`MONITOR_P_EXIT`) and ends the BEAM proxy the same way.
//!
//! Before `init` runs, the new process tells the host its pid:
//! `{22, X, Host}` + `{'$ferrotp_port', starting, ReqId}`. The host then
//! knows X's proxy (the pid the caller will get) while `init` runs, so
//! whatever X does in `init` (a supervisor starting its BEAM children, a
//! link, a send) comes from that proxy, as an OTP process's `init` acts
//! under its own pid.

use dist::control::ControlMessage;
use etf::Term;
use ferrotp::start::{self, Body, RemoteParent, Started};
use ferrotp::{behaviours, Node};

use crate::frame::Frame;
use crate::outbox::Outbox;
use crate::program::spawn_reply;
use crate::signals::SpawnRequest;

/// Flag in `SPAWN_REPLY`: a link was set up.
const LINK_FLAG: u32 = 1;
/// Flag in `SPAWN_REPLY`: the requester monitors the new process.
const MONITOR_FLAG: u32 = 2;

/// Starts the behaviour `req` names (on the node's runtime; this returns
/// at once) and answers the host when its `init` is done.
pub fn handle(node: &Node, outbox: &Outbox, req: SpawnRequest) {
    let (node, outbox) = (node.clone(), outbox.clone());
    node.handle().clone().spawn(async move {
        let reply = match start(&node, &outbox, &req).await.map(Started::into_pid) {
            Ok(Ok(pid)) => {
                let mut flags = LINK_FLAG;
                if req.has_opt("monitor") {
                    flags |= MONITOR_FLAG;
                }
                spawn_reply(&req, flags, Term::Pid(pid))
            }
            Ok(Err(ignore)) => spawn_reply(&req, 0, ignore),
            Err(reason) => spawn_reply(&req, 0, reason),
        };
        outbox.push(&reply);
    });
}

async fn start(node: &Node, outbox: &Outbox, req: &SpawnRequest) -> Result<Started, Term> {
    let arg = match (req.function.as_str(), req.args.as_slice()) {
        ("start_link", [arg]) => arg.clone(),
        _ => return Err(behaviours::undef(req.behaviour, req.function, &req.args)),
    };
    let body = announced(behaviours::body(req.behaviour, arg)?, outbox, req);
    let parent = match req.opt("parent") {
        Some(Term::Pid(p)) => *p,
        _ => req.from,
    };
    let monitor = req
        .has_opt("monitor")
        .then(|| (req.from, req.req_id.clone()));
    start::start_body_remote(node, RemoteParent { parent, monitor }, Vec::new(), body).await
}

/// `body`, preceded by the frame that tells the host the new pid:
/// `{22, X, Host}` + `{'$ferrotp_port', starting, ReqId}`, written before
/// anything the process itself sends (one outbox, in order).
fn announced(body: Body, outbox: &Outbox, req: &SpawnRequest) -> Body {
    let (outbox, host, req_id) = (outbox.clone(), req.from, req.req_id.clone());
    Box::new(move |ctx, init| {
        outbox.push(&Frame::new(
            ControlMessage::SendSender {
                from: ctx.pid(),
                to: host,
            },
            Some(Term::tuple(vec![
                Term::atom("$ferrotp_port"),
                Term::atom("starting"),
                Term::Reference(req_id),
            ])),
        ));
        body(ctx, init)
    })
}
