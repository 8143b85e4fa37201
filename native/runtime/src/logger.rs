//! OTP's `logger`, for reports the runtime makes as OTP makes them (a
//! supervisor's SUPERVISOR and PROGRESS reports, a gen_server's warning
//! for a message it has no `handle_info` for).
//!
//! | Erlang                                                   | Rust                                   |
//! |----------------------------------------------------------|----------------------------------------|
//! | `?LOG_ERROR(#{label => {supervisor, Ctx}, report => R}, Meta)` | `log(\|\| Report::Supervisor { .. })` (crate-internal) |
//! | `?LOG_INFO(#{label => {supervisor, progress}, report => R}, Meta)` | `log(\|\| Report::Progress(r))` |
//! | `?LOG_WARNING(#{label => {gen_server, no_handle_info}, module => M, message => Msg}, Meta)` | `log(\|\| Report::NoHandleInfo { .. })` |
//! | `sys:handle_debug/4`'s `print_event` (trace on)         | `log(\|\| Report::Trace { .. })`      |
//! | a handler added with `logger:add_handler/3`              | [`set_logger`]`(Arc::new(MyLogger))`  |
//!
//! Every report is a `tracing` event as well (see the callers); a host
//! that meets the VM's own `logger` (the NIF) installs a [`Logger`] that
//! hands the report to it, so that it shows where an OTP supervisor's
//! would.

use std::sync::{Arc, RwLock};

use etf::Term;

/// A report, in the terms OTP's report carries; its kind sets its level,
/// as in OTP (a supervisor report is an error, a progress report info,
/// `no_handle_info` a warning).
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A supervisor report: `[{supervisor, S}, {errorContext, Ctx},
    /// {reason, R}, {offender, Child}]` (label `{supervisor, Ctx}`).
    Supervisor {
        /// `errorContext`: `child_terminated`, `start_error`, `shutdown`
        /// or `shutdown_error`.
        context: Term,
        /// The whole report list.
        report: Term,
    },
    /// A progress report: `[{supervisor, S}, {started, Child}]` (label
    /// `{supervisor, progress}`).
    Progress(Term),
    /// A gen_server got `message`, which its behaviour has no
    /// `handle_info` for (label `{gen_server, no_handle_info}`; the host
    /// names the module, as it knows the behaviour a pid was started as).
    NoHandleInfo {
        /// The server.
        pid: etf::Pid,
        /// The message.
        message: Term,
    },
    /// A line `sys:trace/2` (or `sys:log(P, print)`) prints for a
    /// gen_server: `event` as `sys` records it (`{in, Msg}`, `{out, Reply,
    /// From, State}`, `{noreply, State}`), for the host to print as
    /// gen_server's `print_event/3` does, where a gen_server's trace goes.
    Trace {
        /// The server's registered name, or its pid.
        name: Term,
        /// The event.
        event: Term,
    },
}

impl Report {
    /// `{Kind, A, B}`, as `ferrotp:log_report/3` (Erlang) takes a report
    /// to log: `{supervisor_report, Context, Report}`, `{progress,
    /// progress, Report}`, `{no_handle_info, Pid, Message}` or `{trace,
    /// Name, Event}`.
    pub fn to_term(self) -> Term {
        let (kind, a, b) = match self {
            Report::Supervisor { context, report } => ("supervisor_report", context, report),
            Report::Progress(report) => ("progress", Term::atom("progress"), report),
            Report::NoHandleInfo { pid, message } => ("no_handle_info", Term::Pid(pid), message),
            Report::Trace { name, event } => ("trace", name, event),
        };
        Term::tuple(vec![Term::atom(kind), a, b])
    }
}

/// Where reports go besides `tracing`.
pub trait Logger: Send + Sync {
    /// Logs `report`. Called from inside processes: it must not block
    /// for long.
    fn log(&self, report: Report);
}

static LOGGER: RwLock<Option<Arc<dyn Logger>>> = RwLock::new(None);

/// Sends every report from now on to `logger` too (one per OS process,
/// as the runtime's behaviour registry).
pub fn set_logger(logger: Arc<dyn Logger>) {
    *LOGGER.write().unwrap_or_else(|p| p.into_inner()) = Some(logger);
}

/// Hands `report` to the installed [`Logger`], if any (`report` is only
/// made when there is one); whether there was one.
pub(crate) fn log(report: impl FnOnce() -> Report) -> bool {
    let logger = LOGGER.read().unwrap_or_else(|p| p.into_inner()).clone();
    match logger {
        Some(logger) => {
            logger.log(report());
            true
        }
        None => false,
    }
}
