//! Term generators shared by the property tests (`mod support;`): every
//! kind of term, nested, and every encoder option set.
#![allow(dead_code)]

use bytes::Bytes;
use etf::{encode, Atom, BitString, EncodeOptions, Fun, Map, Pid, Port, Reference, Term};
use num_bigint::{BigInt, Sign};
use proptest::prelude::*;

pub fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        "[a-z][a-zA-Z0-9_@]{0,12}",
        "\\PC{0,20}",
        "[\u{00}-\u{ff}]{0,30}",
        Just("a".repeat(255)),
        Just("é".repeat(255)),
        Just("\u{1f600}".repeat(255)),
    ]
    .prop_map(|s| Atom::new(&s))
}

pub fn bigint() -> impl Strategy<Value = Term> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 8..300)).prop_map(|(neg, digits)| {
        let sign = if neg { Sign::Minus } else { Sign::Plus };
        Term::from_bigint(BigInt::from_bytes_le(sign, &digits))
    })
}

pub fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(-0.0),
        Just(5e-324),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
    ]
}

pub fn bitstring() -> impl Strategy<Value = Term> {
    (prop::collection::vec(any::<u8>(), 1..20), 1u8..8).prop_map(|(mut bytes, last_bits)| {
        if let Some(last) = bytes.last_mut() {
            *last &= 0xff << (8 - last_bits);
        }
        Term::from(BitString {
            bytes: Bytes::from(bytes),
            last_bits,
        })
    })
}

pub fn export_fun() -> impl Strategy<Value = Term> {
    (atom(), atom(), any::<u8>()).prop_map(|(m, f, arity)| {
        // Build the EXPORT_EXT bytes by encoding the parts.
        let mut bytes = vec![113];
        for a in [m, f] {
            bytes.extend_from_slice(&encode(&Term::Atom(a))[1..]);
        }
        bytes.extend_from_slice(&[97, arity]);
        Term::Fun(Fun {
            bytes: Bytes::from(bytes),
        })
    })
}

pub fn leaf() -> impl Strategy<Value = Term> {
    prop_oneof![
        any::<i64>().prop_map(Term::Int),
        (0i64..300).prop_map(Term::Int),
        bigint(),
        float().prop_map(Term::Float),
        atom().prop_map(Term::Atom),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Term::binary),
        bitstring(),
        (atom(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(node, id, serial, creation)| {
                Term::Pid(Pid {
                    node,
                    id,
                    serial,
                    creation,
                })
            }
        ),
        (atom(), any::<u64>(), any::<u32>()).prop_map(|(node, id, creation)| Term::Port(Port {
            node,
            id,
            creation
        })),
        (
            atom(),
            any::<u32>(),
            prop::collection::vec(any::<u32>(), 1..=5)
        )
            .prop_map(|(node, creation, ids)| Term::Reference(Reference {
                node,
                creation,
                ids
            })),
        export_fun(),
        Just(Term::nil()),
        prop::collection::vec(0i64..256, 1..50)
            .prop_map(|v| Term::List(v.into_iter().map(Term::Int).collect())),
    ]
}

pub fn term() -> impl Strategy<Value = Term> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Term::Tuple),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Term::List),
            (prop::collection::vec(inner.clone(), 1..5), leaf())
                .prop_filter("tail is not a list", |(_, t)| !matches!(
                    t,
                    Term::List(_) | Term::ImproperList(..)
                ))
                .prop_map(|(items, tail)| Term::ImproperList(items, Box::new(tail))),
            prop::collection::vec((inner.clone(), inner.clone()), 0..40)
                .prop_map(|kv| Term::Map(kv.into_iter().collect::<Map>())),
        ]
    })
}

pub fn option_sets() -> Vec<EncodeOptions> {
    let mut v = Vec::new();
    for minor_version in 0..=2 {
        for compressed in [None, Some(1), Some(6)] {
            for deterministic in [false, true] {
                v.push(EncodeOptions {
                    minor_version,
                    compressed,
                    deterministic,
                });
            }
        }
    }
    v
}

/// xorshift64*: deterministic, dependency-free (for reproducible mutations).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
