//! Reading a tape: [`TermRef`], a cursor on one term, and its iterators.

use std::borrow::Cow;

use num_bigint::{BigInt, BigUint, Sign};

use super::node::{atom_text, kind, Node, BYTE_NODES, IMPROPER};
use crate::atom::{Atom, AtomError};
use crate::tag::*;
use crate::term::{BitString, Pid, Port, Reference};

/// What kind of term a [`TermRef`] is (Erlang's type tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An atom (`is_atom/1`).
    Atom,
    /// An integer that fits in `i64` (`is_integer/1`).
    Int,
    /// An integer outside `i64` (`is_integer/1`).
    BigInt,
    /// A float (`is_float/1`).
    Float,
    /// A binary (`is_binary/1`).
    Binary,
    /// A bitstring that is not a whole number of bytes (`is_bitstring/1`).
    BitString,
    /// A proper list, `[]` included (`is_list/1`).
    List,
    /// A list with a tail that is not a list (`[a | b]`).
    ImproperList,
    /// A tuple (`is_tuple/1`).
    Tuple,
    /// A map (`is_map/1`).
    Map,
    /// A pid (`is_pid/1`).
    Pid,
    /// A port (`is_port/1`).
    Port,
    /// A reference (`is_reference/1`).
    Reference,
    /// A fun (`is_function/1`).
    Fun,
}

/// One term on a [`super::Tape`]: a cursor that reads it in place.
///
/// Cheap to copy (three words); everything it returns borrows from the
/// tape and its input, so nothing is allocated except by
/// [`TermRef::to_term`], [`TermRef::as_reference`],
/// [`BigRef::to_bigint`] and [`TermRef::atom_name`] for a Latin-1 name
/// that is not ASCII.
///
/// Atoms are not interned while decoding: the tape keeps their names in
/// the input (checked as `etf::decode` checks them), so that decoding
/// costs no atom-table lookup. [`TermRef::atom_name`] and
/// [`TermRef::is_atom`] read the name in place; [`TermRef::as_atom`]
/// (and pids' nodes, and [`TermRef::to_term`]) intern it when asked.
#[derive(Clone, Copy)]
pub struct TermRef<'t> {
    nodes: &'t [Node],
    buf: &'t [u8],
    i: usize,
}

impl std::fmt::Debug for TermRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_term() {
            Ok(t) => write!(f, "TermRef({t})"),
            Err(e) => write!(f, "TermRef({e})"),
        }
    }
}

/// A bignum borrowed from the input: `SMALL_BIG_EXT`/`LARGE_BIG_EXT`'s
/// sign and little-endian digits, without high zero digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BigRef<'t> {
    /// `true` for a negative number.
    pub negative: bool,
    /// The magnitude's bytes, least significant first.
    pub magnitude_le: &'t [u8],
}

impl BigRef<'_> {
    /// The value as a `BigInt`.
    pub fn to_bigint(&self) -> BigInt {
        let sign = if self.negative {
            Sign::Minus
        } else {
            Sign::Plus
        };
        BigInt::from_biguint(sign, BigUint::from_bytes_le(self.magnitude_le))
    }
}

/// A bitstring borrowed from the input (`<<1,2:3>>`): all bytes but the
/// last as they are, and the last one with its unused low bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitStrRef<'t> {
    /// Every whole byte (all but the last).
    pub head: &'t [u8],
    /// The last byte; only its top `last_bits` bits are used, the rest are 0.
    pub last: u8,
    /// How many bits of `last` belong to the bitstring (`1..=7`).
    pub last_bits: u8,
}

impl BitStrRef<'_> {
    /// The owned [`BitString`].
    pub fn to_bitstring(&self) -> BitString {
        let mut bytes = Vec::with_capacity(self.head.len() + 1);
        bytes.extend_from_slice(self.head);
        bytes.push(self.last);
        BitString {
            bytes: bytes.into(),
            last_bits: self.last_bits,
        }
    }
}

/// Reads a big-endian `N`-byte field at `at`, zero when out of range (the
/// decoder checked every field it recorded, so that does not happen).
#[inline]
fn be<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(be(buf, at))
}

impl<'t> TermRef<'t> {
    pub(crate) fn new(nodes: &'t [Node], buf: &'t [u8], i: usize) -> TermRef<'t> {
        TermRef { nodes, buf, i }
    }

    #[inline(always)]
    fn node(&self) -> Node {
        self.nodes.get(self.i).copied().unwrap_or(Node::NIL)
    }

    /// The bytes `[b, b + len)` of the input.
    #[inline]
    fn slice(&self, b: u64, len: u64) -> &'t [u8] {
        let (start, len) = (b as usize, len as usize);
        self.buf.get(start..start + len).unwrap_or_default()
    }

    /// What kind of term this is.
    pub fn kind(&self) -> Kind {
        let n = self.node();
        match n.kind {
            kind::ATOM => Kind::Atom,
            kind::INT => Kind::Int,
            kind::BIG => Kind::BigInt,
            kind::FLOAT => Kind::Float,
            kind::BINARY => Kind::Binary,
            kind::BITSTRING => Kind::BitString,
            kind::LIST if n.flag == IMPROPER => Kind::ImproperList,
            kind::LIST | kind::STRING => Kind::List,
            kind::TUPLE => Kind::Tuple,
            kind::MAP => Kind::Map,
            kind::PID => Kind::Pid,
            kind::PORT => Kind::Port,
            kind::REFERENCE => Kind::Reference,
            _ => Kind::Fun,
        }
    }

    /// The atom, interned (`list_to_atom/1` of its name), if this is one.
    ///
    /// `None` also when the atom table is full and this name is not in it
    /// yet (see [`crate::atom::MAX_ATOMS`]), where `binary_to_term` fails.
    pub fn as_atom(&self) -> Option<Atom> {
        let n = self.node();
        if n.kind != kind::ATOM {
            return None;
        }
        self.atom_at(n.flag, n.a, n.b).ok()
    }

    /// The atom's name (`atom_to_list/1`), if this is an atom: borrowed
    /// from the input, or converted when it was sent as Latin-1 that is not
    /// ASCII.
    pub fn atom_name(&self) -> Option<Cow<'t, str>> {
        let n = self.node();
        (n.kind == kind::ATOM).then(|| self.name_at(n.flag, n.a, n.b))
    }

    /// `true` if this is the atom `name` (compared in place, not interned).
    pub fn is_atom(&self, name: &str) -> bool {
        let n = self.node();
        if n.kind != kind::ATOM {
            return false;
        }
        match n.flag {
            atom_text::UTF8 => self.slice(n.b, n.a as u64) == name.as_bytes(),
            _ => self.name_at(n.flag, n.a, n.b) == name,
        }
    }

    /// The name of an atom held as `text` (see [`atom_text`]).
    fn name_at(&self, text: u8, len_or_index: u32, offset: u64) -> Cow<'t, str> {
        let raw = self.slice(offset, len_or_index as u64);
        match text {
            atom_text::UTF8 => Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default()),
            atom_text::LATIN1 => Cow::Owned(raw.iter().map(|&b| b as char).collect()),
            _ => Cow::Borrowed(Atom::from_index(len_or_index).as_str()),
        }
    }

    /// The atom held as `text`, interned.
    fn atom_at(&self, text: u8, len_or_index: u32, offset: u64) -> Result<Atom, AtomError> {
        match text {
            atom_text::INTERNED => Ok(Atom::from_index(len_or_index)),
            _ => Atom::try_new(&self.name_at(text, len_or_index, offset)),
        }
    }

    /// A pid's, port's or reference's node atom, interned, and where its
    /// fields start.
    fn node_atom(&self, n: &Node) -> Result<(Atom, usize), AtomError> {
        let text = n.small as u8;
        let atom = self.atom_at(text, n.a, n.b)?;
        let fields = if text == atom_text::INTERNED {
            n.b as usize
        } else {
            n.b as usize + n.a as usize
        };
        Ok((atom, fields))
    }

    /// Why the atom `n` (or the node atom of the pid, port or reference
    /// `n`) cannot be interned, if it cannot: the error `etf::decode`
    /// gives, at the atom's text.
    pub(crate) fn atom_error(&self, n: &Node) -> Option<crate::DecodeError> {
        let r = match n.kind {
            kind::ATOM => self.atom_at(n.flag, n.a, n.b).map(drop),
            kind::PID | kind::PORT | kind::REFERENCE => self.node_atom(n).map(drop),
            _ => Ok(()),
        };
        r.err().map(|e| crate::DecodeError {
            offset: n.b as usize,
            kind: crate::DecodeErrorKind::InvalidAtom(e),
        })
    }

    /// The integer, if this is one that fits in `i64` (a decoded integer
    /// always is [`Kind::Int`] when it fits, whatever its encoding).
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.node();
        (n.kind == kind::INT).then_some(n.b as i64)
    }

    /// The bignum, if this is an integer outside `i64`'s range.
    pub fn as_big(&self) -> Option<BigRef<'t>> {
        let n = self.node();
        (n.kind == kind::BIG).then(|| BigRef {
            negative: n.flag != 0,
            magnitude_le: self.slice(n.b, n.a as u64),
        })
    }

    /// The float, if this is one.
    pub fn as_float(&self) -> Option<f64> {
        let n = self.node();
        (n.kind == kind::FLOAT).then(|| f64::from_bits(n.b))
    }

    /// The binary's bytes, borrowed from the input, if this is a binary.
    pub fn as_binary(&self) -> Option<&'t [u8]> {
        let n = self.node();
        (n.kind == kind::BINARY).then(|| self.slice(n.b, n.a as u64))
    }

    /// The bitstring, if this is one that is not a whole number of bytes.
    pub fn as_bitstring(&self) -> Option<BitStrRef<'t>> {
        let n = self.node();
        (n.kind == kind::BITSTRING).then(|| BitStrRef {
            head: self.slice(n.b, n.a.saturating_sub(1) as u64),
            last: n.small as u8,
            last_bits: n.flag,
        })
    }

    /// A list's elements (not its tail, for an improper list), if this is
    /// a list; `[]` has none.
    pub fn as_list(&self) -> Option<Elements<'t>> {
        let n = self.node();
        match n.kind {
            kind::LIST => Some(self.children(n.a as usize)),
            kind::STRING => Some(Elements {
                nodes: &BYTE_NODES,
                buf: &[],
                next: 0,
                left: n.a as usize,
                bytes: self.slice(n.b, n.a as u64),
            }),
            _ => None,
        }
    }

    /// An improper list's tail (`b` in `[a | b]`); `None` for anything
    /// else. Steps over the elements to find it.
    pub fn list_tail(&self) -> Option<TermRef<'t>> {
        let n = self.node();
        if n.kind != kind::LIST || n.flag != IMPROPER {
            return None;
        }
        let mut elements = self.children(n.a as usize);
        elements.by_ref().for_each(drop);
        Some(TermRef::new(self.nodes, self.buf, elements.next))
    }

    /// A tuple's elements, if this is a tuple (`tuple_to_list/1`).
    pub fn as_tuple(&self) -> Option<Elements<'t>> {
        let n = self.node();
        (n.kind == kind::TUPLE).then(|| self.children(n.a as usize))
    }

    /// A map's entries in decoded order, if this is a map (`maps:to_list/1`
    /// without the sort).
    pub fn map_entries(&self) -> Option<Entries<'t>> {
        let n = self.node();
        (n.kind == kind::MAP).then(|| Entries {
            inner: self.children(2 * n.a as usize),
        })
    }

    /// The value under the atom key `name`, if this is a map that has one
    /// (`maps:find(name, M)`).
    pub fn map_get_atom(&self, name: &str) -> Option<TermRef<'t>> {
        self.map_entries()?
            .find(|(k, _)| k.is_atom(name))
            .map(|(_, v)| v)
    }

    /// The number of elements of a list (without an improper tail) or
    /// tuple, or of entries of a map; `None` for any other term.
    pub fn len(&self) -> Option<usize> {
        let n = self.node();
        (n.is_container() || n.kind == kind::STRING).then_some(n.a as usize)
    }

    /// `Some(true)` for `[]`, `{}` and `#{}`, `Some(false)` for any other
    /// list, tuple or map, `None` for any other term.
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }

    /// The pid, if this is one (`None` also if its node atom cannot be
    /// interned, as for [`TermRef::as_atom`]).
    pub fn as_pid(&self) -> Option<Pid> {
        let n = self.node();
        if n.kind != kind::PID {
            return None;
        }
        let (node, at) = self.node_atom(&n).ok()?;
        Some(Pid {
            node,
            id: u32_at(self.buf, at),
            serial: u32_at(self.buf, at + 4),
            creation: if n.flag == PID_EXT {
                be::<1>(self.buf, at + 8)[0] as u32
            } else {
                u32_at(self.buf, at + 8)
            },
        })
    }

    /// The port, if this is one (`None` also if its node atom cannot be
    /// interned).
    pub fn as_port(&self) -> Option<Port> {
        let n = self.node();
        if n.kind != kind::PORT {
            return None;
        }
        let (node, at) = self.node_atom(&n).ok()?;
        let (id, creation) = match n.flag {
            PORT_EXT => (
                u32_at(self.buf, at) as u64,
                be::<1>(self.buf, at + 4)[0] as u32,
            ),
            NEW_PORT_EXT => (u32_at(self.buf, at) as u64, u32_at(self.buf, at + 4)),
            _ => (
                u64::from_be_bytes(be(self.buf, at)),
                u32_at(self.buf, at + 8),
            ),
        };
        Some(Port { node, id, creation })
    }

    /// The reference, if this is one (its id words are copied out; `None`
    /// also if its node atom cannot be interned).
    pub fn as_reference(&self) -> Option<Reference> {
        let n = self.node();
        if n.kind != kind::REFERENCE {
            return None;
        }
        let (node, at) = self.node_atom(&n).ok()?;
        Some(match n.flag {
            REFERENCE_EXT => Reference {
                node,
                creation: be::<1>(self.buf, at + 4)[0] as u32,
                ids: vec![u32_at(self.buf, at)],
            },
            tag => {
                let (creation, ids_at) = if tag == NEW_REFERENCE_EXT {
                    (be::<1>(self.buf, at)[0] as u32, at + 1)
                } else {
                    (u32_at(self.buf, at), at + 4)
                };
                Reference {
                    node,
                    creation,
                    ids: (0..(n.small >> 8) as usize)
                        .map(|i| u32_at(self.buf, ids_at + 4 * i))
                        .collect(),
                }
            }
        })
    }

    /// A fun's complete encoding (tag byte 112 or 113 first), borrowed
    /// from the input, if this is a fun: the bytes of [`crate::Fun`]. In
    /// a distribution message decoded with an atom cache its atoms may be
    /// references to that message's cache; the tree decoder
    /// ([`crate::decode_with`]) writes such a fun again with its atoms, to
    /// be sent on.
    pub fn as_fun(&self) -> Option<&'t [u8]> {
        let n = self.node();
        (n.kind == kind::FUN).then(|| self.slice(n.b, n.a as u64 | (n.small as u64) << 32))
    }

    /// The `count` children that follow this node.
    fn children(&self, count: usize) -> Elements<'t> {
        Elements {
            nodes: self.nodes,
            buf: self.buf,
            next: self.i + 1,
            left: count,
            bytes: &[],
        }
    }

    /// This term's nodes: itself and its whole subtree.
    pub(crate) fn subtree(&self) -> &'t [Node] {
        let size = self.node().size();
        self.nodes.get(self.i..self.i + size).unwrap_or(&[])
    }

    pub(crate) fn buf(&self) -> &'t [u8] {
        self.buf
    }
}

/// The elements of a list or tuple, in order: O(1) per step.
#[derive(Clone)]
pub struct Elements<'t> {
    nodes: &'t [Node],
    buf: &'t [u8],
    next: usize,
    left: usize,
    /// A string's bytes, whose elements are [`BYTE_NODES`]' entries.
    bytes: &'t [u8],
}

impl<'t> Iterator for Elements<'t> {
    type Item = TermRef<'t>;

    #[inline]
    fn next(&mut self) -> Option<TermRef<'t>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if let [b, rest @ ..] = self.bytes {
            self.bytes = rest;
            return Some(TermRef::new(&BYTE_NODES, &[], *b as usize));
        }
        let i = self.next;
        self.next += self.nodes.get(i).map_or(1, Node::size);
        Some(TermRef::new(self.nodes, self.buf, i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Elements<'_> {}

/// A map's entries as `(key, value)`, in decoded order: O(1) per step.
#[derive(Clone)]
pub struct Entries<'t> {
    inner: Elements<'t>,
}

impl<'t> Iterator for Entries<'t> {
    type Item = (TermRef<'t>, TermRef<'t>);

    #[inline]
    fn next(&mut self) -> Option<(TermRef<'t>, TermRef<'t>)> {
        Some((self.inner.next()?, self.inner.next()?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.inner.left / 2, Some(self.inner.left / 2))
    }
}

impl ExactSizeIterator for Entries<'_> {}
