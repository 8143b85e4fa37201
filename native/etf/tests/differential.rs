//! Differential test against the real BEAM (`erl` on PATH).
//!
//! The BEAM (tests/erl/etf_diff.erl) makes thousands of terms — random ones
//! and edge cases: -0.0, subnormals, 2^64, -2^63-1, 255-character atoms in
//! Latin-1 and beyond, a 70000-element byte list, maps over 32 keys and
//! with map/tuple keys, bitstrings, its own pids/ports/refs and funs — and
//! encodes each under every option set of `etf_diff:opts/0`. Then:
//!
//! 1. ferrotp decodes every encoding; all option sets decode to one term,
//!    and the tape decoder (`etf::tape`) gives that term too;
//! 2. ferrotp re-encodes with the same options: the bytes must be the
//!    BEAM's, exactly (no exceptions are needed: large maps keep their
//!    decoded order, funs their bytes);
//! 3. the BEAM decodes ferrotp's encodings: each must be `=:=` the original.

use std::path::Path;
use std::process::Command;

use etf::{decode, encode_with, EncodeOptions, Term};

mod beam;
use beam::{erl_available, TempDir};

/// `etf_diff:opts/0`, in the same order.
fn option_sets() -> Vec<EncodeOptions> {
    let d = EncodeOptions::default();
    vec![
        d,
        EncodeOptions {
            minor_version: 0,
            ..d
        },
        EncodeOptions {
            minor_version: 2,
            ..d
        },
        EncodeOptions {
            compressed: Some(6),
            ..d
        },
        EncodeOptions {
            deterministic: true,
            ..d
        },
        EncodeOptions {
            compressed: Some(9),
            minor_version: 2,
            deterministic: true,
        },
    ]
}

const RANDOM_TERMS: usize = 3000;

fn run_erl(dir: &Path, eval: &str) {
    let out = Command::new("erl")
        .arg("-noshell")
        .arg("-pa")
        .arg(dir)
        .args(["-eval", eval])
        .output()
        .expect("run erl");
    assert!(
        out.status.success(),
        "erl -eval {eval} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_frame<'a>(buf: &mut &'a [u8]) -> &'a [u8] {
    let (len, rest) = buf.split_at(4);
    let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
    let (frame, rest) = rest.split_at(len);
    *buf = rest;
    frame
}

#[test]
fn beam_and_ferrotp_agree_on_every_encoding() {
    if !erl_available() {
        println!("SKIPPED beam_and_ferrotp_agree_on_every_encoding: `erl` is not on PATH");
        return;
    }
    let dir = TempDir::new("etf-diff");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/erl/etf_diff.erl");
    let status = Command::new("erlc")
        .arg("-o")
        .arg(&dir.0)
        .arg(&src)
        .status()
        .expect("run erlc");
    assert!(status.success(), "erlc etf_diff.erl failed");
    let dir_str = dir.0.to_str().unwrap();
    run_erl(
        &dir.0,
        &format!("etf_diff:gen(\"{dir_str}\", {RANDOM_TERMS}), halt()."),
    );

    let beam = std::fs::read(dir.0.join("beam.bin")).unwrap();
    let opts = option_sets();
    let mut rest = &beam[..];
    let mut rust_out = Vec::new();
    let mut terms = 0;
    let mut mismatches = Vec::new();
    while !rest.is_empty() {
        let has_fun = rest[0] == 1;
        rest = &rest[1..];
        let mut first: Option<Term> = None;
        for (i, o) in opts.iter().enumerate() {
            let bytes = read_frame(&mut rest);
            let t = decode(bytes).unwrap_or_else(|e| {
                panic!("term {terms} opts {i}: decode failed: {e}\nbytes: {bytes:?}")
            });
            let shared = etf::decode_bytes(bytes::Bytes::copy_from_slice(bytes)).unwrap();
            assert_eq!(shared, t, "term {terms} opts {i}: decode_bytes differs");
            let tape = etf::tape::decode(bytes).and_then(|t| t.root().to_term());
            assert_eq!(
                tape.as_ref(),
                Ok(&t),
                "term {terms} opts {i}: the tape differs"
            );
            let again = encode_with(&t, o);
            if again != bytes && mismatches.len() < 20 {
                mismatches.push(format!(
                    "term {terms} opts {i} ({o:?}): encodings differ\n  term: {t:?}\n  beam: {bytes:?}\n  rust: {again:?}"
                ));
            }
            match &first {
                None => first = Some(t),
                // A fun's bytes (atoms inside it) change with the options.
                Some(f) if !has_fun => {
                    assert_eq!(f, &t, "term {terms} opts {i} decodes differently")
                }
                Some(_) => {}
            }
            rust_out.extend_from_slice(&(again.len() as u32).to_be_bytes());
            rust_out.extend_from_slice(&again);
        }
        terms += 1;
    }
    assert!(terms > RANDOM_TERMS, "only {terms} terms read");
    assert!(
        mismatches.is_empty(),
        "{} byte mismatches (first ones):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    std::fs::write(dir.0.join("rust.bin"), &rust_out).unwrap();
    run_erl(&dir.0, &format!("etf_diff:check(\"{dir_str}\"), halt()."));
    let report = std::fs::read_to_string(dir.0.join("check.txt")).unwrap();
    assert_eq!(
        report, "ok\n",
        "the BEAM decoded ferrotp's encodings differently:\n{report}"
    );
    println!(
        "{terms} terms x {} option sets agree with the BEAM",
        opts.len()
    );
}
