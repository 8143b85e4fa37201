//! The `ferrotp` service: a registered process that starts behaviours on
//! behalf of callers on other nodes, so `ferrotp:start_link(Node, Behaviour,
//! Arg)` gives an Erlang process a linked Rust process, as
//! `gen_server:start_link/3` would give it a local one.
//!
//! | Erlang caller                                              | here                                        |
//! |------------------------------------------------------------|---------------------------------------------|
//! | `gen_server:call({ferrotp, Node}, {start_link, self(), B, Arg, Opts})` | start `B` with `Arg`, linked to the caller |
//! | `{ok, Pid}` / `ignore` / `{error, Reason}`                 | after the process acknowledged its init (`proc_lib` semantics) |
//! | `Opts`: `[{name, Name}]`                                   | registered as `Name` on the Rust node       |
//!
//! The new process links to the caller before its init runs and takes the
//! caller as its OTP `Parent`, so a Rust supervisor started this way
//! stops when its Erlang parent tells it to (`exit(Sup, shutdown)`), and an
//! OTP supervisor can own it as a child.

use etf::{Atom, Pid, Term};
use ferrotp::behaviours;
use ferrotp::call::{From, Incoming};
use ferrotp::start;
use ferrotp::{Node, Process};
use tracing::{debug, warn};

/// The name the service registers under.
pub const SERVICE: &str = "ferrotp";

/// A start request: `{start_link, CallerPid, Behaviour, Arg, Opts}`.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// The process the new one links to (its OTP parent).
    pub caller: Pid,
    /// The behaviour to start.
    pub behaviour: Atom,
    /// Its one init argument.
    pub arg: Term,
    /// `{name, Name}` from the options.
    pub name: Option<Atom>,
}

impl StartRequest {
    /// Reads `{start_link, CallerPid, Behaviour, Arg, Opts}`.
    pub fn from_term(t: &Term) -> Option<StartRequest> {
        let [tag, Term::Pid(caller), Term::Atom(behaviour), arg, opts] = t.as_tuple()? else {
            return None;
        };
        if !tag.is_atom("start_link") {
            return None;
        }
        let mut name = None;
        let Term::List(opts) = opts else {
            return None;
        };
        for opt in opts {
            match opt.as_tuple() {
                Some([k, n]) if k.is_atom("name") && n.as_atom().is_some() => name = n.as_atom(),
                _ => return None,
            }
        }
        Some(StartRequest {
            caller: *caller,
            behaviour: *behaviour,
            arg: arg.clone(),
            name,
        })
    }
}

/// Spawns the service on `node`, registered as `ferrotp`; its pid.
pub fn spawn(node: &Node) -> Pid {
    node.spawn(|mut ctx| async move {
        if let Err(e) = ctx.register(Atom::new(SERVICE)) {
            warn!(error = %e, "the ferrotp service could not register");
            return;
        }
        loop {
            let msg = ctx.receive().await;
            match Incoming::classify(msg) {
                Incoming::Call { from, request } => match StartRequest::from_term(&request) {
                    Some(req) => {
                        ctx.spawn(move |helper| start_for(helper, from, req));
                    }
                    None => from.reply(
                        &ctx,
                        error(Term::tuple(vec![Term::atom("bad_request"), request])),
                    ),
                },
                other => debug!(?other, "ferrotp service: unexpected message ignored"),
            }
        }
    })
}

fn error(reason: Term) -> Term {
    Term::tuple(vec![Term::atom("error"), reason])
}

/// Runs in a short-lived helper: starts the behaviour linked to the
/// caller and replies with the start's result.
async fn start_for(mut helper: Process, from: From, req: StartRequest) {
    let inner = match behaviours::body(req.behaviour, req.arg) {
        Ok(b) => b,
        Err(reason) => {
            from.reply(&helper, error(reason));
            return;
        }
    };
    let caller = req.caller;
    let me = helper.pid();
    let body = start::body(move |mut c: Process, init: start::Init| async move {
        // Linked to the caller before init runs, as proc_lib's spawn_link;
        // the helper's own link (from the synchronous start) is dropped.
        c.link(&caller);
        c.unlink(&me);
        inner(c, init.on_behalf_of(caller)).await
    });
    let reply = match start::start_body(&mut helper, req.name, Vec::new(), body).await {
        Ok(started) => started.to_term(),
        Err(reason) => error(reason),
    };
    from.reply(&helper, reply);
}
