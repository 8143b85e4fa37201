//! Reading ETF bytes piece by piece for [`from_slice`](crate::serde::from_slice):
//! a cursor that reads one term's header ([`Head`]) or skips a whole term
//! (without allocating or interning atoms). Whole terms, for `Term` fields,
//! are read by [`decode`](crate::decode).
//!
//! Every length is checked against the bytes actually left before anything
//! is allocated or sliced, and nesting is limited to [`MAX_DEPTH`].

use std::ops::Range;

use crate::serde::error::Error;
use crate::tag;

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

/// A header [`Cursor::quick`] read.
#[derive(Clone, Debug)]
pub(crate) enum Quick {
    /// `SMALL_INTEGER_EXT`, `INTEGER_EXT`.
    Int(i64),
    /// `BINARY_EXT`: its bytes, all present.
    Binary(Range<usize>),
    /// An atom whose text is ASCII.
    Atom(Range<usize>),
}

/// A position in ETF bytes.
pub(crate) struct Cursor<'b> {
    pub(crate) data: &'b [u8],
    pub(crate) pos: usize,
}

/// `b` as text if it is UTF-8: ASCII (most atoms and strings) without a
/// call to the validator.
#[inline]
pub(crate) fn utf8(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).ok()
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

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        match self.data.get(self.pos..).and_then(<[u8]>::first_chunk::<N>) {
            Some(a) => {
                self.pos += N;
                Ok(*a)
            }
            None => Err(Error::Eof.at(self.data.len())),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(Error::Eof.at(self.data.len())),
        }
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

    /// The commonest headers, read without building a [`Head`]: a small
    /// integer, a binary, or a short atom whose text is ASCII (so needs no
    /// further check). `None`, with the cursor unmoved, for anything else,
    /// including input too short to hold what the header claims: the
    /// caller then takes the general path ([`Cursor::head`]), which says
    /// what is wrong.
    #[inline]
    pub(crate) fn quick(&mut self) -> Option<Quick> {
        let at = self.pos;
        let rest = self.data.get(at..)?;
        let (quick, len) = match *rest.first()? {
            tag::SMALL_INTEGER_EXT => (Quick::Int((*rest.get(1)?).into()), 2),
            tag::INTEGER_EXT => {
                let &[_, a, b, c, d] = rest.first_chunk::<5>()?;
                (Quick::Int(i32::from_be_bytes([a, b, c, d]).into()), 5)
            }
            tag::BINARY_EXT => {
                let &[_, a, b, c, d] = rest.first_chunk::<5>()?;
                let n = u32::from_be_bytes([a, b, c, d]) as usize;
                let end = n.checked_add(5).filter(|&end| end <= rest.len())?;
                (Quick::Binary(at + 5..at + end), end)
            }
            tag::SMALL_ATOM_UTF8_EXT | tag::SMALL_ATOM_EXT => {
                let n = usize::from(*rest.get(1)?);
                let text = rest.get(2..2 + n).filter(|t| t.is_ascii())?;
                (Quick::Atom(at + 2..at + 2 + text.len()), 2 + n)
            }
            tag::ATOM_EXT | tag::ATOM_UTF8_EXT => {
                let &[_, a, b] = rest.first_chunk::<3>()?;
                let n = usize::from(u16::from_be_bytes([a, b]));
                let text = rest.get(3..3 + n).filter(|t| t.is_ascii())?;
                (Quick::Atom(at + 3..at + 3 + text.len()), 3 + n)
            }
            _ => return None,
        };
        self.pos = at + len;
        Some(quick)
    }

    /// Reads a term's header (for [`Head::Other`] only the tag is looked at).
    pub(crate) fn head(&mut self) -> Result<Head, Error> {
        let at = self.pos;
        let t = self.u8()?;
        Ok(match t {
            tag::SMALL_INTEGER_EXT => Head::Int(self.u8()?.into()),
            tag::INTEGER_EXT => Head::Int(i32::from_be_bytes(self.array()?).into()),
            tag::SMALL_BIG_EXT | tag::LARGE_BIG_EXT => {
                let n = if t == tag::SMALL_BIG_EXT {
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
            tag::NEW_FLOAT_EXT => {
                let f = f64::from_bits(self.u64()?);
                if !f.is_finite() {
                    return Err(syntax(at, "NaN or infinite float"));
                }
                Head::Float(f)
            }
            tag::FLOAT_EXT => {
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
            tag::ATOM_EXT | tag::SMALL_ATOM_EXT | tag::ATOM_UTF8_EXT | tag::SMALL_ATOM_UTF8_EXT => {
                let n = if t == tag::ATOM_EXT || t == tag::ATOM_UTF8_EXT {
                    self.u16()? as usize
                } else {
                    self.u8()? as usize
                };
                let text = self.take(n)?;
                let utf8 = t == tag::ATOM_UTF8_EXT || t == tag::SMALL_ATOM_UTF8_EXT;
                let bytes = self.bytes(text.clone());
                if utf8 && !bytes.is_ascii() && std::str::from_utf8(bytes).is_err() {
                    return Err(syntax(at, "atom is not valid UTF-8"));
                }
                Head::Atom { text, utf8 }
            }
            tag::BINARY_EXT => {
                let n = self.u32()? as usize;
                Head::Binary(self.take(n)?)
            }
            tag::STRING_EXT => {
                let n = self.u16()? as usize;
                Head::String(self.take(n)?)
            }
            tag::NIL_EXT => Head::Nil,
            tag::LIST_EXT => Head::List(self.u32()?),
            tag::SMALL_TUPLE_EXT => Head::Tuple(self.u8()?.into()),
            tag::LARGE_TUPLE_EXT => Head::Tuple(self.u32()?),
            tag::MAP_EXT => Head::Map(self.u32()?),
            tag::NEW_PID_EXT
            | tag::PID_EXT
            | tag::NEW_PORT_EXT
            | tag::PORT_EXT
            | tag::V4_PORT_EXT
            | tag::NEWER_REFERENCE_EXT
            | tag::NEW_REFERENCE_EXT
            | tag::REFERENCE_EXT
            | tag::NEW_FUN_EXT
            | tag::EXPORT_EXT
            | tag::BIT_BINARY_EXT => {
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
            Head::Other => {
                let at = self.pos;
                let t = self.u8()?;
                self.skip_other(t, at, depth)
            }
            _ => Ok(()),
        }
    }

    /// Skips the rest of a pid, port, reference, fun or bitstring after its tag.
    fn skip_other(&mut self, t: u8, at: usize, depth: usize) -> Result<(), Error> {
        match t {
            tag::NEW_PID_EXT | tag::PID_EXT => {
                self.atom_name()?;
                self.take(if t == tag::NEW_PID_EXT { 12 } else { 9 })?;
            }
            tag::NEW_PORT_EXT | tag::PORT_EXT | tag::V4_PORT_EXT => {
                self.atom_name()?;
                self.take(match t {
                    tag::V4_PORT_EXT => 12,
                    tag::NEW_PORT_EXT => 8,
                    _ => 5,
                })?;
            }
            tag::NEWER_REFERENCE_EXT | tag::NEW_REFERENCE_EXT => {
                let len = self.u16()? as usize;
                self.atom_name()?;
                let creation = if t == tag::NEWER_REFERENCE_EXT { 4 } else { 1 };
                self.take(creation + 4 * len)?;
            }
            tag::REFERENCE_EXT => {
                self.atom_name()?;
                self.take(5)?;
            }
            tag::NEW_FUN_EXT => {
                let size = self.u32()? as usize;
                let rest = size
                    .checked_sub(4)
                    .ok_or_else(|| syntax(at, "NEW_FUN_EXT size below 4"))?;
                self.take(rest)?;
            }
            tag::EXPORT_EXT => {
                self.atom_name()?;
                self.atom_name()?;
                self.skip(depth + 1)?;
            }
            tag::BIT_BINARY_EXT => {
                let n = self.u32()? as usize;
                self.take(1 + n)?;
            }
            t => return Err(syntax(at, format!("unknown tag {t}"))),
        }
        Ok(())
    }
}
