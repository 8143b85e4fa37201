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
    names: Vec<&'static str>,
    index: HashMap<&'static str, u32>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        RwLock::new(Table {
            names: Vec::new(),
            index: HashMap::new(),
        })
    })
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
        if let Some(&i) = table().read().index.get(name) {
            return Ok(Atom(i));
        }
        let chars = name.chars().count();
        if chars > MAX_ATOM_CHARS {
            return Err(AtomError::TooLong(chars));
        }
        let mut t = table().write();
        if let Some(&i) = t.index.get(name) {
            return Ok(Atom(i));
        }
        if t.names.len() >= MAX_ATOMS {
            return Err(AtomError::TableFull);
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let i = t.names.len() as u32;
        t.names.push(leaked);
        t.index.insert(leaked, i);
        Ok(Atom(i))
    }

    /// The atom's name.
    pub fn as_str(&self) -> &'static str {
        // Every Atom was created by `try_new`, so the index exists.
        table().read().names[self.0 as usize]
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
        self.as_str().chars().cmp(other.as_str().chars())
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
