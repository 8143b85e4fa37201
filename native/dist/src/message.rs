//! Whole distribution messages: a control message and its payload, to and
//! from frames.
//!
//! | direction | steps                                                                   |
//! |-----------|-------------------------------------------------------------------------|
//! | out       | [`MessageEncoder::encode`]: adapt to the peer's flags, plan the atom cache, encode the control tuple with `ATOM_CACHE_REF`s, append the payload, fragment |
//! | in        | [`crate::framing::Reassembler`] → [`decode`]: control tuple and payload decoded against the header's atom table |
//!
//! The control tuple is written here, element by element, so its atoms —
//! node names inside pids and references, registered names, module and
//! function names — travel as one-byte atom cache references once the peer
//! has seen them, exactly where the BEAM gains most from its cache. The
//! atoms near the top of the payload (the first [`PAYLOAD_ATOM_SCAN`] terms
//! visited: a reply's tag, a `'$gen_call'`, a record name) share the same
//! header and go out as references too (`etf::encode_body_with_atom_refs`);
//! deeper ones are written in full. Other terms (exit reasons, trace tokens)
//! go through `etf::encode_body_into` unchanged.
//!
//! ```
//! use dist::control::ControlMessage;
//! use dist::framing::{Frame, Reassembler};
//! use dist::message::{decode, MessageEncoder};
//! use dist::DistFlags;
//! use etf::{Atom, Pid, Term};
//! let from = Pid { node: Atom::new("rust@localhost"), id: 1, serial: 0, creation: 1 };
//! let msg = ControlMessage::RegSend { from, to_name: Atom::new("echo") };
//! let mut enc = MessageEncoder::new(DistFlags::ours(true), 64 * 1024);
//! let frames = enc.encode(&msg, Some(&Term::atom("hello")));
//! let mut r = Reassembler::new(1 << 20, 16);
//! let whole = r.push(Frame::decode(frames[0].encode().into()).unwrap()).unwrap().unwrap();
//! assert_eq!(decode(&whole).unwrap(), (msg, Some(Term::atom("hello"))));
//! ```

use std::collections::HashMap;

use etf::{Atom, DecodeOptions, EncodeOptions, Term};

use crate::control::{ControlError, ControlMessage};
use crate::flags::DistFlags;
use crate::framing::{
    encode_message, DistHeader, DistMessage, Frame, OutgoingAtomCache, VERSION_MAGIC,
};

/// Why a complete message could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not a valid term.
    #[error("bad term in distribution message: {0}")]
    Term(String),
    /// The control tuple is not a valid control message.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// A payload was expected and missing, or bytes were left over.
    #[error("{0}")]
    Payload(String),
}

const ATOM_CACHE_REF: u8 = 82;
const SMALL_TUPLE_EXT: u8 = 104;
const LARGE_TUPLE_EXT: u8 = 105;
const NEW_PID_EXT: u8 = 88;
const NEWER_REFERENCE_EXT: u8 = 90;

fn encode_options() -> EncodeOptions {
    // Minor version 2: atoms always in their UTF-8 forms, as the BEAM sends
    // them once UTF8_ATOMS is negotiated (it is mandatory).
    EncodeOptions {
        minor_version: 2,
        ..EncodeOptions::default()
    }
}

/// Encodes outgoing messages for one connection: it owns the connection's
/// outgoing atom cache and fragment sequence numbers.
pub struct MessageEncoder {
    flags: DistFlags,
    fragment_size: usize,
    cache: OutgoingAtomCache,
    next_sequence: u64,
}

impl MessageEncoder {
    /// An encoder for a connection using `flags` (the negotiated set),
    /// splitting messages longer than `fragment_size` when the peer
    /// understands fragments.
    pub fn new(flags: DistFlags, fragment_size: usize) -> MessageEncoder {
        MessageEncoder {
            flags,
            fragment_size: fragment_size.max(64),
            cache: OutgoingAtomCache::new(),
            next_sequence: 1,
        }
    }

    /// Encodes one message into the frames to send, in order.
    pub fn encode(&mut self, msg: &ControlMessage, payload: Option<&Term>) -> Vec<Frame> {
        // Only rewritten messages are copied; the payload is encoded in place.
        let adapted = adapt(msg, payload, self.flags);
        let (msg, payload) = match &adapted {
            Some((m, p)) => (m, p.as_ref()),
            None => (msg, payload),
        };
        let control = msg.to_term();
        let opts = encode_options();
        if !self.flags.contains(DistFlags::DIST_HDR_ATOM_CACHE) {
            // Pass-through: each term with its own version byte.
            let mut body = Vec::new();
            etf::encode_into(&control, &opts, &mut body);
            if let Some(p) = payload {
                etf::encode_into(p, &opts, &mut body);
            }
            return vec![Frame::PassThrough(body.into())];
        }
        let mut atoms = Vec::new();
        collect_atoms(&control, 0, &mut atoms);
        if let Some(p) = payload {
            let mut budget = PAYLOAD_ATOM_SCAN;
            collect_payload_atoms(p, &mut budget, &mut atoms);
        }
        let plan = self.cache.plan(atoms);
        let mut control_bytes = Vec::with_capacity(64);
        write_cached(&control, 0, &plan.index, &opts, &mut control_bytes);
        let mut payload_bytes = Vec::new();
        if let Some(p) = payload {
            let atom_ref = |a: Atom| plan.index.get(&a).copied();
            etf::encode_body_with_atom_refs(p, &opts, &atom_ref, &mut payload_bytes);
        }
        let fragment_size = self
            .flags
            .contains(DistFlags::FRAGMENTS)
            .then_some(self.fragment_size);
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.wrapping_add(1).max(1);
        encode_message(
            &plan.header,
            &control_bytes,
            payload_bytes.into(),
            sequence,
            fragment_size,
        )
    }
}

/// Rewrites `msg` into what a peer without `SEND_SENDER` or `EXIT_PAYLOAD`
/// understands: `SEND` instead of `SEND_SENDER`, `EXIT`/`EXIT2`/
/// `MONITOR_P_EXIT` with the reason inside instead of the `PAYLOAD_*` forms.
fn adapt(
    msg: &ControlMessage,
    payload: Option<&Term>,
    flags: DistFlags,
) -> Option<(ControlMessage, Option<Term>)> {
    use ControlMessage::*;
    let reason = || payload.cloned().unwrap_or_else(|| Term::atom("normal"));
    let exit_payload = flags.contains(DistFlags::EXIT_PAYLOAD);
    let adapted = match msg {
        SendSender { to, .. } if !flags.contains(DistFlags::SEND_SENDER) => Some(Send { to: *to }),
        SendSenderTt { to, token, .. } if !flags.contains(DistFlags::SEND_SENDER) => Some(SendTt {
            to: *to,
            token: token.clone(),
        }),
        PayloadExit { from, to } if !exit_payload => Some(Exit {
            from: *from,
            to: *to,
            reason: reason(),
        }),
        PayloadExit2 { from, to } if !exit_payload => Some(Exit2 {
            from: *from,
            to: *to,
            reason: reason(),
        }),
        PayloadMonitorPExit {
            from,
            to,
            reference,
        } if !exit_payload => Some(MonitorPExit {
            from: from.clone(),
            to: *to,
            reference: reference.clone(),
            reason: reason(),
        }),
        _ => None,
    };
    adapted.map(|m| {
        let p = if m.has_payload() {
            payload.cloned()
        } else {
            None
        };
        (m, p)
    })
}

/// How many terms of a payload are searched for atoms to cache: enough for
/// the envelope of a call, a cast or a reply, and a bounded cost for a
/// payload of a million elements.
pub const PAYLOAD_ATOM_SCAN: usize = 32;

/// The atoms among the first `budget` terms of `t`, depth first.
fn collect_payload_atoms(t: &Term, budget: &mut usize, out: &mut Vec<Atom>) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match t {
        Term::Atom(a) => out.push(*a),
        Term::Pid(p) => out.push(p.node),
        Term::Port(p) => out.push(p.node),
        Term::Reference(r) => out.push(r.node),
        Term::Tuple(items) | Term::List(items) => {
            for item in items {
                if *budget == 0 {
                    break;
                }
                collect_payload_atoms(item, budget, out);
            }
        }
        Term::ImproperList(items, tail) => {
            for item in items {
                if *budget == 0 {
                    return;
                }
                collect_payload_atoms(item, budget, out);
            }
            collect_payload_atoms(tail, budget, out);
        }
        _ => {}
    }
}

/// Atoms of the control tuple that [`write_cached`] can write as references.
fn collect_atoms(t: &Term, depth: usize, out: &mut Vec<Atom>) {
    match t {
        Term::Atom(a) => out.push(*a),
        Term::Pid(p) => out.push(p.node),
        Term::Reference(r) => out.push(r.node),
        Term::Tuple(items) if depth < 2 => {
            items.iter().for_each(|i| collect_atoms(i, depth + 1, out))
        }
        _ => {}
    }
}

fn write_atom(a: Atom, index: &HashMap<Atom, u8>, opts: &EncodeOptions, out: &mut Vec<u8>) {
    match index.get(&a) {
        Some(i) => out.extend_from_slice(&[ATOM_CACHE_REF, *i]),
        None => etf::encode_body_into(&Term::Atom(a), opts, out),
    }
}

/// Writes the control tuple (and the `{M, F, A}` tuple inside a spawn
/// request) with cached atoms; deeper terms go to the `etf` encoder.
fn write_cached(
    t: &Term,
    depth: usize,
    index: &HashMap<Atom, u8>,
    opts: &EncodeOptions,
    out: &mut Vec<u8>,
) {
    match t {
        Term::Atom(a) => write_atom(*a, index, opts, out),
        Term::Pid(p) => {
            out.push(NEW_PID_EXT);
            write_atom(p.node, index, opts, out);
            out.extend_from_slice(&p.id.to_be_bytes());
            out.extend_from_slice(&p.serial.to_be_bytes());
            out.extend_from_slice(&p.creation.to_be_bytes());
        }
        Term::Reference(r) if r.ids.len() <= u16::MAX as usize => {
            out.push(NEWER_REFERENCE_EXT);
            out.extend_from_slice(&(r.ids.len() as u16).to_be_bytes());
            write_atom(r.node, index, opts, out);
            out.extend_from_slice(&r.creation.to_be_bytes());
            for id in &r.ids {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
        Term::Tuple(items) if depth < 2 => {
            if let Ok(n) = u8::try_from(items.len()) {
                out.extend_from_slice(&[SMALL_TUPLE_EXT, n]);
            } else {
                out.push(LARGE_TUPLE_EXT);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            }
            for i in items {
                write_cached(i, depth + 1, index, opts, out);
            }
        }
        other => etf::encode_body_into(other, opts, out),
    }
}

/// Decodes a complete message into its control message and payload.
pub fn decode(msg: &DistMessage) -> Result<(ControlMessage, Option<Term>), MessageError> {
    let opts = DecodeOptions {
        version_byte: msg.versioned,
        atom_cache: (!msg.versioned).then_some(msg.atoms.as_slice()),
        ..DecodeOptions::default()
    };
    let bad = |e: etf::DecodeError| MessageError::Term(e.to_string());
    let (control, used) = etf::decode_bytes_with(&msg.body, &opts).map_err(bad)?;
    let control = ControlMessage::from_term(&control)?;
    let rest = msg.body.slice(used..);
    if !control.has_payload() {
        if !rest.is_empty() {
            return Err(MessageError::Payload(format!(
                "{} bytes after control message {} that takes no payload",
                rest.len(),
                control.op()
            )));
        }
        return Ok((control, None));
    }
    if rest.is_empty() || (msg.versioned && rest.len() == 1 && rest[0] == VERSION_MAGIC) {
        return Err(MessageError::Payload(format!(
            "control message {} without its payload",
            control.op()
        )));
    }
    let (payload, used) = match etf::decode_bytes_with(&rest, &opts) {
        Ok(decoded) => decoded,
        Err(e) => match unreadable_payload(&control, &e) {
            Some(exit) => return Ok((exit, None)),
            None => return Err(bad(e)),
        },
    };
    if used != rest.len() {
        return Err(MessageError::Payload(format!(
            "{} bytes left over after the payload",
            rest.len() - used
        )));
    }
    Ok((control, Some(payload)))
}

/// A well-formed message (or exit reason) for one process, nested deeper
/// than the decoder follows (`etf::DEFAULT_MAX_DEPTH`: terms are dropped
/// and encoded recursively, and a deeper one would overflow the stack).
/// Rather than close the connection (or end a port program) as malformed
/// traffic does, the process it was for ends: this is an `EXIT2` to it,
/// from itself, with reason `{ferrotp_unreadable_message, Why}`. `None`
/// for any other failure, or a message not addressed to a pid.
pub fn unreadable_payload(
    control: &ControlMessage,
    e: &etf::DecodeError,
) -> Option<ControlMessage> {
    use ControlMessage as C;
    if !matches!(e.kind, etf::DecodeErrorKind::TooDeep(_)) {
        return None;
    }
    let to = match control {
        C::Send { to } | C::SendTt { to, .. } => *to,
        C::SendSender { to, .. } | C::SendSenderTt { to, .. } => *to,
        C::PayloadExit { to, .. } | C::PayloadExitTt { to, .. } => *to,
        C::PayloadExit2 { to, .. } | C::PayloadExit2Tt { to, .. } => *to,
        _ => return None,
    };
    let reason = Term::tuple(vec![
        Term::atom("ferrotp_unreadable_message"),
        Term::binary(e.to_string().into_bytes()),
    ]);
    Some(C::Exit2 {
        from: to,
        to,
        reason,
    })
}

/// Frames for a message encoded once, without an atom cache (a plain
/// `131, 68, 0` header): what a stateless sender can always use.
pub fn encode_uncached(msg: &ControlMessage, payload: Option<&Term>) -> Frame {
    let opts = encode_options();
    let mut body = Vec::new();
    etf::encode_body_into(&msg.to_term(), &opts, &mut body);
    if let Some(p) = payload {
        etf::encode_body_into(p, &opts, &mut body);
    }
    Frame::Header {
        header: DistHeader::default(),
        body: body.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ProcRef;
    use crate::framing::Reassembler;
    use bytes::Bytes;
    use etf::{Pid, Reference};

    fn pid(node: &str, id: u32) -> Pid {
        Pid {
            node: Atom::new(node),
            id,
            serial: 1,
            creation: 9,
        }
    }

    fn through(frames: Vec<Frame>, r: &mut Reassembler) -> DistMessage {
        let mut done = None;
        for f in frames {
            let bytes = Bytes::from(f.encode());
            if let Some(m) = r.push(Frame::decode(bytes).unwrap()).unwrap() {
                done = Some(m);
            }
        }
        done.unwrap()
    }

    /// A message nested deeper than the decoder follows: an `EXIT2` to its
    /// pid (the process ends, the connection stays); to a registered name
    /// it is still malformed traffic, as are other decode failures.
    #[test]
    fn a_too_deep_payload_ends_its_process_not_the_connection() {
        let (from, to) = (pid("erl@h", 1), pid("rust@h", 2));
        let body = |control: &ControlMessage, payload: &[u8]| {
            let mut b = Vec::new();
            etf::encode_body_into(&control.to_term(), &encode_options(), &mut b);
            b.extend_from_slice(payload);
            DistMessage {
                atoms: Vec::new(),
                body: Bytes::from(b),
                versioned: false,
            }
        };
        // [[[...]]], `n` levels.
        let nested = |n: usize| {
            let mut b = Vec::new();
            for _ in 0..n {
                b.extend_from_slice(&[108, 0, 0, 0, 1]);
            }
            b.extend(std::iter::repeat_n(106, n + 1));
            b
        };
        let deep = nested(3000);
        let send = ControlMessage::SendSender { from, to };
        let (control, payload) = decode(&body(&send, &deep)).unwrap();
        assert!(payload.is_none());
        let ControlMessage::Exit2 {
            from: f,
            to: t,
            reason,
        } = control
        else {
            panic!("not an EXIT2: {control:?}");
        };
        assert_eq!((f, t), (to, to));
        assert!(
            matches!(reason.as_tuple(), Some([tag, Term::Binary(why)])
                if tag.is_atom("ferrotp_unreadable_message")
                    && String::from_utf8_lossy(why).contains("nested deeper")),
            "{reason}"
        );
        // Shallow enough: delivered as it is.
        let (_, payload) = decode(&body(&send, &nested(1000))).unwrap();
        assert!(payload.is_some());
        // To a name, or not a nesting failure: malformed.
        let reg = ControlMessage::RegSend {
            from,
            to_name: Atom::new("counter"),
        };
        assert!(decode(&body(&reg, &deep)).is_err());
        assert!(decode(&body(&send, &[200])).is_err());
    }

    #[test]
    fn cached_atoms_round_trip_and_shrink_later_messages() {
        let mut enc = MessageEncoder::new(DistFlags::ours(true), 1 << 16);
        let mut r = Reassembler::new(1 << 20, 4);
        let msg = ControlMessage::MonitorP {
            from: pid("rust_node@localhost", 5),
            to: ProcRef::Name(Atom::new("some_registered_name")),
            reference: Reference {
                node: Atom::new("rust_node@localhost"),
                creation: 9,
                ids: vec![1, 2, 3],
            },
        };
        let first = enc.encode(&msg, None);
        let first_len = first[0].encode().len();
        assert_eq!(
            decode(&through(first, &mut r)).unwrap(),
            (msg.clone(), None)
        );
        let second = enc.encode(&msg, None);
        let second_len = second[0].encode().len();
        assert!(second_len + 30 < first_len, "{second_len} vs {first_len}");
        assert_eq!(decode(&through(second, &mut r)).unwrap(), (msg, None));
    }

    #[test]
    fn payload_atoms_travel_as_cache_references_once_the_peer_has_them() {
        let mut enc = MessageEncoder::new(DistFlags::ours(true), 1 << 16);
        let mut r = Reassembler::new(1 << 20, 4);
        let msg = ControlMessage::SendSender {
            from: pid("a@h", 1),
            to: pid("b@h", 2),
        };
        // A reply: {[alias | Ref], {ok, a_rather_long_atom_name_for_the_test}}.
        let tag = Term::ImproperList(
            vec![Term::atom("alias")],
            Box::new(Term::Reference(Reference {
                node: Atom::new("rust_node_with_a_long_name@localhost"),
                creation: 9,
                ids: vec![1, 2, 3],
            })),
        );
        let value = Term::Tuple(vec![
            Term::atom("ok"),
            Term::atom("a_rather_long_atom_name_for_the_test"),
        ]);
        let reply = Term::Tuple(vec![tag, value]);
        let first = enc.encode(&msg, Some(&reply));
        let first_len = first[0].encode().len();
        let second = enc.encode(&msg, Some(&reply));
        let second_len = second[0].encode().len();
        // The long atoms are written once, in the first header only.
        assert!(second_len + 60 < first_len, "{second_len} vs {first_len}");
        let Frame::Header { body, .. } = &second[0] else {
            panic!("expected a header frame");
        };
        assert!(!body.windows(4).any(|w| w == b"long"));
        for frames in [first, second] {
            let decoded = decode(&through(frames, &mut r)).unwrap();
            assert_eq!(decoded, (msg.clone(), Some(reply.clone())));
        }
    }

    #[test]
    fn atoms_deep_in_a_payload_are_written_in_full() {
        let mut enc = MessageEncoder::new(DistFlags::ours(true), 1 << 16);
        let mut r = Reassembler::new(1 << 20, 4);
        let msg = ControlMessage::SendSender {
            from: pid("a@h", 1),
            to: pid("b@h", 2),
        };
        let mut items: Vec<Term> = (0..PAYLOAD_ATOM_SCAN as i64).map(Term::Int).collect();
        items.push(Term::atom("past_the_scanned_terms"));
        let payload = Term::List(items);
        for _ in 0..2 {
            let frames = enc.encode(&msg, Some(&payload));
            let Frame::Header { body, .. } = &frames[0] else {
                panic!("expected a header frame");
            };
            assert!(body.windows(22).any(|w| w == b"past_the_scanned_terms"));
            let decoded = decode(&through(frames, &mut r)).unwrap();
            assert_eq!(decoded, (msg.clone(), Some(payload.clone())));
        }
    }

    #[test]
    fn large_payload_is_fragmented_and_reassembled() {
        let mut enc = MessageEncoder::new(DistFlags::ours(true), 1000);
        let mut r = Reassembler::new(1 << 20, 4);
        let msg = ControlMessage::SendSender {
            from: pid("a@h", 1),
            to: pid("b@h", 2),
        };
        let big = Term::binary(vec![7u8; 50_000]);
        let frames = enc.encode(&msg, Some(&big));
        assert!(frames.len() > 40);
        assert_eq!(decode(&through(frames, &mut r)).unwrap(), (msg, Some(big)));
    }

    #[test]
    fn pass_through_for_peers_without_header_atom_cache() {
        let flags = DistFlags(DistFlags::ours(true).0 & !DistFlags::DIST_HDR_ATOM_CACHE.0);
        let mut enc = MessageEncoder::new(flags, 1000);
        let msg = ControlMessage::RegSend {
            from: pid("a@h", 1),
            to_name: Atom::new("x"),
        };
        let frames = enc.encode(&msg, Some(&Term::Int(1)));
        assert!(matches!(frames[0], Frame::PassThrough(_)));
        let mut r = Reassembler::new(1 << 20, 4);
        assert_eq!(
            decode(&through(frames, &mut r)).unwrap(),
            (msg, Some(Term::Int(1)))
        );
    }

    #[test]
    fn peers_without_payload_flags_get_the_old_forms() {
        let flags = DistFlags(
            DistFlags::ours(true).0 & !(DistFlags::EXIT_PAYLOAD.0 | DistFlags::SEND_SENDER.0),
        );
        let (a, b) = (pid("a@h", 1), pid("b@h", 2));
        let (m, p) = adapt(
            &ControlMessage::PayloadExit { from: a, to: b },
            Some(&Term::atom("boom")),
            flags,
        )
        .unwrap();
        assert_eq!(
            m,
            ControlMessage::Exit {
                from: a,
                to: b,
                reason: Term::atom("boom")
            }
        );
        assert_eq!(p, None);
        let (m, p) = adapt(
            &ControlMessage::SendSender { from: a, to: b },
            Some(&Term::Int(1)),
            flags,
        )
        .unwrap();
        assert_eq!(m, ControlMessage::Send { to: b });
        assert_eq!(p, Some(Term::Int(1)));
        // With the flags, nothing is rewritten (and nothing copied).
        let all = DistFlags::ours(true);
        assert!(adapt(
            &ControlMessage::SendSender { from: a, to: b },
            Some(&Term::Int(1)),
            all
        )
        .is_none());
    }

    #[test]
    fn missing_payload_is_an_error() {
        let msg = ControlMessage::SendSender {
            from: pid("a@h", 1),
            to: pid("b@h", 2),
        };
        let Frame::Header { body, .. } = encode_uncached(&msg, None) else {
            panic!()
        };
        let m = DistMessage {
            atoms: vec![],
            body,
            versioned: false,
        };
        assert!(matches!(decode(&m), Err(MessageError::Payload(_))));
    }

    #[test]
    fn garbage_body_is_an_error_not_a_panic() {
        for body in [&[][..], &[104, 9], &[82, 0], &[255, 1, 2]] {
            let m = DistMessage {
                atoms: vec![],
                body: Bytes::copy_from_slice(body),
                versioned: false,
            };
            assert!(decode(&m).is_err());
        }
    }
}
