//! Why bytes are not a term: every decode error names its byte offset.
//!
//! | Erlang                                   | Rust                                        |
//! |------------------------------------------|---------------------------------------------|
//! | `binary_to_term(<<131,107,0>>)` → badarg | `Err(DecodeError { offset: 2, kind: UnexpectedEof })` |
//!
//! Where the BEAM says `badarg`, ferrotp says what was wrong and where:
//!
//! ```
//! let err = etf::decode(&[131, 108, 255, 255, 255, 255, 106]).unwrap_err();
//! assert_eq!(err.to_string(), "at byte 2: list length 4294967295 exceeds remaining input");
//! ```

use crate::atom::AtomError;

/// A decode failure: what went wrong ([`DecodeErrorKind`]) and at which byte.
///
/// The offset counts from the start of the input given to the decoder; for
/// an error inside a compressed term (tag 80) it counts into the inflated
/// data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset of the offending tag, length or field.
    pub offset: usize,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ends in the middle of a term.
    #[error("unexpected end of input")]
    UnexpectedEof,
    /// The first byte is not the version magic 131.
    #[error("bad version byte {0} (expected 131)")]
    BadVersion(u8),
    /// A tag byte that is not a term tag OTP 25-27 produces.
    #[error("unknown tag {0}")]
    UnknownTag(u8),
    /// `LOCAL_EXT` (121): only meaningful to the VM instance that encoded it.
    #[error("LOCAL_EXT (tag 121) is only decodable by the node that encoded it")]
    LocalExt,
    /// `ATOM_CACHE_REF` (82) with no atom cache, or naming an empty cache slot.
    #[error("ATOM_CACHE_REF (tag 82) to index {0} outside a distribution header's atom cache")]
    AtomCacheRef(u8),
    /// An atom that cannot be interned (too long, or the atom table is full).
    #[error("invalid atom: {0}")]
    InvalidAtom(AtomError),
    /// A UTF-8 atom whose bytes are not UTF-8.
    #[error("atom text is not valid UTF-8")]
    InvalidUtf8,
    /// A float that is not a finite IEEE 754 double (or an unparsable `FLOAT_EXT`).
    #[error("invalid float")]
    InvalidFloat,
    /// A `BIT_BINARY_EXT` whose bit count is not 1..=8, or that is empty.
    #[error("invalid bitstring: {len} bytes with {bits} bits in the last")]
    InvalidBitString {
        /// Declared byte length.
        len: u32,
        /// Declared bits used in the last byte.
        bits: u8,
    },
    /// A reference with no id words, or more than OTP's five.
    #[error("reference with {0} id words (expected 1..=5)")]
    InvalidReference(u16),
    /// A fun (`NEW_FUN_EXT` or `EXPORT_EXT`) whose framing is malformed.
    #[error("malformed fun")]
    InvalidFun,
    /// A map with the same key twice (the BEAM rejects these too).
    #[error("duplicate map key")]
    DuplicateMapKey,
    /// Terms nested deeper than the decoder's `max_depth`.
    #[error("terms nested deeper than {0}")]
    TooDeep(usize),
    /// A declared length larger than the input could possibly hold.
    #[error("{what} length {len} exceeds remaining input")]
    Oversized {
        /// Which length (`list`, `tuple`, `binary`, ...).
        what: &'static str,
        /// The declared length.
        len: u64,
    },
    /// Bytes left after a complete term where none were expected.
    #[error("{0} trailing bytes after the term")]
    TrailingBytes(usize),
    /// A compressed term (tag 80) whose zlib data is bad, or inflates to
    /// anything but exactly the declared size.
    #[error("bad compressed term: {0}")]
    BadCompressed(&'static str),
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset, kind }
    }
}
