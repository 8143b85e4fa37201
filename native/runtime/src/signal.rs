//! Signals: everything one process can tell another.
//!
//! In Erlang every interaction between processes is a *signal*: a message
//! (`Pid ! Msg`), a link or unlink, an exit signal, a monitor, a demonitor,
//! a `'DOWN'`. Signals from one process to another arrive in the order they
//! were sent. [`Signal`] is that set, transport-neutral: it mirrors the
//! distribution protocol's control messages, so a transport (dist, NIF,
//! port) translates each variant one-to-one.
//!
//! | Erlang                          | DIST control message   | [`Signal`]            |
//! |---------------------------------|------------------------|-----------------------|
//! | `Pid ! Msg`                     | `SEND_SENDER`          | [`Signal::Send`]      |
//! | `{Name, Node} ! Msg`            | `REG_SEND`             | [`Signal::RegSend`]   |
//! | `Alias ! Msg`                   | `ALIAS_SEND`           | [`Signal::AliasSend`] |
//! | `link(Pid)`                     | `LINK`                 | [`Signal::Link`]      |
//! | `unlink(Pid)`                   | `UNLINK_ID`            | [`Signal::Unlink`]    |
//! | (unlink acknowledgement)        | `UNLINK_ID_ACK`        | [`Signal::UnlinkAck`] |
//! | a linked process dies           | `EXIT`                 | [`Signal::Exit`]      |
//! | `exit(Pid, Reason)`             | `EXIT2`                | [`Signal::Exit2`]     |
//! | `monitor(process, PidOrName)`   | `MONITOR_P`            | [`Signal::Monitor`]   |
//! | `demonitor(Ref)`                | `DEMONITOR_P`          | [`Signal::Demonitor`] |
//! | a monitored process dies        | `MONITOR_P_EXIT`       | [`Signal::Down`]      |
//!
//! ```
//! use etf::{Atom, Pid, Term};
//! use ferrotp::Signal;
//! let a = Pid { node: Atom::new("a@h"), id: 1, serial: 0, creation: 1 };
//! let b = Pid { node: Atom::new("b@h"), id: 2, serial: 0, creation: 1 };
//! let s = Signal::Exit2 { from: a, to: b, reason: Term::atom("kill") };
//! assert_eq!(s.destination_node(), Atom::new("b@h"));
//! ```

use etf::{Atom, Pid, Reference, Term};

/// What a monitor watches: a pid, or a registered name on a node
/// (`erlang:monitor(process, {Name, Node})`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MonitorTarget {
    /// A process by pid.
    Pid(Pid),
    /// A process by registered name on `node`.
    Name {
        /// The registered name.
        name: Atom,
        /// The node the name is registered on.
        node: Atom,
    },
}

impl MonitorTarget {
    /// The node the target lives on.
    pub fn node(&self) -> Atom {
        match self {
            MonitorTarget::Pid(p) => p.node,
            MonitorTarget::Name { node, .. } => *node,
        }
    }

    /// The target as it appears in a `'DOWN'` message: `Pid` or `{Name, Node}`.
    pub fn to_term(&self) -> Term {
        match self {
            MonitorTarget::Pid(p) => Term::Pid(*p),
            MonitorTarget::Name { name, node } => {
                Term::tuple(vec![Term::Atom(*name), Term::Atom(*node)])
            }
        }
    }
}

/// A signal between processes; see the module docs for the Erlang and DIST
/// equivalents.
#[derive(Clone, Debug)]
pub enum Signal {
    /// A message to a pid (`Pid ! Msg`). `from` is `None` for messages with
    /// no sending process (timers, a transport that does not know).
    Send {
        /// The sender, if any.
        from: Option<Pid>,
        /// The receiver.
        to: Pid,
        /// The message.
        msg: Term,
    },
    /// A message to a registered name on a node (`{Name, Node} ! Msg`).
    RegSend {
        /// The sender.
        from: Pid,
        /// The registered name.
        to_name: Atom,
        /// The node the name lives on.
        to_node: Atom,
        /// The message.
        msg: Term,
    },
    /// A message to a process alias (`Alias ! Msg`, see [`crate::alias`]):
    /// delivered while the alias is active, dropped otherwise.
    AliasSend {
        /// The sender.
        from: Pid,
        /// The alias (made on the node that must deliver it).
        alias: Reference,
        /// The message.
        msg: Term,
    },
    /// `from` links to `to`.
    Link {
        /// The linking process.
        from: Pid,
        /// The process linked to.
        to: Pid,
    },
    /// `from` removes its link to `to`; `id` pairs it with its [`Signal::UnlinkAck`].
    Unlink {
        /// The unlinking process.
        from: Pid,
        /// The other end of the link.
        to: Pid,
        /// Unlink id (OTP 23+ `UNLINK_ID`).
        id: u64,
    },
    /// Acknowledges an [`Signal::Unlink`] with the same `id`.
    UnlinkAck {
        /// The acknowledging process.
        from: Pid,
        /// The process that unlinked.
        to: Pid,
        /// The id of the unlink acknowledged.
        id: u64,
    },
    /// A link exit signal: linked process `from` died with `reason`.
    Exit {
        /// The process that died.
        from: Pid,
        /// The linked process.
        to: Pid,
        /// The exit reason.
        reason: Term,
    },
    /// `exit(To, Reason)` called by `from` (erlang:exit/2): no link needed;
    /// `kill` is untrappable.
    Exit2 {
        /// The calling process.
        from: Pid,
        /// The target.
        to: Pid,
        /// The exit reason.
        reason: Term,
    },
    /// `from` monitors `target` under `reference`.
    Monitor {
        /// The watching process.
        from: Pid,
        /// The watched process (pid or name).
        target: MonitorTarget,
        /// The monitor reference.
        reference: Reference,
    },
    /// `from` removes its monitor `reference` on `target`.
    Demonitor {
        /// The watching process.
        from: Pid,
        /// The watched process.
        target: MonitorTarget,
        /// The monitor reference.
        reference: Reference,
    },
    /// Monitored process `from` is gone (`MONITOR_P_EXIT`); the watcher `to`
    /// turns it into `{'DOWN', Ref, process, Object, Reason}`.
    Down {
        /// The monitored process (pid, or the name when it was not registered).
        from: MonitorTarget,
        /// The watcher.
        to: Pid,
        /// The monitor reference.
        reference: Reference,
        /// The exit reason (`noproc`, `noconnection`, or how it died).
        reason: Term,
    },
}

impl Signal {
    /// The node whose runtime must handle this signal.
    pub fn destination_node(&self) -> Atom {
        match self {
            Signal::Send { to, .. }
            | Signal::Link { to, .. }
            | Signal::Unlink { to, .. }
            | Signal::UnlinkAck { to, .. }
            | Signal::Exit { to, .. }
            | Signal::Exit2 { to, .. }
            | Signal::Down { to, .. } => to.node,
            Signal::RegSend { to_node, .. } => *to_node,
            Signal::AliasSend { alias, .. } => alias.node,
            Signal::Monitor { target, .. } | Signal::Demonitor { target, .. } => target.node(),
        }
    }
}
