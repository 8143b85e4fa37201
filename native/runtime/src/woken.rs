//! Running the processes a thread wakes on that thread, as the BEAM's
//! scheduler that reads a distribution port runs the processes it woke.
//!
//! A thread outside the node's schedulers (a connection's reader) that
//! delivers a message normally queues the woken process for a scheduler
//! thread and wakes one: two threads and a wake-up per message. A
//! [`Woken`] collects those processes instead, and the reader polls them
//! itself once it has delivered what it read ([`Woken::run`]), before it
//! waits for more: a remote `gen_server:call` is read, handled and
//! answered on one thread.
//!
//! | Erlang (inside the VM)                                   | Rust                                   |
//! |----------------------------------------------------------|----------------------------------------|
//! | the scheduler polling a dist port delivers a message     | `woken.collect(\|\| node.deliver(..))` |
//! | ... and runs the woken process next, on the same thread  | `woken.run()`                          |
//!
//! Each collected process is polled once; whatever it wakes, and a
//! process that has more to do (its budget spent, woken again while it
//! ran), goes to the scheduler threads as usual. Processes hosted by
//! other executors (the NIF, tokio) are not collected. A [`Woken`]
//! dropped with processes still in it queues them for the schedulers: a
//! wake-up is never lost.

use std::sync::Arc;

use crate::scheduler::{self, Task};

/// Processes woken by this thread, to be run on it (see the module docs).
#[derive(Default)]
pub struct Woken {
    tasks: Vec<Arc<Task>>,
}

impl Woken {
    /// An empty collection.
    pub fn new() -> Woken {
        Woken::default()
    }

    /// Runs `f`; processes it wakes are kept here for [`Woken::run`]
    /// instead of being queued for a scheduler thread.
    pub fn collect<R>(&mut self, f: impl FnOnce() -> R) -> R {
        scheduler::collect_woken(&mut self.tasks, f)
    }

    /// Polls every collected process once, on this thread.
    pub fn run(&mut self) {
        scheduler::run_woken(&mut self.tasks);
    }

    /// Whether nothing is waiting to run.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl Drop for Woken {
    fn drop(&mut self) {
        scheduler::schedule_woken(&mut self.tasks);
    }
}

impl std::fmt::Debug for Woken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Woken")
            .field("processes", &self.tasks.len())
            .finish()
    }
}
