//! Child specifications: what a supervisor starts, and how it treats it.
//!
//! | Erlang                                                             | Rust                                              |
//! |--------------------------------------------------------------------|---------------------------------------------------|
//! | `#{id => counter, start => {counter, start_link, [0]}}`            | `ChildSpec::worker("counter", Start::mfa("counter", "start_link", vec![0.into()]))` |
//! | `restart => transient`                                             | `.restart(Restart::Transient)`                    |
//! | `shutdown => brutal_kill` / `2000` / `infinity`                    | `.shutdown(Shutdown::BrutalKill)` / `Shutdown::Timeout(2000)` / `Shutdown::Infinity` |
//! | `type => supervisor`                                               | `ChildSpec::supervisor(id, start)`                |
//! | `significant => true`                                              | `.significant(true)`                              |
//! | `modules => [counter]` / `dynamic`                                 | `.modules(Modules::List(..))` / `Modules::Dynamic` |
//! | `{Id, Start, Restart, Shutdown, Type, Modules}` (old tuple form)   | [`ChildSpec::from_term`] reads it too             |
//!
//! Defaults are OTP's: `permanent`, `worker`, shutdown 5000 ms for workers
//! and `infinity` for supervisors, modules `[M]` for a start `{M, F, A}`
//! (`[]` for a Rust closure), not significant.
//!
//! A start is either a start MFA `{M, F, A}`, resolved through the
//! [behaviour registry](crate::behaviours) (or a remote starter), or a
//! Rust closure that builds a fresh process body for every start
//! ([`Start::process`], [`Start::spawn`]), a typed gen_server
//! ([`Start::gen_server`]), or any [`StartChild`]. A closure start appears
//! in terms (`get_childspec`, reports) as `{ferrotp, rust_fun, []}`, a
//! gen_server start as `{gen_server, start_link, [Name, <<"Type">>]}`.
//!
//! Invalid specs are errors with OTP's reasons, never crashes:
//! `{invalid_child_spec, X}`, `missing_id`, `missing_start`,
//! `{invalid_mfa, F}`, `{invalid_restart_type, R}`,
//! `{invalid_significant, S}`, `{bad_combination, [...]}`,
//! `{invalid_child_type, T}`, `{invalid_shutdown, S}`,
//! `{invalid_modules, M}`, `{invalid_module, M}`.

use std::future::Future;
use std::sync::Arc;

use etf::{Atom, Map, Term};

use crate::exit::IntoExitReason;
use crate::gen_server::{self, GenServer};
use crate::process::Process;
use crate::start::{self, Body, BoxFuture, Init, Started};

use super::flags::AutoShutdown;

/// When a terminated child is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Restart {
    /// `permanent`: always.
    #[default]
    Permanent,
    /// `transient`: only if it terminated abnormally (not `normal`,
    /// `shutdown` or `{shutdown, _}`).
    Transient,
    /// `temporary`: never; its spec is removed when it terminates.
    Temporary,
}

impl Restart {
    /// The atom name.
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Permanent => "permanent",
            Restart::Transient => "transient",
            Restart::Temporary => "temporary",
        }
    }
}

/// How a child is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `brutal_kill`: `exit(Child, kill)`.
    BrutalKill,
    /// `Ms`: `exit(Child, shutdown)`, then `kill` after `Ms` milliseconds.
    Timeout(u64),
    /// `infinity`: `exit(Child, shutdown)` and wait.
    Infinity,
}

impl Shutdown {
    /// `brutal_kill`, the integer, or `infinity`.
    pub fn to_term(self) -> Term {
        match self {
            Shutdown::BrutalKill => Term::atom("brutal_kill"),
            Shutdown::Timeout(ms) => Term::Int(i64::try_from(ms).unwrap_or(i64::MAX)),
            Shutdown::Infinity => Term::atom("infinity"),
        }
    }
}

/// Whether the child is a worker or a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ChildType {
    /// `worker`.
    #[default]
    Worker,
    /// `supervisor`.
    Supervisor,
}

impl ChildType {
    /// The atom name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildType::Worker => "worker",
            ChildType::Supervisor => "supervisor",
        }
    }
}

/// The child's callback modules (used by release handling; reported back
/// by `which_children`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modules {
    /// `dynamic`.
    Dynamic,
    /// `[M]`.
    List(Vec<Atom>),
}

impl Modules {
    /// `dynamic` or the list.
    pub fn to_term(&self) -> Term {
        match self {
            Modules::Dynamic => Term::atom("dynamic"),
            Modules::List(ms) => Term::List(ms.iter().map(|m| Term::Atom(*m)).collect()),
        }
    }
}

/// A closure start: builds a fresh body per start.
pub type StartFn = Arc<dyn Fn() -> Body + Send + Sync>;

/// How a child is started.
#[derive(Clone)]
pub enum Start {
    /// `{M, F, A}`: `M` a registered behaviour (or a module a remote
    /// starter knows); extra `start_child` arguments are appended to `A`.
    Mfa {
        /// The module (behaviour name).
        module: Atom,
        /// The function (`start_link`).
        function: Atom,
        /// The arguments.
        args: Vec<Term>,
    },
    /// A Rust closure building a process body (see [`Start::process`]).
    Rust(StartFn),
    /// Any Rust start function (see [`StartChild`], [`Start::gen_server`]).
    Custom(Arc<dyn StartChild>),
}

/// A start function written in Rust: starts a process linked to `ctx`
/// (the supervisor) and returns when it has initialised, as an Erlang
/// start function `{M, F, A}` does.
pub trait StartChild: Send + Sync + 'static {
    /// Starts the child; `extra` are a `simple_one_for_one` supervisor's
    /// extra `start_child` arguments (empty otherwise).
    fn start<'a>(
        &'a self,
        ctx: &'a mut Process,
        extra: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>>;

    /// How the start looks in terms (`get_childspec`, reports).
    fn to_term(&self) -> Term {
        Term::tuple(vec![
            Term::atom("ferrotp"),
            Term::atom("rust_fun"),
            Term::nil(),
        ])
    }
}

struct GenServerStart<S: GenServer> {
    arg: S::Arg,
    name: Option<Atom>,
}

impl<S> StartChild for GenServerStart<S>
where
    S: GenServer,
    S::Arg: Clone + Sync,
{
    fn start<'a>(
        &'a self,
        ctx: &'a mut Process,
        _extra: Vec<Term>,
    ) -> BoxFuture<'a, Result<Started, Term>> {
        Box::pin(async move {
            let opts = gen_server::Opts {
                name: self.name,
                timeout: None,
            };
            match gen_server::start_link::<S>(ctx, self.arg.clone(), opts).await {
                Ok(server) => Ok(Started::Ok(server.pid())),
                Err(gen_server::StartError::Ignore) => Ok(Started::Ignore),
                Err(gen_server::StartError::Stop(r)) => Err(r),
                Err(gen_server::StartError::AlreadyStarted(p)) => Err(start::already_started(p)),
                Err(gen_server::StartError::Timeout) => Err(Term::atom("timeout")),
            }
        })
    }

    fn to_term(&self) -> Term {
        let name = self
            .name
            .map(|n| Term::tuple(vec![Term::atom("local"), Term::Atom(n)]))
            .unwrap_or_else(|| Term::atom("undefined"));
        Term::tuple(vec![
            Term::atom("gen_server"),
            Term::atom("start_link"),
            Term::List(vec![
                name,
                Term::binary(std::any::type_name::<S>().as_bytes().to_vec()),
            ]),
        ])
    }
}

impl std::fmt::Debug for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_term())
    }
}

impl Start {
    /// `{Module, Function, Args}`.
    pub fn mfa(module: impl Into<Atom>, function: impl Into<Atom>, args: Vec<Term>) -> Start {
        Start::Mfa {
            module: module.into(),
            function: function.into(),
            args,
        }
    }

    /// A Rust process, spawned linked for every start; it acknowledges
    /// its start through [`Init`] (`init.ok()`, `init.ignore()`,
    /// `init.error(R)`), and gets `simple_one_for_one` extra arguments in
    /// `init.args`.
    pub fn process<F, Fut, R>(f: F) -> Start
    where
        F: Fn(Process, Init) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoExitReason + 'static,
    {
        let f = Arc::new(f);
        Start::Rust(Arc::new(move || {
            let f = f.clone();
            start::body(move |ctx, init| f(ctx, init))
        }))
    }

    /// A Rust process that counts as started as soon as it runs (like
    /// `{ok, spawn_link(Fun)}`).
    pub fn spawn<F, Fut, R>(f: F) -> Start
    where
        F: Fn(Process) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoExitReason + 'static,
    {
        Start::process(move |ctx, mut init: Init| {
            init.ok();
            f(ctx)
        })
    }

    /// The typed gen_server `S` with init argument `arg`, registered as
    /// `name` if given (`gen_server:start_link({local, Name}, M, Arg, [])`).
    pub fn gen_server<S>(arg: S::Arg, name: Option<Atom>) -> Start
    where
        S: GenServer,
        S::Arg: Clone + Sync,
    {
        Start::Custom(Arc::new(GenServerStart::<S> { arg, name }))
    }

    /// Any [`StartChild`].
    pub fn custom(start: impl StartChild) -> Start {
        Start::Custom(Arc::new(start))
    }

    /// `{M, F, A}`, or `{ferrotp, rust_fun, []}` for a closure.
    pub fn to_term(&self) -> Term {
        match self {
            Start::Mfa {
                module,
                function,
                args,
            } => Term::tuple(vec![
                Term::Atom(*module),
                Term::Atom(*function),
                Term::List(args.clone()),
            ]),
            Start::Custom(c) => c.to_term(),
            Start::Rust(_) => Term::tuple(vec![
                Term::atom("ferrotp"),
                Term::atom("rust_fun"),
                Term::nil(),
            ]),
        }
    }
}

/// A child specification.
#[derive(Clone, Debug)]
pub struct ChildSpec {
    /// The child's id (any term; unique within its supervisor).
    pub id: Term,
    /// How to start it.
    pub start: Start,
    /// When to restart it.
    pub restart: Restart,
    /// How to stop it.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Whether its termination can shut the supervisor down (see
    /// [`AutoShutdown`]); only for `transient` and `temporary` children.
    pub significant: bool,
    /// Callback modules.
    pub modules: Modules,
}

fn bad(what: &str, v: &Term) -> Term {
    Term::tuple(vec![Term::atom(what), v.clone()])
}

fn bad_combination(a: (&str, &str), b: (&str, Term)) -> Term {
    Term::tuple(vec![
        Term::atom("bad_combination"),
        Term::List(vec![
            Term::tuple(vec![Term::atom(a.0), Term::atom(a.1)]),
            Term::tuple(vec![Term::atom(b.0), b.1]),
        ]),
    ])
}

/// OTP's default `modules`: `[M]` of the start `{M, F, A}`, as
/// [`Start::to_term`] shows it (`[gen_server]` for [`Start::gen_server`],
/// `[ferrotp]` for a closure).
fn default_modules(start: &Start) -> Modules {
    match start.to_term().as_tuple() {
        Some([Term::Atom(m), _, _]) => Modules::List(vec![*m]),
        _ => Modules::List(Vec::new()),
    }
}

impl ChildSpec {
    /// A worker with OTP's defaults (permanent, shutdown 5000).
    pub fn worker(id: impl Into<Atom>, start: Start) -> ChildSpec {
        ChildSpec::new(Term::Atom(id.into()), start, ChildType::Worker)
    }

    /// A supervisor child with OTP's defaults (permanent, shutdown infinity).
    pub fn supervisor(id: impl Into<Atom>, start: Start) -> ChildSpec {
        ChildSpec::new(Term::Atom(id.into()), start, ChildType::Supervisor)
    }

    /// A spec with any term as id.
    pub fn new(id: Term, start: Start, child_type: ChildType) -> ChildSpec {
        let modules = default_modules(&start);
        ChildSpec {
            id,
            start,
            restart: Restart::Permanent,
            shutdown: match child_type {
                ChildType::Worker => Shutdown::Timeout(5000),
                ChildType::Supervisor => Shutdown::Infinity,
            },
            child_type,
            significant: false,
            modules,
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> ChildSpec {
        self.restart = restart;
        self
    }

    /// Sets the shutdown.
    pub fn shutdown(mut self, shutdown: Shutdown) -> ChildSpec {
        self.shutdown = shutdown;
        self
    }

    /// Sets `significant`.
    pub fn significant(mut self, significant: bool) -> ChildSpec {
        self.significant = significant;
        self
    }

    /// Sets the modules.
    pub fn modules(mut self, modules: Modules) -> ChildSpec {
        self.modules = modules;
        self
    }

    /// Checks what the type system cannot: `significant` against the
    /// restart type and the supervisor's `auto_shutdown`.
    pub fn validate(&self, auto_shutdown: AutoShutdown) -> Result<(), Term> {
        if self.significant && auto_shutdown == AutoShutdown::Never {
            return Err(bad_combination(
                ("auto_shutdown", "never"),
                ("significant", Term::atom("true")),
            ));
        }
        if self.significant && self.restart == Restart::Permanent {
            return Err(bad_combination(
                ("restart", "permanent"),
                ("significant", Term::atom("true")),
            ));
        }
        Ok(())
    }

    /// The map form `get_childspec` returns:
    /// `#{id, start, restart, significant, shutdown, type, modules}`.
    pub fn to_term(&self) -> Term {
        let mut m = Map::new();
        m.insert(Term::atom("id"), self.id.clone());
        m.insert(Term::atom("start"), self.start.to_term());
        m.insert(Term::atom("restart"), Term::atom(self.restart.as_str()));
        m.insert(
            Term::atom("significant"),
            Term::atom(if self.significant { "true" } else { "false" }),
        );
        m.insert(Term::atom("shutdown"), self.shutdown.to_term());
        m.insert(Term::atom("type"), Term::atom(self.child_type.as_str()));
        m.insert(Term::atom("modules"), self.modules.to_term());
        Term::Map(m)
    }

    /// Reads and checks a child spec in map or old tuple form, as
    /// `check_childspec` in supervisor.erl does; `Err` is OTP's reason.
    pub fn from_term(t: &Term, auto_shutdown: AutoShutdown) -> Result<ChildSpec, Term> {
        let map = match t {
            Term::Map(m) => m.clone(),
            Term::Tuple(items) if items.len() == 6 => {
                let keys = ["id", "start", "restart", "shutdown", "type", "modules"];
                let mut m: Map = keys
                    .iter()
                    .zip(items.iter())
                    .map(|(k, v)| (Term::atom(k), v.clone()))
                    .collect();
                m.insert(Term::atom("significant"), Term::atom("false"));
                m
            }
            other => return Err(bad("invalid_child_spec", other)),
        };
        let id = map
            .get_atom("id")
            .cloned()
            .ok_or_else(|| Term::atom("missing_id"))?;
        let func = map
            .get_atom("start")
            .cloned()
            .ok_or_else(|| Term::atom("missing_start"))?;
        let start = match func.as_tuple() {
            Some([Term::Atom(m), Term::Atom(f), Term::List(a)]) => Start::Mfa {
                module: *m,
                function: *f,
                args: a.clone(),
            },
            _ => return Err(bad("invalid_mfa", &func)),
        };
        let restart_t = map
            .get_atom("restart")
            .cloned()
            .unwrap_or_else(|| Term::atom("permanent"));
        let restart = match restart_t.as_atom().map(|a| a.as_str()) {
            Some("permanent") => Restart::Permanent,
            Some("transient") => Restart::Transient,
            Some("temporary") => Restart::Temporary,
            _ => return Err(bad("invalid_restart_type", &restart_t)),
        };
        let significant_t = map
            .get_atom("significant")
            .cloned()
            .unwrap_or_else(|| Term::atom("false"));
        let significant = match significant_t.as_atom().and_then(|a| a.as_bool()) {
            Some(true) if auto_shutdown == AutoShutdown::Never => {
                return Err(bad_combination(
                    ("auto_shutdown", "never"),
                    ("significant", Term::atom("true")),
                ))
            }
            Some(true) if restart == Restart::Permanent => {
                return Err(bad_combination(
                    ("restart", "permanent"),
                    ("significant", Term::atom("true")),
                ))
            }
            Some(b) => b,
            None => return Err(bad("invalid_significant", &significant_t)),
        };
        let type_t = map
            .get_atom("type")
            .cloned()
            .unwrap_or_else(|| Term::atom("worker"));
        let child_type = match type_t.as_atom().map(|a| a.as_str()) {
            Some("worker") => ChildType::Worker,
            Some("supervisor") => ChildType::Supervisor,
            _ => return Err(bad("invalid_child_type", &type_t)),
        };
        let shutdown = match map.get_atom("shutdown") {
            None => match child_type {
                ChildType::Worker => Shutdown::Timeout(5000),
                ChildType::Supervisor => Shutdown::Infinity,
            },
            Some(s) => match s {
                Term::Int(ms) if *ms >= 0 => Shutdown::Timeout(*ms as u64),
                Term::Atom(a) if a.as_str() == "infinity" => Shutdown::Infinity,
                Term::Atom(a) if a.as_str() == "brutal_kill" => Shutdown::BrutalKill,
                // Larger than any timer; as good as infinity.
                Term::BigInt(n) if n.sign() == num_bigint::Sign::Plus => Shutdown::Infinity,
                other => return Err(bad("invalid_shutdown", other)),
            },
        };
        let modules = match map.get_atom("modules") {
            None => default_modules(&start),
            Some(Term::Atom(a)) if a.as_str() == "dynamic" => Modules::Dynamic,
            Some(Term::List(ms)) => {
                let mut out = Vec::with_capacity(ms.len());
                for m in ms {
                    match m {
                        Term::Atom(a) => out.push(*a),
                        other => return Err(bad("invalid_module", other)),
                    }
                }
                Modules::List(out)
            }
            Some(other) => return Err(bad("invalid_modules", other)),
        };
        Ok(ChildSpec {
            id,
            start,
            restart,
            shutdown,
            child_type,
            significant,
            modules,
        })
    }
}
