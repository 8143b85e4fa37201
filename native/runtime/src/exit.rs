//! Exit reasons.
//!
//! An exit reason is any term. A few atoms mean something to the runtime:
//!
//! | reason               | meaning                                                          |
//! |----------------------|------------------------------------------------------------------|
//! | `normal`             | a normal exit: linked processes that do not trap exits ignore it |
//! | `kill`               | sent with `exit(Pid, kill)`: untrappable, the target dies `killed` |
//! | `killed`             | how a process killed by `kill` dies (what its links receive)     |
//! | `noproc`             | the process did not exist (link/monitor to a dead pid)           |
//! | `noconnection`       | the node holding the other end became unreachable                |
//! | `shutdown`, `{shutdown, _}` | an orderly stop requested by a supervisor (not logged as a crash) |
//!
//! A process body returns something [`IntoExitReason`]: `()` exits `normal`,
//! `Ok(x)` exits as `x` would, `Err(reason)` exits with `reason`.
//!
//! ```
//! use ferrotp::exit::{self, IntoExitReason};
//! use etf::Term;
//! assert!(exit::is_normal(&().into_exit_reason()));
//! let r: Result<(), Term> = Err(Term::atom("boom"));
//! assert_eq!(r.into_exit_reason(), Term::atom("boom"));
//! ```

use etf::{Atom, Pid, Term};

use crate::process::{ProcState, Process};
use crate::signal::Signal;

/// `normal`.
pub fn normal() -> Term {
    Term::atom("normal")
}

/// `kill`.
pub fn kill() -> Term {
    Term::atom("kill")
}

/// `killed`.
pub fn killed() -> Term {
    Term::atom("killed")
}

/// `noproc`.
pub fn noproc() -> Term {
    Term::atom("noproc")
}

/// `noconnection`.
pub fn noconnection() -> Term {
    Term::atom("noconnection")
}

/// `shutdown`.
pub fn shutdown() -> Term {
    Term::atom("shutdown")
}

/// `true` for `normal`.
pub fn is_normal(reason: &Term) -> bool {
    reason.is_atom("normal")
}

/// `true` for `kill`.
pub fn is_kill(reason: &Term) -> bool {
    reason.is_atom("kill")
}

/// `true` for the reasons OTP's logger does not report as crashes:
/// `normal`, `shutdown` and `{shutdown, _}`.
pub fn is_orderly(reason: &Term) -> bool {
    match reason {
        Term::Atom(a) => matches!(a.as_str(), "normal" | "shutdown"),
        Term::Tuple(items) => {
            items.len() == 2 && items.first().is_some_and(|t| t.is_atom("shutdown"))
        }
        _ => false,
    }
}

/// What a process body's output means as an exit reason.
pub trait IntoExitReason {
    /// The exit reason.
    fn into_exit_reason(self) -> Term;
}

impl IntoExitReason for () {
    fn into_exit_reason(self) -> Term {
        normal()
    }
}

impl IntoExitReason for Term {
    fn into_exit_reason(self) -> Term {
        self
    }
}

impl IntoExitReason for Atom {
    fn into_exit_reason(self) -> Term {
        Term::Atom(self)
    }
}

impl<T: IntoExitReason, E: IntoExitReason> IntoExitReason for Result<T, E> {
    fn into_exit_reason(self) -> Term {
        match self {
            Ok(v) => v.into_exit_reason(),
            Err(e) => e.into_exit_reason(),
        }
    }
}

/// An `exit/2` signal arrived from `from`:
/// `kill` always kills (reason `killed`); a trapping process gets
/// `{'EXIT', From, Reason}`; `normal` is ignored unless the process sent it
/// to itself; any other reason kills with that reason.
pub(crate) fn on_exit2(me: Pid, st: &mut ProcState, from: Pid, reason: Term) {
    if is_kill(&reason) {
        st.exiting = Some(Box::new(killed()));
    } else if st.trap_exit {
        st.mailbox.push(crate::link::exit_message(from, reason));
    } else if !is_normal(&reason) || from == me {
        st.exiting.get_or_insert(Box::new(reason));
    }
}

impl Process {
    /// Sends exit signal `reason` to `pid` (`exit(Pid, Reason)`, erlang:exit/2).
    ///
    /// `kill` kills even a process trapping exits (it dies `killed`);
    /// otherwise a trapping target gets `{'EXIT', Self, Reason}`; `normal`
    /// does nothing to another non-trapping process, but ends the caller
    /// if sent to itself. A signal to oneself takes effect at the next
    /// `.await`.
    pub fn exit(&self, pid: &Pid, reason: Term) {
        self.node.route(Signal::Exit2 {
            from: self.pid(),
            to: *pid,
            reason,
        });
    }

    /// Sets the `trap_exit` flag (`process_flag(trap_exit, On)`); returns
    /// the old value. While set, exit signals (except `kill`) arrive as
    /// `{'EXIT', From, Reason}` messages.
    pub fn trap_exit(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.shared.state.lock().trap_exit, on)
    }

    /// `true` while this process traps exits.
    pub fn is_trapping_exits(&self) -> bool {
        self.shared.state.lock().trap_exit
    }
}
