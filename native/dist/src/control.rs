//! Control messages: the signals between nodes, as a typed enum.
//!
//! > "The ControlMessage is a tuple, where the first element indicates which
//! > distributed operation it encodes" — OTP `erl_dist_protocol`.
//!
//! | Erlang                                 | control message                          | Rust                                   |
//! |----------------------------------------|------------------------------------------|----------------------------------------|
//! | `Pid ! Msg`                            | `{22, FromPid, ToPid}` + `Msg`           | [`ControlMessage::SendSender`]         |
//! | `{Name, Node} ! Msg`                   | `{6, FromPid, Unused, ToName}` + `Msg`   | [`ControlMessage::RegSend`]            |
//! | `link(Pid)`                            | `{1, FromPid, ToPid}`                    | [`ControlMessage::Link`]               |
//! | `unlink(Pid)`                          | `{35, Id, FromPid, ToPid}`               | [`ControlMessage::UnlinkId`]           |
//! | `exit(Pid, R)`                         | `{26, FromPid, ToPid}` + `R`             | [`ControlMessage::PayloadExit2`]       |
//! | `erlang:monitor(process, P)`           | `{19, FromPid, ToProc, Ref}`             | [`ControlMessage::MonitorP`]           |
//! | `'DOWN'` for a remote monitor          | `{28, FromProc, ToPid, Ref}` + `Reason`  | [`ControlMessage::PayloadMonitorPExit`]|
//! | `Alias ! Msg`                          | `{33, FromPid, Alias}` + `Msg`           | [`ControlMessage::AliasSend`]          |
//! | `spawn_request(Node, M, F, A, Opts)`   | `{29, ReqId, From, GL, {M,F,A}, Opts}` + `Args` | [`ControlMessage::SpawnRequest`] |
//!
//! [`ControlMessage::from_term`] and [`ControlMessage::to_term`] convert
//! to and from the control tuple; [`ControlMessage::has_payload`] says
//! whether a second term (message, reason or argument list) follows it.
//!
//! ```
//! use dist::control::ControlMessage;
//! use etf::{Atom, Pid, Term};
//! let from = Pid { node: Atom::new("a@h"), id: 1, serial: 0, creation: 1 };
//! let msg = ControlMessage::RegSend { from, to_name: Atom::new("net_kernel") };
//! assert!(msg.has_payload());
//! assert_eq!(ControlMessage::from_term(&msg.to_term()).unwrap(), msg);
//! ```

use etf::{Atom, Pid, Reference, Term};
use num_bigint::BigInt;

/// A process named in a monitor: "monitored process pid or name (atom)".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProcRef {
    /// A process identifier.
    Pid(Pid),
    /// A registered name on the receiving (or sending) node.
    Name(Atom),
}

impl ProcRef {
    fn to_term(&self) -> Term {
        match self {
            ProcRef::Pid(p) => Term::Pid(*p),
            ProcRef::Name(a) => Term::Atom(*a),
        }
    }
}

/// A control message, one variant per `DOP_*` operation.
#[allow(missing_docs)] // fields are named as in the spec tuples quoted on each variant
#[derive(Debug, Clone, PartialEq)]
pub enum ControlMessage {
    /// `LINK`: `{1, FromPid, ToPid}` — "sent by FromPid in order to create a link between FromPid and ToPid".
    Link { from: Pid, to: Pid },
    /// `SEND`: `{2, Unused, ToPid}`, followed by `Message`.
    Send { to: Pid },
    /// `EXIT`: `{3, FromPid, ToPid, Reason}` — "sent when a link has been broken".
    Exit { from: Pid, to: Pid, reason: Term },
    /// `UNLINK` (obsolete): `{4, FromPid, ToPid}` — "not supported as of OTP 26".
    Unlink { from: Pid, to: Pid },
    /// `NODE_LINK`: `{5}`.
    NodeLink,
    /// `REG_SEND`: `{6, FromPid, Unused, ToName}`, followed by `Message`.
    RegSend { from: Pid, to_name: Atom },
    /// `GROUP_LEADER`: `{7, FromPid, ToPid}`.
    GroupLeader { from: Pid, to: Pid },
    /// `EXIT2`: `{8, FromPid, ToPid, Reason}` — "sent by a call to the erlang:exit/2 bif".
    Exit2 { from: Pid, to: Pid, reason: Term },
    /// `SEND_TT`: `{12, Unused, ToPid, TraceToken}`, followed by `Message`.
    SendTt { to: Pid, token: Term },
    /// `EXIT_TT`: `{13, FromPid, ToPid, TraceToken, Reason}`.
    ExitTt {
        from: Pid,
        to: Pid,
        token: Term,
        reason: Term,
    },
    /// `REG_SEND_TT`: `{16, FromPid, Unused, ToName, TraceToken}`, followed by `Message`.
    RegSendTt {
        from: Pid,
        to_name: Atom,
        token: Term,
    },
    /// `EXIT2_TT`: `{18, FromPid, ToPid, TraceToken, Reason}`.
    Exit2Tt {
        from: Pid,
        to: Pid,
        token: Term,
        reason: Term,
    },
    /// `MONITOR_P`: `{19, FromPid, ToProc, Ref}` — "FromPid = monitoring process
    /// and ToProc = monitored process pid or name (atom)".
    MonitorP {
        from: Pid,
        to: ProcRef,
        reference: Reference,
    },
    /// `DEMONITOR_P`: `{20, FromPid, ToProc, Ref}`.
    DemonitorP {
        from: Pid,
        to: ProcRef,
        reference: Reference,
    },
    /// `MONITOR_P_EXIT`: `{21, FromProc, ToPid, Ref, Reason}` — "FromProc =
    /// monitored process pid or name (atom), ToPid = monitoring process".
    MonitorPExit {
        from: ProcRef,
        to: Pid,
        reference: Reference,
        reason: Term,
    },
    /// `SEND_SENDER`: `{22, FromPid, ToPid}`, followed by `Message`.
    SendSender { from: Pid, to: Pid },
    /// `SEND_SENDER_TT`: `{23, FromPid, ToPid, TraceToken}`, followed by `Message`.
    SendSenderTt { from: Pid, to: Pid, token: Term },
    /// `PAYLOAD_EXIT`: `{24, FromPid, ToPid}`, followed by `Reason`.
    PayloadExit { from: Pid, to: Pid },
    /// `PAYLOAD_EXIT_TT`: `{25, FromPid, ToPid, TraceToken}`, followed by `Reason`.
    PayloadExitTt { from: Pid, to: Pid, token: Term },
    /// `PAYLOAD_EXIT2`: `{26, FromPid, ToPid}`, followed by `Reason`.
    PayloadExit2 { from: Pid, to: Pid },
    /// `PAYLOAD_EXIT2_TT`: `{27, FromPid, ToPid, TraceToken}`, followed by `Reason`.
    PayloadExit2Tt { from: Pid, to: Pid, token: Term },
    /// `PAYLOAD_MONITOR_P_EXIT`: `{28, FromProc, ToPid, Ref}`, followed by `Reason`.
    PayloadMonitorPExit {
        from: ProcRef,
        to: Pid,
        reference: Reference,
    },
    /// `SPAWN_REQUEST`: `{29, ReqId, From, GroupLeader, {Module, Function, Arity}, OptList}`, followed by `ArgList`.
    SpawnRequest {
        req_id: Reference,
        from: Pid,
        group_leader: Pid,
        module: Atom,
        function: Atom,
        arity: u32,
        opts: Term,
    },
    /// `SPAWN_REQUEST_TT`: `{30, ReqId, From, GroupLeader, {Module, Function, Arity}, OptList, Token}`, followed by `ArgList`.
    SpawnRequestTt {
        req_id: Reference,
        from: Pid,
        group_leader: Pid,
        module: Atom,
        function: Atom,
        arity: u32,
        opts: Term,
        token: Term,
    },
    /// `SPAWN_REPLY`: `{31, ReqId, To, Flags, Result}` — Flags: 1 = link set up,
    /// 2 = monitor set up; Result: the new pid, or an atom naming the failure.
    SpawnReply {
        req_id: Reference,
        to: Pid,
        flags: u32,
        result: Term,
    },
    /// `SPAWN_REPLY_TT`: `{32, ReqId, To, Flags, Result, Token}`.
    SpawnReplyTt {
        req_id: Reference,
        to: Pid,
        flags: u32,
        result: Term,
        token: Term,
    },
    /// `ALIAS_SEND`: `{33, FromPid, Alias}`, followed by `Message`.
    AliasSend { from: Pid, alias: Reference },
    /// `ALIAS_SEND_TT`: `{34, FromPid, Alias, Token}`, followed by `Message`.
    AliasSendTt {
        from: Pid,
        alias: Reference,
        token: Term,
    },
    /// `UNLINK_ID`: `{35, Id, FromPid, ToPid}` — "Valid range of Id is [1, (1 bsl 64) - 1]".
    UnlinkId { id: u64, from: Pid, to: Pid },
    /// `UNLINK_ID_ACK`: `{36, Id, FromPid, ToPid}`.
    UnlinkIdAck { id: u64, from: Pid, to: Pid },
}

/// A control tuple that is not a valid control message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// Not a tuple starting with a known operation number.
    #[error("not a control message: {0}")]
    Unknown(String),
    /// A known operation with a wrong shape.
    #[error("malformed control message {op}: {detail}")]
    Malformed {
        /// The operation number.
        op: i64,
        /// What is wrong.
        detail: String,
    },
}

/// Operation numbers, as `DOP_*` in OTP's `dist.h`.
pub mod op {
    #![allow(missing_docs)]
    pub const LINK: i64 = 1;
    pub const SEND: i64 = 2;
    pub const EXIT: i64 = 3;
    pub const UNLINK: i64 = 4;
    pub const NODE_LINK: i64 = 5;
    pub const REG_SEND: i64 = 6;
    pub const GROUP_LEADER: i64 = 7;
    pub const EXIT2: i64 = 8;
    pub const SEND_TT: i64 = 12;
    pub const EXIT_TT: i64 = 13;
    pub const REG_SEND_TT: i64 = 16;
    pub const EXIT2_TT: i64 = 18;
    pub const MONITOR_P: i64 = 19;
    pub const DEMONITOR_P: i64 = 20;
    pub const MONITOR_P_EXIT: i64 = 21;
    pub const SEND_SENDER: i64 = 22;
    pub const SEND_SENDER_TT: i64 = 23;
    pub const PAYLOAD_EXIT: i64 = 24;
    pub const PAYLOAD_EXIT_TT: i64 = 25;
    pub const PAYLOAD_EXIT2: i64 = 26;
    pub const PAYLOAD_EXIT2_TT: i64 = 27;
    pub const PAYLOAD_MONITOR_P_EXIT: i64 = 28;
    pub const SPAWN_REQUEST: i64 = 29;
    pub const SPAWN_REQUEST_TT: i64 = 30;
    pub const SPAWN_REPLY: i64 = 31;
    pub const SPAWN_REPLY_TT: i64 = 32;
    pub const ALIAS_SEND: i64 = 33;
    pub const ALIAS_SEND_TT: i64 = 34;
    pub const UNLINK_ID: i64 = 35;
    pub const UNLINK_ID_ACK: i64 = 36;
}

/// The `Unused` element: OTP sends the empty atom.
fn unused() -> Term {
    Term::atom("")
}

fn u64_term(n: u64) -> Term {
    Term::from_bigint(BigInt::from(n))
}

struct Fields<'a> {
    op: i64,
    items: &'a [Term],
}

impl<'a> Fields<'a> {
    fn bad(&self, detail: impl Into<String>) -> ControlError {
        ControlError::Malformed {
            op: self.op,
            detail: detail.into(),
        }
    }

    fn arity(&self, n: usize) -> Result<(), ControlError> {
        if self.items.len() == n {
            Ok(())
        } else {
            Err(self.bad(format!("expected {n} elements, got {}", self.items.len())))
        }
    }

    fn get(&self, i: usize) -> Result<&'a Term, ControlError> {
        self.items
            .get(i)
            .ok_or_else(|| self.bad(format!("missing element {}", i + 1)))
    }

    fn term(&self, i: usize) -> Result<Term, ControlError> {
        self.get(i).cloned()
    }

    fn pid(&self, i: usize) -> Result<Pid, ControlError> {
        self.get(i)?
            .as_pid()
            .ok_or_else(|| self.bad(format!("element {} is not a pid", i + 1)))
    }

    fn atom(&self, i: usize) -> Result<Atom, ControlError> {
        self.get(i)?
            .as_atom()
            .ok_or_else(|| self.bad(format!("element {} is not an atom", i + 1)))
    }

    fn reference(&self, i: usize) -> Result<Reference, ControlError> {
        match self.get(i)? {
            Term::Reference(r) => Ok(r.clone()),
            _ => Err(self.bad(format!("element {} is not a reference", i + 1))),
        }
    }

    fn proc(&self, i: usize) -> Result<ProcRef, ControlError> {
        match self.get(i)? {
            Term::Pid(p) => Ok(ProcRef::Pid(*p)),
            Term::Atom(a) => Ok(ProcRef::Name(*a)),
            _ => Err(self.bad(format!("element {} is neither pid nor atom", i + 1))),
        }
    }

    fn uint(&self, i: usize) -> Result<u64, ControlError> {
        match self.get(i)? {
            Term::Int(n) if *n >= 0 => Ok(*n as u64),
            Term::BigInt(n) => u64::try_from(n).map_err(|_| self.bad("integer out of range")),
            _ => Err(self.bad(format!("element {} is not a non-negative integer", i + 1))),
        }
    }

    fn small(&self, i: usize) -> Result<u32, ControlError> {
        u32::try_from(self.uint(i)?).map_err(|_| self.bad("integer out of range"))
    }

    fn mfa(&self, i: usize) -> Result<(Atom, Atom, u32), ControlError> {
        let t = self.get(i)?;
        let items = t
            .as_tuple()
            .filter(|t| t.len() == 3)
            .ok_or_else(|| self.bad("entry point is not {Module, Function, Arity}"))?;
        let inner = Fields { op: self.op, items };
        Ok((inner.atom(0)?, inner.atom(1)?, inner.small(2)?))
    }
}

impl ControlMessage {
    /// `true` when a second term follows the control tuple: the message for
    /// sends, the reason for `PAYLOAD_*` exits, the argument list for spawn requests.
    pub fn has_payload(&self) -> bool {
        use ControlMessage::*;
        matches!(
            self,
            Send { .. }
                | RegSend { .. }
                | SendTt { .. }
                | RegSendTt { .. }
                | SendSender { .. }
                | SendSenderTt { .. }
                | PayloadExit { .. }
                | PayloadExitTt { .. }
                | PayloadExit2 { .. }
                | PayloadExit2Tt { .. }
                | PayloadMonitorPExit { .. }
                | SpawnRequest { .. }
                | SpawnRequestTt { .. }
                | AliasSend { .. }
                | AliasSendTt { .. }
        )
    }

    /// The operation number (`DOP_*`).
    pub fn op(&self) -> i64 {
        use ControlMessage::*;
        match self {
            Link { .. } => op::LINK,
            Send { .. } => op::SEND,
            Exit { .. } => op::EXIT,
            Unlink { .. } => op::UNLINK,
            NodeLink => op::NODE_LINK,
            RegSend { .. } => op::REG_SEND,
            GroupLeader { .. } => op::GROUP_LEADER,
            Exit2 { .. } => op::EXIT2,
            SendTt { .. } => op::SEND_TT,
            ExitTt { .. } => op::EXIT_TT,
            RegSendTt { .. } => op::REG_SEND_TT,
            Exit2Tt { .. } => op::EXIT2_TT,
            MonitorP { .. } => op::MONITOR_P,
            DemonitorP { .. } => op::DEMONITOR_P,
            MonitorPExit { .. } => op::MONITOR_P_EXIT,
            SendSender { .. } => op::SEND_SENDER,
            SendSenderTt { .. } => op::SEND_SENDER_TT,
            PayloadExit { .. } => op::PAYLOAD_EXIT,
            PayloadExitTt { .. } => op::PAYLOAD_EXIT_TT,
            PayloadExit2 { .. } => op::PAYLOAD_EXIT2,
            PayloadExit2Tt { .. } => op::PAYLOAD_EXIT2_TT,
            PayloadMonitorPExit { .. } => op::PAYLOAD_MONITOR_P_EXIT,
            SpawnRequest { .. } => op::SPAWN_REQUEST,
            SpawnRequestTt { .. } => op::SPAWN_REQUEST_TT,
            SpawnReply { .. } => op::SPAWN_REPLY,
            SpawnReplyTt { .. } => op::SPAWN_REPLY_TT,
            AliasSend { .. } => op::ALIAS_SEND,
            AliasSendTt { .. } => op::ALIAS_SEND_TT,
            UnlinkId { .. } => op::UNLINK_ID,
            UnlinkIdAck { .. } => op::UNLINK_ID_ACK,
        }
    }

    /// The control tuple's elements after the operation number.
    fn elements(&self) -> Vec<Term> {
        use ControlMessage::*;
        let pid = |p: &Pid| Term::Pid(*p);
        let r = |r: &Reference| Term::Reference(r.clone());
        let mfa = |m: &Atom, f: &Atom, a: &u32| {
            Term::tuple(vec![
                Term::Atom(*m),
                Term::Atom(*f),
                Term::Int(i64::from(*a)),
            ])
        };
        match self {
            Link { from, to } | Unlink { from, to } | GroupLeader { from, to } => {
                vec![pid(from), pid(to)]
            }
            Send { to } => vec![unused(), pid(to)],
            Exit { from, to, reason } | Exit2 { from, to, reason } => {
                vec![pid(from), pid(to), reason.clone()]
            }
            NodeLink => vec![],
            RegSend { from, to_name } => vec![pid(from), unused(), Term::Atom(*to_name)],
            SendTt { to, token } => vec![unused(), pid(to), token.clone()],
            ExitTt {
                from,
                to,
                token,
                reason,
            }
            | Exit2Tt {
                from,
                to,
                token,
                reason,
            } => vec![pid(from), pid(to), token.clone(), reason.clone()],
            RegSendTt {
                from,
                to_name,
                token,
            } => vec![pid(from), unused(), Term::Atom(*to_name), token.clone()],
            MonitorP {
                from,
                to,
                reference,
            }
            | DemonitorP {
                from,
                to,
                reference,
            } => {
                vec![pid(from), to.to_term(), r(reference)]
            }
            MonitorPExit {
                from,
                to,
                reference,
                reason,
            } => vec![from.to_term(), pid(to), r(reference), reason.clone()],
            SendSender { from, to } | PayloadExit { from, to } | PayloadExit2 { from, to } => {
                vec![pid(from), pid(to)]
            }
            SendSenderTt { from, to, token }
            | PayloadExitTt { from, to, token }
            | PayloadExit2Tt { from, to, token } => vec![pid(from), pid(to), token.clone()],
            PayloadMonitorPExit {
                from,
                to,
                reference,
            } => vec![from.to_term(), pid(to), r(reference)],
            SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
            } => vec![
                r(req_id),
                pid(from),
                pid(group_leader),
                mfa(module, function, arity),
                opts.clone(),
            ],
            SpawnRequestTt {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
                token,
            } => vec![
                r(req_id),
                pid(from),
                pid(group_leader),
                mfa(module, function, arity),
                opts.clone(),
                token.clone(),
            ],
            SpawnReply {
                req_id,
                to,
                flags,
                result,
            } => vec![
                r(req_id),
                pid(to),
                Term::Int(i64::from(*flags)),
                result.clone(),
            ],
            SpawnReplyTt {
                req_id,
                to,
                flags,
                result,
                token,
            } => vec![
                r(req_id),
                pid(to),
                Term::Int(i64::from(*flags)),
                result.clone(),
                token.clone(),
            ],
            AliasSend { from, alias } => vec![pid(from), r(alias)],
            AliasSendTt { from, alias, token } => vec![pid(from), r(alias), token.clone()],
            UnlinkId { id, from, to } | UnlinkIdAck { id, from, to } => {
                vec![u64_term(*id), pid(from), pid(to)]
            }
        }
    }

    /// The control tuple, `{Op, ...}`.
    pub fn to_term(&self) -> Term {
        let mut items = vec![Term::Int(self.op())];
        items.extend(self.elements());
        Term::Tuple(items)
    }

    /// Reads a control tuple.
    pub fn from_term(t: &Term) -> Result<ControlMessage, ControlError> {
        use ControlMessage::*;
        let all = t
            .as_tuple()
            .ok_or_else(|| ControlError::Unknown(format!("{t:?}")))?;
        let op = all
            .first()
            .and_then(Term::as_i64)
            .ok_or_else(|| ControlError::Unknown(format!("{t:?}")))?;
        let f = Fields {
            op,
            items: &all[1..],
        };
        let msg = match op {
            op::LINK => {
                f.arity(2)?;
                Link {
                    from: f.pid(0)?,
                    to: f.pid(1)?,
                }
            }
            op::SEND => {
                f.arity(2)?;
                Send { to: f.pid(1)? }
            }
            op::EXIT | op::EXIT2 => {
                f.arity(3)?;
                let (from, to, reason) = (f.pid(0)?, f.pid(1)?, f.term(2)?);
                if op == op::EXIT {
                    Exit { from, to, reason }
                } else {
                    Exit2 { from, to, reason }
                }
            }
            op::UNLINK => {
                f.arity(2)?;
                Unlink {
                    from: f.pid(0)?,
                    to: f.pid(1)?,
                }
            }
            op::NODE_LINK => NodeLink,
            op::REG_SEND => {
                f.arity(3)?;
                RegSend {
                    from: f.pid(0)?,
                    to_name: f.atom(2)?,
                }
            }
            op::GROUP_LEADER => {
                f.arity(2)?;
                GroupLeader {
                    from: f.pid(0)?,
                    to: f.pid(1)?,
                }
            }
            op::SEND_TT => {
                f.arity(3)?;
                SendTt {
                    to: f.pid(1)?,
                    token: f.term(2)?,
                }
            }
            op::EXIT_TT | op::EXIT2_TT => {
                f.arity(4)?;
                let (from, to, token, reason) = (f.pid(0)?, f.pid(1)?, f.term(2)?, f.term(3)?);
                if op == op::EXIT_TT {
                    ExitTt {
                        from,
                        to,
                        token,
                        reason,
                    }
                } else {
                    Exit2Tt {
                        from,
                        to,
                        token,
                        reason,
                    }
                }
            }
            op::REG_SEND_TT => {
                f.arity(4)?;
                RegSendTt {
                    from: f.pid(0)?,
                    to_name: f.atom(2)?,
                    token: f.term(3)?,
                }
            }
            op::MONITOR_P | op::DEMONITOR_P => {
                f.arity(3)?;
                let (from, to, reference) = (f.pid(0)?, f.proc(1)?, f.reference(2)?);
                if op == op::MONITOR_P {
                    MonitorP {
                        from,
                        to,
                        reference,
                    }
                } else {
                    DemonitorP {
                        from,
                        to,
                        reference,
                    }
                }
            }
            op::MONITOR_P_EXIT => {
                f.arity(4)?;
                MonitorPExit {
                    from: f.proc(0)?,
                    to: f.pid(1)?,
                    reference: f.reference(2)?,
                    reason: f.term(3)?,
                }
            }
            op::SEND_SENDER | op::PAYLOAD_EXIT | op::PAYLOAD_EXIT2 => {
                f.arity(2)?;
                let (from, to) = (f.pid(0)?, f.pid(1)?);
                match op {
                    op::SEND_SENDER => SendSender { from, to },
                    op::PAYLOAD_EXIT => PayloadExit { from, to },
                    _ => PayloadExit2 { from, to },
                }
            }
            op::SEND_SENDER_TT | op::PAYLOAD_EXIT_TT | op::PAYLOAD_EXIT2_TT => {
                f.arity(3)?;
                let (from, to, token) = (f.pid(0)?, f.pid(1)?, f.term(2)?);
                match op {
                    op::SEND_SENDER_TT => SendSenderTt { from, to, token },
                    op::PAYLOAD_EXIT_TT => PayloadExitTt { from, to, token },
                    _ => PayloadExit2Tt { from, to, token },
                }
            }
            op::PAYLOAD_MONITOR_P_EXIT => {
                f.arity(3)?;
                PayloadMonitorPExit {
                    from: f.proc(0)?,
                    to: f.pid(1)?,
                    reference: f.reference(2)?,
                }
            }
            op::SPAWN_REQUEST | op::SPAWN_REQUEST_TT => {
                f.arity(if op == op::SPAWN_REQUEST { 5 } else { 6 })?;
                let (module, function, arity) = f.mfa(3)?;
                let (req_id, from, group_leader, opts) =
                    (f.reference(0)?, f.pid(1)?, f.pid(2)?, f.term(4)?);
                if op == op::SPAWN_REQUEST {
                    SpawnRequest {
                        req_id,
                        from,
                        group_leader,
                        module,
                        function,
                        arity,
                        opts,
                    }
                } else {
                    SpawnRequestTt {
                        req_id,
                        from,
                        group_leader,
                        module,
                        function,
                        arity,
                        opts,
                        token: f.term(5)?,
                    }
                }
            }
            op::SPAWN_REPLY | op::SPAWN_REPLY_TT => {
                f.arity(if op == op::SPAWN_REPLY { 4 } else { 5 })?;
                let (req_id, to, flags, result) =
                    (f.reference(0)?, f.pid(1)?, f.small(2)?, f.term(3)?);
                if op == op::SPAWN_REPLY {
                    SpawnReply {
                        req_id,
                        to,
                        flags,
                        result,
                    }
                } else {
                    SpawnReplyTt {
                        req_id,
                        to,
                        flags,
                        result,
                        token: f.term(4)?,
                    }
                }
            }
            op::ALIAS_SEND => {
                f.arity(2)?;
                AliasSend {
                    from: f.pid(0)?,
                    alias: f.reference(1)?,
                }
            }
            op::ALIAS_SEND_TT => {
                f.arity(3)?;
                AliasSendTt {
                    from: f.pid(0)?,
                    alias: f.reference(1)?,
                    token: f.term(2)?,
                }
            }
            op::UNLINK_ID | op::UNLINK_ID_ACK => {
                f.arity(3)?;
                let (id, from, to) = (f.uint(0)?, f.pid(1)?, f.pid(2)?);
                if op == op::UNLINK_ID {
                    UnlinkId { id, from, to }
                } else {
                    UnlinkIdAck { id, from, to }
                }
            }
            other => return Err(ControlError::Unknown(format!("operation {other}"))),
        };
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u32) -> Pid {
        Pid {
            node: Atom::new("a@h"),
            id: n,
            serial: 0,
            creation: 3,
        }
    }

    fn reference() -> Reference {
        Reference {
            node: Atom::new("b@h"),
            creation: 4,
            ids: vec![1, 2, 3],
        }
    }

    fn all() -> Vec<ControlMessage> {
        use ControlMessage::*;
        let (a, b, r, t) = (pid(1), pid(2), reference(), Term::atom("tok"));
        let reason = Term::atom("normal");
        vec![
            Link { from: a, to: b },
            Send { to: b },
            Exit {
                from: a,
                to: b,
                reason: reason.clone(),
            },
            Unlink { from: a, to: b },
            NodeLink,
            RegSend {
                from: a,
                to_name: Atom::new("reg"),
            },
            GroupLeader { from: a, to: b },
            Exit2 {
                from: a,
                to: b,
                reason: reason.clone(),
            },
            SendTt {
                to: b,
                token: t.clone(),
            },
            ExitTt {
                from: a,
                to: b,
                token: t.clone(),
                reason: reason.clone(),
            },
            RegSendTt {
                from: a,
                to_name: Atom::new("reg"),
                token: t.clone(),
            },
            Exit2Tt {
                from: a,
                to: b,
                token: t.clone(),
                reason: reason.clone(),
            },
            MonitorP {
                from: a,
                to: ProcRef::Name(Atom::new("reg")),
                reference: r.clone(),
            },
            DemonitorP {
                from: a,
                to: ProcRef::Pid(b),
                reference: r.clone(),
            },
            MonitorPExit {
                from: ProcRef::Pid(b),
                to: a,
                reference: r.clone(),
                reason: reason.clone(),
            },
            SendSender { from: a, to: b },
            SendSenderTt {
                from: a,
                to: b,
                token: t.clone(),
            },
            PayloadExit { from: a, to: b },
            PayloadExitTt {
                from: a,
                to: b,
                token: t.clone(),
            },
            PayloadExit2 { from: a, to: b },
            PayloadExit2Tt {
                from: a,
                to: b,
                token: t.clone(),
            },
            PayloadMonitorPExit {
                from: ProcRef::Name(Atom::new("reg")),
                to: a,
                reference: r.clone(),
            },
            SpawnRequest {
                req_id: r.clone(),
                from: a,
                group_leader: b,
                module: Atom::new("m"),
                function: Atom::new("f"),
                arity: 2,
                opts: Term::nil(),
            },
            SpawnRequestTt {
                req_id: r.clone(),
                from: a,
                group_leader: b,
                module: Atom::new("m"),
                function: Atom::new("f"),
                arity: 0,
                opts: Term::nil(),
                token: t.clone(),
            },
            SpawnReply {
                req_id: r.clone(),
                to: a,
                flags: 3,
                result: Term::Pid(b),
            },
            SpawnReplyTt {
                req_id: r.clone(),
                to: a,
                flags: 0,
                result: Term::atom("badarg"),
                token: t.clone(),
            },
            AliasSend {
                from: a,
                alias: r.clone(),
            },
            AliasSendTt {
                from: a,
                alias: r.clone(),
                token: t.clone(),
            },
            UnlinkId {
                id: u64::MAX,
                from: a,
                to: b,
            },
            UnlinkIdAck {
                id: 1,
                from: b,
                to: a,
            },
        ]
    }

    #[test]
    fn every_control_message_round_trips_through_its_tuple() {
        for m in all() {
            let t = m.to_term();
            assert_eq!(t.as_tuple().unwrap()[0], Term::Int(m.op()));
            assert_eq!(ControlMessage::from_term(&t).unwrap(), m, "{t:?}");
        }
    }

    #[test]
    fn payload_follows_sends_payload_exits_and_spawn_requests() {
        let with: Vec<i64> = all()
            .iter()
            .filter(|m| m.has_payload())
            .map(|m| m.op())
            .collect();
        assert_eq!(
            with,
            vec![2, 6, 12, 16, 22, 23, 24, 25, 26, 27, 28, 29, 30, 33, 34]
        );
    }

    #[test]
    fn wrong_shapes_are_typed_errors() {
        let bad = [
            Term::atom("x"),
            Term::tuple(vec![Term::Int(99)]),
            Term::tuple(vec![Term::Int(op::LINK), Term::Int(1)]),
            Term::tuple(vec![Term::Int(op::LINK), Term::Int(1), Term::Int(2)]),
            Term::tuple(vec![
                Term::Int(op::UNLINK_ID),
                Term::Int(-1),
                Term::Pid(pid(1)),
                Term::Pid(pid(2)),
            ]),
        ];
        for t in bad {
            assert!(ControlMessage::from_term(&t).is_err(), "{t:?}");
        }
    }
}
