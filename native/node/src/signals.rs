//! Runtime signals ⇄ DIST control messages, one-to-one.
//!
//! | [`Signal`]            | control message out      | control messages in                          |
//! |-----------------------|--------------------------|----------------------------------------------|
//! | `Send` (with sender)  | `SEND_SENDER`            | `SEND`, `SEND_SENDER` (and their `_TT`)      |
//! | `RegSend`             | `REG_SEND`               | `REG_SEND`, `REG_SEND_TT`                    |
//! | `Link`                | `LINK`                   | `LINK`                                       |
//! | `Unlink`              | `UNLINK_ID`              | `UNLINK_ID` (and the obsolete `UNLINK`)      |
//! | `UnlinkAck`           | `UNLINK_ID_ACK`          | `UNLINK_ID_ACK`                              |
//! | `Exit`                | `EXIT`                   | `EXIT`, `EXIT_TT`, `PAYLOAD_EXIT(_TT)`       |
//! | `Exit2`               | `EXIT2`                  | `EXIT2`, `EXIT2_TT`, `PAYLOAD_EXIT2(_TT)`    |
//! | `Monitor`             | `MONITOR_P`              | `MONITOR_P`                                  |
//! | `Demonitor`           | `DEMONITOR_P`            | `DEMONITOR_P`                                |
//! | `Down`                | `MONITOR_P_EXIT`         | `MONITOR_P_EXIT`, `PAYLOAD_MONITOR_P_EXIT`   |
//!
//! Sequential-trace tokens are dropped (ferrotp does not trace). Messages
//! to aliases (`ALIAS_SEND`) and spawn requests are not signals; the
//! [`crate::bridge`] handles them itself.

use dist::control::{ControlMessage, ProcRef};
use etf::{Atom, Term};
use ferrotp::{MonitorTarget, Signal};

/// The control message (and payload) that carries `signal` to its node.
pub fn to_control(signal: Signal) -> (ControlMessage, Option<Term>) {
    match signal {
        Signal::Send {
            from: Some(from),
            to,
            msg,
        } => (ControlMessage::SendSender { from, to }, Some(msg)),
        Signal::Send {
            from: None,
            to,
            msg,
        } => (ControlMessage::Send { to }, Some(msg)),
        Signal::RegSend {
            from, to_name, msg, ..
        } => (ControlMessage::RegSend { from, to_name }, Some(msg)),
        Signal::AliasSend { from, alias, msg } => {
            (ControlMessage::AliasSend { from, alias }, Some(msg))
        }
        Signal::Link { from, to } => (ControlMessage::Link { from, to }, None),
        Signal::Unlink { from, to, id } => (ControlMessage::UnlinkId { id, from, to }, None),
        Signal::UnlinkAck { from, to, id } => (ControlMessage::UnlinkIdAck { id, from, to }, None),
        Signal::Exit { from, to, reason } => (ControlMessage::Exit { from, to, reason }, None),
        Signal::Exit2 { from, to, reason } => (ControlMessage::Exit2 { from, to, reason }, None),
        Signal::Monitor {
            from,
            target,
            reference,
        } => (
            ControlMessage::MonitorP {
                from,
                to: proc_ref(&target),
                reference,
            },
            None,
        ),
        Signal::Demonitor {
            from,
            target,
            reference,
        } => (
            ControlMessage::DemonitorP {
                from,
                to: proc_ref(&target),
                reference,
            },
            None,
        ),
        Signal::Down {
            from,
            to,
            reference,
            reason,
        } => (
            ControlMessage::MonitorPExit {
                from: proc_ref(&from),
                to,
                reference,
                reason,
            },
            None,
        ),
    }
}

fn proc_ref(target: &MonitorTarget) -> ProcRef {
    match target {
        MonitorTarget::Pid(p) => ProcRef::Pid(*p),
        MonitorTarget::Name { name, .. } => ProcRef::Name(*name),
    }
}

/// The signal a control message from `peer` carries to this node (`local`);
/// `None` for messages that are not process signals (node links, group
/// leaders, aliases, spawn requests) or that lack their payload.
pub fn from_control(
    local: Atom,
    peer: Atom,
    msg: ControlMessage,
    payload: Option<Term>,
) -> Option<Signal> {
    use ControlMessage as C;
    let signal = match msg {
        C::Send { to } | C::SendTt { to, .. } => Signal::Send {
            from: None,
            to,
            msg: payload?,
        },
        C::SendSender { from, to } | C::SendSenderTt { from, to, .. } => Signal::Send {
            from: Some(from),
            to,
            msg: payload?,
        },
        C::RegSend { from, to_name } | C::RegSendTt { from, to_name, .. } => Signal::RegSend {
            from,
            to_name,
            to_node: local,
            msg: payload?,
        },
        C::Link { from, to } => Signal::Link { from, to },
        C::Unlink { from, to } => Signal::Unlink { from, to, id: 0 },
        C::UnlinkId { id, from, to } => Signal::Unlink { from, to, id },
        C::UnlinkIdAck { id, from, to } => Signal::UnlinkAck { from, to, id },
        C::Exit { from, to, reason }
        | C::ExitTt {
            from, to, reason, ..
        } => Signal::Exit { from, to, reason },
        C::PayloadExit { from, to } | C::PayloadExitTt { from, to, .. } => Signal::Exit {
            from,
            to,
            reason: payload?,
        },
        C::Exit2 { from, to, reason }
        | C::Exit2Tt {
            from, to, reason, ..
        } => Signal::Exit2 { from, to, reason },
        C::PayloadExit2 { from, to } | C::PayloadExit2Tt { from, to, .. } => Signal::Exit2 {
            from,
            to,
            reason: payload?,
        },
        C::MonitorP {
            from,
            to,
            reference,
        } => Signal::Monitor {
            from,
            target: target(to, local),
            reference,
        },
        C::DemonitorP {
            from,
            to,
            reference,
        } => Signal::Demonitor {
            from,
            target: target(to, local),
            reference,
        },
        C::MonitorPExit {
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
        C::PayloadMonitorPExit {
            from,
            to,
            reference,
        } => Signal::Down {
            from: target(from, peer),
            to,
            reference,
            reason: payload?,
        },
        C::AliasSend { from, alias } | C::AliasSendTt { from, alias, .. } => Signal::AliasSend {
            from,
            alias,
            msg: payload?,
        },
        C::NodeLink
        | C::GroupLeader { .. }
        | C::SpawnRequest { .. }
        | C::SpawnRequestTt { .. }
        | C::SpawnReply { .. }
        | C::SpawnReplyTt { .. } => return None,
    };
    Some(signal)
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
        ];
        for s in signals {
            let (msg, payload) = to_control(s.clone());
            let back = from_control(Atom::new(r), Atom::new(e), msg, payload);
            assert_eq!(format!("{back:?}"), format!("{:?}", Some(s)));
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
            matches!(&msg, ControlMessage::MonitorPExit { from: ProcRef::Name(n), .. } if n.as_str() == "counter")
        );
        // Arriving at erl@h from rust@h, the name lives on rust@h.
        let back = from_control(Atom::new("erl@h"), Atom::new("rust@h"), msg, payload);
        assert!(
            matches!(back, Some(Signal::Down { from: MonitorTarget::Name { node, .. }, .. }) if node.as_str() == "rust@h")
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
        assert!(matches!(s, Some(Signal::Exit { reason, .. }) if reason.is_atom("big")));
        let missing = from_control(
            Atom::new("rust@h"),
            Atom::new("erl@h"),
            ControlMessage::PayloadExit { from: a, to: b },
            None,
        );
        assert!(missing.is_none());
    }
}
