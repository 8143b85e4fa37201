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

type Segment = Box<[OnceLock<&'static str>]>;

static NAMES: [OnceLock<Segment>; SEGMENTS] = [const { OnceLock::new() }; SEGMENTS];

fn name_slot(i: u32) -> Option<&'static OnceLock<&'static str>> {
    let segment = NAMES.get((i >> SEGMENT_BITS) as usize)?.get_or_init(|| {
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
    static CACHE: [Cell<u32>; CACHE_SLOTS] = const { [const { Cell::new(u32::MAX) }; CACHE_SLOTS] };
}

fn cache_slot(name: &str) -> usize {
    // FNV-1a over at most the first and last 16 bytes: cheap, and good
    // enough to spread atom names over the slots.
    let b = name.as_bytes();
    let mut h: u32 = 0x811c_9dc5 ^ b.len() as u32;
    let head = &b[..b.len().min(16)];
    let tail = &b[b.len().saturating_sub(16)..];
    for &x in head.iter().chain(tail) {
        h = (h ^ x as u32).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as usize % CACHE_SLOTS
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
        let slot = cache_slot(name);
        let cached = CACHE.with(|c| c[slot].get());
        if cached != u32::MAX && Atom(cached).as_str() == name {
            return Ok(Atom(cached));
        }
        let atom = Atom::intern(name)?;
        CACHE.with(|c| c[slot].set(atom.0));
        Ok(atom)
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
            let _ = slot.set(leaked);
        }
        t.count += 1;
        t.index.insert(leaked, i);
        Ok(Atom(i))
    }

    /// The atom's slot in the table: stable for the life of the process.
    pub(crate) fn index(self) -> u32 {
        self.0
    }

    /// The atom's name.
    pub fn as_str(&self) -> &'static str {
        // Every Atom was created by `intern`, which filled its slot first.
        name_slot(self.0)
            .and_then(|s| s.get())
            .copied()
            .unwrap_or("")
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
