//! Frames: one distribution control message (and its payload) per
//! `{packet,4}` packet.
//!
//! A port program does not invent a protocol: each frame body is the ETF of
//! a distribution control tuple, followed by the ETF of its payload term
//! when the control message has one (a message, an exit reason, an argument
//! list). The length prefix is `{packet,4}`'s: four bytes, big-endian.
//!
//! | Erlang (the host)                                   | Rust                           |
//! |-----------------------------------------------------|--------------------------------|
//! | `[term_to_binary(Ctrl), term_to_binary(Payload)]`   | `Frame { control, payload }.encode()` |
//! | `{Ctrl, Used} = binary_to_term(Bin, [used])`        | `Frame::decode(bytes)?`        |
//!
//! ```
//! use dist::control::ControlMessage;
//! use etf::{Atom, Pid, Term};
//! use port::frame::Frame;
//! let to = Pid { node: Atom::new("a@h"), id: 7, serial: 0, creation: 1 };
//! let frame = Frame::new(ControlMessage::Send { to }, Some(Term::atom("hello")));
//! let bytes = frame.encode();
//! assert_eq!(Frame::decode(bytes.into()).unwrap(), frame);
//! ```

use bytes::Bytes;
use dist::control::{ControlError, ControlMessage};
use etf::{DecodeError, Term};

/// Why a frame body is not a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The control term or the payload is not valid ETF.
    #[error("bad ETF in frame at byte {offset}: {source}")]
    Etf {
        /// Where in the frame body the bad term starts.
        offset: usize,
        /// The codec's error.
        source: DecodeError,
    },
    /// The control term is not a control message.
    #[error("bad control message: {0}")]
    Control(#[from] ControlError),
    /// A control message that takes a payload came without one.
    #[error("control message {0} needs a payload term")]
    MissingPayload(i64),
    /// Bytes left after the last term.
    #[error("{0} stray bytes after the frame's terms")]
    Trailing(usize),
}

/// One control message and, when it has one, its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The control message.
    pub control: ControlMessage,
    /// The term after it: present exactly when `control.has_payload()`.
    pub payload: Option<Term>,
}

impl Frame {
    /// A frame; `payload` should be `Some` exactly when the control message
    /// has one (`encode` writes what it is given).
    pub fn new(control: ControlMessage, payload: Option<Term>) -> Frame {
        Frame { control, payload }
    }

    /// The frame body (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Appends the frame body to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let opts = etf::EncodeOptions::default();
        if !encode_message_control(&self.control, &opts, out) {
            etf::encode_into(&self.control.to_term(), &opts, out);
        }
        if let Some(p) = &self.payload {
            etf::encode_into(p, &opts, out);
        }
    }

    /// Reads a frame body. Binaries in the payload share `body`'s buffer,
    /// so a large message is not copied again.
    pub fn decode(body: Bytes) -> Result<Frame, FrameError> {
        let (control, used) = decode_control(&body)?;
        Frame::with_payload(body, control, used)
    }

    /// The frame whose control message, `used` bytes long, starts `body`:
    /// reads the payload after it.
    fn with_payload(
        body: Bytes,
        control: ControlMessage,
        used: usize,
    ) -> Result<Frame, FrameError> {
        let rest = body.get(used..).unwrap_or_default();
        let payload = if control.has_payload() {
            if rest.is_empty() {
                return Err(FrameError::MissingPayload(control.op()));
            }
            let opts = etf::DecodeOptions::default();
            let rest = body.slice(used..);
            let (p, n) = match etf::decode_bytes_with(&rest, &opts) {
                Ok(decoded) => decoded,
                Err(source) => {
                    if let Some(exit) = dist::message::unreadable_payload(&control, &source) {
                        return Ok(Frame {
                            control: exit,
                            payload: None,
                        });
                    }
                    return Err(FrameError::Etf {
                        offset: used,
                        source,
                    });
                }
            };
            if n != rest.len() {
                return Err(FrameError::Trailing(rest.len() - n));
            }
            Some(p)
        } else {
            if !rest.is_empty() {
                return Err(FrameError::Trailing(rest.len()));
            }
            None
        };
        Ok(Frame { control, payload })
    }
}

/// Writes the control messages that carry messages (every `gen_server`
/// reply is an `ALIAS_SEND`) without building their tuple as a term first:
/// the same bytes `etf::encode_into(&control.to_term(), ..)` writes.
/// `false` (nothing written) for the others.
fn encode_message_control(
    control: &ControlMessage,
    opts: &etf::EncodeOptions,
    out: &mut Vec<u8>,
) -> bool {
    use ControlMessage as C;
    let unused = || Term::atom("");
    let elements = match control {
        C::AliasSend { from, alias } => [Term::Pid(*from), Term::Reference(alias.clone())],
        C::SendSender { from, to } => [Term::Pid(*from), Term::Pid(*to)],
        C::Send { to } => [unused(), Term::Pid(*to)],
        C::RegSend { from, to_name } => {
            // `{6, From, '', Name}`: one element more than the others.
            head(out, 4, control.op());
            etf::encode_body_into(&Term::Pid(*from), opts, out);
            etf::encode_body_into(&unused(), opts, out);
            etf::encode_body_into(&Term::Atom(*to_name), opts, out);
            return true;
        }
        _ => return false,
    };
    head(out, 3, control.op());
    for e in &elements {
        etf::encode_body_into(e, opts, out);
    }
    true
}

/// `{Op, ..` of an `Arity`-tuple: VERSION, SMALL_TUPLE_EXT, arity,
/// SMALL_INTEGER_EXT, op (every control operation is below 256).
fn head(out: &mut Vec<u8>, arity: u8, op: i64) {
    let op = u8::try_from(op).unwrap_or(u8::MAX);
    out.extend_from_slice(&[131, 104, arity, 97, op]);
}

/// The control message at the start of `body`, and its length in bytes.
fn decode_control(body: &Bytes) -> Result<(ControlMessage, usize), FrameError> {
    let opts = etf::DecodeOptions::default();
    let (ctrl, used) = etf::decode_bytes_with(body, &opts)
        .map_err(|source| FrameError::Etf { offset: 0, source })?;
    Ok((ControlMessage::from_term(&ctrl)?, used))
}

/// Reads frames as [`Frame::decode`] does, remembering the last few `SEND`
/// headers it read.
///
/// A proxy writes the same `SEND {2, '', X}` header, byte for byte, before
/// every message for its Rust process (it encodes it once). ETF is
/// self-delimiting, so a body that starts with the exact bytes of a header
/// read before starts with that header: it is taken from memory instead of
/// being decoded into a term, converted and dropped again.
///
/// ```
/// use dist::control::ControlMessage;
/// use etf::{Atom, Pid, Term};
/// use port::frame::{Frame, FrameDecoder};
/// let to = Pid { node: Atom::new("port@h"), id: 7, serial: 0, creation: 1 };
/// let frame = Frame::new(ControlMessage::Send { to }, Some(Term::atom("hello")));
/// let mut frames = FrameDecoder::default();
/// for _ in 0..2 {
///     assert_eq!(frames.decode(frame.encode().into()).unwrap(), frame);
/// }
/// ```
#[derive(Debug, Default)]
pub struct FrameDecoder {
    known: Vec<KnownHeader>,
    next: usize,
}

#[derive(Debug)]
struct KnownHeader {
    bytes: Box<[u8]>,
    control: ControlMessage,
}

/// How many `SEND` headers a [`FrameDecoder`] remembers: the processes
/// receiving messages most recently.
const KNOWN_HEADERS: usize = 8;

impl FrameDecoder {
    /// Reads a frame body, as [`Frame::decode`].
    pub fn decode(&mut self, body: Bytes) -> Result<Frame, FrameError> {
        if let Some(known) = self.known.iter().find(|k| body.starts_with(&k.bytes)) {
            let (control, used) = (known.control.clone(), known.bytes.len());
            return Frame::with_payload(body, control, used);
        }
        let (control, used) = decode_control(&body)?;
        if let (ControlMessage::Send { .. }, Some(bytes)) = (&control, body.get(..used)) {
            let known = KnownHeader {
                bytes: bytes.into(),
                control: control.clone(),
            };
            if self.known.len() < KNOWN_HEADERS {
                self.known.push(known);
            } else if let Some(slot) = self.known.get_mut(self.next) {
                *slot = known;
                self.next = (self.next + 1) % KNOWN_HEADERS;
            }
        }
        Frame::with_payload(body, control, used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etf::{Atom, Pid, Reference};

    fn pid(n: u32) -> Pid {
        Pid {
            node: Atom::new("vm@h"),
            id: n,
            serial: 0,
            creation: 2,
        }
    }

    #[test]
    fn frames_round_trip_with_and_without_payload() {
        let frames = [
            Frame::new(
                ControlMessage::Send { to: pid(1) },
                Some(Term::binary(vec![7u8; 100_000])),
            ),
            Frame::new(
                ControlMessage::Link {
                    from: pid(1),
                    to: pid(2),
                },
                None,
            ),
            Frame::new(
                ControlMessage::SpawnRequest {
                    req_id: Reference {
                        node: Atom::new("vm@h"),
                        creation: 2,
                        ids: vec![1, 2, 3],
                    },
                    from: pid(3),
                    group_leader: pid(3),
                    module: Atom::new("counter"),
                    function: Atom::new("start_link"),
                    arity: 1,
                    opts: Term::nil(),
                },
                Some(Term::List(vec![Term::Int(5)])),
            ),
        ];
        for f in frames {
            assert_eq!(Frame::decode(f.encode().into()).unwrap(), f);
        }
    }

    #[test]
    fn message_controls_are_written_as_their_terms_would_be() {
        let alias = Reference {
            node: Atom::new("vm@h"),
            creation: 2,
            ids: vec![1, 2, 3],
        };
        for control in [
            ControlMessage::AliasSend {
                from: pid(1),
                alias,
            },
            ControlMessage::SendSender {
                from: pid(1),
                to: pid(2),
            },
            ControlMessage::Send { to: pid(3) },
            ControlMessage::RegSend {
                from: pid(4),
                to_name: Atom::new("logger"),
            },
        ] {
            let mut direct = Vec::new();
            assert!(encode_message_control(
                &control,
                &etf::EncodeOptions::default(),
                &mut direct
            ));
            assert_eq!(direct, etf::encode(&control.to_term()), "{control:?}");
        }
    }

    #[test]
    fn remembered_headers_read_as_decoded_ones() {
        let mut frames = FrameDecoder::default();
        // More senders than remembered headers, each several times, and
        // frames of other kinds in between.
        for round in 0..3 {
            for n in 0..(KNOWN_HEADERS as u32 + 3) {
                let send = Frame::new(
                    ControlMessage::Send { to: pid(n) },
                    Some(Term::tuple(vec![Term::Int(round), Term::Int(n.into())])),
                );
                let link = Frame::new(
                    ControlMessage::Link {
                        from: pid(n),
                        to: pid(n + 1),
                    },
                    None,
                );
                for f in [send, link] {
                    assert_eq!(frames.decode(f.encode().into()).unwrap(), f);
                }
            }
        }
        // A remembered header followed by a bad payload is still an error.
        let mut body = etf::encode(&ControlMessage::Send { to: pid(1) }.to_term());
        assert!(matches!(
            frames.decode(body.clone().into()),
            Err(FrameError::MissingPayload(2))
        ));
        body.extend_from_slice(&[131, 255]);
        assert!(frames.decode(body.into()).is_err());
    }

    #[test]
    fn a_send_without_its_message_is_an_error() {
        let body = etf::encode(&ControlMessage::Send { to: pid(1) }.to_term());
        assert!(matches!(
            Frame::decode(body.into()),
            Err(FrameError::MissingPayload(2))
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            vec![],
            vec![131],
            vec![1, 2, 3],
            etf::encode(&Term::atom("x")),
        ] {
            assert!(Frame::decode(body.into()).is_err());
        }
        let mut link = etf::encode(
            &ControlMessage::Link {
                from: pid(1),
                to: pid(2),
            }
            .to_term(),
        );
        link.push(0);
        assert!(matches!(
            Frame::decode(link.into()),
            Err(FrameError::Trailing(1))
        ));
    }
}
