//! Building binaries from `<<...>>` segments, as `erl_eval` builds them.
//!
//! | Erlang                  | bits written                                   |
//! |-------------------------|------------------------------------------------|
//! | `<<1,2:3>>`             | `00000001` `010`                               |
//! | `<<16#123:12/little>>`  | low byte first, then the top 4 bits: `<<35,1:4>>` |
//! | `<<"λ"/utf8>>`          | the character's UTF-8 bytes                    |
//! | `<<1.5:32/float>>`      | the IEEE 754 single                            |

use bytes::Bytes;
use num_bigint::{BigInt, Sign};
use num_traits::{One, Zero};

use crate::term::{BitString, Term};

/// Bits written so far, most significant bit of each byte first.
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bit_len: usize,
}

impl BitWriter {
    fn push_bit(&mut self, bit: bool) {
        if self.bit_len % 8 == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 0x80 >> (self.bit_len % 8);
            }
        }
        self.bit_len += 1;
    }

    /// Appends one whole byte at any bit position.
    fn push_byte(&mut self, b: u8) {
        let off = self.bit_len % 8;
        if off == 0 {
            self.bytes.push(b);
        } else {
            if let Some(last) = self.bytes.last_mut() {
                *last |= b >> off;
            }
            self.bytes.push(b << (8 - off));
        }
        self.bit_len += 8;
    }

    /// Appends the low `bits` bits of `bytes` (big-endian, so the bits
    /// written are the last `bits` of the slice).
    fn push_be(&mut self, bytes: &[u8], bits: usize) {
        let skip = (bytes.len() * 8).saturating_sub(bits);
        let whole = bytes.get(skip.div_ceil(8)..).unwrap_or(&[]);
        // The partial first byte, bit by bit (at most 7 bits).
        if skip % 8 != 0 {
            let first = bytes.get(skip / 8).copied().unwrap_or(0);
            for i in (skip % 8)..8 {
                self.push_bit(first & (0x80 >> i) != 0);
            }
        }
        for &b in whole {
            self.push_byte(b);
        }
    }

    /// An integer segment: `value` modulo 2^`bits`, big- or little-endian.
    pub(crate) fn push_int(&mut self, value: &BigInt, bits: usize, little: bool) {
        if bits == 0 {
            return;
        }
        let nbytes = bits.div_ceil(8);
        let modulus = BigInt::one() << bits;
        let mut v = value % &modulus;
        if v.sign() == Sign::Minus {
            v += &modulus;
        }
        let raw = if v.is_zero() {
            Vec::new()
        } else {
            v.to_bytes_be().1
        };
        let mut be = vec![0u8; nbytes.saturating_sub(raw.len())];
        be.extend_from_slice(&raw);
        if !little {
            self.push_be(&be, bits);
            return;
        }
        // Little-endian: whole low bytes first, then the remaining top bits.
        let rem = bits % 8;
        let mut le: Vec<u8> = be.iter().rev().copied().collect();
        if rem == 0 {
            self.push_be(&le, bits);
            return;
        }
        let top = le.pop().unwrap_or(0);
        self.push_be(&le, le.len() * 8);
        self.push_be(&[top], rem);
    }

    /// Bits written so far.
    pub(crate) fn bit_len(&self) -> usize {
        self.bit_len
    }

    /// Appends whole bytes.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        self.push_be(bytes, bytes.len() * 8);
    }

    /// The result: a binary if whole bytes, else a bitstring.
    pub(crate) fn finish(self) -> Term {
        let rem = self.bit_len % 8;
        if rem == 0 {
            Term::Binary(Bytes::from(self.bytes))
        } else {
            Term::from(BitString {
                bytes: Bytes::from(self.bytes),
                last_bits: rem as u8,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits_of(segments: &[(i64, usize, bool)]) -> Term {
        let mut w = BitWriter::default();
        for &(v, bits, little) in segments {
            w.push_int(&BigInt::from(v), bits, little);
        }
        w.finish()
    }

    #[test]
    fn integer_segments_are_truncated_to_their_size() {
        // `<<300>>` is `<<44>>` and `<<-1>>` is `<<255>>` in erl.
        assert_eq!(bits_of(&[(300, 8, false)]), Term::binary(vec![44]));
        assert_eq!(bits_of(&[(-1, 8, false)]), Term::binary(vec![255]));
    }

    #[test]
    fn little_endian_odd_sizes_put_the_top_bits_last() {
        // erl: <<16#123:12/little>> =:= <<35,1:4>>, <<16#123:12>> =:= <<18,3:4>>.
        let want = Term::from(BitString {
            bytes: Bytes::from(vec![35, 0x10]),
            last_bits: 4,
        });
        assert_eq!(bits_of(&[(0x123, 12, true)]), want);
        let want = Term::from(BitString {
            bytes: Bytes::from(vec![18, 0x30]),
            last_bits: 4,
        });
        assert_eq!(bits_of(&[(0x123, 12, false)]), want);
    }

    #[test]
    fn large_unaligned_segments_are_fast() {
        let started = std::time::Instant::now();
        let mut w = BitWriter::default();
        w.push_int(&BigInt::from(1), 1, false);
        w.push_int(&BigInt::from(-1), 1 << 24, false);
        assert_eq!(w.bit_len(), (1 << 24) + 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn unaligned_segments_pack_across_bytes() {
        // erl: <<1:1, 255, 0:7>> =:= <<255,128>>.
        assert_eq!(
            bits_of(&[(1, 1, false), (255, 8, false), (0, 7, false)]),
            Term::binary(vec![255, 128])
        );
    }
}
