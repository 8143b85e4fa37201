//! ETF bytes straight to Rust values: the `Deserializer` behind
//! [`from_slice`](crate::serde::from_slice).
//!
//! No [`Term`] tree is built: the deserializer walks the bytes once, reading
//! each term's header ([`Head`]) and handing its contents to the visitor.
//! Strings and bytes are borrowed from the input's `BINARY_EXT`s (and
//! `STRING_EXT`s, and UTF-8 or ASCII atoms). Only a field typed [`Term`] (or
//! `Pid`, `Reference`...) reads its term into a tree, and only that term.
//!
//! It follows the same mapping as [`TermDeserializer`](crate::serde::TermDeserializer),
//! so `from_slice(b)` and `from_term(&decode(b)?)` agree, and every error
//! carries the byte offset of the term it is about.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::value::SeqDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::decode::{decode_with, DecodeOptions};
use crate::error::DecodeErrorKind;
use crate::serde::describe::describe;
use crate::serde::error::Error;
use crate::serde::raw;
use crate::serde::term_de::show_atom;
use crate::serde::wire::{utf8, Cursor, Head, Quick, MAX_DEPTH};
use crate::term::Term;

/// Where the bytes come from: a borrowed slice (strings can be borrowed) or
/// an owned buffer (an inflated compressed term: strings are copied).
pub(crate) trait Input<'de> {
    /// All the bytes.
    fn data(&self) -> &[u8];
    /// The bytes of `r` for the whole of `'de`, if the input lives that long.
    fn borrow(&self, r: Range<usize>) -> Option<&'de [u8]>;
}

/// Input borrowed for `'de`.
pub(crate) struct SliceInput<'de>(pub(crate) &'de [u8]);

impl<'de> Input<'de> for SliceInput<'de> {
    fn data(&self) -> &[u8] {
        self.0
    }
    fn borrow(&self, r: Range<usize>) -> Option<&'de [u8]> {
        self.0.get(r)
    }
}

/// Input owned by the deserializer.
pub(crate) struct OwnedInput(pub(crate) Vec<u8>);

impl<'de> Input<'de> for OwnedInput {
    fn data(&self) -> &[u8] {
        &self.0
    }
    fn borrow(&self, _r: Range<usize>) -> Option<&'de [u8]> {
        None
    }
}

/// Deserializes from ETF bytes (after the version byte).
pub(crate) struct ByteDeserializer<R> {
    input: R,
    pos: usize,
    depth: usize,
}

impl<'de, R: Input<'de>> ByteDeserializer<R> {
    pub(crate) fn new(input: R, pos: usize) -> ByteDeserializer<R> {
        ByteDeserializer {
            input,
            pos,
            depth: 0,
        }
    }

    /// Where the next term starts.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// All input bytes.
    pub(crate) fn len(&self) -> usize {
        self.input.data().len()
    }

    fn cursor(&self) -> Cursor<'_> {
        Cursor::new(self.input.data(), self.pos)
    }

    fn head(&mut self) -> Result<Head, Error> {
        let mut c = self.cursor();
        let h = c.head()?;
        self.pos = c.pos;
        Ok(h)
    }

    /// [`Cursor::quick`]: the commonest headers, or `None` (nothing read).
    #[inline]
    fn quick(&mut self) -> Option<Quick> {
        let mut c = self.cursor();
        let q = c.quick()?;
        self.pos = c.pos;
        Some(q)
    }

    fn bytes(&self, r: Range<usize>) -> &[u8] {
        self.input.data().get(r).unwrap_or(&[])
    }

    /// Decodes the whole term at `start` with [`decode_with`]: for `Term`
    /// fields and error messages.
    fn decode_at(&self, start: usize) -> Result<(Term, usize), Error> {
        let opts = DecodeOptions {
            version_byte: false,
            max_depth: MAX_DEPTH.saturating_sub(self.depth).max(1),
            ..DecodeOptions::default()
        };
        let data = self.input.data().get(start..).unwrap_or(&[]);
        decode_with(data, &opts).map_err(|e| {
            let kind = match e.kind {
                DecodeErrorKind::UnexpectedEof => Error::Eof,
                kind => Error::Syntax(kind.to_string()),
            };
            kind.at(start + e.offset)
        })
    }

    /// Describes the term at `start` for an error message. Only a small
    /// term is decoded (interning its atoms); a large one is described by
    /// its header alone.
    fn found(&self, start: usize) -> String {
        const SMALL: usize = 256;
        let mut skip = Cursor::new(self.input.data(), start);
        if skip.skip(0).is_ok() && skip.pos - start <= SMALL {
            if let Ok((t, _)) = self.decode_at(start) {
                return describe(&t);
            }
        }
        match Cursor::new(self.input.data(), start).head() {
            Ok(Head::List(n)) => format!("list of {n} elements"),
            Ok(Head::String(r)) => format!("list of {} elements", r.len()),
            Ok(Head::Tuple(n)) => format!("tuple of {n} elements"),
            Ok(Head::Map(n)) => format!("map of {n} entries"),
            Ok(Head::Binary(r)) => format!("binary of {} bytes", r.len()),
            Ok(Head::Big { .. }) => "integer (a large bignum)".into(),
            _ => "a malformed term".into(),
        }
    }

    fn mismatch(&self, start: usize, expected: impl std::fmt::Display) -> Error {
        Error::mismatch(expected, self.found(start)).at(start)
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::Syntax(format!("nested deeper than {MAX_DEPTH}")).at(self.pos));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn skip(&mut self) -> Result<(), Error> {
        let mut c = self.cursor();
        c.skip(self.depth)?;
        self.pos = c.pos;
        Ok(())
    }

    fn visit_text<V: Visitor<'de>>(&self, r: Range<usize>, visitor: V) -> Result<V::Value, Error> {
        self.visit_text_or(r, visitor, || Error::Custom("invalid UTF-8".into()))
    }

    /// Visits the UTF-8 text at `r` (borrowed for `'de` when the input
    /// lives that long), or fails with `invalid()`.
    fn visit_text_or<V: Visitor<'de>>(
        &self,
        r: Range<usize>,
        visitor: V,
        invalid: impl FnOnce() -> Error,
    ) -> Result<V::Value, Error> {
        match self.input.borrow(r.clone()) {
            Some(b) => match utf8(b) {
                Some(s) => visitor.visit_borrowed_str(s),
                None => Err(invalid()),
            },
            None => match utf8(self.bytes(r)) {
                Some(s) => visitor.visit_str(s),
                None => Err(invalid()),
            },
        }
    }

    fn visit_atom<V: Visitor<'de>>(
        &self,
        text: Range<usize>,
        utf8: bool,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if utf8 || self.bytes(text.clone()).is_ascii() {
            self.visit_text(text, visitor)
        } else {
            let name: String = self.bytes(text).iter().map(|&b| char::from(b)).collect();
            visitor.visit_string(name)
        }
    }

    fn visit_binary_text<V: Visitor<'de>>(
        &self,
        start: usize,
        r: Range<usize>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit_text_or(r, visitor, || {
            Error::mismatch(
                "string (UTF-8 binary)",
                format!("{} (invalid UTF-8)", self.found(start)),
            )
            .at(start)
        })
    }

    fn visit_bytes_range<V: Visitor<'de>>(
        &self,
        r: Range<usize>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.input.borrow(r.clone()) {
            Some(b) => visitor.visit_borrowed_bytes(b),
            None => visitor.visit_bytes(self.bytes(r)),
        }
    }

    fn atom_is(&self, text: &Range<usize>, utf8: bool, name: &str) -> bool {
        Cursor::new(self.input.data(), 0).atom_text(text.clone(), utf8) == name
    }

    /// The integer in `head`, if it is one and fits in 128 bits.
    fn int_value(&self, head: &Head) -> Option<Int> {
        match head {
            Head::Int(i) => Some(Int::Signed((*i).into())),
            Head::Big { negative, digits } => {
                let d = self.bytes(digits.clone());
                let used = d.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                if used > 16 {
                    return Some(Int::Huge);
                }
                let mut le = [0u8; 16];
                le[..used].copy_from_slice(&d[..used]);
                let magnitude = u128::from_le_bytes(le);
                Some(if *negative {
                    match magnitude.checked_sub(1).map(i128::try_from) {
                        // -(m) = -(m-1) - 1, which fits exactly when m-1 fits.
                        Some(Ok(m1)) => Int::Signed(-m1 - 1),
                        None => Int::Signed(0),
                        Some(Err(_)) => Int::Huge,
                    }
                } else {
                    match i128::try_from(magnitude) {
                        Ok(i) => Int::Signed(i),
                        Err(_) => Int::Unsigned(magnitude),
                    }
                })
            }
            _ => None,
        }
    }

    fn int<T>(&mut self, name: &str) -> Result<T, Error>
    where
        T: TryFrom<i128> + TryFrom<u128>,
    {
        let start = self.pos;
        match self.quick() {
            Some(Quick::Int(i)) => {
                return T::try_from(i128::from(i)).map_err(|_| self.mismatch(start, name))
            }
            Some(_) => self.pos = start,
            None => {}
        }
        let head = self.head()?;
        let fits = match self.int_value(&head) {
            Some(Int::Signed(i)) => T::try_from(i).ok(),
            Some(Int::Unsigned(u)) => T::try_from(u).ok(),
            Some(Int::Huge) => None,
            None => return Err(self.mismatch(start, format_args!("integer ({name})"))),
        };
        fits.ok_or_else(|| self.mismatch(start, name))
    }

    fn float(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        let head = self.head()?;
        match (&head, self.int_value(&head)) {
            (Head::Float(f), _) => Ok(*f),
            (_, Some(Int::Signed(i))) => Ok(i as f64),
            (_, Some(Int::Unsigned(u))) => Ok(u as f64),
            // Past 128 bits, rounded as the tree's `BigInt` is.
            (Head::Big { negative, digits }, Some(Int::Huge)) => {
                use num_traits::ToPrimitive;
                let sign = if *negative {
                    num_bigint::Sign::Minus
                } else {
                    num_bigint::Sign::Plus
                };
                num_bigint::BigInt::from_bytes_le(sign, self.bytes(digits.clone()))
                    .to_f64()
                    .ok_or_else(|| self.mismatch(start, "float"))
            }
            _ => Err(self.mismatch(start, "float")),
        }
    }

    /// After a visitor read `n - left` of `n` elements: the rest must not exist.
    fn all_read(&self, start: usize, n: u32, left: u32) -> Result<(), Error> {
        if left == 0 {
            Ok(())
        } else {
            Err(Error::mismatch(
                format_args!("{} elements", n - left),
                format_args!("{n} elements"),
            )
            .at(start))
        }
    }

    /// Visits `n` elements as a sequence, then checks they were all read.
    fn visit_elements<V: Visitor<'de>>(
        &mut self,
        start: usize,
        n: u32,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.enter()?;
        let mut access = Elements { de: self, left: n };
        let value = visitor.visit_seq(&mut access)?;
        let left = access.left;
        self.all_read(start, n, left)?;
        self.leave();
        Ok(value)
    }

    /// Reads a `LIST_EXT`'s tail, which must be `[]`.
    fn proper_tail(&mut self, start: usize) -> Result<(), Error> {
        match self.head()? {
            Head::Nil => Ok(()),
            _ => Err(self.mismatch(start, "proper list")),
        }
    }

    /// A charlist or `STRING_EXT` as a string.
    fn charlist(&mut self, start: usize, head: Head) -> Result<String, Error> {
        let bad = |de: &Self| de.mismatch(start, "string (binary, charlist or atom)");
        match head {
            Head::Nil => Ok(String::new()),
            Head::String(r) => Ok(self.bytes(r).iter().map(|&b| char::from(b)).collect()),
            Head::List(n) => {
                let mut s = String::with_capacity((n as usize).min(self.len()));
                for _ in 0..n {
                    let head = self.head()?;
                    let c = match head {
                        Head::Int(i) => u32::try_from(i).ok().and_then(char::from_u32),
                        _ => None,
                    };
                    s.push(c.ok_or_else(|| bad(self))?);
                }
                match self.head()? {
                    Head::Nil => Ok(s),
                    _ => Err(bad(self)),
                }
            }
            _ => Err(bad(self)),
        }
    }
}

/// An integer read from the bytes, if it fits 128 bits.
enum Int {
    Signed(i128),
    Unsigned(u128),
    Huge,
}

struct Elements<'a, R> {
    de: &'a mut ByteDeserializer<R>,
    left: u32,
}

impl<'de, R: Input<'de>> de::SeqAccess<'de> for Elements<'_, R> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.left as usize).min(self.de.len().saturating_sub(self.de.pos)))
    }
}

struct Entries<'a, R> {
    de: &'a mut ByteDeserializer<R>,
    left: u32,
}

impl<'de, R: Input<'de>> de::MapAccess<'de> for Entries<'_, R> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.left as usize).min(self.de.len().saturating_sub(self.de.pos) / 2))
    }
}

/// Runs `body`, attaching the offset of the term it reads to any error.
macro_rules! at_term {
    ($self:ident, $body:expr) => {{
        let start = $self.pos;
        let result: Result<_, Error> = (|| $body)();
        result.map_err(|e| e.at(start))
    }};
}

macro_rules! int_methods {
    ($($method:ident $visit:ident $ty:ty;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                at_term!(self, visitor.$visit(self.int::<$ty>(stringify!($ty))?))
            }
        )*
    };
}

impl<'de, R: Input<'de>> de::Deserializer<'de> for &mut ByteDeserializer<R> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            let head = self.head()?;
            match head {
                Head::Atom { text, utf8 } => {
                    if self.atom_is(&text, utf8, "true") {
                        visitor.visit_bool(true)
                    } else if self.atom_is(&text, utf8, "false") {
                        visitor.visit_bool(false)
                    } else {
                        self.visit_atom(text, utf8, visitor)
                    }
                }
                Head::Int(i) => visitor.visit_i64(i),
                Head::Big { .. } => match self.int_value(&head) {
                    Some(Int::Signed(i)) => visitor.visit_i128(i),
                    Some(Int::Unsigned(u)) => visitor.visit_u128(u),
                    _ => Err(self.mismatch(start, "integer within 128 bits")),
                },
                Head::Float(f) => visitor.visit_f64(f),
                Head::Binary(r) => {
                    if std::str::from_utf8(self.bytes(r.clone())).is_ok() {
                        self.visit_text(r, visitor)
                    } else {
                        self.visit_bytes_range(r, visitor)
                    }
                }
                Head::String(r) => {
                    SeqDeserializer::new(self.bytes(r).iter().map(|&b| StringElement(b)))
                        .deserialize_any(visitor)
                }
                Head::Nil => {
                    SeqDeserializer::new(std::iter::empty::<u8>()).deserialize_any(visitor)
                }
                Head::List(n) => {
                    let value = self.visit_elements(start, n, visitor)?;
                    self.proper_tail(start)?;
                    Ok(value)
                }
                Head::Tuple(n) => self.visit_elements(start, n, visitor),
                Head::Map(n) => {
                    self.enter()?;
                    let mut access = Entries { de: self, left: n };
                    let value = visitor.visit_map(&mut access)?;
                    let left = access.left;
                    self.all_read(start, n, left)?;
                    self.leave();
                    Ok(value)
                }
                Head::Other => Err(self.mismatch(
                    start,
                    "a term with a serde equivalent (use etf::Term for it)",
                )),
            }
        })
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Atom { text, utf8 } if self.atom_is(&text, utf8, "true") => {
                    visitor.visit_bool(true)
                }
                Head::Atom { text, utf8 } if self.atom_is(&text, utf8, "false") => {
                    visitor.visit_bool(false)
                }
                _ => Err(self.mismatch(start, "atom true or false")),
            }
        })
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
        at_term!(self, visitor.visit_f32(self.float()? as f32))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, visitor.visit_f64(self.float()?))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            let code = self.int::<u32>("char")?;
            match char::from_u32(code) {
                Some(c) => visitor.visit_char(c),
                None => Err(self.mismatch(start, "char (a Unicode code point)")),
            }
        })
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let start = self.pos;
        match self.quick() {
            Some(Quick::Binary(r)) => {
                return self
                    .visit_binary_text(start, r, visitor)
                    .map_err(|e| e.at(start))
            }
            Some(Quick::Atom(text)) => {
                return self.visit_text(text, visitor).map_err(|e| e.at(start))
            }
            Some(Quick::Int(_)) => self.pos = start,
            None => {}
        }
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Binary(r) => self.visit_binary_text(start, r, visitor),
                Head::Atom { text, utf8 } => self.visit_atom(text, utf8, visitor),
                head => {
                    let s = self.charlist(start, head)?;
                    visitor.visit_string(s)
                }
            }
        })
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            let bad =
                |de: &ByteDeserializer<R>| de.mismatch(start, "bytes (binary or list of bytes)");
            match self.head()? {
                Head::Binary(r) | Head::String(r) => self.visit_bytes_range(r, visitor),
                Head::Nil => visitor.visit_bytes(&[]),
                Head::List(n) => {
                    let mut bytes = Vec::with_capacity((n as usize).min(self.len()));
                    for _ in 0..n {
                        match self.head()? {
                            Head::Int(i) => bytes.push(u8::try_from(i).map_err(|_| bad(self))?),
                            _ => return Err(bad(self)),
                        }
                    }
                    match self.head()? {
                        Head::Nil => visitor.visit_byte_buf(bytes),
                        _ => Err(bad(self)),
                    }
                }
                _ => Err(bad(self)),
            }
        })
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            if let Head::Atom { text, utf8 } = self.head()? {
                if self.atom_is(&text, utf8, "undefined") || self.atom_is(&text, utf8, "nil") {
                    return visitor.visit_none();
                }
            }
            self.pos = start;
            visitor.visit_some(&mut *self)
        })
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Tuple(0) => visitor.visit_unit(),
                _ => Err(self.mismatch(start, "empty tuple {}")),
            }
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Atom { text, utf8 } if self.atom_is(&text, utf8, name) => {
                    visitor.visit_unit()
                }
                _ => Err(self.mismatch(start, format_args!("atom {}", show_atom(name)))),
            }
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name != raw::TOKEN {
            return visitor.visit_newtype_struct(self);
        }
        at_term!(self, {
            let (term, used) = self.decode_at(self.pos)?;
            self.pos += used;
            raw::hand_over(term, visitor)
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Nil => {
                    SeqDeserializer::new(std::iter::empty::<u8>()).deserialize_any(visitor)
                }
                Head::String(r) => {
                    SeqDeserializer::new(self.bytes(r).iter().map(|&b| StringElement(b)))
                        .deserialize_any(visitor)
                }
                Head::Binary(r) => {
                    SeqDeserializer::new(self.bytes(r).iter().copied()).deserialize_any(visitor)
                }
                Head::List(n) => {
                    let value = self.visit_elements(start, n, visitor)?;
                    self.proper_tail(start)?;
                    Ok(value)
                }
                _ => Err(self.mismatch(start, "list")),
            }
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Tuple(n) if n as usize == len => self.visit_elements(start, n, visitor),
                _ => Err(self.mismatch(start, format_args!("tuple of {len} elements"))),
            }
        })
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
        self.map(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.map(Some(name), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            let expected = || format!("atom or tagged tuple (enum {name})");
            let (tag, payload) = match self.head()? {
                Head::Atom { text, utf8 } => ((text, utf8), None),
                Head::Binary(r) => match std::str::from_utf8(self.bytes(r.clone())) {
                    Ok(_) => ((r, true), None),
                    Err(_) => return Err(self.mismatch(start, expected())),
                },
                Head::Tuple(n) if n >= 1 => match self.head()? {
                    Head::Atom { text, utf8 } => ((text, utf8), Some(n - 1)),
                    _ => return Err(self.mismatch(start, expected())),
                },
                _ => return Err(self.mismatch(start, expected())),
            };
            visitor.visit_enum(Variant {
                de: self,
                start,
                tag,
                payload,
            })
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let start = self.pos;
        match self.quick() {
            Some(Quick::Atom(text)) => {
                return self.visit_text(text, visitor).map_err(|e| e.at(start))
            }
            Some(_) => self.pos = start,
            None => {}
        }
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Atom { text, utf8 } => self.visit_atom(text, utf8, visitor),
                Head::Binary(r) => self.visit_binary_text(start, r, visitor),
                head @ (Head::Int(_) | Head::Big { .. }) => {
                    let index = match self.int_value(&head) {
                        Some(Int::Signed(i)) => u64::try_from(i).ok(),
                        Some(Int::Unsigned(u)) => u64::try_from(u).ok(),
                        _ => None,
                    };
                    match index {
                        Some(i) => visitor.visit_u64(i),
                        None => Err(self.mismatch(start, "field name (atom)")),
                    }
                }
                _ => Err(self.mismatch(start, "field name (atom)")),
            }
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        at_term!(self, {
            self.skip()?;
            visitor.visit_unit()
        })
    }
}

impl<'de, R: Input<'de>> ByteDeserializer<R> {
    /// A map (for a struct named `name`, if any).
    fn map<V: Visitor<'de>>(
        &mut self,
        name: Option<&'static str>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        at_term!(self, {
            let start = self.pos;
            match self.head()? {
                Head::Map(n) => {
                    self.enter()?;
                    let mut access = Entries { de: self, left: n };
                    let value = visitor.visit_map(&mut access)?;
                    let left = access.left;
                    self.all_read(start, n, left)?;
                    self.leave();
                    Ok(value)
                }
                _ => Err(match name {
                    Some(name) => self.mismatch(start, format_args!("map (struct {name})")),
                    None => self.mismatch(start, "map"),
                }),
            }
        })
    }
}

/// An enum being read: its tag is read, `payload` elements follow (`None`
/// for a bare atom).
struct Variant<'a, R> {
    de: &'a mut ByteDeserializer<R>,
    start: usize,
    /// The tag's text: a range of the input, UTF-8 (`true`) or Latin-1.
    tag: (Range<usize>, bool),
    payload: Option<u32>,
}

impl<'de, 'a, R: Input<'de>> de::EnumAccess<'de> for Variant<'a, R> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name = self.tag();
        let tag: serde::de::value::StrDeserializer<'_, Error> = name.as_ref().into_deserializer();
        let value = seed.deserialize(tag)?;
        drop(name);
        Ok((value, self))
    }
}

impl<'de, R: Input<'de>> Variant<'_, R> {
    fn tag(&self) -> Cow<'_, str> {
        let (text, utf8) = self.tag.clone();
        Cursor::new(self.de.input.data(), 0).atom_text(text, utf8)
    }

    fn mismatch(&self, expected: impl std::fmt::Display) -> Error {
        self.de.mismatch(self.start, expected)
    }

    fn tagged_tuple(&self, fields: usize) -> String {
        format!(
            "tuple {{{}{}}}",
            show_atom(&self.tag()),
            ", _".repeat(fields)
        )
    }
}

impl<'de, R: Input<'de>> de::VariantAccess<'de> for Variant<'_, R> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.payload {
            None => Ok(()),
            Some(_) => Err(self.mismatch(format_args!("atom {}", show_atom(&self.tag())))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.payload {
            Some(1) => {
                self.de.enter()?;
                let value = seed.deserialize(&mut *self.de)?;
                self.de.leave();
                Ok(value)
            }
            _ => Err(self.mismatch(self.tagged_tuple(1))),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.payload {
            Some(n) if n as usize == len => self.de.visit_elements(self.start, n, visitor),
            _ => Err(self.mismatch(self.tagged_tuple(len))),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let is_map = self.de.cursor().peek().ok() == Some(crate::tag::MAP_EXT);
        match self.payload {
            Some(1) if is_map => {
                self.de.enter()?;
                let value = self.de.map(None, visitor)?;
                self.de.leave();
                Ok(value)
            }
            _ => {
                let keys: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{} => _", show_atom(f)))
                    .collect();
                Err(self.mismatch(format_args!(
                    "tuple {{{}, #{{{}}}}}",
                    show_atom(&self.tag()),
                    keys.join(", ")
                )))
            }
        }
    }
}

/// An element of a `STRING_EXT` list: the small integer it stands for,
/// read as that integer's own term would be (an `Option` of it is
/// `Some`, a newtype wraps it), not as a lone byte.
struct StringElement(u8);

impl<'de> IntoDeserializer<'de, Error> for StringElement {
    type Deserializer = StringElement;

    fn into_deserializer(self) -> StringElement {
        self
    }
}

impl<'de> de::Deserializer<'de> for StringElement {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u8(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
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
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        enum identifier ignored_any
    }
}
