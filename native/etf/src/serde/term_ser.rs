//! Rust values to [`Term`]s: the `Serializer` behind [`to_term`](crate::serde::to_term).
//!
//! Rows of the mapping table in [`etf::serde`](crate::serde) are implemented
//! here one `serialize_*` method each.

use num_bigint::BigInt;
use serde::ser::{self, Serialize};

use crate::atom::Atom;
use crate::serde::error::Error;
use crate::serde::{map_keys, raw};
use crate::term::{Map, Term};

/// Serializes into a [`Term`] (`erlang:term_to_binary/1`'s input, not its output).
#[derive(Clone, Copy, Debug, Default)]
pub struct TermSerializer;

/// Preallocation never trusts a `len` hint beyond this many elements.
const MAX_PREALLOC: usize = 4096;

fn atom(name: &str) -> Result<Term, Error> {
    Ok(Term::Atom(Atom::try_new(name)?))
}

fn float(f: f64) -> Result<Term, Error> {
    if f.is_finite() {
        Ok(Term::Float(f))
    } else {
        Err(Error::NonFiniteFloat(f))
    }
}

impl ser::Serializer for TermSerializer {
    type Ok = Term;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = TupleBuilder;
    type SerializeTupleStruct = TupleBuilder;
    type SerializeTupleVariant = TupleBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = StructBuilder;

    fn serialize_bool(self, v: bool) -> Result<Term, Error> {
        atom(if v { "true" } else { "false" })
    }

    fn serialize_i8(self, v: i8) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result<Term, Error> {
        Ok(Term::Int(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Term, Error> {
        Ok(Term::from_bigint(BigInt::from(v)))
    }

    fn serialize_u8(self, v: u8) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_u16(self, v: u16) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_u32(self, v: u32) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }

    fn serialize_u64(self, v: u64) -> Result<Term, Error> {
        Ok(Term::from_bigint(BigInt::from(v)))
    }

    fn serialize_u128(self, v: u128) -> Result<Term, Error> {
        Ok(Term::from_bigint(BigInt::from(v)))
    }

    fn serialize_f32(self, v: f32) -> Result<Term, Error> {
        float(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<Term, Error> {
        float(v)
    }

    fn serialize_char(self, v: char) -> Result<Term, Error> {
        Ok(Term::Int(u32::from(v).into()))
    }

    fn serialize_str(self, v: &str) -> Result<Term, Error> {
        Ok(Term::binary(v.as_bytes().to_vec()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Term, Error> {
        Ok(Term::binary(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Term, Error> {
        atom("undefined")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Term, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Term, Error> {
        Ok(Term::Tuple(Vec::new()))
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<Term, Error> {
        atom(name)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Term, Error> {
        atom(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Term, Error> {
        if name == raw::TOKEN {
            raw::capture(value)
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
    ) -> Result<Term, Error> {
        Ok(Term::Tuple(vec![atom(variant)?, value.serialize(self)?]))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.unwrap_or(0).min(MAX_PREALLOC)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<TupleBuilder, Error> {
        Ok(TupleBuilder {
            items: Vec::with_capacity(len.min(MAX_PREALLOC)),
        })
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<TupleBuilder, Error> {
        self.serialize_tuple(len)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleBuilder, Error> {
        let mut items = Vec::with_capacity(len.saturating_add(1).min(MAX_PREALLOC));
        items.push(atom(variant)?);
        Ok(TupleBuilder { items })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder {
            entries: Vec::new(),
            key: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<StructBuilder, Error> {
        Ok(StructBuilder {
            tag: None,
            entries: Vec::new(),
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructBuilder, Error> {
        Ok(StructBuilder {
            tag: Some(atom(variant)?),
            entries: Vec::new(),
        })
    }
}

/// Builds a list from a sequence.
#[doc(hidden)]
pub struct SeqBuilder {
    items: Vec<Term>,
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Term;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(value.serialize(TermSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::List(self.items))
    }
}

/// Builds a tuple (from a tuple, a tuple struct or a tuple variant).
#[doc(hidden)]
pub struct TupleBuilder {
    items: Vec<Term>,
}

impl ser::SerializeTuple for TupleBuilder {
    type Ok = Term;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(value.serialize(TermSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Tuple(self.items))
    }
}

impl ser::SerializeTupleStruct for TupleBuilder {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> Result<Term, Error> {
        ser::SerializeTuple::end(self)
    }
}

impl ser::SerializeTupleVariant for TupleBuilder {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeTuple::serialize_element(self, value)
    }

    fn end(self) -> Result<Term, Error> {
        ser::SerializeTuple::end(self)
    }
}

/// Builds a map from a Rust map.
#[doc(hidden)]
pub struct MapBuilder {
    entries: Vec<(Term, Term)>,
    key: Option<Term>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Term;
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
        self.entries.push((key, value.serialize(TermSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Term, Error> {
        Ok(Term::Map(Map {
            entries: map_keys::dedupe(self.entries),
        }))
    }
}

/// Builds a map with atom keys from a struct, wrapped as `{tag, Map}` for a
/// struct variant.
#[doc(hidden)]
pub struct StructBuilder {
    tag: Option<Term>,
    entries: Vec<(Term, Term)>,
}

impl ser::SerializeStruct for StructBuilder {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.entries
            .push((atom(key)?, value.serialize(TermSerializer)?));
        Ok(())
    }

    fn end(self) -> Result<Term, Error> {
        let map = Term::Map(Map {
            entries: map_keys::dedupe(self.entries),
        });
        Ok(match self.tag {
            Some(tag) => Term::Tuple(vec![tag, map]),
            None => map,
        })
    }
}

impl ser::SerializeStructVariant for StructBuilder {
    type Ok = Term;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<Term, Error> {
        ser::SerializeStruct::end(self)
    }
}
