//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use etf::{Pid, Reference, Term};
use ferrotp::Process;

/// Generous: CI machines are loaded.
pub const WAIT: Duration = Duration::from_secs(10);

/// The next message, as a term; panics if none arrives in time.
pub async fn recv(ctx: &mut Process) -> Term {
    match ctx.receive_timeout(WAIT).await {
        Some(m) => m
            .into_term()
            .unwrap_or_else(|_| panic!("expected a term message")),
        None => panic!("no message within {WAIT:?}"),
    }
}

/// `{'EXIT', From, Reason}`.
pub fn exit_msg(from: Pid, reason: Term) -> Term {
    Term::tuple(vec![Term::atom("EXIT"), Term::Pid(from), reason])
}

/// `{'DOWN', Ref, process, Object, Reason}`.
pub fn down_msg(r: Reference, object: Term, reason: Term) -> Term {
    Term::tuple(vec![
        Term::atom("DOWN"),
        Term::Reference(r),
        Term::atom("process"),
        object,
        reason,
    ])
}

/// Monitors `pid` and waits for its exit reason.
pub async fn wait_exit(ctx: &mut Process, pid: &Pid) -> Term {
    let r = ctx.monitor(pid);
    wait_down(ctx, r).await
}

/// Sends `pid` the exit signal `reason` and returns its exit reason,
/// monitoring it first (`M = monitor(process, Pid), exit(Pid, Reason),
/// receive {'DOWN', M, _, _, R} -> R end`): monitoring after the signal
/// could find it gone already (`noproc`).
pub async fn exit_and_wait(ctx: &mut Process, pid: &Pid, reason: Term) -> Term {
    let r = ctx.monitor(pid);
    ctx.exit(pid, reason);
    wait_down(ctx, r).await
}

async fn wait_down(ctx: &mut Process, r: Reference) -> Term {
    let msg = ctx
        .receive_match(
            |m| {
                m.as_term()
                    .and_then(Term::as_tuple)
                    .is_some_and(|t| t.len() == 5 && t[1] == Term::Reference(r.clone()))
            },
            Some(WAIT),
        )
        .await
        .expect("no DOWN in time");
    let t = msg.into_term().unwrap_or_else(|_| panic!("DOWN is a term"));
    t.as_tuple().map(|t| t[4].clone()).expect("DOWN tuple")
}

/// Waits until nothing arrives for a short while; returns what did arrive.
pub async fn quiet(ctx: &mut Process, for_: Duration) -> Vec<Term> {
    let mut got = Vec::new();
    while let Some(m) = ctx.receive_timeout(for_).await {
        if let Ok(t) = m.into_term() {
            got.push(t);
        }
    }
    got
}
