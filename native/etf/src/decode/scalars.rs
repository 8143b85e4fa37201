//! Decoding the leaves: atoms, numbers, bitstrings, pids, ports,
//! references and funs. Each reads its tag's body and returns the value;
//! the containers around them are the walk's business (`mod.rs`).
//!
//! | Erlang              | tag(s)                          | Rust                      |
//! |---------------------|---------------------------------|---------------------------|
//! | `ok`, `'é'`         | 100, 115, 118, 119 (82 in dist) | `Term::Atom`              |
//! | `1.5`               | 70, 99                          | `Term::Float`             |
//! | `1 bsl 100`         | 110, 111                        | `Term::Int`/`Term::BigInt`|
//! | `<<1:3>>`           | 77                              | `Term::BitString`         |
//! | `self()`            | 88, 103                         | `Term::Pid`               |
//! | `hd(erlang:ports())`| 89, 102, 120                    | `Term::Port`              |
//! | `make_ref()`        | 90, 101, 114                    | `Term::Reference`         |
//! | `fun m:f/1`, `fun() -> ok end` | 112, 113             | `Term::Fun` (exact bytes) |

use std::borrow::Cow;

use bytes::Bytes;
use num_bigint::{BigInt, BigUint, Sign};

use super::{Decoder, R};
use crate::atom::Atom;
use crate::error::DecodeErrorKind as Kind;
use crate::tag::*;
use crate::term::{BitString, Fun, Pid, Port, Reference, Term};

/// An atom's encoding after its tag ([`Decoder::atom_head`]).
pub(super) enum AtomHead {
    /// `len` bytes of text follow, UTF-8 or Latin-1.
    Text { len: usize, utf8: bool },
    /// An atom-cache reference, resolved.
    Cached(Atom),
}

impl<'a> Decoder<'a, '_> {
    // ---- atoms ---------------------------------------------------------------

    /// An atom-valued field (a pid's node, a fun's module): tag and body.
    pub(super) fn atom(&mut self) -> R<Atom> {
        let at = self.pos;
        let tag = self.u8()?;
        self.atom_body(tag, at)
    }

    /// What follows an atom's tag (at byte `at`): the length of its text
    /// and whether that is UTF-8, or, for a cache reference, the atom.
    #[inline]
    pub(super) fn atom_head(&mut self, tag: u8, at: usize) -> R<AtomHead> {
        let (len, utf8) = match tag {
            SMALL_ATOM_UTF8_EXT => (self.u8()? as usize, true),
            ATOM_UTF8_EXT => (self.u16()? as usize, true),
            ATOM_EXT => (self.u16()? as usize, false),
            SMALL_ATOM_EXT => (self.u8()? as usize, false),
            ATOM_CACHE_REF => {
                let i = self.u8()?;
                return self
                    .atom_cache
                    .and_then(|cache| cache.get(i as usize).copied().flatten())
                    .map(AtomHead::Cached)
                    .ok_or_else(|| self.fail(at, Kind::AtomCacheRef(i)));
            }
            LOCAL_EXT => return Err(self.fail(at, Kind::LocalExt)),
            _ => return Err(self.fail(at, Kind::UnknownTag(tag))),
        };
        Ok(AtomHead::Text { len, utf8 })
    }

    pub(super) fn atom_body(&mut self, tag: u8, at: usize) -> R<Atom> {
        let (len, utf8) = match self.atom_head(tag, at)? {
            AtomHead::Text { len, utf8 } => (len, utf8),
            AtomHead::Cached(atom) => return Ok(atom),
        };
        let raw = self.take(len)?;
        if let Some(atom) = Atom::cached_utf8(raw) {
            // Latin-1 bytes equal to a UTF-8 name only mean the same text
            // when they are ASCII.
            if utf8 || raw.is_ascii() {
                return Ok(atom);
            }
        }
        let name: Cow<str> = if raw.is_ascii() {
            // ASCII is both Latin-1 and UTF-8.
            Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default())
        } else if utf8 {
            Cow::Borrowed(std::str::from_utf8(raw).map_err(|_| self.fail(at, Kind::InvalidUtf8))?)
        } else {
            Cow::Owned(raw.iter().map(|&b| b as char).collect())
        };
        Atom::try_new(&name).map_err(|e| self.fail(at, Kind::InvalidAtom(e)))
    }

    // ---- numbers -------------------------------------------------------------

    /// `FLOAT_EXT`: 31 bytes of `"%.20e"` text, NUL padded.
    pub(super) fn old_float(&mut self, at: usize) -> R<Term> {
        let raw = self.take(31)?;
        let text = raw.split(|&b| b == 0).next().unwrap_or_default();
        std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .map(Term::Float)
            .ok_or_else(|| self.fail(at, Kind::InvalidFloat))
    }

    /// A bignum's sign byte and its little-endian digits (`N:8` or `N:32`
    /// of them, as many as the input holds).
    pub(super) fn big_parts(&mut self, tag: u8) -> R<(u8, &'a [u8])> {
        let len_at = self.pos;
        let n = if tag == SMALL_BIG_EXT {
            self.u8()? as u32
        } else {
            self.u32()?
        };
        self.claim(len_at, "bignum", n, 1, 1)?;
        let sign = self.u8()?;
        Ok((sign, self.take(n as usize)?))
    }

    /// `SMALL_BIG_EXT`/`LARGE_BIG_EXT`: sign byte, little-endian digits;
    /// normalised to `Term::Int` when the value fits in `i64`. Pushes the
    /// value on `values` itself: returned through a `Result`, a `BigInt`
    /// was copied on the stack with a store-forwarding stall.
    pub(super) fn big(&mut self, tag: u8, values: &mut Vec<Term>) -> R<()> {
        let (sign, digits) = self.big_parts(tag)?;
        // Leading zero digits (a non-canonical encoding) carry no value:
        // without them, whatever fits in 8 bytes is tried as an `i64`.
        let used = digits.iter().rposition(|&d| d != 0).map_or(0, |i| i + 1);
        let digits = &digits[..used];
        if digits.len() <= 8 {
            let mut le = [0u8; 8];
            le[..digits.len()].copy_from_slice(digits);
            let magnitude = u64::from_le_bytes(le);
            if sign == 0 && magnitude <= i64::MAX as u64 {
                push_direct!(values, Term::Int(magnitude as i64));
                return Ok(());
            }
            if sign != 0 && magnitude <= 1 << 63 {
                push_direct!(values, Term::Int((magnitude as i64).wrapping_neg()));
                return Ok(());
            }
        }
        let sign = if sign == 0 { Sign::Plus } else { Sign::Minus };
        // The value does not fit in `i64`: build the `BigInt` directly. `BigUint::from_bytes_le` folds byte by byte;
        // whole 32-bit words are several times cheaper.
        // `from_bytes_le` builds the digit vector at its exact size.
        let magnitude = BigUint::from_bytes_le(digits);
        // Every value that fits in `i64` returned above.
        push_direct!(values, Term::BigInt(BigInt::from_biguint(sign, magnitude)));
        Ok(())
    }

    // ---- binaries ------------------------------------------------------------

    /// `BIT_BINARY_EXT`'s header `Len:32, Bits:8`, checked: a length the
    /// input holds and `1..=8` bits used in the last of at least one byte.
    pub(super) fn bit_binary_header(&mut self) -> R<(u32, u8)> {
        let len_at = self.pos;
        let len = self.u32()?;
        let bits = self.u8()?;
        if len == 0 && bits == 0 {
            // `<<>>` in this form: OTP never writes it, but reads it.
            return Ok((0, 8));
        }
        if !(1..=8).contains(&bits) || len == 0 {
            return Err(self.fail(len_at, Kind::InvalidBitString { len, bits }));
        }
        if len as usize > self.remaining() {
            return Err(self.fail(
                len_at,
                Kind::Oversized {
                    what: "bitstring",
                    len: len as u64,
                },
            ));
        }
        Ok((len, bits))
    }

    /// `BIT_BINARY_EXT`: `Len:32, Bits:8, Data`; unused low bits are cleared.
    pub(super) fn bit_binary(&mut self) -> R<Term> {
        let (len, bits) = self.bit_binary_header()?;
        let mut bytes = self.bytes(len as usize)?;
        if bits == 8 {
            return Ok(Term::Binary(bytes));
        }
        let mask = 0xffu8 << (8 - bits);
        if let Some(&last) = bytes.last() {
            if last & !mask != 0 {
                let mut owned = bytes.to_vec();
                if let Some(l) = owned.last_mut() {
                    *l &= mask;
                }
                bytes = Bytes::from(owned);
            }
        }
        Ok(Term::from(BitString {
            bytes,
            last_bits: bits,
        }))
    }

    // ---- pids, ports, references -----------------------------------------------

    pub(super) fn pid(&mut self, tag: u8) -> R<Pid> {
        let node = self.atom()?;
        let id = self.u32()?;
        let serial = self.u32()?;
        let creation = if tag == PID_EXT {
            self.u8()? as u32
        } else {
            self.u32()?
        };
        Ok(Pid {
            node,
            id,
            serial,
            creation,
        })
    }

    pub(super) fn port(&mut self, tag: u8) -> R<Port> {
        let node = self.atom()?;
        let (id, creation) = match tag {
            PORT_EXT => (self.u32()? as u64, self.u8()? as u32),
            NEW_PORT_EXT => (self.u32()? as u64, self.u32()?),
            _ => (u64::from_be_bytes(self.array()?), self.u32()?),
        };
        Ok(Port { node, id, creation })
    }

    pub(super) fn reference(&mut self, tag: u8) -> R<Reference> {
        if tag == REFERENCE_EXT {
            let node = self.atom()?;
            let id = self.u32()?;
            let creation = self.u8()? as u32;
            return Ok(Reference {
                node,
                creation,
                ids: vec![id],
            });
        }
        let len_at = self.pos;
        let len = self.u16()?;
        if !(1..=5).contains(&len) {
            return Err(self.fail(len_at, Kind::InvalidReference(len)));
        }
        let node = self.atom()?;
        let creation = if tag == NEW_REFERENCE_EXT {
            self.u8()? as u32
        } else {
            self.u32()?
        };
        let mut ids = Vec::with_capacity(len as usize);
        for _ in 0..len {
            ids.push(self.u32()?);
        }
        Ok(Reference {
            node,
            creation,
            ids,
        })
    }

    // ---- funs ----------------------------------------------------------------

    /// `NEW_FUN_EXT`: `Size:32` counts itself and everything after it; the
    /// fun is kept as its exact bytes (inside a distribution message, as
    /// bytes that stand alone: see [`Decoder::standalone_fun`]).
    pub(super) fn new_fun(&mut self, at: usize) -> R<Term> {
        let size = self.u32()? as usize;
        if size < 4 {
            return Err(self.fail(at, Kind::InvalidFun));
        }
        if size - 4 > self.remaining() {
            return Err(self.fail(
                at + 1,
                Kind::Oversized {
                    what: "fun",
                    len: size as u64,
                },
            ));
        }
        if self.atom_cache.is_some() {
            return self.standalone_fun(at, size);
        }
        self.pos = at;
        let bytes = self.bytes(1 + size)?;
        Ok(Term::Fun(Fun { bytes }))
    }

    /// A fun in a distribution message: its atoms (module, the creator's
    /// node, free variables) may be `ATOM_CACHE_REF`s into this message's
    /// atom cache, which mean nothing anywhere else, so the fun's bytes are
    /// written again with the atoms themselves: sent on in another message
    /// (a reply, `sys:replace_state/2`'s fun passed to a BEAM node) they
    /// are still the same fun. `Arity, Uniq, Index, NumFree, OldIndex,
    /// OldUniq` are kept as they were; `Module`, `Pid` and the free
    /// variables are decoded and encoded again.
    fn standalone_fun(&mut self, at: usize, size: usize) -> R<Term> {
        let end = at + 1 + size;
        let fixed = self.take(1 + 16 + 4 + 4)?;
        let num_free = u32::from_be_bytes([fixed[21], fixed[22], fixed[23], fixed[24]]);
        let mut out = Vec::with_capacity(1 + size);
        out.push(NEW_FUN_EXT);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(fixed);
        let opts = crate::encode::EncodeOptions::default();
        for i in 0..4 + u64::from(num_free) {
            let from = self.pos;
            // Every term takes at least a byte: a huge NumFree fails at
            // the end of the fun's bytes.
            let t = self.nested_term(end)?;
            match i {
                // OldIndex and OldUniq, integers: as they were.
                1 | 2 => out.extend_from_slice(self.buf.get(from..self.pos).unwrap_or(&[])),
                _ => crate::encode::encode_body_into(&t, &opts, &mut out),
            }
        }
        if self.pos != end {
            return Err(self.fail(at, Kind::InvalidFun));
        }
        let Ok(size) = u32::try_from(out.len() - 1) else {
            return Err(self.fail(at, Kind::InvalidFun));
        };
        out[1..5].copy_from_slice(&size.to_be_bytes());
        Ok(Term::Fun(Fun {
            bytes: Bytes::from(out),
        }))
    }

    /// `EXPORT_EXT`: `Module, Function, Arity` (an atom, an atom and a
    /// `SMALL_INTEGER_EXT`), kept as its exact bytes; inside a
    /// distribution message written again with its atoms themselves, not
    /// references to that message's atom cache (as [`Decoder::standalone_fun`]).
    pub(super) fn export(&mut self, at: usize) -> R<Term> {
        let module = self.atom()?;
        let function = self.atom()?;
        let arity_at = self.pos;
        if self.u8()? != SMALL_INTEGER_EXT {
            return Err(self.fail(arity_at, Kind::InvalidFun));
        }
        let arity = self.u8()?;
        if self.atom_cache.is_some() {
            let opts = crate::encode::EncodeOptions::default();
            let mut out = vec![EXPORT_EXT];
            for a in [module, function] {
                crate::encode::encode_body_into(&Term::Atom(a), &opts, &mut out);
            }
            out.extend_from_slice(&[SMALL_INTEGER_EXT, arity]);
            return Ok(Term::Fun(Fun {
                bytes: Bytes::from(out),
            }));
        }
        let len = self.pos - at;
        self.pos = at;
        let bytes = self.bytes(len)?;
        Ok(Term::Fun(Fun { bytes }))
    }
}
