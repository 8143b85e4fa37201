//! The term walk that fills a [`crate::tape::Tape`]: the same walk as
//! [`Decoder::walk`], check for check and in the same order (so that every
//! input gives the same term, or the same error at the same byte), but
//! each value is one 16-byte node appended to one `Vec`, never an
//! allocation of its own.

use super::scalars::AtomHead;
use super::{Decoder, Tail, R, RESERVE_FROM};
use crate::atom::{AtomError, MAX_ATOM_CHARS};
use crate::error::{DecodeError, DecodeErrorKind as Kind};
use crate::tag::*;
use crate::tape::node::{atom_text, kind, Node, IMPROPER};

/// An atom as the tape holds it: how its text is held ([`atom_text`]),
/// its length (or table index when interned), and its text's offset.
#[derive(Clone, Copy)]
struct AtomSpan {
    text: u8,
    len_or_index: u32,
    offset: usize,
}

/// No node: a zero-element list whose improper tail stands in its place.
const PHANTOM: usize = usize::MAX;

/// A container whose children are still being decoded: its node's index
/// (or [`PHANTOM`]). Until it closes, the node's `b` counts the children
/// still to come (keys and values both, for a map), its `a` the children
/// so far (a list's grows with `LIST_EXT`/`STRING_EXT` tails), and a
/// list's `flag` is [`IMPROPER`] once only its tail is to come.
pub(crate) type Frame = usize;

/// The buffers a tape decode fills; all reused from one decode to the next.
pub(crate) struct Buffers<'t> {
    pub(crate) nodes: &'t mut Vec<Node>,
    pub(crate) frames: &'t mut Vec<Frame>,
    /// The open maps' tag offsets, innermost last (for a duplicate key error).
    pub(crate) map_at: &'t mut Vec<usize>,
    pub(crate) keys: &'t mut Vec<(u64, usize, usize)>,
    pub(crate) inflated: &'t mut Vec<u8>,
}

/// Decodes the term at the start of `input` into `out.nodes` as `opts`
/// say. Returns the bytes used and whether the term was compressed (its
/// nodes then point into `out.inflated`).
pub(crate) fn fill(
    input: &[u8],
    opts: &super::DecodeOptions,
    out: Buffers,
) -> Result<(usize, bool), DecodeError> {
    out.nodes.clear();
    out.frames.clear();
    out.map_at.clear();
    let mut d = Decoder::new(input, None, opts);
    let r = d.tape_top(out);
    r.map_err(|super::Fail| {
        d.error
            .take()
            .unwrap_or(DecodeError::new(d.pos, Kind::UnexpectedEof))
    })
}

impl Decoder<'_, '_> {
    fn tape_top(&mut self, out: Buffers) -> R<(usize, bool)> {
        if self.version_byte {
            let v = self.u8()?;
            if v != VERSION {
                return Err(self.fail(0, Kind::BadVersion(v)));
            }
            if self.buf.get(self.pos) == Some(&COMPRESSED) {
                return self.tape_compressed(out);
            }
        }
        self.tape_walk(out.nodes, out.frames, out.map_at, out.keys)?;
        Ok((self.pos, false))
    }

    /// `80, UncompressedSize:32, ZlibData`, inflated into `out.inflated`
    /// with the same bound as the tree decoder's.
    fn tape_compressed(&mut self, out: Buffers) -> R<(usize, bool)> {
        let (body, used) = self.inflate_compressed()?;
        *out.inflated = body;
        let mut inner = Decoder {
            buf: out.inflated.as_slice(),
            pos: 0,
            owner: None,
            atom_cache: self.atom_cache,
            max_depth: self.max_depth,
            version_byte: false,
            funs: self.funs,
            error: std::cell::Cell::new(None),
        };
        inner
            .tape_walk(out.nodes, out.frames, out.map_at, out.keys)
            .inspect_err(|_| self.error.set(inner.error.take()))?;
        if inner.pos != inner.buf.len() {
            let len = inner.buf.len();
            return Err(self.fail(inner.pos, Kind::TrailingBytes(len - inner.pos)));
        }
        Ok((self.pos + used, true))
    }

    /// The walk: as [`Decoder::walk`], appending nodes instead of values.
    ///
    /// The read position is the local `pos`, not `self.pos`, so that it
    /// stays in a register through the loop (kept in `self`, every read was
    /// a store and a reload: most of a deeply nested list's cost). It is
    /// written back to `self.pos` before each call of a `self` reader (the
    /// rarer tags), read back after it, and written back on return and at
    /// an end-of-input error (which `self.eof` reports at `self.pos`).
    fn tape_walk(
        &mut self,
        nodes: &mut Vec<Node>,
        frames: &mut Vec<Frame>,
        map_at: &mut Vec<usize>,
        keys: &mut Vec<(u64, usize, usize)>,
    ) -> R<()> {
        let buf = self.buf;
        let max_depth = self.max_depth;
        let mut pos = self.pos;
        // The reads of `Decoder`'s primitives, on `pos`: the same checks,
        // failing at the same byte.
        macro_rules! eof {
            () => {{
                self.pos = pos;
                return Err(self.eof());
            }};
        }
        macro_rules! read_u8 {
            () => {
                match buf.get(pos) {
                    Some(&b) => {
                        pos += 1;
                        b
                    }
                    None => eof!(),
                }
            };
        }
        macro_rules! read_u16 {
            () => {
                match buf.get(pos..pos + 2) {
                    Some(&[a, b]) => {
                        pos += 2;
                        u16::from_be_bytes([a, b])
                    }
                    _ => eof!(),
                }
            };
        }
        macro_rules! read_u32 {
            () => {
                match buf.get(pos..pos + 4) {
                    Some(&[a, b, c, d]) => {
                        pos += 4;
                        u32::from_be_bytes([a, b, c, d])
                    }
                    _ => eof!(),
                }
            };
        }
        macro_rules! take {
            ($n:expr) => {
                match buf.get(pos..pos.saturating_add($n)) {
                    Some(s) => {
                        pos += $n;
                        s
                    }
                    None => eof!(),
                }
            };
        }
        // As `Decoder::claim`.
        macro_rules! claim {
            ($len_at:expr, $what:expr, $n:expr, $min_bytes:expr, $extra:expr) => {
                let room = buf.len().saturating_sub(pos).saturating_sub($extra) / $min_bytes;
                if $n as usize > room {
                    return Err(self.fail(
                        $len_at,
                        Kind::Oversized {
                            what: $what,
                            len: $n as u64,
                        },
                    ));
                }
            };
        }
        // A `self` reader, with `self.pos` synced around it.
        macro_rules! via_self {
            ($read:expr) => {{
                self.pos = pos;
                let value = $read;
                pos = self.pos;
                value
            }};
        }
        // As `Decoder::open`.
        macro_rules! open {
            ($frame:expr, $at:expr) => {
                if frames.len() >= max_depth {
                    return Err(self.fail($at, Kind::TooDeep(max_depth)));
                }
                push_direct!(frames, $frame);
            };
        }
        'next: loop {
            let at = pos;
            let tag = read_u8!();
            let mut pushed = true;
            match tag {
                SMALL_INTEGER_EXT => {
                    let i = read_u8!() as i64;
                    push_direct!(nodes, Node::int(i));
                }
                INTEGER_EXT => {
                    let i = read_u32!() as i32 as i64;
                    push_direct!(nodes, Node::int(i));
                }
                ATOM_EXT | SMALL_ATOM_EXT | ATOM_UTF8_EXT | SMALL_ATOM_UTF8_EXT
                | ATOM_CACHE_REF => {
                    // An ASCII name (nearly every atom) is read here; any
                    // other is read again, from its length, by
                    // `tape_atom_body`, which makes the same checks.
                    let len = match tag {
                        SMALL_ATOM_UTF8_EXT | SMALL_ATOM_EXT => read_u8!() as usize,
                        ATOM_UTF8_EXT | ATOM_EXT => read_u16!() as usize,
                        _ => usize::MAX,
                    };
                    let offset = pos;
                    let ascii = len <= MAX_ATOM_CHARS
                        && buf.get(pos..pos + len).is_some_and(|raw| raw.is_ascii());
                    let a = if ascii {
                        pos += len;
                        AtomSpan {
                            text: atom_text::UTF8,
                            len_or_index: len as u32,
                            offset,
                        }
                    } else {
                        pos = at + 1;
                        via_self!(self.tape_atom_body(tag, at)?)
                    };
                    push_direct!(
                        nodes,
                        Node {
                            kind: kind::ATOM,
                            flag: a.text,
                            small: 0,
                            a: a.len_or_index,
                            b: a.offset as u64,
                        }
                    );
                }
                NIL_EXT => push_direct!(nodes, Node::NIL),
                SMALL_TUPLE_EXT | LARGE_TUPLE_EXT => {
                    let len_at = pos;
                    let n = if tag == SMALL_TUPLE_EXT {
                        read_u8!() as u32
                    } else {
                        read_u32!()
                    };
                    if n == 0 {
                        push_direct!(nodes, Node::container(kind::TUPLE, 0, 1));
                    } else {
                        claim!(len_at, "tuple", n, 1, 0);
                        let node = nodes.len();
                        push_direct!(nodes, Node::container(kind::TUPLE, n, n as u64));
                        open!(node, at);
                        continue 'next;
                    }
                }
                LIST_EXT => 'list: {
                    let len_at = pos;
                    let n = read_u32!();
                    claim!(len_at, "list", n, 1, 1);
                    let node = nodes.len();
                    // Leading integers are read in a loop of their own; a
                    // proper list of nothing else is then done, without a
                    // frame. (The tree decoder checks its depth only when
                    // it is shorter than `RESERVE_FROM`: so does this.)
                    let ints = list_head(buf, &mut pos, nodes, n);
                    if ints == n {
                        if buf.get(pos) == Some(&NIL_EXT) {
                            if (n as usize) < RESERVE_FROM && frames.len() >= max_depth {
                                return Err(self.fail(at, Kind::TooDeep(max_depth)));
                            }
                            pos += 1;
                            break 'list;
                        }
                        // Only its tail is to come.
                        if let Some(list) = nodes.get_mut(node) {
                            list.b = 0;
                        }
                    }
                    open!(node, at);
                    if ints < n {
                        continue 'next;
                    }
                    pushed = false;
                }
                STRING_EXT => {
                    let n = read_u16!() as usize;
                    let offset = pos;
                    take!(n);
                    // One node for the whole string; `""` is `[]`.
                    let node = if n == 0 {
                        Node::NIL
                    } else {
                        Node::leaf(kind::STRING, n as u32, offset as u64)
                    };
                    push_direct!(nodes, node);
                }
                MAP_EXT => {
                    let len_at = pos;
                    let n = read_u32!();
                    if n == 0 {
                        push_direct!(nodes, Node::container(kind::MAP, 0, 1));
                    } else {
                        claim!(len_at, "map", n, 2, 0);
                        let node = nodes.len();
                        push_direct!(nodes, Node::container(kind::MAP, n, 2 * n as u64));
                        open!(node, at);
                        map_at.push(at);
                        continue 'next;
                    }
                }
                BINARY_EXT => {
                    let len_at = pos;
                    let n = read_u32!();
                    claim!(len_at, "binary", n, 1, 0);
                    let offset = pos;
                    take!(n as usize);
                    push_direct!(nodes, Node::leaf(kind::BINARY, n, offset as u64));
                }
                BIT_BINARY_EXT => {
                    let n = via_self!(self.tape_bit_binary()?);
                    push_direct!(nodes, n);
                }
                NEW_FLOAT_EXT => {
                    let bits = match buf.get(pos..pos + 8) {
                        Some(&[a, b, c, d, e, f, g, h]) => {
                            pos += 8;
                            u64::from_be_bytes([a, b, c, d, e, f, g, h])
                        }
                        _ => eof!(),
                    };
                    if !f64::from_bits(bits).is_finite() {
                        return Err(self.fail(at, Kind::InvalidFloat));
                    }
                    push_direct!(nodes, Node::leaf(kind::FLOAT, 0, bits));
                }
                FLOAT_EXT => {
                    let f = match via_self!(self.old_float(at)?) {
                        crate::Term::Float(f) => f,
                        _ => return Err(self.fail(at, Kind::InvalidFloat)),
                    };
                    push_direct!(nodes, Node::leaf(kind::FLOAT, 0, f.to_bits()));
                }
                SMALL_BIG_EXT | LARGE_BIG_EXT => {
                    let n = via_self!(self.tape_big(tag)?);
                    push_direct!(nodes, n);
                }
                PID_EXT | NEW_PID_EXT | PORT_EXT | NEW_PORT_EXT | V4_PORT_EXT => {
                    let n = via_self!(self.tape_pid_or_port(tag)?);
                    push_direct!(nodes, n);
                }
                REFERENCE_EXT | NEW_REFERENCE_EXT | NEWER_REFERENCE_EXT => {
                    let n = via_self!(self.tape_reference(tag)?);
                    push_direct!(nodes, n);
                }
                NEW_FUN_EXT | EXPORT_EXT => {
                    let len = via_self!(match tag {
                        NEW_FUN_EXT => self.new_fun(at).map(|_| self.pos - at)?,
                        _ => self.export(at).map(|_| self.pos - at)?,
                    });
                    push_direct!(
                        nodes,
                        Node {
                            kind: kind::FUN,
                            flag: 0,
                            small: (len as u64 >> 32) as u16,
                            a: len as u32,
                            b: at as u64,
                        }
                    );
                }
                LOCAL_EXT => return Err(self.fail(at, Kind::LocalExt)),
                _ => return Err(self.fail(at, Kind::UnknownTag(tag))),
            }

            // A value is complete: count it against its container, and
            // close every container that this completes.
            loop {
                let Some(&top) = frames.last() else {
                    self.pos = pos;
                    return Ok(());
                };
                if top == PHANTOM {
                    // The tail that stands for a list of no elements.
                    frames.truncate(frames.len() - 1);
                    continue;
                }
                let Some(node) = nodes.get_mut(top) else {
                    eof!();
                };
                if pushed {
                    if node.flag == IMPROPER {
                        // The list's tail is in.
                        close(nodes, top);
                        frames.truncate(frames.len() - 1);
                        continue;
                    }
                    node.b -= 1;
                    if node.b > 0 {
                        continue 'next;
                    }
                }
                pushed = true;
                match node.kind {
                    kind::TUPLE => {
                        close(nodes, top);
                        frames.truncate(frames.len() - 1);
                    }
                    kind::MAP => {
                        let at = map_at.pop().unwrap_or(0);
                        match has_duplicate_keys(nodes, buf, top, keys) {
                            Ok(false) => {}
                            Ok(true) => return Err(self.fail(at, Kind::DuplicateMapKey)),
                            Err(e) => return Err(self.fail(e.offset, e.kind)),
                        }
                        close(nodes, top);
                        frames.truncate(frames.len() - 1);
                    }
                    _ => {
                        // After a list's last element, as
                        // [`Decoder::list_tail`]; a string tail's bytes
                        // become elements, and every tail adds to the
                        // list's count.
                        let tail = loop {
                            match buf.get(pos) {
                                Some(&NIL_EXT) => {
                                    pos += 1;
                                    break Tail::Proper;
                                }
                                Some(&STRING_EXT) => {
                                    pos += 1;
                                    let n = read_u16!() as usize;
                                    let s = take!(n);
                                    push_bytes(nodes, s);
                                    add_elements(nodes, top, n as u32);
                                    break Tail::Proper;
                                }
                                Some(&LIST_EXT) => {
                                    pos += 1;
                                    let len_at = pos;
                                    let n = read_u32!();
                                    claim!(len_at, "list", n, 1, 1);
                                    if n > 0 {
                                        add_elements(nodes, top, n);
                                        break Tail::More(n);
                                    }
                                }
                                _ => break Tail::Improper,
                            }
                        };
                        match tail {
                            Tail::Proper => {
                                close(nodes, top);
                                frames.truncate(frames.len() - 1);
                                close_tail_lists(nodes, frames, buf, &mut pos);
                            }
                            Tail::More(n) => {
                                if let Some(list) = nodes.get_mut(top) {
                                    list.b = n as u64;
                                }
                                continue 'next;
                            }
                            Tail::Improper => {
                                if nodes.get(top).is_some_and(|n| n.a == 0) {
                                    // `[|T]` is `T`: the list node (the last
                                    // one, as it has no elements) gives way.
                                    nodes.truncate(top);
                                    if let Some(f) = frames.last_mut() {
                                        *f = PHANTOM;
                                    }
                                } else if let Some(list) = nodes.get_mut(top) {
                                    list.flag = IMPROPER;
                                }
                                continue 'next;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `BIT_BINARY_EXT`, checked as [`Decoder::bit_binary`] checks it.
    fn tape_bit_binary(&mut self) -> R<Node> {
        let (len, bits) = self.bit_binary_header()?;
        let offset = self.pos;
        let bytes = self.take(len as usize)?;
        if bits == 8 {
            return Ok(Node::leaf(kind::BINARY, len, offset as u64));
        }
        let mask = 0xffu8 << (8 - bits);
        let last = bytes.last().copied().unwrap_or(0) & mask;
        Ok(Node {
            kind: kind::BITSTRING,
            flag: bits,
            small: last as u16,
            a: len,
            b: offset as u64,
        })
    }

    /// `SMALL_BIG_EXT`/`LARGE_BIG_EXT`, checked as [`Decoder::big`] checks
    /// it and normalised the same way: an integer node when it fits `i64`.
    fn tape_big(&mut self, tag: u8) -> R<Node> {
        let (sign, digits) = self.big_parts(tag)?;
        let offset = self.pos - digits.len();
        let used = digits.iter().rposition(|&d| d != 0).map_or(0, |i| i + 1);
        let digits = digits.get(..used).unwrap_or_default();
        if digits.len() <= 8 {
            let mut le = [0u8; 8];
            if let Some(dst) = le.get_mut(..digits.len()) {
                dst.copy_from_slice(digits);
            }
            let magnitude = u64::from_le_bytes(le);
            if sign == 0 && magnitude <= i64::MAX as u64 {
                return Ok(Node::int(magnitude as i64));
            }
            if sign != 0 && magnitude <= 1 << 63 {
                return Ok(Node::int((magnitude as i64).wrapping_neg()));
            }
        }
        Ok(Node {
            kind: kind::BIG,
            flag: (sign != 0) as u8,
            small: 0,
            a: used as u32,
            b: offset as u64,
        })
    }

    /// A pid or port: its node atom, then its fields read as
    /// [`Decoder::pid`] and [`Decoder::port`] read them (so a truncation
    /// fails at the same byte); the accessors read them again.
    fn tape_pid_or_port(&mut self, tag: u8) -> R<Node> {
        let node = self.tape_atom()?;
        match tag {
            PID_EXT => {
                self.u32()?;
                self.u32()?;
                self.u8()?;
            }
            NEW_PID_EXT => {
                self.u32()?;
                self.u32()?;
                self.u32()?;
            }
            PORT_EXT => {
                self.u32()?;
                self.u8()?;
            }
            NEW_PORT_EXT => {
                self.u32()?;
                self.u32()?;
            }
            _ => {
                self.array::<8>()?;
                self.u32()?;
            }
        }
        let kind = if matches!(tag, PID_EXT | NEW_PID_EXT) {
            kind::PID
        } else {
            kind::PORT
        };
        Ok(Node {
            kind,
            flag: tag,
            small: node.text as u16,
            a: node.len_or_index,
            b: node.offset as u64,
        })
    }

    /// A reference, checked as [`Decoder::reference`] checks it.
    fn tape_reference(&mut self, tag: u8) -> R<Node> {
        let (node, words) = if tag == REFERENCE_EXT {
            let node = self.tape_atom()?;
            self.u32()?;
            self.u8()?;
            (node, 1)
        } else {
            let len_at = self.pos;
            let len = self.u16()?;
            if !(1..=5).contains(&len) {
                return Err(self.fail(len_at, Kind::InvalidReference(len)));
            }
            let node = self.tape_atom()?;
            if tag == NEW_REFERENCE_EXT {
                self.u8()?;
            } else {
                self.u32()?;
            }
            for _ in 0..len {
                self.u32()?;
            }
            (node, len)
        };
        Ok(Node {
            kind: kind::REFERENCE,
            flag: tag,
            small: node.text as u16 | words << 8,
            a: node.len_or_index,
            b: node.offset as u64,
        })
    }

    /// An atom-valued field (a pid's node): tag and body.
    fn tape_atom(&mut self) -> R<AtomSpan> {
        let at = self.pos;
        let tag = self.u8()?;
        self.tape_atom_body(tag, at)
    }

    /// An atom, checked as [`Decoder::atom_body`] checks it (the same
    /// errors at the same bytes) but not interned: its text stays in the
    /// input, so that reading a term costs no atom table lookup. Only a
    /// cache reference, which has no text, is an interned atom.
    fn tape_atom_body(&mut self, tag: u8, at: usize) -> R<AtomSpan> {
        let (len, utf8) = match self.atom_head(tag, at)? {
            AtomHead::Text { len, utf8 } => (len, utf8),
            AtomHead::Cached(atom) => {
                return Ok(AtomSpan {
                    text: atom_text::INTERNED,
                    len_or_index: atom.index(),
                    offset: self.pos,
                })
            }
        };
        let offset = self.pos;
        let raw = self.take(len)?;
        let (text, chars) = if raw.is_ascii() {
            (atom_text::UTF8, len)
        } else if utf8 {
            let s = std::str::from_utf8(raw).map_err(|_| self.fail(at, Kind::InvalidUtf8))?;
            let chars = if len > MAX_ATOM_CHARS {
                s.chars().count()
            } else {
                len
            };
            (atom_text::UTF8, chars)
        } else {
            (atom_text::LATIN1, len)
        };
        if chars > MAX_ATOM_CHARS {
            return Err(self.fail(at, Kind::InvalidAtom(AtomError::TooLong(chars))));
        }
        Ok(AtomSpan {
            text,
            len_or_index: len as u32,
            offset,
        })
    }
}

/// Appends the node of a list of `n` elements, then an integer node for
/// each of its leading elements that is an integer at `*pos`; says how
/// many those are. The list node's `b` counts the elements still to come,
/// or (all `n` read) is the subtree's size, as if it were closed.
///
/// Room for all `n + 1` is made first (`n` passed the walk's claim, so it
/// is at most the bytes left), so the loop writes without checks, and
/// the tape's length is read and written once, not once per node (each
/// a store and a reload on the walk's critical path).
#[inline(always)]
fn list_head(buf: &[u8], pos: &mut usize, nodes: &mut Vec<Node>, n: u32) -> u32 {
    nodes.reserve(n as usize + 1);
    let len = nodes.len();
    let Some((head, slots)) = nodes.spare_capacity_mut().split_first_mut() else {
        // (Not after `reserve`; the slow way all the same, with no
        // element read: `b` is all `n` to come, or the size 1 if none.)
        push_direct!(nodes, Node::container(kind::LIST, n, (n as u64).max(1)));
        return 0;
    };
    let mut at = *pos;
    let mut done = 0;
    for slot in slots.iter_mut().take(n as usize) {
        let i = match buf.get(at) {
            Some(&SMALL_INTEGER_EXT) => match buf.get(at + 1) {
                Some(&b) => {
                    at += 2;
                    b as i64
                }
                None => break,
            },
            Some(&INTEGER_EXT) => match buf.get(at + 1..at + 5) {
                Some(&[a, b, c, d]) => {
                    at += 5;
                    i32::from_be_bytes([a, b, c, d]) as i64
                }
                _ => break,
            },
            _ => break,
        };
        slot.write(Node::int(i));
        done += 1;
    }
    let b = if done == n {
        1 + n as u64
    } else {
        (n - done) as u64
    };
    head.write(Node::container(kind::LIST, n, b));
    *pos = at;
    // SAFETY: the slot at `len` and the `done` after it were written just
    // above.
    unsafe { nodes.set_len(len + 1 + done as usize) };
    done
}

/// After a list closes: closes each open list that it, in turn, ends
/// (`[X, [Y, [Z]]]`: a list that was the last element of the list below
/// it on the stack, which `[]` then ends), as the walk's loop would one
/// by one, with fewer checks. Stops at the first frame that is not such
/// a list (the walk's loop then goes on from there).
#[inline(always)]
fn close_tail_lists(nodes: &mut [Node], frames: &mut Vec<Frame>, buf: &[u8], pos: &mut usize) {
    let end = nodes.len();
    while let (Some(&top), Some(&NIL_EXT)) = (frames.last(), buf.get(*pos)) {
        match nodes.get_mut(top) {
            // (A list waiting for its improper tail has `b` 0.)
            Some(list) if list.kind == kind::LIST && list.b == 1 => {
                list.b = (end - top) as u64;
            }
            _ => return,
        }
        *pos += 1;
        frames.pop();
    }
}

/// Sets the container at `node`'s subtree to end at the tape's end.
#[inline(always)]
fn close(nodes: &mut [Node], node: usize) {
    let size = (nodes.len() - node) as u64;
    if let Some(n) = nodes.get_mut(node) {
        n.b = size;
    }
}

/// Counts `more` elements to the list at `node` (which saturates at
/// `u32::MAX`: only an input of over 4 GiB has more).
#[inline]
fn add_elements(nodes: &mut [Node], node: usize, more: u32) {
    if let Some(n) = nodes.get_mut(node) {
        n.a = n.a.saturating_add(more);
    }
}

/// The bytes of a `STRING_EXT` that continues a list, as integer nodes.
#[inline]
fn push_bytes(nodes: &mut Vec<Node>, s: &[u8]) {
    nodes.extend(s.iter().map(|&b| Node::int(b as i64)));
}

/// The UTF-8 name of the atom `node`, unless it is Latin-1 text (which
/// must be converted before it compares with UTF-8 names).
fn atom_name<'b>(node: &Node, buf: &'b [u8]) -> Option<&'b [u8]> {
    match node.flag {
        atom_text::UTF8 => buf.get(node.b as usize..node.b as usize + node.a as usize),
        atom_text::INTERNED => Some(crate::Atom::from_index(node.a).as_str().as_bytes()),
        _ => None,
    }
}

/// Whether two of the `n` atoms `keys` have the same name, or `None` if
/// some key is not an atom with a UTF-8 name (see [`atom_name`]).
///
/// Each name goes into a hash set as (its first 8 bytes, its length):
/// exact for names of up to 8 bytes; longer ones that agree on both are
/// compared in full. `table` is the set's reused room.
fn duplicate_atom_name<'b>(
    n: usize,
    keys: impl Iterator<Item = usize>,
    name: impl Fn(usize) -> Option<&'b [u8]>,
    table: &mut Vec<(u64, usize, usize)>,
) -> Option<bool> {
    /// An empty slot (no node is at index `usize::MAX`).
    const EMPTY: (u64, usize, usize) = (0, 0, usize::MAX);
    // The first 8 bytes, big-endian and zero-padded: one load for a long
    // name, a shift per byte for a short one (copying it into an 8-byte
    // buffer and loading that stalls on the store).
    let head = |text: &[u8]| match text.get(..8) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => text
            .iter()
            .fold(0u64, |h, &b| h << 8 | b as u64)
            .wrapping_shl(8 * (8 - text.len() as u32)),
    };
    if n <= 8 {
        // Few keys: each against the others.
        let mut seen = [EMPTY; 8];
        for (slot, k) in seen.iter_mut().zip(keys) {
            let text = name(k)?;
            *slot = (head(text), text.len(), k);
        }
        let seen = &seen[..n.min(8)];
        let mut dup = false;
        for (i, a) in seen.iter().enumerate() {
            for b in &seen[i + 1..] {
                if a.0 == b.0 && a.1 == b.1 && (a.1 <= 8 || name(a.2)? == name(b.2)?) {
                    dup = true;
                }
            }
        }
        return Some(dup);
    }
    let slots = (2 * n).next_power_of_two();
    table.clear();
    table.resize(slots, EMPTY);
    let mut dup = false;
    for k in keys {
        let text = name(k)?;
        if dup {
            continue; // still checking that every key is an atom
        }
        let head = head(text);
        let hash = (head ^ text.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut i = (hash >> 40) as usize & (slots - 1);
        loop {
            let slot = table.get_mut(i)?;
            if slot.2 == usize::MAX {
                *slot = (head, text.len(), k);
                break;
            }
            if slot.0 == head && slot.1 == text.len() && (text.len() <= 8 || name(slot.2)? == text)
            {
                dup = true;
                break;
            }
            i = (i + 1) & (slots - 1);
        }
    }
    Some(dup)
}

/// Whether two keys of the map at `map` are the same term (`=:=`), as
/// `binary_to_term` rejects. Atom keys (nearly all maps) compare by name,
/// integer keys by value; anything else compares as `Term`s (which can
/// fail only if an atom cannot be interned).
fn has_duplicate_keys(
    nodes: &[Node],
    buf: &[u8],
    map: usize,
    keys: &mut Vec<(u64, usize, usize)>,
) -> Result<bool, DecodeError> {
    let Some(head) = nodes.get(map) else {
        return Ok(false);
    };
    let n = head.a as usize;
    if n <= 1 {
        return Ok(false);
    }
    let key_nodes = || {
        let mut at = map + 1;
        (0..n).map(move |_| {
            let k = at;
            let value = k + nodes.get(k).map_or(1, Node::size);
            at = value + nodes.get(value).map_or(1, Node::size);
            k
        })
    };
    let name = |k: usize| {
        nodes
            .get(k)
            .filter(|n| n.kind == kind::ATOM)
            .and_then(|n| atom_name(n, buf))
    };
    if let Some(dup) = duplicate_atom_name(n, key_nodes(), name, keys) {
        return Ok(dup);
    }
    // (A string key, or any other, compares as a term below.)
    if key_nodes().all(|k| nodes.get(k).is_some_and(|n| n.kind == kind::INT)) {
        let mut ints: Vec<u64> = key_nodes()
            .map(|k| nodes.get(k).map_or(0, |n| n.b))
            .collect();
        ints.sort_unstable();
        return Ok(ints.windows(2).any(|w| w[0] == w[1]));
    }
    // Mixed or compound keys: as terms, sorted in term order.
    let view = crate::tape::TermRef::new(nodes, buf, map);
    let mut terms: Vec<crate::Term> = Vec::with_capacity(n);
    for (k, _) in view.map_entries().into_iter().flatten() {
        terms.push(k.to_term()?);
    }
    terms.sort_unstable();
    Ok(terms.windows(2).any(|w| w[0] == w[1]))
}
