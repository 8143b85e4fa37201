//! The one error type of [`etf::serde`](crate::serde): what did not fit, and where.
//!
//! Erlang reports a failed match as `{badmatch, Value}`; here a term that does
//! not have the shape a Rust type needs is an [`Error::Mismatch`] that names
//! both sides: `expected tuple {bump, _}, found atom value`.

use std::fmt;

use crate::atom::AtomError;

/// Why a Rust value could not become a term, or a term (or ETF bytes) could
/// not become a Rust value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The term does not have the shape the Rust type needs.
    #[error("expected {expected}, found {found}")]
    Mismatch {
        /// What the Rust type needed (`tuple {bump, _}`, `u8`, `map`).
        expected: String,
        /// What the term was (`atom value`, `integer 300`).
        found: String,
    },
    /// A message from a `Serialize`/`Deserialize` implementation
    /// (`missing field`, `unknown variant`, ...).
    #[error("{0}")]
    Custom(String),
    /// A name that cannot be an atom (too long, or the atom table is full).
    #[error(transparent)]
    Atom(#[from] AtomError),
    /// A float Erlang cannot represent (NaN or an infinity).
    #[error("Erlang floats cannot be NaN or infinite, got {0}")]
    NonFiniteFloat(f64),
    /// The ETF bytes ended in the middle of a term.
    #[error("unexpected end of input")]
    Eof,
    /// The ETF bytes are not a valid term (bad tag, bad length, bad UTF-8...).
    #[error("invalid ETF: {0}")]
    Syntax(String),
    /// Bytes were left after the term.
    #[error("{0} trailing bytes after the term")]
    TrailingBytes(usize),
    /// An error at a byte offset of the ETF input (offset 0 is the version byte 131).
    #[error("at byte {offset}: {source}")]
    At {
        /// Offset of the term being decoded when the error happened.
        offset: usize,
        /// What went wrong there.
        source: Box<Error>,
    },
}

impl Error {
    /// A shape mismatch.
    pub fn mismatch(expected: impl fmt::Display, found: impl fmt::Display) -> Error {
        Error::Mismatch {
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// The byte offset of the input the error happened at, for errors from bytes.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::At { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// The error without its byte offset.
    pub fn kind(&self) -> &Error {
        match self {
            Error::At { source, .. } => source,
            e => e,
        }
    }

    /// Attaches `offset`, unless an (inner, more precise) offset is already there.
    #[allow(dead_code)] // used by the bytes deserializer
    pub(crate) fn at(self, offset: usize) -> Error {
        match self {
            e @ Error::At { .. } => e,
            e => Error::At {
                offset,
                source: Box::new(e),
            },
        }
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::Custom(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::Custom(msg.to_string())
    }

    fn invalid_type(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Error {
        Error::mismatch(exp, unexp)
    }

    fn invalid_value(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Error {
        Error::mismatch(exp, unexp)
    }

    fn invalid_length(len: usize, exp: &dyn serde::de::Expected) -> Error {
        Error::mismatch(exp, format_args!("{len} elements"))
    }
}
