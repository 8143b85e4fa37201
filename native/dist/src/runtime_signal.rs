//! The ferrotp runtime's signals ⇄ DIST control messages, one to one: what
//! the hidden node sends over TCP and what the port program writes in its
//! `{packet,4}` frames (the port reuses the distribution encoding rather
//! than a protocol of its own). Enabled by the `runtime` feature.
//!
//! | [`Signal`]            | control message out (+ payload)        | control messages in                          |
//! |-----------------------|----------------------------------------|----------------------------------------------|
//! | `Send` (with sender)  | `SEND_SENDER` + `Msg`                  | `SEND`, `SEND_SENDER` (and their `_TT`)      |
//! | `Send` (no sender)    | `SEND` + `Msg`                         |                                              |
//! | `RegSend`             | `REG_SEND` + `Msg`                     | `REG_SEND`, `REG_SEND_TT`                    |
//! | `AliasSend`           | `ALIAS_SEND` + `Msg`                   | `ALIAS_SEND`, `ALIAS_SEND_TT`                |
//! | `Link`                | `LINK`                                 | `LINK`                                       |
//! | `Unlink`              | `UNLINK_ID`                            | `UNLINK_ID` (and the obsolete `UNLINK`)      |
//! | `UnlinkAck`           | `UNLINK_ID_ACK`                        | `UNLINK_ID_ACK`                              |
//! | `Exit`                | `PAYLOAD_EXIT` + `Reason`              | `EXIT`, `PAYLOAD_EXIT` (and their `_TT`)     |
//! | `Exit2`               | `PAYLOAD_EXIT2` + `Reason`             | `EXIT2`, `PAYLOAD_EXIT2` (and their `_TT`)   |
//! | `Monitor`             | `MONITOR_P`                            | `MONITOR_P`                                  |
//! | `Demonitor`           | `DEMONITOR_P`                          | `DEMONITOR_P`                                |
//! | `Down`                | `PAYLOAD_MONITOR_P_EXIT` + `Reason`    | `MONITOR_P_EXIT`, `PAYLOAD_MONITOR_P_EXIT`   |
//!
//! The mapping goes through the distribution layer's own
//! [`crate::signal::Signal`] (which folds the wire's spellings), so the
//! control messages are spelled in one place. Reasons travel as payloads
//! (`EXIT_PAYLOAD`, OTP 22+); a connection to a
//! peer without that flag rewrites them to the inline forms
//! ([`crate::message`]). Sequential-trace tokens are dropped (ferrotp does
//! not trace). Node links, group leaders and spawn requests/replies are
//! not process signals: [`from_control`] says so and the transport
//! handles them itself.
//!
//! ```
//! use dist::runtime_signal::{from_control, to_control};
//! use etf::{Atom, Pid, Term};
//! use ferrotp::Signal;
//! let a = Pid { node: Atom::new("erl@h"), id: 1, serial: 0, creation: 1 };
//! let b = Pid { node: Atom::new("rust@h"), id: 2, serial: 0, creation: 1 };
//! let (msg, payload) = to_control(Signal::Exit2 { from: a, to: b, reason: Term::atom("kill") });
//! let back = from_control(Atom::new("rust@h"), Atom::new("erl@h"), msg, payload).unwrap();
//! assert!(matches!(back, Signal::Exit2 { reason, .. } if reason.is_atom("kill")));
//! ```

use etf::{Atom, Pid, Term};
use ferrotp::{MonitorTarget, Signal};

use crate::control::{ControlMessage, ProcRef};
use crate::signal::{Dest, Signal as Wire};

/// Why a control message carries no runtime signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotASignal {
    /// Not a process signal (node link, group leader, spawn request or
    /// reply): the transport's own business.
    #[error("control message {0} is not a process signal")]
    Other(i64),
    /// A control message that needs a payload came without one.
    #[error("control message {0} came without its payload")]
    MissingPayload(i64),
}

/// The control message (and payload) that carries `signal` to its node.
pub fn to_control(signal: Signal) -> (ControlMessage, Option<Term>) {
    let (wire, sender) = to_wire(signal);
    wire.into_control(sender)
}

/// The signal a control message from node `peer` carries to node `local`.
/// Names in `MONITOR_P`/`DEMONITOR_P` are registered on `local`; a name in
/// `MONITOR_P_EXIT` was monitored on `peer`.
pub fn from_control(
    local: Atom,
    peer: Atom,
    msg: ControlMessage,
    payload: Option<Term>,
) -> Result<Signal, NotASignal> {
    let op = msg.op();
    let has_payload = payload.is_some();
    let Some(wire) = Wire::from_control(msg, payload) else {
        return Err(match has_payload {
            false if op != ControlMessage::NodeLink.op() => NotASignal::MissingPayload(op),
            _ => NotASignal::Other(op),
        });
    };
    from_wire(wire, local, peer).ok_or(NotASignal::Other(op))
}

/// The runtime's signal as the distribution layer's, and the sender a
/// message to a name or alias goes out with.
fn to_wire(signal: Signal) -> (Wire, Pid) {
    match signal {
        Signal::Send { from, to, msg } => (
            Wire::Message {
                from,
                to: Dest::Pid(to),
                message: msg,
            },
            from.unwrap_or(to),
        ),
        Signal::RegSend {
            from, to_name, msg, ..
        } => (
            Wire::Message {
                from: Some(from),
                to: Dest::Name(to_name),
                message: msg,
            },
            from,
        ),
        Signal::AliasSend { from, alias, msg } => (
            Wire::Message {
                from: Some(from),
                to: Dest::Alias(alias),
                message: msg,
            },
            from,
        ),
        Signal::Link { from, to } => (Wire::Link { from, to }, from),
        Signal::Unlink { from, to, id } => (Wire::Unlink { id, from, to }, from),
        Signal::UnlinkAck { from, to, id } => (Wire::UnlinkAck { id, from, to }, from),
        Signal::Exit { from, to, reason } => (Wire::LinkExit { from, to, reason }, from),
        Signal::Exit2 { from, to, reason } => (Wire::Exit { from, to, reason }, from),
        Signal::Monitor {
            from,
            target,
            reference,
        } => (
            Wire::Monitor {
                from,
                to: proc_ref(target),
                reference,
            },
            from,
        ),
        Signal::Demonitor {
            from,
            target,
            reference,
        } => (
            Wire::Demonitor {
                from,
                to: proc_ref(target),
                reference,
            },
            from,
        ),
        Signal::Down {
            from,
            to,
            reference,
            reason,
        } => (
            Wire::Down {
                from: proc_ref(from),
                to,
                reference,
                reason,
            },
            to,
        ),
    }
}

/// The distribution layer's signal as the runtime's; `None` for those
/// that are not process signals (group leaders, spawn requests/replies).
fn from_wire(wire: Wire, local: Atom, peer: Atom) -> Option<Signal> {
    Some(match wire {
        Wire::Message {
            from,
            to: Dest::Pid(to),
            message,
        } => Signal::Send {
            from,
            to,
            msg: message,
        },
        Wire::Message {
            from: Some(from),
            to: Dest::Name(to_name),
            message,
        } => Signal::RegSend {
            from,
            to_name,
            to_node: local,
            msg: message,
        },
        Wire::Message {
            from: Some(from),
            to: Dest::Alias(alias),
            message,
        } => Signal::AliasSend {
            from,
            alias,
            msg: message,
        },
        Wire::Link { from, to } => Signal::Link { from, to },
        Wire::Unlink { id, from, to } => Signal::Unlink { from, to, id },
        Wire::UnlinkAck { id, from, to } => Signal::UnlinkAck { from, to, id },
        Wire::LinkExit { from, to, reason } => Signal::Exit { from, to, reason },
        Wire::Exit { from, to, reason } => Signal::Exit2 { from, to, reason },
        Wire::Monitor {
            from,
            to,
            reference,
        } => Signal::Monitor {
            from,
            target: target(to, local),
            reference,
        },
        Wire::Demonitor {
            from,
            to,
            reference,
        } => Signal::Demonitor {
            from,
            target: target(to, local),
            reference,
        },
        Wire::Down {
            from,
            to,
            reference,
            reason,
        } => Signal::Down {
            from: target(from, peer),
            to,
            reference,
            reason,
        },
        Wire::Message { from: None, .. }
        | Wire::GroupLeader { .. }
        | Wire::SpawnRequest { .. }
        | Wire::SpawnReply { .. } => return None,
    })
}

/// A monitored process as a control message names it.
fn proc_ref(target: MonitorTarget) -> ProcRef {
    match target {
        MonitorTarget::Pid(p) => ProcRef::Pid(p),
        MonitorTarget::Name { name, .. } => ProcRef::Name(name),
    }
}

/// A monitored process as the runtime names it: a name lives on `node`.
fn target(proc: ProcRef, node: Atom) -> MonitorTarget {
    match proc {
        ProcRef::Pid(p) => MonitorTarget::Pid(p),
        ProcRef::Name(name) => MonitorTarget::Name { name, node },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etf::{Pid, Reference};

    fn pid(node: &str, id: u32) -> Pid {
        Pid {
            node: Atom::new(node),
            id,
            serial: 0,
            creation: 1,
        }
    }

    fn reference(node: &str) -> Reference {
        Reference {
            node: Atom::new(node),
            creation: 1,
            ids: vec![1, 2, 3],
        }
    }

    #[test]
    fn every_signal_round_trips_through_its_control_message() {
        let (r, e) = ("rust@h", "erl@h");
        let (a, b) = (pid(e, 1), pid(r, 2));
        let signals = vec![
            Signal::Send {
                from: Some(a),
                to: b,
                msg: Term::atom("hi"),
            },
            Signal::Send {
                from: None,
                to: b,
                msg: Term::atom("hi"),
            },
            Signal::RegSend {
                from: a,
                to_name: Atom::new("counter"),
                to_node: Atom::new(r),
                msg: Term::Int(1),
            },
            Signal::Link { from: a, to: b },
            Signal::Unlink {
                from: a,
                to: b,
                id: 7,
            },
            Signal::UnlinkAck {
                from: a,
                to: b,
                id: 7,
            },
            Signal::Exit {
                from: a,
                to: b,
                reason: Term::atom("boom"),
            },
            Signal::Exit2 {
                from: a,
                to: b,
                reason: Term::atom("kill"),
            },
            Signal::Monitor {
                from: a,
                target: MonitorTarget::Name {
                    name: Atom::new("counter"),
                    node: Atom::new(r),
                },
                reference: reference(e),
            },
            Signal::Demonitor {
                from: a,
                target: MonitorTarget::Pid(b),
                reference: reference(e),
            },
            Signal::AliasSend {
                from: a,
                alias: reference(r),
                msg: Term::atom("reply"),
            },
            Signal::Down {
                from: MonitorTarget::Pid(a),
                to: b,
                reference: reference(r),
                reason: Term::atom("normal"),
            },
        ];
        for s in signals {
            let (msg, payload) = to_control(s.clone());
            let back = from_control(Atom::new(r), Atom::new(e), msg, payload);
            assert_eq!(format!("{back:?}"), format!("{:?}", Ok::<_, NotASignal>(s)));
        }
    }

    #[test]
    fn down_for_a_named_monitor_names_the_peer_node() {
        let (msg, payload) = to_control(Signal::Down {
            from: MonitorTarget::Name {
                name: Atom::new("counter"),
                node: Atom::new("rust@h"),
            },
            to: pid("erl@h", 1),
            reference: reference("erl@h"),
            reason: Term::atom("noproc"),
        });
        assert!(
            matches!(&msg, ControlMessage::PayloadMonitorPExit { from: ProcRef::Name(n), .. } if n.as_str() == "counter")
        );
        // Arriving at erl@h from rust@h, the name lives on rust@h.
        let back = from_control(Atom::new("erl@h"), Atom::new("rust@h"), msg, payload);
        assert!(
            matches!(back, Ok(Signal::Down { from: MonitorTarget::Name { node, .. }, .. }) if node.as_str() == "rust@h")
        );
    }

    #[test]
    fn payload_exit_carries_its_reason_in_the_payload() {
        let (a, b) = (pid("erl@h", 1), pid("rust@h", 2));
        let s = from_control(
            Atom::new("rust@h"),
            Atom::new("erl@h"),
            ControlMessage::PayloadExit { from: a, to: b },
            Some(Term::atom("big")),
        );
        assert!(matches!(s, Ok(Signal::Exit { reason, .. }) if reason.is_atom("big")));
        let missing = from_control(
            Atom::new("rust@h"),
            Atom::new("erl@h"),
            ControlMessage::PayloadExit { from: a, to: b },
            None,
        );
        assert_eq!(missing.err(), Some(NotASignal::MissingPayload(24)));
    }
}

#[cfg(test)]
mod not_signals {
    use super::*;

    #[test]
    fn node_links_and_spawn_requests_are_not_signals() {
        let here = Atom::new("rust@h");
        assert_eq!(
            from_control(here, here, ControlMessage::NodeLink, None).err(),
            Some(NotASignal::Other(ControlMessage::NodeLink.op()))
        );
    }
}
