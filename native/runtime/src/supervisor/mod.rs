//! Supervisors: processes that start, watch and restart other processes.
//!
//! Everything OTP's `supervisor` documents: the strategies
//! (`one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one`),
//! child specs (restart, shutdown, type, significant, modules),
//! restart intensity, automatic shutdown, and the API with OTP's return
//! values. A ferrotp supervisor answers OTP's wire protocol, so
//! `supervisor:which_children(Pid)` works on it from Erlang, and
//! `supervisor::which_children` below works on an Erlang supervisor.
//!
//! | Erlang                                               | Rust                                                       |
//! |------------------------------------------------------|------------------------------------------------------------|
//! | `supervisor:start_link({local, N}, M, Args)` + `init/1` | `supervisor::start_link(&mut ctx, flags, specs, SupOpts::named(n)).await` |
//! | `supervisor:start_child(S, Spec)`                    | `supervisor::start_child(&mut ctx, s, spec).await`          |
//! | `supervisor:start_child(S, ExtraArgs)`               | `supervisor::start_dynamic_child(&mut ctx, s, args).await`  |
//! | `supervisor:terminate_child(S, Id)`                  | `supervisor::terminate_child(&mut ctx, s, id).await`        |
//! | `supervisor:restart_child(S, Id)`                    | `supervisor::restart_child(&mut ctx, s, id).await`          |
//! | `supervisor:delete_child(S, Id)`                     | `supervisor::delete_child(&mut ctx, s, id).await`           |
//! | `supervisor:which_children(S)`                       | `supervisor::which_children(&mut ctx, s).await`             |
//! | `supervisor:count_children(S)`                       | `supervisor::count_children(&mut ctx, s).await`             |
//! | `supervisor:get_childspec(S, Id)`                    | `supervisor::get_childspec(&mut ctx, s, id).await`          |
//! | `{supervisor, start_link, [Flags, Specs]}`           | the `supervisor` [behaviour](crate::behaviours)             |
//!
//! The semantics, briefly (all as in OTP 25):
//! - children start in order; a start that fails during init stops the
//!   supervisor, which terminates the children already started and fails
//!   with `{shutdown, {failed_to_start_child, Id, Reason}}`; `ignore` keeps
//!   the spec with no process (a temporary one is dropped);
//! - children stop in reverse start order: `brutal_kill` is
//!   `exit(Child, kill)`; a timeout `T` is `exit(Child, shutdown)` then
//!   `kill` after `T` ms; `infinity` waits;
//! - `permanent` children are always restarted, `transient` ones only
//!   after an abnormal exit (not `normal`, `shutdown`, `{shutdown, _}`),
//!   `temporary` ones never;
//! - more than `intensity` restarts within `period` seconds: the
//!   supervisor terminates all its children and exits `shutdown`;
//! - with `auto_shutdown`, a significant child that terminates by itself
//!   (and is not restarted) can shut the supervisor down (`shutdown`).
//!
//! Reports (child terminated, start errors, shutdown errors, reached max
//! restart intensity) go through `tracing` ([`report`] module).
//!
//! A call or cast the supervisor does not know crashes it, as it crashes
//! OTP's: `{function_clause, [{supervisor, handle_call, [Request, From,
//! State], []}]}` (`handle_cast`, `[Msg, State]`), children shut down
//! first. Where ferrotp differs, on purpose: a closure start ([`Start::process`],
//! [`Start::gen_server`]) reads `{ferrotp, rust_fun, []}` or
//! `{gen_server, start_link, [Name, <<"Type">>]}` where OTP shows an MFA.
//! `tests/supervisor_beam_diff.rs` runs 14 scenarios on OTP 25's
//! supervisor and on this one and requires identical traces.
//!
//! `sys:get_state(Sup)` returns an OTP-like `#state{}` tuple:
//! `{state, Name, Strategy, {Ids, #{Id => {child, Pid, Id, MFA, Restart,
//! Significant, Shutdown, Type, Modules}}}, Dynamics, Intensity, Period,
//! Restarts, DynamicRestarts, AutoShutdown, supervisor, InitArg}`.
//!
//! ```
//! use etf::{Atom, Term};
//! use ferrotp::counter::Counter;
//! use ferrotp::supervisor::{self, ChildSpec, Start, SupFlags, SupOpts};
//! use ferrotp::Node;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let flags = SupFlags::one_for_one().intensity(3).period(10);
//!     let counter = ChildSpec::worker("counter", Start::mfa("counter", "start_link", vec![Term::Int(0)]));
//!     let sup = supervisor::start_link(&mut ctx, flags, vec![counter], SupOpts::default())
//!         .await
//!         .unwrap();
//!     let children = supervisor::which_children(&mut ctx, sup).await.unwrap();
//!     let c = Counter::at(children[0].pid().unwrap());
//!     c.bump(&ctx, 2);
//!     assert_eq!(c.value(&mut ctx).await.unwrap(), 2.into());
//! }).unwrap();
//! ```

pub mod child_spec;
mod engine;
pub mod flags;
pub mod report;
pub mod restart;

use std::time::Duration;

use etf::{Atom, Pid, Term};

use crate::call;
use crate::process::{Dest, Process};
use crate::start;

pub use child_spec::{ChildSpec, ChildType, Modules, Restart, Shutdown, Start, StartChild};
pub(crate) use engine::SupervisorBehaviour;
pub use flags::{AutoShutdown, Strategy, SupFlags};

use engine::{InitArg, LocalCall, LocalRequest};

/// Options for [`start_link`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SupOpts {
    /// Register the supervisor under this name (`{local, Name}`).
    pub name: Option<Atom>,
}

impl SupOpts {
    /// Registered as `name`.
    pub fn named(name: impl Into<Atom>) -> SupOpts {
        SupOpts {
            name: Some(name.into()),
        }
    }
}

/// Why a supervisor API call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SupervisorError {
    /// The supervisor answered `{error, Reason}`.
    #[error("{{error, {0}}}")]
    Error(Term),
    /// The call itself failed (OTP's caller would exit with this reason):
    /// `noproc`, or how the supervisor died.
    #[error("call failed: {0}")]
    Exit(Term),
}

/// Starts a supervisor linked to `ctx` and its children, in order; returns
/// when they have all started (`supervisor:start_link/3`).
///
/// `Err` is `{shutdown, {failed_to_start_child, Id, Reason}}` when a child
/// fails to start, `{start_spec, Error}` for an invalid spec,
/// `{already_started, Pid}` when the name is taken.
pub async fn start_link(
    ctx: &mut Process,
    flags: SupFlags,
    specs: Vec<ChildSpec>,
    opts: SupOpts,
) -> Result<Pid, Term> {
    let body = start::body(move |c, init| {
        let parent = init.parent().unwrap_or_else(|| c.pid());
        engine::run(c, init, InitArg::Typed(flags, specs), parent)
    });
    start::start_body(ctx, opts.name, Vec::new(), body)
        .await?
        .into_pid()
}

/// Starts a supervisor from terms, as `{supervisor, start_link, [Flags, Specs]}`
/// does: flags and specs in OTP's map (or tuple) form.
pub async fn start_link_terms(
    ctx: &mut Process,
    flags: Term,
    specs: Term,
    opts: SupOpts,
) -> Result<Pid, Term> {
    let body = start::body(move |c, init| {
        let parent = init.parent().unwrap_or_else(|| c.pid());
        engine::run(c, init, InitArg::Terms(flags, specs), parent)
    });
    start::start_body(ctx, opts.name, Vec::new(), body)
        .await?
        .into_pid()
}

/// `call(Supervisor, Req)`: waits forever, as `supervisor` does.
async fn sup_call(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    request: Term,
) -> Result<Term, SupervisorError> {
    call::call(ctx, sup, request, None)
        .await
        .map_err(SupervisorError::Exit)
}

fn tagged(tag: &str, t: Term) -> Term {
    Term::tuple(vec![Term::atom(tag), t])
}

/// `ok` → `Ok(())`, `{error, R}` → `Err(Error(R))`.
fn unit_reply(reply: Term) -> Result<(), SupervisorError> {
    if reply.is_atom("ok") {
        return Ok(());
    }
    Err(SupervisorError::Error(error_reason(reply)))
}

fn error_reason(reply: Term) -> Term {
    match reply {
        Term::Tuple(mut items) if items.len() == 2 && items[0].is_atom("error") => {
            items.pop().unwrap_or_else(Term::nil)
        }
        other => other,
    }
}

/// `{ok, Child}` / `{ok, Child, Info}` → `Some(pid)` (`None` for
/// `{ok, undefined}`); `{error, R}` → `Err(Error(R))`.
fn child_reply(reply: Term) -> Result<Option<Pid>, SupervisorError> {
    match reply.as_tuple() {
        Some([ok, Term::Pid(p), ..]) if ok.is_atom("ok") => Ok(Some(*p)),
        Some([ok, u]) if ok.is_atom("ok") && u.is_atom("undefined") => Ok(None),
        _ => Err(SupervisorError::Error(error_reason(reply))),
    }
}

fn local_pid(ctx: &Process, sup: &Dest) -> Option<Pid> {
    match sup {
        Dest::Pid(p) if p.node == ctx.node().name() => Some(*p),
        Dest::Name(n) => ctx.node().whereis(*n),
        _ => None,
    }
}

/// Adds a child spec and starts it (`supervisor:start_child/2`).
/// `Ok(None)` when its start returned `ignore`.
///
/// A spec with a Rust closure start can only go to a supervisor on this
/// node; to another node it must be a start MFA.
pub async fn start_child(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    spec: ChildSpec,
) -> Result<Option<Pid>, SupervisorError> {
    let sup = sup.into();
    if let Start::Mfa { .. } = spec.start {
        // A start MFA travels as a term, to any supervisor, anywhere.
        return child_reply(sup_call(ctx, sup, tagged("start_child", spec.to_term())).await?);
    }
    let Some(pid) = local_pid(ctx, &sup) else {
        return Err(SupervisorError::Error(tagged(
            "invalid_mfa",
            spec.start.to_term(),
        )));
    };
    let mref = ctx.monitor(&pid);
    let from = call::From {
        pid: ctx.pid(),
        tag: Term::Reference(mref.clone()),
    };
    ctx.send_local(
        &pid,
        LocalCall {
            from,
            request: LocalRequest::StartChild(spec),
        },
    );
    let tag = Term::Reference(mref.clone());
    let msg = ctx
        .receive_match(
            |m| {
                call::is_down_for(m, &mref)
                    || m.as_term()
                        .and_then(Term::as_tuple)
                        .is_some_and(|t| t.len() == 2 && t[0] == tag)
            },
            None,
        )
        .await;
    let Some(Ok(Term::Tuple(mut items))) = msg.map(|m| m.into_term()) else {
        return Err(SupervisorError::Exit(crate::exit::noproc()));
    };
    if items.len() == 2 {
        ctx.demonitor(&mref, true);
        return child_reply(items.pop().unwrap_or_else(Term::nil));
    }
    Err(SupervisorError::Exit(
        items.pop().unwrap_or_else(crate::exit::noproc),
    ))
}

/// Starts a dynamic child of a `simple_one_for_one` supervisor with
/// `extra` appended to the spec's arguments (`supervisor:start_child(S, ExtraArgs)`).
pub async fn start_dynamic_child(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    extra: Vec<Term>,
) -> Result<Option<Pid>, SupervisorError> {
    child_reply(sup_call(ctx, sup, tagged("start_child", Term::List(extra))).await?)
}

/// Terminates a child, keeping its spec unless temporary
/// (`supervisor:terminate_child/2`; by pid for `simple_one_for_one`).
pub async fn terminate_child(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    id: Term,
) -> Result<(), SupervisorError> {
    unit_reply(sup_call(ctx, sup, tagged("terminate_child", id)).await?)
}

/// Restarts a terminated child (`supervisor:restart_child/2`).
pub async fn restart_child(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    id: Term,
) -> Result<Option<Pid>, SupervisorError> {
    child_reply(sup_call(ctx, sup, tagged("restart_child", id)).await?)
}

/// Deletes a terminated child's spec (`supervisor:delete_child/2`).
pub async fn delete_child(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    id: Term,
) -> Result<(), SupervisorError> {
    unit_reply(sup_call(ctx, sup, tagged("delete_child", id)).await?)
}

/// A child spec in map form (`supervisor:get_childspec/2`).
pub async fn get_childspec(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    id: Term,
) -> Result<Term, SupervisorError> {
    let reply = sup_call(ctx, sup, tagged("get_childspec", id)).await?;
    match reply {
        Term::Tuple(mut items) if items.len() == 2 && items[0].is_atom("ok") => {
            Ok(items.pop().unwrap_or_else(Term::nil))
        }
        other => Err(SupervisorError::Error(error_reason(other))),
    }
}

/// A child as `which_children` reports it: `{Id, Child, Type, Modules}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildInfo {
    /// The id (`undefined` for dynamic children).
    pub id: Term,
    /// The pid, `restarting` or `undefined`.
    pub child: Term,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// `dynamic` or the module list.
    pub modules: Term,
}

impl ChildInfo {
    /// The child's pid, if it runs.
    pub fn pid(&self) -> Option<Pid> {
        self.child.as_pid()
    }

    /// `{Id, Child, Type, Modules}`.
    pub fn to_term(&self) -> Term {
        Term::tuple(vec![
            self.id.clone(),
            self.child.clone(),
            Term::atom(self.child_type.as_str()),
            self.modules.clone(),
        ])
    }
}

/// Every child, newest first, as `supervisor:which_children/1` lists them.
pub async fn which_children(
    ctx: &mut Process,
    sup: impl Into<Dest>,
) -> Result<Vec<ChildInfo>, SupervisorError> {
    let reply = sup_call(ctx, sup, Term::atom("which_children")).await?;
    let Term::List(items) = reply else {
        return Err(SupervisorError::Error(reply));
    };
    items
        .into_iter()
        .map(|t| match t {
            Term::Tuple(f) if f.len() == 4 => {
                let child_type = if f[2].is_atom("supervisor") {
                    ChildType::Supervisor
                } else {
                    ChildType::Worker
                };
                let mut f = f.into_iter();
                let id = f.next().unwrap_or_else(Term::nil);
                let child = f.next().unwrap_or_else(Term::nil);
                let modules = f.nth(1).unwrap_or_else(Term::nil);
                Ok(ChildInfo {
                    id,
                    child,
                    child_type,
                    modules,
                })
            }
            other => Err(SupervisorError::Error(other)),
        })
        .collect()
}

/// `supervisor:count_children/1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// All child specs (for `simple_one_for_one`: 1).
    pub specs: u64,
    /// Running children.
    pub active: u64,
    /// Children of type supervisor.
    pub supervisors: u64,
    /// Children of type worker.
    pub workers: u64,
}

/// Counts children (`supervisor:count_children/1`).
pub async fn count_children(
    ctx: &mut Process,
    sup: impl Into<Dest>,
) -> Result<ChildCounts, SupervisorError> {
    let reply = sup_call(ctx, sup, Term::atom("count_children")).await?;
    let Term::List(items) = &reply else {
        return Err(SupervisorError::Error(reply));
    };
    let mut c = ChildCounts::default();
    for it in items {
        if let Some([Term::Atom(k), Term::Int(n)]) = it.as_tuple() {
            let n = u64::try_from(*n).unwrap_or(0);
            match k.as_str() {
                "specs" => c.specs = n,
                "active" => c.active = n,
                "supervisors" => c.supervisors = n,
                "workers" => c.workers = n,
                _ => {}
            }
        }
    }
    Ok(c)
}

/// How long [`stop`] waits by default.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Stops a supervisor: it terminates its children in reverse order and
/// exits with `reason` (`gen_server:stop(Sup, Reason, Timeout)`).
pub async fn stop(
    ctx: &mut Process,
    sup: impl Into<Dest>,
    reason: Term,
) -> Result<(), SupervisorError> {
    let request = Term::tuple(vec![Term::atom("terminate"), reason]);
    let sup = sup.into();
    let Some(pid) = (match &sup {
        Dest::Pid(p) => Some(*p),
        Dest::Name(n) => ctx.node().whereis(*n),
        Dest::Registered { .. } => None,
    }) else {
        return Err(SupervisorError::Exit(crate::exit::noproc()));
    };
    let mref = ctx.monitor(&pid);
    let from = call::From {
        pid: ctx.pid(),
        tag: Term::Reference(ctx.make_ref()),
    };
    ctx.send(
        &pid,
        Term::tuple(vec![Term::atom("system"), from.to_term(), request]),
    );
    match ctx
        .receive_match(|m| call::is_down_for(m, &mref), Some(STOP_TIMEOUT))
        .await
    {
        Some(_) => {
            // Drop the `ok` the supervisor sent before it went.
            let tag = from.tag.clone();
            let _ = ctx
                .receive_match(
                    |m| {
                        m.as_term()
                            .and_then(Term::as_tuple)
                            .is_some_and(|t| t.len() == 2 && t[0] == tag)
                    },
                    Some(Duration::ZERO),
                )
                .await;
            Ok(())
        }
        None => Err(SupervisorError::Exit(Term::atom("timeout"))),
    }
}

/// A handle on a supervisor (a pid, a registered name, `{Name, Node}`):
/// the functions above as methods.
///
/// ```
/// use etf::Term;
/// use ferrotp::supervisor::{ChildSpec, Start, SupFlags, SupOpts, Supervisor};
/// use ferrotp::Node;
/// Node::local().block_on_process(|mut ctx| async move {
///     let sup = Supervisor::start_link(&mut ctx, SupFlags::one_for_one(), vec![], SupOpts::named("doc_sup"))
///         .await
///         .unwrap();
///     let counter = ChildSpec::worker("c", Start::mfa("counter", "start_link", vec![Term::Int(1)]));
///     assert!(sup.start_child(&mut ctx, counter).await.unwrap().is_some());
///     assert_eq!(sup.count_children(&mut ctx).await.unwrap().active, 1);
///     let by_name = Supervisor::at(etf::Atom::new("doc_sup"));
///     assert_eq!(by_name.which_children(&mut ctx).await.unwrap().len(), 1);
/// }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Supervisor {
    dest: Dest,
}

impl Supervisor {
    /// [`start_link`], as a handle.
    pub async fn start_link(
        ctx: &mut Process,
        flags: SupFlags,
        specs: Vec<ChildSpec>,
        opts: SupOpts,
    ) -> Result<Supervisor, Term> {
        start_link(ctx, flags, specs, opts)
            .await
            .map(Supervisor::at)
    }

    /// A handle on the supervisor at `dest`.
    pub fn at(dest: impl Into<Dest>) -> Supervisor {
        Supervisor { dest: dest.into() }
    }

    /// The pid, if this handle names one.
    pub fn pid(&self) -> Option<Pid> {
        match &self.dest {
            Dest::Pid(p) => Some(*p),
            _ => None,
        }
    }

    /// [`start_child`].
    pub async fn start_child(
        &self,
        ctx: &mut Process,
        spec: ChildSpec,
    ) -> Result<Option<Pid>, SupervisorError> {
        start_child(ctx, self.dest.clone(), spec).await
    }

    /// [`start_dynamic_child`].
    pub async fn start_dynamic_child(
        &self,
        ctx: &mut Process,
        extra: Vec<Term>,
    ) -> Result<Option<Pid>, SupervisorError> {
        start_dynamic_child(ctx, self.dest.clone(), extra).await
    }

    /// [`terminate_child`].
    pub async fn terminate_child(
        &self,
        ctx: &mut Process,
        id: Term,
    ) -> Result<(), SupervisorError> {
        terminate_child(ctx, self.dest.clone(), id).await
    }

    /// [`restart_child`].
    pub async fn restart_child(
        &self,
        ctx: &mut Process,
        id: Term,
    ) -> Result<Option<Pid>, SupervisorError> {
        restart_child(ctx, self.dest.clone(), id).await
    }

    /// [`delete_child`].
    pub async fn delete_child(&self, ctx: &mut Process, id: Term) -> Result<(), SupervisorError> {
        delete_child(ctx, self.dest.clone(), id).await
    }

    /// [`get_childspec`].
    pub async fn get_childspec(
        &self,
        ctx: &mut Process,
        id: Term,
    ) -> Result<Term, SupervisorError> {
        get_childspec(ctx, self.dest.clone(), id).await
    }

    /// [`which_children`].
    pub async fn which_children(
        &self,
        ctx: &mut Process,
    ) -> Result<Vec<ChildInfo>, SupervisorError> {
        which_children(ctx, self.dest.clone()).await
    }

    /// [`count_children`].
    pub async fn count_children(&self, ctx: &mut Process) -> Result<ChildCounts, SupervisorError> {
        count_children(ctx, self.dest.clone()).await
    }

    /// [`stop`].
    pub async fn stop(&self, ctx: &mut Process, reason: Term) -> Result<(), SupervisorError> {
        stop(ctx, self.dest.clone(), reason).await
    }
}
