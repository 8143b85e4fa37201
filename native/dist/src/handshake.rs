//! The distribution handshake (version 6, accepting version-5 names), both sides.
//!
//! > "Imagine two nodes, A that initiates the handshake and B that accepts the
//! > connection." — OTP `erl_dist_protocol`, *The Handshake in Detail*
//!
//! ```text
//! A (initiator)                        B (acceptor)
//! send_name 'N' ---------------------> recv_name         (or old 'n', version 5)
//! recv_status <----------------------- send_status 's'   ok | ok_simultaneous | nok | not_allowed | alive
//! recv_challenge <-------------------- send_challenge 'N' (flags, challenge ChB, creation, name)
//! (send_complement 'c' ------------->  recv_complement)  only after an old 'n' name
//! send_challenge_reply 'r' ----------> recv_challenge_reply  (ChA, md5(Cookie ++ ChB))
//! recv_challenge_ack <---------------- send_challenge_ack 'a' (md5(Cookie ++ ChA))
//! ```
//!
//! | Erlang (`dist_util`)                | Rust                                          |
//! |-------------------------------------|-----------------------------------------------|
//! | `dist_util:handshake_we_started/1`  | `handshake::initiate(&mut stream, &cfg, peer)` |
//! | `dist_util:handshake_other_started/1` | `handshake::accept(&mut stream, &cfg, decide)` |
//! | `gen_digest(Challenge, Cookie)`     | `handshake::digest(challenge, &cookie)`       |
//!
//! Every message travels in a `{packet, 2}` frame. Each message is a typed
//! value ([`SendName`], [`Status`], [`Challenge`], [`Complement`],
//! [`ChallengeReply`], [`ChallengeAck`]) with `encode`/`decode`, so the
//! protocol is testable without a socket; the two async drivers run over any
//! `AsyncRead + AsyncWrite` (a `TcpStream`, or `tokio::io::duplex` in tests).

use md5::{Digest as _, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cookie::Cookie;
use crate::flags::DistFlags;
use crate::name::NodeName;
use crate::wire::{Reader, Truncated};

/// What can end a handshake.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The connection failed or closed.
    #[error("connection lost during handshake: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not a valid handshake message.
    #[error("malformed handshake message: {0}")]
    Malformed(String),
    /// A valid message, but not the one this step expects.
    #[error("expected {expected}, got message tag {tag:?}")]
    Unexpected {
        /// The message this step waits for.
        expected: &'static str,
        /// The tag byte received.
        tag: char,
    },
    /// The acceptor answered with a status that ends the handshake.
    #[error("peer refused the connection with status {0}")]
    Refused(Status),
    /// We refused the peer (told it `status`) for `reason`.
    #[error("refused peer {peer}: {reason}")]
    RefusedPeer {
        /// The peer's name as it gave it.
        peer: String,
        /// Why.
        reason: String,
    },
    /// The peer lacks capabilities OTP 25 makes mandatory.
    #[error("peer {peer} lacks mandatory flags {missing:?}")]
    MissingFlags {
        /// The peer.
        peer: String,
        /// What it lacks.
        missing: DistFlags,
    },
    /// The peer's digest did not match: the cookies differ.
    #[error("peer {peer} sent a wrong challenge digest: the cookies differ")]
    BadDigest {
        /// The peer.
        peer: String,
    },
    /// We connected to one node and another answered.
    #[error("connected to {got}, expected {expected}")]
    WrongPeer {
        /// Who we meant to reach.
        expected: NodeName,
        /// Who answered.
        got: NodeName,
    },
}

impl From<Truncated> for HandshakeError {
    fn from(t: Truncated) -> HandshakeError {
        HandshakeError::Malformed(t.to_string())
    }
}

/// Who we are in a handshake.
#[derive(Debug, Clone)]
pub struct HandshakeConfig {
    /// Our full node name.
    pub name: NodeName,
    /// The flags we advertise ([`DistFlags::ours`]).
    pub flags: DistFlags,
    /// Our creation (from EPMD's `ALIVE2_X_RESP`).
    pub creation: u32,
    /// The cookie: both our in- and out-cookie.
    pub cookie: Cookie,
}

/// A completed handshake: what both sides now know about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    /// The peer's full node name.
    pub peer: NodeName,
    /// The flags the peer advertised.
    pub peer_flags: DistFlags,
    /// The flags in use on this connection: ours ∩ theirs.
    pub flags: DistFlags,
    /// The peer's creation (0 if a version-5 peer never told it).
    pub peer_creation: u32,
}

/// `gen_digest(Challenge, Cookie)`: "A digest is a (16 bytes) MD5 hash of the
/// cookie (as text) concatenated with the challenge (as text)", i.e.
/// `erlang:md5([atom_to_list(Cookie) | integer_to_list(Challenge)])`.
pub fn digest(challenge: u32, cookie: &Cookie) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(cookie.digest_bytes());
    h.update(challenge.to_string().as_bytes());
    h.finalize().into()
}

/// Compares digests in time independent of where they differ.
fn digests_equal(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn name_string(b: &[u8]) -> Result<String, HandshakeError> {
    String::from_utf8(b.to_vec())
        .map_err(|_| HandshakeError::Malformed("node name is not UTF-8".into()))
}

fn put_name16(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&(name.len().min(u16::MAX as usize) as u16).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn expect_tag(
    r: &mut Reader<'_>,
    want: &[u8],
    expected: &'static str,
) -> Result<u8, HandshakeError> {
    let tag = r.u8("message tag")?;
    if want.contains(&tag) {
        Ok(tag)
    } else {
        Err(HandshakeError::Unexpected {
            expected,
            tag: tag as char,
        })
    }
}

/// `send_name`, from A to B.
///
/// > Old: `'n', Version=5 :16, Flags :32, Name` — "only sent from OTP 23 and 24
/// > nodes that are not using epmd". New: `'N', Flags :64, Creation :32, Nlen :16,
/// > Name` — "Any extra data after the node Name must be accepted and ignored."
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendName {
    /// The old `'n'` message (version 5, 32-bit flags, no creation).
    V5 {
        /// The low 32 flag bits.
        flags: DistFlags,
        /// A's full node name.
        name: String,
    },
    /// The new `'N'` message (version 6).
    V6 {
        /// A's flags.
        flags: DistFlags,
        /// A's creation.
        creation: u32,
        /// A's full node name.
        name: String,
    },
}

impl SendName {
    /// Encodes the message body (no packet header).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            SendName::V5 { flags, name } => {
                let mut out = vec![b'n', 0, 5];
                out.extend_from_slice(&flags.low().to_be_bytes());
                out.extend_from_slice(name.as_bytes());
                out
            }
            SendName::V6 {
                flags,
                creation,
                name,
            } => {
                let mut out = vec![b'N'];
                out.extend_from_slice(&flags.0.to_be_bytes());
                out.extend_from_slice(&creation.to_be_bytes());
                put_name16(&mut out, name);
                out
            }
        }
    }

    /// Decodes a message body.
    pub fn decode(b: &[u8]) -> Result<SendName, HandshakeError> {
        let mut r = Reader::new(b);
        match expect_tag(&mut r, b"nN", "send_name ('n' or 'N')")? {
            b'n' => {
                let version = r.u16("Version")?;
                if version != 5 {
                    return Err(HandshakeError::Malformed(format!(
                        "old send_name must say version 5, said {version}"
                    )));
                }
                let flags = DistFlags(u64::from(r.u32("Flags")?));
                Ok(SendName::V5 {
                    flags,
                    name: name_string(r.rest())?,
                })
            }
            _ => {
                let flags = DistFlags(r.u64("Flags")?);
                let creation = r.u32("Creation")?;
                let nlen = r.u16("Nlen")? as usize;
                let name = name_string(r.bytes(nlen, "Name")?)?;
                Ok(SendName::V6 {
                    flags,
                    creation,
                    name,
                })
            }
        }
    }

    /// The sender's name.
    pub fn name(&self) -> &str {
        match self {
            SendName::V5 { name, .. } | SendName::V6 { name, .. } => name,
        }
    }

    /// The sender's flags (low 32 bits only for `V5`).
    pub fn flags(&self) -> DistFlags {
        match self {
            SendName::V5 { flags, .. } | SendName::V6 { flags, .. } => *flags,
        }
    }
}

/// `send_status`: `'s', Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// "The handshake will continue."
    Ok,
    /// "The handshake will continue, but A is informed that B has another
    /// ongoing connection attempt that will be shut down (simultaneous connect
    /// where A's name is greater than B's name, compared literally)."
    OkSimultaneous,
    /// "The handshake will not continue, as B already has an ongoing handshake,
    /// which it itself has initiated (simultaneous connect where B's name is
    /// greater than A's)."
    Nok,
    /// "The connection is disallowed for some (unspecified) security reason."
    NotAllowed,
    /// "A connection to the node is already active" — A answers `true` or `false`.
    Alive,
    /// A's answer to `alive`: continue, the old connection is broken.
    True,
    /// A's answer to `alive`: close, the attempt was a mistake.
    False,
    /// `named:` — B gives A the dynamic name it asked for with `NAME_ME`.
    Named {
        /// A's full dynamic node name.
        name: String,
        /// A's creation, chosen by B.
        creation: u32,
    },
}

impl Status {
    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        let text: &[u8] = match self {
            Status::Ok => b"ok",
            Status::OkSimultaneous => b"ok_simultaneous",
            Status::Nok => b"nok",
            Status::NotAllowed => b"not_allowed",
            Status::Alive => b"alive",
            Status::True => b"true",
            Status::False => b"false",
            Status::Named { name, creation } => {
                let mut out = b"snamed:".to_vec();
                put_name16(&mut out, name);
                out.extend_from_slice(&creation.to_be_bytes());
                return out;
            }
        };
        let mut out = vec![b's'];
        out.extend_from_slice(text);
        out
    }

    /// Decodes a message body.
    pub fn decode(b: &[u8]) -> Result<Status, HandshakeError> {
        let mut r = Reader::new(b);
        expect_tag(&mut r, b"s", "status ('s')")?;
        let rest = r.rest();
        Ok(match rest {
            b"ok" => Status::Ok,
            b"ok_simultaneous" => Status::OkSimultaneous,
            b"nok" => Status::Nok,
            b"not_allowed" => Status::NotAllowed,
            b"alive" => Status::Alive,
            b"true" => Status::True,
            b"false" => Status::False,
            _ if rest.starts_with(b"named:") => {
                let mut r = Reader::new(&rest[6..]);
                let nlen = r.u16("Nlen")? as usize;
                let name = name_string(r.bytes(nlen, "Name")?)?;
                let creation = r.u32("Creation")?;
                Status::Named { name, creation }
            }
            _ => {
                return Err(HandshakeError::Malformed(format!(
                    "unknown status {:?}",
                    String::from_utf8_lossy(rest)
                )))
            }
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Named { name, .. } => write!(f, "named:{name}"),
            other => {
                let enc = other.encode();
                f.write_str(&String::from_utf8_lossy(enc.get(1..).unwrap_or_default()))
            }
        }
    }
}

/// `send_challenge`, from B to A.
///
/// > New: `'N', Flags :64, Challenge :32, Creation :32, Nlen :16, Name` — "Any
/// > extra data after the node Name must be accepted and ignored." Old (to a
/// > version-5 peer without `HANDSHAKE_23`): `'n', Version :16, Flags :32, Challenge :32, Name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// The old `'n'` challenge.
    V5 {
        /// B's low 32 flag bits.
        flags: DistFlags,
        /// B's challenge for A.
        challenge: u32,
        /// B's full node name.
        name: String,
    },
    /// The new `'N'` challenge.
    V6 {
        /// B's flags.
        flags: DistFlags,
        /// B's challenge for A.
        challenge: u32,
        /// B's creation.
        creation: u32,
        /// B's full node name.
        name: String,
    },
}

impl Challenge {
    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Challenge::V5 {
                flags,
                challenge,
                name,
            } => {
                let mut out = vec![b'n', 0, 5];
                out.extend_from_slice(&flags.low().to_be_bytes());
                out.extend_from_slice(&challenge.to_be_bytes());
                out.extend_from_slice(name.as_bytes());
                out
            }
            Challenge::V6 {
                flags,
                challenge,
                creation,
                name,
            } => {
                let mut out = vec![b'N'];
                out.extend_from_slice(&flags.0.to_be_bytes());
                out.extend_from_slice(&challenge.to_be_bytes());
                out.extend_from_slice(&creation.to_be_bytes());
                put_name16(&mut out, name);
                out
            }
        }
    }

    /// Decodes a message body.
    pub fn decode(b: &[u8]) -> Result<Challenge, HandshakeError> {
        let mut r = Reader::new(b);
        match expect_tag(&mut r, b"nN", "challenge ('n' or 'N')")? {
            b'n' => {
                let _version = r.u16("Version")?;
                let flags = DistFlags(u64::from(r.u32("Flags")?));
                let challenge = r.u32("Challenge")?;
                Ok(Challenge::V5 {
                    flags,
                    challenge,
                    name: name_string(r.rest())?,
                })
            }
            _ => {
                let flags = DistFlags(r.u64("Flags")?);
                let challenge = r.u32("Challenge")?;
                let creation = r.u32("Creation")?;
                let nlen = r.u16("Nlen")? as usize;
                let name = name_string(r.bytes(nlen, "Name")?)?;
                Ok(Challenge::V6 {
                    flags,
                    challenge,
                    creation,
                    name,
                })
            }
        }
    }
}

/// `send_complement`: `'c', FlagsHigh :32, Creation :32` — "only sent if node
/// A initially sent an old name message. It contains complementary
/// information missing in the initial old name message from node A."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complement {
    /// A's flag bits 32..64.
    pub flags_high: u32,
    /// A's creation.
    pub creation: u32,
}

impl Complement {
    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![b'c'];
        out.extend_from_slice(&self.flags_high.to_be_bytes());
        out.extend_from_slice(&self.creation.to_be_bytes());
        out
    }

    /// Decodes a message body.
    pub fn decode(b: &[u8]) -> Result<Complement, HandshakeError> {
        let mut r = Reader::new(b);
        expect_tag(&mut r, b"c", "complement ('c')")?;
        Ok(Complement {
            flags_high: r.u32("FlagsHigh")?,
            creation: r.u32("Creation")?,
        })
    }
}

/// `send_challenge_reply`: `'r', Challenge :32, Digest :16 bytes` — "Challenge
/// is A's challenge for B to handle. Digest is the MD5 digest that A
/// constructed from the challenge B sent in the previous step."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeReply {
    /// A's challenge for B.
    pub challenge: u32,
    /// `gen_digest(ChB, out_cookie(B))`.
    pub digest: [u8; 16],
}

impl ChallengeReply {
    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![b'r'];
        out.extend_from_slice(&self.challenge.to_be_bytes());
        out.extend_from_slice(&self.digest);
        out
    }

    /// Decodes a message body.
    pub fn decode(b: &[u8]) -> Result<ChallengeReply, HandshakeError> {
        let mut r = Reader::new(b);
        expect_tag(&mut r, b"r", "challenge_reply ('r')")?;
        Ok(ChallengeReply {
            challenge: r.u32("Challenge")?,
            digest: r.array("Digest")?,
        })
    }
}

/// `send_challenge_ack`: `'a', Digest :16 bytes` — "Digest is the digest
/// calculated by B for A's challenge."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeAck {
    /// `gen_digest(ChA, out_cookie(A))`.
    pub digest: [u8; 16],
}

impl ChallengeAck {
    /// Encodes the message body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![b'a'];
        out.extend_from_slice(&self.digest);
        out
    }

    /// Decodes a message body.
    pub fn decode(b: &[u8]) -> Result<ChallengeAck, HandshakeError> {
        let mut r = Reader::new(b);
        expect_tag(&mut r, b"a", "challenge_ack ('a')")?;
        Ok(ChallengeAck {
            digest: r.array("Digest")?,
        })
    }
}

/// Reads one `{packet, 2}` frame.
async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> Result<Vec<u8>, HandshakeError> {
    let len = s.read_u16().await? as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Writes one `{packet, 2}` frame.
async fn write_packet<S: AsyncWrite + Unpin>(s: &mut S, body: &[u8]) -> Result<(), HandshakeError> {
    let len = u16::try_from(body.len()).map_err(|_| {
        HandshakeError::Malformed(format!("handshake message of {} bytes", body.len()))
    })?;
    let mut frame = Vec::with_capacity(body.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    s.write_all(&frame).await?;
    s.flush().await?;
    Ok(())
}

fn check_mandatory(peer: &str, flags: DistFlags) -> Result<(), HandshakeError> {
    let missing = flags.missing_mandatory();
    if missing == DistFlags::EMPTY {
        Ok(())
    } else {
        Err(HandshakeError::MissingFlags {
            peer: peer.to_owned(),
            missing,
        })
    }
}

fn parse_peer_name(name: &str) -> Result<NodeName, HandshakeError> {
    NodeName::parse(name).map_err(|e| HandshakeError::Malformed(e.to_string()))
}

/// Runs the handshake as A, the initiator, over a freshly connected stream.
/// `expected` is the node we meant to reach; a different name is an error.
/// If B answers `alive` (it believes a connection to us is up), we answer
/// `true` — that connection is stale, continue; use [`initiate_with`] to decide.
pub async fn initiate<S>(
    stream: &mut S,
    cfg: &HandshakeConfig,
    expected: Option<NodeName>,
) -> Result<Established, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    initiate_with(stream, cfg, expected, || true).await
}

/// [`initiate`], with `continue_if_alive` answering B's `alive` status:
/// `true` ("the old connection from this node is broken") continues, `false`
/// ("the connection attempt was a mistake") ends the handshake with
/// [`HandshakeError::Refused`]`(Status::Alive)`.
pub async fn initiate_with<S, F>(
    stream: &mut S,
    cfg: &HandshakeConfig,
    expected: Option<NodeName>,
    continue_if_alive: F,
) -> Result<Established, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce() -> bool,
{
    let name = SendName::V6 {
        flags: cfg.flags,
        creation: cfg.creation,
        name: cfg.name.as_str().to_owned(),
    };
    write_packet(stream, &name.encode()).await?;

    match Status::decode(&read_packet(stream).await?)? {
        Status::Ok | Status::OkSimultaneous => {}
        Status::Alive => {
            if continue_if_alive() {
                write_packet(stream, &Status::True.encode()).await?;
            } else {
                write_packet(stream, &Status::False.encode()).await?;
                return Err(HandshakeError::Refused(Status::Alive));
            }
        }
        refused => return Err(HandshakeError::Refused(refused)),
    }

    let (peer_flags, their_challenge, peer_creation, peer_name) =
        match Challenge::decode(&read_packet(stream).await?)? {
            Challenge::V6 {
                flags,
                challenge,
                creation,
                name,
            } => (flags, challenge, creation, name),
            Challenge::V5 {
                flags,
                challenge,
                name,
            } => (flags, challenge, 0, name),
        };
    let peer = parse_peer_name(&peer_name)?;
    check_mandatory(&peer_name, peer_flags)?;
    if let Some(expected) = expected {
        if expected != peer {
            return Err(HandshakeError::WrongPeer {
                expected,
                got: peer,
            });
        }
    }

    let our_challenge: u32 = rand::random();
    let reply = ChallengeReply {
        challenge: our_challenge,
        digest: digest(their_challenge, &cfg.cookie),
    };
    write_packet(stream, &reply.encode()).await?;

    let ack = match read_packet(stream).await {
        Ok(bytes) => ChallengeAck::decode(&bytes)?,
        // B closes without a word when our digest was wrong.
        Err(HandshakeError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(HandshakeError::RefusedPeer {
                peer: peer_name,
                reason: "peer closed the connection after our challenge reply (cookie mismatch?)"
                    .into(),
            })
        }
        Err(e) => return Err(e),
    };
    if !digests_equal(&ack.digest, &digest(our_challenge, &cfg.cookie)) {
        return Err(HandshakeError::BadDigest { peer: peer_name });
    }
    Ok(Established {
        peer,
        peer_flags,
        flags: cfg.flags & peer_flags,
        peer_creation,
    })
}

/// What B knows about A after `recv_name`, for deciding the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// A's node name.
    pub peer: NodeName,
    /// A's flags (low 32 bits only if it sent an old name).
    pub flags: DistFlags,
}

/// Runs the handshake as B, the acceptor. After `recv_name`, `decide` picks
/// the status to send (`Ok`, `OkSimultaneous`, `Nok`, `NotAllowed` or
/// `Alive`) — the node manager's view of simultaneous connects.
pub async fn accept<S, F>(
    stream: &mut S,
    cfg: &HandshakeConfig,
    decide: F,
) -> Result<Established, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Hello) -> Status,
{
    let hello = SendName::decode(&read_packet(stream).await?)?;
    let peer_name = hello.name().to_owned();
    let peer = match NodeName::parse(&peer_name) {
        Ok(p) => p,
        Err(e) => {
            write_packet(stream, &Status::NotAllowed.encode()).await?;
            return Err(HandshakeError::RefusedPeer {
                peer: peer_name,
                reason: e.to_string(),
            });
        }
    };
    if peer.is_long() != cfg.name.is_long() {
        write_packet(stream, &Status::NotAllowed.encode()).await?;
        return Err(HandshakeError::RefusedPeer {
            peer: peer_name,
            reason: "short and long node names cannot be mixed".into(),
        });
    }
    // A version-5 name only carries the low flag bits; the complement brings the rest.
    if let Err(e) = check_mandatory(&peer_name, hello.flags()) {
        write_packet(stream, &Status::NotAllowed.encode()).await?;
        return Err(e);
    }

    let status = decide(&Hello {
        peer,
        flags: hello.flags(),
    });
    write_packet(stream, &status.encode()).await?;
    match status {
        Status::Ok | Status::OkSimultaneous => {}
        Status::Alive => match Status::decode(&read_packet(stream).await?)? {
            Status::True => {}
            answer => return Err(HandshakeError::Refused(answer)),
        },
        other => {
            return Err(HandshakeError::RefusedPeer {
                peer: peer_name,
                reason: format!("answered status {other}"),
            })
        }
    }

    let our_challenge: u32 = rand::random();
    let challenge = Challenge::V6 {
        flags: cfg.flags,
        challenge: our_challenge,
        creation: cfg.creation,
        name: cfg.name.as_str().to_owned(),
    };
    write_packet(stream, &challenge.encode()).await?;

    let (peer_flags, peer_creation) = match hello {
        SendName::V6 {
            flags, creation, ..
        } => (flags, creation),
        SendName::V5 { flags, .. } => {
            let c = Complement::decode(&read_packet(stream).await?)?;
            (
                DistFlags(flags.0 | (u64::from(c.flags_high) << 32)),
                c.creation,
            )
        }
    };

    let reply = ChallengeReply::decode(&read_packet(stream).await?)?;
    if !digests_equal(&reply.digest, &digest(our_challenge, &cfg.cookie)) {
        // OTP closes without a word; the initiator sees the connection drop.
        return Err(HandshakeError::BadDigest { peer: peer_name });
    }
    let ack = ChallengeAck {
        digest: digest(reply.challenge, &cfg.cookie),
    };
    write_packet(stream, &ack.encode()).await?;
    Ok(Established {
        peer,
        peer_flags,
        flags: cfg.flags & peer_flags,
        peer_creation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str, cookie: &str) -> HandshakeConfig {
        HandshakeConfig {
            name: NodeName::parse(name).unwrap(),
            flags: DistFlags::ours(true),
            creation: 7,
            cookie: Cookie::new(cookie),
        }
    }

    #[test]
    fn digest_is_md5_of_cookie_and_decimal_challenge() {
        // erlang:md5("secret" ++ integer_to_list(4294967295)) computed by erl.
        let d = digest(4_294_967_295, &Cookie::new("secret"));
        let expected: [u8; 16] = Md5::digest(b"secret4294967295").into();
        assert_eq!(d, expected);
    }

    #[test]
    fn every_message_round_trips() {
        let name = SendName::V6 {
            flags: DistFlags::ours(true),
            creation: 0xdead_beef,
            name: "a@h".into(),
        };
        assert_eq!(SendName::decode(&name.encode()).unwrap(), name);
        let old = SendName::V5 {
            flags: DistFlags(DistFlags::ours(true).low() as u64),
            name: "a@h".into(),
        };
        assert_eq!(SendName::decode(&old.encode()).unwrap(), old);
        for s in [
            Status::Ok,
            Status::OkSimultaneous,
            Status::Nok,
            Status::NotAllowed,
            Status::Alive,
            Status::True,
            Status::False,
            Status::Named {
                name: "x@h".into(),
                creation: 9,
            },
        ] {
            assert_eq!(Status::decode(&s.encode()).unwrap(), s);
        }
        let ch = Challenge::V6 {
            flags: DistFlags::ours(true),
            challenge: 1,
            creation: 2,
            name: "b@h".into(),
        };
        assert_eq!(Challenge::decode(&ch.encode()).unwrap(), ch);
        let c = Complement {
            flags_high: 3,
            creation: 4,
        };
        assert_eq!(Complement::decode(&c.encode()).unwrap(), c);
        let r = ChallengeReply {
            challenge: 5,
            digest: [6; 16],
        };
        assert_eq!(ChallengeReply::decode(&r.encode()).unwrap(), r);
        let a = ChallengeAck { digest: [7; 16] };
        assert_eq!(ChallengeAck::decode(&a.encode()).unwrap(), a);
    }

    #[test]
    fn new_send_name_ignores_trailing_data() {
        let mut b = SendName::V6 {
            flags: DistFlags::ours(true),
            creation: 1,
            name: "a@h".into(),
        }
        .encode();
        b.extend_from_slice(b"future");
        assert_eq!(SendName::decode(&b).unwrap().name(), "a@h");
    }

    #[test]
    fn truncated_messages_are_errors() {
        let b = Challenge::V6 {
            flags: DistFlags::ours(true),
            challenge: 1,
            creation: 2,
            name: "b@h".into(),
        }
        .encode();
        for cut in 0..b.len() {
            assert!(Challenge::decode(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    #[tokio::test]
    async fn initiator_and_acceptor_agree_with_the_same_cookie() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let (ca, cb) = (cfg("a@h", "c"), cfg("b@h", "c"));
        let expected = NodeName::parse("b@h").ok();
        let (ra, rb) = tokio::join!(
            initiate(&mut a, &ca, expected),
            accept(&mut b, &cb, |_| Status::Ok)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.peer.as_str(), "b@h");
        assert_eq!(rb.peer.as_str(), "a@h");
        assert_eq!(rb.peer_creation, 7);
        assert!(ra
            .flags
            .contains(DistFlags::FRAGMENTS | DistFlags::DIST_HDR_ATOM_CACHE));
    }

    #[tokio::test]
    async fn different_cookies_are_refused_by_the_acceptor() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let (ca, cb) = (cfg("a@h", "one"), cfg("b@h", "two"));
        let (ra, rb) = tokio::join!(
            async {
                let r = initiate(&mut a, &ca, None).await;
                drop(a);
                r
            },
            async {
                let r = accept(&mut b, &cb, |_| Status::Ok).await;
                drop(b);
                r
            }
        );
        assert!(
            matches!(rb, Err(HandshakeError::BadDigest { .. })),
            "{rb:?}"
        );
        assert!(ra.is_err());
    }

    #[tokio::test]
    async fn nok_status_ends_the_initiators_attempt() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let (ca, cb) = (cfg("a@h", "c"), cfg("b@h", "c"));
        let (ra, _rb) = tokio::join!(
            initiate(&mut a, &ca, None),
            accept(&mut b, &cb, |_| Status::Nok)
        );
        assert!(
            matches!(ra, Err(HandshakeError::Refused(Status::Nok))),
            "{ra:?}"
        );
    }

    #[tokio::test]
    async fn acceptor_takes_an_old_name_and_its_complement() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let cb = cfg("b@h", "c");
        let ours = DistFlags::ours(true);
        let peer = async {
            write_packet(
                &mut a,
                &SendName::V5 {
                    flags: DistFlags(ours.low() as u64),
                    name: "old@h".into(),
                }
                .encode(),
            )
            .await?;
            assert_eq!(Status::decode(&read_packet(&mut a).await?)?, Status::Ok);
            let Challenge::V6 { challenge, .. } = Challenge::decode(&read_packet(&mut a).await?)?
            else {
                panic!("expected a version 6 challenge");
            };
            let comp = Complement {
                flags_high: ours.high(),
                creation: 99,
            };
            write_packet(&mut a, &comp.encode()).await?;
            let reply = ChallengeReply {
                challenge: 42,
                digest: digest(challenge, &Cookie::new("c")),
            };
            write_packet(&mut a, &reply.encode()).await?;
            let ack = ChallengeAck::decode(&read_packet(&mut a).await?)?;
            assert_eq!(ack.digest, digest(42, &Cookie::new("c")));
            Ok::<_, HandshakeError>(())
        };
        let (rp, rb) = tokio::join!(peer, accept(&mut b, &cb, |_| Status::Ok));
        rp.unwrap();
        let est = rb.unwrap();
        assert_eq!(est.peer_creation, 99);
        assert_eq!(est.peer_flags, ours);
    }

    #[tokio::test]
    async fn peer_without_mandatory_flags_is_not_allowed() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let cb = cfg("b@h", "c");
        let peer = async {
            let name = SendName::V6 {
                flags: DistFlags::EXTENDED_REFERENCES,
                creation: 1,
                name: "weak@h".into(),
            };
            write_packet(&mut a, &name.encode()).await.unwrap();
            Status::decode(&read_packet(&mut a).await.unwrap()).unwrap()
        };
        let (status, rb) = tokio::join!(peer, accept(&mut b, &cb, |_| Status::Ok));
        assert_eq!(status, Status::NotAllowed);
        assert!(matches!(rb, Err(HandshakeError::MissingFlags { .. })));
    }
}
