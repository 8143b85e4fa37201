//! Timers: messages sent later.
//!
//! | Erlang                                   | Rust                                      |
//! |------------------------------------------|-------------------------------------------|
//! | `erlang:send_after(Ms, Pid, Msg)`        | `ctx.send_after(Duration, &pid, msg)`     |
//! | `erlang:cancel_timer(TRef)`              | `ctx.cancel_timer(&tref)`                 |
//!
//! `cancel_timer` returns the time that was left (`Some`) if it stopped the
//! timer, `None` if the message was already sent or the timer cancelled —
//! as `erlang:cancel_timer/1` returns `false`. As on the BEAM, a timer to a
//! process of this node is cancelled when that process dies: its message
//! is not kept until the deadline.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let me = ctx.pid();
//!     let t = ctx.send_after(Duration::from_secs(60), &me, Term::atom("late"));
//!     assert!(ctx.cancel_timer(&t).is_some());
//!     ctx.send_after(Duration::from_millis(1), &me, Term::atom("soon"));
//!     assert!(ctx.receive().await.as_term().unwrap().is_atom("soon"));
//! }).unwrap();
//! ```

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etf::{Pid, Reference, Term};
use tokio::time::Instant;

use crate::process::Process;

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// A running timer (`TRef`); clone freely.
#[derive(Clone, Debug)]
pub struct TimerRef {
    reference: Reference,
    deadline: Instant,
    state: Arc<AtomicU8>,
    task: tokio::task::AbortHandle,
}

impl TimerRef {
    /// The timer's reference, as `erlang:send_after/3` returns it.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

/// A timer as the process it sends to keeps it, to cancel it when it dies.
pub(crate) struct Pending {
    state: Arc<AtomicU8>,
    task: tokio::task::AbortHandle,
}

impl Pending {
    /// Stops the timer if it has not fired; `true` if this stopped it.
    pub(crate) fn cancel(&self) -> bool {
        let stopped = self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if stopped {
            self.task.abort();
        }
        stopped
    }

    /// Whether it has neither fired nor been cancelled.
    pub(crate) fn is_pending(&self) -> bool {
        self.state.load(Ordering::Acquire) == PENDING
    }
}

impl Process {
    /// Sends `msg` to `to` after `after` (`erlang:send_after/3`).
    pub fn send_after(&self, after: Duration, to: &Pid, msg: Term) -> TimerRef {
        let state = Arc::new(AtomicU8::new(PENDING));
        let flag = state.clone();
        let node = self.node.clone();
        let to = *to;
        let deadline = Instant::now() + after;
        let task = self.node.handle().spawn(async move {
            tokio::time::sleep_until(deadline).await;
            if flag
                .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                node.send(&to, msg);
            }
        });
        let task = task.abort_handle();
        // A process of this node keeps the timer, to cancel it when it
        // dies (at once, if it is dying already).
        if let Some(target) = self.node.lookup(&to) {
            let pending = Pending {
                state: state.clone(),
                task: task.clone(),
            };
            if let Err(pending) = target.watch_timer(pending) {
                pending.cancel();
            }
        }
        TimerRef {
            reference: self.node.make_ref(),
            deadline,
            state,
            task,
        }
    }

    /// Cancels `timer` (`erlang:cancel_timer/1`): the time that was left,
    /// or `None` if it had already fired or been cancelled.
    pub fn cancel_timer(&self, timer: &TimerRef) -> Option<Duration> {
        let pending = Pending {
            state: timer.state.clone(),
            task: timer.task.clone(),
        };
        pending
            .cancel()
            .then(|| timer.deadline.saturating_duration_since(Instant::now()))
    }
}
