//! Hostile input: every malformed encoding is a typed error at the right
//! byte, never a panic, a stack overflow or an allocation the input cannot
//! pay for.

use std::io::Write;

use etf::{
    decode, decode_prefix, decode_with, encode, Atom, DecodeError, DecodeErrorKind as Kind,
    DecodeOptions, Term,
};

fn kind(input: &[u8]) -> Kind {
    decode(input).expect_err("hostile input decoded").kind
}

fn rich_term() -> Term {
    let pid = etf::Pid {
        node: Atom::new("a@b"),
        id: 1,
        serial: 2,
        creation: 3,
    };
    Term::tuple(vec![
        Term::atom("ok"),
        Term::Int(-70000),
        Term::Int(255),
        Term::Float(1.5),
        Term::from_bigint(num_bigint::BigInt::from(1u8) << 100),
        Term::binary(&b"payload"[..]),
        Term::List(vec![Term::Int(1), Term::Int(2)]),
        Term::List(vec![Term::Int(1000), Term::atom("é")]),
        Term::ImproperList(vec![Term::Int(1)], Box::new(Term::atom("tail"))),
        Term::Map([(Term::atom("k"), Term::Int(1))].into_iter().collect()),
        Term::Pid(pid),
        Term::Reference(etf::Reference {
            node: Atom::new("a@b"),
            creation: 1,
            ids: vec![1, 2, 3],
        }),
        Term::from(etf::BitString {
            bytes: bytes::Bytes::from_static(&[1, 0b1110_0000]),
            last_bits: 3,
        }),
    ])
}

#[test]
fn truncation_at_every_offset_is_an_error_within_the_input() {
    let bytes = encode(&rich_term());
    for cut in 0..bytes.len() {
        let err = decode(&bytes[..cut]).expect_err("truncated input decoded");
        assert!(
            matches!(err.kind, Kind::UnexpectedEof | Kind::Oversized { .. }),
            "cut at {cut}: {err}"
        );
        assert!(
            err.offset <= cut,
            "cut at {cut}: offset {} past end",
            err.offset
        );
    }
    assert_eq!(decode(&bytes).unwrap(), rich_term());
}

#[test]
fn huge_declared_lengths_are_errors_not_allocations() {
    let cases: &[(&[u8], &str)] = &[
        (&[131, 108, 255, 255, 255, 255, 106], "list"),
        (&[131, 105, 255, 255, 255, 255, 106], "tuple"),
        (&[131, 116, 255, 255, 255, 255, 106], "map"),
        (&[131, 109, 255, 255, 255, 255, 0], "binary"),
        (&[131, 111, 255, 255, 255, 255, 0], "bignum"),
        (&[131, 77, 255, 255, 255, 255, 3, 0], "bitstring"),
        (&[131, 112, 255, 255, 255, 255, 0], "fun"),
    ];
    for (input, what) in cases {
        let err = decode(input).unwrap_err();
        assert_eq!(
            err.kind,
            Kind::Oversized {
                what,
                len: 4_294_967_295
            },
            "{what}: {err}"
        );
        assert_eq!(err.offset, 2, "{what}");
    }
    // Short length fields simply run out of input.
    assert_eq!(kind(&[131, 107, 255, 255, 1]), Kind::UnexpectedEof);
    assert_eq!(kind(&[131, 100, 255, 255, 97]), Kind::UnexpectedEof);
}

#[test]
fn error_display_names_the_byte_offset() {
    let err = decode(&[131, 104, 1, 108, 255, 255, 255, 255, 106]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at byte 4: list length 4294967295 exceeds remaining input"
    );
}

#[test]
fn nesting_a_million_deep_is_too_deep_not_a_stack_overflow() {
    for open in [&[108u8, 0, 0, 0, 1][..], &[104, 1], &[116, 0, 0, 0, 1, 106]] {
        let mut input = vec![131];
        for _ in 0..1_000_000 {
            input.extend_from_slice(open);
        }
        input.push(106);
        let err = decode(&input).unwrap_err();
        assert_eq!(err.kind, Kind::TooDeep(etf::DEFAULT_MAX_DEPTH), "{open:?}");
    }
}

#[test]
fn list_tails_chained_a_million_long_decode_flat() {
    // [0 | [1 | [2 | ...]]] written cell by cell: not deep at all.
    let mut input = vec![131];
    for i in 0..1_000_000u32 {
        input.extend_from_slice(&[108, 0, 0, 0, 1, 97, (i % 256) as u8]);
    }
    input.push(106);
    let Term::List(items) = decode(&input).unwrap() else {
        panic!("not a list");
    };
    assert_eq!(items.len(), 1_000_000);
    assert_eq!(items[257], Term::Int(1));
}

#[test]
fn max_depth_is_configurable() {
    let input = [131, 104, 1, 104, 1, 104, 0];
    let opts = DecodeOptions {
        max_depth: 1,
        ..Default::default()
    };
    assert_eq!(
        decode_with(&input, &opts).unwrap_err(),
        DecodeError {
            offset: 3,
            kind: Kind::TooDeep(1)
        }
    );
    assert!(decode(&input).is_ok());
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

#[test]
fn zlib_bomb_is_bad_compressed() {
    // 64 MiB of a binary that claims to inflate to 100 bytes.
    let mut body = vec![109];
    body.extend_from_slice(&(64u32 << 20).to_be_bytes());
    body.resize(5 + (64 << 20), 0);
    let mut input = vec![131, 80, 0, 0, 0, 100];
    input.extend(zlib(&body));
    assert_eq!(
        kind(&input),
        Kind::BadCompressed("inflates past its declared size")
    );
}

#[test]
fn compressed_size_claims_are_checked_both_ways() {
    let body = encode(&Term::binary(vec![7u8; 1000]));
    let z = zlib(&body[1..]);
    // Claims 4 GiB: inflating stops at what is there, no 4 GiB allocation.
    let mut input = vec![131, 80, 255, 255, 255, 255];
    input.extend_from_slice(&z);
    assert_eq!(
        kind(&input),
        Kind::BadCompressed("inflates short of its declared size")
    );
    // Right size decodes; a truncated stream does not.
    let mut input = vec![131, 80];
    input.extend_from_slice(&((body.len() - 1) as u32).to_be_bytes());
    input.extend_from_slice(&z);
    assert_eq!(decode(&input).unwrap(), Term::binary(vec![7u8; 1000]));
    let cut = &input[..input.len() - 3];
    assert!(matches!(kind(cut), Kind::BadCompressed(_)));
    // Garbage is not zlib.
    assert_eq!(
        kind(&[131, 80, 0, 0, 0, 1, 1, 2, 3, 4]),
        Kind::BadCompressed("invalid zlib data")
    );
}

#[test]
fn atom_cache_ref_outside_distribution_is_an_error() {
    assert_eq!(
        decode(&[131, 82, 3]).unwrap_err(),
        DecodeError {
            offset: 1,
            kind: Kind::AtomCacheRef(3)
        }
    );
    // Inside a pid's node field too.
    assert_eq!(kind(&[131, 88, 82, 0]), Kind::AtomCacheRef(0));
    // With the distribution header's cache it is an atom; empty slots are not.
    let cache = [None, Some(Atom::new("cached"))];
    let opts = DecodeOptions {
        version_byte: false,
        atom_cache: Some(&cache),
        ..Default::default()
    };
    assert_eq!(
        decode_with(&[82, 1], &opts).unwrap(),
        (Term::atom("cached"), 2)
    );
    assert_eq!(
        decode_with(&[82, 0], &opts).unwrap_err().kind,
        Kind::AtomCacheRef(0)
    );
    assert_eq!(
        decode_with(&[82, 9], &opts).unwrap_err().kind,
        Kind::AtomCacheRef(9)
    );
}

#[test]
fn local_ext_is_rejected_clearly() {
    assert_eq!(
        decode(&[131, 121, 0, 0, 0, 0]).unwrap_err(),
        DecodeError {
            offset: 1,
            kind: Kind::LocalExt
        }
    );
    assert_eq!(kind(&[131, 104, 1, 121]), Kind::LocalExt);
}

#[test]
fn malformed_scalars_have_their_own_kinds() {
    assert_eq!(kind(&[]), Kind::UnexpectedEof);
    assert_eq!(kind(&[130, 106]), Kind::BadVersion(130));
    assert_eq!(kind(&[131, 106, 106]), Kind::TrailingBytes(1));
    assert_eq!(kind(&[131, 1]), Kind::UnknownTag(1));
    assert_eq!(kind(&[131, 117, 0]), Kind::UnknownTag(117));
    assert_eq!(kind(&[131, 104, 1, 80]), Kind::UnknownTag(80));
    assert_eq!(kind(&[131, 119, 2, 0xc3, 0x28]), Kind::InvalidUtf8);
    let nan = f64::NAN.to_bits().to_be_bytes();
    assert_eq!(kind(&[&[131, 70][..], &nan].concat()), Kind::InvalidFloat);
    let mut old_float = vec![131, 99];
    old_float.extend_from_slice(b"inf");
    old_float.resize(33, 0);
    assert_eq!(kind(&old_float), Kind::InvalidFloat);
    assert_eq!(
        kind(&[131, 77, 0, 0, 0, 1, 0, 255]),
        Kind::InvalidBitString { len: 1, bits: 0 }
    );
    assert_eq!(
        kind(&[131, 77, 0, 0, 0, 0, 3]),
        Kind::InvalidBitString { len: 0, bits: 3 }
    );
    // No bytes and no bits is `<<>>`, as `binary_to_term` reads it (OTP
    // never writes it), by the tree and tape decoders alike.
    let empty = [131, 77, 0, 0, 0, 0, 0];
    assert_eq!(decode(&empty).unwrap(), Term::Binary(Default::default()));
    assert_eq!(
        etf::tape::decode(&empty).unwrap().root().to_term().unwrap(),
        Term::Binary(Default::default())
    );
    assert_eq!(
        kind(&[131, 90, 0, 9, 100, 0, 1, 97]),
        Kind::InvalidReference(9)
    );
    assert_eq!(kind(&[131, 112, 0, 0, 0, 2]), Kind::InvalidFun);
    assert_eq!(
        kind(&[131, 113, 100, 0, 1, 109, 100, 0, 1, 102, 98, 0, 0, 0, 1]),
        Kind::InvalidFun
    );
    let mut long_atom = vec![131, 118, 1, 0];
    long_atom.extend(std::iter::repeat_n(b'a', 256));
    assert!(matches!(kind(&long_atom), Kind::InvalidAtom(_)));
}

#[test]
fn duplicate_map_keys_are_rejected_like_binary_to_term() {
    // #{a => 1, a => 2}
    assert_eq!(
        decode(&[131, 116, 0, 0, 0, 2, 100, 0, 1, 97, 97, 1, 100, 0, 1, 97, 97, 2]).unwrap_err(),
        DecodeError {
            offset: 1,
            kind: Kind::DuplicateMapKey
        }
    );
    // Large maps (sorted check) too, with mixed keys.
    let mut input = vec![131, 116, 0, 0, 0, 20];
    for i in 0..19u8 {
        input.extend_from_slice(&[97, i, 106]);
    }
    input.extend_from_slice(&[97, 3, 106]);
    assert_eq!(kind(&input), Kind::DuplicateMapKey);
}

#[test]
fn decode_prefix_reports_bytes_used() {
    let mut input = encode(&Term::atom("ok"));
    let n = input.len();
    input.extend_from_slice(&[1, 2, 3]);
    assert_eq!(decode_prefix(&input).unwrap(), (Term::atom("ok"), n));
    assert_eq!(kind(&input), Kind::TrailingBytes(3));
}

#[test]
fn non_canonical_encodings_decode_like_binary_to_term() {
    // Results checked with erl: binary_to_term/1 gives [7], [1,3,4], <<7:3>>.
    assert_eq!(
        decode(&[131, 108, 0, 0, 0, 0, 108, 0, 0, 0, 1, 97, 7, 106]).unwrap(),
        Term::List(vec![Term::Int(7)])
    );
    assert_eq!(
        decode(&[131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 3, 4]).unwrap(),
        Term::List(vec![Term::Int(1), Term::Int(3), Term::Int(4)])
    );
    assert_eq!(
        decode(&[131, 77, 0, 0, 0, 1, 3, 255]).unwrap(),
        Term::from(etf::BitString {
            bytes: bytes::Bytes::from_static(&[0b1110_0000]),
            last_bits: 3,
        })
    );
}

#[test]
fn bignums_decode_to_their_value_whatever_the_digit_count_or_padding() {
    // Digits around the i64 boundary, with and without (non-canonical)
    // high zero bytes, in both SMALL_BIG_EXT and LARGE_BIG_EXT.
    let mut magnitudes: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        (i64::MAX as u64).to_le_bytes().to_vec(),
        (1u64 << 63).to_le_bytes().to_vec(),
        ((1u64 << 63) + 1).to_le_bytes().to_vec(),
        u64::MAX.to_le_bytes().to_vec(),
        vec![1, 0, 0, 0, 0, 0, 0, 0, 1],
        (1..=255u8).collect(),
        (0..1000u32).map(|i| (i * 7 + 1) as u8).collect(),
    ];
    for m in magnitudes.clone() {
        let mut padded = m;
        padded.extend_from_slice(&[0, 0, 0, 0, 0]);
        magnitudes.push(padded);
    }
    for digits in &magnitudes {
        for sign in [0u8, 1] {
            let expected = Term::from_bigint(num_bigint::BigInt::from_bytes_le(
                if sign == 0 {
                    num_bigint::Sign::Plus
                } else {
                    num_bigint::Sign::Minus
                },
                digits,
            ));
            let mut large = vec![131, 111];
            large.extend_from_slice(&(digits.len() as u32).to_be_bytes());
            large.push(sign);
            large.extend_from_slice(digits);
            assert_eq!(decode(&large).unwrap(), expected, "{digits:?}");
            if digits.len() <= 255 {
                let mut small = vec![131, 110, digits.len() as u8, sign];
                small.extend_from_slice(digits);
                assert_eq!(decode(&small).unwrap(), expected, "{digits:?}");
            }
        }
    }
}

/// A fun's bytes inside a distribution message: its atoms may index that
/// message's atom cache, so they are written again with the atoms
/// themselves (the fun can then be sent in another message); a fun
/// nesting funs without end is an error, not a deep recursion.
#[test]
fn funs_in_a_distribution_message_keep_their_atoms_not_cache_refs() {
    let cache = [Some(Atom::new("mymod")), Some(Atom::new("n@h"))];
    let opts = DecodeOptions {
        version_byte: false,
        atom_cache: Some(&cache),
        ..Default::default()
    };
    // Arity 1, Uniq, Index 0, NumFree 1.
    let mut fixed = vec![1];
    fixed.extend_from_slice(&[7; 16]);
    fixed.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    let tail = |module: &[u8], node: &[u8], free: &[u8]| {
        let mut v = module.to_vec();
        v.extend_from_slice(&[97, 0, 98, 0, 0, 0, 9, 88]); // OldIndex, OldUniq, NEW_PID_EXT
        v.extend_from_slice(node);
        v.extend_from_slice(&[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(free);
        v
    };
    let fun = |body: Vec<u8>| {
        let mut v = vec![112];
        v.extend_from_slice(&(4 + fixed.len() as u32 + body.len() as u32).to_be_bytes());
        v.extend_from_slice(&fixed);
        v.extend_from_slice(&body);
        v
    };
    let cached = fun(tail(&[82, 0], &[82, 1], &[82, 0]));
    let plain = fun(tail(
        &[100, 0, 5, b'm', b'y', b'm', b'o', b'd'],
        &[100, 0, 3, b'n', b'@', b'h'],
        &[100, 0, 5, b'm', b'y', b'm', b'o', b'd'],
    ));
    let (t, used) = decode_with(&cached, &opts).unwrap();
    assert_eq!(used, cached.len());
    let Term::Fun(f) = t else {
        panic!("not a fun: {t:?}")
    };
    assert_eq!(&f.bytes[..], &plain[..]);
    // An export fun too: fun mymod:n@h/2, as `EXPORT_EXT`.
    let (t, _) = decode_with(&[113, 82, 0, 82, 1, 97, 2], &opts).unwrap();
    let Term::Fun(f) = t else { panic!("not a fun") };
    assert_eq!(
        &f.bytes[..],
        &[113, 100, 0, 5, b'm', b'y', b'm', b'o', b'd', 100, 0, 3, b'n', b'@', b'h', 97, 2]
    );
    // A fun whose free variable is a fun whose free variable is ... :
    // refused past 32 levels, with no deep recursion.
    let mut nested = fun(tail(&[82, 0], &[82, 1], &[106]));
    for _ in 0..40 {
        nested = fun(tail(&[82, 0], &[82, 1], &nested));
    }
    assert!(matches!(
        decode_with(&nested, &opts).unwrap_err().kind,
        Kind::TooDeep(32)
    ));
}
