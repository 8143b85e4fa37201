//! Packets after the handshake: ticks, the distribution header with its atom
//! cache, fragments, and pass-through.
//!
//! > "Messages passed between nodes have in this case the following format:
//! > `Length:32, DistributionHeader, ControlMessage, Message`" and "the version
//! > number is omitted from the terms that follow a distribution header".
//! > — OTP `erl_dist_protocol`, *Protocol between Connected Nodes*
//!
//! | wire (after the 4-byte length)                         | Rust                          |
//! |--------------------------------------------------------|-------------------------------|
//! | empty packet (a tick)                                  | [`Frame::Tick`]               |
//! | `131, 68, NumberOfAtomCacheRefs, Flags, AtomCacheRefs` | [`Frame::Header`]             |
//! | `131, 69, SequenceId, FragmentId, ...header...`        | [`Frame::FragmentStart`]      |
//! | `131, 70, SequenceId, FragmentId`                      | [`Frame::FragmentCont`]       |
//! | `112, ControlMessage, Message` (terms with 131)        | [`Frame::PassThrough`]        |
//!
//! The atom cache lives per connection and direction: [`IncomingAtomCache`]
//! applies each header's new entries and resolves its references;
//! [`OutgoingAtomCache`] assigns slots so an atom sent once travels as a
//! one-byte reference in later headers. [`Reassembler`] joins fragmented
//! messages (several sequences may interleave), bounded by a maximum message
//! size; [`encode_message`] splits large outgoing ones.
//!
//! ```
//! use dist::framing::{DistHeader, Frame, IncomingAtomCache, OutgoingAtomCache};
//! use etf::Atom;
//! let mut out = OutgoingAtomCache::new();
//! let mut inc = IncomingAtomCache::new();
//! let plan = out.plan([Atom::new("net_kernel")]);
//! assert!(plan.header.refs[0].new_text.is_some()); // first time: the text travels
//! assert_eq!(inc.resolve(&plan.header).unwrap(), vec![Some(Atom::new("net_kernel"))]);
//! let again = out.plan([Atom::new("net_kernel")]);
//! assert!(again.header.refs[0].new_text.is_none()); // then only the slot
//! assert_eq!(inc.resolve(&again.header).unwrap(), vec![Some(Atom::new("net_kernel"))]);
//! ```

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use etf::Atom;

use crate::wire::{Reader, Truncated};

/// `VERSION_MAGIC`: the external term format version byte.
pub const VERSION_MAGIC: u8 = 131;
/// Normal distribution header tag.
pub const DIST_HEADER: u8 = 68;
/// First-fragment distribution header tag.
pub const DIST_FRAG_HEADER: u8 = 69;
/// Continuation-fragment distribution header tag.
pub const DIST_FRAG_CONT: u8 = 70;
/// "Type: Equal to 112 (pass through)".
pub const PASS_THROUGH: u8 = 112;

/// "An atom cache consists of 8 segments, each of size 256, that is, an atom
/// cache can contain 2048 entries."
pub const ATOM_CACHE_SIZE: usize = 2048;

/// "at most 255 different atom cache references from the following terms can be made."
pub const MAX_REFS_PER_MESSAGE: usize = 255;

/// What makes a packet unacceptable. Any of these closes the one connection it arrived on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The packet ended early.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// The first bytes are no known packet kind.
    #[error("unknown packet kind {0:?}")]
    UnknownKind(Vec<u8>),
    /// A new atom in the header is not valid UTF-8 or too long.
    #[error("invalid atom text in distribution header")]
    BadAtom,
    /// A cached reference points at a slot never filled.
    #[error("atom cache reference to empty slot {0}")]
    EmptyCacheSlot(u16),
    /// A fragment arrived for an unknown sequence or out of order.
    #[error("fragment {fragment_id} of sequence {sequence_id:#x} out of order")]
    FragmentOutOfOrder {
        /// The sequence.
        sequence_id: u64,
        /// The fragment id received.
        fragment_id: u64,
    },
    /// A message grew past the configured maximum.
    #[error("message of {size} bytes exceeds the maximum of {max}")]
    MessageTooLarge {
        /// Bytes so far.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Too many fragmented messages in flight at once.
    #[error("more than {0} fragmented messages in flight")]
    TooManySequences(usize),
}

/// One atom cache reference of a distribution header.
///
/// > "If the NewCacheEntryFlag for the next AtomCacheRef has been set, a
/// > NewAtomCacheRef on the following format follows: `InternalSegmentIndex,
/// > Length (1 | 2), AtomText`" — otherwise a `CachedAtomRef`: `InternalSegmentIndex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRef {
    /// The cache slot: `SegmentIndex * 256 + InternalSegmentIndex` (`0..2048`).
    pub slot: u16,
    /// The atom's text when this is a new entry (`NewCacheEntryFlag` set).
    pub new_text: Option<String>,
}

/// The atom-cache part of a distribution header (normal or first fragment).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DistHeader {
    /// References, in `AtomCacheReferenceIndex` order.
    pub refs: Vec<CacheRef>,
}

impl DistHeader {
    /// Decodes `NumberOfAtomCacheRefs, Flags, AtomCacheRefs` from `r`.
    fn decode_from(r: &mut Reader<'_>) -> Result<DistHeader, FramingError> {
        let n = r.u8("NumberOfAtomCacheRefs")? as usize;
        if n == 0 {
            return Ok(DistHeader::default());
        }
        // "Flags consist of NumberOfAtomCacheRefs/2+1 bytes": one half byte per
        // reference, even indices in the low half, then the LongAtoms half byte.
        let flags = r.bytes(n / 2 + 1, "Flags")?;
        let nibble = |i: usize| -> u8 {
            let byte = flags.get(i / 2).copied().unwrap_or(0);
            if i % 2 == 0 {
                byte & 0x0f
            } else {
                byte >> 4
            }
        };
        let long_atoms = nibble(n) & 0x1 != 0;
        let mut refs = Vec::with_capacity(n);
        for i in 0..n {
            let f = nibble(i);
            let segment = u16::from(f & 0x7);
            let internal = u16::from(r.u8("InternalSegmentIndex")?);
            let slot = segment * 256 + internal;
            let new_text = if f & 0x8 != 0 {
                let len = if long_atoms {
                    r.u16("atom Length")? as usize
                } else {
                    r.u8("atom Length")? as usize
                };
                let text = r.bytes(len, "AtomText")?;
                Some(String::from_utf8(text.to_vec()).map_err(|_| FramingError::BadAtom)?)
            } else {
                None
            };
            refs.push(CacheRef { slot, new_text });
        }
        Ok(DistHeader { refs })
    }

    /// Appends `NumberOfAtomCacheRefs, Flags, AtomCacheRefs`. At most
    /// [`MAX_REFS_PER_MESSAGE`] references are written (callers plan no more).
    fn encode_into(&self, out: &mut Vec<u8>) {
        let refs = &self.refs[..self.refs.len().min(MAX_REFS_PER_MESSAGE)];
        let n = refs.len();
        out.push(n as u8);
        if n == 0 {
            return;
        }
        let long_atoms = refs
            .iter()
            .any(|r| r.new_text.as_ref().is_some_and(|t| t.len() > 255));
        let mut flags = vec![0u8; n / 2 + 1];
        let mut set = |i: usize, v: u8| {
            if i % 2 == 0 {
                flags[i / 2] |= v & 0x0f;
            } else {
                flags[i / 2] |= (v & 0x0f) << 4;
            }
        };
        for (i, r) in refs.iter().enumerate() {
            let seg = ((r.slot >> 8) & 0x7) as u8;
            set(i, seg | if r.new_text.is_some() { 0x8 } else { 0 });
        }
        set(n, u8::from(long_atoms));
        out.extend_from_slice(&flags);
        for r in refs {
            out.push((r.slot & 0xff) as u8);
            if let Some(text) = &r.new_text {
                if long_atoms {
                    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
                } else {
                    out.push(text.len() as u8);
                }
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
}

/// One packet, its 4-byte length removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A zero-length packet: "tick", keeping the connection alive.
    Tick,
    /// `131, 68`: a whole message after a normal distribution header.
    /// `body` holds the control message and optional payload, without version bytes.
    Header {
        /// The atom cache references.
        header: DistHeader,
        /// Control message and payload.
        body: Bytes,
    },
    /// `131, 69`: "The start of a sequence of fragmented messages".
    FragmentStart {
        /// "used to uniquely identify a fragmented message sent from one process to another".
        sequence_id: u64,
        /// "starts at the total number of fragments and then decrements to 1".
        fragment_id: u64,
        /// The atom cache references, "the same for the entire sequence".
        header: DistHeader,
        /// The first part of control message and payload.
        body: Bytes,
    },
    /// `131, 70`: "The continuation of a sequence of fragmented messages".
    FragmentCont {
        /// The sequence this continues.
        sequence_id: u64,
        /// This fragment's number (counting down to 1).
        fragment_id: u64,
        /// The next part of the payload.
        body: Bytes,
    },
    /// `112`: pass-through, for peers without `DIST_HDR_ATOM_CACHE`:
    /// control message and payload each with their own version byte.
    PassThrough(Bytes),
}

impl Frame {
    /// Decodes one packet (without its length prefix).
    pub fn decode(packet: Bytes) -> Result<Frame, FramingError> {
        let mut r = Reader::new(&packet);
        if r.is_empty() {
            return Ok(Frame::Tick);
        }
        let kind = r.u8("packet kind")?;
        if kind == PASS_THROUGH {
            return Ok(Frame::PassThrough(packet.slice(1..)));
        }
        if kind != VERSION_MAGIC {
            return Err(FramingError::UnknownKind(
                packet.iter().take(2).copied().collect(),
            ));
        }
        let frame = match r.u8("distribution header tag")? {
            DIST_HEADER => {
                let header = DistHeader::decode_from(&mut r)?;
                let used = packet.len() - r.rest().len();
                Frame::Header {
                    header,
                    body: packet.slice(used..),
                }
            }
            DIST_FRAG_HEADER => {
                let sequence_id = r.u64("SequenceId")?;
                let fragment_id = r.u64("FragmentId")?;
                let header = DistHeader::decode_from(&mut r)?;
                let used = packet.len() - r.rest().len();
                Frame::FragmentStart {
                    sequence_id,
                    fragment_id,
                    header,
                    body: packet.slice(used..),
                }
            }
            DIST_FRAG_CONT => {
                let sequence_id = r.u64("SequenceId")?;
                let fragment_id = r.u64("FragmentId")?;
                Frame::FragmentCont {
                    sequence_id,
                    fragment_id,
                    body: packet.slice(18..),
                }
            }
            other => return Err(FramingError::UnknownKind(vec![VERSION_MAGIC, other])),
        };
        Ok(frame)
    }

    /// Encodes the packet (without its length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = Vec::with_capacity(body.len() + 32);
        self.encode_head(&mut out);
        out.extend_from_slice(body);
        out
    }

    /// Appends everything before the body: tag bytes, ids and atom cache
    /// header. `encode_head` then [`Frame::body`] is the whole packet, so a
    /// writer can send a large body without copying it.
    pub fn encode_head(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Tick => {}
            Frame::Header { header, .. } => {
                out.extend_from_slice(&[VERSION_MAGIC, DIST_HEADER]);
                header.encode_into(out);
            }
            Frame::FragmentStart {
                sequence_id,
                fragment_id,
                header,
                ..
            } => {
                out.extend_from_slice(&[VERSION_MAGIC, DIST_FRAG_HEADER]);
                out.extend_from_slice(&sequence_id.to_be_bytes());
                out.extend_from_slice(&fragment_id.to_be_bytes());
                header.encode_into(out);
            }
            Frame::FragmentCont {
                sequence_id,
                fragment_id,
                ..
            } => {
                out.extend_from_slice(&[VERSION_MAGIC, DIST_FRAG_CONT]);
                out.extend_from_slice(&sequence_id.to_be_bytes());
                out.extend_from_slice(&fragment_id.to_be_bytes());
            }
            Frame::PassThrough(_) => out.push(PASS_THROUGH),
        }
    }

    /// The bytes after the head: control message and payload, or a part of them.
    pub fn body(&self) -> &[u8] {
        match self {
            Frame::Tick => &[],
            Frame::Header { body, .. }
            | Frame::FragmentStart { body, .. }
            | Frame::FragmentCont { body, .. }
            | Frame::PassThrough(body) => body,
        }
    }
}

/// The receiving side's atom cache for one connection.
#[derive(Debug, Clone)]
pub struct IncomingAtomCache {
    slots: Vec<Option<Atom>>,
}

impl Default for IncomingAtomCache {
    fn default() -> Self {
        IncomingAtomCache::new()
    }
}

impl IncomingAtomCache {
    /// An empty cache.
    pub fn new() -> IncomingAtomCache {
        IncomingAtomCache {
            slots: vec![None; ATOM_CACHE_SIZE],
        }
    }

    /// Applies the header's new entries and returns the atom behind each
    /// reference index, the table `ATOM_CACHE_REF` (82) indexes.
    pub fn resolve(&mut self, header: &DistHeader) -> Result<Vec<Option<Atom>>, FramingError> {
        header
            .refs
            .iter()
            .map(|r| {
                let slot = self
                    .slots
                    .get_mut(r.slot as usize)
                    .ok_or(FramingError::EmptyCacheSlot(r.slot))?;
                if let Some(text) = &r.new_text {
                    *slot = Some(Atom::try_new(text).map_err(|_| FramingError::BadAtom)?);
                }
                match slot {
                    Some(a) => Ok(Some(*a)),
                    None => Err(FramingError::EmptyCacheSlot(r.slot)),
                }
            })
            .collect()
    }
}

/// The sending side's atom cache for one connection: what the peer's
/// [`IncomingAtomCache`] holds, as far as our headers told it.
#[derive(Debug, Clone)]
pub struct OutgoingAtomCache {
    slots: Vec<Option<Atom>>,
}

impl Default for OutgoingAtomCache {
    fn default() -> Self {
        OutgoingAtomCache::new()
    }
}

/// A header for one message plus the reference index of each cached atom.
#[derive(Debug, Clone, Default)]
pub struct AtomPlan {
    /// The header to send.
    pub header: DistHeader,
    /// `ATOM_CACHE_REF` index for each atom in the header; atoms not here
    /// are written inline.
    pub index: HashMap<Atom, u8>,
}

impl OutgoingAtomCache {
    /// An empty cache.
    pub fn new() -> OutgoingAtomCache {
        OutgoingAtomCache {
            slots: vec![None; ATOM_CACHE_SIZE],
        }
    }

    /// Plans the header for a message using `atoms` (duplicates allowed):
    /// atoms already in the peer's cache become one-byte references, others
    /// new entries. Beyond [`MAX_REFS_PER_MESSAGE`] atoms, or when two atoms of
    /// one message want the same slot, the extra atoms are left out (written inline).
    pub fn plan(&mut self, atoms: impl IntoIterator<Item = Atom>) -> AtomPlan {
        let mut plan = AtomPlan::default();
        // A control message names a handful of atoms: a list beats hashing.
        let mut used_slots: Vec<(u16, Atom)> = Vec::new();
        for atom in atoms {
            if plan.index.contains_key(&atom) || plan.header.refs.len() >= MAX_REFS_PER_MESSAGE {
                continue;
            }
            let slot = slot_of(atom);
            if used_slots.iter().any(|&(s, a)| s == slot && a != atom) {
                continue;
            }
            used_slots.push((slot, atom));
            let cell = &mut self.slots[slot as usize];
            let new_text = if *cell == Some(atom) {
                None
            } else {
                *cell = Some(atom);
                Some(atom.as_str().to_owned())
            };
            plan.index.insert(atom, plan.header.refs.len() as u8);
            plan.header.refs.push(CacheRef { slot, new_text });
        }
        plan
    }
}

/// The slot an atom lives in: a hash of its name (FNV-1a), as stable as the name.
fn slot_of(atom: Atom) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in atom.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % ATOM_CACHE_SIZE as u32) as u16
}

/// A complete incoming message: the atom table of its header and the bytes
/// of its control message and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistMessage {
    /// The atom behind each `ATOM_CACHE_REF` index (empty for pass-through).
    pub atoms: Vec<Option<Atom>>,
    /// Control message then optional payload.
    pub body: Bytes,
    /// `true` for pass-through: each term starts with its own version byte 131.
    pub versioned: bool,
}

struct Partial {
    atoms: Vec<Option<Atom>>,
    next_fragment: u64,
    buf: BytesMut,
}

/// Joins fragmented messages; several sequences may be in flight at once
/// ("the same process can be in the process of receiving multiple sequences
/// at the same time").
pub struct Reassembler {
    max_message_size: usize,
    max_sequences: usize,
    cache: IncomingAtomCache,
    partial: HashMap<u64, Partial>,
}

impl Reassembler {
    /// A reassembler refusing messages over `max_message_size` bytes and more
    /// than `max_sequences` fragmented messages in flight.
    pub fn new(max_message_size: usize, max_sequences: usize) -> Reassembler {
        Reassembler {
            max_message_size,
            max_sequences,
            cache: IncomingAtomCache::new(),
            partial: HashMap::new(),
        }
    }

    fn check_size(&self, size: usize) -> Result<(), FramingError> {
        if size > self.max_message_size {
            Err(FramingError::MessageTooLarge {
                size,
                max: self.max_message_size,
            })
        } else {
            Ok(())
        }
    }

    /// Feeds one frame; returns the message it completes, if any (`None` for
    /// ticks and fragments that are not the last).
    pub fn push(&mut self, frame: Frame) -> Result<Option<DistMessage>, FramingError> {
        match frame {
            Frame::Tick => Ok(None),
            Frame::PassThrough(body) => {
                self.check_size(body.len())?;
                Ok(Some(DistMessage {
                    atoms: Vec::new(),
                    body,
                    versioned: true,
                }))
            }
            Frame::Header { header, body } => {
                self.check_size(body.len())?;
                let atoms = self.cache.resolve(&header)?;
                Ok(Some(DistMessage {
                    atoms,
                    body,
                    versioned: false,
                }))
            }
            Frame::FragmentStart {
                sequence_id,
                fragment_id,
                header,
                body,
            } => {
                self.check_size(body.len())?;
                // The cache update takes effect now, in packet order, as the BEAM applies it.
                let atoms = self.cache.resolve(&header)?;
                if fragment_id <= 1 {
                    return Ok(Some(DistMessage {
                        atoms,
                        body,
                        versioned: false,
                    }));
                }
                if self.partial.contains_key(&sequence_id) {
                    return Err(FramingError::FragmentOutOfOrder {
                        sequence_id,
                        fragment_id,
                    });
                }
                if self.partial.len() >= self.max_sequences {
                    return Err(FramingError::TooManySequences(self.max_sequences));
                }
                // Every fragment but the last is as long as the first: size for all of them.
                let expected = usize::try_from(fragment_id)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(body.len().max(1));
                let mut buf = BytesMut::with_capacity(expected.min(self.max_message_size));
                buf.extend_from_slice(&body);
                self.partial.insert(
                    sequence_id,
                    Partial {
                        atoms,
                        next_fragment: fragment_id - 1,
                        buf,
                    },
                );
                Ok(None)
            }
            Frame::FragmentCont {
                sequence_id,
                fragment_id,
                body,
            } => {
                let out_of_order = FramingError::FragmentOutOfOrder {
                    sequence_id,
                    fragment_id,
                };
                let p = self
                    .partial
                    .get_mut(&sequence_id)
                    .ok_or(out_of_order.clone())?;
                if p.next_fragment != fragment_id {
                    return Err(out_of_order);
                }
                let size = p.buf.len() + body.len();
                if size > self.max_message_size {
                    self.partial.remove(&sequence_id);
                    return Err(FramingError::MessageTooLarge {
                        size,
                        max: self.max_message_size,
                    });
                }
                p.buf.extend_from_slice(&body);
                p.next_fragment -= 1;
                if fragment_id > 1 {
                    return Ok(None);
                }
                let done = self.partial.remove(&sequence_id).ok_or(out_of_order)?;
                Ok(Some(DistMessage {
                    atoms: done.atoms,
                    body: done.buf.freeze(),
                    versioned: false,
                }))
            }
        }
    }

    /// Fragmented messages currently being joined.
    pub fn in_flight(&self) -> usize {
        self.partial.len()
    }
}

/// Frames one outgoing message: `control` (which must travel whole in the
/// first frame) and `payload`, after `header`. Messages longer than
/// `fragment_size` are split into a `131, 69` frame and `131, 70`
/// continuations ("It is only the message part of each distributed message
/// that may be split").
pub fn encode_message(
    header: &DistHeader,
    control: &[u8],
    payload: Bytes,
    sequence_id: u64,
    fragment_size: Option<usize>,
) -> Vec<Frame> {
    let total = control.len() + payload.len();
    let Some(size) = fragment_size.filter(|&s| total > s) else {
        let mut body = Vec::with_capacity(total);
        body.extend_from_slice(control);
        body.extend_from_slice(&payload);
        return vec![Frame::Header {
            header: header.clone(),
            body: body.into(),
        }];
    };
    let size = size.max(1);
    let first_payload = size.saturating_sub(control.len()).min(payload.len());
    let count = 1 + (payload.len() - first_payload).div_ceil(size) as u64;
    let mut first = Vec::with_capacity(control.len() + first_payload);
    first.extend_from_slice(control);
    first.extend_from_slice(&payload[..first_payload]);
    let mut frames = vec![Frame::FragmentStart {
        sequence_id,
        fragment_id: count,
        header: header.clone(),
        body: first.into(),
    }];
    // Continuations share the payload's buffer.
    let mut start = first_payload;
    let mut id = count;
    while start < payload.len() {
        let end = start.saturating_add(size).min(payload.len());
        id -= 1;
        frames.push(Frame::FragmentCont {
            sequence_id,
            fragment_id: id,
            body: payload.slice(start..end),
        });
        start = end;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_header_decodes() {
        // From erl_ext_dist's fragment example: 5 refs, 2 cached, 3 new.
        let mut pkt = vec![131, 69, 0, 0, 2, 168, 0, 0, 5, 83, 0, 0, 0, 0, 0, 0, 0, 2];
        pkt.extend_from_slice(&[5, 4, 137, 9, 10, 5, 236, 3]);
        pkt.extend_from_slice(b"reg");
        pkt.extend_from_slice(&[9, 4]);
        pkt.extend_from_slice(b"call");
        pkt.extend_from_slice(&[238, 13]);
        pkt.extend_from_slice(b"set_get_state");
        pkt.extend_from_slice(&[104, 4]);
        let Frame::FragmentStart {
            sequence_id,
            fragment_id,
            header,
            body,
        } = Frame::decode(Bytes::from(pkt.clone())).unwrap()
        else {
            panic!("expected a first fragment");
        };
        assert_eq!((sequence_id, fragment_id), (0x0000_02a8_0000_0553, 2));
        let slots: Vec<u16> = header.refs.iter().map(|r| r.slot).collect();
        assert_eq!(slots, [4 * 256 + 10, 5, 256 + 236, 9, 256 + 238]);
        let texts: Vec<Option<&str>> = header.refs.iter().map(|r| r.new_text.as_deref()).collect();
        assert_eq!(
            texts,
            [None, None, Some("reg"), Some("call"), Some("set_get_state")]
        );
        assert_eq!(&body[..], &[104, 4]);
        // And it encodes back to the same bytes.
        let again = Frame::FragmentStart {
            sequence_id,
            fragment_id,
            header,
            body,
        };
        assert_eq!(again.encode(), pkt);
    }

    #[test]
    fn empty_packet_is_a_tick() {
        assert_eq!(Frame::decode(Bytes::new()).unwrap(), Frame::Tick);
        assert!(Frame::Tick.encode().is_empty());
    }

    #[test]
    fn unknown_packet_kinds_are_errors() {
        assert!(matches!(
            Frame::decode(Bytes::from_static(&[1, 2, 3])),
            Err(FramingError::UnknownKind(_))
        ));
        assert!(Frame::decode(Bytes::from_static(&[131, 99])).is_err());
    }

    #[test]
    fn truncated_headers_are_errors_at_every_cut() {
        let mut out = OutgoingAtomCache::new();
        let plan = out.plan([Atom::new("alpha"), Atom::new("beta"), Atom::new("gamma")]);
        let pkt = Frame::Header {
            header: plan.header,
            body: Bytes::new(),
        }
        .encode();
        for cut in 1..pkt.len() {
            assert!(
                Frame::decode(Bytes::copy_from_slice(&pkt[..cut])).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn reference_to_an_empty_slot_is_an_error() {
        let header = DistHeader {
            refs: vec![CacheRef {
                slot: 77,
                new_text: None,
            }],
        };
        assert_eq!(
            IncomingAtomCache::new().resolve(&header),
            Err(FramingError::EmptyCacheSlot(77))
        );
    }

    #[test]
    fn long_atoms_use_two_byte_lengths() {
        let long = "é".repeat(200); // 400 bytes of UTF-8
        let header = DistHeader {
            refs: vec![
                CacheRef {
                    slot: 3,
                    new_text: Some(long.clone()),
                },
                CacheRef {
                    slot: 2047,
                    new_text: Some("x".into()),
                },
            ],
        };
        let pkt = Frame::Header {
            header: header.clone(),
            body: Bytes::new(),
        }
        .encode();
        let Frame::Header { header: back, .. } = Frame::decode(Bytes::from(pkt)).unwrap() else {
            panic!()
        };
        assert_eq!(back, header);
    }

    #[test]
    fn outgoing_cache_reuses_entries_across_messages() {
        let mut out = OutgoingAtomCache::new();
        let mut inc = IncomingAtomCache::new();
        let (a, b) = (Atom::new("a_atom"), Atom::new("b_atom"));
        let p1 = out.plan([a, b, a]);
        assert_eq!(p1.header.refs.len(), 2);
        assert!(p1.header.refs.iter().all(|r| r.new_text.is_some()));
        inc.resolve(&p1.header).unwrap();
        let p2 = out.plan([b]);
        assert_eq!(p2.header.refs[0].new_text, None);
        assert_eq!(p2.index[&b], 0);
        assert_eq!(inc.resolve(&p2.header).unwrap(), vec![Some(b)]);
    }

    #[test]
    fn at_most_255_refs_per_message() {
        let mut out = OutgoingAtomCache::new();
        let atoms: Vec<Atom> = (0..400).map(|i| Atom::new(&format!("many_{i}"))).collect();
        let plan = out.plan(atoms);
        assert!(plan.header.refs.len() <= MAX_REFS_PER_MESSAGE);
        assert_eq!(plan.index.len(), plan.header.refs.len());
    }

    fn reassemble(frames: Vec<Frame>, r: &mut Reassembler) -> Vec<DistMessage> {
        let mut done = Vec::new();
        for f in frames {
            let bytes = Bytes::from(f.encode());
            if let Some(m) = r.push(Frame::decode(bytes).unwrap()).unwrap() {
                done.push(m);
            }
        }
        done
    }

    #[test]
    fn fragmented_message_reassembles_exactly() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let frames = encode_message(
            &DistHeader::default(),
            b"CTRL",
            payload.clone().into(),
            42,
            Some(1000),
        );
        assert!(frames.len() > 90);
        assert!(
            matches!(frames[0], Frame::FragmentStart { fragment_id, .. } if fragment_id == frames.len() as u64)
        );
        let mut r = Reassembler::new(1 << 20, 8);
        let done = reassemble(frames, &mut r);
        assert_eq!(done.len(), 1);
        assert_eq!(&done[0].body[..4], b"CTRL");
        assert_eq!(&done[0].body[4..], &payload[..]);
        assert_eq!(r.in_flight(), 0);
    }

    #[test]
    fn interleaved_sequences_reassemble_separately() {
        let a = encode_message(
            &DistHeader::default(),
            b"A",
            Bytes::from(vec![1; 50]),
            1,
            Some(10),
        );
        let b = encode_message(
            &DistHeader::default(),
            b"B",
            Bytes::from(vec![2; 30]),
            2,
            Some(10),
        );
        let mut mixed = Vec::new();
        let (mut ia, mut ib) = (a.into_iter(), b.into_iter());
        loop {
            let (x, y) = (ia.next(), ib.next());
            if x.is_none() && y.is_none() {
                break;
            }
            mixed.extend(x);
            mixed.extend(y);
        }
        let mut r = Reassembler::new(1 << 20, 8);
        let done = reassemble(mixed, &mut r);
        assert_eq!(done.len(), 2);
        let b_msg = done.iter().find(|m| m.body[0] == b'B').unwrap();
        assert_eq!(&b_msg.body[1..], &[2; 30]);
        let a_msg = done.iter().find(|m| m.body[0] == b'A').unwrap();
        assert_eq!(&a_msg.body[1..], &[1; 50]);
    }

    #[test]
    fn oversized_fragmented_message_is_refused() {
        let frames = encode_message(
            &DistHeader::default(),
            b"C",
            Bytes::from(vec![0; 5000]),
            9,
            Some(1000),
        );
        let mut r = Reassembler::new(2000, 8);
        let mut err = None;
        for f in frames {
            if let Err(e) = r.push(f) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(
            err,
            Some(FramingError::MessageTooLarge { max: 2000, .. })
        ));
    }

    #[test]
    fn continuation_without_start_is_out_of_order() {
        let mut r = Reassembler::new(1000, 8);
        let e = r.push(Frame::FragmentCont {
            sequence_id: 5,
            fragment_id: 1,
            body: Bytes::new(),
        });
        assert!(matches!(e, Err(FramingError::FragmentOutOfOrder { .. })));
    }

    #[test]
    fn too_many_sequences_in_flight_is_refused() {
        let mut r = Reassembler::new(1000, 2);
        for seq in 0..2 {
            let start = Frame::FragmentStart {
                sequence_id: seq,
                fragment_id: 3,
                header: DistHeader::default(),
                body: Bytes::from_static(b"x"),
            };
            assert_eq!(r.push(start).unwrap(), None);
        }
        let third = Frame::FragmentStart {
            sequence_id: 7,
            fragment_id: 3,
            header: DistHeader::default(),
            body: Bytes::from_static(b"x"),
        };
        assert_eq!(r.push(third), Err(FramingError::TooManySequences(2)));
    }
}
