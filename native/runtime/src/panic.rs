//! Panics inside processes: let it crash, never across the boundary.
//!
//! A panic in a process body (or in a `gen_server` callback) is caught where
//! the runtime polls the process, and becomes that process's exit reason:
//!
//! ```erlang
//! {panic, <<"index out of bounds: the len is 0 but the index is 3">>, <<"src/counter.rs:42">>}
//! ```
//!
//! i.e. `{panic, Message, Location}` where `Message` is the panic payload
//! (a `&str` or `String`; `<<"non-string panic payload">>` otherwise) and
//! `Location` is `file:line` as a binary (`<<"unknown">>` when Rust gives
//! none). Links and monitors then fire with that reason like any other
//! exit; no other process is affected.
//!
//! To learn the location the runtime installs a panic hook (once, chaining
//! to the previous hook). Panics inside processes are not printed by the
//! default hook: they are logged as crash reports instead; every other
//! panic is passed to the previous hook unchanged.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use etf::Term;

thread_local! {
    static IN_PROCESS: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook that records where a process panicked (idempotent).
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_PROCESS.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.with(|slot| *slot.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Polls `fut`, turning a panic into the exit reason `{panic, Msg, Loc}`.
pub(crate) fn catch_poll<F: Future>(
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Result<Poll<F::Output>, Term> {
    catch(|| fut.poll(cx))
}

/// Runs `f` (a synchronous callback), turning a panic into the exit
/// reason `{panic, Msg, Loc}`.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Term> {
    // One thread-local access for both the flag and its restoring (the
    // hook only reads the flag; the panic is caught inside).
    let result = IN_PROCESS.with(|flag| {
        let outer = flag.replace(true);
        let result = catch_unwind(AssertUnwindSafe(f));
        flag.set(outer);
        result
    });
    result.map_err(|payload| {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_owned()
        };
        let location = LOCATION
            .with(|slot| slot.borrow_mut().take())
            .unwrap_or_else(|| "unknown".to_owned());
        panic_reason(&message, &location)
    })
}

/// The exit reason for a panic: `{panic, <<Message>>, <<"file:line">>}`.
pub fn panic_reason(message: &str, location: &str) -> Term {
    Term::tuple(vec![
        Term::atom("panic"),
        Term::binary(message.as_bytes().to_vec()),
        Term::binary(location.as_bytes().to_vec()),
    ])
}

/// The `file:line` of a `{panic, Msg, Location}` exit reason.
pub fn panic_location(reason: &Term) -> Option<&str> {
    match reason.as_tuple()? {
        [tag, _, Term::Binary(loc)] if tag.is_atom("panic") => std::str::from_utf8(loc).ok(),
        _ => None,
    }
}
