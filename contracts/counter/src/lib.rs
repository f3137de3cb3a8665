//! A counter, for tests of storage, events, reverts and traps.
#![no_std]

extern crate alloc;

use supervm_sdk::prelude::*;

const COUNT: Item<u64> = Item::new(b"count");

/// The counter changed.
#[event]
pub struct Incremented {
    /// The caller.
    #[topic]
    pub by: Address,
    /// The new value.
    pub value: u64,
}

/// Why a counter call failed.
#[contract_error]
pub enum CounterError {
    /// The counter would overflow.
    Overflow = 1,
    /// `add_then_revert` always fails this way, after writing.
    Deliberate = 2,
}

/// The counter contract.
pub struct Counter;

#[contract]
impl Counter {
    /// Adds 1; returns the new value. Reverts with `Overflow` (code 1) at `u64::MAX`.
    pub fn increment() -> u64 {
        match add_by(1) {
            Ok(v) => v,
            Err(e) => env::revert(e.code(), &[]),
        }
    }

    /// Adds `n`; returns the new value.
    pub fn add(n: u64) -> Result<u64, CounterError> {
        add_by(n)
    }

    /// Adds all twelve amounts (an entry point with the most parameters the SDK allows);
    /// returns the new value.
    #[allow(clippy::too_many_arguments)]
    pub fn add_many(
        a: u64,
        b: u64,
        c: u64,
        d: u64,
        e: u64,
        f: u64,
        g: u64,
        h: u64,
        i: u64,
        j: u64,
        k: u64,
        l: u64,
    ) -> Result<u64, CounterError> {
        let mut sum = 0u64;
        for n in [a, b, c, d, e, f, g, h, i, j, k, l] {
            sum = sum.checked_add(n).ok_or(CounterError::Overflow)?;
        }
        add_by(sum)
    }

    /// The current value.
    pub fn get() -> u64 {
        COUNT.get_or(0)
    }

    /// Writes `value + n`, then fails with `Deliberate`: the write must be discarded.
    pub fn add_then_revert(n: u64) -> Result<u64, CounterError> {
        let v = COUNT
            .get_or(0)
            .checked_add(n)
            .ok_or(CounterError::Overflow)?;
        COUNT.set(&v);
        Err(CounterError::Deliberate)
    }

    /// Writes `value + n`, then panics (a trap): the write must be discarded.
    pub fn add_then_panic(n: u64) -> u64 {
        let v = COUNT.get_or(0).wrapping_add(n);
        COUNT.set(&v);
        panic!("deliberate")
    }
}

fn add_by(n: u64) -> Result<u64, CounterError> {
    let v = COUNT
        .get_or(0)
        .checked_add(n)
        .ok_or(CounterError::Overflow)?;
    COUNT.set(&v);
    Incremented {
        by: env::caller(),
        value: v,
    }
    .emit();
    Ok(v)
}
