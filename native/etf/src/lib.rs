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
//! | `io:format("~tp", [T])`         | `t.to_string()`                   |
//! | `erl_scan` + `erl_parse`        | `etf::parse(text)?`               |
//! | a term as a Rust type            | `etf::from_term::<T>(&t)?`, `etf::to_term(&v)?` (see [`serde`](crate::serde)) |

#![deny(missing_docs)]

pub mod atom;
pub mod serde;
pub mod term;
pub mod text;

pub use crate::serde::{from_slice, from_term, from_term_ref, to_term, to_vec};
pub use atom::{Atom, AtomError};
pub use term::{BitString, Fun, Map, Pid, Port, Reference, Term};
