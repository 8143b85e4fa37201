//! The supervisor process: OTP's `supervisor` callbacks on a receive loop.
//!
//! Grouped as supervisor.erl is: *init*, *callbacks* (`handle_call`,
//! `handle_cast`, `handle_info`, `terminate`), *restart*, *shutdown*,
//! *children*. Messages handled (besides `sys` messages):
//!
//! | message                                            | reply                                                  |
//! |----------------------------------------------------|--------------------------------------------------------|
//! | `{'$gen_call', F, which_children}`                 | `[{Id, Child, Type, Modules}]`, newest first           |
//! | `{'$gen_call', F, count_children}`                 | `[{specs,N},{active,N},{supervisors,N},{workers,N}]`   |
//! | `{'$gen_call', F, {start_child, SpecOrArgs}}`      | `{ok, Child}`, `{ok, Child, Info}`, `{error, E}`       |
//! | `{'$gen_call', F, {terminate_child, Id}}`          | `ok`, `{error, not_found}`, `{error, simple_one_for_one}` |
//! | `{'$gen_call', F, {restart_child, Id}}`            | `{ok, Child}`, `{error, running / restarting / not_found}` |
//! | `{'$gen_call', F, {delete_child, Id}}`             | `ok`, `{error, running / restarting / not_found}`      |
//! | `{'$gen_call', F, {get_childspec, Id}}`            | `{ok, Map}`, `{error, not_found}`                      |
//! | `{'$gen_cast', {try_again_restart, Id}}`           | (internal: retry a failed restart)                     |
//! | `{'EXIT', Child, Reason}`                          | (a child terminated: restart per strategy)             |
//! | `{'EXIT', Parent, Reason}`                         | (terminate all children, exit `Reason`)                |

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use etf::{Map, Pid, Reference, Term};

use crate::behaviours;
use crate::call::{self, Incoming, SysAction};
use crate::exit;
use crate::mailbox::Message;
use crate::process::Process;
use crate::start::{self, Init, Started};

use super::child_spec::{ChildSpec, ChildType, Restart, Shutdown, Start};
use super::flags::{AutoShutdown, Strategy, SupFlags};
use super::report::{self, Offender};
use super::restart::Intensity;

/// How long a stand-in (a BEAM child's bridge on its node) may take to end
/// after its child before it is killed.
const STAND_IN_GRACE: Duration = Duration::from_secs(5);

/// What the supervisor is started with: typed (Rust) or terms (a start
/// MFA `{supervisor, start_link, [Flags, Specs]}` from anywhere).
pub(crate) enum InitArg {
    Typed(SupFlags, Vec<ChildSpec>),
    Terms(Term, Term),
}

/// A typed request from a Rust caller on this node (a child spec with a
/// closure start cannot travel as a term).
pub(crate) struct LocalCall {
    pub(crate) from: call::From,
    pub(crate) request: LocalRequest,
}

/// See [`LocalCall`].
pub(crate) enum LocalRequest {
    StartChild(ChildSpec),
}

/// Where a child is (`#child.pid`).
#[derive(Clone, Debug, PartialEq)]
enum ChildPid {
    Undefined,
    Running(Pid),
    /// A restart failed and will be retried; the pid it had.
    Restarting(Option<Pid>),
}

impl ChildPid {
    fn to_term(&self) -> Term {
        match self {
            ChildPid::Undefined => Term::atom("undefined"),
            ChildPid::Running(p) => Term::Pid(*p),
            ChildPid::Restarting(p) => Term::tuple(vec![
                Term::atom("restarting"),
                p.map(Term::Pid).unwrap_or_else(|| Term::atom("undefined")),
            ]),
        }
    }
}

#[derive(Clone, Debug)]
struct Child {
    spec: ChildSpec,
    pid: ChildPid,
}

/// Key for a dynamic child (ordered, so `which_children` is stable).
type DynKey = (&'static str, u32, u32, u32);

fn dyn_key(p: &Pid) -> DynKey {
    (p.node.as_str(), p.creation, p.serial, p.id)
}

#[derive(Clone, Debug)]
struct Dynamic {
    pid: ChildPid,
    /// The start arguments (the full `A ++ Extra` for an MFA, the extra
    /// arguments for a Rust closure).
    args: Vec<Term>,
}

/// The supervisor's state (`#state{}`).
struct Sup {
    ctx: Process,
    parent: Pid,
    name: Term,
    flags: SupFlags,
    /// Static children in start order (OTP keeps them reversed).
    children: Vec<Child>,
    /// `simple_one_for_one` children, by pid.
    dynamics: BTreeMap<DynKey, Dynamic>,
    dynamic_restarts: u32,
    intensity: Intensity,
    init_arg: Term,
    /// Children managed through a stand-in ([`Started::Via`]): stand-in
    /// pid -> the child's own pid, which is what users are shown.
    shown: HashMap<Pid, Pid>,
}

/// What a restart decision leads to.
enum Next {
    Continue,
    Shutdown,
    /// End with this reason (children terminated first), as a crashed
    /// supervisor does.
    Exit(Term),
}

fn ok_tuple(t: Term) -> Term {
    Term::tuple(vec![Term::atom("ok"), t])
}

fn error_tuple(t: Term) -> Term {
    Term::tuple(vec![Term::atom("error"), t])
}

fn tagged(tag: &str, t: Term) -> Term {
    Term::tuple(vec![Term::atom(tag), t])
}

// ---------------------------------------------------------------- init

/// The supervisor's process body.
pub(crate) async fn run(mut ctx: Process, mut init: Init, arg: InitArg, parent: Pid) -> Term {
    ctx.trap_exit(true);
    let name = match ctx.registered_name() {
        Some(n) => Term::tuple(vec![Term::atom("local"), Term::Atom(n)]),
        None => Term::tuple(vec![Term::Pid(ctx.pid()), Term::atom("supervisor")]),
    };
    let (flags, specs, init_arg) = match arg {
        InitArg::Typed(flags, specs) => {
            let t = Term::tuple(vec![
                flags.to_term(),
                Term::List(specs.iter().map(ChildSpec::to_term).collect()),
            ]);
            match specs
                .iter()
                .try_for_each(|s| s.validate(flags.auto_shutdown))
            {
                Ok(()) => (flags, specs, t),
                Err(e) => return init_failed(&mut init, tagged("start_spec", e)),
            }
        }
        InitArg::Terms(flags_t, specs_t) => {
            let init_arg = Term::tuple(vec![flags_t.clone(), specs_t.clone()]);
            let flags = match SupFlags::from_term(&flags_t) {
                Ok(f) => f,
                Err(e) => return init_failed(&mut init, tagged("supervisor_data", e)),
            };
            let Term::List(items) = &specs_t else {
                return init_failed(&mut init, tagged("start_spec", specs_t.clone()));
            };
            if flags.strategy == Strategy::SimpleOneForOne && items.len() != 1 {
                return init_failed(&mut init, tagged("bad_start_spec", specs_t.clone()));
            }
            let mut specs = Vec::with_capacity(items.len());
            for item in items {
                match ChildSpec::from_term(item, flags.auto_shutdown) {
                    Ok(s) => specs.push(s),
                    Err(e) => return init_failed(&mut init, tagged("start_spec", e)),
                }
            }
            (flags, specs, init_arg)
        }
    };
    if flags.strategy == Strategy::SimpleOneForOne && specs.len() != 1 {
        let t = Term::List(specs.iter().map(ChildSpec::to_term).collect());
        return init_failed(&mut init, tagged("bad_start_spec", t));
    }
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|o| o.id == s.id) {
            let e = tagged("duplicate_child_name", s.id.clone());
            return init_failed(&mut init, tagged("start_spec", e));
        }
    }
    let mut sup = Sup {
        ctx,
        parent,
        name,
        intensity: Intensity::new(flags.intensity, flags.period),
        flags,
        children: specs
            .into_iter()
            .map(|spec| Child {
                spec,
                pid: ChildPid::Undefined,
            })
            .collect(),
        dynamics: BTreeMap::new(),
        dynamic_restarts: 0,
        shown: HashMap::new(),
        init_arg,
    };
    if !sup.is_simple() {
        let all: Vec<usize> = (0..sup.children.len()).collect();
        if let Err(reason) = sup.start_children(&all).await {
            sup.terminate_children_all().await;
            let reason = tagged("shutdown", reason);
            init.error(reason.clone());
            return reason;
        }
    }
    init.ok();
    sup.serve().await
}

fn init_failed(init: &mut Init, reason: Term) -> Term {
    init.error(reason.clone());
    reason
}

impl Sup {
    fn is_simple(&self) -> bool {
        self.flags.strategy == Strategy::SimpleOneForOne
    }

    fn template(&self) -> Option<&ChildSpec> {
        self.children.first().map(|c| &c.spec)
    }

    // ------------------------------------------------------------ loop

    async fn serve(mut self) -> Term {
        let mut suspended = false;
        loop {
            let msg = call::next_message(&mut self.ctx, suspended).await;
            let next = match Incoming::classify(msg) {
                Incoming::Call { from, request } => match self.handle_call(request).await {
                    Ok(reply) => {
                        from.reply(&self.ctx, reply);
                        Next::Continue
                    }
                    Err(unknown) => {
                        let args = vec![unknown, from.to_term(), self.state_term()];
                        Next::Exit(function_clause("handle_call", args))
                    }
                },
                Incoming::Local(b) => match b.downcast::<LocalCall>() {
                    Ok(lc) => {
                        let LocalRequest::StartChild(spec) = lc.request;
                        let reply = self.start_child_spec(spec).await;
                        lc.from.reply(&self.ctx, reply);
                        Next::Continue
                    }
                    Err(_) => {
                        self.unexpected(&Term::atom("local_message"));
                        Next::Continue
                    }
                },
                Incoming::Cast(msg) => self.handle_cast(msg).await,
                Incoming::Exit { from, reason } if from == self.parent => {
                    self.terminate().await;
                    return reason;
                }
                Incoming::Exit { from, reason } => self.restart_child(from, reason).await,
                Incoming::System { from, request } => {
                    let state = self.state_term();
                    let (ctx, parent) = (&self.ctx, self.parent);
                    match call::handle_system(ctx, parent, &from, &request, suspended, || state) {
                        SysAction::Continue => {}
                        SysAction::Suspend => suspended = true,
                        SysAction::Resume => suspended = false,
                        SysAction::Terminate(reason) => {
                            self.terminate().await;
                            return reason;
                        }
                    }
                    Next::Continue
                }
                Incoming::Info(t) => {
                    self.unexpected(&t);
                    Next::Continue
                }
            };
            match next {
                Next::Continue => {}
                Next::Shutdown => {
                    self.terminate().await;
                    return exit::shutdown();
                }
                Next::Exit(reason) => {
                    self.terminate().await;
                    return reason;
                }
            }
        }
    }

    fn unexpected(&self, msg: &Term) {
        tracing::error!(
            target: "ferrotp::supervisor",
            supervisor = %self.name,
            msg = %msg.limited(crate::LOG_TERM_BYTES),
            "Supervisor received unexpected message"
        );
    }

    /// `terminate/2`: all children, in reverse start order (dynamic
    /// children all at once).
    async fn terminate(&mut self) {
        if self.is_simple() {
            self.terminate_dynamic_children().await;
        } else {
            self.terminate_children_all().await;
        }
    }

    // ------------------------------------------------------ handle_call

    /// The reply to `request`, or `Err(request)` for a call OTP's
    /// supervisor has no clause for (it crashes with `function_clause`).
    async fn handle_call(&mut self, request: Term) -> Result<Term, Term> {
        if request.is_atom("which_children") {
            return Ok(self.which_children());
        }
        if request.is_atom("count_children") {
            return Ok(self.count_children());
        }
        let (tag, arg) = match request.as_tuple() {
            Some([Term::Atom(tag), arg]) => (tag.as_str(), arg.clone()),
            _ => return Err(request),
        };
        Ok(match tag {
            "start_child" => {
                if self.is_simple() {
                    match arg {
                        Term::List(extra) => self.start_dynamic_child(extra).await,
                        other => error_tuple(tagged("badarg", other)),
                    }
                } else {
                    match ChildSpec::from_term(&arg, self.flags.auto_shutdown) {
                        Ok(spec) => self.start_child_spec(spec).await,
                        Err(e) => error_tuple(e),
                    }
                }
            }
            "terminate_child" => self.terminate_child(arg).await,
            "restart_child" => self.restart_child_call(arg).await,
            "delete_child" => self.delete_child(arg),
            "get_childspec" => self.get_childspec(arg),
            _ => return Err(request),
        })
    }

    fn which_children(&self) -> Term {
        if self.is_simple() {
            let Some(t) = self.template() else {
                return Term::nil();
            };
            let (ct, mods) = (Term::atom(t.child_type.as_str()), t.modules.to_term());
            return Term::List(
                self.dynamics
                    .values()
                    .map(|d| {
                        let child = match d.pid {
                            ChildPid::Running(p) => Term::Pid(self.show(p)),
                            _ => Term::atom("restarting"),
                        };
                        Term::tuple(vec![
                            Term::atom("undefined"),
                            child,
                            ct.clone(),
                            mods.clone(),
                        ])
                    })
                    .collect(),
            );
        }
        Term::List(
            self.children
                .iter()
                .rev()
                .map(|c| {
                    let child = match &c.pid {
                        ChildPid::Running(p) => Term::Pid(self.show(*p)),
                        ChildPid::Restarting(_) => Term::atom("restarting"),
                        ChildPid::Undefined => Term::atom("undefined"),
                    };
                    Term::tuple(vec![
                        c.spec.id.clone(),
                        child,
                        Term::atom(c.spec.child_type.as_str()),
                        c.spec.modules.to_term(),
                    ])
                })
                .collect(),
        )
    }

    /// The pid users see for the managed pid `p` (see [`Sup::shown`]).
    fn show(&self, p: Pid) -> Pid {
        self.shown.get(&p).copied().unwrap_or(p)
    }

    /// The managed pid for a pid a user passed in (the inverse of
    /// [`Sup::show`]).
    fn managed(&self, p: Pid) -> Pid {
        self.shown
            .iter()
            .find(|(_, shown)| **shown == p)
            .map(|(via, _)| *via)
            .unwrap_or(p)
    }

    fn is_alive(&self, p: &Pid) -> bool {
        // A pid on another node is taken as alive (OTP asks that node); one
        // of this node may be a BEAM process of the VM (NIF mode).
        p.node != self.ctx.node().name() || self.ctx.node().is_process_alive(p)
    }

    fn count_children(&self) -> Term {
        let pair = |k: &str, n: usize| Term::tuple(vec![Term::atom(k), Term::Int(n as i64)]);
        let (specs, active, sups, workers) = if self.is_simple() {
            let size = self.dynamics.len();
            let active = size.saturating_sub(self.dynamic_restarts as usize);
            match self.template().map(|t| t.child_type) {
                Some(ChildType::Supervisor) => (1, active, size, 0),
                _ => (1, active, 0, size),
            }
        } else {
            let mut counts = (0, 0, 0, 0);
            for c in &self.children {
                counts.0 += 1;
                if matches!(&c.pid, ChildPid::Running(p) if self.is_alive(p)) {
                    counts.1 += 1;
                }
                match c.spec.child_type {
                    ChildType::Supervisor => counts.2 += 1,
                    ChildType::Worker => counts.3 += 1,
                }
            }
            counts
        };
        Term::List(vec![
            pair("specs", specs),
            pair("active", active),
            pair("supervisors", sups),
            pair("workers", workers),
        ])
    }

    fn find(&self, id: &Term) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == *id)
    }

    /// `handle_start_child/2`.
    async fn start_child_spec(&mut self, spec: ChildSpec) -> Term {
        if self.is_simple() {
            return error_tuple(Term::atom("simple_one_for_one"));
        }
        if let Err(e) = spec.validate(self.flags.auto_shutdown) {
            return error_tuple(e);
        }
        if let Some(i) = self.find(&spec.id) {
            return match &self.children[i].pid {
                ChildPid::Running(p) => error_tuple(start::already_started(*p)),
                _ => error_tuple(Term::atom("already_present")),
            };
        }
        match self.do_start_child(&spec, None).await {
            Ok(Started::Ignore) if spec.restart == Restart::Temporary => {
                ok_tuple(Term::atom("undefined"))
            }
            Ok(started) => {
                let pid = started
                    .pid()
                    .map(ChildPid::Running)
                    .unwrap_or(ChildPid::Undefined);
                let reply = match started {
                    Started::Ignore => ok_tuple(Term::atom("undefined")),
                    other => other.to_term(),
                };
                self.children.push(Child { spec, pid });
                reply
            }
            // Every start error, `{already_started, Pid}` from a taken
            // name too, comes with the child (OTP's handle_start_child/2).
            Err(e) => error_tuple(Term::tuple(vec![
                e,
                self.child_record(&spec, &ChildPid::Undefined),
            ])),
        }
    }

    /// `start_child(Sup, ExtraArgs)` on a `simple_one_for_one` supervisor.
    async fn start_dynamic_child(&mut self, extra: Vec<Term>) -> Term {
        let Some(template) = self.template().cloned() else {
            return error_tuple(Term::atom("not_found"));
        };
        let args = match &template.start {
            Start::Mfa { args, .. } => args.iter().cloned().chain(extra).collect(),
            Start::Rust(_) | Start::Custom(_) => extra,
        };
        match self.do_start_child(&template, Some(args.clone())).await {
            Ok(Started::Ignore) => ok_tuple(Term::atom("undefined")),
            Ok(started) => {
                if let Some(p) = started.pid() {
                    self.dynamics.insert(
                        dyn_key(&p),
                        Dynamic {
                            pid: ChildPid::Running(p),
                            args,
                        },
                    );
                }
                started.to_term()
            }
            Err(e) => error_tuple(e),
        }
    }

    async fn terminate_child(&mut self, id: Term) -> Term {
        if self.is_simple() {
            let Term::Pid(p) = id else {
                return error_tuple(Term::atom("simple_one_for_one"));
            };
            let p = self.managed(p);
            let key = dyn_key(&p);
            if let Some(d) = self.dynamics.get(&key).cloned() {
                if let Some(t) = self.template().cloned() {
                    self.do_terminate(&t, &d.pid).await;
                }
                if matches!(d.pid, ChildPid::Restarting(_)) {
                    self.dynamic_restarts = self.dynamic_restarts.saturating_sub(1);
                }
                self.dynamics.remove(&key);
                return Term::atom("ok");
            }
            // OTP: a pid that is not (or no longer) a child is fine if dead.
            return if self.is_alive(&p) {
                error_tuple(Term::atom("not_found"))
            } else {
                Term::atom("ok")
            };
        }
        let Some(i) = self.find(&id) else {
            return error_tuple(Term::atom("not_found"));
        };
        let child = self.children[i].clone();
        self.do_terminate(&child.spec, &child.pid).await;
        self.del_child(i);
        Term::atom("ok")
    }

    async fn restart_child_call(&mut self, id: Term) -> Term {
        if self.is_simple() {
            return error_tuple(Term::atom("simple_one_for_one"));
        }
        let Some(i) = self.find(&id) else {
            return error_tuple(Term::atom("not_found"));
        };
        match self.children[i].pid.clone() {
            ChildPid::Undefined => {
                let spec = self.children[i].spec.clone();
                match self.do_start_child(&spec, None).await {
                    Ok(Started::Ignore) => ok_tuple(Term::atom("undefined")),
                    Ok(started) => {
                        if let (Some(p), Some(c)) = (started.pid(), self.children.get_mut(i)) {
                            c.pid = ChildPid::Running(p);
                        }
                        started.to_term()
                    }
                    Err(e) => error_tuple(e),
                }
            }
            ChildPid::Restarting(_) => error_tuple(Term::atom("restarting")),
            ChildPid::Running(_) => error_tuple(Term::atom("running")),
        }
    }

    fn delete_child(&mut self, id: Term) -> Term {
        if self.is_simple() {
            return error_tuple(Term::atom("simple_one_for_one"));
        }
        let Some(i) = self.find(&id) else {
            return error_tuple(Term::atom("not_found"));
        };
        match self.children[i].pid {
            ChildPid::Undefined => {
                self.children.remove(i);
                Term::atom("ok")
            }
            ChildPid::Restarting(_) => error_tuple(Term::atom("restarting")),
            ChildPid::Running(_) => error_tuple(Term::atom("running")),
        }
    }

    fn get_childspec(&self, id: Term) -> Term {
        if self.is_simple() {
            // By pid, one of the dynamic children (or, as in OTP, a pid
            // no longer alive); by id, the template itself.
            let found = match &id {
                Term::Pid(p) => {
                    let p = self.managed(*p);
                    self.dynamics.contains_key(&dyn_key(&p)) || !self.is_alive(&p)
                }
                other => self.template().is_some_and(|t| t.id == *other),
            };
            return match (found, self.template()) {
                (true, Some(t)) => ok_tuple(t.to_term()),
                _ => error_tuple(Term::atom("not_found")),
            };
        }
        match self.find(&id) {
            Some(i) => ok_tuple(self.children[i].spec.to_term()),
            None => error_tuple(Term::atom("not_found")),
        }
    }

    // ------------------------------------------------------ handle_cast

    async fn handle_cast(&mut self, msg: Term) -> Next {
        let Some([_, id]) = msg.as_tuple().filter(|t| {
            t.first()
                .is_some_and(|tag| tag.is_atom("try_again_restart"))
        }) else {
            // OTP's supervisor takes no other cast: `function_clause`.
            let args = vec![msg, self.state_term()];
            return Next::Exit(function_clause("handle_cast", args));
        };
        if self.is_simple() {
            // {restarting, OldPid}
            let Some([_, Term::Pid(old)]) = id.as_tuple() else {
                return Next::Continue;
            };
            let key = dyn_key(old);
            return match self.dynamics.get(&key) {
                Some(d) if matches!(d.pid, ChildPid::Restarting(_)) => {
                    self.restart(Target::Dynamic(key)).await
                }
                _ => Next::Continue,
            };
        }
        match self.find(id) {
            Some(i) if matches!(self.children[i].pid, ChildPid::Restarting(_)) => {
                self.restart(Target::Static(i)).await
            }
            _ => Next::Continue,
        }
    }

    // ------------------------------------------------------ restart

    /// A child terminated (`restart_child/3`).
    async fn restart_child(&mut self, pid: Pid, reason: Term) -> Next {
        let target = if self.is_simple() {
            let key = dyn_key(&pid);
            if !self.dynamics.contains_key(&key) {
                return Next::Continue;
            }
            Target::Dynamic(key)
        } else {
            match self
                .children
                .iter()
                .position(|c| c.pid == ChildPid::Running(pid))
            {
                Some(i) => Target::Static(i),
                None => return Next::Continue,
            }
        };
        let Some(spec) = self.target_spec(&target) else {
            return Next::Continue;
        };
        let offender_pid = Term::Pid(self.shown.remove(&pid).unwrap_or(pid));
        let is_orderly = exit::is_orderly(&reason);
        match spec.restart {
            Restart::Permanent => {
                report::error(
                    &self.name,
                    "child_terminated",
                    &reason,
                    Offender::One(&spec, offender_pid),
                );
                self.restart(target).await
            }
            _ if is_orderly => {
                self.del_target(&target);
                self.auto_shutdown(&spec)
            }
            Restart::Transient => {
                report::error(
                    &self.name,
                    "child_terminated",
                    &reason,
                    Offender::One(&spec, offender_pid),
                );
                self.restart(target).await
            }
            Restart::Temporary => {
                report::error(
                    &self.name,
                    "child_terminated",
                    &reason,
                    Offender::One(&spec, offender_pid),
                );
                self.del_target(&target);
                self.auto_shutdown(&spec)
            }
        }
    }

    fn target_spec(&self, target: &Target) -> Option<ChildSpec> {
        match target {
            Target::Static(i) => self.children.get(*i).map(|c| c.spec.clone()),
            Target::Dynamic(_) => self.template().cloned(),
        }
    }

    fn del_target(&mut self, target: &Target) {
        match target {
            Target::Static(i) => self.del_child(*i),
            Target::Dynamic(key) => {
                if let Some(d) = self.dynamics.remove(key) {
                    if matches!(d.pid, ChildPid::Restarting(_)) {
                        self.dynamic_restarts = self.dynamic_restarts.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// `del_child/2`: a temporary child's spec goes, others keep it.
    fn del_child(&mut self, i: usize) {
        let Some(c) = self.children.get_mut(i) else {
            return;
        };
        if c.spec.restart == Restart::Temporary {
            self.children.remove(i);
        } else {
            c.pid = ChildPid::Undefined;
        }
    }

    /// `do_auto_shutdown/2`.
    fn auto_shutdown(&self, spec: &ChildSpec) -> Next {
        if !spec.significant {
            return Next::Continue;
        }
        match self.flags.auto_shutdown {
            AutoShutdown::Never => Next::Continue,
            AutoShutdown::AnySignificant => Next::Shutdown,
            AutoShutdown::AllSignificant => {
                let any_left = if self.is_simple() {
                    !self.dynamics.is_empty()
                } else {
                    self.children
                        .iter()
                        .any(|c| c.pid != ChildPid::Undefined && c.spec.significant)
                };
                if any_left {
                    Next::Continue
                } else {
                    Next::Shutdown
                }
            }
        }
    }

    /// `restart/2`: count the restart, then apply the strategy.
    async fn restart(&mut self, target: Target) -> Next {
        if !self.intensity.add() {
            if let Some(spec) = self.target_spec(&target) {
                let pid = self.target_pid(&target).to_term();
                report::error(
                    &self.name,
                    "shutdown",
                    &Term::atom("reached_max_restart_intensity"),
                    Offender::One(&spec, pid),
                );
            }
            self.del_target(&target);
            return Next::Shutdown;
        }
        let retry = match target {
            Target::Dynamic(key) => self.restart_dynamic(key).await,
            Target::Static(i) => match self.flags.strategy {
                Strategy::OneForOne | Strategy::SimpleOneForOne => self.restart_one(i).await,
                Strategy::RestForOne => {
                    let range: Vec<usize> = (i..self.children.len()).collect();
                    self.restart_multiple(i, range).await
                }
                Strategy::OneForAll => {
                    let range: Vec<usize> = (0..self.children.len()).collect();
                    self.restart_multiple(i, range).await
                }
            },
        };
        if let Some(id) = retry {
            let me = self.ctx.pid();
            call::cast(&self.ctx, me, tagged("try_again_restart", id));
        }
        Next::Continue
    }

    fn target_pid(&self, target: &Target) -> ChildPid {
        match target {
            Target::Static(i) => self
                .children
                .get(*i)
                .map(|c| c.pid.clone())
                .unwrap_or(ChildPid::Undefined),
            Target::Dynamic(key) => self
                .dynamics
                .get(key)
                .map(|d| d.pid.clone())
                .unwrap_or(ChildPid::Undefined),
        }
    }

    /// `restart(simple_one_for_one, ...)`; the retry id on failure.
    async fn restart_dynamic(&mut self, key: DynKey) -> Option<Term> {
        let template = self.template().cloned()?;
        let d = self.dynamics.remove(&key)?;
        let old = match d.pid {
            ChildPid::Running(p) => Some(p),
            ChildPid::Restarting(p) => {
                self.dynamic_restarts = self.dynamic_restarts.saturating_sub(1);
                p
            }
            ChildPid::Undefined => None,
        };
        match self.do_start_child(&template, Some(d.args.clone())).await {
            Ok(started) => {
                if let Some(p) = started.pid() {
                    self.dynamics.insert(
                        dyn_key(&p),
                        Dynamic {
                            pid: ChildPid::Running(p),
                            args: d.args,
                        },
                    );
                }
                None
            }
            Err(e) => {
                let old = old?;
                self.dynamic_restarts += 1;
                let rpid = ChildPid::Restarting(Some(old));
                report::error(
                    &self.name,
                    "start_error",
                    &e,
                    Offender::One(&template, rpid.to_term()),
                );
                self.dynamics.insert(
                    dyn_key(&old),
                    Dynamic {
                        pid: rpid,
                        args: d.args,
                    },
                );
                Some(Term::tuple(vec![Term::atom("restarting"), Term::Pid(old)]))
            }
        }
    }

    /// `restart(one_for_one, ...)`.
    async fn restart_one(&mut self, i: usize) -> Option<Term> {
        let child = self.children.get(i)?.clone();
        match self.do_start_child(&child.spec, None).await {
            Ok(started) => {
                if let Some(c) = self.children.get_mut(i) {
                    c.pid = started
                        .pid()
                        .map(ChildPid::Running)
                        .unwrap_or(ChildPid::Undefined);
                }
                None
            }
            Err(e) => {
                let rpid = restarting(&child.pid);
                report::error(
                    &self.name,
                    "start_error",
                    &e,
                    Offender::One(&child.spec, rpid.to_term()),
                );
                if let Some(c) = self.children.get_mut(i) {
                    c.pid = rpid;
                }
                Some(child.spec.id)
            }
        }
    }

    /// `restart_multiple_children/3`: terminate `range` (reverse start
    /// order), then start it again (start order).
    async fn restart_multiple(&mut self, failed: usize, range: Vec<usize>) -> Option<Term> {
        let failed_child = self.children.get(failed)?.clone();
        if let Some(c) = self.children.get_mut(failed) {
            c.pid = ChildPid::Undefined;
        }
        let failed_id = failed_child.spec.id.clone();
        // Terminate in reverse start order; temporary children go.
        let mut keep_ids = Vec::new();
        for &i in range.iter().rev() {
            let Some(c) = self.children.get(i).cloned() else {
                continue;
            };
            self.do_terminate(&c.spec, &c.pid).await;
            if c.spec.restart != Restart::Temporary {
                keep_ids.push(c.spec.id.clone());
            }
        }
        let range_ids: Vec<Term> = range
            .iter()
            .filter_map(|&i| self.children.get(i).map(|c| c.spec.id.clone()))
            .collect();
        self.children
            .retain(|c| !range_ids.contains(&c.spec.id) || keep_ids.contains(&c.spec.id));
        for c in self.children.iter_mut() {
            if keep_ids.contains(&c.spec.id) {
                c.pid = ChildPid::Undefined;
            }
        }
        let to_start: Vec<usize> = self
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| keep_ids.contains(&c.spec.id))
            .map(|(i, _)| i)
            .collect();
        match self.start_children(&to_start).await {
            Ok(()) => None,
            Err(reason) => {
                // {failed_to_start_child, Id, _}
                let id = reason.as_tuple().and_then(|t| t.get(1)).cloned()?;
                let new_pid = if id == failed_id {
                    restarting(&failed_child.pid)
                } else {
                    ChildPid::Restarting(None)
                };
                if let Some(i) = self.find(&id) {
                    if let Some(c) = self.children.get_mut(i) {
                        c.pid = new_pid;
                    }
                }
                Some(id)
            }
        }
    }

    // ------------------------------------------------------ children

    /// `start_children/2` over `indices` (start order). Ignored temporary
    /// children are removed. `Err({failed_to_start_child, Id, Reason})`
    /// at the first failure (reported as `start_error`).
    async fn start_children(&mut self, indices: &[usize]) -> Result<(), Term> {
        let ids: Vec<Term> = indices
            .iter()
            .filter_map(|&i| self.children.get(i).map(|c| c.spec.id.clone()))
            .collect();
        for id in ids {
            let Some(i) = self.find(&id) else { continue };
            let spec = self.children[i].spec.clone();
            match self.do_start_child(&spec, None).await {
                Ok(Started::Ignore) if spec.restart == Restart::Temporary => {
                    self.children.remove(i);
                }
                Ok(started) => {
                    self.children[i].pid = started
                        .pid()
                        .map(ChildPid::Running)
                        .unwrap_or(ChildPid::Undefined);
                }
                Err(e) => {
                    report::error(
                        &self.name,
                        "start_error",
                        &e,
                        Offender::One(&spec, Term::atom("undefined")),
                    );
                    return Err(Term::tuple(vec![
                        Term::atom("failed_to_start_child"),
                        id,
                        e,
                    ]));
                }
            }
        }
        Ok(())
    }

    /// `do_start_child/2`: start, and report progress on success. `args`
    /// replaces the spec's own arguments (dynamic children).
    async fn do_start_child(
        &mut self,
        spec: &ChildSpec,
        args: Option<Vec<Term>>,
    ) -> Result<Started, Term> {
        // A start function that panics fails the start, as an exception
        // in `catch apply(M, F, A)` does: `{'EXIT', Reason}`.
        let ctx = &mut self.ctx;
        let result = guarded(async move {
            match &spec.start {
                Start::Mfa {
                    module,
                    function,
                    args: own,
                } => {
                    let a = args.unwrap_or_else(|| own.clone());
                    behaviours::apply(ctx, *module, *function, a, Vec::new()).await
                }
                Start::Custom(c) => c.start(ctx, args.unwrap_or_default()).await,
                Start::Rust(f) => start::start_body(ctx, None, args.unwrap_or_default(), f()).await,
            }
        })
        .await
        .unwrap_or_else(|panic| Err(tagged("EXIT", panic)));
        if let Ok(started) = &result {
            if let (Some(managed), Some(shown)) = (started.pid(), started.shown_pid()) {
                if managed != shown {
                    self.shown.insert(managed, shown);
                }
                report::progress(&self.name, spec, Term::Pid(shown));
            }
        }
        result
    }

    /// `terminate_children/2` on every static child (reverse start
    /// order). Temporary children are removed, the others kept as
    /// `undefined`.
    async fn terminate_children_all(&mut self) {
        for i in (0..self.children.len()).rev() {
            let Some(c) = self.children.get(i).cloned() else {
                continue;
            };
            self.do_terminate(&c.spec, &c.pid).await;
        }
        self.children
            .retain(|c| c.spec.restart != Restart::Temporary);
        for c in self.children.iter_mut() {
            c.pid = ChildPid::Undefined;
        }
    }

    /// `do_terminate/2`: shut the child down if it runs; report errors.
    async fn do_terminate(&mut self, spec: &ChildSpec, pid: &ChildPid) {
        let ChildPid::Running(p) = pid else {
            return;
        };
        let shown = self.shown.remove(p).unwrap_or(*p);
        if let Err(reason) = self.shutdown(spec, *p, shown).await {
            report::error(
                &self.name,
                "shutdown_error",
                &reason,
                Offender::One(spec, Term::Pid(shown)),
            );
        }
    }

    /// `shutdown/1`: see the `shutdown` field of [`ChildSpec`]. `pid` is
    /// the managed pid, `child` the child's own ([`Sup::shown`]). Through a
    /// stand-in, `shutdown` goes to the stand-in, which passes it on as the
    /// child's parent; but the child itself is monitored and, when it comes
    /// to that, killed, as an OTP supervisor monitors and kills its child
    /// (killing the stand-in would reach the child as a trappable
    /// `killed`). The stand-in ends after it.
    async fn shutdown(&mut self, spec: &ChildSpec, pid: Pid, child: Pid) -> Result<(), Term> {
        let mref = self.ctx.monitor(&child);
        let reason = match spec.shutdown {
            Shutdown::BrutalKill => {
                self.ctx.exit(&child, exit::kill());
                self.wait_down(&mref, None).await
            }
            Shutdown::Timeout(ms) => {
                self.ctx.exit(&pid, exit::shutdown());
                match self.wait_down(&mref, Some(Duration::from_millis(ms))).await {
                    Some(r) => Some(r),
                    None => {
                        self.ctx.exit(&child, exit::kill());
                        self.wait_down(&mref, None).await
                    }
                }
            }
            Shutdown::Infinity => {
                self.ctx.exit(&pid, exit::shutdown());
                self.wait_down(&mref, None).await
            }
        }
        .unwrap_or_else(exit::noproc);
        if child != pid {
            self.stand_in_gone(pid).await;
        }
        let reason = self.unlink_flush(pid, reason).await;
        shutdown_result(spec, reason)
    }

    /// Waits for a stand-in to end after its child (it exits with the
    /// child's reason); one that does not (a child its start did not link
    /// to it) is killed.
    async fn stand_in_gone(&mut self, pid: Pid) {
        let mref = self.ctx.monitor(&pid);
        if self.wait_down(&mref, Some(STAND_IN_GRACE)).await.is_none() {
            self.ctx.exit(&pid, exit::kill());
            self.wait_down(&mref, None).await;
        }
    }

    async fn wait_down(&mut self, mref: &Reference, timeout: Option<Duration>) -> Option<Term> {
        let m = self
            .ctx
            .receive_match(|m| call::is_down_for(m, mref), timeout)
            .await?;
        down_reason(m)
    }

    /// `unlink_flush/2`: the child's `'EXIT'` reason if it already came.
    async fn unlink_flush(&mut self, pid: Pid, default: Term) -> Term {
        self.ctx.unlink(&pid);
        let is_exit = |m: &Message| {
            m.as_term()
                .and_then(Term::as_tuple)
                .is_some_and(|t| t.len() == 3 && t[0].is_atom("EXIT") && t[1] == Term::Pid(pid))
        };
        match self.ctx.receive_match(is_exit, Some(Duration::ZERO)).await {
            Some(m) => match m.into_term() {
                Ok(Term::Tuple(mut items)) => items.pop().unwrap_or(default),
                _ => default,
            },
            None => default,
        }
    }

    /// `terminate_dynamic_children/1`: all at once, one shared timeout.
    async fn terminate_dynamic_children(&mut self) {
        let Some(spec) = self.template().cloned() else {
            return;
        };
        // monitor ref -> child: one lookup per 'DOWN', whatever the count.
        let mut waiting: HashMap<Reference, Pid> = HashMap::new();
        for d in self.dynamics.values() {
            if let ChildPid::Running(p) = d.pid {
                let mref = self.ctx.monitor(&p);
                let how = match spec.shutdown {
                    Shutdown::BrutalKill => exit::kill(),
                    _ => exit::shutdown(),
                };
                self.ctx.exit(&p, how);
                waiting.insert(mref, p);
            }
        }
        let deadline = match spec.shutdown {
            Shutdown::Timeout(ms) => Some(tokio::time::Instant::now() + Duration::from_millis(ms)),
            _ => None,
        };
        let mut killed = false;
        let mut errors: Vec<(Term, usize)> = Vec::new();
        while !waiting.is_empty() {
            let timeout = match (deadline, killed) {
                (Some(d), false) => Some(d.saturating_duration_since(tokio::time::Instant::now())),
                _ => None,
            };
            let got = {
                let waiting = &waiting;
                let ours = move |m: &Message| {
                    matches!(m.as_term().and_then(Term::as_tuple),
                        Some([d, Term::Reference(r), ..]) if d.is_atom("DOWN") && waiting.contains_key(r))
                };
                self.ctx.receive_match(ours, timeout).await
            };
            let Some(m) = got else {
                for p in waiting.values() {
                    self.ctx.exit(p, exit::kill());
                }
                killed = true;
                continue;
            };
            let Ok(t) = m.into_term() else { continue };
            let Some(items) = t.as_tuple() else { continue };
            let (Some(Term::Reference(r)), Some(reason0)) = (items.get(1), items.get(4)) else {
                continue;
            };
            let Some(pid) = waiting.remove(r) else {
                continue;
            };
            let reason = self.unlink_flush(pid, reason0.clone()).await;
            if let Err(e) = shutdown_result(&spec, reason) {
                match errors.iter_mut().find(|(r, _)| *r == e) {
                    Some((_, n)) => *n += 1,
                    None => errors.push((e, 1)),
                }
            }
        }
        for (reason, n) in errors {
            report::error(
                &self.name,
                "shutdown_error",
                &reason,
                Offender::Many(&spec, n),
            );
        }
        self.dynamics.clear();
        self.dynamic_restarts = 0;
    }

    // ------------------------------------------------------ sys

    /// `#child{}` as a record tuple.
    fn child_record(&self, spec: &ChildSpec, pid: &ChildPid) -> Term {
        Term::tuple(vec![
            Term::atom("child"),
            pid.to_term(),
            spec.id.clone(),
            spec.start.to_term(),
            Term::atom(spec.restart.as_str()),
            Term::atom(if spec.significant { "true" } else { "false" }),
            spec.shutdown.to_term(),
            Term::atom(spec.child_type.as_str()),
            spec.modules.to_term(),
        ])
    }

    /// What `sys:get_state/1` returns: OTP's `#state{}` record,
    /// `{state, Name, Strategy, {Ids, #{Id => #child{}}}, Dynamics,
    /// Intensity, Period, Restarts, DynamicRestarts, AutoShutdown,
    /// supervisor, {SupFlags, ChildSpecs}}` (ids in reverse start order,
    /// as OTP keeps them; `Dynamics` is `{maps, #{Pid => Args}}` or
    /// `undefined`).
    fn state_term(&self) -> Term {
        let ids = Term::List(
            self.children
                .iter()
                .rev()
                .map(|c| c.spec.id.clone())
                .collect(),
        );
        let db: Map = self
            .children
            .iter()
            .map(|c| (c.spec.id.clone(), self.child_record(&c.spec, &c.pid)))
            .collect();
        let dynamics = if self.is_simple() {
            let m: Map = self
                .dynamics
                .values()
                .map(|d| (d.pid.to_term(), Term::List(d.args.clone())))
                .collect();
            Term::tuple(vec![Term::atom("maps"), Term::Map(m)])
        } else {
            Term::atom("undefined")
        };
        Term::tuple(vec![
            Term::atom("state"),
            self.name.clone(),
            Term::atom(self.flags.strategy.as_str()),
            Term::tuple(vec![ids, Term::Map(db)]),
            dynamics,
            Term::Int(self.flags.intensity.into()),
            Term::Int(self.flags.period.into()),
            Term::List(
                self.intensity
                    .restarts()
                    .map(|r| Term::Int(i64::try_from(r).unwrap_or(i64::MAX)))
                    .collect(),
            ),
            Term::Int(self.dynamic_restarts.into()),
            Term::atom(self.flags.auto_shutdown.as_str()),
            Term::atom("supervisor"),
            self.init_arg.clone(),
        ])
    }
}

/// Runs `fut`, turning a panic into `Err({panic, Msg, Location})`.
async fn guarded<F: std::future::Future>(fut: F) -> Result<F::Output, Term> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| match crate::panic::catch_poll(fut.as_mut(), cx) {
        Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
        Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
        Err(reason) => std::task::Poll::Ready(Err(reason)),
    })
    .await
}

/// A restart target: a static child (by index) or a dynamic one.
enum Target {
    Static(usize),
    Dynamic(DynKey),
}

/// `restarting(Pid)`.
fn restarting(pid: &ChildPid) -> ChildPid {
    match pid {
        ChildPid::Running(p) => ChildPid::Restarting(Some(*p)),
        ChildPid::Restarting(p) => ChildPid::Restarting(*p),
        ChildPid::Undefined => ChildPid::Restarting(None),
    }
}

fn down_reason(m: Message) -> Option<Term> {
    match m.into_term() {
        Ok(Term::Tuple(mut items)) if items.len() == 5 => items.pop(),
        _ => None,
    }
}

/// Whether a child's exit reason is what its shutdown asked for
/// (`shutdown/1`'s case clauses): `Err` is reported as `shutdown_error`.
fn shutdown_result(spec: &ChildSpec, reason: Term) -> Result<(), Term> {
    let permanent = spec.restart == Restart::Permanent;
    let ok = match spec.shutdown {
        Shutdown::BrutalKill => {
            reason.is_atom("killed") || (!permanent && exit::is_orderly(&reason))
        }
        _ => reason.is_atom("shutdown") || (!permanent && exit::is_orderly(&reason)),
    };
    if ok {
        Ok(())
    } else {
        Err(reason)
    }
}

/// The behaviour registry's `supervisor` entry: init argument
/// `{SupFlags, ChildSpecs}`, MFA `{supervisor, start_link, [SupFlags, ChildSpecs]}`.
pub(crate) struct SupervisorBehaviour;

impl crate::behaviours::Behaviour for SupervisorBehaviour {
    fn init_arg(&self, args: Vec<Term>) -> Option<Term> {
        let [flags, specs] = <[Term; 2]>::try_from(args).ok()?;
        Some(Term::tuple(vec![flags, specs]))
    }

    fn body(&self, arg: Term) -> Result<start::Body, Term> {
        let (flags, specs) = match arg {
            Term::Tuple(items) if items.len() == 2 => {
                let mut it = items.into_iter();
                match (it.next(), it.next()) {
                    (Some(f), Some(s)) => (f, s),
                    _ => return Err(Term::atom("badarg")),
                }
            }
            other => return Err(tagged("bad_return", other)),
        };
        Ok(start::body(move |ctx: Process, init: Init| async move {
            let parent = init.parent().unwrap_or_else(|| ctx.pid());
            run(ctx, init, InitArg::Terms(flags, specs), parent).await
        }))
    }
}

/// `{function_clause, [{supervisor, Function, Args, []}]}`: the reason OTP's
/// supervisor exits with on a call or cast it has no clause for.
fn function_clause(function: &str, args: Vec<Term>) -> Term {
    let frame = Term::tuple(vec![
        Term::atom("supervisor"),
        Term::atom(function),
        Term::List(args),
        Term::nil(),
    ]);
    tagged("function_clause", Term::List(vec![frame]))
}
