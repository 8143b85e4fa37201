//! `sys` debug options of a gen_server: statistics, the event log, tracing.
//!
//! OTP's `sys` switches these on and off in any running gen_server with
//! `{debug, What}` system messages; a ferrotp gen_server answers them as
//! `sys:debug_cmd/2` does, and records the same events `gen_server` hands
//! to `sys:handle_debug/4`:
//!
//! | Erlang                                | reply                                              |
//! |---------------------------------------|----------------------------------------------------|
//! | `sys:statistics(P, true \| false)`     | `ok`                                               |
//! | `sys:statistics(P, get)`              | `{ok, [{start_time, T}, {current_time, T}, {reductions, 0}, {messages_in, N}, {messages_out, N}]}`, or `{ok, no_statistics}` when off |
//! | `sys:log(P, true \| {true, N} \| false)` | `ok` (keeps the last 10, or N, events)           |
//! | `sys:log(P, get)`                     | `{ok, [Event]}`, oldest first                      |
//! | `sys:log(P, print)`                   | `ok`; the logged events are printed                |
//! | `sys:trace(P, true \| false)`          | `ok`; every event is printed as it happens         |
//! | `sys:log_to_file(P, File \| false)`    | `ok`, or `{error, open_file}`                      |
//! | `sys:no_debug(P)`                     | `ok`: all off                                      |
//! | `sys:install(P, {Fun, FunState})`, `sys:remove/2` | `{error, erlang_fun}`: a Rust process cannot run an Erlang fun |
//!
//! Events, as `gen_server` records them: `{in, Msg}` for every call, cast
//! and other message (`Msg` as it arrived: `{'$gen_call', From, Request}`,
//! `{'$gen_cast', Msg}`, or the message itself), `{out, Reply, From,
//! State}` for a reply, `{noreply, State}` after a callback that did not
//! reply; `State` is the server's [`state_term`](crate::gen_server::GenServer::state_term).
//! A call or cast from a Rust process on this node carries a typed value,
//! not a term: its event shows the atom `rust_value` in its place; for the
//! same reason `handle_continue` (a typed value too) records nothing.
//! Printed events (`trace`, `log print`) go to the host's
//! [`crate::logger`] as [`crate::logger::Report::Trace`]: in NIF and port
//! modes the VM prints them, as `gen_server`'s `print_event/3` does
//! (`*DBG* counter got call value from <0.80.0>`), where a `gen_server`'s
//! trace goes. With no logger (standalone, a Rust node) they are `tracing`
//! events (target `ferrotp::sys`) in the same wording, never standard
//! output, which a port program's frames use; `log_to_file` writes them
//! to the file.
//! Times are UTC (`erlang:localtime/0` is local time; a Rust process does
//! not know the VM's time zone). Reductions are the BEAM's own count: a
//! Rust process has none to report, so `0`.
//!
//! While any option is on, calls take the server's ordinary path (see
//! [`crate::direct`]), so that each is recorded.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use etf::Term;

/// Events a log keeps unless told otherwise (`sys:log(P, true)`).
const DEFAULT_LOG: usize = 10;

/// A gen_server's debug options (`sys:debug_options/1`'s `Dbg`).
#[derive(Default)]
pub(crate) struct Debug {
    statistics: Option<Statistics>,
    log: Option<EventLog>,
    trace: bool,
    file: Option<File>,
    /// An `{in, ..}` was recorded and nothing answered it yet: the loop
    /// records `{noreply, State}` once the callback is done.
    pending: bool,
}

/// `sys:statistics/2`'s counters.
struct Statistics {
    start_time: Term,
    messages_in: u64,
    messages_out: u64,
}

/// The last `cap` events.
struct EventLog {
    cap: usize,
    events: VecDeque<Term>,
}

impl EventLog {
    fn new(cap: usize) -> EventLog {
        EventLog {
            cap,
            events: VecDeque::with_capacity(cap.min(64)),
        }
    }

    fn push(&mut self, event: Term) {
        if self.events.len() == self.cap {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}

impl Debug {
    /// Whether any option is on (events are recorded).
    pub(crate) fn is_on(&self) -> bool {
        self.statistics.is_some() || self.log.is_some() || self.trace || self.file.is_some()
    }

    /// Records `{in, Msg}`; `name` is how the server is printed.
    pub(crate) fn message_in(&mut self, name: &Term, msg: Term) {
        if let Some(stats) = &mut self.statistics {
            stats.messages_in += 1;
        }
        self.pending = true;
        self.record(name, Term::tuple(vec![Term::atom("in"), msg]));
    }

    /// Records `{out, Reply, From, State}`.
    pub(crate) fn reply_out(&mut self, name: &Term, reply: Term, from: Term, state: Term) {
        if let Some(stats) = &mut self.statistics {
            stats.messages_out += 1;
        }
        self.pending = false;
        self.record(
            name,
            Term::tuple(vec![Term::atom("out"), reply, from, state]),
        );
    }

    /// After a callback: `{noreply, State}` if what came in was not
    /// answered (`state` is only made then).
    pub(crate) fn settle(&mut self, name: &Term, state: impl FnOnce() -> Term) {
        if std::mem::take(&mut self.pending) {
            self.record(name, Term::tuple(vec![Term::atom("noreply"), state()]));
        }
    }

    fn record(&mut self, name: &Term, event: Term) {
        if self.trace {
            print(name, &event);
        }
        if let Some(file) = &mut self.file {
            // A failing log file does not stop the server, as in OTP.
            let _ = writeln!(file, "{}", describe(name, &event));
        }
        if let Some(log) = &mut self.log {
            log.push(event);
        }
    }

    /// The logged events, oldest first (`get_status`'s "Logged events").
    pub(crate) fn logged(&self) -> Term {
        Term::List(
            self.log
                .iter()
                .flat_map(|l| l.events.iter().cloned())
                .collect(),
        )
    }

    /// Answers `{debug, What}` (`sys:debug_cmd/2`); `name` prints events.
    pub(crate) fn command(&mut self, what: &Term, name: &Term) -> Term {
        let ok = || Term::atom("ok");
        if what.is_atom("no_debug") {
            *self = Debug::default();
            return ok();
        }
        let Some([option, flag]) = what.as_tuple() else {
            return Term::atom("unknown_debug");
        };
        let option = option.as_atom().map(|a| a.as_str().to_owned());
        match (option.as_deref(), flag) {
            (Some("trace"), f) if f.is_atom("true") => self.trace = true,
            (Some("trace"), f) if f.is_atom("false") => self.trace = false,
            // As `sys:install_debug/3`: an option already on stays as it is.
            (Some("log"), f) if f.is_atom("true") => {
                self.log.get_or_insert_with(|| EventLog::new(DEFAULT_LOG));
            }
            (Some("log"), Term::Tuple(t)) if t.len() == 2 && t[0].is_atom("true") => match t[1] {
                Term::Int(n) if n >= 1 => {
                    let cap = usize::try_from(n).unwrap_or(usize::MAX);
                    self.log.get_or_insert_with(|| EventLog::new(cap));
                }
                _ => return Term::atom("unknown_debug"),
            },
            (Some("log"), f) if f.is_atom("false") => self.log = None,
            (Some("log"), f) if f.is_atom("get") => {
                return Term::tuple(vec![Term::atom("ok"), self.logged()]);
            }
            (Some("log"), f) if f.is_atom("print") => {
                for event in self.log.iter().flat_map(|l| l.events.iter()) {
                    print(name, event);
                }
            }
            (Some("log_to_file"), f) if f.is_atom("false") => self.file = None,
            (Some("log_to_file"), f) => {
                self.file = None;
                match file_name(f).and_then(|path| File::create(path).ok()) {
                    Some(file) => self.file = Some(file),
                    None => return Term::tuple(vec![Term::atom("error"), Term::atom("open_file")]),
                }
            }
            (Some("statistics"), f) if f.is_atom("true") => {
                if self.statistics.is_none() {
                    self.statistics = Some(Statistics {
                        start_time: utc_time(),
                        messages_in: 0,
                        messages_out: 0,
                    });
                }
            }
            (Some("statistics"), f) if f.is_atom("false") => self.statistics = None,
            (Some("statistics"), f) if f.is_atom("get") => {
                return Term::tuple(vec![Term::atom("ok"), self.statistics_term()]);
            }
            (Some("install" | "remove"), _) => {
                return Term::tuple(vec![Term::atom("error"), Term::atom("erlang_fun")]);
            }
            _ => return Term::atom("unknown_debug"),
        }
        ok()
    }

    fn statistics_term(&self) -> Term {
        let Some(stats) = &self.statistics else {
            return Term::atom("no_statistics");
        };
        let pair = |k: &str, v: Term| Term::tuple(vec![Term::atom(k), v]);
        Term::List(vec![
            pair("start_time", stats.start_time.clone()),
            pair("current_time", utc_time()),
            pair("reductions", Term::Int(0)),
            pair("messages_in", count(stats.messages_in)),
            pair("messages_out", count(stats.messages_out)),
        ])
    }
}

/// A count as an Erlang integer.
fn count(n: u64) -> Term {
    Term::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A file name as `file:open/2` takes it: a string (charlist), a binary
/// or an atom.
fn file_name(t: &Term) -> Option<String> {
    match t {
        Term::Binary(b) => std::str::from_utf8(b).ok().map(str::to_owned),
        Term::List(chars) => chars
            .iter()
            .map(|c| match c {
                Term::Int(c) => u32::try_from(*c).ok().and_then(char::from_u32),
                _ => None,
            })
            .collect(),
        _ => t.as_atom().map(|a| a.as_str().to_owned()),
    }
}

/// An event as `gen_server:print_event/3` prints it.
/// Prints `event` as a gen_server's trace prints it: through the host's
/// [`crate::logger`] when there is one (in the VM, where a gen_server's
/// trace goes), else as a `tracing` event (target `ferrotp::sys`).
fn print(name: &Term, event: &Term) {
    let report = || crate::logger::Report::Trace {
        name: name.clone(),
        event: event.clone(),
    };
    if !crate::logger::log(report) {
        tracing::info!(target: "ferrotp::sys", "{}", describe(name, event));
    }
}

fn describe(name: &Term, event: &Term) -> String {
    match event.as_tuple() {
        Some([tag, msg]) if tag.is_atom("in") => match msg.as_tuple() {
            Some([label, from, call]) if label.is_atom("$gen_call") => {
                let caller = from.as_tuple().and_then(|f| f.first()).unwrap_or(from);
                format!("*DBG* {name} got call {call} from {caller}")
            }
            Some([label, cast]) if label.is_atom("$gen_cast") => {
                format!("*DBG* {name} got cast {cast}")
            }
            _ => format!("*DBG* {name} got {msg}"),
        },
        Some([tag, reply, to, state]) if tag.is_atom("out") => {
            let to = to.as_tuple().and_then(|t| t.first()).unwrap_or(to);
            format!("*DBG* {name} sent {reply} to {to}, new state {state}")
        }
        Some([tag, state]) if tag.is_atom("noreply") => {
            format!("*DBG* {name} new state {state}")
        }
        _ => format!("*DBG* {name} dbg  {event}"),
    }
}

/// Now as `{{Year, Month, Day}, {Hour, Minute, Second}}` (what
/// `erlang:localtime/0` gives), in UTC.
fn utc_time() -> Term {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    Term::tuple(vec![
        Term::tuple(vec![count(y), count(m), count(d)]),
        Term::tuple(vec![
            count(rem / 3600),
            count(rem % 3600 / 60),
            count(rem % 60),
        ]),
    ])
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Eras of 400 years (146 097 days), counted from 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> Term {
        Term::atom("srv")
    }

    fn cmd(d: &mut Debug, option: &str, flag: Term) -> Term {
        d.command(&Term::tuple(vec![Term::atom(option), flag]), &name())
    }

    #[test]
    fn dates_are_the_gregorian_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
    }

    #[test]
    fn statistics_count_messages_in_and_out_once_on() {
        let mut d = Debug::default();
        assert_eq!(
            cmd(&mut d, "statistics", Term::atom("get")),
            Term::tuple(vec![Term::atom("ok"), Term::atom("no_statistics")])
        );
        d.message_in(&name(), Term::atom("before"));
        assert_eq!(
            cmd(&mut d, "statistics", Term::atom("true")),
            Term::atom("ok")
        );
        assert!(d.is_on());
        d.message_in(&name(), Term::atom("a"));
        d.reply_out(&name(), Term::Int(1), Term::nil(), Term::Int(0));
        d.message_in(&name(), Term::atom("b"));
        let got = cmd(&mut d, "statistics", Term::atom("get"));
        let Some([_, Term::List(stats)]) = got.as_tuple() else {
            panic!("{got}");
        };
        let value = |k: &str| {
            stats.iter().find_map(|p| match p.as_tuple() {
                Some([key, v]) if key.is_atom(k) => Some(v.clone()),
                _ => None,
            })
        };
        assert_eq!(value("messages_in"), Some(Term::Int(2)));
        assert_eq!(value("messages_out"), Some(Term::Int(1)));
        assert_eq!(value("reductions"), Some(Term::Int(0)));
        assert!(value("start_time").is_some() && value("current_time").is_some());
        assert_eq!(
            cmd(&mut d, "statistics", Term::atom("false")),
            Term::atom("ok")
        );
        assert!(!d.is_on());
    }

    #[test]
    fn the_log_keeps_the_last_n_events_oldest_first() {
        let mut d = Debug::default();
        cmd(
            &mut d,
            "log",
            Term::tuple(vec![Term::atom("true"), Term::Int(2)]),
        );
        for i in 0..3 {
            d.message_in(&name(), Term::Int(i));
            d.settle(&name(), || Term::Int(i * 10));
        }
        let expected = Term::List(vec![
            Term::tuple(vec![Term::atom("in"), Term::Int(2)]),
            Term::tuple(vec![Term::atom("noreply"), Term::Int(20)]),
        ]);
        assert_eq!(d.logged(), expected);
        assert_eq!(
            cmd(&mut d, "log", Term::atom("get")),
            Term::tuple(vec![Term::atom("ok"), expected])
        );
        // A reply answers what came in: no `noreply` after it.
        d.message_in(&name(), Term::Int(3));
        d.reply_out(&name(), Term::Int(4), Term::nil(), Term::Int(5));
        d.settle(&name(), || unreachable!("replied"));
        assert_eq!(
            d.command(&Term::atom("no_debug"), &name()),
            Term::atom("ok")
        );
        assert!(!d.is_on());
        assert_eq!(d.logged(), Term::nil());
    }

    #[test]
    fn unknown_commands_and_erlang_funs_are_refused() {
        let mut d = Debug::default();
        assert_eq!(
            cmd(&mut d, "bogus", Term::atom("true")),
            Term::atom("unknown_debug")
        );
        assert_eq!(
            cmd(
                &mut d,
                "log",
                Term::tuple(vec![Term::atom("true"), Term::Int(0)])
            ),
            Term::atom("unknown_debug")
        );
        assert_eq!(
            cmd(&mut d, "install", Term::atom("f")),
            Term::tuple(vec![Term::atom("error"), Term::atom("erlang_fun")])
        );
        assert!(!d.is_on());
    }

    #[test]
    fn events_print_as_gen_server_prints_them() {
        let call = Term::tuple(vec![
            Term::atom("in"),
            Term::tuple(vec![
                Term::atom("$gen_call"),
                Term::tuple(vec![Term::atom("caller"), Term::atom("tag")]),
                Term::atom("value"),
            ]),
        ]);
        assert_eq!(
            describe(&name(), &call),
            "*DBG* srv got call value from caller"
        );
        let out = Term::tuple(vec![
            Term::atom("out"),
            Term::Int(5),
            Term::tuple(vec![Term::atom("caller"), Term::atom("tag")]),
            Term::Int(5),
        ]);
        assert_eq!(
            describe(&name(), &out),
            "*DBG* srv sent 5 to caller, new state 5"
        );
    }
}
