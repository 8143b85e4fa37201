//! The runtime's signals as frames, and back: the hidden node's own
//! mapping ([`dist::runtime_signal`]), so a frame is a DIST control message
//! plus its payload:
//!
//! | [`Signal`]            | frame (control message, payload)                 |
//! |-----------------------|--------------------------------------------------|
//! | `Send { from: Some }` | `SEND_SENDER {22, From, To}` + `Msg`             |
//! | `Send { from: None }` | `SEND {2, '', To}` + `Msg`                       |
//! | `RegSend`             | `REG_SEND {6, From, '', Name}` + `Msg`           |
//! | `AliasSend`           | `ALIAS_SEND {33, From, Alias}` + `Msg`           |
//! | `Link`                | `LINK {1, From, To}`                             |
//! | `Unlink`              | `UNLINK_ID {35, Id, From, To}`                   |
//! | `UnlinkAck`           | `UNLINK_ID_ACK {36, Id, From, To}`               |
//! | `Exit`                | `PAYLOAD_EXIT {24, From, To}` + `Reason`         |
//! | `Exit2`               | `PAYLOAD_EXIT2 {26, From, To}` + `Reason`        |
//! | `Monitor`             | `MONITOR_P {19, From, PidOrName, Ref}`           |
//! | `Demonitor`           | `DEMONITOR_P {20, From, PidOrName, Ref}`         |
//! | `Down`                | `PAYLOAD_MONITOR_P_EXIT {28, PidOrName, To, Ref}` + `Reason` |
//!
//! Reading accepts both the inline (`EXIT`, `EXIT2`, `MONITOR_P_EXIT`) and
//! the payload forms, and `SPAWN_REQUEST` besides (see [`Incoming`]).
//!
//! ```
//! use etf::{Atom, Pid, Term};
//! use ferrotp::Signal;
//! use port::signals::{signal_to_frame, frame_to_incoming, Incoming};
//! let a = Pid { node: Atom::new("port@h"), id: 1, serial: 0, creation: 1 };
//! let b = Pid { node: Atom::new("vm@h"), id: 9, serial: 0, creation: 3 };
//! let s = Signal::Exit2 { from: a, to: b, reason: Term::atom("shutdown") };
//! let back = frame_to_incoming(signal_to_frame(s), Atom::new("port@h")).unwrap();
//! assert!(matches!(back, Incoming::Signal(Signal::Exit2 { .. })));
//! ```

use dist::control::ControlMessage;
use dist::runtime_signal::{self, NotASignal};
use etf::{Atom, Pid, Reference, Term};
use ferrotp::Signal;

use crate::frame::Frame;

/// What the host asked for in a frame.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A signal for a process in this port program.
    Signal(Signal),
    /// `SPAWN_REQUEST`: start a behaviour here.
    Spawn(SpawnRequest),
    /// `SPAWN_REPLY`: the host started an Erlang MFA for a Rust process.
    SpawnReply {
        /// The request answered.
        req_id: Reference,
        /// What the start function returned.
        result: Term,
    },
}

/// A `SPAWN_REQUEST`: `{29, ReqId, From, GroupLeader, {Behaviour, Function, Arity}, Opts}` + `Args`.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// The request id; answered in `SPAWN_REPLY`, and the monitor
    /// reference when `Opts` holds `monitor`.
    pub req_id: Reference,
    /// Who asked (the host); gets the `SPAWN_REPLY`.
    pub from: Pid,
    /// The behaviour's name (`counter`, `supervisor`...).
    pub behaviour: Atom,
    /// The start function (`start_link`).
    pub function: Atom,
    /// The argument list.
    pub args: Vec<Term>,
    /// The spawn options.
    pub opts: Term,
}

impl SpawnRequest {
    /// `true` when the options list holds the atom `name`.
    pub fn has_opt(&self, name: &str) -> bool {
        match &self.opts {
            Term::List(items) => items.iter().any(|t| t.is_atom(name)),
            _ => false,
        }
    }

    /// The value of a `{Key, Value}` option.
    pub fn opt(&self, key: &str) -> Option<&Term> {
        match &self.opts {
            Term::List(items) => items.iter().find_map(|t| match t.as_tuple() {
                Some([k, v]) if k.is_atom(key) => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// A frame the port program does not take.
#[derive(Debug, thiserror::Error)]
pub enum IncomingError {
    /// A control message with no meaning for a port program.
    #[error("control message {0} is not accepted by a port program")]
    Unsupported(i64),
    /// A spawn request whose argument list is not a proper list.
    #[error("SPAWN_REQUEST argument list is not a list")]
    BadArgs,
    /// The payload is missing.
    #[error("control message {0} came without its payload")]
    MissingPayload(i64),
}

/// The frame for a signal leaving this port program (the hidden node's
/// control message for it: [`dist::runtime_signal::to_control`]).
pub fn signal_to_frame(signal: Signal) -> Frame {
    let (control, payload) = runtime_signal::to_control(signal);
    Frame::new(control, payload)
}

/// What a frame arriving from the host asks for. `here` is this port
/// program's node name (names in monitors are looked up on it).
pub fn frame_to_incoming(frame: Frame, here: Atom) -> Result<Incoming, IncomingError> {
    use ControlMessage as C;
    let Frame { control, payload } = frame;
    match control {
        C::SpawnRequest {
            req_id,
            from,
            module,
            function,
            opts,
            ..
        } => {
            let args = match payload {
                Some(Term::List(items)) => items,
                Some(_) => return Err(IncomingError::BadArgs),
                None => {
                    return Err(IncomingError::MissingPayload(
                        dist::control::op::SPAWN_REQUEST,
                    ))
                }
            };
            Ok(Incoming::Spawn(SpawnRequest {
                req_id,
                from,
                behaviour: module,
                function,
                args,
                opts,
            }))
        }
        C::SpawnReply { req_id, result, .. } => Ok(Incoming::SpawnReply { req_id, result }),
        // Names in monitors and DOWNs are taken as this program's.
        control => match runtime_signal::from_control(here, here, control, payload) {
            Ok(signal) => Ok(Incoming::Signal(signal)),
            Err(NotASignal::MissingPayload(op)) => Err(IncomingError::MissingPayload(op)),
            Err(NotASignal::Other(op)) => Err(IncomingError::Unsupported(op)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotp::MonitorTarget;

    fn pid(node: &str, n: u32) -> Pid {
        Pid {
            node: Atom::new(node),
            id: n,
            serial: 0,
            creation: 1,
        }
    }

    fn reference() -> Reference {
        Reference {
            node: Atom::new("vm@h"),
            creation: 1,
            ids: vec![4, 5, 6],
        }
    }

    fn same(a: &Signal, b: &Signal) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn every_signal_survives_the_trip_through_a_frame() {
        let (a, b, here) = (pid("port@h", 1), pid("vm@h", 2), Atom::new("port@h"));
        let reason = Term::atom("shutdown");
        let signals = vec![
            Signal::Send {
                from: Some(a),
                to: b,
                msg: Term::Int(1),
            },
            Signal::Send {
                from: None,
                to: b,
                msg: Term::Int(2),
            },
            Signal::RegSend {
                from: a,
                to_name: Atom::new("logger"),
                to_node: here,
                msg: Term::Int(3),
            },
            Signal::Link { from: a, to: b },
            Signal::Unlink {
                from: a,
                to: b,
                id: 7,
            },
            Signal::UnlinkAck {
                from: b,
                to: a,
                id: 7,
            },
            Signal::Exit {
                from: a,
                to: b,
                reason: reason.clone(),
            },
            Signal::Exit2 {
                from: a,
                to: b,
                reason: reason.clone(),
            },
            Signal::Monitor {
                from: a,
                target: MonitorTarget::Pid(b),
                reference: reference(),
            },
            Signal::Demonitor {
                from: a,
                target: MonitorTarget::Name {
                    name: Atom::new("reg"),
                    node: here,
                },
                reference: reference(),
            },
            Signal::Down {
                from: MonitorTarget::Pid(a),
                to: b,
                reference: reference(),
                reason,
            },
        ];
        for s in signals {
            let frame = signal_to_frame(s.clone());
            let wire = Frame::decode(frame.encode().into()).unwrap();
            match frame_to_incoming(wire, here).unwrap() {
                Incoming::Signal(back) => assert!(same(&s, &back), "{s:?} came back as {back:?}"),
                other => panic!("{s:?} came back as {other:?}"),
            }
        }
    }

    #[test]
    fn spawn_request_carries_behaviour_args_and_options() {
        let f = Frame::new(
            ControlMessage::SpawnRequest {
                req_id: reference(),
                from: pid("vm@h", 3),
                group_leader: pid("vm@h", 3),
                module: Atom::new("counter"),
                function: Atom::new("start_link"),
                arity: 1,
                opts: Term::List(vec![
                    Term::atom("monitor"),
                    Term::tuple(vec![Term::atom("parent"), Term::Pid(pid("vm@h", 4))]),
                ]),
            },
            Some(Term::List(vec![Term::Int(5)])),
        );
        let Incoming::Spawn(req) = frame_to_incoming(f, Atom::new("port@h")).unwrap() else {
            panic!("not a spawn request");
        };
        assert_eq!(req.behaviour, Atom::new("counter"));
        assert_eq!(req.args, vec![Term::Int(5)]);
        assert!(req.has_opt("monitor"));
        assert_eq!(req.opt("parent"), Some(&Term::Pid(pid("vm@h", 4))));
    }

    #[test]
    fn control_messages_a_port_does_not_take_are_errors() {
        let f = Frame::new(ControlMessage::NodeLink, None);
        assert!(matches!(
            frame_to_incoming(f, Atom::new("port@h")),
            Err(IncomingError::Unsupported(5))
        ));
    }
}
