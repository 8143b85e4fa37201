//! The `Term` model: every Erlang value, losing nothing.
//!
//! | Erlang                      | Rust                                         |
//! |-----------------------------|----------------------------------------------|
//! | `ok`                        | `Term::Atom(Atom::new("ok"))`                |
//! | `42`, `1 bsl 100`           | `Term::Int(42)`, `Term::BigInt(..)`          |
//! | `1.5`                       | `Term::Float(1.5)`                           |
//! | `<<1,2>>`                   | `Term::Binary(Bytes)`                        |
//! | `<<1,2:3>>`                 | `Term::BitString(Box<BitString>)`            |
//! | `[1,2]`, `"ab"`, `[]`       | `Term::List(vec![..])`                       |
//! | `[1|2]`                     | `Term::ImproperList(vec![1], Box::new(2))`   |
//! | `{a,b}`                     | `Term::Tuple(vec![..])`                      |
//! | `#{k => v}`                 | `Term::Map(Map)`                             |
//! | `<0.1.0>`, `#Port<..>`, `#Ref<..>` | `Term::Pid`, `Term::Port`, `Term::Reference` |
//! | `fun m:f/1`, `fun() -> x end` | `Term::Fun(Fun)` (opaque, byte-exact)      |
//!
//! Integers are normalised: a value that fits in `i64` is always
//! [`Term::Int`], larger ones are [`Term::BigInt`]; so structural equality is
//! Erlang's exact equality (`=:=`) for every term except maps, whose
//! equality ignores entry order, as Erlang's does.
//!
//! ```
//! use etf::{Atom, Term};
//! let t = Term::tuple(vec![Term::atom("bump"), Term::Int(5)]);
//! assert_eq!(t.to_string(), "{bump,5}");
//! ```

use bytes::Bytes;
use num_bigint::BigInt;

use crate::atom::Atom;

/// An Erlang term.
#[derive(Clone, Debug)]
pub enum Term {
    /// An atom.
    Atom(Atom),
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer outside `i64`'s range (never one that fits: see the module doc).
    BigInt(BigInt),
    /// A float (IEEE 754 double, bit-exact; Erlang has no NaN or infinities).
    Float(f64),
    /// A binary: a whole number of bytes. Shares the input buffer when decoded from `Bytes`.
    Binary(Bytes),
    /// A bitstring whose size is not a whole number of bytes; boxed, as it
    /// is rare and would otherwise make every `Term` 8 bytes larger
    /// (`Term::from(BitString { .. })` builds one).
    BitString(Box<BitString>),
    /// A proper list; `[]` is the empty list.
    List(Vec<Term>),
    /// An improper list `[A, B | Tail]` (`Tail` is not a list).
    ImproperList(Vec<Term>, Box<Term>),
    /// A tuple.
    Tuple(Vec<Term>),
    /// A map.
    Map(Map),
    /// A process identifier.
    Pid(Pid),
    /// A port identifier.
    Port(Port),
    /// A reference.
    Reference(Reference),
    /// A fun or export fun, kept as its encoded bytes.
    Fun(Fun),
}

/// A bitstring: `bytes`, of which only the top `last_bits` bits of the last
/// byte are used (`1..=7`). `<<1,2:3>>` is `bytes = [1, 0b0100_0000], last_bits = 3`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitString {
    /// The bytes; unused low bits of the last byte are zero.
    pub bytes: Bytes,
    /// How many bits of the last byte belong to the bitstring (`1..=7`).
    pub last_bits: u8,
}

impl BitString {
    /// Total size in bits.
    pub fn bit_len(&self) -> usize {
        if self.bytes.is_empty() {
            0
        } else {
            (self.bytes.len() - 1) * 8 + self.last_bits as usize
        }
    }
}

/// A map's entries, kept in the order they were decoded or inserted.
///
/// Equality ignores order (as Erlang's `=:=` does on maps).
#[derive(Clone, Debug, Default)]
pub struct Map {
    /// Key/value pairs; keys are unique.
    pub entries: Vec<(Term, Term)>,
}

impl Map {
    /// An empty map, `#{}`.
    pub fn new() -> Map {
        Map::default()
    }

    /// The value under `key` (`maps:get(Key, M)`), compared with `=:=`.
    pub fn get(&self, key: &Term) -> Option<&Term> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value under the atom key `key`.
    pub fn get_atom(&self, key: &str) -> Option<&Term> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Term::Atom(a) if a.as_str() == key))
            .map(|(_, v)| v)
    }

    /// Inserts or replaces (`maps:put(Key, Value, M)`).
    pub fn insert(&mut self, key: Term, value: Term) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` for `#{}`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len()
            && self
                .entries
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|ov| ov == v))
    }
}

impl FromIterator<(Term, Term)> for Map {
    fn from_iter<I: IntoIterator<Item = (Term, Term)>>(iter: I) -> Map {
        let mut m = Map::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

/// A process identifier: `<0.42.0>` locally, or a pid on another node.
///
/// `creation` tells incarnations of a node apart (32 bits since OTP 23's
/// `NEW_PID_EXT`). The node is part of the pid, so local and remote pids are
/// one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid {
    /// The node the process lives on (`nonode@nohost` when not distributed).
    pub node: Atom,
    /// The process number (the middle field of `<0.ID.SERIAL>`).
    pub id: u32,
    /// The serial (the last field of `<0.ID.SERIAL>`).
    pub serial: u32,
    /// The node incarnation.
    pub creation: u32,
}

/// A port identifier (`#Port<0.7>`); `V4_PORT_EXT` ids are 64-bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// The node the port lives on.
    pub node: Atom,
    /// The port number.
    pub id: u64,
    /// The node incarnation.
    pub creation: u32,
}

/// A reference (`#Ref<0.1.2.3>`): up to five 32-bit words (OTP 25+ sends
/// up to five for pid-based references, three for ordinary ones).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// The node that made the reference.
    pub node: Atom,
    /// The node incarnation.
    pub creation: u32,
    /// The reference's words, as they appear on the wire.
    pub ids: Vec<u32>,
}

/// A fun or export fun, kept opaque: `bytes` is its complete encoding,
/// starting with the tag byte (`NEW_FUN_EXT` 112 or `EXPORT_EXT` 113), so it
/// round-trips byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fun {
    /// The encoded fun, tag byte included.
    pub bytes: Bytes,
}

impl Term {
    /// The atom named `name` (panics on names over 255 characters).
    pub fn atom(name: &str) -> Term {
        Term::Atom(Atom::new(name))
    }

    /// A tuple.
    pub fn tuple(items: Vec<Term>) -> Term {
        Term::Tuple(items)
    }

    /// The empty list `[]`.
    pub fn nil() -> Term {
        Term::List(Vec::new())
    }

    /// A binary from bytes.
    pub fn binary(bytes: impl Into<Bytes>) -> Term {
        Term::Binary(bytes.into())
    }

    /// An integer of any size, normalised (`Int` when it fits in `i64`).
    pub fn from_bigint(n: BigInt) -> Term {
        match i64::try_from(&n) {
            Ok(i) => Term::Int(i),
            Err(_) => Term::BigInt(n),
        }
    }

    /// The atom, if this is one.
    pub fn as_atom(&self) -> Option<Atom> {
        match self {
            Term::Atom(a) => Some(*a),
            _ => None,
        }
    }

    /// `true` if this is the atom `name`.
    pub fn is_atom(&self, name: &str) -> bool {
        matches!(self, Term::Atom(a) if a.as_str() == name)
    }

    /// The tuple's elements, if this is a tuple.
    pub fn as_tuple(&self) -> Option<&[Term]> {
        match self {
            Term::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The pid, if this is one.
    pub fn as_pid(&self) -> Option<Pid> {
        match self {
            Term::Pid(p) => Some(*p),
            _ => None,
        }
    }

    /// The integer, if this is one that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Term::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl PartialEq for Term {
    /// Erlang's exact equality `=:=` (so `1 =/= 1.0`, and `0.0 =/= -0.0` as in OTP 27).
    fn eq(&self, other: &Term) -> bool {
        use Term::*;
        match (self, other) {
            (Atom(a), Atom(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (BigInt(a), BigInt(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Binary(a), Binary(b)) => a == b,
            (BitString(a), BitString(b)) => a == b,
            (List(a), List(b)) => a == b,
            (ImproperList(a, at), ImproperList(b, bt)) => a == b && at == bt,
            (Tuple(a), Tuple(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Pid(a), Pid(b)) => a == b,
            (Port(a), Port(b)) => a == b,
            (Reference(a), Reference(b)) => a == b,
            (Fun(a), Fun(b)) => a == b,
            _ => false,
        }
    }
}

impl From<Atom> for Term {
    fn from(a: Atom) -> Term {
        Term::Atom(a)
    }
}

impl From<i64> for Term {
    fn from(i: i64) -> Term {
        Term::Int(i)
    }
}

impl From<BitString> for Term {
    fn from(b: BitString) -> Term {
        Term::BitString(Box::new(b))
    }
}

impl From<Pid> for Term {
    fn from(p: Pid) -> Term {
        Term::Pid(p)
    }
}

impl From<Reference> for Term {
    fn from(r: Reference) -> Term {
        Term::Reference(r)
    }
}

impl From<BigInt> for Term {
    fn from(n: BigInt) -> Term {
        Term::from_bigint(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list of N elements is one N * `size_of::<Term>()` allocation, so
    /// the rare large variants are boxed to keep `Term` at five words.
    #[test]
    fn a_term_is_five_words() {
        assert_eq!(std::mem::size_of::<Term>(), 40);
    }

    #[test]
    fn a_bitstring_term_compares_by_its_bits() {
        let a = Term::from(BitString {
            bytes: Bytes::from_static(&[1, 0b0100_0000]),
            last_bits: 3,
        });
        let b = Term::from(BitString {
            bytes: Bytes::from_static(&[1, 0b0100_0000]),
            last_bits: 3,
        });
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "<<1,2:3>>");
    }
}
