//! `cargo +nightly fuzz run decode`: the decoder never panics, the tape
//! decoder agrees with it (term or error), and what it accepts
//! round-trips (`decode(encode(t)) == t`, `encode` stable).
//! Stable-Rust CI runs the same check as `native/etf/tests/fuzz_decode.rs`;
//! copy any crash into `native/etf/tests/regressions/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The tape decoder gives the same term, or the same error.
    let tape = etf::tape::decode(data).and_then(|t| t.root().to_term());
    assert_eq!(tape, etf::decode(data));
    if let Ok(t) = etf::decode(data) {
        let e = etf::encode(&t);
        let t2 = etf::decode(&e).expect("re-encoding decodes");
        assert_eq!(t2, t);
        assert_eq!(etf::encode(&t2), e);
    }
});
