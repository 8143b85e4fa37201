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

/// The hasher of the process table's keys (`serial << 32 | id`, see
/// `Node::key`), which keeps consecutive pids in neighbouring buckets, as
/// the BEAM's process table (an array indexed by pid) does.
///
/// The bucket bits are the pid number (`serial << 15 | id`) without the
/// 5 bits that chose the shard, so a burst of new processes fills buckets
/// side by side and a wave of exits frees them in the same order: a few
/// cache lines for many processes instead of one each. The top 7 bits,
/// hashbrown's tag, are a multiplicative hash of the whole key.
#[derive(Default, Clone, Copy)]
pub(crate) struct PidKeyHasher(u64);

/// Bits of a hash below hashbrown's 7-bit tag.
const TAG_SHIFT: u32 = 57;

impl Hasher for PidKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; anything else still hashes well.
        let mut h = FastHasher(self.0);
        h.write(bytes);
        self.0 = h.finish();
    }

    fn write_u64(&mut self, key: u64) {
        let number = ((key >> 32) << 15) ^ (key & 0xffff_ffff);
        let tag = key.wrapping_mul(SEED) >> TAG_SHIFT << TAG_SHIFT;
        self.0 = tag | ((number >> 5) & ((1 << TAG_SHIFT) - 1));
    }
}

/// A `HashMap` keyed by process-table keys, with [`PidKeyHasher`].
pub(crate) type PidKeyMap<V> = HashMap<u64, V, BuildHasherDefault<PidKeyHasher>>;

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

    /// `Node::key` of the node's `n`th pid.
    fn pid_key(n: u64) -> u64 {
        ((n >> 15) << 32) | (n & 0x7fff)
    }

    #[test]
    fn consecutive_pids_of_one_shard_take_neighbouring_buckets() {
        let build = BuildHasherDefault::<PidKeyHasher>::default();
        // Across an id wrap-around (the serial moves on at 32768).
        let buckets: Vec<u64> = (32_000..33_600u64)
            .filter(|n| n % 32 == 7)
            .map(|n| build.hash_one(pid_key(n)) & ((1 << TAG_SHIFT) - 1))
            .collect();
        assert!(buckets.windows(2).all(|w| w[1] == w[0] + 1), "{buckets:?}");
    }

    #[test]
    fn pid_key_tags_spread_over_all_values() {
        // hashbrown compares the top 7 bits before a key: they must vary.
        let build = BuildHasherDefault::<PidKeyHasher>::default();
        let tags: HashSet<u64> = (0..4096u64)
            .map(|n| build.hash_one(pid_key(n * 32)) >> TAG_SHIFT)
            .collect();
        assert!(tags.len() > 100, "only {} distinct tags", tags.len());
    }

    #[test]
    fn process_table_keeps_every_pid_apart() {
        // 1M live keys whose ids wrap around many times: each is found.
        let mut table: PidKeyMap<u64> = PidKeyMap::default();
        for n in 0..(1u64 << 20) {
            table.insert(pid_key(n * 32 + 3), n);
        }
        assert_eq!(table.len(), 1 << 20);
        for n in (0..(1u64 << 20)).step_by(997) {
            assert_eq!(table.get(&pid_key(n * 32 + 3)), Some(&n));
        }
    }
}
