//! The mailbox and selective receive.
//!
//! Every process has one mailbox. Messages are appended in arrival order;
//! `receive` takes the *first* message that matches, and leaves the ones it
//! skipped where they were (OTP's "save queue"), so a later receive still
//! sees them in order.
//!
//! ```erlang
//! receive
//!     {reply, Ref, X} -> X
//! after 1000 -> timeout
//! end
//! ```
//!
//! ```
//! # use std::time::Duration;
//! # use ferrotp::{Message, Node};
//! # use etf::Term;
//! # let node = Node::local();
//! # node.block_on_process(|mut ctx| async move {
//! let me = ctx.pid();
//! ctx.send(&me, Term::atom("first"));
//! ctx.send(&me, Term::tuple(vec![Term::atom("reply"), Term::Int(7)]));
//! let reply = ctx
//!     .receive_match(|m| m.as_term().is_some_and(|t| t.as_tuple().is_some()), Some(Duration::from_secs(1)))
//!     .await;
//! assert!(reply.is_some());
//! // `first` was skipped, not lost:
//! assert!(ctx.receive().await.as_term().is_some_and(|t| t.is_atom("first")));
//! # }).unwrap();
//! ```

use std::any::Any;
use std::collections::VecDeque;

use etf::Term;

/// One message in a mailbox: an Erlang term, or a typed Rust value sent with
/// [`Process::send_local`](crate::Process::send_local) (never leaves the node).
pub enum Message {
    /// An Erlang term (from `send`, a transport, or an exit/`'DOWN'` notice).
    Term(Term),
    /// A Rust value sent between processes on the same node.
    Local(Box<dyn Any + Send>),
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Term(t) => f.debug_tuple("Term").field(t).finish(),
            Message::Local(_) => f.write_str("Local(..)"),
        }
    }
}

impl Message {
    /// The term, if this is a term message.
    pub fn as_term(&self) -> Option<&Term> {
        match self {
            Message::Term(t) => Some(t),
            Message::Local(_) => None,
        }
    }

    /// The term, if this is a term message; the message back otherwise.
    pub fn into_term(self) -> Result<Term, Message> {
        match self {
            Message::Term(t) => Ok(t),
            other => Err(other),
        }
    }

    /// `true` if this is a local message of type `T`.
    pub fn is<T: Any>(&self) -> bool {
        matches!(self, Message::Local(b) if b.is::<T>())
    }

    /// A reference to the local value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match self {
            Message::Local(b) => b.downcast_ref::<T>(),
            Message::Term(_) => None,
        }
    }

    /// The local value, if it is a `T`; the message back otherwise.
    pub fn downcast<T: Any>(self) -> Result<T, Message> {
        match self {
            Message::Local(b) => match b.downcast::<T>() {
                Ok(v) => Ok(*v),
                Err(b) => Err(Message::Local(b)),
            },
            other => Err(other),
        }
    }

    /// `true` for a term message that is a tuple whose first element is the atom `tag`
    /// (`{'EXIT', _, _}`, `{'DOWN', ...}`, `{'$gen_call', ...}`).
    pub fn is_tagged(&self, tag: &str) -> bool {
        self.as_term()
            .and_then(Term::as_tuple)
            .and_then(|items| items.first())
            .is_some_and(|t| t.is_atom(tag))
    }
}

impl From<Term> for Message {
    fn from(t: Term) -> Message {
        Message::Term(t)
    }
}

/// A process's mailbox: arrived messages, in order.
#[derive(Default)]
pub(crate) struct Mailbox {
    queue: VecDeque<Message>,
}

impl Mailbox {
    /// Appends an arrived message.
    pub(crate) fn push(&mut self, msg: Message) {
        self.queue.push_back(msg);
    }

    /// Puts a message back at the head (one taken ahead of its turn).
    pub(crate) fn push_front(&mut self, msg: Message) {
        self.queue.push_front(msg);
    }

    /// Number of messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Removes and returns the first message at or after `*scanned` that
    /// matches; advances `*scanned` past the ones that did not, so a pending
    /// receive never re-tests a message.
    pub(crate) fn take_match(
        &mut self,
        scanned: &mut usize,
        matches: &mut dyn FnMut(&Message) -> bool,
    ) -> Option<Message> {
        while *scanned < self.queue.len() {
            let hit = self.queue.get(*scanned).is_some_and(&mut *matches);
            if hit {
                return self.queue.remove(*scanned);
            }
            *scanned += 1;
        }
        None
    }

    /// Drops every message for which `drop` is true, keeping the order of the rest.
    pub(crate) fn remove_where(&mut self, mut drop: impl FnMut(&Message) -> bool) {
        self.queue.retain(|m| !drop(m));
    }
}
