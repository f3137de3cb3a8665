//! A lock-free Bloom filter of the keys written in a block, as the predecessor
//! used for a conflict pre-check: validation skips a read whose key no
//! transaction of the block has written (it came from committed state, which does
//! not change during the block). Whether it pays is measured by
//! `high_contention_bench` (`docs/benchmarks.md`).
//!
//! A key is inserted before its write becomes visible in the multi-version
//! memory; a validation that races with the insert is repeated anyway, because
//! the writer lowers the validation index when it writes a new key.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bits in the filter (a power of two).
const BITS: usize = 1 << 18;

/// The filter.
pub struct WrittenKeys {
    words: Vec<AtomicU64>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for WrittenKeys {
    fn default() -> Self {
        WrittenKeys {
            words: (0..BITS / 64).map(|_| AtomicU64::new(0)).collect(),
            hasher: Default::default(),
        }
    }
}

impl WrittenKeys {
    fn bits(&self, key: &[u8]) -> [usize; 2] {
        let x = self.hasher.hash_one(key);
        [(x as usize) % BITS, ((x >> 32) as usize) % BITS]
    }

    /// Adds a key.
    pub fn insert(&self, key: &[u8]) {
        for b in self.bits(key) {
            self.words[b / 64].fetch_or(1 << (b % 64), Relaxed);
        }
    }

    /// False only if the key was never inserted.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.bits(key)
            .iter()
            .all(|&b| self.words[b / 64].load(Relaxed) & (1 << (b % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_false_negatives() {
        let f = super::WrittenKeys::default();
        for i in 0..10_000u32 {
            f.insert(&i.to_le_bytes());
        }
        assert!((0..10_000u32).all(|i| f.may_contain(&i.to_le_bytes())));
        let fp = (10_000..20_000u32)
            .filter(|i| f.may_contain(&i.to_le_bytes()))
            .count();
        assert!(fp < 500, "false positives: {fp}");
    }
}
