//! `SPAWN_REQUEST`: starting a behaviour in the port program.
//!
//! The host sends `{29, ReqId, Host, GroupLeader, {Behaviour, start_link, 1}, Opts}`
//! followed by `[Arg]`; the program starts the behaviour (its `init` has run
//! when the reply goes out, as `proc_lib:start_link` promises) and answers
//! `{31, ReqId, Host, Flags, PidOrReason}`. With `monitor` in `Opts` the
//! host monitors the new process under `ReqId`, so it learns how the
//! process ends (`MONITOR_P_EXIT`) and can end its BEAM proxy the same way.
//! `{parent, Pid}` in `Opts` names the process's parent (the caller of
//! `ferrotp:start_link`).

use etf::{Pid, Term};
use ferrotp::{MonitorTarget, Node, Signal};

use crate::outbox::Outbox;
use crate::program::spawn_reply;
use crate::signals::SpawnRequest;

/// Flag in `SPAWN_REPLY`: the requester monitors the new process.
const MONITOR_FLAG: u32 = 2;

/// Starts the behaviour `req` names and answers the host.
pub fn handle(node: &Node, outbox: &Outbox, req: SpawnRequest) {
    match crate::builtin::start(node, &req) {
        Ok(pid) => reply_started(node, outbox, &req, pid),
        Err(reason) => outbox.push(&spawn_reply(&req, 0, reason)),
    }
}

fn reply_started(node: &Node, outbox: &Outbox, req: &SpawnRequest, pid: Pid) {
    let monitor = req.has_opt("monitor");
    let flags = if monitor { MONITOR_FLAG } else { 0 };
    // The reply goes out before the monitor is set, so a 'DOWN' can never
    // overtake it.
    outbox.push(&spawn_reply(req, flags, Term::Pid(pid)));
    if monitor {
        node.deliver(Signal::Monitor {
            from: req.from,
            target: MonitorTarget::Pid(pid),
            reference: req.req_id.clone(),
        });
    }
}
