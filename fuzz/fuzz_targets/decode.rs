//! `cargo +nightly fuzz run decode`: the decoder never panics, and what it
//! accepts round-trips (`decode(encode(t)) == t`, `encode` stable).
//! Stable-Rust CI runs the same check as `native/etf/tests/fuzz_decode.rs`;
//! copy any crash into `native/etf/tests/regressions/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = etf::decode(data) {
        let e = etf::encode(&t);
        let t2 = etf::decode(&e).expect("re-encoding decodes");
        assert_eq!(t2, t);
        assert_eq!(etf::encode(&t2), e);
    }
});
