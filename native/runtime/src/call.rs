//! The request/reply wire shapes every OTP behaviour speaks (OTP's `gen`).
//!
//! | Erlang                                  | on the wire                                   | Rust                               |
//! |-----------------------------------------|-----------------------------------------------|------------------------------------|
//! | `gen_server:call(S, Req)`               | `{'$gen_call', {From, Tag}, Req}`             | `call::call(&mut ctx, s, req, t)`  |
//! | `gen_server:reply({From, Tag}, R)`      | `{Tag, R}` to `From`                          | `from.reply(&ctx, r)`              |
//! | `gen_server:cast(S, Msg)`               | `{'$gen_cast', Msg}`                          | `call::cast(&ctx, s, msg)`         |
//! | `sys:get_state(S)` and friends          | `{system, {From, Tag}, Req}`                  | [`Incoming::System`]               |
//!
//! [`call`] and [`cast`] are [`gen_server::call_term`](crate::gen_server::call_term)
//! and [`gen_server::cast_term`](crate::gen_server::cast_term) with terms;
//! [`From`] and [`Incoming`] are for receive loops that are not a
//! [`GenServer`](crate::GenServer) (the supervisor's).
//!
//! `Tag` is a reference, or since OTP 24 `[alias | Ref]`; a reply is always
//! `{Tag, Reply}`, sent as `gen:reply/2` sends it: to the alias for an
//! `[alias | Ref]` tag (so a reply after the caller gave up is dropped, see
//! [`crate::alias`]), to the caller's pid otherwise. Calls to another node
//! use `[alias | Mref]` tags themselves.
//!
//! A call monitors the server for its duration: if the server is or goes
//! down the call fails with the server's exit reason (`noproc` if it did
//! not exist), as `gen:call` exits with it.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::call::{self, Incoming};
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let echo = ctx.spawn(|mut s| async move {
//!         let m = s.receive().await;
//!         if let Incoming::Call { from, request } = Incoming::classify(m) {
//!             from.reply(&s, request);
//!         }
//!     });
//!     let r = call::call(&mut ctx, echo, Term::atom("hi"), Some(Duration::from_secs(5))).await;
//!     assert_eq!(r, Ok(Term::atom("hi")));
//! }).unwrap();
//! ```

use std::any::Any;
use std::time::Duration;

use etf::{Pid, Reference, Term};

use crate::mailbox::Message;
use crate::process::{Dest, Process};

/// Who is waiting for a reply: `{Pid, Tag}` (gen_server's `From`).
#[derive(Clone, Debug, PartialEq)]
pub struct From {
    /// The calling process.
    pub pid: Pid,
    /// The tag its receive matches (a reference, or `[alias | Ref]`).
    pub tag: Term,
}

impl From {
    /// Reads `{Pid, Tag}`.
    pub fn from_term(t: &Term) -> Option<From> {
        match t.as_tuple()? {
            [Term::Pid(pid), tag] => Some(From {
                pid: *pid,
                tag: tag.clone(),
            }),
            _ => None,
        }
    }

    /// `{Pid, Tag}`.
    pub fn to_term(&self) -> Term {
        Term::tuple(vec![Term::Pid(self.pid), self.tag.clone()])
    }

    /// Sends `{Tag, Reply}` to the caller (`gen_server:reply/2`): to the
    /// alias of an `[alias | Alias]` tag, to the pid otherwise.
    pub fn reply(&self, ctx: &Process, reply: Term) {
        crate::alias::reply(ctx, &self.pid, &self.tag, reply);
    }
}

/// A message as a behaviour's receive loop sees it.
#[derive(Debug)]
pub enum Incoming {
    /// `{'$gen_call', From, Request}`.
    Call {
        /// The caller.
        from: From,
        /// The request.
        request: Term,
    },
    /// `{'$gen_cast', Msg}`.
    Cast(Term),
    /// `{system, From, Request}` (sys).
    System {
        /// The caller.
        from: From,
        /// The sys request (`get_state`, `get_status`, `{terminate, R}`...).
        request: Term,
    },
    /// `{'EXIT', Pid, Reason}` (the process traps exits).
    Exit {
        /// The process the signal came from.
        from: Pid,
        /// Its exit reason.
        reason: Term,
    },
    /// Any other term (`handle_info`).
    Info(Term),
    /// A typed Rust message from this node.
    Local(Box<dyn Any + Send>),
}

impl Incoming {
    /// Sorts a message into the shapes above.
    pub fn classify(msg: Message) -> Incoming {
        let t = match msg {
            Message::Local(b) => return Incoming::Local(b),
            Message::Term(t) => t,
        };
        let shape = match t.as_tuple() {
            Some([tag, from, req]) if tag.is_atom("$gen_call") => {
                From::from_term(from).map(|f| (0, Some(f), req.clone()))
            }
            Some([tag, msg]) if tag.is_atom("$gen_cast") => Some((1, None, msg.clone())),
            Some([tag, from, req]) if tag.is_atom("system") => {
                From::from_term(from).map(|f| (2, Some(f), req.clone()))
            }
            Some([tag, Term::Pid(p), reason]) if tag.is_atom("EXIT") => {
                return Incoming::Exit {
                    from: *p,
                    reason: reason.clone(),
                }
            }
            _ => None,
        };
        match shape {
            Some((0, Some(from), request)) => Incoming::Call { from, request },
            Some((1, _, msg)) => Incoming::Cast(msg),
            Some((2, Some(from), request)) => Incoming::System { from, request },
            _ => Incoming::Info(t),
        }
    }
}

/// `true` if `m` is `{'DOWN', Ref, process, _, _}` for `mref`.
pub(crate) fn is_down_for(m: &Message, mref: &Reference) -> bool {
    m.as_term().and_then(Term::as_tuple).is_some_and(|t| {
        t.len() == 5 && t[0].is_atom("DOWN") && matches!(&t[1], Term::Reference(r) if r == mref)
    })
}

/// Calls `server` with `request` and waits (at most `timeout`; `None` is
/// `infinity`) for its reply (`gen:call/4`, through
/// [`gen_server::call_term`](crate::gen_server::call_term)).
///
/// `Err(reason)` when the call fails: `noproc` (no such process or name),
/// `timeout`, or the server's exit reason if it died first.
pub async fn call(
    ctx: &mut Process,
    server: impl Into<Dest>,
    request: Term,
    timeout: Option<Duration>,
) -> Result<Term, Term> {
    let timeout = timeout.unwrap_or(crate::gen_server::INFINITY);
    crate::gen_server::call_term(ctx, server, request, timeout)
        .await
        .map_err(|e| e.reason())
}

/// Sends `{'$gen_cast', Msg}` (`gen_server:cast/2`): never fails.
pub fn cast(ctx: &Process, server: impl Into<Dest>, msg: Term) {
    crate::gen_server::cast_term(ctx, server, msg);
}

/// What a behaviour's loop does after answering a system message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SysAction {
    /// Carry on.
    Continue,
    /// `sys:suspend/1`: handle only system messages until resumed.
    Suspend,
    /// `sys:resume/1`.
    Resume,
    /// `sys:terminate/2` (and `gen_server:stop/1`): end with this reason
    /// after the behaviour's own cleanup.
    Terminate(Term),
}

/// Answers a `{system, From, Request}` message as [`crate::sys`] does
/// for a gen_server (a supervisor is one, in OTP): `get_state` → the
/// state; `get_status` → `{status, Pid, {module, gen_server}, [..]}`;
/// `suspend`/`resume` → `ok`; `{terminate, R}` → `ok`, then the process
/// ends with `R`; `{replace_state, Fun}` → an error (an Erlang fun cannot
/// run here); anything else → `{error, {unknown_system_msg, Request}}`.
pub(crate) fn handle_system(
    ctx: &Process,
    parent: Pid,
    from: &From,
    request: &Term,
    suspended: bool,
    state: impl FnOnce() -> Term,
) -> SysAction {
    let error = |r: Term| Term::tuple(vec![Term::atom("error"), r]);
    if request.is_atom("get_state") {
        from.reply(ctx, state());
    } else if request.is_atom("get_status") {
        from.reply(
            ctx,
            crate::sys::status_term(ctx, parent, suspended, Term::nil(), state()),
        );
    } else if request.is_atom("suspend") {
        from.reply(ctx, Term::atom("ok"));
        return SysAction::Suspend;
    } else if request.is_atom("resume") {
        from.reply(ctx, Term::atom("ok"));
        return SysAction::Resume;
    } else {
        match request.as_tuple() {
            Some([t, reason]) if t.is_atom("terminate") => {
                from.reply(ctx, Term::atom("ok"));
                return SysAction::Terminate(reason.clone());
            }
            Some([t, _fun]) if t.is_atom("replace_state") => from.reply(
                ctx,
                error(Term::tuple(vec![
                    Term::atom("callback_failed"),
                    Term::tuple(vec![
                        Term::atom("gen_server"),
                        Term::atom("system_replace_state"),
                    ]),
                    error(Term::atom("erlang_fun")),
                ])),
            ),
            Some([t, ..]) if t.is_atom("change_code") => from.reply(ctx, Term::atom("ok")),
            _ => from.reply(
                ctx,
                error(Term::tuple(vec![
                    Term::atom("unknown_system_msg"),
                    request.clone(),
                ])),
            ),
        }
    }
    SysAction::Continue
}

/// The next message for a behaviour loop: any message, or only system
/// messages while suspended.
pub(crate) async fn next_message(ctx: &mut Process, suspended: bool) -> Message {
    if !suspended {
        return ctx.receive().await;
    }
    loop {
        if let Some(m) = ctx.receive_match(|m| m.is_tagged("system"), None).await {
            return m;
        }
    }
}
