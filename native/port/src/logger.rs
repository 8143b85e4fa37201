//! The runtime's OTP reports (a Rust supervisor's SUPERVISOR and PROGRESS
//! reports, a Rust gen_server's `no_handle_info` warning) to the host VM's
//! `logger`, where an OTP supervisor's and gen_server's go.
//!
//! | Erlang                                   | frame written                                          |
//! |------------------------------------------|--------------------------------------------------------|
//! | `?report_error(Ctx, Reason, Child, Sup)`  | `REG_SEND {6, X, '', '$ferrotp_log'}` + `{supervisor_report, Ctx, Report}` |
//! | `report_progress(Child, Sup)`            | ... + `{progress, progress, Report}`                    |
//! | `no_handle_info` warning                 | ... + `{no_handle_info, Pid, Msg}`                      |
//! | `sys:trace/2`'s line (`print_event/3`)   | ... + `{trace, Name, Event}`: the host prints it        |
//!
//! The host logs them (`ferrotp:log_report/3`) with the pids in them made
//! the BEAM's.

use etf::{Atom, Pid};
use ferrotp::logger::{Logger, Report};

use dist::control::ControlMessage;

use crate::frame::Frame;
use crate::outbox::Outbox;

/// Writes reports to the host.
pub struct PortLogger {
    outbox: Outbox,
    /// The sender the frames name: a pid of this program's node.
    from: Pid,
}

impl PortLogger {
    /// A logger writing to `outbox`, from node `node` (`creation`).
    pub fn new(outbox: Outbox, node: Atom, creation: u32) -> PortLogger {
        PortLogger {
            outbox,
            from: Pid {
                node,
                id: 0,
                serial: 0,
                creation,
            },
        }
    }
}

impl Logger for PortLogger {
    fn log(&self, report: Report) {
        let payload = report.to_term();
        self.outbox.push(&Frame::new(
            ControlMessage::RegSend {
                from: self.from,
                to_name: Atom::new("$ferrotp_log"),
            },
            Some(payload),
        ));
    }
}
