//! Raw terms inside Rust types: `Serialize`/`Deserialize` for [`Term`],
//! [`Pid`], [`Port`], [`Reference`], [`Fun`], [`BitString`], [`Map`] and [`Atom`].
//!
//! A gen_server call carries `{'$gen_call', {Pid, Tag}, Request}`; the `Tag`
//! is opaque and must go back untouched. So a Rust type can hold any term:
//!
//! ```
//! use etf::{Pid, Term};
//! #[derive(serde::Deserialize)]
//! struct From(Pid, Term);
//! ```
//!
//! This works the way `serde_json::value::RawValue` does: a `Term`
//! serializes as a newtype struct with a private name ([`TOKEN`]). The ETF
//! serializers and deserializers of this module recognise the name and pass
//! the term through as it is (pids, refs and funs included), handing it
//! over in a thread-local slot for the duration of that one call
//! (`capture`, `hand_over`). Any other serde format sees a lossless
//! externally tagged enum instead, e.g. `{"Pid": ["node@host", 42, 0, 1]}`
//! in JSON, and reads it back.

use std::cell::{Cell, RefCell};
use std::fmt;

use num_bigint::BigInt;
use serde::de::value::{BorrowedStrDeserializer, BytesDeserializer, SeqDeserializer};
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::atom::Atom;
use crate::serde::describe::describe;
use crate::serde::error::Error;
use crate::term::{BitString, Fun, Map, Pid, Port, Reference, Term};

/// The newtype-struct name under which a [`Term`] travels through serde.
pub const TOKEN: &str = "$etf::private::Term";

fn bytes<S: Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(b)
}

/// A term's lossless representation, borrowed (the serializing side).
#[derive(serde::Serialize)]
#[serde(rename = "Term")]
enum ReprRef<'a> {
    Atom(&'a str),
    Int(i64),
    BigInt(String),
    Float(f64),
    Binary(#[serde(serialize_with = "bytes")] &'a [u8]),
    BitString(#[serde(serialize_with = "bytes")] &'a [u8], u8),
    List(&'a [Term]),
    ImproperList(&'a [Term], &'a Term),
    Tuple(&'a [Term]),
    Map(&'a [(Term, Term)]),
    Pid(&'a str, u32, u32, u32),
    Port(&'a str, u64, u32),
    Reference(&'a str, u32, &'a [u32]),
    Fun(#[serde(serialize_with = "bytes")] &'a [u8]),
}

/// A term's lossless representation, owned (the deserializing side). Same
/// variants, same order as [`ReprRef`].
#[derive(serde::Deserialize)]
#[serde(rename = "Term")]
enum Repr {
    Atom(String),
    Int(i64),
    BigInt(String),
    Float(f64),
    Binary(Buf),
    BitString(Buf, u8),
    List(Vec<Term>),
    ImproperList(Vec<Term>, Box<Term>),
    Tuple(Vec<Term>),
    Map(Vec<(Term, Term)>),
    Pid(String, u32, u32, u32),
    Port(String, u64, u32),
    Reference(String, u32, Vec<u32>),
    Fun(Buf),
}

impl Serialize for Term {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(TOKEN, &Lossless(self))
    }
}

/// What a term serializes as under [`TOKEN`]: its [`ReprRef`], unless an
/// ETF serializer asked for the term itself (see [`capture`]).
struct Lossless<'a>(&'a Term);

impl Serialize for Lossless<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if WANT.with(|w| w.replace(false)) {
            HANDOFF.with(|h| *h.borrow_mut() = Some(self.0.clone()));
            return s.serialize_unit();
        }
        let bigint;
        let repr = match self.0 {
            Term::Atom(a) => ReprRef::Atom(a.as_str()),
            Term::Int(i) => ReprRef::Int(*i),
            Term::BigInt(n) => {
                bigint = n.to_string();
                ReprRef::BigInt(bigint)
            }
            Term::Float(f) => ReprRef::Float(*f),
            Term::Binary(b) => ReprRef::Binary(b),
            Term::BitString(b) => ReprRef::BitString(&b.bytes, b.last_bits),
            Term::List(items) => ReprRef::List(items),
            Term::ImproperList(items, tail) => ReprRef::ImproperList(items, tail),
            Term::Tuple(items) => ReprRef::Tuple(items),
            Term::Map(m) => ReprRef::Map(&m.entries),
            Term::Pid(p) => ReprRef::Pid(p.node.as_str(), p.id, p.serial, p.creation),
            Term::Port(p) => ReprRef::Port(p.node.as_str(), p.id, p.creation),
            Term::Reference(r) => ReprRef::Reference(r.node.as_str(), r.creation, &r.ids),
            Term::Fun(f) => ReprRef::Fun(&f.bytes),
        };
        repr.serialize(s)
    }
}

thread_local! {
    /// Set by [`capture`] for exactly one `serialize` call: "hand me the term".
    static WANT: Cell<bool> = const { Cell::new(false) };
    /// A term handed across serde's data model, within one call (see the module doc).
    static HANDOFF: RefCell<Option<Term>> = const { RefCell::new(None) };
}

/// The term behind the value an ETF serializer got under [`TOKEN`].
///
/// Serde's data model has no pids, so the term cannot travel through it.
/// Instead the serializer raises [`WANT`] for the one `serialize` call it
/// makes; [`Lossless`] sees it and hands a clone of its term over in
/// [`HANDOFF`]. Both slots are emptied before returning, so nothing leaks
/// into another call or another serde format. A value that does not
/// cooperate (someone else's type under the private name) is read back
/// from its representation instead.
pub(crate) fn capture<T: Serialize + ?Sized>(value: &T) -> Result<Term, Error> {
    HANDOFF.with(|h| h.borrow_mut().take());
    WANT.with(|w| w.set(true));
    let repr = value.serialize(crate::serde::TermSerializer);
    WANT.with(|w| w.set(false));
    match HANDOFF.with(|h| h.borrow_mut().take()) {
        Some(term) => Ok(term),
        None => from_repr(repr?),
    }
}

/// Gives `term` to the `Term` visitor an ETF deserializer got under
/// [`TOKEN`], through [`HANDOFF`], for the one `visit_newtype_struct` call.
/// A visitor that does not take it reads it as its representation ([`Raw`]).
pub(crate) fn hand_over<'de, V: Visitor<'de>>(term: Term, visitor: V) -> Result<V::Value, Error> {
    HANDOFF.with(|h| *h.borrow_mut() = Some(term));
    let result = visitor.visit_newtype_struct(Stashed);
    HANDOFF.with(|h| h.borrow_mut().take());
    result
}

/// The deserializer [`hand_over`] passes: the term is in [`HANDOFF`].
struct Stashed;

impl Stashed {
    fn take() -> Result<Term, Error> {
        HANDOFF
            .with(|h| h.borrow_mut().take())
            .ok_or_else(|| Error::Custom("raw term already taken".into()))
    }
}

impl<'de> Deserializer<'de> for Stashed {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Raw(&Stashed::take()?).deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        Raw(&Stashed::take()?).deserialize_newtype_struct(name, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> Deserialize<'de> for Term {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Term, D::Error> {
        d.deserialize_newtype_struct(TOKEN, TermVisitor)
    }
}

struct TermVisitor;

impl<'de> Visitor<'de> for TermVisitor {
    type Value = Term;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Erlang term")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Term, D::Error> {
        // From an ETF deserializer (see `hand_over`): the term itself.
        if let Some(term) = HANDOFF.with(|h| h.borrow_mut().take()) {
            return Ok(term);
        }
        let repr = Repr::deserialize(d)?;
        from_owned_repr(repr).map_err(de::Error::custom)
    }
}

fn node(name: &str) -> Result<Atom, Error> {
    Ok(Atom::try_new(name)?)
}

fn from_owned_repr(repr: Repr) -> Result<Term, Error> {
    Ok(match repr {
        Repr::Atom(a) => Term::Atom(Atom::try_new(&a)?),
        Repr::Int(i) => Term::Int(i),
        Repr::BigInt(s) => Term::from_bigint(parse_bigint(&s)?),
        Repr::Float(f) => Term::Float(f),
        Repr::Binary(b) => Term::binary(b.0),
        Repr::BitString(b, last_bits) => bitstring(b.0, last_bits)?,
        Repr::List(items) => Term::List(items),
        Repr::ImproperList(items, tail) => Term::ImproperList(items, tail),
        Repr::Tuple(items) => Term::Tuple(items),
        Repr::Map(entries) => Term::Map(entries.into_iter().collect()),
        Repr::Pid(n, id, serial, creation) => Term::Pid(Pid {
            node: node(&n)?,
            id,
            serial,
            creation,
        }),
        Repr::Port(n, id, creation) => Term::Port(Port {
            node: node(&n)?,
            id,
            creation,
        }),
        Repr::Reference(n, creation, ids) => Term::Reference(Reference {
            node: node(&n)?,
            creation,
            ids,
        }),
        Repr::Fun(b) => Term::Fun(Fun { bytes: b.0.into() }),
    })
}

fn parse_bigint(s: &str) -> Result<BigInt, Error> {
    s.parse()
        .map_err(|_| Error::mismatch("a decimal integer", format_args!("{s:?}")))
}

fn bitstring(bytes: Vec<u8>, last_bits: u8) -> Result<Term, Error> {
    if bytes.is_empty() || !(1..=7).contains(&last_bits) {
        return Err(Error::mismatch(
            "a bitstring with 1..=7 bits in its last byte",
            format_args!("{} bytes, {last_bits} last bits", bytes.len()),
        ));
    }
    Ok(Term::from(BitString {
        bytes: bytes.into(),
        last_bits,
    }))
}

/// Turns the [`Term`] a [`TermSerializer`](crate::serde::TermSerializer)
/// made of a [`ReprRef`] (`{'Pid', <<"node">>, 1, 0, 2}`, `{'List', [..]}`)
/// back into the term it describes. Children are already real terms (each
/// went through [`TOKEN`] itself), so this only looks one level deep.
pub(crate) fn from_repr(repr: Term) -> Result<Term, Error> {
    let bad = |t: &Term| Error::mismatch("a term representation", describe(t));
    let Term::Tuple(mut items) = repr else {
        return Err(bad(&repr));
    };
    let tag = match items.first() {
        Some(Term::Atom(a)) => a.as_str(),
        _ => return Err(bad(&Term::Tuple(items))),
    };
    let mut fields = items.drain(1..);
    let mut next = || {
        fields
            .next()
            .ok_or_else(|| Error::Custom("short term representation".into()))
    };
    let int = |t: Term| -> Result<i64, Error> {
        t.as_i64()
            .ok_or_else(|| Error::mismatch("integer", describe(&t)))
    };
    let u32_ = |t: Term| -> Result<u32, Error> {
        let i = int(t)?;
        u32::try_from(i).map_err(|_| Error::mismatch("u32", format_args!("integer {i}")))
    };
    let bin = |t: Term| -> Result<bytes::Bytes, Error> {
        match t {
            Term::Binary(b) => Ok(b),
            t => Err(Error::mismatch("binary", describe(&t))),
        }
    };
    let text = |t: Term| -> Result<String, Error> {
        let b = bin(t)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::mismatch("UTF-8 binary", "invalid UTF-8"))
    };
    let list = |t: Term| -> Result<Vec<Term>, Error> {
        match t {
            Term::List(items) => Ok(items),
            t => Err(Error::mismatch("list", describe(&t))),
        }
    };
    Ok(match tag {
        "Atom" => Term::Atom(Atom::try_new(&text(next()?)?)?),
        "Int" => Term::Int(int(next()?)?),
        "BigInt" => Term::from_bigint(parse_bigint(&text(next()?)?)?),
        "Float" => match next()? {
            Term::Float(f) => Term::Float(f),
            t => return Err(Error::mismatch("float", describe(&t))),
        },
        "Binary" => Term::Binary(bin(next()?)?),
        "BitString" => {
            let b = bin(next()?)?;
            let last = int(next()?)?;
            let last = u8::try_from(last).map_err(|_| Error::mismatch("u8", last))?;
            bitstring(b.to_vec(), last)?
        }
        "List" => Term::List(list(next()?)?),
        "ImproperList" => Term::ImproperList(list(next()?)?, Box::new(next()?)),
        "Tuple" => Term::Tuple(list(next()?)?),
        "Map" => {
            let mut map = Map::new();
            for pair in list(next()?)? {
                match pair {
                    Term::Tuple(kv) if kv.len() == 2 => {
                        let mut kv = kv.into_iter();
                        if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                            map.insert(k, v);
                        }
                    }
                    t => return Err(Error::mismatch("a {Key, Value} pair", describe(&t))),
                }
            }
            Term::Map(map)
        }
        "Pid" => Term::Pid(Pid {
            node: node(&text(next()?)?)?,
            id: u32_(next()?)?,
            serial: u32_(next()?)?,
            creation: u32_(next()?)?,
        }),
        "Port" => {
            let node = node(&text(next()?)?)?;
            let id = match next()? {
                Term::Int(i) => u64::try_from(i).ok(),
                Term::BigInt(n) => u64::try_from(&n).ok(),
                _ => None,
            }
            .ok_or_else(|| Error::Custom("port id is not a u64".into()))?;
            Term::Port(Port {
                node,
                id,
                creation: u32_(next()?)?,
            })
        }
        "Reference" => Term::Reference(Reference {
            node: node(&text(next()?)?)?,
            creation: u32_(next()?)?,
            ids: list(next()?)?
                .into_iter()
                .map(u32_)
                .collect::<Result<_, _>>()?,
        }),
        "Fun" => Term::Fun(Fun {
            bytes: bin(next()?)?,
        }),
        other => return Err(Error::mismatch("a term representation tag", other)),
    })
}

/// Owned bytes that deserialize from bytes, a string or a sequence of `u8`.
struct Buf(Vec<u8>);

impl<'de> Deserialize<'de> for Buf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Buf, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Buf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Buf, E> {
                Ok(Buf(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Buf, E> {
                Ok(Buf(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Buf, E> {
                Ok(Buf(v.as_bytes().to_vec()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Buf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Buf(out))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// Hands a borrowed [`Term`] to a `Term` visitor as its [`Repr`] enum,
/// without copying anything but leaves. It works for any `'de` because it
/// only ever lends `'static` atom names or copies.
#[derive(Clone, Copy)]
pub(crate) struct Raw<'a>(pub(crate) &'a Term);

impl<'a, 'de> Deserializer<'de> for Raw<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_enum(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for Raw<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

fn variant_name(t: &Term) -> &'static str {
    match t {
        Term::Atom(_) => "Atom",
        Term::Int(_) => "Int",
        Term::BigInt(_) => "BigInt",
        Term::Float(_) => "Float",
        Term::Binary(_) => "Binary",
        Term::BitString(_) => "BitString",
        Term::List(_) => "List",
        Term::ImproperList(..) => "ImproperList",
        Term::Tuple(_) => "Tuple",
        Term::Map(_) => "Map",
        Term::Pid(_) => "Pid",
        Term::Port(_) => "Port",
        Term::Reference(_) => "Reference",
        Term::Fun(_) => "Fun",
    }
}

impl<'a, 'de> de::EnumAccess<'de> for Raw<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: de::DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name: BorrowedStrDeserializer<'de, Error> =
            BorrowedStrDeserializer::new(variant_name(self.0));
        Ok((seed.deserialize(name)?, self))
    }
}

/// One piece of a term's representation.
enum Part<'a> {
    Str(&'static str),
    U64(u64),
    Bytes(&'a [u8]),
    U32s(&'a [u32]),
    Items(&'a [Term]),
    Term(&'a Term),
    Pair(&'a Term, &'a Term),
}

impl<'a, 'de> Deserializer<'de> for Part<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Part::Str(s) => visitor.visit_borrowed_str(s),
            Part::U64(u) => visitor.visit_u64(u),
            Part::Bytes(b) => visitor.visit_bytes(b),
            Part::U32s(ids) => SeqDeserializer::new(ids.iter().copied()).deserialize_any(visitor),
            Part::Items(items) => {
                SeqDeserializer::new(items.iter().map(Raw)).deserialize_any(visitor)
            }
            Part::Term(t) => Raw(t).deserialize_any(visitor),
            Part::Pair(k, v) => {
                SeqDeserializer::new([Raw(k), Raw(v)].into_iter()).deserialize_any(visitor)
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Part::Term(t) => Raw(t).deserialize_newtype_struct(name, visitor),
            other => other.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for Part<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'a, 'de> de::VariantAccess<'de> for Raw<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Err(Error::Custom(
            "no term is represented as a unit variant".into(),
        ))
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.0 {
            Term::Atom(a) => seed.deserialize(Part::Str(a.as_str())),
            Term::Int(i) => seed.deserialize((*i).into_deserializer()),
            Term::BigInt(n) => seed.deserialize(n.to_string().into_deserializer()),
            Term::Float(f) => seed.deserialize((*f).into_deserializer()),
            Term::Binary(b) => seed.deserialize(BytesDeserializer::new(b)),
            Term::Fun(f) => seed.deserialize(BytesDeserializer::new(&f.bytes)),
            Term::List(items) | Term::Tuple(items) => seed.deserialize(Part::Items(items)),
            Term::Map(m) => seed.deserialize(SeqDeserializer::new(
                m.entries.iter().map(|(k, v)| Part::Pair(k, v)),
            )),
            t => Err(Error::Custom(format!(
                "{} is not represented as a newtype variant",
                describe(t)
            ))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        let parts: Vec<Part<'a>> = match self.0 {
            Term::BitString(b) => vec![Part::Bytes(&b.bytes), Part::U64(b.last_bits.into())],
            Term::ImproperList(items, tail) => vec![Part::Items(items), Part::Term(tail)],
            Term::Pid(p) => vec![
                Part::Str(p.node.as_str()),
                Part::U64(p.id.into()),
                Part::U64(p.serial.into()),
                Part::U64(p.creation.into()),
            ],
            Term::Port(p) => vec![
                Part::Str(p.node.as_str()),
                Part::U64(p.id),
                Part::U64(p.creation.into()),
            ],
            Term::Reference(r) => vec![
                Part::Str(r.node.as_str()),
                Part::U64(r.creation.into()),
                Part::U32s(&r.ids),
            ],
            t => {
                return Err(Error::Custom(format!(
                    "{} is not represented as a tuple variant",
                    describe(t)
                )))
            }
        };
        SeqDeserializer::new(parts.into_iter()).deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(Error::Custom(
            "no term is represented as a struct variant".into(),
        ))
    }
}

/// Implements `Serialize`/`Deserialize` for a term type through [`Term`],
/// so it passes through the ETF formats untouched.
macro_rules! via_term {
    ($ty:ty, $variant:ident, $what:literal, |$v:ident| $to_term:expr) => {
        via_term!($ty, $variant, $what, |$v| $to_term, |x| x);
    };
    ($ty:ty, $variant:ident, $what:literal, |$v:ident| $to_term:expr, |$x:ident| $from_variant:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $v = self;
                let term: Term = $to_term;
                term.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                match Term::deserialize(d)? {
                    Term::$variant($x) => Ok($from_variant),
                    other => Err(de::Error::invalid_type(
                        de::Unexpected::Other(&describe(&other)),
                        &$what,
                    )),
                }
            }
        }
    };
}

via_term!(Pid, Pid, "pid", |p| Term::Pid(*p));
via_term!(Port, Port, "port", |p| Term::Port(*p));
via_term!(Reference, Reference, "reference", |r| Term::Reference(
    r.clone()
));
via_term!(Fun, Fun, "fun", |f| Term::Fun(f.clone()));
via_term!(
    BitString,
    BitString,
    "bitstring",
    |b| Term::from(b.clone()),
    |b| *b
);
via_term!(Map, Map, "map", |m| Term::Map(m.clone()));
via_term!(Atom, Atom, "atom", |a| Term::Atom(*a));
