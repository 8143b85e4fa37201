//! # ferrotp-etf: the Erlang External Term Format
//!
//! A pure codec: bytes in, terms out; no I/O and no runtime. Everything else
//! in ferrotp speaks its [`Term`], [`Atom`] and [`Pid`].
//!
//! | Erlang                          | Rust                              |
//! |---------------------------------|-----------------------------------|
//! | `binary_to_term(B)`             | `etf::decode(&b)?`                |
//! | `term_to_binary(T)`             | `etf::encode(&t)`                 |
//! | `term_to_binary(T, Opts)`       | `etf::encode_with(&t, &opts)`     |
//! | `term_to_iovec(T)` (large binaries shared) | `etf::encode_iovec(&t)`  |
//! | `binary_to_term(B, [used])`     | `etf::decode_prefix(&b)?`         |
//! | (zero-copy binaries)            | `etf::decode_bytes(bytes)?`       |
//! | `binary_to_term(B)`, read in place (no tree) | `etf::tape::decode(&b)?.root()` (see [`tape`]: when to use it) |
//! | (dist: no 131, atom cache)      | `etf::decode_with(&b, &opts)?`, `etf::encode_body_into(..)` |
//! | `A < B`, `lists:sort/1`         | `Ord for Term` ([`order`])        |
//! | `io:format("~tp", [T])`         | `t.to_string()`                   |
//! | `erl_scan` + `erl_parse`        | `etf::parse(text)?`               |
//! | a term as a Rust type (serde)    | `etf::from_term::<T>(&t)?`, `etf::to_term(&v)?` |
//! | `term_to_binary`/`binary_to_term` of a Rust type | `etf::to_vec(&v)?`, `etf::from_slice::<T>(&b)?` (see [`serde`]) |

#![deny(missing_docs)]

pub mod atom;
mod compress;
mod copy;
pub mod decode;
pub mod encode;
pub mod error;
mod hamt;
pub mod order;
pub mod serde;
pub mod tag;
pub mod tape;
pub mod term;
pub mod text;

pub use crate::serde::{from_slice, from_term, from_term_ref, to_term, to_vec};
pub use atom::{Atom, AtomError};
pub use decode::{
    decode, decode_body, decode_body_prefix, decode_bytes, decode_bytes_with, decode_prefix,
    decode_with, DecodeOptions, DEFAULT_MAX_DEPTH,
};
pub use encode::{
    encode, encode_body_into, encode_body_with_atom_refs, encode_into, encode_iovec,
    encode_iovec_with, encode_with, EncodeOptions, IOVEC_SHARE_ABOVE,
};
pub use error::{DecodeError, DecodeErrorKind};
pub use term::{BitString, Fun, Map, Pid, Port, Reference, Term};
pub use text::{parse, ParseError, ParseErrorKind};
