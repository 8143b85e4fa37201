//! The tape decoder against the tree decoder: for every input, generated,
//! mutated or hostile, `etf::tape` gives the term `etf::decode` gives (by
//! `to_term` and by walking it in place), or the same error at the same
//! byte.

mod support;

use std::io::Write;

use etf::tape::{self, Kind, Tape, TermRef};
use etf::{decode, encode, encode_with, Atom, DecodeError, DecodeErrorKind, DecodeOptions, Term};
use proptest::prelude::*;
use support::{option_sets, term};

/// The tape decoder's answer, in the tree decoder's terms.
fn via_tape(input: &[u8]) -> Result<Term, DecodeError> {
    tape::decode(input).and_then(|t| t.root().to_term())
}

/// Both decoders agree on `input`, result or error.
fn assert_agree(input: &[u8]) {
    assert_eq!(via_tape(input), decode(input), "input {input:?}");
}

/// Walks `r` with the navigation API only and checks it is `t`.
fn walk_matches(r: TermRef<'_>, t: &Term) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{what}: tape {r:?} vs term {t:?}"));
    let ok = match t {
        Term::Atom(a) => {
            r.kind() == Kind::Atom
                && r.as_atom() == Some(*a)
                && r.atom_name().as_deref() == Some(a.as_str())
                && r.is_atom(a.as_str())
                && !r.is_atom(&format!("{}x", a.as_str()))
        }
        Term::Int(i) => r.kind() == Kind::Int && r.as_i64() == Some(*i),
        Term::BigInt(b) => r.as_big().map(|b| b.to_bigint()).as_ref() == Some(b),
        Term::Float(f) => r.as_float().map(f64::to_bits) == Some(f.to_bits()),
        Term::Binary(b) => r.as_binary() == Some(&b[..]),
        Term::BitString(b) => r.as_bitstring().map(|x| x.to_bitstring()).as_ref() == Some(&**b),
        Term::Pid(p) => r.as_pid() == Some(*p),
        Term::Port(p) => r.as_port() == Some(*p),
        Term::Reference(x) => r.as_reference().as_ref() == Some(x),
        Term::Fun(f) => r.as_fun() == Some(&f.bytes[..]),
        Term::Tuple(items) => {
            let Some(elements) = r.as_tuple() else {
                return fail("not a tuple");
            };
            if elements.len() != items.len() {
                return fail("arity");
            }
            for (e, item) in elements.zip(items) {
                walk_matches(e, item)?;
            }
            true
        }
        Term::List(items) | Term::ImproperList(items, _) => {
            let improper = matches!(t, Term::ImproperList(..));
            let want = if improper {
                Kind::ImproperList
            } else {
                Kind::List
            };
            let Some(elements) = r.as_list() else {
                return fail("not a list");
            };
            if r.kind() != want || elements.len() != items.len() || r.len() != Some(items.len()) {
                return fail("list kind or length");
            }
            for (e, item) in elements.zip(items) {
                walk_matches(e, item)?;
            }
            match (t, r.list_tail()) {
                (Term::ImproperList(_, tail), Some(rt)) => walk_matches(rt, tail)?,
                (Term::List(_), None) => {}
                _ => return fail("tail"),
            }
            true
        }
        Term::Map(m) => {
            let Some(entries) = r.map_entries() else {
                return fail("not a map");
            };
            if entries.len() != m.len() {
                return fail("map size");
            }
            // Entries come in decoded order, as the tree decoder keeps them.
            for ((k, v), (tk, tv)) in entries.zip(&m.entries) {
                walk_matches(k, tk)?;
                walk_matches(v, tv)?;
            }
            true
        }
    };
    if ok {
        Ok(())
    } else {
        fail("leaf")
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_tape_holds_the_term_the_tree_decoder_builds(t in term()) {
        for opts in option_sets() {
            let bytes = encode_with(&t, &opts);
            let tape = tape::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{opts:?}: {e}")))?;
            prop_assert_eq!(&tape.root().to_term().unwrap(), &t, "{:?}", opts);
            // Walked in place against the tree decoder's result, whose map
            // entries are in the same (encoded) order.
            let tree = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            walk_matches(tape.root(), &tree).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn mutated_encodings_give_the_same_result_or_error(t in term(), seed in any::<u64>()) {
        let mut rng = support::Rng(seed | 1);
        let bytes = encode(&t);
        for _ in 0..20 {
            let mut input = bytes.clone();
            for _ in 0..1 + rng.below(3) {
                let len = input.len();
                match rng.below(4) {
                    0 if len > 1 => {
                        let i = 1 + rng.below(len - 1);
                        input[i] ^= 1 << rng.below(8);
                    }
                    1 if len > 1 => {
                        let i = 1 + rng.below(len - 1);
                        input[i] = [0, 1, 97, 98, 104, 106, 107, 108, 116, 255][rng.below(10)];
                    }
                    2 if len > 1 => input.truncate(1 + rng.below(len - 1)),
                    _ => input.insert(1 + rng.below(len), rng.next() as u8),
                }
            }
            prop_assert_eq!(via_tape(&input), decode(&input), "input {:?}", input);
        }
    }

    #[test]
    fn random_bytes_give_the_same_result_or_error(body in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut input = vec![131];
        input.extend_from_slice(&body);
        prop_assert_eq!(via_tape(&input), decode(&input));
        prop_assert_eq!(via_tape(&body), decode(&body));
    }
}

#[test]
fn regression_inputs_decode_alike() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "bin") {
            assert_agree(&std::fs::read(entry.path()).unwrap());
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} regression inputs");
}

#[test]
fn non_canonical_lists_flatten_as_in_the_tree_decoder() {
    let cases: &[&[u8]] = &[
        // [] ++ [7] via an empty LIST_EXT, and [1 | "\x03\x04"].
        &[131, 108, 0, 0, 0, 0, 108, 0, 0, 0, 1, 97, 7, 106],
        &[131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 3, 4],
        // [|5]: a list of no elements with an improper tail is its tail.
        &[131, 108, 0, 0, 0, 0, 97, 5],
        &[131, 104, 2, 108, 0, 0, 0, 0, 97, 5, 106],
        &[131, 108, 0, 0, 0, 0, 108, 0, 0, 0, 0, 104, 1, 97, 5],
        // [1 | 2] and [1, 2 | 3] chained, and an empty STRING_EXT tail.
        &[131, 108, 0, 0, 0, 1, 97, 1, 97, 2],
        &[131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 97, 3],
        &[131, 108, 0, 0, 0, 0, 107, 0, 0],
        // A bitstring with dirty low bits.
        &[131, 77, 0, 0, 0, 1, 3, 255],
    ];
    for input in cases {
        assert_agree(input);
        assert!(decode(input).is_ok(), "{input:?}");
    }
    let tape = tape::decode(cases[4]).unwrap();
    assert_eq!(tape.root().kind(), Kind::Tuple);
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

#[test]
fn hostile_inputs_fail_alike() {
    let mut cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![130, 106],
        vec![131, 106, 106],
        vec![131, 108, 255, 255, 255, 255, 106],
        vec![131, 105, 255, 255, 255, 255, 106],
        vec![131, 116, 255, 255, 255, 255, 106],
        vec![131, 109, 255, 255, 255, 255, 0],
        vec![131, 111, 255, 255, 255, 255, 0],
        vec![131, 77, 255, 255, 255, 255, 3, 0],
        vec![131, 112, 255, 255, 255, 255, 0],
        vec![131, 112, 0, 0, 0, 2],
        vec![131, 113, 100, 0, 1, 109, 100, 0, 1, 102, 98, 0, 0, 0, 1],
        vec![131, 121, 0, 0, 0, 0],
        vec![131, 104, 1, 121],
        vec![131, 82, 3],
        vec![131, 88, 82, 0],
        vec![131, 104, 1, 80],
        vec![131, 119, 2, 0xc3, 0x28],
        vec![131, 90, 0, 9, 100, 0, 1, 97],
        vec![131, 120, 100, 0, 1, 97, 0, 0, 0, 0, 0],
        vec![
            131, 116, 0, 0, 0, 2, 100, 0, 1, 97, 97, 1, 100, 0, 1, 97, 97, 2,
        ],
        vec![131, 80, 255, 255, 255, 255, 120, 156, 3, 0],
        vec![131, 80, 0, 0, 0, 1, 1, 2, 3, 4],
    ];
    // #{'é' => 1, 'é' => 2}, the first key sent as Latin-1, the second as UTF-8.
    cases.push(vec![
        131, 116, 0, 0, 0, 2, 100, 0, 1, 0xe9, 97, 1, 119, 2, 0xc3, 0xa9, 97, 2,
    ]);
    let mut long_atom = vec![131, 118, 1, 0];
    long_atom.extend(std::iter::repeat_n(b'a', 256));
    cases.push(long_atom);
    // Duplicate keys in large maps: integer, atom and mixed keys.
    for key in [&[97u8][..], &[100, 0, 1], &[104, 1, 97]] {
        let mut input = vec![131, 116, 0, 0, 0, 20];
        for i in 0..20u8 {
            input.extend_from_slice(key);
            input.push(if i == 19 { 68 } else { i + 65 });
            input.push(106);
        }
        cases.push(input);
    }
    // A million nested lists, tuples and maps: too deep, not an overflow.
    for open in [&[108u8, 0, 0, 0, 1][..], &[104, 1], &[116, 0, 0, 0, 1, 106]] {
        let mut input = vec![131];
        for _ in 0..1_000_000 {
            input.extend_from_slice(open);
        }
        input.push(106);
        cases.push(input);
    }
    // A zlib bomb: 64 MiB that claims to inflate to 100 bytes.
    let mut body = vec![109];
    body.extend_from_slice(&(64u32 << 20).to_be_bytes());
    body.resize(5 + (64 << 20), 0);
    let mut bomb = vec![131, 80, 0, 0, 0, 100];
    bomb.extend(zlib(&body));
    cases.push(bomb);
    for input in &cases {
        let ours = via_tape(input);
        assert!(ours.is_err(), "{:?} decoded", &input[..input.len().min(16)]);
        assert_eq!(ours, decode(input), "{:?}", &input[..input.len().min(16)]);
    }
}

/// Atom keys longer than 8 bytes that share their first 8 (and their
/// length) are told apart, and caught when equal, in small and large maps.
#[test]
fn map_keys_with_long_shared_prefixes_are_compared_in_full() {
    for n in [2usize, 8, 9, 40] {
        let keys: Vec<String> = (0..n).map(|i| format!("shared_prefix_{i:03}")).collect();
        let map = |keys: &[String]| {
            let mut input = vec![131, 116];
            input.extend_from_slice(&(keys.len() as u32).to_be_bytes());
            for k in keys {
                input.extend_from_slice(&[119, k.len() as u8]);
                input.extend_from_slice(k.as_bytes());
                input.push(106);
            }
            input
        };
        let distinct = map(&keys);
        assert_agree(&distinct);
        assert!(decode(&distinct).is_ok(), "{n} distinct keys");
        let mut twice = keys.clone();
        twice[n - 1] = keys[0].clone();
        let dup = map(&twice);
        assert_agree(&dup);
        assert_eq!(
            via_tape(&dup).unwrap_err().kind,
            DecodeErrorKind::DuplicateMapKey,
            "{n} keys"
        );
    }
}

#[test]
fn truncation_at_every_offset_fails_alike() {
    let t = etf::parse(
        "{ok, -70000, 255, 1.5, 1267650600228229401496703205376, <<\"payload\">>, [1,2], \
         [1000, 'é'], [1 | tail], #{k => 1}, [{a, b, [\"xyz\"]}]}",
    )
    .unwrap();
    let bytes = encode(&t);
    for cut in 0..bytes.len() {
        assert_agree(&bytes[..cut]);
    }
    assert_eq!(via_tape(&bytes).unwrap(), t);
}

#[test]
fn compressed_terms_read_from_the_tapes_own_inflated_copy() {
    let t = Term::tuple(vec![
        Term::binary(vec![7u8; 1000]),
        Term::List((0..300).map(Term::Int).collect()),
    ]);
    let bytes = encode_with(
        &t,
        &etf::EncodeOptions {
            compressed: Some(6),
            ..Default::default()
        },
    );
    assert_eq!(bytes[1], 80, "not compressed");
    let tape = tape::decode(&bytes).unwrap();
    let mut fields = tape.root().as_tuple().unwrap();
    assert_eq!(fields.next().unwrap().as_binary(), Some(&[7u8; 1000][..]));
    assert_eq!(fields.next().unwrap().as_list().unwrap().len(), 300);
    assert_eq!(tape.root().to_term().unwrap(), t);
}

#[test]
fn a_reused_tape_reads_each_new_term_and_reads_as_nil_after_a_failure() {
    let a = encode(&etf::parse("{a, [1, 2, 3], #{b => <<\"c\">>}}").unwrap());
    let b = encode(&Term::Int(1 << 40));
    let mut tape = Tape::new();
    assert_eq!(tape.root().to_term().unwrap(), Term::nil());
    tape::decode_into(&mut tape, &a).unwrap();
    assert_eq!(tape.root().to_term().unwrap(), decode(&a).unwrap());
    // {a, "\1\2\3", #{b => <<"c">>}}: the byte list is one string node.
    assert_eq!(tape.node_count(), 6);
    tape::decode_into(&mut tape, &b).unwrap();
    assert_eq!(tape.root().as_i64(), Some(1 << 40));
    assert_eq!(
        tape::decode_into(&mut tape, &[131, 104, 1, 97]).unwrap_err(),
        DecodeError {
            offset: 4,
            kind: DecodeErrorKind::UnexpectedEof
        }
    );
    assert_eq!(tape.root().to_term().unwrap(), Term::nil());
    // A tape outliving its input is rebound with `recycle`.
    let mut tape = tape.recycle();
    {
        let short_lived = a.clone();
        tape::decode_into(&mut tape, &short_lived).unwrap();
        assert!(tape.root().map_get_atom("b").is_none());
        tape = tape.recycle();
    }
    assert_eq!(tape.node_count(), 0);
}

#[test]
fn accessors_read_every_leaf_kind_in_place() {
    let pid = etf::Pid {
        node: Atom::new("n@h"),
        id: 5,
        serial: 1,
        creation: 9,
    };
    let big: num_bigint::BigInt = num_bigint::BigInt::from(-3) << 300u32;
    let t = Term::Map(
        [
            (Term::atom("pid"), Term::Pid(pid)),
            (Term::atom("big"), Term::from_bigint(big.clone())),
            (
                Term::atom("bits"),
                Term::from(etf::BitString {
                    bytes: bytes::Bytes::from_static(&[1, 0b1010_0000]),
                    last_bits: 3,
                }),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let bytes = encode(&t);
    let tape = tape::decode(&bytes).unwrap();
    let root = tape.root();
    assert_eq!(root.kind(), Kind::Map);
    assert_eq!(root.len(), Some(3));
    assert_eq!(root.map_get_atom("pid").unwrap().as_pid(), Some(pid));
    let b = root.map_get_atom("big").unwrap().as_big().unwrap();
    assert!(b.negative);
    assert_eq!(b.to_bigint(), big);
    let bits = root.map_get_atom("bits").unwrap().as_bitstring().unwrap();
    assert_eq!(
        (bits.head, bits.last, bits.last_bits),
        (&[1u8][..], 0b1010_0000, 3)
    );
    assert!(root.map_get_atom("nope").is_none());
    assert_eq!(root.as_i64(), None);
}

#[test]
fn options_read_prefixes_and_the_atom_cache() {
    let cache = [None, Some(Atom::new("cached"))];
    let opts = DecodeOptions {
        version_byte: false,
        atom_cache: Some(&cache),
        ..Default::default()
    };
    let input = [104, 2, 82, 1, 97, 7, 1, 2];
    let mut tape = Tape::new();
    let used = tape::decode_with_into(&mut tape, &input, &opts).unwrap();
    assert_eq!(used, 6);
    assert_eq!(
        (tape.root().to_term().unwrap(), used),
        etf::decode_with(&input, &opts).unwrap()
    );
    // A pid whose node is a cache reference.
    let pid = [88, 82, 1, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9];
    tape::decode_with_into(&mut tape, &pid, &opts).unwrap();
    assert_eq!(
        tape.root().as_pid(),
        Some(etf::Pid {
            node: Atom::new("cached"),
            id: 7,
            serial: 8,
            creation: 9
        })
    );
    assert_eq!(
        (tape.root().to_term().unwrap(), pid.len()),
        etf::decode_with(&pid, &opts).unwrap()
    );
    let bad = [82, 0];
    assert_eq!(
        tape::decode_with_into(&mut tape, &bad, &opts).unwrap_err(),
        etf::decode_with(&bad, &opts).unwrap_err()
    );
    let shallow = DecodeOptions {
        max_depth: 1,
        ..Default::default()
    };
    let deep = [131, 104, 1, 104, 1, 104, 0];
    assert_eq!(
        tape::decode_with_into(&mut tape, &deep, &shallow).unwrap_err(),
        etf::decode_with(&deep, &shallow).unwrap_err()
    );
}

#[test]
fn list_tails_chained_a_million_long_read_as_one_flat_list() {
    let mut input = vec![131];
    for i in 0..1_000_000u32 {
        input.extend_from_slice(&[108, 0, 0, 0, 1, 97, (i % 256) as u8]);
    }
    input.push(106);
    let tape = tape::decode(&input).unwrap();
    let list = tape.root().as_list().unwrap();
    assert_eq!(list.len(), 1_000_000);
    assert_eq!(list.clone().nth(257).unwrap().as_i64(), Some(1));
    assert_eq!(tape.root().to_term().unwrap(), decode(&input).unwrap());
}

/// Lists nested in their last element (`[1, [2, [3]]]`, closed in a run by
/// the `[]`s that end them): every way such a chain can go on or end gives the tree
/// decoder's term, or its error at the same byte, whole, cut at every
/// offset, and at every depth limit around the chain's depth.
#[test]
fn lists_nested_in_their_last_element_read_as_the_tree_decoder_reads_them() {
    let texts = [
        "[1, [2, [3, [4, [5]]]]]",
        "[[[[[]]]]]",
        "[1, 300, [2, -70000, [3, 4 | five] | six]]",
        "[1, [2, [3 | \"xyz\"]]]",
        "[a, [b, [c, [d]]], e]",
        "[1, [2, [3, {x}]], [4, [5]]]",
        "{[1, [2, [3]]], [4, [5, [6]]]}",
        "#{k => [1, [2, [3]]]}",
        "[1, [2, [3]] | [4, [5]]]",
        "[[1], []]",
        "[1, [2, [3]], [], 4]",
        "{[1, [2]], []}",
    ];
    for text in texts {
        let t = etf::parse(text).unwrap();
        let bytes = encode(&t);
        assert_eq!(via_tape(&bytes).unwrap(), t, "{text}");
        for cut in 0..bytes.len() {
            assert_agree(&bytes[..cut]);
        }
        let mut tape = Tape::new();
        for max_depth in 0..8 {
            let opts = DecodeOptions {
                max_depth,
                ..Default::default()
            };
            assert_eq!(
                tape::decode_with_into(&mut tape, &bytes, &opts)
                    .and_then(|used| Ok((tape.root().to_term()?, used))),
                etf::decode_with(&bytes, &opts),
                "{text} at max_depth {max_depth}"
            );
        }
    }
    // Non-canonical chains: an empty list as the last element, a `LIST_EXT`
    // and an improper tail after a chain, and `[|T]` inside one.
    let cases: &[&[u8]] = &[
        &[131, 108, 0, 0, 0, 1, 108, 0, 0, 0, 0, 106, 106],
        &[
            131, 108, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 106, 108, 0, 0, 0, 1, 97, 2, 106,
        ],
        &[
            131, 108, 0, 0, 0, 2, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106, 97, 3,
        ],
        &[131, 108, 0, 0, 0, 1, 108, 0, 0, 0, 0, 97, 5, 106],
        &[
            131, 108, 0, 0, 0, 1, 108, 0, 0, 0, 1, 108, 0, 0, 0, 0, 97, 5, 106, 106,
        ],
        &[
            131, 108, 0, 0, 0, 1, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 3, 4, 106,
        ],
    ];
    for input in cases {
        assert_agree(input);
        assert!(decode(input).is_ok(), "{input:?}");
    }
    // A chain 100 000 deep: too deep by default, the same error; one
    // 3000 deep decoded alike within a limit that allows it.
    let chain = |depth: u32| {
        let mut input = vec![131];
        for i in 0..depth {
            input.extend_from_slice(&[108, 0, 0, 0, 2, 97, (i % 256) as u8]);
        }
        input.extend(std::iter::repeat_n(106, depth as usize + 1));
        input
    };
    assert_agree(&chain(100_000));
    let opts = DecodeOptions {
        max_depth: 3000,
        ..Default::default()
    };
    for depth in [2999, 3000, 3001] {
        let input = chain(depth);
        let mut tape = Tape::new();
        assert_eq!(
            tape::decode_with_into(&mut tape, &input, &opts)
                .and_then(|used| Ok((tape.root().to_term()?, used))),
            etf::decode_with(&input, &opts),
            "{depth} deep"
        );
    }
}
