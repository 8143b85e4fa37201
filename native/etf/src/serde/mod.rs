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
//! | `Vec<u8>` (a sequence, without serde_bytes) | list of bytes `[1,2]`          | binary                           |
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
//! See [`raw`] for how the token works in other serde formats.
//! A raw term cannot sit inside a `#[serde(untagged)]` enum or a
//! `#[serde(flatten)]`ed struct: serde buffers those through
//! `deserialize_any`, which has no way to carry a pid.
//!
//! # Bytes
//!
//! [`to_vec`] writes what `etf::encode(&to_term(&v)?)` would, byte for byte
//! (OTP 25's `term_to_binary/1`: `ATOM_EXT` for Latin-1 atoms, `STRING_EXT`
//! for lists of bytes, maps of up to 32 keys in map-key order, larger ones
//! in serialization order) without building the term.
//!
//! [`from_slice`] reads the bytes in one pass without building a [`Term`]
//! (only a raw-term field is decoded, by [`decode`](crate::decode())), so
//! `&str` and `&[u8]` fields borrow from the input. It reads every tag
//! `term_to_binary` writes, including compressed terms (tag 80, inflated
//! first; offsets then count in the inflated bytes). Lengths are checked
//! against the bytes left before anything is allocated, nesting deeper
//! than 128 is an error rather than a stack overflow, and unknown struct
//! fields are skipped without interning their atoms. Every error says at
//! which byte the offending term starts ([`Error::offset`]):
//! `at byte 1: expected tuple {bump, _}, found atom bump`.
//!
//! Measured by `benches/serde_from_slice.rs` (release, on a loaded 2-core
//! machine, so only the ratios mean much): `from_slice` is 1.3-2.9x faster
//! than `etf::decode` + [`from_term`] (a gen_server call with a pid and a
//! ref: 1.3x; a thousand small structs: 2x), and `to_vec` 1.3-10x faster
//! than [`to_term`] + `etf::encode`.

mod charlist;
mod de;
mod describe;
mod error;
mod map_keys;
pub mod raw;
mod ser;
mod term_de;
mod term_ser;
mod wire;

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

/// Encodes a Rust value as ETF bytes, exactly as `term_to_binary/1` (OTP 25
/// defaults) encodes the term [`to_term`] would give, without building it.
///
/// ```
/// let bytes = etf::to_vec(&(1u8, "a")).unwrap();
/// assert_eq!(bytes, [131, 104, 2, 97, 1, 109, 0, 0, 0, 1, b'a']);
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = vec![crate::tag::VERSION];
    value.serialize(ser::ByteSerializer::new(&mut out))?;
    Ok(out)
}

/// Decodes ETF bytes (`term_to_binary/1,2` output, compressed or not)
/// straight into a Rust value, without building a [`Term`] tree on the way.
/// Strings and byte slices can borrow from `bytes`. Errors carry the byte
/// offset of the term they are about ([`Error::offset`]); for a compressed
/// term it is an offset into the inflated bytes.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// #[serde(rename_all = "snake_case")]
/// enum Request { Bump(i64), Value }
///
/// // term_to_binary({bump, 5})
/// let bytes = [131, 104, 2, 100, 0, 4, b'b', b'u', b'm', b'p', 97, 5];
/// assert_eq!(etf::from_slice::<Request>(&bytes).unwrap(), Request::Bump(5));
/// ```
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    match bytes.first() {
        Some(&crate::tag::VERSION) => {}
        Some(b) => {
            return Err(Error::Syntax(format!("version byte {b}, expected 131")).at(0));
        }
        None => return Err(Error::Eof.at(0)),
    }
    if bytes.get(1) == Some(&crate::tag::COMPRESSED) {
        let inflated = inflate(bytes)?;
        let mut de = de::ByteDeserializer::new(de::OwnedInput(inflated), 0);
        return finish(T::deserialize(&mut de), &de);
    }
    let mut de = de::ByteDeserializer::new(de::SliceInput(bytes), 1);
    finish(T::deserialize(&mut de), &de)
}

fn finish<'de, T, R: de::Input<'de>>(
    value: Result<T, Error>,
    de: &de::ByteDeserializer<R>,
) -> Result<T, Error> {
    let value = value?;
    let left = de.len().saturating_sub(de.position());
    if left > 0 {
        return Err(Error::TrailingBytes(left).at(de.position()));
    }
    Ok(value)
}

/// Inflates `131, 80, Size:32, Zlib`, which must inflate to exactly `Size`
/// bytes and fill the input.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let size = bytes
        .get(2..6)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| Error::Eof.at(bytes.len()))? as usize;
    let zlib = bytes.get(6..).unwrap_or(&[]);
    let (body, used) = crate::compress::inflate(zlib, size)
        .map_err(|why| Error::Syntax(format!("compressed term {why}")).at(2))?;
    if used != zlib.len() {
        return Err(Error::TrailingBytes(zlib.len() - used).at(6 + used));
    }
    Ok(body)
}
