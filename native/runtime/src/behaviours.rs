//! The behaviour registry: named behaviours that can be started from a
//! start MFA `{Behaviour, start_link, Args}`, from Rust or from the BEAM.
//!
//! A transport (hidden node, NIF, port) or a supervisor meets a start
//! function as an Erlang term; this registry turns the module name into a
//! Rust process. Every behaviour takes one init argument, exactly as
//! `gen_server:start_link(Module, Arg, Opts)` does:
//!
//! | Erlang                                         | Rust                                                       |
//! |------------------------------------------------|------------------------------------------------------------|
//! | `{counter, start_link, [5]}` in a child spec   | `behaviours::start_link(&mut ctx, counter, vec![5]).await` |
//! | `{counter, start_link, [5, [{name, c}]]}`      | the same, registered as `c`                                |
//! | `{counter, start_link, []}` (the seed's)       | from 0, registered as `counter`, as the seed's `counter:start_link/0` |
//! | `ferrotp:start_link(Where, counter, 5)`        | `behaviours::start_link_arg(&mut ctx, counter, 5, None).await` |
//! | `ferrotp:start_link(W, counter, 5, [{name, c}])` | `behaviours::start_link_arg(&mut ctx, counter, 5, Some(c)).await` |
//! | `-behaviour(...)` + a module on the code path  | `behaviours::register(name, behaviour)`                    |
//!
//! Built in, in every mode:
//! - `counter` ([`crate::counter`]): init argument the initial count (any
//!   integer, bignums included); MFA `{counter, start_link, [Count]}`.
//! - `supervisor` ([`crate::supervisor`]): init argument
//!   `{SupFlags, ChildSpecs}` in OTP's map form; MFA
//!   `{supervisor, start_link, [SupFlags, ChildSpecs]}`.
//!
//! A start MFA whose module is not registered goes to the
//! [`RemoteStarter`], if one is installed (the hidden-node transport
//! installs one that starts it on a BEAM node); otherwise it fails with
//! `{undef, [{M, F, Args, []}]}`, the reason `apply/3` gives for a missing
//! function. So does a registered behaviour called with a function other
//! than `start_link` or with the wrong number of arguments.
//!
//! The registry is process-wide (one per OS process, shared by every
//! [`Node`](crate::Node) in it), like the code path of a BEAM node.
//!
//! ```
//! use etf::{Atom, Term};
//! use ferrotp::{behaviours, start, Node};
//! // A behaviour that echoes its init argument back on request.
//! behaviours::register(Atom::new("doc_echo"), |arg: Term| {
//!     Ok(start::body(move |mut ctx, mut init| async move {
//!         init.ok();
//!         while let Ok(Term::Pid(p)) = ctx.receive().await.into_term() {
//!             ctx.send(&p, arg.clone());
//!         }
//!     }))
//! });
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let pid = behaviours::start_link(&mut ctx, Atom::new("doc_echo"), vec![Term::Int(7)])
//!         .await
//!         .unwrap();
//!     ctx.send(&pid, Term::Pid(ctx.pid()));
//!     assert_eq!(ctx.receive().await.into_term().unwrap(), Term::Int(7));
//! }).unwrap();
//! ```

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use etf::{Atom, Pid, Term};
use parking_lot::RwLock;

use serde::de::DeserializeOwned;

use crate::gen_server::{self, GenServer};
use crate::process::Process;
use crate::start::{self, Body, BoxFuture, Started};

/// A startable behaviour: from one init argument to a linked, running
/// process (`gen_server:start_link(Module, Arg, [])`).
///
/// Implemented for closures `Fn(Term) -> Result<Body, Term>` (a process
/// body acknowledging through [`Init`](crate::start::Init)), and by
/// [`GenServerBehaviour`] for any typed [`GenServer`] (see
/// [`register_gen_server`]).
pub trait Behaviour: Send + Sync + 'static {
    /// The init argument for a start MFA's argument list. Default: exactly
    /// one argument, which is the init argument; `None` means there is no
    /// such function (`undef`).
    fn init_arg(&self, args: Vec<Term>) -> Option<Term> {
        let mut args = args;
        match args.len() {
            1 => args.pop(),
            _ => None,
        }
    }

    /// The init argument and registered name for a start MFA's argument
    /// list. Default: [`Behaviour::init_arg`] with no name, or the
    /// behaviour's own arguments followed by start options
    /// `[{name, Name}]` (as `gen_server:start_link/4` takes them).
    fn start_args(&self, args: Vec<Term>) -> Option<(Term, Option<Atom>)> {
        if let Some(arg) = self.init_arg(args.clone()) {
            return Some((arg, None));
        }
        let (Term::List(opts), own) = args.split_last()? else {
            return None;
        };
        let mut name = None;
        for o in opts {
            match o.as_tuple() {
                Some([k, Term::Atom(n)]) if k.is_atom("name") => name = Some(*n),
                _ => return None,
            }
        }
        Some((self.init_arg(own.to_vec())?, name))
    }

    /// A fresh process body for init argument `arg` (it acknowledges its
    /// start through [`Init`](crate::start::Init)), or the reason the
    /// start fails (`{error, Reason}`).
    fn body(&self, arg: Term) -> Result<Body, Term>;

    /// Starts the behaviour with init argument `arg`, linked to `ctx` and
    /// registered as `name` if given; returns when its init is done.
    /// Default: [`start::start_body`] with [`Behaviour::body`].
    fn start_link<'a>(
        &'a self,
        ctx: &'a mut Process,
        arg: Term,
        name: Option<Atom>,
    ) -> BoxFuture<'a, Result<Started, Term>> {
        Box::pin(async move {
            let body = self.body(arg)?;
            start::start_body(ctx, name, Vec::new(), body).await
        })
    }
}

impl<F> Behaviour for F
where
    F: Fn(Term) -> Result<Body, Term> + Send + Sync + 'static,
{
    fn body(&self, arg: Term) -> Result<Body, Term> {
        self(arg)
    }
}

/// A typed [`GenServer`] as a behaviour: the init argument term is
/// decoded into `S::Arg` with serde (`{badarg, Arg}` if it does not
/// decode) and the server run with [`gen_server::enter`].
pub struct GenServerBehaviour<S>(PhantomData<fn() -> S>);

impl<S> Default for GenServerBehaviour<S> {
    fn default() -> Self {
        GenServerBehaviour(PhantomData)
    }
}

impl<S> Behaviour for GenServerBehaviour<S>
where
    S: GenServer,
    S::Arg: DeserializeOwned,
{
    fn body(&self, arg: Term) -> Result<Body, Term> {
        let typed: S::Arg = etf::from_term(&arg)
            .map_err(|_| Term::tuple(vec![Term::atom("badarg"), arg.clone()]))?;
        Ok(start::body(move |ctx, ack| {
            gen_server::enter::<S>(ctx, ack, typed)
        }))
    }
}

/// Registers the typed gen_server `S` as behaviour `name`
/// (`{Name, start_link, [Arg]}` starts it with `Arg` decoded into `S::Arg`).
pub fn register_gen_server<S>(name: Atom)
where
    S: GenServer,
    S::Arg: DeserializeOwned,
{
    register(name, GenServerBehaviour::<S>::default());
}

/// Starts start MFAs whose module is not a registered behaviour — on a
/// BEAM node, typically. Installed by a transport with
/// [`set_remote_starter`].
pub trait RemoteStarter: Send + Sync + 'static {
    /// Calls `apply(M, F, Args)` somewhere and reads its result as a
    /// supervisor does ([`Started::from_term`]); the started process must
    /// be linked to `ctx`.
    fn start_link<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>>;

    /// Runs `catch apply(M, F, Args)` on the BEAM for `ctx` and returns
    /// its value (`{'EXIT', Reason}` when it raised); `Err` when it could
    /// not be run there. The default runs nothing: `Err({undef, ...})`.
    fn apply<'a>(
        &'a self,
        ctx: &'a mut Process,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Term, Term>> {
        let _ = ctx;
        Box::pin(async move { Err(undef(module, function, &args)) })
    }

    /// [`apply`](Self::apply), on the BEAM node `caller` lives on when
    /// this transport reaches several (a fun `caller` sent is surely
    /// loaded there). The default is `apply`.
    fn apply_for<'a>(
        &'a self,
        ctx: &'a mut Process,
        caller: Pid,
        module: Atom,
        function: Atom,
        args: Vec<Term>,
    ) -> BoxFuture<'a, Result<Term, Term>> {
        let _ = caller;
        self.apply(ctx, module, function, args)
    }
}

struct Registry {
    behaviours: RwLock<HashMap<Atom, Arc<dyn Behaviour>>>,
    remote: RwLock<Option<Arc<dyn RemoteStarter>>>,
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut builtins: HashMap<Atom, Arc<dyn Behaviour>> = HashMap::new();
        builtins.insert(
            Atom::new("counter"),
            Arc::new(crate::counter::CounterBehaviour),
        );
        builtins.insert(
            Atom::new("supervisor"),
            Arc::new(crate::supervisor::SupervisorBehaviour),
        );
        Registry {
            behaviours: RwLock::new(builtins),
            remote: RwLock::new(None),
        }
    })
}

/// Registers (or replaces) behaviour `name`.
pub fn register(name: Atom, behaviour: impl Behaviour) {
    registry()
        .behaviours
        .write()
        .insert(name, Arc::new(behaviour));
}

/// Removes behaviour `name`; `true` if it was registered.
pub fn unregister(name: Atom) -> bool {
    registry().behaviours.write().remove(&name).is_some()
}

/// `true` if `name` is a registered behaviour.
pub fn is_registered(name: Atom) -> bool {
    registry().behaviours.read().contains_key(&name)
}

/// The registered behaviour names, sorted.
pub fn registered() -> Vec<Atom> {
    let mut names: Vec<Atom> = registry().behaviours.read().keys().copied().collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names
}

/// Installs the starter for modules that are not registered behaviours.
pub fn set_remote_starter(starter: Arc<dyn RemoteStarter>) {
    *registry().remote.write() = Some(starter);
}

/// Removes the remote starter.
pub fn clear_remote_starter() {
    *registry().remote.write() = None;
}

fn lookup(name: Atom) -> Option<Arc<dyn Behaviour>> {
    registry().behaviours.read().get(&name).cloned()
}

/// Behaviour `name`, for hosts that start bodies themselves (the NIF: it
/// runs the body on a BEAM process and reads the ack with
/// [`Init::attached`](crate::start::Init::attached)).
pub fn behaviour(name: Atom) -> Option<Arc<dyn Behaviour>> {
    lookup(name)
}

/// A fresh process body for the start MFA `{Module, Function, Args}` of a
/// registered behaviour (`Function` must be `start_link`, `Args` what its
/// [`Behaviour::init_arg`] accepts); `{undef, ...}` otherwise. For a
/// transport that runs the behaviour in a process it spawned itself (a
/// remote `spawn(Node, counter, start_link, [0])`).
pub fn body_for_mfa(module: Atom, function: Atom, args: Vec<Term>) -> Result<Body, Term> {
    let missing = || undef(module, function, &args);
    let b = lookup(module).ok_or_else(missing)?;
    if function.as_str() != "start_link" {
        return Err(missing());
    }
    let arg = b.init_arg(args.clone()).ok_or_else(missing)?;
    b.body(arg)
}

/// `{undef, [{M, F, Args, []}]}`: what `apply/3` exits with for a missing function.
pub fn undef(module: Atom, function: Atom, args: &[Term]) -> Term {
    Term::tuple(vec![
        Term::atom("undef"),
        Term::List(vec![Term::tuple(vec![
            Term::Atom(module),
            Term::Atom(function),
            Term::List(args.to_vec()),
            Term::nil(),
        ])]),
    ])
}

/// The process body for behaviour `behaviour` with init argument `arg`,
/// for a transport that starts it itself (with
/// [`start::start_body_remote`]), as [`start_link_arg`] would: a missing
/// behaviour is `{undef, ...}`; a bad init argument fails with the
/// behaviour's own reason.
pub fn body(behaviour: Atom, arg: Term) -> Result<Body, Term> {
    match lookup(behaviour) {
        Some(b) => b.body(arg),
        None => Err(undef(behaviour, Atom::new("start_link"), &[arg])),
    }
}

/// Starts `{Behaviour, start_link, Args}` linked to `ctx`; the new pid.
/// `ignore` from the behaviour is `Err(ignore)`; any other failure is the
/// reason of `{error, Reason}`.
pub async fn start_link(ctx: &mut Process, behaviour: Atom, args: Vec<Term>) -> Result<Pid, Term> {
    apply(ctx, behaviour, Atom::new("start_link"), args, Vec::new())
        .await?
        .into_pid()
}

/// Starts behaviour `behaviour` with its one init argument, optionally
/// registered as `name` (`ferrotp:start_link(Where, Behaviour, Arg, [{name, Name}])`).
pub async fn start_link_arg(
    ctx: &mut Process,
    behaviour: Atom,
    arg: Term,
    name: Option<Atom>,
) -> Result<Pid, Term> {
    let Some(b) = lookup(behaviour) else {
        return Err(undef(behaviour, Atom::new("start_link"), &[arg]));
    };
    b.start_link(ctx, arg, name).await?.into_pid()
}

/// Starts `apply(M, F, Args ++ Extra)` as a supervisor does: through the
/// registry when `M` is a registered behaviour (`F` must be `start_link`),
/// through the [`RemoteStarter`] otherwise. Returns what the start
/// function returned: `{ok, Pid}`, `{ok, Pid, Info}`, `ignore`, or
/// `Err(Reason)` for `{error, Reason}`; a missing function is
/// `{'EXIT', {undef, ...}}`, as `catch apply(M, F, A)` gives it.
pub async fn apply(
    ctx: &mut Process,
    module: Atom,
    function: Atom,
    args: Vec<Term>,
    extra: Vec<Term>,
) -> Result<Started, Term> {
    let mut all = args;
    all.extend(extra);
    if let Some(b) = lookup(module) {
        if function.as_str() != "start_link" {
            return Err(caught(undef(module, function, &all)));
        }
        let (arg, name) = b
            .start_args(all.clone())
            .ok_or_else(|| caught(undef(module, function, &all)))?;
        return b.start_link(ctx, arg, name).await;
    }
    let remote = registry().remote.read().clone();
    match remote {
        Some(r) => r.start_link(ctx, module, function, all).await,
        None => Err(caught(undef(module, function, &all))),
    }
}

/// `catch apply(M, F, Args)` on the BEAM this node meets (through the
/// [`RemoteStarter`]), on `caller`'s node where there are several: its
/// value, `{'EXIT', Reason}` when it raised. `Err` when there is no BEAM
/// to run it on (a standalone node: `{undef, ...}`) or it could not be
/// reached.
pub async fn apply_on_beam(
    ctx: &mut Process,
    caller: Pid,
    module: Atom,
    function: Atom,
    args: Vec<Term>,
) -> Result<Term, Term> {
    let remote = registry().remote.read().clone();
    match remote {
        Some(r) => r.apply_for(ctx, caller, module, function, args).await,
        None => Err(undef(module, function, &args)),
    }
}

/// The value a transport's BEAM side sends back for
/// [`RemoteStarter::apply`]: `{'$ferrotp_applied', Tag, Value}`, `Value`
/// being what `catch apply(M, F, A)` gave. `None` when nothing came within
/// `timeout` (`None`: no limit).
pub async fn receive_applied(
    ctx: &mut Process,
    tag: &Term,
    timeout: Option<std::time::Duration>,
) -> Option<Term> {
    let answer = ctx
        .receive_match(
            |m| {
                matches!(m.as_term().and_then(Term::as_tuple),
                    Some([t, r, _]) if t.is_atom("$ferrotp_applied") && r == tag)
            },
            timeout,
        )
        .await?;
    match answer.into_term().ok()? {
        Term::Tuple(mut t) => t.pop(),
        _ => None,
    }
}

/// `{'EXIT', Reason}`: an exception as `catch` returns it.
fn caught(reason: Term) -> Term {
    Term::tuple(vec![Term::atom("EXIT"), reason])
}
