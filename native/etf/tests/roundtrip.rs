//! Property: decoding what was encoded gives back the term, under every
//! option set, and re-encoding is stable.

mod support;

use bytes::Bytes;
use etf::{decode, decode_bytes, encode, encode_with, Map, Term};
use proptest::prelude::*;
use support::{option_sets, term};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn decode_of_encode_is_identity(t in term()) {
        for opts in option_sets() {
            let bytes = encode_with(&t, &opts);
            let back = decode(&bytes).map_err(|e| TestCaseError::fail(format!("{opts:?}: {e}")))?;
            prop_assert_eq!(&back, &t, "{:?}", opts);
            prop_assert_eq!(encode_with(&back, &opts), bytes.clone(), "{:?}", opts);
            let shared = decode_bytes(Bytes::from(bytes)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&shared, &t);
        }
    }

    #[test]
    fn term_order_is_a_total_order_consistent_with_equality(a in term(), b in term(), c in term()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&b).is_eq(), a == b);
        prop_assert_eq!(a.cmp(&a), std::cmp::Ordering::Equal);
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
    }
}

#[test]
fn encoded_map_key_order_is_the_beams() {
    // #{1 => a, 1.0 => b, x => c, {} => d, [] => e}: integers before floats,
    // then atoms, tuples, nil — whatever order the entries were inserted in.
    let m: Map = [
        (Term::nil(), Term::atom("e")),
        (Term::Float(1.0), Term::atom("b")),
        (Term::atom("x"), Term::atom("c")),
        (Term::tuple(vec![]), Term::atom("d")),
        (Term::Int(1), Term::atom("a")),
    ]
    .into_iter()
    .collect();
    let bytes = encode(&Term::Map(m));
    let Term::Map(back) = decode(&bytes).unwrap() else {
        panic!("not a map")
    };
    let keys: Vec<Term> = back.entries.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        vec![
            Term::Int(1),
            Term::Float(1.0),
            Term::atom("x"),
            Term::tuple(vec![]),
            Term::nil()
        ]
    );
}
