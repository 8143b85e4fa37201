//! A fast hasher for the runtime's own tables (the process table, links,
//! monitors).
//!
//! Their keys are pids and references: numbers the node makes, or that
//! come from connected nodes, which the distribution handshake has
//! authenticated (the BEAM trusts them just as much). Every send looks up
//! the process table and every `gen_server` call inserts and removes a
//! monitor on both sides, so SipHash's resistance to chosen keys costs
//! more than it buys here. This is the multiply-rotate scheme of rustc's
//! `FxHasher`, with the high bits folded into the low ones (hashbrown
//! takes the bucket from the low bits).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// `FxHasher`-style: one rotate, xor and multiply per word.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` with [`FastHasher`].
pub(crate) type FastSet<T> = HashSet<T, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn keys_of_one_shard_spread_over_buckets() {
        // Process-table keys in one shard share their low 5 bits; their
        // hashes must still differ in the low bits hashbrown indexes by.
        let build = BuildHasherDefault::<FastHasher>::default();
        let low: HashSet<u64> = (0..1024u64)
            .map(|i| build.hash_one(i * 32) & 1023)
            .collect();
        assert!(low.len() > 512, "only {} distinct buckets", low.len());
    }
}
