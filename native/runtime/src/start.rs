//! Synchronous starts: a parent waits until its new child has initialised.
//!
//! OTP's `proc_lib:start_link/3` spawns a linked process and blocks until
//! the child calls `proc_lib:init_ack/1`; `gen_server:start_link/4` is built
//! on it, and so is every `start` function a supervisor calls. This module
//! is the same contract for Rust process bodies:
//!
//! | Erlang                                            | Rust                                     |
//! |---------------------------------------------------|------------------------------------------|
//! | `proc_lib:start_link(M, F, A)`                    | `start::start_link(&mut ctx, name, body).await` |
//! | `proc_lib:init_ack({ok, self()})`                 | `init.ok()`                              |
//! | `proc_lib:init_ack(ignore), exit(normal)`         | `init.ignore(); return Ok(())`           |
//! | `proc_lib:init_ack({error, R}), exit(R)`          | `init.error(r.clone()); return Err(r)`   |
//! | `{ok, Pid}` / `ignore` / `{error, Reason}`        | `Ok(Started::Ok(pid))` / `Ok(Started::Ignore)` / `Err(reason)` |
//!
//! A body that dies before acknowledging makes the start fail with the
//! body's exit reason (`{error, Reason}`), exactly as `proc_lib` reports a
//! child that crashed in `init/1`. When the parent traps exits, the
//! child's `{'EXIT', Child, Reason}` message is consumed by the start (as
//! `proc_lib:sync_start_link` does); otherwise the link kills the parent
//! too, as in OTP.
//!
//! With a `name`, the child registers itself before its body runs; if the
//! name is taken the start returns `{already_started, Pid}` and the child
//! exits `normal`.
//!
//! ```
//! use ferrotp::start::{self, Started};
//! use ferrotp::Node;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let started = start::start_link(&mut ctx, None, |_child, mut init| async move {
//!         init.ok(); // {ok, Pid} to the parent
//!         std::future::pending::<()>().await
//!     })
//!     .await;
//!     assert!(matches!(started, Ok(Started::Ok(_))));
//! }).unwrap();
//! ```

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use etf::{Atom, Pid, Term};
use tokio::sync::oneshot;

use crate::exit::IntoExitReason;
use crate::process::Process;

/// A boxed, sendable future (what trait objects in this crate return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A process body that acknowledges its start through [`Init`]; built
/// fresh for every (re)start. Its output is the process's exit reason.
pub type Body = Box<dyn FnOnce(Process, Init) -> BoxFuture<'static, Term> + Send>;

/// Boxes an async closure into a [`Body`].
pub fn body<F, Fut, R>(f: F) -> Body
where
    F: FnOnce(Process, Init) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoExitReason + 'static,
{
    Box::new(move |ctx, init| Box::pin(async move { f(ctx, init).await.into_exit_reason() }))
}

/// A successful start, as a supervisor's start function returns it.
#[derive(Clone, Debug, PartialEq)]
pub enum Started {
    /// `{ok, Pid}`.
    Ok(Pid),
    /// `{ok, Pid, Info}` (only starts on the BEAM side return extra info).
    OkInfo(Pid, Term),
    /// `ignore`: the child chose not to run; there is no process.
    Ignore,
    /// A child started on the far side of a boundary through a stand-in
    /// that the supervisor links to and shuts down (as OTP's
    /// `supervisor_bridge` stands between a supervisor and a process it
    /// did not start itself). The supervisor manages `via`; what users see
    /// (`which_children`, `start_child`'s `{ok, Child}`, reports) is `child`.
    Via {
        /// The stand-in the supervisor is linked to; it exits with the
        /// child's reason.
        via: Pid,
        /// The started process itself.
        child: Pid,
        /// `Info` of an `{ok, Child, Info}` start.
        info: Option<Term>,
    },
}

impl Started {
    /// The pid, if a process was started.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            Started::Ok(p) | Started::OkInfo(p, _) | Started::Via { via: p, .. } => Some(*p),
            Started::Ignore => None,
        }
    }

    /// The pid users see, as a `start_link` caller gets it; `ignore` is
    /// `Err(ignore)`.
    pub fn into_pid(self) -> Result<Pid, Term> {
        self.shown_pid().ok_or_else(|| Term::atom("ignore"))
    }

    /// The pid users see: the started process itself, also when the
    /// supervisor manages it through a [`Started::Via`] stand-in.
    pub fn shown_pid(&self) -> Option<Pid> {
        match self {
            Started::Via { child, .. } => Some(*child),
            other => other.pid(),
        }
    }

    /// The start function's return value in Erlang: `{ok, Pid}`,
    /// `{ok, Pid, Info}` or `ignore`.
    pub fn to_term(&self) -> Term {
        match self {
            Started::Ok(p) => Term::tuple(vec![Term::atom("ok"), Term::Pid(*p)]),
            Started::OkInfo(p, info) => {
                Term::tuple(vec![Term::atom("ok"), Term::Pid(*p), info.clone()])
            }
            Started::Ignore => Term::atom("ignore"),
            Started::Via { child, info, .. } => match info {
                None => Term::tuple(vec![Term::atom("ok"), Term::Pid(*child)]),
                Some(info) => Term::tuple(vec![Term::atom("ok"), Term::Pid(*child), info.clone()]),
            },
        }
    }

    /// Reads a start function's return value: `{ok, Pid}`, `{ok, Pid, Info}`,
    /// `ignore`; `{error, R}` is `Err(R)` and anything else `Err(Other)`,
    /// as `supervisor` reads what a start MFA returned.
    pub fn from_term(t: &Term) -> Result<Started, Term> {
        match t {
            Term::Atom(a) if a.as_str() == "ignore" => Ok(Started::Ignore),
            Term::Tuple(items) => match items.as_slice() {
                [ok, Term::Pid(p)] if ok.is_atom("ok") => Ok(Started::Ok(*p)),
                [ok, Term::Pid(p), info] if ok.is_atom("ok") => {
                    Ok(Started::OkInfo(*p, info.clone()))
                }
                [e, reason] if e.is_atom("error") => Err(reason.clone()),
                _ => Err(t.clone()),
            },
            other => Err(other.clone()),
        }
    }
}

/// What a started body acknowledged (`proc_lib:init_ack/1`'s argument).
#[derive(Debug, Clone, PartialEq)]
pub enum Ack {
    /// `{ok, self()}`.
    Ok,
    /// `ignore`.
    Ignore,
    /// `{error, Reason}`.
    Error(Term),
}

/// The child's side of a synchronous start (`proc_lib:init_ack/1`), and
/// the extra start arguments (a `simple_one_for_one` supervisor's
/// `start_child(Sup, ExtraArgs)`; empty otherwise).
pub struct Init {
    /// Extra start arguments, appended to the child spec's own.
    pub args: Vec<Term>,
    parent: Option<Pid>,
    ack: Option<oneshot::Sender<Ack>>,
}

impl std::fmt::Debug for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Init")
            .field("args", &self.args)
            .field("acked", &self.ack.is_none())
            .finish()
    }
}

impl Init {
    /// An `Init` whose acknowledgement the caller reads from the returned
    /// receiver: for a host that starts a body itself and cannot `await`
    /// (the NIF polls it from a BEAM process and checks for the ack after
    /// each poll with `try_recv`). `parent` is what [`Init::parent`] says.
    pub fn attached(args: Vec<Term>, parent: Option<Pid>) -> (Init, oneshot::Receiver<Ack>) {
        let (tx, rx) = oneshot::channel();
        (
            Init {
                args,
                parent,
                ack: Some(tx),
            },
            rx,
        )
    }

    /// An `Init` whose acknowledgement goes nowhere (for bodies run
    /// without a waiting parent).
    pub fn detached(args: Vec<Term>) -> Init {
        Init {
            args,
            parent: None,
            ack: None,
        }
    }

    /// The process that started this one and waits for the
    /// acknowledgement (OTP's `Parent`), if any.
    pub fn parent(&self) -> Option<Pid> {
        self.parent
    }

    /// The same acknowledgement, but with `parent` as the process's OTP
    /// `Parent` (the process it is linked to and whose exit it obeys): for
    /// a start made on behalf of another process, as a remote
    /// `ferrotp:start_link(Node, ...)` is made for its Erlang caller.
    pub fn on_behalf_of(mut self, parent: Pid) -> Init {
        self.parent = Some(parent);
        self
    }

    /// Initialised: the parent's start returns `{ok, Pid}`. Later calls do nothing.
    pub fn ok(&mut self) {
        self.send(Ack::Ok);
    }

    /// The parent's start returns `ignore`; the body should then end `normal`.
    pub fn ignore(&mut self) {
        self.send(Ack::Ignore);
    }

    /// The parent's start returns `{error, Reason}`; the body should then
    /// end with `reason`.
    pub fn error(&mut self, reason: Term) {
        self.send(Ack::Error(reason));
    }

    /// `true` once acknowledged.
    pub fn is_acked(&self) -> bool {
        self.ack.is_none()
    }

    fn send(&mut self, ack: Ack) {
        if let Some(tx) = self.ack.take() {
            let _ = tx.send(ack);
        }
    }
}

/// `{already_started, Pid}`.
pub fn already_started(pid: Pid) -> Term {
    Term::tuple(vec![Term::atom("already_started"), Term::Pid(pid)])
}

/// Spawns `f` linked to `ctx` and waits for its acknowledgement
/// (`proc_lib:start_link/3`); see the module docs.
pub async fn start_link<F, Fut, R>(
    ctx: &mut Process,
    name: Option<Atom>,
    f: F,
) -> Result<Started, Term>
where
    F: FnOnce(Process, Init) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoExitReason + 'static,
{
    start_body(ctx, name, Vec::new(), body(f)).await
}

/// [`start_link`] for an already boxed [`Body`], with extra start `args`.
pub async fn start_body(
    ctx: &mut Process,
    name: Option<Atom>,
    args: Vec<Term>,
    body: Body,
) -> Result<Started, Term> {
    if let Some(n) = name {
        if let Some(owner) = ctx.node().whereis(n) {
            return Err(already_started(owner));
        }
    }
    let (tx, rx) = oneshot::channel();
    let mut init = Init {
        args,
        parent: Some(ctx.pid()),
        ack: Some(tx),
    };
    let child = ctx.spawn_link(move |mut c| async move {
        if let Some(n) = name {
            if c.register(n).is_err() {
                // Lost a race for the name: report who has it.
                let owner = c.node().whereis(n).map(Term::Pid);
                init.error(match owner {
                    Some(Term::Pid(p)) => already_started(p),
                    _ => Term::atom("already_started"),
                });
                return Term::atom("normal");
            }
        }
        body(c, init).await
    });
    match rx.await {
        Ok(Ack::Ok) => Ok(Started::Ok(child)),
        Ok(Ack::Ignore) => Ok(Started::Ignore),
        Ok(Ack::Error(reason)) => Err(reason),
        Err(_) => Err(init_death_reason(ctx, child).await),
    }
}

/// The child ended without acknowledging: find out why (its `'EXIT'`
/// message when trapping, a monitor otherwise).
async fn init_death_reason(ctx: &mut Process, child: Pid) -> Term {
    if ctx.is_trapping_exits() {
        let exit = ctx
            .receive_match(
                |m| {
                    m.as_term().and_then(Term::as_tuple).is_some_and(|t| {
                        t.len() == 3 && t[0].is_atom("EXIT") && t[1] == Term::Pid(child)
                    })
                },
                Some(Duration::from_secs(60)),
            )
            .await;
        if let Some(reason) = exit.and_then(|m| m.into_term().ok()).and_then(|t| match t {
            Term::Tuple(mut items) if items.len() == 3 => items.pop(),
            _ => None,
        }) {
            return reason;
        }
        return crate::exit::noproc();
    }
    let mref = ctx.monitor(&child);
    let down = ctx
        .receive_match(
            |m| crate::call::is_down_for(m, &mref),
            Some(Duration::from_secs(60)),
        )
        .await;
    down.and_then(|m| m.into_term().ok())
        .and_then(|t| match t {
            Term::Tuple(mut items) if items.len() == 5 => items.pop(),
            _ => None,
        })
        .unwrap_or_else(crate::exit::noproc)
}

/// Who a process started for a remote parent answers to: the parent (a
/// process behind a transport, such as a BEAM process), and optionally a
/// monitor held on it from its first instant.
#[derive(Clone, Debug)]
pub struct RemoteParent {
    /// The parent: linked to the child from its first instant, and
    /// [`Init::parent`] (so its exit signal ends the child as an OTP
    /// parent's does).
    pub parent: Pid,
    /// A monitor `(watcher, reference)` set on the child before it runs, so
    /// the watcher learns the child's exit reason whenever it dies.
    pub monitor: Option<(Pid, etf::Reference)>,
}

/// [`start_body`] for a parent that is not a process of this node — a
/// BEAM process behind a transport (port, NIF, distribution), as for a
/// `SPAWN_REQUEST`. Waits for the child's acknowledgement; a child that
/// dies first makes the start fail with its exit reason.
///
/// The link to `parent` exists on this node only: the transport's peer is
/// expected to hold its own end (a proxy, or the remote node's link).
///
/// ```
/// use etf::{Atom, Pid, Term};
/// use ferrotp::start::{self, RemoteParent, Started};
/// use ferrotp::Node;
/// let node = Node::local();
/// let parent = Pid { node: Atom::new("vm@h"), id: 5, serial: 0, creation: 1 };
/// let started = node.block_on(start::start_body_remote(
///     &node,
///     RemoteParent { parent, monitor: None },
///     Vec::new(),
///     start::body(|_ctx, mut init| async move {
///         init.ok();
///         Term::atom("normal")
///     }),
/// ));
/// assert!(matches!(started, Ok(Started::Ok(_))));
/// ```
pub async fn start_body_remote(
    node: &crate::Node,
    remote: RemoteParent,
    args: Vec<Term>,
    body: Body,
) -> Result<Started, Term> {
    let (tx, rx) = oneshot::channel();
    let (exit_tx, exit_rx) = oneshot::channel();
    let init = Init {
        args,
        parent: Some(remote.parent),
        ack: Some(tx),
    };
    let RemoteParent { parent, monitor } = remote;
    let booked = monitor.clone();
    let child = crate::process::spawn_with(
        node,
        move |c| async move { body(c, init).await },
        |st| {
            st.rel().links.insert(parent);
            if let Some((watcher, reference)) = monitor {
                st.rel().monitored_by.insert(reference, watcher);
            }
            st.on_exit = Some(exit_tx);
        },
        |child| {
            node.book_link(child, parent, true);
            if let Some((watcher, reference)) = &booked {
                node.book_monitored_by(*watcher, child, reference, true);
            }
        },
    );
    match rx.await {
        Ok(Ack::Ok) => Ok(Started::Ok(child)),
        Ok(Ack::Ignore) => Ok(Started::Ignore),
        Ok(Ack::Error(reason)) => Err(reason),
        Err(_) => Err(exit_rx.await.unwrap_or_else(|_| crate::exit::noproc())),
    }
}
