//! `gen_server`: the generic server, typed.
//!
//! The engine (this module) owns the receive loop, calls, casts, system
//! messages, starting and stopping; a [`GenServer`] implementation supplies
//! the callbacks, with typed requests instead of terms:
//!
//! | Erlang (`gen_server`)                        | Rust                                                  |
//! |----------------------------------------------|-------------------------------------------------------|
//! | `init(Arg) -> {ok, S}`                       | `async fn init(arg, ctx) -> Init<Self>` (`Init::Ok(s)`) |
//! | `{ok, S, {continue, C}}`, `{stop, R}`, `ignore` | `Init::Continue(s, c)`, `Init::Stop(r)`, `Init::Ignore` |
//! | `handle_call(Req, From, S) -> {reply, R, S}` | `async fn handle_call(&mut self, req, from, ctx) -> CallResult<Self>` |
//! | (a `handle_call` clause that only replies)   | `fn handle_call_now(&mut self, req, ctx) -> CallNow<Self>` (no `.await`) |
//! | `{noreply, S}` + `gen_server:reply(From, R)` | `CallResult::NoReply` + [`reply`]`(ctx, &from, r)`     |
//! | `{stop, Reason, Reply, S}`                   | `CallResult::Stop { reason, reply: Some(r) }`         |
//! | `handle_cast(Msg, S) -> {noreply, S}`        | `async fn handle_cast(&mut self, msg, ctx) -> CastResult<Self>` |
//! | `handle_info(Info, S)`                       | `async fn handle_info(&mut self, msg: Message, ctx)`  |
//! | `handle_continue(C, S)`                      | `async fn handle_continue(&mut self, c, ctx)`         |
//! | `terminate(Reason, S)`                       | `async fn terminate(&mut self, reason: &Term, ctx)`   |
//! | `gen_server:start_link(M, Arg, [])`          | [`start_link::<S>`]`(ctx, arg, Opts::default())`      |
//! | `gen_server:start_link({local, N}, M, A, [])`| `start_link::<S>(ctx, arg, Opts::named(n))`           |
//! | (from a child spec's term arguments)         | [`start_link_term::<S>`]`(ctx, &arg_term, opts)`      |
//! | `gen_server:call(S, Req, T)`                 | `server.call(ctx, req, t)` ([`GenServerRef`]) or [`call_term`] |
//! | `gen_server:cast(S, Msg)`                    | `server.cast(ctx, msg)` or [`cast_term`]             |
//! | `gen_server:stop(S, Reason, T)`              | `server.stop(ctx, reason, t)`                         |
//!
//! ## On the wire
//!
//! The server answers the BEAM's message shapes, so Erlang and Elixir can
//! call it with `gen_server:call/cast` and `sys`:
//!
//! ```erlang
//! {'$gen_call', {FromPid, Tag}, Request}   % reply: FromPid ! {Tag, Reply}
//!                                          % Tag is a ref, or [alias|Ref] (OTP 24+)
//! {'$gen_cast', Msg}
//! {system, {FromPid, Tag}, SysRequest}     % see crate::sys
//! {'EXIT', Parent, Reason}                 % when trapping exits: terminate, exit Reason
//! ```
//!
//! `Request` and `Msg` are decoded into [`GenServer::Call`] and
//! [`GenServer::Cast`] with serde (`etf::from_term`). A request that does
//! not decode is a message the server does not understand: the server
//! crashes (let it crash) with reason `{bad_call, Request}` or
//! `{bad_cast, Msg}`, after calling `terminate`; the caller of a bad call
//! gets [`CallError::Exit`] with that reason.
//!
//! Calls between Rust processes on the same node skip the encoding: the
//! request and reply travel as Rust values, with the same monitor, timeout
//! and exit semantics.
//!
//! ## Stopping
//!
//! A panic in a callback, `Stop` from a callback, `sys:terminate`, or an
//! exit signal from the parent while trapping exits all call `terminate`
//! and then end the process with the reason. An exit signal when not
//! trapping exits kills the server at once, as in OTP.
//!
//! ```
//! use ferrotp::gen_server::{self, CallResult, CastResult, GenServer, Init, Opts};
//! use ferrotp::{Node, Process};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! struct Counter(i64);
//!
//! #[derive(Serialize, Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Call { Value }
//! #[derive(Serialize, Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Cast { Bump(i64) }
//!
//! impl GenServer for Counter {
//!     type Arg = i64;
//!     type Call = Call;
//!     type Reply = i64;
//!     type Cast = Cast;
//!     type Continue = ();
//!     async fn init(start: i64, _ctx: &mut Process) -> Init<Self> {
//!         Init::Ok(Counter(start))
//!     }
//!     async fn handle_call(&mut self, _req: Call, _from: gen_server::From, _ctx: &mut Process) -> CallResult<Self> {
//!         CallResult::Reply(self.0)
//!     }
//!     async fn handle_cast(&mut self, Cast::Bump(n): Cast, _ctx: &mut Process) -> CastResult<Self> {
//!         self.0 += n;
//!         CastResult::NoReply
//!     }
//! }
//!
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let counter = gen_server::start_link::<Counter>(&mut ctx, 5, Opts::default()).await.unwrap();
//!     counter.cast(&ctx, Cast::Bump(2)).unwrap();
//!     assert_eq!(counter.call(&mut ctx, Call::Value, Duration::from_secs(5)).await, Ok(7));
//! }).unwrap();
//! ```

use std::any::Any;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use etf::{Atom, Pid, Reference, Term};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::debug::Debug;
use crate::exit::{self, IntoExitReason};
use crate::mailbox::Message;
use crate::node::Node;
use crate::process::{self, Dest, Process};
use crate::sys;

/// `gen_server`'s default call timeout (5 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Wait forever (`infinity`).
pub const INFINITY: Duration = Duration::MAX;

// ==== the behaviour ======================================================

/// What `init` decided (`{ok, S}`, `{ok, S, {continue, C}}`, `{stop, R}`, `ignore`).
pub enum Init<S: GenServer> {
    /// Start serving with this state.
    Ok(S),
    /// Start serving, but first run `handle_continue(C)`.
    Continue(S, S::Continue),
    /// Do not start: `start` returns [`StartError::Stop`] and the process exits with the reason.
    Stop(Term),
    /// Do not start: `start` returns [`StartError::Ignore`]; the process exits `normal`.
    Ignore,
}

/// What `handle_call` decided.
pub enum CallResult<S: GenServer> {
    /// `{reply, Reply, S}`.
    Reply(S::Reply),
    /// `{reply, Reply, S, {continue, C}}`.
    ReplyContinue(S::Reply, S::Continue),
    /// `{noreply, S}`: reply later with [`reply`].
    NoReply,
    /// `{noreply, S, {continue, C}}`.
    NoReplyContinue(S::Continue),
    /// `{stop, Reason, Reply, S}` or `{stop, Reason, S}` (`reply: None`).
    Stop {
        /// The exit reason.
        reason: Term,
        /// Sent to the caller after `terminate` runs.
        reply: Option<S::Reply>,
    },
}

/// What [`GenServer::handle_call_now`] did with a call.
pub enum CallNow<S: GenServer> {
    /// `{reply, Reply, S}`, answered without awaiting.
    Reply(S::Reply),
    /// Not answered here: [`GenServer::handle_call`] takes the request.
    Later(S::Call),
}

/// What `handle_cast`, `handle_info` and `handle_continue` decided.
pub enum CastResult<S: GenServer> {
    /// `{noreply, S}`.
    NoReply,
    /// `{noreply, S, {continue, C}}`.
    Continue(S::Continue),
    /// `{stop, Reason, S}`.
    Stop(Term),
}

/// A typed generic server. `Self` is the server's state.
///
/// Requests arrive typed: a term that does not decode into [`GenServer::Call`]
/// / [`GenServer::Cast`] crashes the server (see the module docs).
pub trait GenServer: Sized + Send + 'static {
    /// The init argument (`gen_server:start_link(M, Arg, Opts)`'s `Arg`).
    type Arg: Send + 'static;
    /// Calls this server understands.
    type Call: DeserializeOwned + Send + 'static;
    /// What calls return.
    type Reply: Serialize + Send + 'static;
    /// Casts this server understands.
    type Cast: DeserializeOwned + Send + 'static;
    /// The `{continue, C}` payload (use `()` if unused).
    type Continue: Send + 'static;

    /// Initialises the state (runs in the new process before `start` returns).
    fn init(arg: Self::Arg, ctx: &mut Process) -> impl Future<Output = Init<Self>> + Send;

    /// Handles a call. The default crashes the server with `bad_call`, as
    /// an OTP server without the clause crashes (`function_clause`); the
    /// request is typed here, so the reason cannot name it (a request that
    /// does not decode ends the server with `{bad_call, Request}`).
    fn handle_call(
        &mut self,
        request: Self::Call,
        from: From,
        ctx: &mut Process,
    ) -> impl Future<Output = CallResult<Self>> + Send {
        let _ = (request, from, ctx);
        async {
            CallResult::Stop {
                reason: Term::atom("bad_call"),
                reply: None,
            }
        }
    }

    /// Answers a call at once, without awaiting: `CallNow::Reply(r)` is
    /// `{reply, R, S}`; `CallNow::Later(request)` hands the request to
    /// [`GenServer::handle_call`], which then handles it as usual (the
    /// default, for every request). Every call is offered here first, on
    /// every path, so a server answers each request the same way wherever
    /// the call comes from.
    ///
    /// A plain function, not a future: where the host can run a waiting
    /// server's call in place (NIF mode, see [`crate::direct`]), a request
    /// answered here costs no future, no move of the state and no task
    /// poll. Worth it for short answers (reading a field); anything that
    /// awaits, defers its reply, continues or stops belongs in
    /// `handle_call`. A panic here crashes the server as one in
    /// `handle_call` does.
    fn handle_call_now(&mut self, request: Self::Call, ctx: &mut Process) -> CallNow<Self> {
        let _ = ctx;
        CallNow::Later(request)
    }

    /// Handles a cast. The default crashes the server with `bad_cast`.
    fn handle_cast(
        &mut self,
        msg: Self::Cast,
        ctx: &mut Process,
    ) -> impl Future<Output = CastResult<Self>> + Send {
        let _ = (msg, ctx);
        async { CastResult::Stop(Term::atom("bad_cast")) }
    }

    /// Handles any other message. The default logs it and carries on, as
    /// a gen_server without `handle_info` does (OTP's `no_handle_info`
    /// warning: through `tracing`, and [`crate::logger`]).
    fn handle_info(
        &mut self,
        msg: Message,
        ctx: &mut Process,
    ) -> impl Future<Output = CastResult<Self>> + Send {
        match msg.as_term() {
            Some(t) => {
                tracing::warn!(
                    pid = %ctx.pid(),
                    msg = %t.limited(crate::LOG_TERM_BYTES),
                    "gen_server received an unexpected message"
                );
                crate::logger::log(|| crate::logger::Report::NoHandleInfo {
                    pid: ctx.pid(),
                    message: t.clone(),
                });
            }
            None => {
                tracing::warn!(pid = %ctx.pid(), "gen_server received an unexpected Rust value")
            }
        }
        async { CastResult::NoReply }
    }

    /// Handles `{continue, C}`. The default does nothing.
    fn handle_continue(
        &mut self,
        cont: Self::Continue,
        ctx: &mut Process,
    ) -> impl Future<Output = CastResult<Self>> + Send {
        let _ = (cont, ctx);
        async { CastResult::NoReply }
    }

    /// Called before the server exits (not when killed by an untrapped signal).
    fn terminate(&mut self, reason: &Term, ctx: &mut Process) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }

    /// The state as a term, for `sys:get_state/1` and `sys:get_status/1`.
    /// The default is `{'$rust_state', <<"TypeName">>}`; servers whose
    /// state is `Serialize` can return `etf::to_term(self)`.
    fn state_term(&self) -> Term {
        Term::tuple(vec![
            Term::atom("$rust_state"),
            Term::binary(std::any::type_name::<Self>().as_bytes().to_vec()),
        ])
    }

    /// Whether `sys:replace_state/2` from Erlang may replace this state
    /// with a term (see [`replace_state_term`](Self::replace_state_term)).
    /// When `false` (the default) the Erlang fun is not run, and the call
    /// fails with `{callback_failed, {gen_server, system_replace_state},
    /// {error, erlang_fun}}`.
    const REPLACES_STATE_TERM: bool = false;

    /// `sys:replace_state(Pid, Fun)` from Erlang: `new` is what `Fun`
    /// returned for [`state_term`](Self::state_term); `Fun` ran on the
    /// BEAM this process meets, as it runs inside the server in OTP.
    /// `Err(Reason)` keeps the state, and the call fails with
    /// `{callback_failed, {gen_server, system_replace_state}, {error, Reason}}`.
    /// Only called when [`REPLACES_STATE_TERM`](Self::REPLACES_STATE_TERM).
    fn replace_state_term(&mut self, new: Term) -> Result<(), Term> {
        let _ = new;
        Err(Term::atom("erlang_fun"))
    }
}

// ==== handles, errors, options ===========================================

/// Where a call came from: reply to it with [`reply`] (`gen_server:reply/2`).
#[derive(Clone, Debug, PartialEq)]
pub struct From {
    pid: Pid,
    tag: Tag,
}

#[derive(Clone, Debug, PartialEq)]
enum Tag {
    /// An Erlang caller: reply `{Tag, Reply}` as terms (Tag: ref or
    /// `[alias|Ref]`). Shared: a `From` is cloned for the callback, and the
    /// reply takes the tag back without copying it once that clone is gone.
    Wire(Arc<Term>),
    /// A Rust caller on this node: reply with a typed [`CallReply`].
    Local(Reference),
}

impl From {
    /// The calling process.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// `{Pid, Tag}` as Erlang sees it.
    pub fn to_term(&self) -> Term {
        let tag = match &self.tag {
            Tag::Wire(t) => Term::clone(t),
            Tag::Local(r) => Term::Reference(r.clone()),
        };
        Term::tuple(vec![Term::Pid(self.pid), tag])
    }

    /// Reads `{Pid, Tag}`, moving the tag out of `t` (`[]` is left in its
    /// place); `None`, with `t` untouched, when `t` is not `{Pid, Tag}`.
    fn take_from_term(t: &mut Term) -> Option<From> {
        match t {
            Term::Tuple(items) => match items.as_mut_slice() {
                [Term::Pid(pid), tag] => Some(From {
                    pid: *pid,
                    tag: Tag::Wire(Arc::new(std::mem::replace(tag, Term::nil()))),
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// Reads `{Pid, Tag}`.
    pub fn from_term(t: &Term) -> Option<From> {
        match t.as_tuple()? {
            [Term::Pid(pid), tag] => Some(From {
                pid: *pid,
                tag: Tag::Wire(Arc::new(tag.clone())),
            }),
            _ => None,
        }
    }
}

/// A typed reply travelling between Rust processes on one node.
pub(crate) struct CallReply {
    pub(crate) tag: Reference,
    pub(crate) value: Box<dyn Any + Send>,
}

/// A request travelling between Rust processes on one node.
pub(crate) enum Request<S: GenServer> {
    Call {
        from: From,
        req: S::Call,
    },
    Cast(S::Cast),
    ReplaceState {
        from: From,
        f: Box<dyn FnOnce(&mut S) + Send>,
    },
}

/// Why a call failed (where `gen_server:call` would exit the caller).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The server died during the call (or did not exist: `noproc`; its
    /// node is unreachable: `{nodedown, Node}`), with this reason.
    #[error("server exited: {0:?}")]
    Exit(Term),
    /// No reply in time.
    #[error("call timed out")]
    Timeout,
    /// A process called itself.
    #[error("calling_self")]
    CallingSelf,
    /// The request could not be encoded as a term.
    #[error("cannot encode request: {0}")]
    Encode(String),
    /// The reply could not be decoded into the expected type, or a server's
    /// reply could not be encoded as a term (a NaN float): the server then
    /// ends with `{bad_reply, Why}`.
    #[error("bad reply: {0}")]
    BadReply(String),
}

impl CallError {
    /// The reason `gen_server:call` would exit with (`noproc`, `timeout`,
    /// the server's exit reason, ...).
    pub fn reason(&self) -> Term {
        match self {
            CallError::Exit(r) => r.clone(),
            CallError::Timeout => Term::atom("timeout"),
            CallError::CallingSelf => Term::atom("calling_self"),
            CallError::Encode(m) => Term::tuple(vec![
                Term::atom("bad_request"),
                Term::binary(m.as_bytes().to_vec()),
            ]),
            CallError::BadReply(m) => Term::tuple(vec![
                Term::atom("bad_reply"),
                Term::binary(m.as_bytes().to_vec()),
            ]),
        }
    }
}

impl IntoExitReason for CallError {
    /// `{Reason, {gen_server, call}}`, so a process that `?`s a failed call
    /// exits as one whose `gen_server:call` raised.
    fn into_exit_reason(self) -> Term {
        Term::tuple(vec![
            self.reason(),
            Term::tuple(vec![Term::atom("gen_server"), Term::atom("call")]),
        ])
    }
}

/// Why `start`/`start_link` did not give a running server.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StartError {
    /// `init` returned `Stop(reason)` or crashed (`{error, Reason}`).
    #[error("init stopped: {0:?}")]
    Stop(Term),
    /// `init` returned `Ignore` (`ignore`).
    #[error("ignore")]
    Ignore,
    /// The name is taken (`{error, {already_started, Pid}}`).
    #[error("already started: {0:?}")]
    AlreadyStarted(Pid),
    /// `init` did not finish within the start timeout (the process is killed).
    #[error("start timed out")]
    Timeout,
}

impl StartError {
    /// As `gen_server:start` returns it: `{error, Reason}` or `ignore`.
    pub fn to_term(&self) -> Term {
        let error = |r: Term| Term::tuple(vec![Term::atom("error"), r]);
        match self {
            StartError::Stop(r) => error(r.clone()),
            StartError::Ignore => Term::atom("ignore"),
            StartError::AlreadyStarted(p) => error(Term::tuple(vec![
                Term::atom("already_started"),
                Term::Pid(*p),
            ])),
            StartError::Timeout => error(Term::atom("timeout")),
        }
    }
}

/// Start options (`gen_server:start_link/4`'s name and `Opts`).
#[derive(Clone, Debug, Default)]
pub struct Opts {
    /// Register the server under this name (`{local, Name}`).
    pub name: Option<Atom>,
    /// How long `init` may take (`{timeout, T}`); `None` is `infinity`.
    pub timeout: Option<Duration>,
}

impl Opts {
    /// Options registering the server as `name`.
    pub fn named(name: Atom) -> Opts {
        Opts {
            name: Some(name),
            timeout: None,
        }
    }
}

/// A typed handle to a running server of type `S`: a pid and the types of
/// its calls. Cheap to copy.
pub struct GenServerRef<S: GenServer> {
    pid: Pid,
    _server: PhantomData<fn() -> S>,
}

impl<S: GenServer> Clone for GenServerRef<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: GenServer> Copy for GenServerRef<S> {}

impl<S: GenServer> std::fmt::Debug for GenServerRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GenServerRef<{}>({:?})",
            std::any::type_name::<S>(),
            self.pid
        )
    }
}

impl<S: GenServer> PartialEq for GenServerRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.pid == other.pid
    }
}

impl<S: GenServer> GenServerRef<S> {
    /// A handle for `pid`, trusted to be a server of type `S` (possibly a
    /// BEAM `gen_server` that speaks the same terms).
    pub fn from_pid(pid: Pid) -> Self {
        GenServerRef {
            pid,
            _server: PhantomData,
        }
    }

    /// The server registered as `name` on `node`, if any (`whereis(Name)`),
    /// trusted to be an `S`.
    pub fn whereis(node: &Node, name: Atom) -> Option<Self> {
        node.whereis(name).map(Self::from_pid)
    }

    /// The server's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// `gen_server:call(Server, Req, Timeout)`, typed.
    pub async fn call(
        &self,
        ctx: &mut Process,
        req: S::Call,
        timeout: Duration,
    ) -> Result<S::Reply, CallError>
    where
        S::Call: Serialize,
        S::Reply: DeserializeOwned,
    {
        if !ctx.node().is_local(&self.pid) {
            let req = etf::to_term(&req).map_err(|e| CallError::Encode(e.to_string()))?;
            let reply = call_term(ctx, self.pid, req, timeout).await?;
            return etf::from_term(&reply).map_err(|e| CallError::BadReply(e.to_string()));
        }
        if self.pid == ctx.pid() {
            return Err(CallError::CallingSelf);
        }
        let mref = ctx.monitor(&self.pid);
        let from = From {
            pid: ctx.pid(),
            tag: Tag::Local(mref.clone()),
        };
        ctx.send_local(&self.pid, Request::<S>::Call { from, req });
        let value = await_local_reply(ctx, &mref, timeout).await?;
        value.downcast::<S::Reply>().map(|b| *b).map_err(|_| {
            CallError::BadReply(format!("not a {}", std::any::type_name::<S::Reply>()))
        })
    }

    /// `gen_server:cast(Server, Msg)`, typed. Only fails if `msg` cannot
    /// be encoded for a remote server.
    pub fn cast(&self, ctx: &Process, msg: S::Cast) -> Result<(), CallError>
    where
        S::Cast: Serialize,
    {
        if ctx.node().is_local(&self.pid) {
            ctx.send_local(&self.pid, Request::<S>::Cast(msg));
        } else {
            let msg = etf::to_term(&msg).map_err(|e| CallError::Encode(e.to_string()))?;
            cast_term(ctx, self.pid, msg);
        }
        Ok(())
    }

    /// `gen_server:stop(Server, Reason, Timeout)`: asks the server to
    /// terminate with `reason` and waits until it has exited.
    pub async fn stop(
        &self,
        ctx: &mut Process,
        reason: Term,
        timeout: Duration,
    ) -> Result<(), CallError> {
        stop(ctx, self.pid, reason, timeout).await
    }
}

async fn await_local_reply(
    ctx: &mut Process,
    mref: &Reference,
    timeout: Duration,
) -> Result<Box<dyn Any + Send>, CallError> {
    let got = ctx
        .receive_match(
            |m| {
                m.downcast_ref::<CallReply>()
                    .is_some_and(|r| r.tag == *mref)
                    || is_down_for(m, mref)
            },
            Some(timeout),
        )
        .await;
    match got {
        Some(m) => match m.downcast::<CallReply>() {
            Ok(reply) => {
                ctx.demonitor(mref, true);
                Ok(reply.value)
            }
            Err(down) => Err(CallError::Exit(down_reason(&down))),
        },
        None => {
            ctx.demonitor(mref, true);
            ctx.abandon_reply(mref);
            Err(CallError::Timeout)
        }
    }
}

fn is_down_for(m: &Message, mref: &Reference) -> bool {
    m.is_tagged("DOWN")
        && m.as_term()
            .and_then(Term::as_tuple)
            .and_then(|t| t.get(1))
            .is_some_and(|r| matches!(r, Term::Reference(x) if x == mref))
}

fn down_reason(m: &Message) -> Term {
    m.as_term()
        .and_then(Term::as_tuple)
        .and_then(|t| t.get(4))
        .cloned()
        .unwrap_or_else(exit::noproc)
}

// ==== untyped client API =================================================

/// `gen:call(Dest, Label, Request, Timeout)`: sends `{Label, {Self, Ref}, Request}`,
/// monitors the server, and waits for `{Ref, Reply}`.
pub(crate) async fn gen_call(
    ctx: &mut Process,
    dest: Dest,
    label: &str,
    req: Term,
    timeout: Duration,
) -> Result<Term, CallError> {
    let (mref, target) = match dest {
        Dest::Pid(p) => {
            if p == ctx.pid() {
                return Err(CallError::CallingSelf);
            }
            (ctx.monitor(&p), Dest::Pid(p))
        }
        Dest::Name(name) => match ctx.whereis(name) {
            Some(p) if p == ctx.pid() => return Err(CallError::CallingSelf),
            Some(p) => (ctx.monitor(&p), Dest::Pid(p)),
            None => return Err(CallError::Exit(exit::noproc())),
        },
        Dest::Registered { name, node } => (
            ctx.monitor_name(name, node),
            Dest::Registered { name, node },
        ),
    };
    // A call to another node uses OTP 24+'s tag `[alias | Mref]`: the
    // server replies to the alias, which is gone once the call is over.
    let remote = match &target {
        Dest::Pid(p) => p.node != ctx.node().name(),
        Dest::Registered { node, .. } => *node != ctx.node().name(),
        Dest::Name(_) => false,
    };
    let tag = if remote {
        ctx.activate_alias(&mref);
        crate::alias::alias_tag(&mref)
    } else {
        Term::Reference(mref.clone())
    };
    let msg = Term::tuple(vec![
        Term::atom(label),
        Term::tuple(vec![Term::Pid(ctx.pid()), tag.clone()]),
        req,
    ]);
    // `{Name, Node} ! Msg` never fails; a pid send never fails.
    let _ = ctx.send_to(target.clone(), msg);
    let got = ctx
        .receive_match(
            |m| {
                matches!(m.as_term().and_then(Term::as_tuple), Some([t, _]) if *t == tag)
                    || is_down_for(m, &mref)
            },
            Some(timeout),
        )
        .await;
    if remote {
        ctx.unalias(&mref);
    }
    match got {
        Some(m) if m.is_tagged("DOWN") => {
            let reason = down_reason(&m);
            if reason.is_atom("noconnection") {
                // gen:call's exit for an unreachable node: {nodedown, Node}.
                let node = match &target {
                    Dest::Pid(p) => p.node,
                    Dest::Registered { node, .. } => *node,
                    Dest::Name(_) => ctx.node().name(),
                };
                return Err(CallError::Exit(Term::tuple(vec![
                    Term::atom("nodedown"),
                    Term::Atom(node),
                ])));
            }
            Err(CallError::Exit(reason))
        }
        Some(m) => {
            ctx.demonitor(&mref, true);
            match m.into_term() {
                Ok(Term::Tuple(mut items)) if items.len() == 2 => Ok(items.swap_remove(1)),
                _ => Err(CallError::BadReply("malformed reply".into())),
            }
        }
        None => {
            ctx.demonitor(&mref, true);
            ctx.abandon_reply(&mref);
            Err(CallError::Timeout)
        }
    }
}

/// `gen_server:call(Dest, Request, Timeout)` with terms: sends exactly
/// `{'$gen_call', {Self, Ref}, Request}`, monitors the server during the
/// call and returns the `Reply` of `{Ref, Reply}`. Works with any
/// gen_server, Rust or BEAM.
pub async fn call_term(
    ctx: &mut Process,
    dest: impl Into<Dest>,
    request: Term,
    timeout: Duration,
) -> Result<Term, CallError> {
    gen_call(ctx, dest.into(), "$gen_call", request, timeout).await
}

/// `gen_server:cast(Dest, Msg)` with terms: sends `{'$gen_cast', Msg}`.
/// Never fails (a cast to a name nobody holds is dropped, as in OTP).
pub fn cast_term(ctx: &Process, dest: impl Into<Dest>, msg: Term) {
    let _ = ctx.send_to(dest, Term::tuple(vec![Term::atom("$gen_cast"), msg]));
}

/// `gen_server:reply(From, Reply)`: answers a call the server took with
/// `CallResult::NoReply`. Fails only if `reply` cannot be encoded for an
/// Erlang caller.
pub fn reply<R: Serialize + Send + 'static>(
    ctx: &Process,
    from: &From,
    reply: R,
) -> Result<(), CallError> {
    match &from.tag {
        Tag::Local(tag) => {
            ctx.send_local(
                &from.pid,
                CallReply {
                    tag: tag.clone(),
                    value: Box::new(reply),
                },
            );
            Ok(())
        }
        Tag::Wire(tag) => {
            let value = etf::to_term(&reply).map_err(|e| CallError::BadReply(e.to_string()))?;
            crate::alias::reply(ctx, &from.pid, tag, value);
            Ok(())
        }
    }
}

/// [`reply`] with `from` given up: the tag goes into the reply message
/// as it is, unless a clone of `from` is still around.
fn reply_owned<R: Serialize + Send + 'static>(
    ctx: &Process,
    from: From,
    reply: R,
) -> Result<(), CallError> {
    match from.tag {
        Tag::Wire(tag) => {
            let value = etf::to_term(&reply).map_err(|e| CallError::BadReply(e.to_string()))?;
            let tag = Arc::try_unwrap(tag).unwrap_or_else(|shared| Term::clone(&shared));
            crate::alias::reply_owned(ctx, &from.pid, tag, value);
            Ok(())
        }
        Tag::Local(_) => self::reply(ctx, &from, reply),
    }
}

/// Replies a term to `from` (for system messages and term-level servers).
pub(crate) fn reply_term(ctx: &Process, from: &From, value: Term) {
    match &from.tag {
        Tag::Local(tag) => ctx.send_local(
            &from.pid,
            CallReply {
                tag: tag.clone(),
                value: Box::new(value),
            },
        ),
        Tag::Wire(tag) => crate::alias::reply(ctx, &from.pid, tag, value),
    }
}

/// `gen_server:stop(Server, Reason, Timeout)` (proc_lib:stop): sends
/// `sys:terminate`, then waits for the server's `'DOWN'`. `Ok` when it
/// exited with `reason`.
pub async fn stop(
    ctx: &mut Process,
    server: impl Into<Dest>,
    reason: Term,
    timeout: Duration,
) -> Result<(), CallError> {
    let dest = server.into();
    let pid = match &dest {
        Dest::Pid(p) => *p,
        Dest::Name(n) => ctx.whereis(*n).ok_or(CallError::Exit(exit::noproc()))?,
        Dest::Registered { .. } => {
            return gen_call(ctx, dest, "system", sys::terminate_request(reason), timeout)
                .await
                .map(|_| ());
        }
    };
    let mref = ctx.monitor(&pid);
    let msg = Term::tuple(vec![
        Term::atom("system"),
        Term::tuple(vec![Term::Pid(ctx.pid()), Term::Reference(mref.clone())]),
        sys::terminate_request(reason.clone()),
    ]);
    ctx.send(&pid, msg);
    let tag = Term::Reference(mref.clone());
    let got = ctx
        .receive_match(|m| is_down_for(m, &mref), Some(timeout))
        .await;
    // Drop the `{Ref, ok}` acknowledgement.
    while ctx
        .receive_match(
            |m| matches!(m.as_term().and_then(Term::as_tuple), Some([t, _]) if *t == tag),
            Some(Duration::ZERO),
        )
        .await
        .is_some()
    {}
    match got {
        Some(down) => {
            let r = down_reason(&down);
            if r == reason {
                Ok(())
            } else {
                Err(CallError::Exit(r))
            }
        }
        None => {
            ctx.demonitor(&mref, true);
            ctx.abandon_reply(&mref);
            Err(CallError::Timeout)
        }
    }
}

// ==== starting ===========================================================

enum InitAck {
    Started,
    Ignore,
    Stop(Term),
    AlreadyStarted(Pid),
}

/// `gen_server:start(M, Arg, Opts)`: starts an unlinked server from a process.
pub async fn start<S: GenServer>(
    ctx: &mut Process,
    arg: S::Arg,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError> {
    let node = ctx.node().clone();
    start_inner::<S>(&node, Parent::None, arg, opts).await
}

/// `gen_server:start_link(M, Arg, Opts)`: starts a server linked to `ctx`.
/// `init` has run when this returns (proc_lib semantics). When `init`
/// stops with a reason, the server exits with it, so a caller that does
/// not trap exits is killed by an abnormal reason, exactly as in OTP 25.
pub async fn start_link<S: GenServer>(
    ctx: &mut Process,
    arg: S::Arg,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError> {
    let node = ctx.node().clone();
    start_inner::<S>(&node, Parent::Starter(ctx), arg, opts).await
}

/// Starts a server linked to `parent`, which may be on another node, and
/// treats it as its parent (`{'EXIT', Parent, Reason}` while trapping exits
/// runs `terminate`). For a starter acting for another process: a
/// transport serving `ferrotp:start_link(Node, counter, 0)` for a BEAM
/// caller, or a supervisor's helper. `init` has run when this returns.
pub async fn start_link_for<S: GenServer>(
    node: &Node,
    parent: Pid,
    arg: S::Arg,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError> {
    start_inner::<S>(node, Parent::Pid(parent), arg, opts).await
}

/// `start_link` with the init argument given as a term (a child spec's
/// start arguments, a request from Erlang): decoded into `S::Arg` with
/// serde; an argument that does not decode fails the start with
/// `{badarg, Arg}` and starts nothing.
pub async fn start_link_term<S: GenServer>(
    ctx: &mut Process,
    arg: &Term,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError>
where
    S::Arg: DeserializeOwned,
{
    let arg = decode_arg::<S>(arg)?;
    start_link::<S>(ctx, arg, opts).await
}

/// [`start_link_for`] with the init argument given as a term (see [`start_link_term`]).
pub async fn start_link_for_term<S: GenServer>(
    node: &Node,
    parent: Pid,
    arg: &Term,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError>
where
    S::Arg: DeserializeOwned,
{
    let arg = decode_arg::<S>(arg)?;
    start_link_for::<S>(node, parent, arg, opts).await
}

/// [`start_on`] with the init argument given as a term (see [`start_link_term`]).
pub async fn start_on_term<S: GenServer>(
    node: &Node,
    arg: &Term,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError>
where
    S::Arg: DeserializeOwned,
{
    let arg = decode_arg::<S>(arg)?;
    start_on::<S>(node, arg, opts).await
}

fn decode_arg<S: GenServer>(arg: &Term) -> Result<S::Arg, StartError>
where
    S::Arg: DeserializeOwned,
{
    etf::from_term::<S::Arg>(arg).map_err(|e| {
        tracing::error!(error = %e, arg = %arg.limited(crate::LOG_TERM_BYTES), "gen_server: init argument does not decode");
        StartError::Stop(Term::tuple(vec![Term::atom("badarg"), arg.clone()]))
    })
}

/// Starts an unlinked server from outside any process (a `main`, a transport).
pub async fn start_on<S: GenServer>(
    node: &Node,
    arg: S::Arg,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError> {
    start_inner::<S>(node, Parent::None, arg, opts).await
}

/// Who a new server is linked to, as its parent.
enum Parent<'a> {
    /// Nobody (`gen_server:start`): the server is its own parent.
    None,
    /// The starting process (`gen_server:start_link`).
    Starter(&'a mut Process),
    /// Another process, possibly remote (a starter acting for it).
    Pid(Pid),
}

async fn start_inner<S: GenServer>(
    node: &Node,
    mut parent: Parent<'_>,
    arg: S::Arg,
    opts: Opts,
) -> Result<GenServerRef<S>, StartError> {
    let (ack_tx, ack_rx) = tokio::sync::oneshot::channel::<InitAck>();
    let (exit_tx, exit_rx) = tokio::sync::oneshot::channel::<Term>();
    let parent_pid = match &parent {
        Parent::None => None,
        Parent::Starter(p) => Some(p.pid()),
        Parent::Pid(p) => Some(*p),
    };
    let name = opts.name;
    let body = move |mut ctx: Process| async move {
        let parent = parent_pid.unwrap_or(ctx.pid());
        if let Some(n) = name {
            if let Err(crate::RegisterError::NameTaken(_)) = ctx.register(n) {
                let holder = ctx.whereis(n).unwrap_or(ctx.pid());
                let _ = ack_tx.send(InitAck::AlreadyStarted(holder));
                return exit::normal();
            }
        }
        let init = match guarded(S::init(arg, &mut ctx)).await {
            Ok(i) => i,
            Err(panic_reason) => {
                let _ = ack_tx.send(InitAck::Stop(panic_reason.clone()));
                return panic_reason;
            }
        };
        let (state, cont) = match init {
            Init::Ok(s) => (s, None),
            Init::Continue(s, c) => (s, Some(c)),
            Init::Stop(reason) => {
                if let Some(n) = name {
                    let _ = ctx.unregister(n);
                }
                let _ = ack_tx.send(InitAck::Stop(reason.clone()));
                return reason;
            }
            Init::Ignore => {
                if let Some(n) = name {
                    let _ = ctx.unregister(n);
                }
                let _ = ack_tx.send(InitAck::Ignore);
                return exit::normal();
            }
        };
        let _ = ack_tx.send(InitAck::Started);
        serve(state, cont, ctx, parent).await
    };
    let pid = match &mut parent {
        Parent::Starter(p) => {
            let me = p.pid();
            let shared = p.shared.clone();
            process::spawn_with(
                node,
                body,
                |st| {
                    st.rel().links.insert(me);
                    st.on_exit = Some(exit_tx);
                },
                |child| {
                    shared.state.lock().rel().links.insert(child);
                },
            )
        }
        Parent::Pid(far) => {
            let far = *far;
            process::spawn_with(
                node,
                body,
                |st| {
                    st.rel().links.insert(far);
                    st.on_exit = Some(exit_tx);
                },
                |child| {
                    node.book_link(child, far, true);
                    node.route(crate::Signal::Link {
                        from: child,
                        to: far,
                    });
                },
            )
        }
        Parent::None => process::spawn_with(node, body, |st| st.on_exit = Some(exit_tx), |_| {}),
    };
    let ack = match opts.timeout {
        Some(t) => match tokio::time::timeout(t, ack_rx).await {
            Ok(a) => a,
            Err(_) => {
                // proc_lib's kill_flush: unlink first, so the parent survives.
                match parent {
                    Parent::Starter(p) => p.unlink(&pid),
                    Parent::Pid(far) => node.route(crate::Signal::Unlink {
                        from: pid,
                        to: far,
                        id: 0,
                    }),
                    Parent::None => {}
                }
                node.exit(&pid, &pid, exit::kill());
                return Err(StartError::Timeout);
            }
        },
        None => ack_rx.await,
    };
    match ack {
        Ok(InitAck::Started) => Ok(GenServerRef::from_pid(pid)),
        Ok(InitAck::Ignore) => Err(StartError::Ignore),
        Ok(InitAck::Stop(r)) => Err(StartError::Stop(r)),
        Ok(InitAck::AlreadyStarted(p)) => Err(StartError::AlreadyStarted(p)),
        // Died before acknowledging (killed during init).
        Err(_) => Err(StartError::Stop(
            exit_rx.await.unwrap_or_else(|_| exit::noproc()),
        )),
    }
}

/// Runs a callback future, turning a panic into its exit reason so
/// `terminate` can still run.
async fn guarded<F: Future>(fut: F) -> Result<F::Output, Term> {
    let mut fut = pin!(fut);
    poll_fn(|cx| match crate::panic::catch_poll(fut.as_mut(), cx) {
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(reason) => Poll::Ready(Err(reason)),
    })
    .await
}

// ==== the server loop ====================================================

/// What the loop does after a callback.
enum Next<S: GenServer> {
    /// Keep serving (after `handle_continue` if given).
    Continue(Option<S::Continue>),
    /// Call `terminate`, then exit with the reason.
    Stop(Term),
    /// `terminate` already ran: exit with the reason.
    Exit(Term),
}

fn after_cast<S: GenServer>(r: Result<CastResult<S>, Term>) -> Next<S> {
    match r {
        Ok(CastResult::NoReply) => Next::Continue(None),
        Ok(CastResult::Continue(c)) => Next::Continue(Some(c)),
        Ok(CastResult::Stop(reason)) => Next::Stop(reason),
        Err(panic) => Next::Stop(panic),
    }
}

/// The receive loop: returns the exit reason once `terminate` has run.
async fn serve<S: GenServer>(
    mut state: S,
    mut cont: Option<S::Continue>,
    mut ctx: Process,
    parent: Pid,
) -> Term {
    // Waiting parked, where the host can hand it calls directly (see
    // `crate::direct`), if the host asks for that.
    let parked = park::offer::<S>(&ctx);
    let _unpark = parked.clone().map(park::Unpark);
    let mut sys = sys::Loop::default();
    loop {
        let next = if let Some(c) = cont.take() {
            after_cast(guarded(state.handle_continue(c, &mut ctx)).await)
        } else if let (Some(slot), false) = (&parked, sys.suspended || sys.debug.is_on()) {
            // (With debug options on, every message takes the ordinary
            // path below, where it is recorded.)
            let (s, c, woke) = slot.wait(state, ctx).await;
            state = s;
            ctx = c;
            match woke {
                park::Woke::Msg(msg) => {
                    handle_message(&mut state, msg, &mut sys, parent, &mut ctx).await
                }
                park::Woke::Call(result, from) => {
                    after_call(&mut state, result, from, &mut sys.debug, &mut ctx).await
                }
                park::Woke::Cast(result) => after_cast(result),
                park::Woke::Crashed(panic) => Next::Stop(panic),
            }
        } else {
            let msg = if sys.suspended {
                match ctx
                    .receive_match(
                        |m| {
                            sys::is_system_message(m)
                                || is_exit_from(m, parent)
                                || m.downcast_ref::<Request<S>>()
                                    .is_some_and(|r| matches!(r, Request::ReplaceState { .. }))
                        },
                        None,
                    )
                    .await
                {
                    Some(m) => m,
                    None => continue,
                }
            } else {
                ctx.receive().await
            };
            handle_message(&mut state, msg, &mut sys, parent, &mut ctx).await
        };
        match next {
            Next::Continue(c) => {
                if sys.debug.is_on() {
                    sys.debug
                        .settle(&sys::name_term(&ctx), || state.state_term());
                }
                cont = c
            }
            Next::Stop(reason) => return terminate(&mut state, reason, &mut ctx).await,
            Next::Exit(reason) => return reason,
        }
    }
}

/// One message taken from the mailbox.
async fn handle_message<S: GenServer>(
    state: &mut S,
    msg: Message,
    sys: &mut sys::Loop,
    parent: Pid,
    ctx: &mut Process,
) -> Next<S> {
    match msg {
        Message::Local(b) => match b.downcast::<Request<S>>() {
            Ok(req) => {
                match &*req {
                    Request::Call { from, .. } => {
                        debug_in(&mut sys.debug, ctx, || call_event(from, rust_value()))
                    }
                    Request::Cast(_) => debug_in(&mut sys.debug, ctx, || cast_event(rust_value())),
                    Request::ReplaceState { .. } => {}
                }
                handle_request(state, *req, &mut sys.debug, ctx).await
            }
            Err(other) => {
                debug_in(&mut sys.debug, ctx, rust_value);
                after_cast(guarded(state.handle_info(Message::Local(other), ctx)).await)
            }
        },
        Message::Term(mut t) => match classify(&mut t, parent) {
            Incoming::Call(from, req) => {
                debug_in(&mut sys.debug, ctx, || call_event(&from, req.clone()));
                match etf::from_term::<S::Call>(req) {
                    Ok(req) => handle_call(state, req, from, &mut sys.debug, ctx).await,
                    Err(e) => {
                        tracing::error!(pid = %ctx.pid(), error = %e, request = %req.limited(crate::LOG_TERM_BYTES), "gen_server: call does not decode");
                        Next::Stop(Term::tuple(vec![Term::atom("bad_call"), req.clone()]))
                    }
                }
            }
            Incoming::Cast(msg) => {
                debug_in(&mut sys.debug, ctx, || cast_event(msg.clone()));
                match etf::from_term::<S::Cast>(msg) {
                    Ok(msg) => after_cast(guarded(state.handle_cast(msg, ctx)).await),
                    Err(e) => {
                        tracing::error!(pid = %ctx.pid(), error = %e, msg = %msg.limited(crate::LOG_TERM_BYTES), "gen_server: cast does not decode");
                        Next::Stop(Term::tuple(vec![Term::atom("bad_cast"), msg.clone()]))
                    }
                }
            }
            Incoming::System(from, req)
                if S::REPLACES_STATE_TERM && sys::is_replace_by_fun(req) =>
            {
                sys::replace_state_by_fun(state, &from, req, ctx).await;
                Next::Continue(None)
            }
            Incoming::System(from, req) => {
                match sys::handle_system(state, &from, req, sys, parent, ctx) {
                    sys::Outcome::Continue => Next::Continue(None),
                    sys::Outcome::Terminate(reason) => Next::Stop(reason),
                }
            }
            Incoming::ParentExit(reason) => Next::Stop(reason.clone()),
            Incoming::Info => {
                debug_in(&mut sys.debug, ctx, || t.clone());
                after_cast(guarded(state.handle_info(Message::Term(t), ctx)).await)
            }
        },
    }
}

/// Records `{in, Msg}` if any debug option is on (`msg` is only made
/// then; a Rust value shows as `rust_value`: see `crate::debug`).
fn debug_in(debug: &mut Debug, ctx: &Process, msg: impl FnOnce() -> Term) {
    if debug.is_on() {
        debug.message_in(&sys::name_term(ctx), msg());
    }
}

/// `{'$gen_call', From, Request}`, as a debug event shows a call.
fn call_event(from: &From, req: Term) -> Term {
    Term::tuple(vec![Term::atom("$gen_call"), from.to_term(), req])
}

/// `{'$gen_cast', Msg}`, as a debug event shows a cast.
fn cast_event(msg: Term) -> Term {
    Term::tuple(vec![Term::atom("$gen_cast"), msg])
}

/// What a debug event shows for a Rust value that is not a term.
fn rust_value() -> Term {
    Term::atom("rust_value")
}

async fn handle_request<S: GenServer>(
    state: &mut S,
    req: Request<S>,
    debug: &mut Debug,
    ctx: &mut Process,
) -> Next<S> {
    match req {
        Request::Call { from, req } => handle_call(state, req, from, debug, ctx).await,
        Request::Cast(msg) => after_cast(guarded(state.handle_cast(msg, ctx)).await),
        Request::ReplaceState { from, f } => {
            let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(state)));
            let answer = match applied {
                Ok(()) => state.state_term(),
                Err(_) => Term::tuple(vec![
                    Term::atom("error"),
                    Term::tuple(vec![
                        Term::atom("callback_failed"),
                        Term::atom("replace_state"),
                    ]),
                ]),
            };
            reply_term(ctx, &from, answer);
            Next::Continue(None)
        }
    }
}

async fn handle_call<S: GenServer>(
    state: &mut S,
    req: S::Call,
    from: From,
    debug: &mut Debug,
    ctx: &mut Process,
) -> Next<S> {
    let result = match crate::panic::catch(|| state.handle_call_now(req, ctx)) {
        Ok(CallNow::Reply(r)) => Ok(CallResult::Reply(r)),
        Ok(CallNow::Later(req)) => guarded(state.handle_call(req, from.clone(), ctx)).await,
        Err(panic) => Err(panic),
    };
    after_call(state, result, from, debug, ctx).await
}

/// What the loop does with a call's result (sends the reply, or stops).
async fn after_call<S: GenServer>(
    state: &mut S,
    result: Result<CallResult<S>, Term>,
    from: From,
    debug: &mut Debug,
    ctx: &mut Process,
) -> Next<S> {
    // `{out, Reply, From, State}` for the debug options, if on: the reply
    // as a term before it goes.
    let caller = debug.is_on().then(|| from.to_term());
    let out = |r: &S::Reply| {
        let caller = caller.clone()?;
        etf::to_term(r).ok().map(|t| (t, caller))
    };
    // At most one arm below replies: it takes `from` with it.
    let send = move |ctx: &Process, r: S::Reply| -> Option<Term> {
        reply_owned(ctx, from, r).err().map(|e| e.reason())
    };
    let record = |debug: &mut Debug, ctx: &Process, state: &S, out: Option<(Term, Term)>| {
        if let Some((reply, from)) = out {
            debug.reply_out(&sys::name_term(ctx), reply, from, state.state_term());
        }
    };
    match result {
        Ok(CallResult::Reply(r)) => {
            let out = out(&r);
            match send(ctx, r) {
                None => {
                    record(debug, ctx, state, out);
                    Next::Continue(None)
                }
                Some(bad) => Next::Stop(bad),
            }
        }
        Ok(CallResult::ReplyContinue(r, c)) => {
            let out = out(&r);
            match send(ctx, r) {
                None => {
                    record(debug, ctx, state, out);
                    Next::Continue(Some(c))
                }
                Some(bad) => Next::Stop(bad),
            }
        }
        Ok(CallResult::NoReply) => Next::Continue(None),
        Ok(CallResult::NoReplyContinue(c)) => Next::Continue(Some(c)),
        Ok(CallResult::Stop { reason, reply: r }) => {
            // OTP: terminate first, then the reply.
            let reason = terminate(state, reason, ctx).await;
            if let Some(r) = r {
                let _ = send(ctx, r);
            }
            Next::Exit(reason)
        }
        Err(panic) => Next::Stop(panic),
    }
}

async fn terminate<S: GenServer>(state: &mut S, reason: Term, ctx: &mut Process) -> Term {
    let reason = match guarded(state.terminate(&reason, ctx)).await {
        Ok(()) => reason,
        Err(panic) => panic,
    };
    if !exit::is_orderly(&reason) {
        // OTP's "** Generic server X terminating" error report.
        let name = ctx.registered_name().map(|n| n.as_str()).unwrap_or("[]");
        let state = state.state_term();
        tracing::error!(
            target: "ferrotp::gen_server",
            pid = %ctx.pid(),
            registered_name = name,
            state = %state.limited(crate::LOG_TERM_BYTES),
            reason = %reason.limited(crate::LOG_TERM_BYTES),
            "generic server terminating"
        );
        ctx.set_report_state(state);
    }
    reason
}

/// What an incoming term is, for a gen_server.
enum Incoming<'a> {
    Call(From, &'a Term),
    Cast(&'a Term),
    System(From, &'a Term),
    ParentExit(&'a Term),
    Info,
}

/// What a message is. A call's or system message's tag is moved out of
/// the message into its `From` (the message is not used again then), not
/// copied.
fn classify(t: &mut Term, parent: Pid) -> Incoming<'_> {
    let with_from = matches!(
        t.as_tuple(),
        Some([label, Term::Tuple(from), _])
            if (label.is_atom("$gen_call") || label.is_atom("system"))
                && matches!(from.as_slice(), [Term::Pid(_), _])
    );
    if with_from {
        if let Term::Tuple(items) = t {
            if let [label, from, req] = items.as_mut_slice() {
                let call = label.is_atom("$gen_call");
                if let Some(from) = From::take_from_term(from) {
                    let req: &Term = req;
                    return if call {
                        Incoming::Call(from, req)
                    } else {
                        Incoming::System(from, req)
                    };
                }
            }
        }
        return Incoming::Info;
    }
    match t.as_tuple() {
        Some([label, msg]) if label.is_atom("$gen_cast") => Incoming::Cast(msg),
        Some([label, Term::Pid(p), reason]) if label.is_atom("EXIT") && *p == parent => {
            Incoming::ParentExit(reason)
        }
        _ => Incoming::Info,
    }
}

fn is_exit_from(m: &Message, parent: Pid) -> bool {
    matches!(m.as_term().and_then(Term::as_tuple), Some([l, Term::Pid(p), _]) if l.is_atom("EXIT") && *p == parent)
}

/// Sends a typed `replace_state` to a local server (used by `sys`).
pub(crate) async fn replace_state_local<S: GenServer>(
    ctx: &mut Process,
    server: &GenServerRef<S>,
    f: Box<dyn FnOnce(&mut S) + Send>,
    timeout: Duration,
) -> Result<Term, CallError> {
    let mref = ctx.monitor(&server.pid);
    let from = From {
        pid: ctx.pid(),
        tag: Tag::Local(mref.clone()),
    };
    ctx.send_local(&server.pid, Request::<S>::ReplaceState { from, f });
    let value = await_local_reply(ctx, &mref, timeout).await?;
    value
        .downcast::<Term>()
        .map(|b| *b)
        .map_err(|_| CallError::BadReply("not a term".into()))
}

// ==== as a registry behaviour ============================================

/// A typed server as a process [`Body`](crate::start::Body) started with
/// `arg`: `init` runs in the new process and its outcome is acknowledged
/// through [`start::Init`](crate::start::Init) (`{ok, Pid}`, `ignore`,
/// `{error, Reason}`), as `gen_server:init_it` acknowledges to
/// `proc_lib:start_link`. The parent is the process waiting for the ack.
pub fn body<S: GenServer>(arg: S::Arg) -> crate::start::Body {
    crate::start::body(
        move |mut ctx: Process, mut ack: crate::start::Init| async move {
            let parent = ack.parent().unwrap_or(ctx.pid());
            let (state, cont) = match guarded(S::init(arg, &mut ctx)).await {
                Ok(Init::Ok(s)) => (s, None),
                Ok(Init::Continue(s, c)) => (s, Some(c)),
                Ok(Init::Stop(reason)) | Err(reason) => {
                    ack.error(reason.clone());
                    return reason;
                }
                Ok(Init::Ignore) => {
                    ack.ignore();
                    return exit::normal();
                }
            };
            ack.ok();
            serve(state, cont, ctx, parent).await
        },
    )
}

/// A typed server as a [`Behaviour`](crate::behaviours::Behaviour) for
/// [`behaviours::register`](crate::behaviours::register): the init
/// argument term is decoded into `S::Arg` with serde (a term that does not
/// decode fails the start with `{badarg, Term}`).
///
/// ```ignore
/// behaviours::register(Atom::new("stack"), gen_server::behaviour::<Stack>());
/// // Erlang: ferrotp:start_link(stack, [1, 2]); child spec {stack, start_link, [[1, 2]]}
/// ```
pub fn behaviour<S>() -> impl Fn(Term) -> Result<crate::start::Body, Term> + Send + Sync + 'static
where
    S: GenServer,
    S::Arg: DeserializeOwned,
{
    |arg: Term| match etf::from_term::<S::Arg>(&arg) {
        Ok(a) => Ok(body::<S>(a)),
        Err(_) => Err(Term::tuple(vec![Term::atom("badarg"), arg])),
    }
}

/// Runs server `S` in the calling process (OTP's `gen_server:init_it`):
/// `init`, acknowledged through `ack` as `proc_lib:init_ack` does, then
/// the server loop; returns the exit reason. For process bodies started
/// by someone else: the behaviour registry ([`crate::behaviours`]) and
/// transports that spawn the process themselves.
///
/// ```
/// # use ferrotp::gen_server::{self, GenServer, Init};
/// # use ferrotp::{start, Node, Process};
/// struct Idle;
/// impl GenServer for Idle {
///     type Arg = (); type Call = (); type Reply = (); type Cast = (); type Continue = ();
///     async fn init(_: (), _: &mut Process) -> Init<Self> { Init::Ok(Idle) }
/// }
/// Node::local().block_on_process(|mut ctx| async move {
///     let body = start::body(|c, ack| gen_server::enter::<Idle>(c, ack, ()));
///     let started = start::start_body(&mut ctx, None, Vec::new(), body).await;
///     assert!(matches!(started, Ok(start::Started::Ok(_))));
/// }).unwrap();
/// ```
pub async fn enter<S: GenServer>(
    mut ctx: Process,
    mut ack: crate::start::Init,
    arg: S::Arg,
) -> Term {
    let parent = ack.parent().unwrap_or(ctx.pid());
    let init = match guarded(S::init(arg, &mut ctx)).await {
        Ok(i) => i,
        Err(panic_reason) => {
            ack.error(panic_reason.clone());
            return panic_reason;
        }
    };
    let (state, cont) = match init {
        Init::Ok(s) => (s, None),
        Init::Continue(s, c) => (s, Some(c)),
        Init::Stop(reason) => {
            if let Some(n) = ctx.registered_name() {
                let _ = ctx.unregister(n);
            }
            ack.error(reason.clone());
            return reason;
        }
        Init::Ignore => {
            if let Some(n) = ctx.registered_name() {
                let _ = ctx.unregister(n);
            }
            ack.ignore();
            return exit::normal();
        }
    };
    ack.ok();
    serve(state, cont, ctx, parent).await
}

// ==== waiting parked, for direct calls ===================================

/// A server waiting where its host can reach it (see [`crate::direct`]):
/// between messages its state and context sit in a [`Slot`] instead of
/// the server loop's stack, so the host can run the next call or cast on
/// them directly while it holds the process's task.
mod park {
    use std::future::poll_fn;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use etf::{Pid, Term};
    use parking_lot::Mutex;

    use super::{guarded, CallResult, CastResult, From, GenServer, Tag};
    use crate::direct::{Direct, DirectServer};
    use crate::mailbox::Message;
    use crate::process::Process;
    use crate::start::BoxFuture;

    /// What woke a parked server.
    pub(super) enum Woke<S: GenServer> {
        /// The next message of its mailbox.
        Msg(Message),
        /// A direct call's result, for the loop to finish.
        Call(Result<CallResult<S>, Term>, From),
        /// A direct cast's result, for the loop to finish.
        Cast(Result<CastResult<S>, Term>),
        /// A direct `handle_call_now` panicked with this reason.
        Crashed(Term),
    }

    type Running<S> = BoxFuture<'static, (S, Process, Woke<S>)>;

    enum Parked<S: GenServer> {
        /// Waiting for a message (in the loop's `receive`).
        Idle(S, Process),
        /// A direct callback that did not finish at once.
        Running(Running<S>),
        /// A direct callback's result the loop must finish.
        Woken(S, Process, Woke<S>),
        /// With the loop (or the process is gone).
        Away,
    }

    /// The parking place of one server.
    pub(super) struct Slot<S: GenServer> {
        parked: Mutex<Parked<S>>,
        /// The process's drain count when its mailbox was last seen empty
        /// (and it was not exiting) while parked idle; `u64::MAX` when
        /// unknown. While the count, the mail flag and the exit flag are
        /// unchanged, it still is: checking that takes no lock.
        quiet: AtomicU64,
    }

    /// Drops what is parked when the server loop is dropped (its process
    /// killed while waiting), as the loop's own stack would have been.
    pub(super) struct Unpark<S: GenServer>(pub(super) Arc<Slot<S>>);

    impl<S: GenServer> Drop for Unpark<S> {
        fn drop(&mut self) {
            let parked = std::mem::replace(&mut *self.0.parked.lock(), Parked::Away);
            drop(parked);
        }
    }

    /// A slot, if the process's executor takes direct servers.
    pub(super) fn offer<S: GenServer>(ctx: &Process) -> Option<Arc<Slot<S>>> {
        let host = ctx.node.executor()?;
        let slot = Arc::new(Slot {
            parked: Mutex::new(Parked::Away),
            quiet: AtomicU64::new(u64::MAX),
        });
        host.direct_server(ctx.pid(), slot.clone()).then_some(slot)
    }

    /// The next message, as `receive` takes it: `None` (and the task woken
    /// again) when the process is exiting, so the task's top level ends it.
    fn poll_next(ctx: &Process, cx: &mut Context<'_>) -> Poll<Message> {
        ctx.shared.drain(&ctx.node, Some(cx.waker()));
        let mut st = ctx.shared.state.lock();
        if st.exiting.is_some() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut scanned = 0;
        match st.mailbox.take_match(&mut scanned, &mut |_| true) {
            Some(m) => Poll::Ready(m),
            None => Poll::Pending,
        }
    }

    /// Puts casts taken directly but not handled back at the head of the
    /// mailbox, in order (as typed requests, which the loop handles as it
    /// handles `'$gen_cast'`).
    fn requeue<S: GenServer>(ctx: &Process, casts: impl DoubleEndedIterator<Item = S::Cast>) {
        let mut st = ctx.shared.state.lock();
        for msg in casts.rev() {
            st.mailbox
                .push_front(Message::Local(Box::new(super::Request::<S>::Cast(msg))));
        }
    }

    impl<S: GenServer> Slot<S> {
        /// Nothing waits for the process: a message handed to it now is
        /// the next one its `receive` would take. No lock when nothing has
        /// happened to its mailbox since it was last seen empty.
        fn is_idle(&self, ctx: &Process) -> bool {
            let shared = &ctx.shared;
            if !shared.has_mail()
                && !shared.may_exit()
                && self.quiet.load(Ordering::Relaxed) == shared.drains()
            {
                return true;
            }
            if shared.has_mail() {
                shared.drain(&ctx.node, None);
            }
            let st = shared.state.lock();
            let idle = st.exiting.is_none() && st.mailbox.len() == 0;
            if idle {
                self.quiet.store(shared.drains(), Ordering::Relaxed);
            }
            idle
        }

        /// Parks `state` and `ctx` until a message or a direct callback
        /// wakes the server; gives them back with what woke it.
        pub(super) async fn wait(&self, state: S, ctx: Process) -> (S, Process, Woke<S>) {
            *self.parked.lock() = Parked::Idle(state, ctx);
            poll_fn(|cx| {
                let mut slot = self.parked.lock();
                match std::mem::replace(&mut *slot, Parked::Away) {
                    Parked::Idle(state, ctx) => match poll_next(&ctx, cx) {
                        Poll::Ready(m) => Poll::Ready((state, ctx, Woke::Msg(m))),
                        Poll::Pending => {
                            if !ctx.shared.may_exit() {
                                // Empty, seen under the state lock just now.
                                self.quiet.store(ctx.shared.drains(), Ordering::Relaxed);
                            }
                            *slot = Parked::Idle(state, ctx);
                            Poll::Pending
                        }
                    },
                    Parked::Running(mut running) => match running.as_mut().poll(cx) {
                        Poll::Ready(done) => Poll::Ready(done),
                        Poll::Pending => {
                            *slot = Parked::Running(running);
                            Poll::Pending
                        }
                    },
                    Parked::Woken(state, ctx, woke) => Poll::Ready((state, ctx, woke)),
                    Parked::Away => Poll::Pending,
                }
            })
            .await
        }

        /// Takes the parked state and context if the server is idle.
        fn take_idle(&self) -> Option<(S, Process)> {
            let mut slot = self.parked.lock();
            match &*slot {
                Parked::Idle(_, ctx) if self.is_idle(ctx) => {}
                _ => return None,
            }
            // Callbacks may leave messages in the mailbox (`requeue`).
            self.quiet.store(u64::MAX, Ordering::Relaxed);
            match std::mem::replace(&mut *slot, Parked::Away) {
                Parked::Idle(state, ctx) => Some((state, ctx)),
                other => {
                    *slot = other;
                    None
                }
            }
        }

        /// Runs a direct callback once; parks what it left.
        fn run(&self, mut running: Running<S>, cx: &mut Context<'_>) -> Direct {
            match running.as_mut().poll(cx) {
                Poll::Ready((state, ctx, Woke::Call(Ok(CallResult::Reply(r)), from))) => {
                    match etf::to_term(&r) {
                        Ok(reply) => {
                            *self.parked.lock() = Parked::Idle(state, ctx);
                            Direct::Replied(reply)
                        }
                        // The loop fails the call as `reply/3` does.
                        Err(_) => {
                            let woke = Woke::Call(Ok(CallResult::Reply(r)), from);
                            *self.parked.lock() = Parked::Woken(state, ctx, woke);
                            Direct::Poll
                        }
                    }
                }
                Poll::Ready((state, ctx, Woke::Cast(Ok(CastResult::NoReply)))) => {
                    *self.parked.lock() = Parked::Idle(state, ctx);
                    Direct::Done
                }
                Poll::Ready((state, ctx, woke)) => {
                    *self.parked.lock() = Parked::Woken(state, ctx, woke);
                    Direct::Poll
                }
                Poll::Pending => {
                    *self.parked.lock() = Parked::Running(running);
                    Direct::Poll
                }
            }
        }
    }

    impl<S: GenServer> DirectServer for Slot<S> {
        fn call_now(
            &self,
            caller: Pid,
            tag: &mut dyn FnMut() -> Term,
            request: &Term,
            cx: &mut Context<'_>,
        ) -> Direct {
            // A request that does not decode crashes the server: the
            // ordinary path does that (and logs why).
            let Ok(request) = etf::from_term::<S::Call>(request) else {
                return Direct::Queue;
            };
            let mut slot = self.parked.lock();
            let Parked::Idle(state, ctx) = &mut *slot else {
                return Direct::Queue;
            };
            if !self.is_idle(ctx) {
                return Direct::Queue;
            }
            // `handle_call_now` on the parked state, in place.
            let now = crate::panic::catch(|| state.handle_call_now(request, ctx));
            let from = |tag: &mut dyn FnMut() -> Term| From {
                pid: caller,
                tag: Tag::Wire(Arc::new(tag())),
            };
            let woke = match now {
                Ok(super::CallNow::Reply(r)) => match etf::to_term(&r) {
                    Ok(reply) => return Direct::Replied(reply),
                    // The loop fails the call as `reply/3` does.
                    Err(_) => Woke::Call(Ok(CallResult::Reply(r)), from(tag)),
                },
                Ok(super::CallNow::Later(request)) => {
                    let Parked::Idle(mut state, mut ctx) =
                        std::mem::replace(&mut *slot, Parked::Away)
                    else {
                        return Direct::Queue;
                    };
                    self.quiet.store(u64::MAX, Ordering::Relaxed);
                    drop(slot);
                    let from = from(tag);
                    return self.run(
                        Box::pin(async move {
                            let result =
                                guarded(state.handle_call(request, from.clone(), &mut ctx)).await;
                            (state, ctx, Woke::Call(result, from))
                        }),
                        cx,
                    );
                }
                Err(panic) => Woke::Crashed(panic),
            };
            // Finished, but not with a reply the host sends: the loop
            // finishes it in the process's task.
            if let Parked::Idle(state, ctx) = std::mem::replace(&mut *slot, Parked::Away) {
                *slot = Parked::Woken(state, ctx, woke);
            }
            Direct::Poll
        }

        fn casts(&self, msgs: &[Term], cx: &mut Context<'_>) -> (usize, Direct) {
            // The casts that decode, up to the first that does not (the
            // ordinary path crashes the server with it, and logs why).
            let decoded: Vec<S::Cast> = msgs
                .iter()
                .map_while(|m| etf::from_term::<S::Cast>(m).ok())
                .collect();
            if decoded.is_empty() {
                return (0, Direct::Queue);
            }
            let Some((mut state, mut ctx)) = self.take_idle() else {
                return (0, Direct::Queue);
            };
            let taken = decoded.len();
            let outcome = self.run(
                Box::pin(async move {
                    let mut casts = decoded.into_iter();
                    while let Some(msg) = casts.next() {
                        match guarded(state.handle_cast(msg, &mut ctx)).await {
                            Ok(CastResult::NoReply) => {}
                            other => {
                                // The rest wait in the mailbox, first in
                                // line, as they would have.
                                requeue::<S>(&ctx, casts);
                                return (state, ctx, Woke::Cast(other));
                            }
                        }
                    }
                    (state, ctx, Woke::Cast(Ok(CastResult::NoReply)))
                }),
                cx,
            );
            (taken, outcome)
        }
    }
}
