//! Contention workloads for the parallel scheduler: token transfers where a
//! chosen share touch a few hot accounts.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_vm::{Address, Transaction};

use crate::transfer::{self, TransferWorkload, transfer_tx};

/// How transfers pick their accounts.
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    /// Uniform over all accounts.
    Uniform,
    /// `hot_percent` % of transfers move tokens to or from one of `hot` accounts (the
    /// other side a random cold account); the rest are cold to cold.
    Hot {
        /// Number of hot accounts.
        hot: usize,
        /// Share of transfers touching a hot account, in percent.
        hot_percent: u32,
    },
    /// Every transfer pays one single account: one hot key.
    OneKey,
}

/// A funded token world with `accounts` accounts and `txs` transfers drawn by `pattern`.
pub fn setup(accounts: usize, txs: usize, pattern: Pattern, seed: u64) -> TransferWorkload {
    let mut w = transfer::setup(accounts, 0, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let acc = w.accounts.clone();
    let pick = |rng: &mut ChaCha8Rng, from: usize| acc[rng.gen_range(from..acc.len())];
    w.txs = (0..txs)
        .map(|_| -> Transaction {
            let (from, to): (Address, Address) = match pattern {
                Pattern::Uniform => (pick(&mut rng, 0), pick(&mut rng, 0)),
                Pattern::OneKey => (pick(&mut rng, 1), acc[0]),
                Pattern::Hot { hot, hot_percent } => {
                    if rng.gen_range(0..100) < hot_percent {
                        let h = acc[rng.gen_range(0..hot)];
                        let c = pick(&mut rng, hot);
                        if rng.gen_bool(0.5) { (h, c) } else { (c, h) }
                    } else {
                        (pick(&mut rng, hot), pick(&mut rng, hot))
                    }
                }
            };
            transfer_tx(w.token, from, to, rng.gen_range(1..100))
        })
        .collect();
    w
}
