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
        etf::encode_into(&self.control.to_term(), &opts, out);
        if let Some(p) = &self.payload {
            etf::encode_into(p, &opts, out);
        }
    }

    /// Reads a frame body. Binaries in the payload share `body`'s buffer,
    /// so a large message is not copied again.
    pub fn decode(body: Bytes) -> Result<Frame, FrameError> {
        let opts = etf::DecodeOptions::default();
        let (ctrl, used) = etf::decode_bytes_with(&body, &opts)
            .map_err(|source| FrameError::Etf { offset: 0, source })?;
        let control = ControlMessage::from_term(&ctrl)?;
        let rest = body.slice(used..);
        let payload = if control.has_payload() {
            if rest.is_empty() {
                return Err(FrameError::MissingPayload(control.op()));
            }
            let (p, n) =
                etf::decode_bytes_with(&rest, &opts).map_err(|source| FrameError::Etf {
                    offset: used,
                    source,
                })?;
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
