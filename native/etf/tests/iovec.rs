//! `encode_iovec` (`term_to_iovec`): the chunks concatenate to exactly
//! `encode`'s bytes under every option set, large binaries are the term's
//! own bytes (shared, not copied), and the BEAM reads the result as the
//! term its own `term_to_iovec` wrote.

mod beam;
mod support;

use std::process::Command;

use beam::{erl_available, TempDir};
use bytes::Bytes;
use etf::{encode, encode_iovec, encode_iovec_with, encode_with, Term, IOVEC_SHARE_ABOVE};
use proptest::prelude::*;
use support::{option_sets, term};

/// A term from [`term`] with binaries of either side of the sharing limit
/// (and much larger) put beside it.
fn term_with_binaries() -> impl Strategy<Value = Term> {
    let binary = prop_oneof![
        Just(IOVEC_SHARE_ABOVE),
        Just(IOVEC_SHARE_ABOVE + 1),
        0usize..200,
        Just(70_000),
    ]
    .prop_map(|len| Term::Binary(Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>())));
    (term(), prop::collection::vec(binary, 0..4), any::<bool>()).prop_map(|(t, bins, tail)| {
        let mut items = bins;
        if tail {
            items.push(t);
        } else {
            items.insert(0, t);
        }
        Term::Tuple(items)
    })
}

/// Every binary and bitstring payload in `t` longer than the limit.
fn large_payloads(t: &Term, out: &mut Vec<Bytes>) {
    match t {
        Term::Binary(b) if b.len() > IOVEC_SHARE_ABOVE => out.push(b.clone()),
        Term::BitString(bs) if bs.bytes.len() > IOVEC_SHARE_ABOVE => out.push(bs.bytes.clone()),
        Term::List(v) | Term::Tuple(v) => v.iter().for_each(|t| large_payloads(t, out)),
        Term::ImproperList(v, tail) => {
            v.iter().for_each(|t| large_payloads(t, out));
            large_payloads(tail, out);
        }
        Term::Map(m) => m.entries.iter().for_each(|(k, v)| {
            large_payloads(k, out);
            large_payloads(v, out);
        }),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn chunks_concatenate_to_the_flat_encoding(t in term_with_binaries()) {
        for opts in option_sets() {
            let chunks = encode_iovec_with(&t, &opts);
            prop_assert_eq!(chunks.concat(), encode_with(&t, &opts), "{:?}", opts);
            prop_assert!(chunks.iter().all(|c| !c.is_empty()), "{:?}: an empty chunk", opts);
        }
    }

    #[test]
    fn large_binaries_are_shared_in_order_and_small_ones_copied(t in term_with_binaries()) {
        let chunks = encode_iovec(&t);
        let mut large = Vec::new();
        large_payloads(&t, &mut large);
        let shared: Vec<&Bytes> = chunks
            .iter()
            .filter(|c| large.iter().any(|b| b.as_ptr() == c.as_ptr() && b.len() == c.len()))
            .collect();
        prop_assert_eq!(shared.len(), large.len());
        for (chunk, payload) in shared.iter().zip(&large) {
            prop_assert_eq!(chunk.as_ptr(), payload.as_ptr());
        }
        // Small binaries are copied: no chunk is one of them.
        prop_assert!(chunks.iter().all(|c| c.len() > IOVEC_SHARE_ABOVE
            || !large.iter().any(|b| b.as_ptr() == c.as_ptr())));
    }
}

#[test]
fn a_term_without_large_binaries_is_one_chunk() {
    let t = Term::tuple(vec![Term::atom("ok"), Term::binary(vec![1u8; 64])]);
    let chunks = encode_iovec(&t);
    assert_eq!(chunks.len(), 1);
    assert_eq!(&chunks[0][..], &encode(&t)[..]);
}

#[test]
fn a_compressed_encoding_is_one_chunk() {
    let t = Term::List(vec![Term::binary(vec![0u8; 10_000]); 3]);
    let opts = etf::EncodeOptions {
        compressed: Some(6),
        ..Default::default()
    };
    let chunks = encode_iovec_with(&t, &opts);
    assert_eq!(chunks.len(), 1);
    assert_eq!(&chunks[0][..], &encode_with(&t, &opts)[..]);
}

/// The BEAM decodes our chunks, written one after another, to the term it
/// was given, and its own `term_to_iovec` of that term has the same bytes.
#[test]
fn the_beam_reads_our_iovec_as_its_own() {
    if !erl_available() {
        println!("SKIPPED the_beam_reads_our_iovec_as_its_own: `erl` is not on PATH");
        return;
    }
    let dir = TempDir::new("iovec");
    let big = Bytes::from((0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let t = Term::tuple(vec![
        Term::atom("frame"),
        Term::Binary(big.slice(..100_000)),
        Term::List(vec![
            Term::Binary(big.slice(100_000..)),
            Term::binary(&b"small"[..]),
        ]),
        Term::Int(-7),
    ]);
    let chunks = encode_iovec(&t);
    assert_eq!(chunks.len(), 5, "header, binary, header, binary, rest");
    let path = dir.0.join("ours.etf");
    let mut file = std::fs::File::create(&path).expect("create");
    for chunk in &chunks {
        std::io::Write::write_all(&mut file, chunk).expect("write");
    }
    drop(file);
    let eval = format!(
        "{{ok, Ours}} = file:read_file(\"{}\"), \
         Big = << <<(I rem 251)>> || I <- lists:seq(0, 299999) >>, \
         <<B1:100000/binary, B2/binary>> = Big, \
         T = {{frame, B1, [B2, <<\"small\">>], -7}}, \
         T = binary_to_term(Ours), \
         Ours = iolist_to_binary(term_to_iovec(T)), \
         io:format(\"same~n\"), halt().",
        path.display()
    );
    let out = Command::new("erl")
        .args(["-noshell", "-eval", &eval])
        .output()
        .expect("run erl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "same",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
