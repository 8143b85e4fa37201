//! Decoding never allocates more than a small multiple of the bytes it was
//! given, whatever lengths the input declares.
//!
//! A counting global allocator measures the peak of live heap bytes while
//! each hostile input decodes (its own test binary, one test, so nothing
//! else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak extra heap bytes while `decode` runs on `input` (result dropped inside).
fn peak_while<'a, T: 'a>(input: &'a [u8], decode: impl Fn(&'a [u8]) -> T) -> usize {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    drop(decode(input));
    PEAK.load(Relaxed) - before
}

#[test]
fn hostile_lengths_allocate_in_proportion_to_the_input() {
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "list of 4G in 7 bytes",
            vec![131, 108, 255, 255, 255, 255, 106],
        ),
        ("tuple of 4G", vec![131, 105, 255, 255, 255, 255, 106]),
        ("map of 4G", vec![131, 116, 255, 255, 255, 255, 106]),
        ("binary of 4G", vec![131, 109, 255, 255, 255, 255, 0]),
        ("bignum of 4G digits", vec![131, 111, 255, 255, 255, 255, 0]),
        (
            "compressed claiming 4G",
            vec![131, 80, 255, 255, 255, 255, 120, 156, 3, 0],
        ),
    ];
    // Tuples of 255 nested 2000 deep, each honest about its arity only in
    // its length byte: the input runs out long before the elements do.
    let mut nested = vec![131];
    for _ in 0..2000 {
        nested.extend_from_slice(&[104, 255]);
    }
    cases.push(("nested 255-tuples", nested));
    // Lists each claiming as many elements as there are bytes left (the
    // most a length check can let through), nested 1000 deep.
    let levels: usize = 1000;
    let total = 1 + 5 * levels;
    let mut lists = vec![131];
    for i in 0..levels {
        let left_after_header = total - (1 + 5 * (i + 1));
        lists.push(108);
        lists.extend_from_slice(&(left_after_header.saturating_sub(1) as u32).to_be_bytes());
    }
    cases.push(("nested big lists", lists));
    // The same, each list starting with an integer: the decoder's fast
    // path for long integer lists reads into a list of its own first.
    let total = 1 + 7 * levels;
    let mut int_lists = vec![131];
    for i in 0..levels {
        let left_after_header = total - (1 + 5 * (i + 1) + 2 * i);
        int_lists.push(108);
        int_lists.extend_from_slice(&(left_after_header.saturating_sub(1) as u32).to_be_bytes());
        int_lists.extend_from_slice(&[97, 7]);
    }
    cases.push(("nested big lists of leading integers", int_lists));

    for (name, input) in &cases {
        let peak = peak_while(input, etf::decode);
        let tape_peak = peak_while(input, etf::tape::decode);
        println!("{name}: tape peak {tape_peak} bytes");
        assert!(
            tape_peak <= 64 * input.len() + 64 * 1024,
            "{name}: the tape decoder allocated {tape_peak} bytes for {} input bytes",
            input.len()
        );
        // The decoder's scratch stacks and error are a few KiB at most; the
        // rest must scale with the input.
        let bound = 64 * input.len() + 64 * 1024;
        println!("{name}: peak {peak} bytes for {} input bytes", input.len());
        assert!(
            peak <= bound,
            "{name}: {peak} bytes allocated for {} input bytes",
            input.len()
        );
    }
}
