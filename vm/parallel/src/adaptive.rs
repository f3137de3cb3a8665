//! Adaptive scheduling: optimistic execution with in-order commit ([`crate::occ`])
//! where transactions seldom read what the ones just before them wrote, Block-STM
//! where the block has parallelism to exploit despite conflicts, execution in block
//! order where it has not.
//!
//! Under heavy contention optimistic execution is pure overhead: most incarnations
//! wait or are thrown away, and the scheduler's throttle ends up executing in block
//! order anyway, paying the multi-version bookkeeping on every read and write. The
//! final read and write sets of a run of transactions (the sequential ones, whichever
//! way they were executed) give its *critical path*: the longest chain of
//! transactions each reading a key written by an earlier one of the run. `n`
//! transactions with a critical path of `L` cannot run more than `n / L` times faster
//! than one by one, whatever the thread count.
//!
//! Optimistic execution over the committed prefix re-executes, serially, every
//! transaction that read a key one of the few transactions in flight before it wrote
//! ([`recent_conflicts`] estimates the share from sequential read and write sets):
//! cheapest of all when that share is small, a serial bottleneck when it is not.
//!
//! `choose` picks a run's mode from receipts shaped like it: OCC when at most
//! [`OCC_MAX_CONFLICTS`] of them conflict that way, else Block-STM when they show at
//! least [`MIN_PARALLELISM`]-fold parallelism, else sequential. A block starts in the
//! mode the previous one ended in (Block-STM at first). In a parallel mode (OCC or
//! Block-STM) the whole block runs as one run. In sequential mode it runs in chunks of
//! [`CHUNK`] transactions in block order, over an [`Overlay`] of the chunks before; as
//! soon as a chunk's receipts choose a parallel mode, the rest of the block runs as one
//! run of it over that overlay. The last [`CHUNK`] receipts of a block (of at least
//! [`MIN_WINDOW`]) choose the mode of the next one. With one worker every block runs
//! sequentially: a parallel protocol on one thread can only be slower.
//!
//! Whatever the choices, each run's output is exactly the sequential output of its
//! transactions over the state the runs before it left, so the block's output is
//! too. The choices are a function of the transactions' sequential read and write
//! sets (and of the previous block's), never of thread timing or a clock.

use std::collections::HashMap;

use supervm_vm::{BlockEnv, Receipt, StateView, Transaction};

use crate::error::{Error, Result};
use crate::executor::{BlockOutput, BlockStats, ParallelExecutor};
use crate::occ::recent_conflicts;
use crate::overlay::Overlay;

/// How a [`ParallelExecutor`] schedules a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    /// OCC where few transactions read what the ones just before them wrote, Block-STM
    /// where conflicts are frequent but the block has parallelism, chunks in block
    /// order where dependency chains leave too little (the default; see the module
    /// documentation).
    #[default]
    Adaptive,
    /// The whole block by Block-STM, however high the contention.
    Parallel,
    /// The whole block by optimistic execution with in-order commit ([`crate::occ`]),
    /// however high the contention.
    Occ,
    /// Every transaction one by one in block order (the reference semantics).
    Sequential,
}

/// Transactions per sequential chunk, and the window at the end of a block that sets
/// the next block's mode: small enough to react within a block.
pub const CHUNK: usize = 256;

/// The least parallelism (`n / L`, see above) for which a chunk runs in parallel.
/// Block-STM on this repository's transfer workloads costs 1.2 to 1.8 times the
/// sequential executor per transaction (multi-version reads and writes, validation),
/// so two-fold parallelism is about where it starts to pay with 2 workers. A single
/// hot key gives 1; the 80 %-hot workload about 5; uniform transfers about 100.
pub const MIN_PARALLELISM: usize = 2;

/// The most [`recent_conflicts`] for which a run goes to OCC: each such conflict is one
/// serial re-execution on the commit path.
pub const OCC_MAX_CONFLICTS: f64 = 1.0 / 16.0;

/// How a run of transactions executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Sequential = 0,
    BlockStm = 1,
    Occ = 2,
}

impl Mode {
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => Mode::Sequential,
            2 => Mode::Occ,
            _ => Mode::BlockStm,
        }
    }
}

/// The mode for a run shaped like `receipts` (see the module documentation).
pub(crate) fn choose(receipts: &[Receipt]) -> Mode {
    if recent_conflicts(receipts) <= OCC_MAX_CONFLICTS {
        Mode::Occ
    } else if worth_parallel(receipts) {
        Mode::BlockStm
    } else {
        Mode::Sequential
    }
}

/// The longest chain of transactions in `receipts` (in block order) where each reads
/// a key the previous one of the chain wrote. A transaction that iterated a prefix
/// counts as depending on every earlier one (a conservative bound).
pub fn critical_path(receipts: &[Receipt]) -> usize {
    let mut writer_depth: HashMap<&[u8], usize, foldhash::fast::RandomState> = HashMap::default();
    let mut longest = 0;
    for r in receipts {
        let mut before = if r.read_set.ranges.is_empty() {
            0
        } else {
            longest
        };
        for key in r.read_set.point_keys() {
            if let Some(&d) = writer_depth.get(key) {
                before = before.max(d);
            }
        }
        let depth = before + 1;
        for k in r.write_set.keys() {
            writer_depth.insert(k, depth);
        }
        longest = longest.max(depth);
    }
    longest
}

/// Whether a chunk shaped like `receipts` would gain from parallel execution.
pub fn worth_parallel(receipts: &[Receipt]) -> bool {
    receipts.len() >= MIN_PARALLELISM * critical_path(receipts)
}

/// Merges a chunk's statistics into the block's.
fn merge(total: &mut BlockStats, chunk: &BlockStats) {
    total.executions += chunk.executions;
    total.reexecutions += chunk.reexecutions;
    total.validations += chunk.validations;
    total.validation_aborts += chunk.validation_aborts;
    total.dependency_waits += chunk.dependency_waits;
    total.sequential_txs += chunk.sequential_txs;
    total.occ_txs += chunk.occ_txs;
}

/// Blocks shorter than this leave the next block's mode as it was: a handful of
/// transactions says little about the next thousand.
pub const MIN_WINDOW: usize = 32;

impl ParallelExecutor {
    /// Sets the next block's mode from the last [`CHUNK`] receipts of this one.
    fn remember_mode(&self, receipts: &[Receipt]) {
        if receipts.len() >= MIN_WINDOW {
            let tail = &receipts[receipts.len().saturating_sub(CHUNK)..];
            self.remember_mode_next(choose(tail));
        }
    }

    /// One parallel run of `txs` in `mode` (OCC or Block-STM).
    fn parallel_run(
        &self,
        mode: Mode,
        base: &dyn StateView,
        block: &BlockEnv,
        txs: &[Transaction],
    ) -> Result<crate::executor::StmOutput> {
        match mode {
            Mode::Occ => self.occ(base, block, txs),
            _ => self.block_stm(base, block, txs),
        }
    }

    /// Runs `txs` starting in the given mode. Sequential mode goes chunk by chunk; a
    /// parallel mode runs everything left of the block as one run (no barriers, no
    /// overlay when the block starts parallel). With `adapt`, a sequential chunk whose
    /// receipts choose a parallel mode switches the rest of the block to it, and the
    /// last [`CHUNK`] receipts choose the mode the next block starts in. Runs on a
    /// worker of the pool.
    pub(crate) fn execute_adaptive(
        &self,
        base: &dyn StateView,
        block: &BlockEnv,
        txs: &[Transaction],
        mode: Mode,
        adapt: bool,
    ) -> Result<BlockOutput> {
        if mode != Mode::Sequential {
            let out = self.parallel_run(mode, base, block, txs)?;
            if adapt {
                self.remember_mode(&out.receipts);
            }
            return Ok(BlockOutput {
                receipts: out.receipts,
                writes: out.writes,
                stats: BlockStats {
                    hottest_keys: crate::executor::hottest(out.conflicts),
                    ..out.stats
                },
            });
        }
        let mut overlay = Overlay::new(base);
        let mut receipts: Vec<Receipt> = Vec::with_capacity(txs.len());
        let mut stats = BlockStats {
            txs: txs.len(),
            threads: self.threads(),
            ..BlockStats::default()
        };
        let mut conflicts = HashMap::new();
        let mut rest = txs;
        let mut next = Mode::Sequential;
        while !rest.is_empty() {
            if next != Mode::Sequential {
                // The rest of the block in one parallel run over the chunks before it.
                let out = self.parallel_run(next, &overlay, block, rest)?;
                merge(&mut stats, &out.stats);
                conflicts = out.conflicts;
                overlay.merge(out.writes);
                receipts.extend(out.receipts);
                break;
            }
            let (chunk, tail) = rest.split_at(CHUNK.min(rest.len()));
            rest = tail;
            let first = receipts.len();
            // A panic fails the block as it does on a worker.
            let run = std::panic::AssertUnwindSafe(|| -> Result<()> {
                for tx in chunk {
                    let r = self.vm().execute(&overlay, block, tx).map_err(Error::Vm)?;
                    overlay.apply(&r.write_set);
                    receipts.push(r);
                }
                Ok(())
            });
            std::panic::catch_unwind(run).map_err(|_| Error::WorkerPanicked)??;
            stats.executions += chunk.len() as u64;
            stats.sequential_txs += chunk.len();
            if adapt {
                next = choose(&receipts[first..]);
            }
        }
        if adapt {
            self.remember_mode(&receipts);
        }
        stats.hottest_keys = crate::executor::hottest(conflicts);
        Ok(BlockOutput {
            receipts,
            writes: overlay.into_layer(),
            stats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{receipt, step};

    /// A receipt reading `reads` and writing `writes` (keys of one byte).
    fn rx(reads: &[u8], writes: &[u8], iterates: bool) -> Receipt {
        let reads: Vec<([u8; 1], Option<&[u8]>)> = reads.iter().map(|k| ([*k], None)).collect();
        let reads: Vec<(&[u8], Option<&[u8]>)> = reads.iter().map(|(k, v)| (&k[..], *v)).collect();
        let writes: Vec<[u8; 1]> = writes.iter().map(|k| [*k]).collect();
        let writes: Vec<&[u8]> = writes.iter().map(|k| &k[..]).collect();
        let ranges = if iterates {
            vec![step(b"", None, None)]
        } else {
            vec![]
        };
        receipt(&reads, ranges, &writes)
    }

    #[test]
    fn critical_path_follows_reads_of_earlier_writes() {
        assert_eq!(critical_path(&[]), 0);
        // Independent transactions: a path of one.
        let independent: Vec<_> = (0..8).map(|i| rx(&[i], &[i], false)).collect();
        assert_eq!(critical_path(&independent), 1);
        assert!(worth_parallel(&independent));
        // Everyone reads and writes key 0: one chain.
        let hot: Vec<_> = (0..8).map(|_| rx(&[0], &[0], false)).collect();
        assert_eq!(critical_path(&hot), 8);
        assert!(!worth_parallel(&hot));
        // Writing without reading starts no chain; reading the latest writer continues it.
        let mixed = [
            rx(&[], &[0], false),    // 1
            rx(&[0], &[1], false),   // 2
            rx(&[5], &[0], false),   // 1 (blind write of 0)
            rx(&[0, 1], &[], false), // max(1, 2) + 1 = 3
            rx(&[9], &[], true),     // iterates: after everything so far, 4
        ];
        assert_eq!(critical_path(&mixed), 4);
    }
}
