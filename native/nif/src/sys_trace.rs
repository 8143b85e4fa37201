//! What `sys:trace/2` prints, printed by the VM.
//!
//! A Rust gen_server with `sys:trace(Pid, true)` on describes every event
//! as `gen_server` does (`*DBG* <0.80.0> got call value from <0.79.0>`,
//! see `ferrotp::debug`) through `tracing`, target `ferrotp::sys`. Inside
//! the VM nothing else would show those lines, so this subscriber hands
//! each one to the proxy pool's keeper process, which prints it on its
//! group leader (`io:put_chars/1`), where a `gen_server`'s trace goes:
//!
//! | Erlang                                    | here                                  |
//! |-------------------------------------------|---------------------------------------|
//! | `sys:trace(P, true)`, a `gen_server` prints `io:format(standard_io, ...)` | the line to the keeper as `{'$ferrotp_print', Line}`, printed with `io:put_chars/1` |
//!
//! Every other `tracing` event of the library is left out: crashes reach
//! the VM's `logger` from the proxies themselves, as a gen_server's do.

use std::fmt::Write;

use etf::Term;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::{beam_env, host};

/// The `tracing` target `ferrotp::debug` prints trace lines under.
const TARGET: &str = "ferrotp::sys";

/// Sends `ferrotp::sys` events to the VM to print; ignores all else.
pub struct SysTracePrinter;

impl SysTracePrinter {
    /// Makes this the library's `tracing` subscriber (once; later calls,
    /// and a subscriber set already, leave things as they are).
    pub fn install() {
        let _ = tracing::subscriber::set_global_default(SysTracePrinter);
    }
}

/// The text of an event's `message` field.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

impl Subscriber for SysTracePrinter {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == TARGET
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        if let Some(keeper) = host::pool_keeper() {
            let msg = Term::tuple(vec![
                Term::atom("$ferrotp_print"),
                Term::Binary(line.0.into_bytes().into()),
            ]);
            beam_env::send(&keeper, &msg);
        }
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
