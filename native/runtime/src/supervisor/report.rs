//! Supervisor reports, as OTP's logger gets them, through `tracing` (and
//! to the installed [`crate::logger::Logger`], as terms).
//!
//! | OTP report                                            | `tracing` event (target `ferrotp::supervisor`)          |
//! |-------------------------------------------------------|---------------------------------------------------------|
//! | `PROGRESS REPORT` `[{supervisor, S}, {started, C}]`   | `INFO`, fields `supervisor`, `started`                  |
//! | `SUPERVISOR REPORT` `[{supervisor, S}, {errorContext, Ctx}, {reason, R}, {offender, C}]` | `ERROR`, fields `supervisor`, `errorContext`, `reason`, `offender` |
//!
//! `errorContext` is one of `child_terminated`, `start_error`, `shutdown`
//! (with reason `reached_max_restart_intensity`) and `shutdown_error`.
//! `offender` is OTP's `extract_child/1` list:
//! `[{pid, P}, {id, Id}, {mfargs, MFA}, {restart_type, R}, {significant, S}, {shutdown, Sh}, {child_type, T}]`
//! (`{nb_children, N}` instead of `pid` for a group of dynamic children).
//! Every field is printed as Erlang term text.

use etf::Term;

use super::child_spec::ChildSpec;

/// Where a child was when something happened to it.
pub(crate) enum Offender<'a> {
    /// One child, with its pid (or `undefined`, `{restarting, P}`).
    One(&'a ChildSpec, Term),
    /// `n` dynamic children at once.
    Many(&'a ChildSpec, usize),
}

fn pair(k: &str, v: Term) -> Term {
    Term::tuple(vec![Term::atom(k), v])
}

/// `extract_child/1`.
pub(crate) fn offender(o: &Offender<'_>) -> Term {
    let (spec, head) = match o {
        Offender::One(spec, pid) => (*spec, pair("pid", pid.clone())),
        Offender::Many(spec, n) => (*spec, pair("nb_children", Term::Int(*n as i64))),
    };
    Term::List(vec![
        head,
        pair("id", spec.id.clone()),
        pair("mfargs", spec.start.to_term()),
        pair("restart_type", Term::atom(spec.restart.as_str())),
        pair(
            "significant",
            Term::atom(if spec.significant { "true" } else { "false" }),
        ),
        pair("shutdown", spec.shutdown.to_term()),
        pair("child_type", Term::atom(spec.child_type.as_str())),
    ])
}

/// A supervisor report (`?report_error`).
pub(crate) fn error(supervisor: &Term, context: &str, reason: &Term, o: Offender<'_>) {
    let offender = offender(&o);
    crate::logger::log(|| crate::logger::Report::Supervisor {
        context: Term::atom(context),
        report: Term::List(vec![
            pair("supervisor", supervisor.clone()),
            pair("errorContext", Term::atom(context)),
            pair("reason", reason.clone()),
            pair("offender", offender.clone()),
        ]),
    });
    tracing::error!(
        target: "ferrotp::supervisor",
        supervisor = %supervisor,
        errorContext = context,
        reason = %reason.limited(crate::LOG_TERM_BYTES),
        offender = %offender.limited(crate::LOG_TERM_BYTES),
        "supervisor report"
    );
}

/// A progress report: a child started.
pub(crate) fn progress(supervisor: &Term, spec: &ChildSpec, pid: Term) {
    let started = offender(&Offender::One(spec, pid));
    crate::logger::log(|| {
        crate::logger::Report::Progress(Term::List(vec![
            pair("supervisor", supervisor.clone()),
            pair("started", started.clone()),
        ]))
    });
    tracing::info!(
        target: "ferrotp::supervisor",
        supervisor = %supervisor,
        started = %started.limited(crate::LOG_TERM_BYTES),
        "progress report"
    );
}
