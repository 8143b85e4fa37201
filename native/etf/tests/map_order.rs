//! Maps of more than 32 keys built in Rust, against the real BEAM.
//!
//! The BEAM writes such a map in the order of its hash trie. For maps whose
//! keys are numbers, binaries, bitstrings, lists, tuples and maps of those,
//! that order is a function of the keys, and `encode(T)` must be
//! `term_to_binary(T)` byte for byte whatever order the pairs were inserted
//! in: erl decodes each of ferrotp's encodings and checks that its own
//! `term_to_binary` of the result is the same binary.

use std::path::Path;
use std::process::Command;

use etf::{encode, BitString, Map, Term};
use num_bigint::BigInt;

mod beam;
use beam::{erl_available, TempDir};

/// A deterministic shuffle (xorshift), so a failure is reproducible.
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut x = seed | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
    items
}

fn map_of(keys: Vec<Term>, seed: u64) -> Term {
    let pairs = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, Term::Int(i as i64)))
        .collect::<Vec<_>>();
    Term::Map(shuffled(pairs, seed).into_iter().collect::<Map>())
}

fn bytes(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

/// Key sets covering every hashable kind and the hash's special cases:
/// small integers and the bignum boundary, floats, binaries across the
/// 12-byte blocks, bitstrings, byte runs of every length with proper and
/// improper tails, non-byte list elements, tuples, nested small and large
/// maps, and two keys whose 32-bit hashes collide.
fn key_sets() -> Vec<Vec<Term>> {
    let ints: Vec<Term> = (-20..60).map(Term::Int).collect();
    let small_limit = 1i64 << 59;
    let wide: Vec<Term> = [
        small_limit - 1,
        small_limit,
        -small_limit,
        -small_limit - 1,
        i64::MAX,
        i64::MIN,
        1 << 32,
        -(1 << 32),
        255,
        256,
    ]
    .into_iter()
    .map(Term::Int)
    .chain((0..30u64).map(|i| Term::BigInt(BigInt::from(u64::MAX) * (i + 2) + i)))
    .chain((0..5i64).map(|i| Term::BigInt(-(BigInt::from(i64::MAX) * (i + 3)))))
    .collect();
    let floats: Vec<Term> = (0..40)
        .map(|i| Term::Float(f64::from(i) / 3.0 - 5.0))
        .chain([Term::Float(1e300), Term::Float(-2.5e-310)])
        .collect();
    let binaries: Vec<Term> = (0..40)
        .map(|n| Term::binary(bytes(n, n as u8)))
        .chain((1..8).map(|bits| {
            Term::from(BitString {
                bytes: vec![0xa5, 0xff << (8 - bits)].into(),
                last_bits: bits,
            })
        }))
        .collect();
    let lists: Vec<Term> = (0..12)
        .map(|n| {
            Term::List(
                bytes(n, 7)
                    .into_iter()
                    .map(|b| Term::Int(b.into()))
                    .collect(),
            )
        })
        .chain((1..9).map(|n| {
            Term::ImproperList(
                (0..n).map(Term::Int).collect(),
                Box::new(Term::binary(b"t".to_vec())),
            )
        }))
        .chain((0..10).map(|n| {
            Term::List(vec![
                Term::Int(1),
                Term::Int(300 + n),
                Term::Int(2),
                Term::List(vec![Term::Int(n)]),
            ])
        }))
        .chain(
            (0..6).map(|n| Term::ImproperList(vec![Term::Int(-1 - n)], Box::new(Term::Float(0.5)))),
        )
        .collect();
    let tuples: Vec<Term> = (0..40)
        .map(|i| {
            Term::Tuple(vec![
                Term::Int(i),
                Term::binary(bytes(i as usize % 5, 1)),
                Term::List(vec![]),
            ])
        })
        .chain([Term::Tuple(vec![])])
        .collect();
    let maps: Vec<Term> = (0..34)
        .map(|i| map_of((0..(i % 4)).map(|k| Term::Int(k * i)).collect(), i as u64))
        .chain([map_of((100..140).map(Term::Int).collect(), 9)])
        .collect();
    let mixed: Vec<Term> = ints
        .iter()
        .step_by(3)
        .chain(wide.iter().step_by(4))
        .chain(floats.iter().step_by(5))
        .chain(binaries.iter().step_by(3))
        .chain(lists.iter().step_by(2))
        .chain(tuples.iter().step_by(4))
        .chain(maps.iter().step_by(6))
        .cloned()
        .collect();
    let many: Vec<Term> = (0..2000).map(|i| Term::Int(i * 7919)).collect();
    // 40660 and 59671 have the same 32-bit hash: the trie tells them apart
    // by the hash of `[1 | Key]` below its eighth level.
    let colliding: Vec<Term> = [40660, 59671]
        .into_iter()
        .chain(100..140)
        .map(Term::Int)
        .collect();
    vec![
        ints, wide, floats, binaries, lists, tuples, maps, mixed, many, colliding,
    ]
}

#[test]
fn maps_over_32_keys_built_in_rust_are_written_as_the_beam_writes_them() {
    if !erl_available() {
        println!("SKIPPED: `erl` is not on PATH");
        return;
    }
    let dir = TempDir::new("etf-map-order");
    let mut frames = Vec::new();
    let mut count = 0;
    for (set, keys) in key_sets().into_iter().enumerate() {
        assert!(
            keys.len() > 32,
            "key set {set} has only {} keys",
            keys.len()
        );
        for seed in 1..=3u64 {
            let bin = encode(&map_of(keys.clone(), seed * 1000 + set as u64));
            frames.extend_from_slice(&(bin.len() as u32).to_be_bytes());
            frames.extend_from_slice(&bin);
            count += 1;
        }
    }
    std::fs::write(dir.0.join("rust.bin"), &frames).unwrap();
    let report = check_with_erl(&dir.0);
    assert_eq!(
        report,
        format!("{count} same\n"),
        "the BEAM writes some of ferrotp's maps differently"
    );
}

/// Asks erl, for each frame, whether `term_to_binary(binary_to_term(B))`
/// is `B`; the answer is `"N same"` or the first frame that differs.
fn check_with_erl(dir: &Path) -> String {
    let file = dir.join("rust.bin");
    let eval = format!(
        r#"{{ok, Bin}} = file:read_file("{}"),
        Check = fun Check(<<>>, N) -> io:format("~b same~n", [N]);
                    Check(<<L:32, B:L/binary, Rest/binary>>, N) ->
                        T = binary_to_term(B),
                        case term_to_binary(T) of
                            B -> Check(Rest, N + 1);
                            _ -> io:format("frame ~b differs~n", [N])
                        end
                end,
        Check(Bin, 0), halt()."#,
        file.display()
    );
    run_eval(&eval)
}

/// What `erl -noshell -eval Eval` prints (the test fails if erl does).
fn run_eval(eval: &str) -> String {
    let out = Command::new("erl")
        .args(["-noshell", "-eval", eval])
        .output()
        .expect("run erl");
    assert!(
        out.status.success(),
        "erl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Maps of more than 32 keys with atoms in their keys, whose trie order
/// depends on the VM's atom table: `erl` prints them (`~tp`, `~w`) last
/// trie entry first, and ferrotp reads such text back in reverse and
/// prints it the same way. So `~tp` text of such a map encodes to the
/// bytes `term_to_binary` gave in that VM, and decoding those bytes prints
/// exactly what `~w` printed.
#[test]
fn text_of_maps_over_32_keys_keeps_the_beams_order_both_ways() {
    if !erl_available() {
        println!("SKIPPED: `erl` is not on PATH");
        return;
    }
    let eval = r#"
        Maps = [maps:from_list([{list_to_atom("k" ++ integer_to_list(I)), I} || I <- lists:seq(1, N)])
                || N <- [33, 40, 100, 300]]
            ++ [maps:from_list([{{key, I}, I * 1000} || I <- lists:seq(1, 64)]),
                maps:from_list([{I, I} || I <- lists:seq(1, 40)] ++ [{a, 1}, {b, 2}])],
        [io:format("~s\t~s\t~s~n", [binary:encode_hex(term_to_binary(M)),
                                     binary:encode_hex(unicode:characters_to_binary(io_lib:format("~tp", [M]))),
                                     binary:encode_hex(unicode:characters_to_binary(io_lib:format("~w", [M])))])
         || M <- Maps],
        halt()."#;
    let lines = run_eval(eval);
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex from erl"))
            .collect()
    };
    let mut seen = 0;
    for line in lines.lines().filter(|l| !l.is_empty()) {
        let [bin, tp, w] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("malformed line from erl: {line}");
        };
        let (bin, tp, w) = (
            unhex(bin),
            String::from_utf8(unhex(tp)).expect("utf-8"),
            String::from_utf8(unhex(w)).expect("utf-8"),
        );
        let from_text = etf::parse(&tp).expect("erl's ~tp text parses");
        assert_eq!(
            encode(&from_text),
            bin,
            "~tp text of {w} encodes to other bytes"
        );
        let decoded = etf::decode(&bin).expect("erl's bytes decode");
        assert_eq!(decoded.to_string(), w, "decoding prints other text than ~w");
        seen += 1;
    }
    assert_eq!(seen, 6, "erl printed {lines:?}");
}
