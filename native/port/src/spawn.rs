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

use etf::Term;
use ferrotp::start::{self, RemoteParent, Started};
use ferrotp::{behaviours, Node};

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
        let reply = match start(&node, &req).await.map(Started::into_pid) {
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

async fn start(node: &Node, req: &SpawnRequest) -> Result<Started, Term> {
    let arg = match (req.function.as_str(), req.args.as_slice()) {
        ("start_link", [arg]) => arg.clone(),
        _ => return Err(behaviours::undef(req.behaviour, req.function, &req.args)),
    };
    let body = behaviours::body(req.behaviour, arg)?;
    let parent = match req.opt("parent") {
        Some(Term::Pid(p)) => *p,
        _ => req.from,
    };
    let monitor = req
        .has_opt("monitor")
        .then(|| (req.from, req.req_id.clone()));
    start::start_body_remote(node, RemoteParent { parent, monitor }, Vec::new(), body).await
}
