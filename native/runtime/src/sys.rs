//! `sys`: system messages every gen_server answers.
//!
//! OTP's `sys` module talks to any OTP-compliant process with
//! `{system, From, Request}` messages (sent by `gen:call(Pid, system,
//! Request)`, answered `{Tag, Reply}`). Every ferrotp gen_server answers
//! them, whether they come from Erlang's `sys` or from this module:
//!
//! | Erlang                            | Request                   | Reply                                   | Rust                           |
//! |-----------------------------------|---------------------------|-----------------------------------------|--------------------------------|
//! | `sys:get_state(P)`                | `get_state`               | the state ([`GenServer::state_term`])   | `sys::get_state(ctx, p)`       |
//! | `sys:replace_state(P, F)`         | `{replace_state, F}`      | the new state                           | `sys::replace_state(ctx, &s, f)` |
//! | `sys:get_status(P)`               | `get_status`              | `{status, Pid, {module, gen_server}, [..]}` | `sys::get_status(ctx, p)`  |
//! | `sys:suspend(P)`                  | `suspend`                 | `ok`                                    | `sys::suspend(ctx, p)`         |
//! | `sys:resume(P)`                   | `resume`                  | `ok`                                    | `sys::resume(ctx, p)`          |
//! | `sys:terminate(P, R)`             | `{terminate, R}`          | `ok`, then `terminate/2` and exit `R`   | `sys::terminate(ctx, p, r)`    |
//! | `sys:statistics/2`, `sys:log/2`, `sys:trace/2`, `sys:log_to_file/2`, `sys:no_debug/1` | `{debug, What}` | as `sys:debug_cmd/2` (see `crate::debug`) | — |
//!
//! A suspended server handles only system messages (and its parent's exit);
//! calls and casts wait in its mailbox until `resume`.
//!
//! `sys:replace_state/2` from Erlang passes an Erlang fun. A server whose
//! state can be read back from a term ([`GenServer::REPLACES_STATE_TERM`],
//! as the built-in `counter`) has the fun run on the BEAM it meets (by
//! the transport: the NIF's proxy, the port host, or a process spawned on
//! the caller's node) on its [`GenServer::state_term`], and takes the result
//! with [`GenServer::replace_state_term`]; it answers the new state, or
//! `{error, {callback_failed, {gen_server, system_replace_state}, {Class, Reason}}}`
//! when the fun raised or the term was refused (so `sys:replace_state`
//! raises, as for a gen_server). Any other server answers that error with
//! `{error, erlang_fun}` without running the fun. From Rust,
//! [`replace_state`] takes a closure over the typed state. Other requests
//! are answered `{error, {unknown_system_msg, Request}}`, as `sys` does.
//!
//! ```
//! # use ferrotp::gen_server::{self, CallResult, GenServer, Init, Opts};
//! # use ferrotp::{sys, Node, Process};
//! # use etf::Term;
//! struct Cell(i64);
//! impl GenServer for Cell {
//!     type Arg = i64; type Call = (); type Reply = (); type Cast = (); type Continue = ();
//!     async fn init(v: i64, _: &mut Process) -> Init<Self> { Init::Ok(Cell(v)) }
//!     fn state_term(&self) -> Term { Term::Int(self.0) }
//! }
//! Node::local().block_on_process(|mut ctx| async move {
//!     let cell = gen_server::start_link::<Cell>(&mut ctx, 1, Opts::default()).await.unwrap();
//!     assert_eq!(sys::get_state(&mut ctx, cell.pid()).await, Ok(Term::Int(1)));
//!     sys::replace_state(&mut ctx, &cell, |c| c.0 = 9).await.unwrap();
//!     assert_eq!(sys::get_state(&mut ctx, cell.pid()).await, Ok(Term::Int(9)));
//! }).unwrap();
//! ```

use etf::{Atom, Pid, Term};

use crate::debug::Debug;
use crate::gen_server::{self, CallError, GenServer, GenServerRef, DEFAULT_TIMEOUT};
use crate::mailbox::Message;
use crate::process::{Dest, Process};

/// A server loop's own `sys` state: suspended or running, and its debug
/// options (OTP's `SysState` and `Debug`).
#[derive(Default)]
pub(crate) struct Loop {
    /// `sys:suspend/1` was called (and no `sys:resume/1` since).
    pub suspended: bool,
    /// `sys:statistics/2`, `sys:log/2`, `sys:trace/2` ...
    pub debug: Debug,
}

/// How a server is named in printed debug events: its registered name,
/// or its pid.
pub(crate) fn name_term(ctx: &Process) -> Term {
    match ctx.registered_name() {
        Some(name) => Term::Atom(name),
        None => Term::Pid(ctx.pid()),
    }
}

/// What the server loop does after a system message.
pub(crate) enum Outcome {
    Continue,
    Terminate(Term),
}

/// `{terminate, Reason}`.
pub(crate) fn terminate_request(reason: Term) -> Term {
    Term::tuple(vec![Term::atom("terminate"), reason])
}

/// `true` for `{system, {Pid, Tag}, Request}`.
pub(crate) fn is_system_message(m: &Message) -> bool {
    matches!(m.as_term().and_then(Term::as_tuple), Some([l, from, _]) if l.is_atom("system") && gen_server::From::from_term(from).is_some())
}

fn charlist(s: &str) -> Term {
    Term::List(s.chars().map(|c| Term::Int(c as i64)).collect())
}

fn error(reason: Term) -> Term {
    Term::tuple(vec![Term::atom("error"), reason])
}

/// `{error, {callback_failed, {gen_server, system_replace_state}, {Class, Reason}}}`:
/// what `sys:replace_state/2` gets from a gen_server whose fun raised.
fn callback_failed(class: Term, reason: Term) -> Term {
    error(Term::tuple(vec![
        Term::atom("callback_failed"),
        Term::tuple(vec![
            Term::atom("gen_server"),
            Term::atom("system_replace_state"),
        ]),
        Term::tuple(vec![class, reason]),
    ]))
}

/// `{replace_state, Fun}` with an Erlang fun.
pub(crate) fn is_replace_by_fun(req: &Term) -> bool {
    matches!(req.as_tuple(), Some([tag, Term::Fun(_)]) if tag.is_atom("replace_state"))
}

/// `sys:replace_state(Pid, Fun)` from Erlang, for a server that takes its
/// state from a term: `ferrotp:apply_state_fun(Fun, State)` runs on the
/// BEAM (see the module doc), and its `{ok, New}` becomes the state.
pub(crate) async fn replace_state_by_fun<S: GenServer>(
    state: &mut S,
    from: &gen_server::From,
    req: &Term,
    ctx: &mut Process,
) {
    let fun = match req.as_tuple() {
        Some([_, fun]) => fun.clone(),
        _ => return,
    };
    let applied = crate::behaviours::apply_on_beam(
        ctx,
        from.pid(),
        Atom::new("ferrotp"),
        Atom::new("apply_state_fun"),
        vec![fun, state.state_term()],
    )
    .await;
    let error_class = || Term::atom("error");
    let answer = match applied {
        Ok(Term::Tuple(mut r)) if r.len() == 2 && r[0].is_atom("ok") => {
            let new = r.pop().unwrap_or_else(Term::nil);
            match crate::panic::catch(|| state.replace_state_term(new)) {
                Ok(Ok(())) => state.state_term(),
                Ok(Err(reason)) | Err(reason) => callback_failed(error_class(), reason),
            }
        }
        // `{error, {Class, Reason}}`: the fun raised.
        Ok(Term::Tuple(r)) if r.len() == 2 && r[0].is_atom("error") => match r[1].as_tuple() {
            Some([class, reason]) => callback_failed(class.clone(), reason.clone()),
            _ => callback_failed(error_class(), r[1].clone()),
        },
        Ok(other) => callback_failed(error_class(), other),
        Err(reason) => callback_failed(error_class(), reason),
    };
    gen_server::reply_term(ctx, from, answer);
}

/// Answers one system message (see the module table).
pub(crate) fn handle_system<S: GenServer>(
    state: &mut S,
    from: &gen_server::From,
    req: &Term,
    sys: &mut Loop,
    parent: Pid,
    ctx: &Process,
) -> Outcome {
    let answer = |value: Term| gen_server::reply_term(ctx, from, value);
    if req.is_atom("get_state") {
        answer(state.state_term());
    } else if req.is_atom("suspend") {
        sys.suspended = true;
        answer(Term::atom("ok"));
    } else if req.is_atom("resume") {
        sys.suspended = false;
        answer(Term::atom("ok"));
    } else if req.is_atom("get_status") {
        answer(status(state, sys, parent, ctx));
    } else {
        match req.as_tuple() {
            Some([tag, what]) if tag.is_atom("debug") => {
                answer(sys.debug.command(what, &name_term(ctx)));
            }
            Some([tag, reason]) if tag.is_atom("terminate") => {
                answer(Term::atom("ok"));
                return Outcome::Terminate(reason.clone());
            }
            Some([tag, _fun]) if tag.is_atom("replace_state") => answer(callback_failed(
                Term::atom("error"),
                Term::atom("erlang_fun"),
            )),
            Some([tag, ..]) if tag.is_atom("change_code") => answer(Term::atom("ok")),
            _ => answer(error(Term::tuple(vec![
                Term::atom("unknown_system_msg"),
                req.clone(),
            ]))),
        }
    }
    Outcome::Continue
}

/// `{status, Pid, {module, gen_server}, [PDict, SysState, Parent, Debug, Misc]}`
/// with gen_server's `format_status` layout.
fn status<S: GenServer>(state: &S, sys: &Loop, parent: Pid, ctx: &Process) -> Term {
    status_term(
        ctx,
        parent,
        sys.suspended,
        sys.debug.logged(),
        state.state_term(),
    )
}

/// The answer to `get_status` of a server whose state reads as `state`
/// and whose `sys` log holds `logged` (also for the call loop's processes,
/// `crate::call`).
pub(crate) fn status_term(
    ctx: &Process,
    parent: Pid,
    suspended: bool,
    logged: Term,
    state: Term,
) -> Term {
    let sys_state = Term::atom(if suspended { "suspended" } else { "running" });
    let me = ctx.pid();
    // As gen_server prints it: a name unquoted.
    let name = match ctx.registered_name() {
        Some(n) => n.as_str().to_owned(),
        None => format!("<0.{}.{}>", me.id, me.serial),
    };
    let pair = |k: &str, v: Term| Term::tuple(vec![charlist(k), v]);
    let misc = Term::List(vec![
        Term::tuple(vec![
            Term::atom("header"),
            charlist(&format!("Status for generic server {name}")),
        ]),
        Term::tuple(vec![
            Term::atom("data"),
            Term::List(vec![
                pair("Status", sys_state.clone()),
                pair("Parent", Term::Pid(parent)),
                pair("Logged events", logged),
            ]),
        ]),
        Term::tuple(vec![
            Term::atom("data"),
            Term::List(vec![pair("State", state)]),
        ]),
    ]);
    Term::tuple(vec![
        Term::atom("status"),
        Term::Pid(me),
        Term::tuple(vec![Term::atom("module"), Term::atom("gen_server")]),
        Term::List(vec![
            Term::nil(),
            sys_state,
            Term::Pid(parent),
            Term::nil(),
            misc,
        ]),
    ])
}

async fn system_call(
    ctx: &mut Process,
    dest: impl Into<Dest>,
    req: Term,
) -> Result<Term, CallError> {
    gen_server::gen_call(ctx, dest.into(), "system", req, DEFAULT_TIMEOUT).await
}

fn ok_or_error(reply: Term) -> Result<(), CallError> {
    if reply.is_atom("ok") {
        Ok(())
    } else {
        Err(CallError::BadReply(format!("{reply:?}")))
    }
}

/// `sys:get_state(Server)`: the server's state as a term.
pub async fn get_state(ctx: &mut Process, server: impl Into<Dest>) -> Result<Term, CallError> {
    system_call(ctx, server, Term::atom("get_state")).await
}

/// `sys:get_status(Server)`.
pub async fn get_status(ctx: &mut Process, server: impl Into<Dest>) -> Result<Term, CallError> {
    system_call(ctx, server, Term::atom("get_status")).await
}

/// `sys:suspend(Server)`.
pub async fn suspend(ctx: &mut Process, server: impl Into<Dest>) -> Result<(), CallError> {
    ok_or_error(system_call(ctx, server, Term::atom("suspend")).await?)
}

/// `sys:resume(Server)`.
pub async fn resume(ctx: &mut Process, server: impl Into<Dest>) -> Result<(), CallError> {
    ok_or_error(system_call(ctx, server, Term::atom("resume")).await?)
}

/// `sys:terminate(Server, Reason)`: the server runs `terminate` and exits
/// with `reason`; returns once it has acknowledged (not once it is gone:
/// use [`GenServerRef::stop`] for that).
pub async fn terminate(
    ctx: &mut Process,
    server: impl Into<Dest>,
    reason: Term,
) -> Result<(), CallError> {
    ok_or_error(system_call(ctx, server, terminate_request(reason)).await?)
}

/// `sys:replace_state(Server, Fun)` for a Rust server on this node: runs
/// `f` on the typed state inside the server; returns the new state as a
/// term. A panic in `f` does not crash the server (the state is what `f`
/// left) and is reported as [`CallError::BadReply`] (OTP answers
/// `{error, {callback_failed, ..}}`).
pub async fn replace_state<S: GenServer>(
    ctx: &mut Process,
    server: &GenServerRef<S>,
    f: impl FnOnce(&mut S) + Send + 'static,
) -> Result<Term, CallError> {
    let t = gen_server::replace_state_local(ctx, server, Box::new(f), DEFAULT_TIMEOUT).await?;
    match t.as_tuple() {
        Some([e, _]) if e.is_atom("error") => Err(CallError::BadReply(format!("{t:?}"))),
        _ => Ok(t),
    }
}
