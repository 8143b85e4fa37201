//! Links: two processes that live and die together.
//!
//! A link is bidirectional. When a linked process dies, the other receives
//! an exit signal carrying the reason. A process that does not trap exits
//! dies too, unless the reason is `normal`; a process that traps exits
//! gets the message `{'EXIT', From, Reason}` instead
//! ([`Process::trap_exit`]). Linking twice is the same as linking once;
//! linking to a process that does not exist gives an exit signal `noproc`
//! (`noconnection` if its node is unreachable).
//!
//! | Erlang                     | Rust                   |
//! |----------------------------|------------------------|
//! | `link(Pid)`                | `ctx.link(&pid)`       |
//! | `unlink(Pid)`              | `ctx.unlink(&pid)`     |
//! | `spawn_link(Fun)`          | `ctx.spawn_link(f)`    |
//!
//! ```
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     ctx.trap_exit(true);
//!     let child = ctx.spawn_link(|_c| async { Err::<(), _>(Term::atom("oops")) });
//!     let msg = ctx.receive().await.into_term().unwrap();
//!     assert_eq!(msg, Term::tuple(vec![Term::atom("EXIT"), Term::Pid(child), Term::atom("oops")]));
//! }).unwrap();
//! ```

use etf::{Pid, Term};

use crate::exit;
use crate::mailbox::Message;
use crate::node::Node;
use crate::process::{ProcState, Process};
use crate::signal::Signal;

/// `{'EXIT', From, Reason}`.
pub(crate) fn exit_message(from: Pid, reason: Term) -> Message {
    Message::Term(Term::tuple(vec![
        Term::atom("EXIT"),
        Term::Pid(from),
        reason,
    ]))
}

/// A `Link` signal arrived from `from`.
pub(crate) fn on_link(me: Pid, st: &mut ProcState, node: &Node, from: Pid) {
    if from != me && st.rel().links.insert(from) {
        node.book_link(me, from, true);
    }
}

/// An `Unlink` signal arrived: drop the link and acknowledge.
pub(crate) fn on_unlink(
    me: Pid,
    st: &mut ProcState,
    node: &Node,
    from: Pid,
    id: u64,
    out: &mut Vec<Signal>,
) {
    if st.rel().links.remove(&from) {
        node.book_link(me, from, false);
    }
    out.push(Signal::UnlinkAck {
        from: me,
        to: from,
        id,
    });
}

/// A link exit signal arrived. Ignored unless the link still exists (an
/// unlink wins over an exit signal already on its way).
pub(crate) fn on_exit(me: Pid, st: &mut ProcState, node: &Node, from: Pid, reason: Term) {
    if !st.rel().links.remove(&from) {
        return;
    }
    node.book_link(me, from, false);
    if st.trap_exit {
        st.mailbox.push(exit_message(from, reason));
    } else if !exit::is_normal(&reason) {
        st.exiting.get_or_insert(Box::new(reason));
    }
}

impl Process {
    /// Links this process to `pid` (`link(Pid)`). Idempotent; linking to
    /// oneself does nothing. If `pid` does not exist, an exit signal
    /// `noproc` comes back (it kills this process unless it traps exits).
    pub fn link(&mut self, pid: &Pid) {
        let me = self.pid();
        if *pid == me {
            return;
        }
        let fresh = self.shared.state.lock().rel().links.insert(*pid);
        if fresh {
            self.node.book_link(me, *pid, true);
            self.node.route(Signal::Link { from: me, to: *pid });
        }
    }

    /// Removes the link to `pid` (`unlink(Pid)`). After it returns, no exit
    /// signal from that link affects this process (an `{'EXIT', ..}`
    /// message that already arrived stays in the mailbox).
    pub fn unlink(&mut self, pid: &Pid) {
        let me = self.pid();
        let id = {
            let mut st = self.shared.state.lock();
            if !st.rel().links.remove(pid) {
                return;
            }
            st.next_unlink_id += 1;
            st.next_unlink_id
        };
        self.node.book_link(me, *pid, false);
        self.node.route(Signal::Unlink {
            from: me,
            to: *pid,
            id,
        });
    }

    /// The processes this one is linked to (`process_info(self(), links)`).
    pub fn links(&self) -> Vec<Pid> {
        self.shared.drain(&self.node, None);
        self.shared
            .state
            .lock()
            .rel()
            .links
            .iter()
            .copied()
            .collect()
    }
}
