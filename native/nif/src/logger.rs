//! The runtime's OTP reports (a Rust supervisor's SUPERVISOR and PROGRESS
//! reports, a Rust gen_server's `no_handle_info` warning) to the VM's
//! `logger`, where an OTP supervisor's and gen_server's go, and the lines
//! `sys:trace/2` prints for a Rust gen_server, where a gen_server's go.
//!
//! | Erlang (`supervisor`)                        | here                                         |
//! |----------------------------------------------|----------------------------------------------|
//! | `?report_error(Ctx, Reason, Child, SupName)`  | `{'$ferrotp_log', {supervisor_report, Ctx, Report}}` to the pool keeper, which logs it as `supervisor` does (`ferrotp:log_report/3`) |
//! | `report_progress(Child, SupName)`            | `{'$ferrotp_log', {progress, progress, Report}}` |
//! | (`gen_server`) `no_handle_info` warning       | `{'$ferrotp_log', {no_handle_info, Pid, Msg}}`  |
//! | (`sys`) a trace line, `print_event/3`         | `{'$ferrotp_log', {trace, Name, Event}}`: printed on the keeper's group leader |

use etf::Term;
use ferrotp::logger::{Logger, Report};

use crate::{beam_env, host};

/// Hands reports to the pool's keeper process, which logs them
/// (`erlang/ferrotp_nif.erl`, `log/1`).
pub struct BeamLogger;

impl BeamLogger {
    /// Makes this the runtime's [`Logger`].
    pub fn install() {
        ferrotp::logger::set_logger(std::sync::Arc::new(BeamLogger));
    }
}

impl Logger for BeamLogger {
    fn log(&self, report: Report) {
        let Some(keeper) = host::pool_keeper() else {
            return;
        };
        let msg = Term::tuple(vec![Term::atom("$ferrotp_log"), report.to_term()]);
        beam_env::send(&keeper, &msg);
    }
}
