//! Direct calls: a host runs a waiting gen_server's next call or cast in
//! place, without queueing it.
//!
//! A gen_server spends most of its life waiting in `receive` with an empty
//! mailbox. A host that polls processes itself (the NIF, see
//! [`crate::executor`]) can then hand it the next `'$gen_call'` or
//! `'$gen_cast'` directly: the callback runs at once, on the host's thread,
//! and a call's reply comes back to the host as a term instead of a
//! message, so the host sends it (`gen:reply/2`). Nothing goes through the
//! signal queue, the mailbox or a waker.
//!
//! | Erlang (`gen_server` waiting in `receive`)      | Rust                                  |
//! |-------------------------------------------------|---------------------------------------|
//! | `{'$gen_call', {Pid, Tag}, Req}` arrives        | [`DirectServer::call`]`(pid, tag, req, cx)` |
//! | ... answered by `handle_call_now` (no `await`)  | [`DirectServer::call_now`]: runs in place |
//! | `{reply, R, S}`, then `gen:reply(From, R)`      | [`Direct::Replied`]`(r)`, the host replies |
//! | `{'$gen_cast', Msg}`s arrive                    | [`DirectServer::casts`]`(msgs, cx)`   |
//!
//! The server takes a message directly only when taking it from its mailbox
//! would have given the same result: it waits in its plain `receive` (not
//! suspended by `sys`, no `{continue, _}` pending, no callback running),
//! its mailbox and signal queue are empty, and the message decodes into its
//! request types. Otherwise the answer is [`Direct::Queue`] and the host
//! delivers the message the ordinary way, so order, selective receive,
//! system messages, exits and crash reasons are exactly those of the
//! ordinary path. A callback that does not finish at once (it awaits) or
//! asks for more than a reply (`{continue, _}`, stop, a deferred reply)
//! continues inside the process's task: [`Direct::Poll`].
//!
//! A host offers to take servers with
//! [`Executor::direct_server`](crate::executor::Executor::direct_server);
//! servers on hosts that decline (the default, and every tokio-hosted
//! process) wait in `receive` as before.

use std::task::Context;

use etf::{Pid, Term};

/// What a server did with a message handed to it directly.
#[derive(Debug, Clone, PartialEq)]
pub enum Direct {
    /// A call was answered with this reply: the host sends `{Tag, Reply}`
    /// to the caller (`gen:reply(From, Reply)`). The server waits again.
    Replied(Term),
    /// Handled (a cast); the server waits again. Nothing to poll.
    Done,
    /// Taken, but not finished: the process's task must be polled (a
    /// callback still running, a continuation, a stop, a reply to send).
    Poll,
    /// Not taken (the server is not waiting idle, or the message does not
    /// decode): deliver it the ordinary way.
    Queue,
}

/// A gen_server that can take its next message directly (see the module
/// docs). Only its process's executor may use it, and only while it holds
/// the process's task (no poll of the task may run at the same time).
pub trait DirectServer: Send + Sync {
    /// `{'$gen_call', {Caller, Tag}, Request}`. `cx` is the context of
    /// the process's task (its waker wakes the task).
    fn call(&self, caller: Pid, tag: Term, request: &Term, cx: &mut Context<'_>) -> Direct {
        let mut tag = Some(tag);
        self.call_now(
            caller,
            &mut || tag.take().unwrap_or_else(Term::nil),
            request,
            cx,
        )
    }

    /// [`DirectServer::call`], with the tag made only if it is needed:
    /// `tag` is called at most once, and not at all when the server
    /// answers at once from
    /// [`GenServer::handle_call_now`](crate::gen_server::GenServer::handle_call_now)
    /// (its state borrowed where it is parked: no future, no move). A host
    /// that must convert or record a tag to use it later saves that work.
    fn call_now(
        &self,
        caller: Pid,
        tag: &mut dyn FnMut() -> Term,
        request: &Term,
        cx: &mut Context<'_>,
    ) -> Direct;

    /// `{'$gen_cast', Msg}` for each of `msgs`, in order: how many the
    /// server took (a prefix of `msgs`; the host delivers the rest the
    /// ordinary way, after them) and what is left to do. Casts taken are
    /// the server's: if one stops the server or asks for a continuation,
    /// the ones after it wait at the head of its mailbox.
    fn casts(&self, msgs: &[Term], cx: &mut Context<'_>) -> (usize, Direct);
}
