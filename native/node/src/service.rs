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
//! | `Opts`: `[{timeout, Ms}]`                                  | an init still running after `Ms` is killed: `{error, timeout}` (`proc_lib`'s `kill_flush`) |
//!
//! The new process links to the caller before its init runs and takes the
//! caller as its OTP `Parent`, so a Rust supervisor started this way
//! stops when its Erlang parent tells it to (`exit(Sup, shutdown)`), and an
//! OTP supervisor can own it as a child.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etf::{Atom, Pid, Term};
use ferrotp::behaviours;
use ferrotp::call::{From, Incoming};
use ferrotp::start;
use ferrotp::{Node, Process, Signal};
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
    /// `{timeout, Ms}` from the options: how long init may take (`None`:
    /// `infinity`).
    pub timeout: Option<Duration>,
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
        let mut timeout = None;
        let Term::List(opts) = opts else {
            return None;
        };
        for opt in opts {
            match opt.as_tuple() {
                Some([k, n]) if k.is_atom("name") && n.as_atom().is_some() => name = n.as_atom(),
                Some([k, t]) if k.is_atom("timeout") => timeout = start_timeout(t)?,
                _ => return None,
            }
        }
        Some(StartRequest {
            caller: *caller,
            behaviour: *behaviour,
            arg: arg.clone(),
            name,
            timeout,
        })
    }
}

/// The start option `{timeout, T}`: `Some(None)` for `infinity`,
/// `Some(Some(ms))` for milliseconds, `None` for anything else.
fn start_timeout(t: &Term) -> Option<Option<Duration>> {
    match t {
        Term::Atom(a) if *a == Atom::new("infinity") => Some(None),
        Term::Int(ms) => u64::try_from(*ms)
            .ok()
            .map(|ms| Some(Duration::from_millis(ms))),
        _ => None,
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
    // A behaviour that does not exist, or an argument it cannot read,
    // fails in the started process's init, as gen_server's init_it fails:
    // the caller gets {error, Reason}, and the process's exit (linked).
    let inner = behaviours::body(req.behaviour, req.arg).unwrap_or_else(|reason| {
        start::body(move |_c: Process, mut init: start::Init| async move {
            init.error(reason.clone());
            reason
        })
    });
    let caller = req.caller;
    let me = helper.pid();
    let child = Arc::new(Mutex::new(Child::NotRunning));
    let seen = child.clone();
    let body = start::body(move |mut c: Process, init: start::Init| async move {
        {
            let mut child = lock(&seen);
            if matches!(*child, Child::Abandoned) {
                // Its start timed out before it ran.
                return Term::atom("normal");
            }
            // Linked to the caller before init runs, as proc_lib's
            // spawn_link; the helper's own link (from the synchronous
            // start) is dropped. Under the lock: a timeout's unlink must
            // follow this link on the wire.
            c.link(&caller);
            *child = Child::Running(c.pid());
        }
        c.unlink(&me);
        inner(c, init.on_behalf_of(caller)).await
    });
    let started = start::start_body(&mut helper, req.name, Vec::new(), body);
    let started = match req.timeout {
        None => started.await,
        Some(limit) => match tokio::time::timeout(limit, started).await {
            Ok(started) => started,
            Err(_) => {
                kill_flush(&helper, &child, caller);
                Err(Term::atom("timeout"))
            }
        },
    };
    let reply = match started {
        Ok(started) => started.to_term(),
        Err(reason) => error(reason),
    };
    from.reply(&helper, reply);
}

/// Where the process a start spawned stands, for its start's timeout.
enum Child {
    /// It has not run yet.
    NotRunning,
    /// It runs, linked to its caller.
    Running(Pid),
    /// Its start timed out: it must not run.
    Abandoned,
}

fn lock(child: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    child
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An init that outlived its start's timeout ends as `proc_lib`'s
/// `kill_flush` ends it: unlinked from its caller, then killed, so the
/// caller hears `{error, timeout}` and no exit signal.
fn kill_flush(helper: &Process, child: &Mutex<Child>, caller: Pid) {
    let mut child = lock(child);
    if let Child::Running(pid) = *child {
        let node = helper.node();
        node.deliver(Signal::Unlink {
            from: pid,
            to: caller,
            id: 0,
        });
        node.exit(&helper.pid(), &pid, Term::atom("kill"));
    }
    *child = Child::Abandoned;
}
