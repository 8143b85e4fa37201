//! Executors: where a process's task runs, and who names it.
//!
//! By default a process is a task on the node's tokio runtime and its pid
//! comes from the node's counter. A host that runs processes itself — the
//! NIF, which polls each process on the BEAM scheduler of a BEAM process
//! whose pid the Rust process takes — installs an [`Executor`] with
//! [`Node::set_executor`](crate::Node::set_executor): every spawn on the
//! node then asks it for the pid and hands it the task to poll.
//!
//! | Erlang (inside the VM)                  | Rust                                   |
//! |-----------------------------------------|----------------------------------------|
//! | the scheduler running a process         | `Executor::spawn` gets its task        |
//! | a process's pid                         | `Executor::alloc_pid`                  |
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use ferrotp::executor::{Executor, ProcessTask};
//! use ferrotp::Node;
//! use etf::Pid;
//!
//! /// Keeps the tasks; whoever owns it polls them.
//! struct Parked(Mutex<Vec<(Pid, ProcessTask)>>);
//! impl Executor for Parked {
//!     fn spawn(&self, pid: Pid, task: ProcessTask) {
//!         self.0.lock().unwrap().push((pid, task));
//!     }
//! }
//! let node = Node::local();
//! let parked = Arc::new(Parked(Mutex::new(Vec::new())));
//! node.set_executor(parked.clone());
//! let pid = node.spawn(|_ctx| async {});
//! assert_eq!(parked.0.lock().unwrap()[0].0, pid);
//! ```

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;
use tokio::runtime::Handle;

use etf::{Pid, Term};

use crate::direct::DirectServer;

/// A process's whole life as a future: polling it runs the process; it
/// completes when the process has died and sent its exit signals.
pub type ProcessTask = Pin<Box<dyn Future<Output = Exited> + Send + 'static>>;

/// How a process ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Exited {
    /// The exit reason.
    pub reason: Term,
    /// `true` if its own body crashed (an abnormal return or a panic, as
    /// opposed to being killed by an exit signal): OTP logs a crash report
    /// for these.
    pub crashed: bool,
    /// The state a crash report shows (a gen_server's state as a term,
    /// when it terminated abnormally); `None` when there is none to show.
    pub state: Option<Term>,
}

/// Runs the processes of a node (see the module docs).
pub trait Executor: Send + Sync {
    /// The pid for the next process, or `None` for one from the node's
    /// own counter. The pid must name this node and be unused.
    fn alloc_pid(&self) -> Option<Pid> {
        None
    }

    /// Takes the task of the new process `pid`; polling it to completion
    /// is the executor's job. Called once per spawn, after the process is
    /// in the process table (signals to it already queue).
    fn spawn(&self, pid: Pid, task: ProcessTask);

    /// Offers gen_server `pid`'s direct entry (see [`crate::direct`]),
    /// from inside a poll of its task, when its server loop starts.
    /// `true`: the host keeps it, and the server waits for messages in a
    /// way `server` can reach. Default: `false` (the server waits in a
    /// plain `receive`).
    fn direct_server(&self, pid: Pid, server: Arc<dyn DirectServer>) -> bool {
        let _ = (pid, server);
        false
    }
}

/// Runs every process as a task on a tokio runtime instead of the node's
/// scheduler threads: for a host that keeps everything on one thread (a
/// port program on a current-thread runtime: no thread ever waits for
/// another, and no thread is started that a memory limit could refuse).
///
/// ```
/// use std::sync::Arc;
/// use ferrotp::executor::TokioExecutor;
/// use ferrotp::Node;
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let _in_rt = rt.enter();
/// let node = Node::local();
/// node.set_executor(Arc::new(TokioExecutor::new(rt.handle().clone())));
/// let answer = rt.block_on(node.run(|_ctx| async { 42 }));
/// assert_eq!(answer, Ok(42));
/// ```
#[derive(Clone, Debug)]
pub struct TokioExecutor {
    handle: Handle,
}

impl TokioExecutor {
    /// Processes become tasks on `handle`'s runtime.
    pub fn new(handle: Handle) -> TokioExecutor {
        TokioExecutor { handle }
    }
}

impl Executor for TokioExecutor {
    fn spawn(&self, _pid: Pid, task: ProcessTask) {
        drop(self.handle.spawn(task));
    }
}
