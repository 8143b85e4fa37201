//! Resource limits for the whole port program, set before any process runs.
//!
//! | Erlang / shell                        | Rust                                 |
//! |---------------------------------------|--------------------------------------|
//! | `ulimit -v KBYTES` before `exec`       | `limits::max_memory(bytes)?`         |
//!
//! A program over its address-space limit fails to allocate and aborts;
//! the host then sees the port exit and every hosted process exits with
//! `{port_exit, Status}`, as for any other crash.

use std::io;

/// Caps the program's address space (`RLIMIT_AS`) at `bytes`.
///
/// New mappings fail once the address space in use is over the cap (the
/// allocator reserves a large arena at start-up), so a program caps itself
/// after it has started its threads, whose stacks are mappings:
/// [`crate::Config::max_memory`] does so.
pub fn max_memory(bytes: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
