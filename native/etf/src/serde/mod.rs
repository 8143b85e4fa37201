//! serde between Rust types and Erlang terms.
//!
//! Typed Rust on top, terms at the edge: a `handle_call` receives an enum,
//! not a [`Term`]; this module maps one to the other.
//!
//! | Erlang                                | Rust                                  |
//! |---------------------------------------|---------------------------------------|
//! | `T` (a term in memory)                | `etf::to_term(&v)?` / `etf::from_term::<T>(&t)?` |
//! | `term_to_binary(T)`                   | `etf::to_vec(&v)?`                    |
//! | `binary_to_term(B)` then a match      | `etf::from_slice::<T>(&b)?`           |
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use etf::Term;
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Request {
//!     Bump(i64), // {bump, 5}
//!     Value,     // value
//! }
//!
//! let t = Term::tuple(vec![Term::atom("bump"), Term::Int(5)]);
//! assert_eq!(etf::from_term::<Request>(&t).unwrap(), Request::Bump(5));
//! assert_eq!(etf::to_term(&Request::Value).unwrap(), Term::atom("value"));
//!
//! let err = etf::from_term::<Request>(&Term::atom("bump")).unwrap_err();
//! assert_eq!(err.to_string(), "expected tuple {bump, _}, found atom bump");
//! ```
//!
//! # The mapping
//!
//! | Rust (serde data model)                     | Erlang term (serialized)       | Also accepted when deserializing |
//! |---------------------------------------------|--------------------------------|----------------------------------|
//! | `bool`                                      | `true`, `false`                |                                  |
//! | `i8`..`i128`, `u8`..`u128`                  | integer (a bignum when large)  | (must fit the Rust type)         |
//! | `f32`, `f64`                                | float (NaN/infinity: error)    | integer                          |
//! | `char`                                      | integer code point             |                                  |
//! | `String`, `&str`                            | UTF-8 binary `<<"a">>`         | charlist `"a"` / `[97]`, atom `a` |
//! | [`Charlist`]                                | charlist `[97]`                | binary, atom                     |
//! | bytes (`serialize_bytes`, `serde_bytes`)    | binary                         | list of bytes                    |
//! | `Option::None`                              | `undefined`                    | `nil` (Elixir's `nil`)           |
//! | `Some(v)`                                   | `v` itself                     |                                  |
//! | `()`                                        | `{}` (the empty tuple)         |                                  |
//! | unit struct `struct Ping;`                  | atom `'Ping'` (its serde name) |                                  |
//! | newtype struct `Meters(5)`                  | `5` (the inner value)          |                                  |
//! | `Vec<T>`, sets, sequences                   | proper list `[..]`             | binary (as a list of bytes)      |
//! | tuple `(A, B)`, tuple struct `P(A, B)`      | tuple `{A, B}` (same length)   |                                  |
//! | struct `S { a, b }`                         | map `#{a => A, b => B}`        | binary keys `#{<<"a">> => A}`    |
//! | `HashMap`, `BTreeMap` (any key type)        | map `#{K => V}`                |                                  |
//! | unit variant `E::Value`                     | atom `'Value'` (its serde name)| binary `<<"Value">>`             |
//! | newtype variant `E::Bump(5)`                | `{'Bump', 5}`                  |                                  |
//! | tuple variant `E::Move(1, 2)`               | `{'Move', 1, 2}`               |                                  |
//! | struct variant `E::Set { k: 1 }`            | `{'Set', #{k => 1}}`           |                                  |
//! | [`Term`], [`Pid`], [`Port`], [`Reference`], [`Fun`], [`Atom`], [`Map`], [`BitString`] | the term itself, untouched | |
//!
//! Names (struct fields, variants, unit structs) are used exactly as serde
//! reports them, so `E::Value` is the atom `'Value'`: add
//! `#[serde(rename_all = "snake_case")]` to an enum to get Erlang's `value`,
//! or `#[serde(rename = "ping")]` to a unit struct. Deserializing, a string
//! can be read from an atom, so an identifier or a `String` field accepts
//! `value` as well as `<<"value">>`.
//!
//! `()` is the zero-element tuple `{}` because a Rust tuple of any other
//! length is an Erlang tuple of that length; Erlang's `ok` is best written
//! as a unit variant or a unit struct renamed `ok`.
//!
//! Shape mismatches are [`Error::Mismatch`] errors that name both sides
//! (`expected tuple {bump, _}, found atom bump`), never panics.
//!
//! # Raw terms
//!
//! A field of type [`Term`] (or [`Pid`], [`Reference`], ...) holds any term
//! and passes through [`to_term`], [`from_term`], [`to_vec`] and
//! [`from_slice`] untouched, like `serde_json::value::RawValue`. That is how
//! a gen_server call's `{'$gen_call', {Pid, Tag}, Request}` decodes:
//!
//! ```
//! use etf::{Pid, Term};
//! #[derive(serde::Deserialize)]
//! struct GenCall(Term, (Pid, Term), Term); // '$gen_call', From, Request
//! ```
//!
//! See [`raw`](self::raw) for how the token works in other serde formats.

mod charlist;
mod describe;
mod error;
pub mod raw;
mod term_de;
mod term_ser;

pub use charlist::Charlist;
pub use error::Error;
pub use term_de::TermDeserializer;
pub use term_ser::TermSerializer;

use serde::de::{Deserialize, DeserializeOwned};
use serde::ser::Serialize;

use crate::term::Term;
#[allow(unused_imports)] // for the doc links above
use crate::{Atom, BitString, Fun, Map, Pid, Port, Reference};

/// Converts a Rust value into a [`Term`], by the mapping in [the module doc](self).
///
/// ```
/// let t = etf::to_term(&(1u8, "a")).unwrap();
/// assert_eq!(t, etf::Term::tuple(vec![etf::Term::Int(1), etf::Term::binary(&b"a"[..])]));
/// ```
pub fn to_term<T: Serialize + ?Sized>(value: &T) -> Result<Term, Error> {
    value.serialize(TermSerializer)
}

/// Reads a Rust value out of a [`Term`], by the mapping in [the module doc](self).
///
/// ```
/// let t = etf::Term::List(vec![etf::Term::Int(1), etf::Term::Int(2)]);
/// assert_eq!(etf::from_term::<Vec<u8>>(&t).unwrap(), vec![1, 2]);
/// ```
pub fn from_term<T: DeserializeOwned>(term: &Term) -> Result<T, Error> {
    T::deserialize(TermDeserializer::new(term))
}

/// Like [`from_term`], but the value may borrow strings and bytes from the term's binaries.
///
/// ```
/// let t = etf::Term::binary(&b"hello"[..]);
/// let s: &str = etf::from_term_ref(&t).unwrap();
/// assert_eq!(s, "hello");
/// ```
pub fn from_term_ref<'a, T: Deserialize<'a>>(term: &'a Term) -> Result<T, Error> {
    T::deserialize(TermDeserializer::new(term))
}
