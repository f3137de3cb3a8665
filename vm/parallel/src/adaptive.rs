//! Adaptive scheduling: a block runs as a sequence of chunks, each executed either
//! by Block-STM on all workers or one by one in block order on the calling thread,
//! over the writes of the chunks before it ([`Overlay`]).
//!
//! Under heavy contention optimistic execution is pure overhead: most incarnations
//! wait or are thrown away, and the scheduler's throttle ends up executing in block
//! order anyway, paying the multi-version bookkeeping on every read and write. After
//! each chunk, whichever way it ran, its final read and write sets (the sequential
//! ones, identical in both modes) give its *critical path*: the longest chain of
//! transactions each reading a key written by an earlier one of the chunk. `n`
//! transactions with a critical path of `L` cannot run more than `n / L` times faster
//! than one by one, whatever the thread count; below [`MIN_PARALLELISM`] the next
//! chunk runs sequentially. With one worker every chunk runs sequentially: Block-STM
//! on one thread can only be slower.
//!
//! Whatever the choices, every chunk's output is exactly the sequential output of
//! its transactions over the state its predecessors left, so the block's output is
//! too. The choices are a function of the transactions' sequential read and write
//! sets (and of the previous block's last choice), never of thread timing or a clock.

use std::collections::HashMap;

use supervm_vm::{BlockEnv, Receipt, StateView, Transaction};

use crate::error::{Error, Result};
use crate::executor::{BlockOutput, BlockStats, ParallelExecutor};
use crate::overlay::Overlay;

/// How a [`ParallelExecutor`] schedules a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    /// Chunks of [`CHUNK`] transactions, each in parallel or sequentially as the
    /// contention policy decides (the default).
    #[default]
    Adaptive,
    /// The whole block by Block-STM, however high the contention.
    Parallel,
    /// Every transaction one by one in block order (the reference semantics).
    Sequential,
}

/// Transactions per chunk: small enough to react within a block. Measured on the
/// uniform-transfer workload (10,000 transfers, 2 workers, interleaved runs): chunks
/// of 128 or 256 ran slightly faster than one Block-STM over the whole block (its
/// multi-version memory stays small and cache-warm), 1,024 about 20 % slower.
pub const CHUNK: usize = 256;

/// The least parallelism (`n / L`, see above) for which a chunk runs in parallel.
/// Block-STM on this repository's transfer workloads costs 1.2 to 1.8 times the
/// sequential executor per transaction (multi-version reads and writes, validation),
/// so two-fold parallelism is about where it starts to pay with 2 workers. A single
/// hot key gives 1; the 80 %-hot workload about 5; uniform transfers about 100.
pub const MIN_PARALLELISM: usize = 2;

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
        for read in &r.read_set.keys {
            if let Some(&d) = writer_depth.get(read.key.as_slice()) {
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
}

impl ParallelExecutor {
    /// Runs `txs` in chunks; `parallel` says how each chunk runs.
    pub(crate) fn execute_chunked(
        &self,
        base: &dyn StateView,
        block: &BlockEnv,
        txs: &[Transaction],
        mut parallel: bool,
        adapt: bool,
    ) -> Result<BlockOutput> {
        let mut overlay = Overlay::new(base);
        let mut receipts: Vec<Receipt> = Vec::with_capacity(txs.len());
        let mut stats = BlockStats {
            txs: txs.len(),
            threads: self.threads(),
            ..BlockStats::default()
        };
        let mut conflicts: HashMap<Vec<u8>, u64> = HashMap::new();
        for chunk in txs.chunks(CHUNK) {
            let first = receipts.len();
            if parallel {
                let out = self.block_stm(&overlay, block, chunk)?;
                merge(&mut stats, &out.stats);
                for (k, n) in out.conflicts {
                    *conflicts.entry(k).or_insert(0) += n;
                }
                overlay.apply_owned(out.writes);
                receipts.extend(out.receipts);
            } else {
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
            }
            if adapt {
                parallel = worth_parallel(&receipts[first..]);
            }
        }
        if adapt {
            self.remember_parallel(parallel);
        }
        stats.hottest_keys = crate::executor::hottest(conflicts);
        Ok(BlockOutput {
            receipts,
            writes: overlay.into_writes(),
            stats,
        })
    }
}

#[cfg(test)]
mod tests {
    use supervm_vm::state::{KeyRead, RangeRead};
    use supervm_vm::{Outcome, ReadSet, WriteSet};

    use super::*;

    /// A receipt reading `reads` and writing `writes` (keys of one byte).
    fn rx(reads: &[u8], writes: &[u8], iterates: bool) -> Receipt {
        Receipt {
            outcome: Outcome::Success,
            gas_used: 0,
            return_data: vec![],
            events: vec![],
            logs: vec![],
            contract: None,
            code_hash: None,
            executions: 1,
            read_set: ReadSet {
                keys: reads
                    .iter()
                    .map(|k| KeyRead {
                        key: vec![*k],
                        value: None,
                    })
                    .collect(),
                ranges: if iterates {
                    vec![RangeRead {
                        prefix: vec![],
                        after: None,
                        found: None,
                    }]
                } else {
                    vec![]
                },
            },
            write_set: writes
                .iter()
                .map(|k| (vec![*k], Some(vec![1])))
                .collect::<WriteSet>(),
        }
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
