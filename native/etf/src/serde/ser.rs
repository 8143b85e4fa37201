//! Rust values straight to ETF bytes: the `Serializer` behind [`to_vec`](crate::serde::to_vec).
//!
//! The bytes are exactly `term_to_binary(to_term(V))` on OTP 25 with default
//! options, without building the term first:
//!
//! | term                              | tag written                                         |
//! |-----------------------------------|-----------------------------------------------------|
//! | atom, all chars Latin-1           | `ATOM_EXT` (100), Latin-1 bytes                     |
//! | other atoms                       | `SMALL_ATOM_UTF8_EXT` (119), else `ATOM_UTF8_EXT` (118) |
//! | integer `0..=255`                 | `SMALL_INTEGER_EXT` (97)                            |
//! | integer in `i32`                  | `INTEGER_EXT` (98)                                  |
//! | other integers                    | `SMALL_BIG_EXT` (110), `LARGE_BIG_EXT` (111)        |
//! | float                             | `NEW_FLOAT_EXT` (70)                                |
//! | binary                            | `BINARY_EXT` (109)                                  |
//! | list of `0..=255`, < 65536 long   | `STRING_EXT` (107)                                  |
//! | other lists; `[]`                 | `LIST_EXT` (108); `NIL_EXT` (106)                   |
//! | tuple                             | `SMALL_TUPLE_EXT` (104), `LARGE_TUPLE_EXT` (105)    |
//! | map                               | `MAP_EXT` (116), keys in map-key order when <= 32   |
//!
//! Lists are written with a `LIST_EXT` header whose count is patched at the
//! end, and turned into `STRING_EXT` in place when every element turned out
//! to be a small integer. Map values are written to a scratch buffer so the
//! entries can be sorted by key before they are copied out; struct fields
//! are written in place and put in key order at the end (see [`StructWriter`]).
//! Raw terms (a [`Term`] field) and non-atom map keys are written by
//! [`encode_body_into`], the encoder behind [`etf::encode`](crate::encode()),
//! so `to_vec(v) == etf::encode(&to_term(v)?)`.

use std::cell::{Cell, RefCell};
use std::ops::Range;

use serde::ser::{self, Serialize};

use crate::atom::Atom;
use crate::encode::{encode_body_into, EncodeOptions};
use crate::serde::error::Error;
use crate::serde::term_ser::TermSerializer;
use crate::serde::{map_keys, raw};
use crate::tag;
use crate::term::Term;

/// Serializes straight into ETF bytes (no version byte: [`to_vec`](crate::serde::to_vec) adds it).
pub(crate) struct ByteSerializer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> ByteSerializer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> ByteSerializer<'a> {
        ByteSerializer { out }
    }
}

fn len_u32(n: usize, what: &str) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::Custom(format!("{what} too long for ETF: {n}")))
}

pub(crate) fn write_atom(out: &mut Vec<u8>, name: &str) -> Result<(), Error> {
    if name.is_ascii() {
        // The common case (field and variant names): one byte a character.
        if name.len() > crate::atom::MAX_ATOM_CHARS {
            return Err(crate::atom::AtomError::TooLong(name.len()).into());
        }
        out.push(tag::ATOM_EXT);
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        return Ok(());
    }
    let chars = name.chars().count();
    if chars > crate::atom::MAX_ATOM_CHARS {
        return Err(crate::atom::AtomError::TooLong(chars).into());
    }
    if name.chars().all(|c| (c as u32) <= 0xff) {
        out.push(tag::ATOM_EXT);
        out.extend_from_slice(&(chars as u16).to_be_bytes());
        out.extend(name.chars().map(|c| c as u8));
    } else if name.len() <= 255 {
        out.push(tag::SMALL_ATOM_UTF8_EXT);
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
    } else {
        out.push(tag::ATOM_UTF8_EXT);
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    Ok(())
}

pub(crate) fn write_i64(out: &mut Vec<u8>, v: i64) {
    if (0..=255).contains(&v) {
        out.push(tag::SMALL_INTEGER_EXT);
        out.push(v as u8);
    } else if let Ok(i) = i32::try_from(v) {
        out.push(tag::INTEGER_EXT);
        out.extend_from_slice(&i.to_be_bytes());
    } else {
        write_big(out, v < 0, &v.unsigned_abs().to_le_bytes());
    }
}

fn write_i128(out: &mut Vec<u8>, v: i128) {
    match i64::try_from(v) {
        Ok(i) => write_i64(out, i),
        Err(_) => write_big(out, v < 0, &v.unsigned_abs().to_le_bytes()),
    }
}

fn write_u128(out: &mut Vec<u8>, v: u128) {
    match i64::try_from(v) {
        Ok(i) => write_i64(out, i),
        Err(_) => write_big(out, false, &v.to_le_bytes()),
    }
}

/// A bignum from its magnitude, little-endian (high zero bytes are dropped).
fn write_big(out: &mut Vec<u8>, negative: bool, magnitude_le: &[u8]) {
    let used = magnitude_le
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    let digits = &magnitude_le[..used];
    if let Ok(n) = u8::try_from(digits.len()) {
        out.push(tag::SMALL_BIG_EXT);
        out.push(n);
    } else {
        out.push(tag::LARGE_BIG_EXT);
        out.extend_from_slice(&(digits.len() as u32).to_be_bytes());
    }
    out.push(u8::from(negative));
    out.extend_from_slice(digits);
}

fn write_float(out: &mut Vec<u8>, f: f64) -> Result<(), Error> {
    if !f.is_finite() {
        return Err(Error::NonFiniteFloat(f));
    }
    out.push(tag::NEW_FLOAT_EXT);
    out.extend_from_slice(&f.to_bits().to_be_bytes());
    Ok(())
}

fn write_binary(out: &mut Vec<u8>, b: &[u8]) -> Result<(), Error> {
    out.push(tag::BINARY_EXT);
    out.extend_from_slice(&len_u32(b.len(), "binary")?.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

fn write_tuple_header(out: &mut Vec<u8>, arity: usize) -> Result<(), Error> {
    if let Ok(a) = u8::try_from(arity) {
        out.push(tag::SMALL_TUPLE_EXT);
        out.push(a);
    } else {
        out.push(tag::LARGE_TUPLE_EXT);
        out.extend_from_slice(&len_u32(arity, "tuple")?.to_be_bytes());
    }
    Ok(())
}

/// Writes a list's elements (already encoded after a 5-byte `LIST_EXT`
/// header placeholder at `start`) as `NIL_EXT`, `STRING_EXT` or `LIST_EXT`.
fn finish_list(out: &mut Vec<u8>, start: usize, count: usize) -> Result<(), Error> {
    if count == 0 {
        out.truncate(start);
        out.push(tag::NIL_EXT);
        return Ok(());
    }
    let body = start + 5;
    let all_small = count <= u16::MAX as usize
        && out.len() - body == 2 * count
        && (0..count).all(|i| out.get(body + 2 * i) == Some(&tag::SMALL_INTEGER_EXT));
    if all_small {
        // In place: byte i of the string comes from offset 2i+1 >= i + 2 of the body.
        out[start] = tag::STRING_EXT;
        out[start + 1..start + 3].copy_from_slice(&(count as u16).to_be_bytes());
        for i in 0..count {
            out[start + 3 + i] = out[body + 2 * i + 1];
        }
        out.truncate(start + 3 + count);
    } else {
        out[start] = tag::LIST_EXT;
        out[start + 1..body].copy_from_slice(&len_u32(count, "list")?.to_be_bytes());
        out.push(tag::NIL_EXT);
    }
    Ok(())
}

/// Writes entries whose keys are terms and whose values are already encoded in `scratch`.
fn write_map(
    out: &mut Vec<u8>,
    entries: Vec<(Term, Range<usize>)>,
    scratch: &[u8],
) -> Result<(), Error> {
    let mut entries = map_keys::dedupe(entries);
    map_keys::beam_order(&mut entries);
    out.push(tag::MAP_EXT);
    out.extend_from_slice(&len_u32(entries.len(), "map")?.to_be_bytes());
    for (key, value) in entries {
        write_term(out, &key);
        out.extend_from_slice(scratch.get(value).unwrap_or(&[]));
    }
    Ok(())
}

/// Writes any term as `term_to_binary/1` does (without the version byte).
fn write_term(out: &mut Vec<u8>, term: &Term) {
    encode_body_into(term, &EncodeOptions::default(), out);
}

impl<'a> ser::Serializer for ByteSerializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqWriter<'a>;
    type SerializeTuple = TupleWriter<'a>;
    type SerializeTupleStruct = TupleWriter<'a>;
    type SerializeTupleVariant = TupleWriter<'a>;
    type SerializeMap = MapWriter<'a>;
    type SerializeStruct = StructWriter<'a>;
    type SerializeStructVariant = StructWriter<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        write_atom(self.out, if v { "true" } else { "false" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        write_i64(self.out, v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        write_i128(self.out, v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        write_i64(self.out, v.into());
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        write_u128(self.out, v.into());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        write_u128(self.out, v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        write_float(self.out, v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        write_float(self.out, v)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_i64(self.out, u32::from(v).into());
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_binary(self.out, v.as_bytes())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        write_binary(self.out, v)
    }

    fn serialize_none(self) -> Result<(), Error> {
        write_atom(self.out, "undefined")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        write_tuple_header(self.out, 0)
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), Error> {
        write_atom(self.out, name)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        write_atom(self.out, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if name == raw::TOKEN {
            let term = raw::capture(value)?;
            write_term(self.out, &term);
            Ok(())
        } else {
            value.serialize(self)
        }
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        write_tuple_header(self.out, 2)?;
        write_atom(self.out, variant)?;
        value.serialize(ByteSerializer { out: self.out })
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<SeqWriter<'a>, Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[tag::LIST_EXT, 0, 0, 0, 0]);
        Ok(SeqWriter {
            out: self.out,
            start,
            count: 0,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<TupleWriter<'a>, Error> {
        write_tuple_header(self.out, len)?;
        Ok(TupleWriter { out: self.out })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<TupleWriter<'a>, Error> {
        self.serialize_tuple(len)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleWriter<'a>, Error> {
        write_tuple_header(self.out, len.saturating_add(1))?;
        write_atom(self.out, variant)?;
        Ok(TupleWriter { out: self.out })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapWriter<'a>, Error> {
        Ok(MapWriter {
            out: self.out,
            scratch: Vec::new(),
            entries: Vec::new(),
            key: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructWriter<'a>, Error> {
        Ok(StructWriter::new(self.out, len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructWriter<'a>, Error> {
        write_tuple_header(self.out, 2)?;
        write_atom(self.out, variant)?;
        self.serialize_struct(variant, len)
    }
}

/// Writes a list (see [`finish_list`]).
#[doc(hidden)]
pub struct SeqWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    count: usize,
}

impl ser::SerializeSeq for SeqWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.count += 1;
        value.serialize(ByteSerializer { out: self.out })
    }

    fn end(self) -> Result<(), Error> {
        finish_list(self.out, self.start, self.count)
    }
}

/// Writes a tuple's elements after its header.
#[doc(hidden)]
pub struct TupleWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::SerializeTuple for TupleWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(ByteSerializer { out: self.out })
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for TupleWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for TupleWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

/// Writes a map: keys become terms (to be sorted), values go to `scratch`.
#[doc(hidden)]
pub struct MapWriter<'a> {
    out: &'a mut Vec<u8>,
    scratch: Vec<u8>,
    entries: Vec<(Term, Range<usize>)>,
    key: Option<Term>,
}

impl ser::SerializeMap for MapWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(TermSerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::Custom("map value serialized before its key".into()))?;
        let start = self.scratch.len();
        value.serialize(ByteSerializer {
            out: &mut self.scratch,
        })?;
        self.entries.push((key, start..self.scratch.len()));
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        write_map(self.out, self.entries, &self.scratch)
    }
}

/// A struct field written in place: its name, where its key starts in the
/// output, and where its value starts and ends.
type Field = (&'static str, usize, Range<usize>);

thread_local! {
    /// Field lists of finished structs, kept for the next ones.
    static SPARE_FIELDS: RefCell<Vec<Vec<Field>>> = const { RefCell::new(Vec::new()) };
    /// A buffer for putting a struct's fields in order, kept likewise.
    static SPARE_BYTES: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Field names in atom order: by their first bytes, which nearly always
/// differ, without a call to `memcmp`; else as strings.
fn field_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// How many field lists a thread keeps (one per level of nested structs).
const SPARE_LISTS: usize = 16;
/// The largest ordering buffer a thread keeps.
const SPARE_BYTES_MAX: usize = 64 * 1024;

/// Writes a struct as a map with atom keys (after `{Tag, ` for a struct variant).
///
/// Each field's key and value are written straight to the output, in the
/// order they come; at the end the map's count is filled in and, if the
/// fields were not in key order, they are put in it (a copy through a
/// buffer the thread keeps). Field names are `&'static str`s compared as
/// strings: UTF-8 byte order is code point order, which is Erlang's order
/// of atoms, so no atom is interned. Once a thread has written a struct,
/// writing another allocates nothing.
#[doc(hidden)]
pub struct StructWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Where the `MAP_EXT` header starts.
    header: usize,
    fields: Vec<Field>,
}

impl<'a> StructWriter<'a> {
    fn new(out: &'a mut Vec<u8>, len: usize) -> StructWriter<'a> {
        let header = out.len();
        out.push(tag::MAP_EXT);
        out.extend_from_slice(&[0; 4]);
        let mut fields = SPARE_FIELDS
            .with(|spare| spare.borrow_mut().pop())
            .unwrap_or_default();
        fields.reserve(len.min(map_keys::MAX_FLATMAP));
        StructWriter {
            out,
            header,
            fields,
        }
    }

    /// Whether a (more than flatmap-sized) struct repeats a field.
    fn has_repeated_field(&self) -> bool {
        let mut names: Vec<&str> = self.fields.iter().map(|(k, ..)| *k).collect();
        names.sort_unstable();
        names.windows(2).any(|w| w[0] == w[1])
    }

    /// Puts the written fields in key order (or, for a hand-written
    /// `Serialize` that repeats a field, writes the map the general way).
    fn reorder(&mut self) -> Result<(), Error> {
        let flat = self.fields.len() <= map_keys::MAX_FLATMAP;
        // Stable: repeated fields stay in the order they were written.
        if flat {
            self.fields.sort_by(|p, q| field_order(p.0, q.0));
        }
        let repeated = !flat || self.fields.windows(2).any(|w| w[0].0 == w[1].0);
        let body = self.header + 5;
        let mut moved = SPARE_BYTES.with(Cell::take);
        moved.clear();
        moved.extend_from_slice(self.out.get(body..).unwrap_or(&[]));
        self.out.truncate(self.header);
        let rebase = |r: Range<usize>| r.start - body..r.end - body;
        let written = if repeated {
            let entries = self
                .fields
                .drain(..)
                .map(|(k, _, value)| Ok((Term::Atom(Atom::try_new(k)?), rebase(value))))
                .collect::<Result<Vec<_>, Error>>()?;
            write_map(self.out, entries, &moved)
        } else {
            self.out.push(tag::MAP_EXT);
            self.out
                .extend_from_slice(&len_u32(self.fields.len(), "map")?.to_be_bytes());
            for (_, key, value) in &self.fields {
                let field = rebase(*key..value.end);
                self.out.extend_from_slice(moved.get(field).unwrap_or(&[]));
            }
            Ok(())
        };
        if moved.capacity() <= SPARE_BYTES_MAX {
            SPARE_BYTES.with(|spare| spare.set(moved));
        }
        written
    }
}

impl ser::SerializeStruct for StructWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let key_at = self.out.len();
        write_atom(self.out, key)?;
        let start = self.out.len();
        value.serialize(ByteSerializer {
            out: &mut *self.out,
        })?;
        self.fields.push((key, key_at, start..self.out.len()));
        Ok(())
    }

    fn end(mut self) -> Result<(), Error> {
        // A flatmap is written in key order; a larger map in field order.
        let in_place = if self.fields.len() <= map_keys::MAX_FLATMAP {
            self.fields
                .windows(2)
                .all(|w| field_order(w[0].0, w[1].0).is_lt())
        } else {
            !self.has_repeated_field()
        };
        let written = if !in_place {
            self.reorder()
        } else {
            let count = len_u32(self.fields.len(), "map")?.to_be_bytes();
            if let Some(at) = self.out.get_mut(self.header + 1..self.header + 5) {
                at.copy_from_slice(&count);
            }
            Ok(())
        };
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        SPARE_FIELDS.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARE_LISTS {
                spare.push(fields);
            }
        });
        written
    }
}

impl ser::SerializeStructVariant for StructWriter<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeStruct::end(self)
    }
}
