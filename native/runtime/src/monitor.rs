//! Monitors: watching a process without sharing its fate.
//!
//! A monitor is one-way and fires once: when the watched process dies, the
//! watcher gets `{'DOWN', Ref, process, Object, Reason}`, where `Object` is
//! the pid, or `{Name, Node}` when the monitor was set up by name. A
//! monitor on a process that does not exist fires at once with `noproc`
//! (`noconnection` when its node is unreachable).
//!
//! | Erlang                                  | Rust                                    |
//! |-----------------------------------------|-----------------------------------------|
//! | `monitor(process, Pid)`                 | `ctx.monitor(&pid)`                     |
//! | `monitor(process, {Name, Node})`        | `ctx.monitor_name(name, node)`          |
//! | `demonitor(Ref)`                        | `ctx.demonitor(&r, false)`              |
//! | `demonitor(Ref, [flush])`               | `ctx.demonitor(&r, true)`               |
//! | `spawn_monitor(Fun)`                    | `ctx.spawn_monitor(f)`                  |
//!
//! ```
//! use ferrotp::Node;
//! use etf::Term;
//! let node = Node::local();
//! node.block_on_process(|mut ctx| async move {
//!     let dead = ctx.spawn(|_c| async {});
//!     let r = ctx.monitor(&dead);
//!     let down = ctx.receive().await.into_term().unwrap();
//!     // either it was already gone (noproc) or we saw it exit (normal)
//!     let reason = &down.as_tuple().unwrap()[4];
//!     assert!(reason.is_atom("noproc") || reason.is_atom("normal"));
//!     assert_eq!(down.as_tuple().unwrap()[1], Term::Reference(r));
//! }).unwrap();
//! ```

use etf::{Atom, Pid, Reference, Term};

use crate::mailbox::Message;
use crate::node::Node;
use crate::process::{ProcState, Process};
use crate::signal::{MonitorTarget, Signal};

/// `{'DOWN', Ref, process, Object, Reason}`.
pub(crate) fn down_message(reference: Reference, object: Term, reason: Term) -> Message {
    Message::Term(Term::tuple(vec![
        Term::atom("DOWN"),
        Term::Reference(reference),
        Term::atom("process"),
        object,
        reason,
    ]))
}

/// A `Monitor` signal arrived: `from` now watches this process.
pub(crate) fn on_monitor(
    me: Pid,
    st: &mut ProcState,
    node: &Node,
    from: Pid,
    reference: Reference,
) {
    node.book_monitored_by(from, me, &reference, true);
    st.rel().monitored_by.insert(reference, from);
}

/// A `Demonitor` signal arrived.
pub(crate) fn on_demonitor(
    me: Pid,
    st: &mut ProcState,
    node: &Node,
    from: Pid,
    reference: Reference,
) {
    if st.rel().monitored_by.remove(&reference).is_some() {
        node.book_monitored_by(from, me, &reference, false);
    }
}

/// A `Down` signal arrived; ignored if the monitor was removed meanwhile.
pub(crate) fn on_down(
    me: Pid,
    st: &mut ProcState,
    node: &Node,
    reference: Reference,
    reason: Term,
) {
    if let Some(target) = st.rel().monitors.remove(&reference) {
        node.book_monitor(me, &target, &reference, false);
        st.mailbox
            .push(down_message(reference, target.to_term(), reason));
    }
}

impl Process {
    /// Monitors `pid` (`erlang:monitor(process, Pid)`).
    pub fn monitor(&mut self, pid: &Pid) -> Reference {
        self.monitor_target(MonitorTarget::Pid(*pid))
    }

    /// Monitors the process registered as `name` on `node`
    /// (`erlang:monitor(process, {Name, Node})`); the `'DOWN'` names
    /// `{Name, Node}`.
    pub fn monitor_name(&mut self, name: Atom, node: Atom) -> Reference {
        self.monitor_target(MonitorTarget::Name { name, node })
    }

    fn monitor_target(&mut self, target: MonitorTarget) -> Reference {
        let me = self.pid();
        let reference = self.node.make_ref();
        self.shared
            .state
            .lock()
            .rel()
            .monitors
            .insert(reference.clone(), target.clone());
        self.node.book_monitor(me, &target, &reference, true);
        self.node.route(Signal::Monitor {
            from: me,
            target,
            reference: reference.clone(),
        });
        reference
    }

    /// Removes monitor `reference` (`erlang:demonitor(Ref)`); with `flush`,
    /// also removes its `'DOWN'` message if one already arrived
    /// (`demonitor(Ref, [flush])`). Returns `true` if the monitor was still
    /// active.
    pub fn demonitor(&mut self, reference: &Reference, flush: bool) -> bool {
        let me = self.pid();
        let target = self.shared.state.lock().rel().monitors.remove(reference);
        let active = target.is_some();
        if let Some(target) = target {
            self.node.book_monitor(me, &target, reference, false);
            self.node.route(Signal::Demonitor {
                from: me,
                target,
                reference: reference.clone(),
            });
        }
        if flush {
            self.shared.drain(&self.node, None);
            self.shared.state.lock().mailbox.remove_where(|m| {
                m.is_tagged("DOWN")
                    && m.as_term()
                        .and_then(Term::as_tuple)
                        .and_then(|t| t.get(1))
                        .is_some_and(|r| matches!(r, Term::Reference(x) if x == reference))
            });
        }
        active
    }
}
