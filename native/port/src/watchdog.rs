//! The watchdog: a port program must not outlive the VM that started it.
//!
//! A closed stdin is the normal sign (the port was closed, or the VM died
//! and the pipe with it). The watchdog also covers a VM that dies while
//! the pipe is held open by someone else: when the parent process changes
//! (the program was re-parented to init or a subreaper), it exits.
//!
//! | Erlang                                   | Rust                                     |
//! |------------------------------------------|------------------------------------------|
//! | (a C port) `if (getppid() != parent) exit(1)` | `watchdog::start(Duration::from_millis(500))` |

use std::time::Duration;

/// Exit status when the parent went away.
pub const ORPHANED: i32 = 3;

/// Starts a thread that ends the whole program (status [`ORPHANED`]) once
/// its parent process changes; checks every `every`. Returns once the
/// thread runs (a thread still starting up maps memory of its own, which
/// a memory cap set meanwhile would refuse).
pub fn start(every: Duration) {
    let parent = std::os::unix::process::parent_id();
    let (running, started) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ferrotp-port-watchdog".into())
        .spawn(move || {
            let _ = running.send(());
            loop {
                std::thread::sleep(every);
                if std::os::unix::process::parent_id() != parent {
                    eprintln!("ferrotp port: parent process {parent} is gone; exiting");
                    std::process::exit(ORPHANED);
                }
            }
        });
    match spawned {
        Ok(_) => {
            let _ = started.recv_timeout(Duration::from_secs(5));
        }
        Err(e) => eprintln!("ferrotp port: cannot start the watchdog: {e}"),
    }
}
