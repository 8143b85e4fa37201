//! Reading ETF bytes piece by piece for [`from_slice`](crate::serde::from_slice):
//! a cursor that reads one term's header ([`Head`]), skips a whole term, or
//! reads one whole term into a [`Term`] (for `Term` fields and error messages).
//!
//! Every length is checked against the bytes actually left before anything
//! is allocated or sliced, and nesting is limited to [`MAX_DEPTH`].

use std::ops::Range;

use num_bigint::{BigInt, Sign};

use crate::atom::Atom;
use crate::serde::error::Error;
use crate::serde::order;
use crate::serde::ser::tag;
use crate::term::{BitString, Fun, Map, Pid, Port, Reference, Term};

/// The deepest nesting of lists, tuples and maps `from_slice` follows.
pub(crate) const MAX_DEPTH: usize = 128;

/// A term's header: everything up to its elements, if it has any.
#[derive(Clone, Debug)]
pub(crate) enum Head {
    /// `SMALL_INTEGER_EXT`, `INTEGER_EXT`.
    Int(i64),
    /// `SMALL_BIG_EXT`, `LARGE_BIG_EXT`: sign and little-endian digits.
    Big {
        negative: bool,
        digits: Range<usize>,
    },
    /// `NEW_FLOAT_EXT`, `FLOAT_EXT`.
    Float(f64),
    /// Any atom: its text, UTF-8 (already validated) or Latin-1.
    Atom { text: Range<usize>, utf8: bool },
    /// `BINARY_EXT`.
    Binary(Range<usize>),
    /// `STRING_EXT`: a list of small integers, one byte each.
    String(Range<usize>),
    /// `NIL_EXT`.
    Nil,
    /// `LIST_EXT`: this many elements follow, then the tail.
    List(u32),
    /// `SMALL_TUPLE_EXT`, `LARGE_TUPLE_EXT`: this many elements follow.
    Tuple(u32),
    /// `MAP_EXT`: this many key/value pairs follow.
    Map(u32),
    /// Pids, ports, references, funs, bitstrings: the tag (not consumed).
    Other,
}

/// A position in ETF bytes.
pub(crate) struct Cursor<'b> {
    pub(crate) data: &'b [u8],
    pub(crate) pos: usize,
}

fn syntax(at: usize, msg: impl Into<String>) -> Error {
    Error::Syntax(msg.into()).at(at)
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(data: &'b [u8], pos: usize) -> Cursor<'b> {
        Cursor { data, pos }
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn peek(&self) -> Result<u8, Error> {
        self.data
            .get(self.pos)
            .copied()
            .ok_or_else(|| Error::Eof.at(self.data.len()))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<Range<usize>, Error> {
        if n > self.remaining() {
            return Err(Error::Eof.at(self.data.len()));
        }
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let r = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.data.get(r).unwrap_or(&[0u8; N][..]));
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// The bytes of a range this cursor handed out.
    pub(crate) fn bytes(&self, r: Range<usize>) -> &'b [u8] {
        self.data.get(r).unwrap_or(&[])
    }

    /// Reads a term's header (for [`Head::Other`] only the tag is looked at).
    pub(crate) fn head(&mut self) -> Result<Head, Error> {
        let at = self.pos;
        let t = self.u8()?;
        Ok(match t {
            tag::SMALL_INTEGER => Head::Int(self.u8()?.into()),
            tag::INTEGER => Head::Int(i32::from_be_bytes(self.array()?).into()),
            tag::SMALL_BIG | tag::LARGE_BIG => {
                let n = if t == tag::SMALL_BIG {
                    self.u8()?.into()
                } else {
                    self.u32()? as usize
                };
                let negative = match self.u8()? {
                    0 => false,
                    1 => true,
                    s => return Err(syntax(at, format!("bignum sign byte {s}"))),
                };
                Head::Big {
                    negative,
                    digits: self.take(n)?,
                }
            }
            tag::NEW_FLOAT => {
                let f = f64::from_bits(self.u64()?);
                if !f.is_finite() {
                    return Err(syntax(at, "NaN or infinite float"));
                }
                Head::Float(f)
            }
            tag::FLOAT => {
                let r = self.take(31)?;
                let text = self.bytes(r);
                let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                let f = std::str::from_utf8(&text[..end])
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| syntax(at, "bad FLOAT_EXT text"))?;
                Head::Float(f)
            }
            tag::ATOM | tag::SMALL_ATOM | tag::ATOM_UTF8 | tag::SMALL_ATOM_UTF8 => {
                let n = if t == tag::ATOM || t == tag::ATOM_UTF8 {
                    self.u16()? as usize
                } else {
                    self.u8()? as usize
                };
                let text = self.take(n)?;
                let utf8 = t == tag::ATOM_UTF8 || t == tag::SMALL_ATOM_UTF8;
                if utf8 && std::str::from_utf8(self.bytes(text.clone())).is_err() {
                    return Err(syntax(at, "atom is not valid UTF-8"));
                }
                Head::Atom { text, utf8 }
            }
            tag::BINARY => {
                let n = self.u32()? as usize;
                Head::Binary(self.take(n)?)
            }
            tag::STRING => {
                let n = self.u16()? as usize;
                Head::String(self.take(n)?)
            }
            tag::NIL => Head::Nil,
            tag::LIST => Head::List(self.u32()?),
            tag::SMALL_TUPLE => Head::Tuple(self.u8()?.into()),
            tag::LARGE_TUPLE => Head::Tuple(self.u32()?),
            tag::MAP => Head::Map(self.u32()?),
            tag::NEW_PID
            | tag::PID
            | tag::NEW_PORT
            | tag::PORT
            | tag::V4_PORT
            | tag::NEWER_REFERENCE
            | tag::NEW_REFERENCE
            | tag::REFERENCE
            | tag::NEW_FUN
            | tag::EXPORT
            | tag::BIT_BINARY => {
                self.pos = at;
                Head::Other
            }
            tag::COMPRESSED => return Err(syntax(at, "compressed term inside a term")),
            t => return Err(syntax(at, format!("unknown tag {t}"))),
        })
    }

    /// An atom's name (Latin-1 atoms are converted).
    pub(crate) fn atom_text(&self, text: Range<usize>, utf8: bool) -> std::borrow::Cow<'b, str> {
        let bytes = self.bytes(text);
        if utf8 || bytes.is_ascii() {
            // UTF-8 atoms were validated by `head`; ASCII is UTF-8.
            String::from_utf8_lossy(bytes)
        } else {
            bytes
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .into()
        }
    }

    /// Reads an atom (any atom tag) and returns its name.
    fn atom_name(&mut self) -> Result<std::borrow::Cow<'b, str>, Error> {
        let at = self.pos;
        match self.head()? {
            Head::Atom { text, utf8 } => Ok(self.atom_text(text, utf8)),
            _ => Err(syntax(at, "expected an atom (node name or fun module)")),
        }
    }

    fn atom(&mut self) -> Result<Atom, Error> {
        let at = self.pos;
        let name = self.atom_name()?;
        Atom::try_new(&name).map_err(|e| Error::from(e).at(at))
    }

    /// Skips one whole term without allocating.
    pub(crate) fn skip(&mut self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(syntax(self.pos, format!("nested deeper than {MAX_DEPTH}")));
        }
        match self.head()? {
            Head::List(n) => {
                for _ in 0..n {
                    self.skip(depth + 1)?;
                }
                self.skip(depth + 1)
            }
            Head::Tuple(n) => {
                for _ in 0..n {
                    self.skip(depth + 1)?;
                }
                Ok(())
            }
            Head::Map(n) => {
                for _ in 0..n {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
                Ok(())
            }
            Head::Other => self.other(depth, false).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Reads one whole term.
    pub(crate) fn read_term(&mut self, depth: usize) -> Result<Term, Error> {
        if depth > MAX_DEPTH {
            return Err(syntax(self.pos, format!("nested deeper than {MAX_DEPTH}")));
        }
        let at = self.pos;
        Ok(match self.head()? {
            Head::Int(i) => Term::Int(i),
            Head::Big { negative, digits } => {
                let sign = if negative { Sign::Minus } else { Sign::Plus };
                Term::from_bigint(BigInt::from_bytes_le(sign, self.bytes(digits)))
            }
            Head::Float(f) => Term::Float(f),
            Head::Atom { text, utf8 } => {
                let name = self.atom_text(text, utf8);
                Term::Atom(Atom::try_new(&name).map_err(|e| Error::from(e).at(at))?)
            }
            Head::Binary(r) => Term::binary(self.bytes(r).to_vec()),
            Head::String(r) => {
                Term::List(self.bytes(r).iter().map(|&b| Term::Int(b.into())).collect())
            }
            Head::Nil => Term::nil(),
            Head::List(n) => {
                // Each element takes at least one byte.
                let mut items = Vec::with_capacity((n as usize).min(self.remaining()));
                for _ in 0..n {
                    items.push(self.read_term(depth + 1)?);
                }
                match self.read_term(depth + 1)? {
                    Term::List(tail) if tail.is_empty() => Term::List(items),
                    tail if items.is_empty() => tail,
                    tail => Term::ImproperList(items, Box::new(tail)),
                }
            }
            Head::Tuple(n) => {
                let mut items = Vec::with_capacity((n as usize).min(self.remaining()));
                for _ in 0..n {
                    items.push(self.read_term(depth + 1)?);
                }
                Term::Tuple(items)
            }
            Head::Map(n) => {
                let mut entries = Vec::with_capacity((n as usize).min(self.remaining() / 2));
                for _ in 0..n {
                    let k = self.read_term(depth + 1)?;
                    let v = self.read_term(depth + 1)?;
                    entries.push((k, v));
                }
                let len = entries.len();
                let entries = order::dedupe(entries);
                if entries.len() != len {
                    return Err(syntax(at, "map with a repeated key"));
                }
                Term::Map(Map { entries })
            }
            Head::Other => self.other(depth, true)?,
        })
    }

    /// Pids, ports, references, funs and bitstrings. With `build` false the
    /// term is only skipped: no atom is created and `Term::nil()` returned.
    fn other(&mut self, depth: usize, build: bool) -> Result<Term, Error> {
        let at = self.pos;
        let t = self.u8()?;
        if !build {
            return self.skip_other(t, at, depth).map(|()| Term::nil());
        }
        Ok(match t {
            tag::NEW_PID | tag::PID => {
                let node = self.atom()?;
                let id = self.u32()?;
                let serial = self.u32()?;
                let creation = if t == tag::NEW_PID {
                    self.u32()?
                } else {
                    self.u8()?.into()
                };
                Term::Pid(Pid {
                    node,
                    id,
                    serial,
                    creation,
                })
            }
            tag::NEW_PORT | tag::PORT | tag::V4_PORT => {
                let node = self.atom()?;
                let id = if t == tag::V4_PORT {
                    self.u64()?
                } else {
                    self.u32()?.into()
                };
                let creation = if t == tag::PORT {
                    self.u8()?.into()
                } else {
                    self.u32()?
                };
                Term::Port(Port { node, id, creation })
            }
            tag::NEWER_REFERENCE | tag::NEW_REFERENCE => {
                let len = self.u16()? as usize;
                let node = self.atom()?;
                let creation = if t == tag::NEWER_REFERENCE {
                    self.u32()?
                } else {
                    self.u8()?.into()
                };
                let mut ids = Vec::with_capacity(len.min(self.remaining() / 4));
                for _ in 0..len {
                    ids.push(self.u32()?);
                }
                Term::Reference(Reference {
                    node,
                    creation,
                    ids,
                })
            }
            tag::REFERENCE => {
                let node = self.atom()?;
                let id = self.u32()?;
                let creation = self.u8()?.into();
                Term::Reference(Reference {
                    node,
                    creation,
                    ids: vec![id],
                })
            }
            tag::NEW_FUN => {
                // Size counts itself and everything after it.
                let size = self.u32()? as usize;
                let rest = size
                    .checked_sub(4)
                    .ok_or_else(|| syntax(at, "NEW_FUN_EXT size below 4"))?;
                self.take(rest)?;
                Term::Fun(Fun {
                    bytes: self.bytes(at..self.pos).to_vec().into(),
                })
            }
            tag::EXPORT => {
                self.atom_name()?;
                self.atom_name()?;
                self.skip(depth + 1)?;
                Term::Fun(Fun {
                    bytes: self.bytes(at..self.pos).to_vec().into(),
                })
            }
            tag::BIT_BINARY => {
                let n = self.u32()? as usize;
                let bits = self.u8()?;
                let r = self.take(n)?;
                let mut bytes = self.bytes(r).to_vec();
                if n == 0 || bits == 8 {
                    return Ok(Term::binary(bytes));
                }
                if !(1..=7).contains(&bits) {
                    return Err(syntax(
                        at,
                        format!("bitstring with {bits} bits in its last byte"),
                    ));
                }
                if let Some(last) = bytes.last_mut() {
                    *last &= 0xffu8 << (8 - bits);
                }
                Term::BitString(BitString {
                    bytes: bytes.into(),
                    last_bits: bits,
                })
            }
            t => return Err(syntax(at, format!("unknown tag {t}"))),
        })
    }

    /// Skips the rest of a pid, port, reference, fun or bitstring after its tag.
    fn skip_other(&mut self, t: u8, at: usize, depth: usize) -> Result<(), Error> {
        match t {
            tag::NEW_PID | tag::PID => {
                self.atom_name()?;
                self.take(if t == tag::NEW_PID { 12 } else { 9 })?;
            }
            tag::NEW_PORT | tag::PORT | tag::V4_PORT => {
                self.atom_name()?;
                self.take(match t {
                    tag::V4_PORT => 12,
                    tag::NEW_PORT => 8,
                    _ => 5,
                })?;
            }
            tag::NEWER_REFERENCE | tag::NEW_REFERENCE => {
                let len = self.u16()? as usize;
                self.atom_name()?;
                let creation = if t == tag::NEWER_REFERENCE { 4 } else { 1 };
                self.take(creation + 4 * len)?;
            }
            tag::REFERENCE => {
                self.atom_name()?;
                self.take(5)?;
            }
            tag::NEW_FUN => {
                let size = self.u32()? as usize;
                let rest = size
                    .checked_sub(4)
                    .ok_or_else(|| syntax(at, "NEW_FUN_EXT size below 4"))?;
                self.take(rest)?;
            }
            tag::EXPORT => {
                self.atom_name()?;
                self.atom_name()?;
                self.skip(depth + 1)?;
            }
            tag::BIT_BINARY => {
                let n = self.u32()? as usize;
                self.take(1 + n)?;
            }
            t => return Err(syntax(at, format!("unknown tag {t}"))),
        }
        Ok(())
    }
}
