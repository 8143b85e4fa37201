//! [`Term`]s to Rust values: the `Deserializer` behind
//! [`from_term`](crate::serde::from_term) and [`from_term_ref`](crate::serde::from_term_ref).
//!
//! Strings and bytes are borrowed from the term's binaries, and atom names
//! (which live as long as the program) can be borrowed too.

use num_bigint::BigInt;
use serde::de::value::{BorrowedStrDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer as _, IntoDeserializer, Visitor};

use crate::serde::describe::describe;
use crate::serde::error::Error;
use crate::serde::raw;
use crate::term::Term;

/// Deserializes Rust values out of a borrowed [`Term`].
#[derive(Clone, Copy, Debug)]
pub struct TermDeserializer<'a> {
    term: &'a Term,
}

impl<'a> TermDeserializer<'a> {
    /// A deserializer reading `term`.
    pub fn new(term: &'a Term) -> TermDeserializer<'a> {
        TermDeserializer { term }
    }

    fn mismatch(&self, expected: impl std::fmt::Display) -> Error {
        Error::mismatch(expected, describe(self.term))
    }

    /// The integer, converted to `T` (which must hold it).
    fn int<T>(&self, name: &str) -> Result<T, Error>
    where
        T: TryFrom<i64> + for<'b> TryFrom<&'b BigInt>,
    {
        let fits = match self.term {
            Term::Int(i) => T::try_from(*i).ok(),
            Term::BigInt(n) => T::try_from(n).ok(),
            _ => return Err(self.mismatch(format_args!("integer ({name})"))),
        };
        fits.ok_or_else(|| self.mismatch(name))
    }

    fn float(&self) -> Result<f64, Error> {
        use num_traits::ToPrimitive;
        match self.term {
            Term::Float(f) => Ok(*f),
            Term::Int(i) => Ok(*i as f64),
            Term::BigInt(n) => n.to_f64().ok_or_else(|| self.mismatch("float")),
            _ => Err(self.mismatch("float")),
        }
    }

    /// An improper list where a sequence is wanted: its elements are read
    /// first, as [`from_slice`](crate::serde::from_slice) meets them, so an
    /// error in them is reported the same way; then the tail is refused.
    fn improper<'de, V: Visitor<'de>>(
        &self,
        items: &'de [Term],
        visitor: V,
    ) -> Result<V::Value, Error> {
        SeqDeserializer::new(items.iter().map(TermDeserializer::new)).deserialize_any(visitor)?;
        Err(self.mismatch("proper list"))
    }

    /// A charlist (a proper list of code points) as a string.
    fn charlist(&self, items: &[Term]) -> Result<String, Error> {
        items
            .iter()
            .map(|c| {
                c.as_i64()
                    .and_then(|i| u32::try_from(i).ok())
                    .and_then(char::from_u32)
            })
            .collect::<Option<String>>()
            .ok_or_else(|| self.mismatch("string (binary, charlist or atom)"))
    }
}

impl<'de> IntoDeserializer<'de, Error> for TermDeserializer<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

fn utf8<'a>(term: &Term, b: &'a [u8]) -> Result<&'a str, Error> {
    std::str::from_utf8(b).map_err(|_| {
        Error::mismatch(
            "string (UTF-8 binary)",
            format!("{} (invalid UTF-8)", describe(term)),
        )
    })
}

macro_rules! int_methods {
    ($($method:ident $visit:ident $ty:ty;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                visitor.$visit(self.int::<$ty>(stringify!($ty))?)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for TermDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Atom(a) => match a.as_bool() {
                Some(b) => visitor.visit_bool(b),
                None => visitor.visit_borrowed_str(a.as_str()),
            },
            Term::Int(i) => visitor.visit_i64(*i),
            Term::BigInt(n) => {
                if let Ok(i) = i128::try_from(n) {
                    visitor.visit_i128(i)
                } else if let Ok(u) = u128::try_from(n) {
                    visitor.visit_u128(u)
                } else {
                    Err(self.mismatch("integer within 128 bits"))
                }
            }
            Term::Float(f) => visitor.visit_f64(*f),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => visitor.visit_borrowed_str(s),
                Err(_) => visitor.visit_borrowed_bytes(b),
            },
            Term::List(items) | Term::Tuple(items) => {
                SeqDeserializer::new(items.iter().map(TermDeserializer::new))
                    .deserialize_any(visitor)
            }
            Term::Map(_) => self.deserialize_map(visitor),
            Term::ImproperList(items, _) => self.improper(items, visitor),
            _ => Err(self.mismatch("a term with a serde equivalent (use etf::Term for it)")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term.as_atom().and_then(|a| a.as_bool()) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.mismatch("atom true or false")),
        }
    }

    int_methods! {
        deserialize_i8 visit_i8 i8;
        deserialize_i16 visit_i16 i16;
        deserialize_i32 visit_i32 i32;
        deserialize_i64 visit_i64 i64;
        deserialize_i128 visit_i128 i128;
        deserialize_u8 visit_u8 u8;
        deserialize_u16 visit_u16 u16;
        deserialize_u32 visit_u32 u32;
        deserialize_u64 visit_u64 u64;
        deserialize_u128 visit_u128 u128;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f32(self.float()? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let code = self.int::<u32>("char")?;
        match char::from_u32(code) {
            Some(c) => visitor.visit_char(c),
            None => Err(self.mismatch("char (a Unicode code point)")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Binary(b) => visitor.visit_borrowed_str(utf8(self.term, b)?),
            Term::Atom(a) => visitor.visit_borrowed_str(a.as_str()),
            Term::List(items) => visitor.visit_string(self.charlist(items)?),
            _ => Err(self.mismatch("string (binary, charlist or atom)")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Binary(b) => visitor.visit_borrowed_bytes(b),
            Term::List(items) => {
                let bytes = items
                    .iter()
                    .map(|b| b.as_i64().and_then(|i| u8::try_from(i).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| self.mismatch("bytes (binary or list of bytes)"))?;
                visitor.visit_byte_buf(bytes)
            }
            _ => Err(self.mismatch("bytes (binary or list of bytes)")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.term.is_atom("undefined") || self.term.is_atom("nil") {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Tuple(items) if items.is_empty() => visitor.visit_unit(),
            _ => Err(self.mismatch("empty tuple {}")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.term.is_atom(name) {
            visitor.visit_unit()
        } else {
            Err(self.mismatch(format_args!("atom {}", show_atom(name))))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == raw::TOKEN {
            raw::hand_over(self.term.clone(), visitor)
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::List(items) => SeqDeserializer::new(items.iter().map(TermDeserializer::new))
                .deserialize_any(visitor),
            Term::Binary(b) => SeqDeserializer::new(b.iter().copied()).deserialize_any(visitor),
            Term::ImproperList(items, _) => self.improper(items, visitor),
            _ => Err(self.mismatch("list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Tuple(items) if items.len() == len => {
                SeqDeserializer::new(items.iter().map(TermDeserializer::new))
                    .deserialize_any(visitor)
            }
            _ => Err(self.mismatch(format_args!("tuple of {len} elements"))),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Map(m) => visitor.visit_map(MapAccess {
                entries: m.entries.iter(),
                value: None,
            }),
            _ => Err(self.mismatch("map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.term {
            Term::Map(_) => self.deserialize_map(visitor),
            _ => Err(self.mismatch(format_args!("map (struct {name})"))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (tag, payload) = match self.term {
            Term::Atom(a) => (a.as_str(), None),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(tag) => (tag, None),
                Err(_) => {
                    return Err(self.mismatch(format_args!("atom or tagged tuple (enum {name})")))
                }
            },
            Term::Tuple(items) => match items.split_first() {
                Some((Term::Atom(a), rest)) => (a.as_str(), Some(rest)),
                _ => return Err(self.mismatch(format_args!("atom or tagged tuple (enum {name})"))),
            },
            _ => return Err(self.mismatch(format_args!("atom or tagged tuple (enum {name})"))),
        };
        visitor.visit_enum(EnumAccess {
            term: self.term,
            tag,
            payload,
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.term {
            Term::Atom(a) => visitor.visit_borrowed_str(a.as_str()),
            Term::Binary(b) => visitor.visit_borrowed_str(utf8(self.term, b)?),
            Term::Int(_) | Term::BigInt(_) => match self.int::<u64>("u64") {
                Ok(u) => visitor.visit_u64(u),
                Err(_) => Err(self.mismatch("field name (atom)")),
            },
            _ => Err(self.mismatch("field name (atom)")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// An atom name as Erlang prints it (`bump`, `'Bump'`).
pub(crate) fn show_atom(name: &str) -> String {
    match crate::atom::Atom::try_new(name) {
        Ok(a) => a.to_string(),
        Err(_) => format!("'{name}'"),
    }
}

struct MapAccess<'de> {
    entries: std::slice::Iter<'de, (Term, Term)>,
    value: Option<&'de Term>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(TermDeserializer::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(TermDeserializer::new(v)),
            None => Err(Error::Custom("map value requested before its key".into())),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum: `tag` (unit variant) or `{tag, Payload...}`.
struct EnumAccess<'de> {
    term: &'de Term,
    tag: &'de str,
    payload: Option<&'de [Term]>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let tag: BorrowedStrDeserializer<'de, Error> = BorrowedStrDeserializer::new(self.tag);
        Ok((seed.deserialize(tag)?, self))
    }
}

impl<'de> EnumAccess<'de> {
    fn mismatch(&self, expected: impl std::fmt::Display) -> Error {
        Error::mismatch(expected, describe(self.term))
    }

    fn tagged_tuple(&self, fields: usize) -> String {
        format!("tuple {{{}{}}}", show_atom(self.tag), ", _".repeat(fields))
    }
}

impl<'de> de::VariantAccess<'de> for EnumAccess<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.payload {
            None => Ok(()),
            Some(_) => Err(self.mismatch(format_args!("atom {}", show_atom(self.tag)))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.payload {
            Some([value]) => seed.deserialize(TermDeserializer::new(value)),
            _ => Err(self.mismatch(self.tagged_tuple(1))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.payload {
            Some(items) if items.len() == len => {
                SeqDeserializer::new(items.iter().map(TermDeserializer::new))
                    .deserialize_any(visitor)
            }
            _ => Err(self.mismatch(self.tagged_tuple(len))),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.payload {
            Some([map @ Term::Map(_)]) => TermDeserializer::new(map).deserialize_map(visitor),
            _ => {
                let keys: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{} => _", show_atom(f)))
                    .collect();
                Err(self.mismatch(format_args!(
                    "tuple {{{}, #{{{}}}}}",
                    show_atom(self.tag),
                    keys.join(", ")
                )))
            }
        }
    }
}
