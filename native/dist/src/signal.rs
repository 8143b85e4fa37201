//! Signals: the control messages a runtime acts on, with the wire's
//! variations folded away.
//!
//! The wire has several spellings of one signal — `SEND` and `SEND_SENDER`,
//! `EXIT` and `PAYLOAD_EXIT`, each with a `_TT` twin carrying a sequential
//! trace token. A runtime wants one: [`Signal::from_control`] folds them,
//! and [`Signal::into_control`] picks the modern spelling (the connection's
//! encoder rewrites it for peers lacking `SEND_SENDER`/`EXIT_PAYLOAD`).
//! Trace tokens are dropped: ferrotp does not implement `seq_trace`.
//!
//! | Erlang                                   | Signal                                   |
//! |------------------------------------------|------------------------------------------|
//! | `Pid ! Msg`, `{Name, Node} ! Msg`, `Alias ! Msg` | [`Signal::Message`] to [`Dest`]  |
//! | `link/1`                                 | [`Signal::Link`]                         |
//! | `unlink/1` (and its acknowledgement)     | [`Signal::Unlink`], [`Signal::UnlinkAck`]|
//! | a linked process dies                    | [`Signal::LinkExit`]                     |
//! | `exit(Pid, Reason)`                      | [`Signal::Exit`]                         |
//! | `monitor(process, P)` / `demonitor(Ref)` | [`Signal::Monitor`] / [`Signal::Demonitor`] |
//! | `{'DOWN', Ref, process, P, Reason}`      | [`Signal::Down`]                         |
//! | `spawn_request(Node, M, F, Args, Opts)`  | [`Signal::SpawnRequest`] / [`Signal::SpawnReply`] |
//!
//! ```
//! use dist::control::ControlMessage;
//! use dist::signal::{Dest, Signal};
//! use etf::{Atom, Pid, Term};
//! let p = Pid { node: Atom::new("a@h"), id: 1, serial: 0, creation: 1 };
//! let sig = Signal::from_control(ControlMessage::Send { to: p }, Some(Term::Int(1))).unwrap();
//! assert_eq!(sig, Signal::Message { from: None, to: Dest::Pid(p), message: Term::Int(1) });
//! ```

use etf::{Atom, Pid, Reference, Term};

use crate::control::{ControlMessage, ProcRef};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    /// A process.
    Pid(Pid),
    /// A registered name on the receiving node.
    Name(Atom),
    /// A process alias (`alias/0`), a reference.
    Alias(Reference),
}

/// A signal between processes on different nodes.
#[allow(missing_docs)] // fields are named as in the control messages they fold
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// A message. `from` is `None` when the sender did not say (`SEND`).
    Message {
        from: Option<Pid>,
        to: Dest,
        message: Term,
    },
    /// Create a link.
    Link { from: Pid, to: Pid },
    /// Remove a link (`UNLINK_ID`; the obsolete `UNLINK` has `id` 0).
    Unlink { id: u64, from: Pid, to: Pid },
    /// Acknowledge an unlink (`UNLINK_ID_ACK`): `from` acknowledges `to`'s `UNLINK_ID`.
    UnlinkAck { id: u64, from: Pid, to: Pid },
    /// A linked process exited with `reason`.
    LinkExit { from: Pid, to: Pid, reason: Term },
    /// `exit(To, Reason)` called by `from`.
    Exit { from: Pid, to: Pid, reason: Term },
    /// Monitor `to` on behalf of `from`.
    Monitor {
        from: Pid,
        to: ProcRef,
        reference: Reference,
    },
    /// Remove the monitor `reference`.
    Demonitor {
        from: Pid,
        to: ProcRef,
        reference: Reference,
    },
    /// The monitored `from` is gone: `{'DOWN', Ref, process, From, Reason}` for `to`.
    Down {
        from: ProcRef,
        to: Pid,
        reference: Reference,
        reason: Term,
    },
    /// Set `to`'s group leader to `from`.
    GroupLeader { from: Pid, to: Pid },
    /// Spawn `module:function(args...)` for `from`.
    SpawnRequest {
        req_id: Reference,
        from: Pid,
        group_leader: Pid,
        module: Atom,
        function: Atom,
        args: Term,
        opts: Term,
    },
    /// The answer to a spawn request: the new pid, or an error atom. `flags`: 1 linked, 2 monitored.
    SpawnReply {
        req_id: Reference,
        to: Pid,
        flags: u32,
        result: Term,
    },
}

impl Signal {
    /// Folds a control message and its payload into a signal. `None` for
    /// `NODE_LINK` (no meaning today) and for messages missing their payload.
    pub fn from_control(msg: ControlMessage, payload: Option<Term>) -> Option<Signal> {
        use ControlMessage as C;
        let sig = match msg {
            C::Send { to } | C::SendTt { to, .. } => Signal::Message {
                from: None,
                to: Dest::Pid(to),
                message: payload?,
            },
            C::SendSender { from, to } | C::SendSenderTt { from, to, .. } => Signal::Message {
                from: Some(from),
                to: Dest::Pid(to),
                message: payload?,
            },
            C::RegSend { from, to_name } | C::RegSendTt { from, to_name, .. } => Signal::Message {
                from: Some(from),
                to: Dest::Name(to_name),
                message: payload?,
            },
            C::AliasSend { from, alias } | C::AliasSendTt { from, alias, .. } => Signal::Message {
                from: Some(from),
                to: Dest::Alias(alias),
                message: payload?,
            },
            C::Link { from, to } => Signal::Link { from, to },
            C::Unlink { from, to } => Signal::Unlink { id: 0, from, to },
            C::UnlinkId { id, from, to } => Signal::Unlink { id, from, to },
            C::UnlinkIdAck { id, from, to } => Signal::UnlinkAck { id, from, to },
            C::Exit { from, to, reason }
            | C::ExitTt {
                from, to, reason, ..
            } => Signal::LinkExit { from, to, reason },
            C::PayloadExit { from, to } | C::PayloadExitTt { from, to, .. } => Signal::LinkExit {
                from,
                to,
                reason: payload?,
            },
            C::Exit2 { from, to, reason }
            | C::Exit2Tt {
                from, to, reason, ..
            } => Signal::Exit { from, to, reason },
            C::PayloadExit2 { from, to } | C::PayloadExit2Tt { from, to, .. } => Signal::Exit {
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
                to,
                reference,
            },
            C::DemonitorP {
                from,
                to,
                reference,
            } => Signal::Demonitor {
                from,
                to,
                reference,
            },
            C::MonitorPExit {
                from,
                to,
                reference,
                reason,
            } => Signal::Down {
                from,
                to,
                reference,
                reason,
            },
            C::PayloadMonitorPExit {
                from,
                to,
                reference,
            } => Signal::Down {
                from,
                to,
                reference,
                reason: payload?,
            },
            C::GroupLeader { from, to } => Signal::GroupLeader { from, to },
            C::SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                opts,
                ..
            }
            | C::SpawnRequestTt {
                req_id,
                from,
                group_leader,
                module,
                function,
                opts,
                ..
            } => Signal::SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                args: payload?,
                opts,
            },
            C::SpawnReply {
                req_id,
                to,
                flags,
                result,
            }
            | C::SpawnReplyTt {
                req_id,
                to,
                flags,
                result,
                ..
            } => Signal::SpawnReply {
                req_id,
                to,
                flags,
                result,
            },
            C::NodeLink => return None,
        };
        Some(sig)
    }

    /// The control message (and payload) that carries this signal, in its
    /// modern spelling. A [`Signal::Message`] without `from` goes as `SEND`
    /// to a pid; to a name or alias it needs a sender and uses `from`
    /// or, if absent, `anonymous` (e.g. the node's `net_kernel` pid).
    pub fn into_control(self, anonymous: Pid) -> (ControlMessage, Option<Term>) {
        use ControlMessage as C;
        match self {
            Signal::Message { from, to, message } => {
                let msg = match (from, to) {
                    (None, Dest::Pid(to)) => C::Send { to },
                    (Some(from), Dest::Pid(to)) => C::SendSender { from, to },
                    (from, Dest::Name(to_name)) => C::RegSend {
                        from: from.unwrap_or(anonymous),
                        to_name,
                    },
                    (from, Dest::Alias(alias)) => C::AliasSend {
                        from: from.unwrap_or(anonymous),
                        alias,
                    },
                };
                (msg, Some(message))
            }
            Signal::Link { from, to } => (C::Link { from, to }, None),
            Signal::Unlink { id, from, to } => (
                C::UnlinkId {
                    id: id.max(1),
                    from,
                    to,
                },
                None,
            ),
            Signal::UnlinkAck { id, from, to } => (C::UnlinkIdAck { id, from, to }, None),
            Signal::LinkExit { from, to, reason } => (C::PayloadExit { from, to }, Some(reason)),
            Signal::Exit { from, to, reason } => (C::PayloadExit2 { from, to }, Some(reason)),
            Signal::Monitor {
                from,
                to,
                reference,
            } => (
                C::MonitorP {
                    from,
                    to,
                    reference,
                },
                None,
            ),
            Signal::Demonitor {
                from,
                to,
                reference,
            } => (
                C::DemonitorP {
                    from,
                    to,
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
                C::PayloadMonitorPExit {
                    from,
                    to,
                    reference,
                },
                Some(reason),
            ),
            Signal::GroupLeader { from, to } => (C::GroupLeader { from, to }, None),
            Signal::SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                args,
                opts,
            } => {
                let arity = match &args {
                    Term::List(items) => items.len() as u32,
                    _ => 0,
                };
                (
                    C::SpawnRequest {
                        req_id,
                        from,
                        group_leader,
                        module,
                        function,
                        arity,
                        opts,
                    },
                    Some(args),
                )
            }
            Signal::SpawnReply {
                req_id,
                to,
                flags,
                result,
            } => (
                C::SpawnReply {
                    req_id,
                    to,
                    flags,
                    result,
                },
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(id: u32) -> Pid {
        Pid {
            node: Atom::new("a@h"),
            id,
            serial: 0,
            creation: 1,
        }
    }

    fn reference() -> Reference {
        Reference {
            node: Atom::new("a@h"),
            creation: 1,
            ids: vec![7, 8, 9],
        }
    }

    #[test]
    fn old_and_payload_exits_fold_into_one_signal() {
        let old = ControlMessage::Exit {
            from: pid(1),
            to: pid(2),
            reason: Term::atom("boom"),
        };
        let new = ControlMessage::PayloadExit {
            from: pid(1),
            to: pid(2),
        };
        assert_eq!(
            Signal::from_control(old, None),
            Signal::from_control(new, Some(Term::atom("boom")))
        );
    }

    #[test]
    fn trace_token_variants_fold_too() {
        let tt = ControlMessage::RegSendTt {
            from: pid(1),
            to_name: Atom::new("reg"),
            token: Term::atom("tok"),
        };
        assert_eq!(
            Signal::from_control(tt, Some(Term::Int(5))),
            Some(Signal::Message {
                from: Some(pid(1)),
                to: Dest::Name(Atom::new("reg")),
                message: Term::Int(5)
            })
        );
    }

    #[test]
    fn missing_payload_is_no_signal() {
        assert_eq!(
            Signal::from_control(ControlMessage::Send { to: pid(1) }, None),
            None
        );
        assert_eq!(Signal::from_control(ControlMessage::NodeLink, None), None);
    }

    #[test]
    fn signals_round_trip_through_their_modern_control_messages() {
        let r = reference();
        let signals = vec![
            Signal::Message {
                from: Some(pid(1)),
                to: Dest::Alias(r.clone()),
                message: Term::Int(1),
            },
            Signal::Message {
                from: None,
                to: Dest::Pid(pid(2)),
                message: Term::Int(2),
            },
            Signal::Link {
                from: pid(1),
                to: pid(2),
            },
            Signal::Unlink {
                id: 9,
                from: pid(1),
                to: pid(2),
            },
            Signal::UnlinkAck {
                id: 9,
                from: pid(2),
                to: pid(1),
            },
            Signal::LinkExit {
                from: pid(1),
                to: pid(2),
                reason: Term::atom("x"),
            },
            Signal::Exit {
                from: pid(1),
                to: pid(2),
                reason: Term::atom("kill"),
            },
            Signal::Monitor {
                from: pid(1),
                to: ProcRef::Name(Atom::new("reg")),
                reference: r.clone(),
            },
            Signal::Demonitor {
                from: pid(1),
                to: ProcRef::Pid(pid(2)),
                reference: r.clone(),
            },
            Signal::Down {
                from: ProcRef::Pid(pid(2)),
                to: pid(1),
                reference: r.clone(),
                reason: Term::atom("noproc"),
            },
            Signal::SpawnRequest {
                req_id: r.clone(),
                from: pid(1),
                group_leader: pid(3),
                module: Atom::new("m"),
                function: Atom::new("f"),
                args: Term::List(vec![Term::Int(1), Term::Int(2)]),
                opts: Term::nil(),
            },
            Signal::SpawnReply {
                req_id: r,
                to: pid(1),
                flags: 2,
                result: Term::Pid(pid(4)),
            },
        ];
        for s in signals {
            let (c, p) = s.clone().into_control(pid(0));
            assert_eq!(c.has_payload(), p.is_some(), "{c:?}");
            assert_eq!(Signal::from_control(c, p), Some(s));
        }
    }
}
