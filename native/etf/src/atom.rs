//! Atoms: interned names, cheap to copy and compare.
//!
//! An Erlang atom is a constant whose value is its own name (`ok`, `'EXIT'`,
//! `'rust@host'`). Like the BEAM's atom table, ferrotp interns every atom once
//! in a process-wide table and hands out a 4-byte index, so cloning and
//! comparing atoms costs one integer operation.
//!
//! | Erlang                         | Rust                               |
//! |--------------------------------|------------------------------------|
//! | `ok`                           | `Atom::new("ok")`                  |
//! | `list_to_atom("héllo")`        | `Atom::try_new("héllo")?`          |
//! | `atom_to_list(A)`              | `a.as_str()`                       |
//!
//! Atoms hold up to [`MAX_ATOM_CHARS`] Unicode characters (OTP's limit). The
//! table, like the BEAM's, is bounded ([`MAX_ATOMS`]) so a hostile peer cannot
//! exhaust memory by sending ever-new atoms.
//!
//! ```
//! use etf::Atom;
//! let ok = Atom::new("ok");
//! assert_eq!(ok, Atom::new("ok"));
//! assert_eq!(ok.as_str(), "ok");
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use parking_lot::RwLock;

/// The longest atom OTP accepts, in characters.
pub const MAX_ATOM_CHARS: usize = 255;

/// The most atoms this table will hold (the BEAM's default `+t` limit).
pub const MAX_ATOMS: usize = 1_048_576;

/// An interned Erlang atom.
///
/// Ordering (`Ord`) is by name, code point by code point, which is Erlang's
/// term order among atoms.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Atom(u32);

/// Why a name could not become an atom.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtomError {
    /// More than [`MAX_ATOM_CHARS`] characters.
    #[error("atom too long: {0} characters (at most 255)")]
    TooLong(usize),
    /// The atom table is full.
    #[error("atom table full ({MAX_ATOMS} atoms)")]
    TableFull,
}

struct Table {
    count: u32,
    index: HashMap<&'static str, u32>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        RwLock::new(Table {
            count: 0,
            index: HashMap::new(),
        })
    })
}

// Names are stored append-only in fixed segments so that `as_str` reads them
// without taking the table lock: a name slot is written once, before its
// index is ever handed out.
const SEGMENT_BITS: u32 = 10;
const SEGMENT_LEN: usize = 1 << SEGMENT_BITS;
const SEGMENTS: usize = MAX_ATOMS / SEGMENT_LEN;

type Segment = Box<[OnceLock<AtomInfo>]>;

/// What the table keeps per atom: its name, and what the encoder needs to
/// know about it so that writing an atom never rescans the name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AtomInfo {
    /// The name.
    pub name: &'static str,
    /// Every character is ASCII (so the name's bytes are also its Latin-1).
    pub ascii: bool,
    /// Every character is below U+0100 (representable as `ATOM_EXT`).
    pub latin1: bool,
}

const EMPTY_INFO: AtomInfo = AtomInfo {
    name: "",
    ascii: true,
    latin1: true,
};

static NAMES: [OnceLock<Segment>; SEGMENTS] = [const { OnceLock::new() }; SEGMENTS];

#[inline]
fn name_slot(i: u32) -> Option<&'static OnceLock<AtomInfo>> {
    let segment = NAMES.get((i >> SEGMENT_BITS) as usize)?;
    // Reading an existing atom: its segment is there (fast path, no init).
    if let Some(segment) = segment.get() {
        return segment.get(i as usize & (SEGMENT_LEN - 1));
    }
    let segment = segment.get_or_init(|| {
        (0..SEGMENT_LEN)
            .map(|_| OnceLock::new())
            .collect::<Vec<_>>()
            .into_boxed_slice()
    });
    segment.get(i as usize & (SEGMENT_LEN - 1))
}

// A small per-thread cache in front of the table: decoding the same atoms
// over and over (as every protocol does) then costs a hash and a compare,
// not a lock and a SipHash.
const CACHE_SLOTS: usize = 512;

thread_local! {
    // Each slot keeps the name beside the index, so a hit is one compare
    // with no further lookup.
    static CACHE: [Cell<(u32, &'static str)>; CACHE_SLOTS] =
        const { [const { Cell::new((u32::MAX, "")) }; CACHE_SLOTS] };
}

fn cache_slot(b: &[u8]) -> usize {
    // A folded multiply of the first and last 8 bytes (or fewer) and the
    // length: a few cycles whatever the length. Names that differ only in
    // their middle share a slot, which only costs a cache miss.
    let n = b.len();
    let u64_at = |i: usize| {
        b.get(i..i + 8)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let u32_at = |i: usize| {
        b.get(i..i + 4)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_le_bytes) as u64
    };
    let byte_at = |i: usize| b.get(i).copied().map_or(0, u64::from);
    // Overlapping reads instead of copying into a buffer (a copy followed
    // by a wide load is a store-forwarding stall).
    let (x, y) = if n >= 8 {
        (u64_at(0), u64_at(n - 8))
    } else if n >= 4 {
        (u32_at(0), u32_at(n - 4))
    } else if n > 0 {
        (byte_at(0) | byte_at(n / 2) << 8 | byte_at(n - 1) << 16, 0)
    } else {
        (0, 0)
    };
    let m =
        u128::from(x ^ 0x9e37_79b9_7f4a_7c15) * u128::from(y ^ n as u64 ^ 0xc2b2_ae3d_27d4_eb4f);
    ((m as u64) ^ ((m >> 64) as u64)) as usize % CACHE_SLOTS
}

/// `a == b`, without a `memcmp` call for names of up to 16 bytes (most
/// atoms): two overlapping 8-byte (or 4-byte) loads from each end cover
/// every byte. The call cost more than the rest of a cache hit.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let u64_at = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let u32_at = |s: &[u8], i: usize| {
        s.get(i..i + 4)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    match n {
        8..=16 => u64_at(a, 0) == u64_at(b, 0) && u64_at(a, n - 8) == u64_at(b, n - 8),
        4..=7 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4),
        _ => a == b,
    }
}

impl Atom {
    /// Interns `name`, which must be a valid atom name.
    ///
    /// # Panics
    /// If `name` is longer than 255 characters or the table is full: use
    /// [`Atom::try_new`] for names that come from outside.
    pub fn new(name: &str) -> Atom {
        match Atom::try_new(name) {
            Ok(atom) => atom,
            Err(e) => panic!("Atom::new({name:?}): {e}"),
        }
    }

    /// Interns `name`, or says why it cannot be an atom.
    pub fn try_new(name: &str) -> Result<Atom, AtomError> {
        let slot = cache_slot(name.as_bytes());
        // `try_with`: during thread teardown the cache may be gone; go to the table.
        let (cached, cached_name) = CACHE.try_with(|c| c[slot].get()).unwrap_or((u32::MAX, ""));
        if cached != u32::MAX && same_bytes(cached_name.as_bytes(), name.as_bytes()) {
            return Ok(Atom(cached));
        }
        let atom = Atom::intern(name)?;
        let _ = CACHE.try_with(|c| c[slot].set((atom.0, atom.as_str())));
        Ok(atom)
    }

    /// The atom named by the UTF-8 bytes `name`, if this thread's cache
    /// holds it: a decoder's fast path that skips UTF-8 validation (the
    /// cached name is valid UTF-8, and equal bytes are the same text).
    #[inline]
    pub(crate) fn cached_utf8(name: &[u8]) -> Option<Atom> {
        let (cached, cached_name) = CACHE
            .try_with(|c| c[cache_slot(name)].get())
            .unwrap_or((u32::MAX, ""));
        (cached != u32::MAX && same_bytes(cached_name.as_bytes(), name)).then_some(Atom(cached))
    }

    fn intern(name: &str) -> Result<Atom, AtomError> {
        if let Some(&i) = table().read().index.get(name) {
            return Ok(Atom(i));
        }
        // Cheap bound first: 255 characters are at most 1020 UTF-8 bytes.
        if name.len() > MAX_ATOM_CHARS {
            let chars = name.chars().count();
            if chars > MAX_ATOM_CHARS {
                return Err(AtomError::TooLong(chars));
            }
        }
        let mut t = table().write();
        if let Some(&i) = t.index.get(name) {
            return Ok(Atom(i));
        }
        if t.count as usize >= MAX_ATOMS {
            return Err(AtomError::TableFull);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let i = t.count;
        if let Some(slot) = name_slot(i) {
            let _ = slot.set(AtomInfo {
                name: leaked,
                ascii: leaked.is_ascii(),
                latin1: leaked.chars().all(|c| (c as u32) < 0x100),
            });
        }
        t.count += 1;
        t.index.insert(leaked, i);
        Ok(Atom(i))
    }

    /// The atom's slot in the table: stable for the life of the process.
    pub(crate) fn index(self) -> u32 {
        self.0
    }

    /// The atom in table slot `i`, as [`Atom::index`] gave it (the tape
    /// keeps atoms as their index).
    #[inline]
    pub(crate) fn from_index(i: u32) -> Atom {
        Atom(i)
    }

    /// The atom's name.
    pub fn as_str(&self) -> &'static str {
        self.info().name
    }

    /// The atom's table entry.
    #[inline]
    pub(crate) fn info(self) -> &'static AtomInfo {
        // Every Atom was created by `intern`, which filled its slot first.
        name_slot(self.0)
            .and_then(|s| s.get())
            .unwrap_or(&EMPTY_INFO)
    }

    /// `true` for `true`, `false` for `false`, `None` for any other atom.
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The atom's name needs quoting in Erlang syntax (`'EXIT'`, `'a b'`).
    pub fn needs_quotes(&self) -> bool {
        let s = self.as_str();
        let mut chars = s.chars();
        let Some(first) = chars.next() else {
            return true;
        };
        if !(first.is_lowercase()
            && (first.is_ascii_lowercase() || ('\u{df}'..='\u{ff}').contains(&first)))
        {
            return true;
        }
        if RESERVED.contains(&s) {
            return true;
        }
        !chars.all(|c| {
            c.is_ascii_alphanumeric()
                || c == '_'
                || c == '@'
                || (('\u{c0}'..='\u{ff}').contains(&c) && c != '\u{d7}' && c != '\u{f7}')
        })
    }
}

/// Erlang's reserved words: as atoms they must be quoted.
const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "else", "end", "fun", "if", "let", "maybe", "not", "of", "or",
    "orelse", "receive", "rem", "try", "when", "xor",
];

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            return std::cmp::Ordering::Equal;
        }
        // UTF-8 byte order is code point order.
        self.as_str().as_bytes().cmp(other.as_str().as_bytes())
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Prints the atom in Erlang syntax, quoted when needed: `ok`, `'EXIT'`.
impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.needs_quotes() {
            return f.write_str(self.as_str());
        }
        f.write_str("'")?;
        for c in self.as_str().chars() {
            crate::text::write_escaped_char(f, c, '\'')?;
        }
        f.write_str("'")
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::new(s)
    }
}

/// Atoms ferrotp uses everywhere, interned once.
pub mod atoms {
    use super::Atom;

    macro_rules! atoms {
        ($($fn:ident => $name:literal),* $(,)?) => {
            $(
                #[doc = concat!("The atom `", $name, "`.")]
                pub fn $fn() -> Atom {
                    static A: std::sync::OnceLock<Atom> = std::sync::OnceLock::new();
                    *A.get_or_init(|| Atom::new($name))
                }
            )*
        };
    }

    atoms! {
        ok => "ok",
        error => "error",
        true_ => "true",
        false_ => "false",
        undefined => "undefined",
        nonode => "nonode@nohost",
        normal => "normal",
        kill => "kill",
        killed => "killed",
        shutdown => "shutdown",
        noproc => "noproc",
        noconnection => "noconnection",
        exit_ => "EXIT",
        down => "DOWN",
        process => "process",
        timeout => "timeout",
        nil => "nil",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_in_any_one_byte_are_different_atoms() {
        // Every length the cache compares specially (0..=16 bytes, then a
        // longer one), each name changed at every position in turn.
        for n in 0..=20usize {
            let base: String = (0..n).map(|i| (b'a' + i as u8) as char).collect();
            let atom = Atom::new(&base);
            for i in 0..n {
                let mut other = base.clone().into_bytes();
                other[i] = b'Z';
                let other = String::from_utf8(other).unwrap();
                let changed = Atom::new(&other);
                assert_ne!(atom, changed, "{base:?} vs {other:?}");
                assert_eq!(changed.as_str(), other);
                assert_eq!(Atom::cached_utf8(other.as_bytes()), Some(changed));
                assert_ne!(Atom::cached_utf8(base.as_bytes()), Some(changed));
            }
            assert_eq!(Atom::new(&base), atom);
            assert_eq!(atom.as_str(), base);
        }
    }

    #[test]
    fn same_bytes_sees_every_byte_at_every_length() {
        for n in 0..=40usize {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!same_bytes(&a, &b), "length {n}, byte {i}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }
}
