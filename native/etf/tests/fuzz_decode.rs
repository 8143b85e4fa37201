//! A deterministic mutation fuzzer for the decoder that runs on stable
//! Rust in CI (the libFuzzer target in `/fuzz` is the same check, for
//! longer runs on nightly).
//!
//! Inputs are random bytes and mutations of valid encodings (bit flips,
//! interesting bytes and lengths, insertions, deletions, splices, cuts).
//! For each one: decoding never panics, the tape decoder (`etf::tape`)
//! gives the same term or the same error, and when decoding succeeds,
//! `decode(encode(t)) == t` with `encode` stable.
//!
//! Every file in `tests/regressions/` is replayed first; an input that
//! fails is written there so it stays a test. `FERROTP_FUZZ_SECS` sets the
//! time budget (default 20 s), `FERROTP_FUZZ_SEED` the seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use etf::{decode, encode, Atom, EncodeOptions, Term};

mod support;
use support::Rng;

/// Checks one input; `Err` describes a violated property.
fn check(input: &[u8]) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let tree = decode(input);
        let tape = etf::tape::decode(input).and_then(|t| t.root().to_term());
        if tape != tree {
            return Err(format!(
                "the tape decoder disagrees: {tape:?}, the tree decoder {tree:?}"
            ));
        }
        let Ok(t) = tree else {
            return Ok(());
        };
        let e = encode(&t);
        let t2 = decode(&e).map_err(|err| format!("re-encoding does not decode: {err}"))?;
        if t2 != t {
            return Err(format!("decode(encode(t)) != t for {t:?}"));
        }
        if encode(&t2) != e {
            return Err("encode is not stable".to_string());
        }
        Ok(())
    }));
    match outcome {
        Ok(r) => r,
        Err(_) => Err("panicked".to_string()),
    }
}

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions")
}

fn seeds() -> Vec<Vec<u8>> {
    let pid = Term::Pid(etf::Pid {
        node: Atom::new("n@h"),
        id: 5,
        serial: 1,
        creation: 9,
    });
    let terms = vec![
        Term::tuple(vec![
            Term::atom("ok"),
            Term::Int(-1),
            Term::Int(300),
            Term::Int(i64::MIN),
            Term::Float(-2.5),
            Term::binary(&b"bin"[..]),
        ]),
        Term::List(vec![
            Term::Int(1),
            Term::List(vec![Term::Int(1000)]),
            pid.clone(),
        ]),
        Term::ImproperList(vec![Term::atom("é")], Box::new(Term::Int(7))),
        Term::Map((0..40).map(|i| (Term::Int(i), Term::atom("v"))).collect()),
        Term::Map(
            [
                (Term::atom("k"), Term::nil()),
                (Term::tuple(vec![]), Term::Float(1.0)),
            ]
            .into_iter()
            .collect(),
        ),
        Term::from_bigint(num_bigint::BigInt::from(-3) << 300),
        Term::Reference(etf::Reference {
            node: Atom::new("n@h"),
            creation: 1,
            ids: vec![1, 2, 3],
        }),
        Term::Port(etf::Port {
            node: Atom::new("n@h"),
            id: 1 << 40,
            creation: 2,
        }),
        Term::from(etf::BitString {
            bytes: bytes::Bytes::from_static(&[0xff, 0x80]),
            last_bits: 1,
        }),
        Term::List((0..20).map(Term::Int).collect()),
    ];
    let mut seeds = Vec::new();
    for t in &terms {
        for opts in [
            EncodeOptions::default(),
            EncodeOptions {
                minor_version: 0,
                ..Default::default()
            },
            EncodeOptions {
                minor_version: 2,
                compressed: Some(6),
                ..Default::default()
            },
        ] {
            seeds.push(etf::encode_with(t, &opts));
        }
    }
    // Hand-written encodings of rarer tags.
    seeds.push(vec![131, 99, b'1', b'.', b'5', b'e', b'+', b'0', b'0', 0]);
    seeds.push(vec![131, 103, 100, 0, 1, b'n', 0, 0, 0, 1, 0, 0, 0, 2, 3]);
    seeds.push(vec![131, 113, 100, 0, 1, b'm', 100, 0, 1, b'f', 97, 2]);
    seeds.push(vec![131, 112, 0, 0, 0, 8, 1, 2, 3, 4]);
    seeds.push(vec![131, 101, 100, 0, 1, b'n', 0, 0, 0, 1, 2]);
    seeds.push(vec![131, 114, 0, 1, 100, 0, 1, b'n', 2, 0, 0, 0, 1]);
    seeds.push(vec![131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 3, 4]);
    seeds
}

const INTERESTING: &[u8] = &[
    0, 1, 2, 3, 7, 8, 31, 70, 77, 80, 82, 88, 89, 90, 97, 98, 99, 100, 101, 102, 103, 104, 105,
    106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 118, 119, 120, 121, 127, 128, 131, 254,
    255,
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 3 => {
                // An interesting 32-bit length.
                let i = rng.below(len - 3);
                let v: u32 = [0, 1, 255, 256, 65535, 65536, u32::MAX, u32::MAX / 2][rng.below(8)];
                input[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 => {
                let i = rng.below(len + 1);
                input.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            4 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(8));
                input.drain(i..i + n);
            }
            5 => {
                // Splice in part of another seed.
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let to = from + rng.below(other.len() - from + 1);
                let at = rng.below(len + 1);
                input.splice(at..at, other[from..to].iter().copied());
            }
            6 if len > 1 => input.truncate(rng.below(len)),
            _ => {
                let i = rng.below(len + 1);
                let n = rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(i..i, bytes);
            }
        }
    }
}

#[test]
fn regression_inputs_still_hold() {
    let Ok(dir) = std::fs::read_dir(regressions_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let input = std::fs::read(entry.path()).unwrap();
        if let Err(why) = check(&input) {
            panic!("{}: {why}", entry.path().display());
        }
    }
}

#[test]
fn decode_never_panics_and_round_trips_what_it_accepts() {
    let secs = std::env::var("FERROTP_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20u64);
    let seed = std::env::var("FERROTP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d_u64);
    // Quiet the default hook: a caught panic is reported below, with its input.
    std::panic::set_hook(Box::new(|_| {}));
    let seeds = seeds();
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut accepted) = (0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..256 {
            let input = if rng.below(8) == 0 {
                let mut v = vec![131];
                v.extend((0..rng.below(64)).map(|_| rng.next() as u8));
                v
            } else {
                let mut v = seeds[rng.below(seeds.len())].clone();
                mutate(&mut rng, &mut v, &seeds);
                v
            };
            runs += 1;
            if decode(&input).is_ok() {
                accepted += 1;
            }
            if let Err(why) = check(&input) {
                let _ = std::panic::take_hook();
                let dir = regressions_dir();
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("crash-{seed:x}-{runs}.bin"));
                let _ = std::fs::write(&path, &input);
                panic!("{why}\ninput {input:?}\nsaved as {}", path.display());
            }
        }
    }
    let _ = std::panic::take_hook();
    println!("{runs} inputs, {accepted} decoded, none panicked or failed to round-trip");
    assert!(runs > 10_000, "only {runs} inputs in {secs} s");
    assert!(
        accepted > 100,
        "only {accepted} inputs decoded: mutations too destructive"
    );
}
