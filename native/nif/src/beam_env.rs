//! Sending to BEAM processes from wherever Rust code runs.
//!
//! The VM allows `enif_send` from a scheduler thread only with the calling
//! process's environment, and from other threads only without one. Rust
//! processes run inside NIF calls (a scheduler thread, see `process.rs`),
//! while timers fire on the runtime's tokio threads. So every NIF entry
//! point records its environment for the duration of the call
//! ([`enter`]), and [`send`] uses it when there is one; elsewhere it
//! builds the message in a thread-local process-independent environment.
//!
//! | Erlang                  | here                                 |
//! |-------------------------|--------------------------------------|
//! | `Pid ! Msg` from a NIF  | [`send`] inside [`enter`]            |
//! | `Pid ! Msg` from a thread | [`send`] (an `OwnedEnv`)           |

use std::cell::{Cell, RefCell};
use std::ptr;

use etf::{Pid, Term};
use rustler::env::OwnedEnv;
use rustler::sys::ErlNifEnv;
use rustler::{Env, LocalPid};

use crate::convert::{pid_to_beam, to_beam};

thread_local! {
    static CALLER_ENV: Cell<*mut ErlNifEnv> = const { Cell::new(ptr::null_mut()) };
    /// Whether this thread is inside the node's tokio runtime for good
    /// (see `host::enter_runtime`). Beside `CALLER_ENV`, so a direct call
    /// reaches both with one thread-local lookup.
    static IN_RUNTIME: Cell<bool> = const { Cell::new(false) };
    static THREAD_ENV: RefCell<Option<OwnedEnv>> = const { RefCell::new(None) };
}

/// Restores the previous environment when dropped.
pub struct Entered {
    /// This thread's `CALLER_ENV` (a thread-local lives as long as its
    /// thread; the guard, holding a raw pointer, cannot leave the thread).
    cell: *const Cell<*mut ErlNifEnv>,
    previous: *mut ErlNifEnv,
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: `cell` is this thread's `CALLER_ENV` (see the field).
        unsafe { (*self.cell).set(self.previous) };
    }
}

/// Makes `env` the environment [`send`] uses on this thread until the guard
/// is dropped. `env` must be the environment of the running NIF call (or
/// callback) and outlive the guard.
pub fn enter(env: Env<'_>) -> Entered {
    CALLER_ENV.with(|c| Entered {
        cell: c as *const Cell<*mut ErlNifEnv>,
        previous: c.replace(env.as_c_arg()),
    })
}

/// Whether this thread has entered the node's runtime for good; `set`
/// records that it has.
pub fn in_runtime(set: bool) -> bool {
    IN_RUNTIME.with(|c| {
        if set {
            c.set(true);
        }
        c.get()
    })
}

/// Runs `f` with the current NIF call's environment, if this thread is in one.
pub fn with_caller_env<R>(f: impl FnOnce(Option<Env<'_>>) -> R) -> R {
    let raw = CALLER_ENV.with(|c| c.get());
    if raw.is_null() {
        return f(None);
    }
    let marker = ();
    // SAFETY: `raw` was recorded by `enter` for a NIF call that is still on
    // this thread's stack (the guard clears it on the way out).
    let env = unsafe { Env::new(&marker, raw) };
    f(Some(env))
}

/// Sends `msg` to the local process `to`. Messages to pids of other nodes,
/// and to dead processes, are dropped (as `!` does).
pub fn send(to: &Pid, msg: &Term) {
    send_with(to, |env| to_beam(env, msg));
}

/// Sends the term `build` makes to `to` (see [`send`]).
pub fn send_with(to: &Pid, build: impl for<'a> FnOnce(Env<'a>) -> rustler::Term<'a>) {
    let raw = CALLER_ENV.with(|c| c.get());
    if !raw.is_null() {
        let marker = ();
        // SAFETY: as in `with_caller_env`.
        let env = unsafe { Env::new(&marker, raw) };
        if let Some(pid) = local_pid(env, to) {
            let _ = env.send(&pid, build(env));
        }
        return;
    }
    if rustler::thread::is_scheduler_thread() {
        // A scheduler thread outside any NIF call that recorded its
        // environment: the VM forbids sending from here without one.
        tracing::error!(to = ?to, "ferrotp_nif: send from a scheduler thread without an environment dropped");
        return;
    }
    THREAD_ENV.with(|cell| {
        let mut slot = cell.borrow_mut();
        let owned = slot.get_or_insert_with(OwnedEnv::new);
        let pid = owned.run(|env| local_pid(env, to));
        if let Some(pid) = pid {
            let _ = owned.send_and_clear(&pid, build);
        }
    });
}

fn local_pid(env: Env<'_>, pid: &Pid) -> Option<LocalPid> {
    pid_to_beam(env, pid).decode::<LocalPid>().ok()
}
