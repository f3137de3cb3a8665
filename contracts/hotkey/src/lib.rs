//! Counters under many keys, for contention workloads: transactions that `bump` the same
//! key conflict, others do not. Counter `k` is stored under `b"k" ++ k.to_le_bytes()`.
#![no_std]

extern crate alloc;

use supervm_sdk::prelude::*;

const COUNTERS: Map<u32, u64> = Map::new(b"k");

/// The hotkey contract.
pub struct Hotkey;

#[contract]
impl Hotkey {
    /// Adds `by` to counter `key`; returns the new value (traps on overflow).
    pub fn bump(key: u32, by: u64) -> u64 {
        bump_key(key, by)
    }

    /// Adds `by` to counter 0 (the hot key); returns the new value.
    pub fn bump_hot(by: u64) -> u64 {
        bump_key(0, by)
    }

    /// The value of counter `key`.
    pub fn read(key: u32) -> u64 {
        COUNTERS.get_or(&key, 0)
    }

    /// Adds `by` to each counter of `keys` (a key listed twice is bumped twice).
    pub fn bump_many(keys: Vec<u32>, by: u64) {
        for k in keys {
            bump_key(k, by);
        }
    }
}

fn bump_key(key: u32, by: u64) -> u64 {
    let v = COUNTERS.get_or(&key, 0) + by;
    COUNTERS.set(&key, &v);
    v
}
