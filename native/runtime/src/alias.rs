//! Process aliases (OTP 24+): a reference that names a process for as long
//! as the process keeps it active.
//!
//! A message sent to an active alias reaches the process that made it; once
//! the alias is deactivated (or its process is gone) messages to it are
//! dropped silently. OTP's `gen_server:call` uses this so a reply that comes
//! after the call timed out never lands in the caller's mailbox: the tag is
//! `[alias | Mref]` and the server replies to the alias.
//!
//! | Erlang                                  | Rust                                   |
//! |-----------------------------------------|----------------------------------------|
//! | `Alias = alias()`                       | `let alias = ctx.alias();`             |
//! | `Alias ! Msg`                           | `ctx.send_alias(&alias, msg)`          |
//! | `unalias(Alias)`                        | `ctx.unalias(&alias)`                  |
//! | `gen_server:reply({Pid, [alias\|A]}, R)`| [`reply`]: `{[alias\|A], R}` to `A`    |
//!
//! Across nodes a message to an alias is the `ALIAS_SEND` control message
//! ([`Signal::AliasSend`]).
//!
//! ```
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let alias = ctx.alias();
//!     ctx.send_alias(&alias, Term::atom("one"));
//!     assert_eq!(ctx.receive().await.into_term().unwrap(), Term::atom("one"));
//!     assert!(ctx.unalias(&alias));
//!     ctx.send_alias(&alias, Term::atom("two")); // dropped
//!     let late = ctx.receive_timeout(std::time::Duration::from_millis(50)).await;
//!     assert!(late.is_none());
//! }).unwrap();
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use etf::{Pid, Reference, Term};
use parking_lot::Mutex;

use crate::process::Process;
use crate::signal::Signal;

/// A node's active aliases.
#[derive(Default)]
pub(crate) struct Aliases {
    /// How many aliases are active: process exits skip the lock when zero.
    count: AtomicUsize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    owner: HashMap<Reference, Pid>,
    by_pid: HashMap<Pid, Vec<Reference>>,
}

impl Aliases {
    /// Makes `alias` name `pid`.
    pub(crate) fn add(&self, alias: Reference, pid: Pid) {
        let mut t = self.table.lock();
        if t.owner.insert(alias.clone(), pid).is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        t.by_pid.entry(pid).or_default().push(alias);
    }

    /// Deactivates `alias` if `pid` owns it (`unalias/1`).
    pub(crate) fn remove(&self, alias: &Reference, pid: Pid) -> bool {
        let mut t = self.table.lock();
        if t.owner.get(alias) != Some(&pid) {
            return false;
        }
        t.owner.remove(alias);
        self.count.fetch_sub(1, Ordering::Relaxed);
        if let Some(list) = t.by_pid.get_mut(&pid) {
            list.retain(|a| a != alias);
            if list.is_empty() {
                t.by_pid.remove(&pid);
            }
        }
        true
    }

    /// The process an active alias names.
    pub(crate) fn resolve(&self, alias: &Reference) -> Option<Pid> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.table.lock().owner.get(alias).copied()
    }

    /// Deactivates every alias of a process that died.
    pub(crate) fn forget(&self, pid: &Pid) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut t = self.table.lock();
        if let Some(list) = t.by_pid.remove(pid) {
            for alias in list {
                if t.owner.remove(&alias).is_some() {
                    self.count.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The alias in a call tag `[alias | Alias]` (OTP 24+ `gen:call`), if the
/// tag has that shape.
pub fn tag_alias(tag: &Term) -> Option<&Reference> {
    match tag {
        Term::ImproperList(head, tail) => match (head.as_slice(), tail.as_ref()) {
            ([a], Term::Reference(r)) if a.is_atom("alias") => Some(r),
            _ => None,
        },
        _ => None,
    }
}

/// The call tag `[alias | Alias]`.
pub fn alias_tag(alias: &Reference) -> Term {
    Term::ImproperList(
        vec![Term::atom("alias")],
        Box::new(Term::Reference(alias.clone())),
    )
}

/// Sends `{Tag, Reply}` to a caller as `gen:reply/2` does: to the alias
/// when the tag is `[alias | Alias]`, to the caller's pid otherwise.
pub fn reply(ctx: &Process, caller: &Pid, tag: &Term, reply: Term) {
    reply_owned(ctx, caller, tag.clone(), reply);
}

/// [`reply`] with the tag given up: it goes into the message as it is.
pub(crate) fn reply_owned(ctx: &Process, caller: &Pid, tag: Term, reply: Term) {
    let alias = tag_alias(&tag).cloned();
    let msg = Term::tuple(vec![tag, reply]);
    match alias {
        Some(alias) => ctx.send_alias_owned(alias, msg),
        None => ctx.send(caller, msg),
    }
}

impl Process {
    /// `erlang:alias()`: a new alias for this process, active until
    /// [`Process::unalias`] or the process's death.
    pub fn alias(&mut self) -> Reference {
        let alias = self.make_ref();
        self.node().aliases().add(alias.clone(), self.pid());
        alias
    }

    /// Makes the reference `r` (a monitor's) an alias of this process, as
    /// `monitor(process, P, [{alias, demonitor}])` does.
    pub(crate) fn activate_alias(&mut self, r: &Reference) {
        self.node().aliases().add(r.clone(), self.pid());
    }

    /// `erlang:unalias(Alias)`: `true` if `alias` was an active alias of
    /// this process; messages to it are dropped from now on.
    pub fn unalias(&mut self, alias: &Reference) -> bool {
        self.node().aliases().remove(alias, self.pid())
    }

    /// `Alias ! Msg`: delivered if the alias is active, dropped otherwise
    /// (the alias may belong to another node: `ALIAS_SEND`).
    pub fn send_alias(&self, alias: &Reference, msg: Term) {
        self.send_alias_owned(alias.clone(), msg);
    }

    /// [`Process::send_alias`] with the alias given up.
    pub(crate) fn send_alias_owned(&self, alias: Reference, msg: Term) {
        self.node().route(Signal::AliasSend {
            from: self.pid(),
            alias,
            msg,
        });
    }
}
