//! Optimistic execution over the committed prefix, with in-order commit and value
//! validation: the low-contention schedule ([`Schedule::Occ`](crate::Schedule)).
//!
//! Block-STM pays for its generality on every read and write: multi-version lookups,
//! estimate markers, read sets kept per incarnation and validated against the
//! multi-version memory. When transactions seldom touch what the few transactions
//! just before them write, a cheaper protocol gives the same output:
//!
//! * **Execute**: workers take transactions in block order (at most [`AHEAD`] past the
//!   commit frontier) and execute each over the *committed view*: the run's base state
//!   under the writes of the transactions committed so far. The view is read without
//!   holding anything across the execution; it may gain commits while a transaction
//!   runs.
//! * **Commit**, strictly in block order, by whichever worker holds the commit lock:
//!   transaction `i` is committed when all transactions before it are, so the committed
//!   view is then exactly the state sequential execution would give it. Its read set
//!   is validated by value against that state: every key it read must hold the value it
//!   saw (only keys the run wrote can differ from the base), and every iteration step
//!   must find the same key again. Execution is a deterministic function of the values
//!   read, so a transaction that passes would execute exactly as it did; one that fails
//!   is executed again at once, by the committing worker, over that same state, and the
//!   result is final. Its write set is then applied to the committed view.
//!
//! No transaction waits on another's estimate and nothing is aborted twice; a conflict
//! costs one more execution, on the commit path. Under contention the commit path
//! becomes the bottleneck (every re-execution is serial), which is why the adaptive
//! schedule picks this protocol only for blocks whose recent transactions seldom read
//! what the few before them wrote ([`recent_conflicts`]).

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use parking_lot::{Mutex, RwLock};
use supervm_vm::{BlockEnv, Receipt, StateError, StateView, Transaction, Vm, decode_u128};

use crate::error::{Error, Result};
use crate::executor::{BlockStats, Failure, ParallelExecutor, StmOutput, back_off};
use crate::overlay::Overlay;

/// How many uncommitted transactions may precede one a worker starts: enough to keep
/// every worker busy while another commits, little enough that a transaction seldom
/// runs against a state many commits old.
pub const AHEAD: usize = 8;

/// The run's base state under the committed transactions' writes.
struct Committed<'a> {
    base: &'a dyn StateView,
    overlay: RwLock<Overlay<'a>>,
}

impl StateView for Committed<'_> {
    fn get(&self, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, StateError> {
        // (the base is read without the lock; a commit in between is caught at validation)
        let written = self.overlay.read().written(key).cloned();
        match written {
            Some(v) => Ok(v),
            None => self.base.get(key),
        }
    }

    fn next_key(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> std::result::Result<Option<Vec<u8>>, StateError> {
        self.overlay.read().next_key(prefix, after)
    }
}

/// The commit frontier's state, under the commit lock.
struct Frontier {
    next: usize,
    reexecutions: u64,
    conflicts: HashMap<Vec<u8>, u64>,
}

struct Run<'a> {
    vm: &'a Vm,
    block: &'a BlockEnv,
    txs: &'a [Transaction],
    view: Committed<'a>,
    /// Receipts by transaction: executed ones at and past the frontier (`done`), final
    /// ones before it.
    receipts: Vec<Mutex<Option<Receipt>>>,
    /// The next transaction to execute.
    next_exec: AtomicUsize,
    /// Transactions committed (mirror of `Frontier::next`, read without the lock).
    done: AtomicUsize,
    frontier: Mutex<Frontier>,
    failure: Failure,
}

impl Run<'_> {
    fn fail(&self, e: Error) {
        self.failure.fail(e);
    }

    fn work_loop(&self) {
        let n = self.txs.len();
        let mut idle = 0u32;
        while !self.failure.failed() {
            if let Err(e) = self.try_commit() {
                self.fail(e);
                return;
            }
            let done = self.done.load(Acquire);
            if done == n {
                return;
            }
            let i = self.next_exec.load(Relaxed);
            let claimed = i < n
                && i <= done + AHEAD
                && self
                    .next_exec
                    .compare_exchange(i, i + 1, Relaxed, Relaxed)
                    .is_ok();
            if !claimed {
                idle += 1;
                back_off(idle);
                continue;
            }
            idle = 0;
            match self.vm.execute(&self.view, self.block, &self.txs[i]) {
                Ok(r) => *self.receipts[i].lock() = Some(r),
                Err(e) => {
                    self.fail(Error::Vm(e));
                    return;
                }
            }
        }
    }

    /// Commits every executed transaction at the frontier, if no other worker is.
    fn try_commit(&self) -> Result<()> {
        let Some(mut f) = self.frontier.try_lock() else {
            return Ok(());
        };
        while f.next < self.txs.len() {
            let i = f.next;
            let mut slot = self.receipts[i].lock();
            let Some(r) = slot.as_mut() else {
                break;
            };
            let overlay = self.view.overlay.read();
            let conflict = match first_conflict(&overlay, r).map_err(|e| Error::Vm(e.into()))? {
                None => rebase(&overlay, r),
                key => key,
            };
            drop(overlay);
            if let Some(key) = conflict {
                // The committed view is now exactly the sequential state before `i`, and
                // no one else writes it while the commit lock is held.
                f.reexecutions += 1;
                *f.conflicts.entry(key).or_insert(0) += 1;
                *r = self
                    .vm
                    .execute(&self.view, self.block, &self.txs[i])
                    .map_err(Error::Vm)?;
                r.executions = 2;
            }
            self.view.overlay.write().apply(&r.write_set);
            drop(slot);
            f.next = i + 1;
            self.done.store(i + 1, Release);
        }
        Ok(())
    }
}

/// The first read of `r` that `overlay` (the run's base under the writes committed so
/// far) answers differently from what `r` saw: a key read (or the digest of a large
/// one), a delta read whose value left its range, a code key whose presence changed,
/// or the prefix of an iteration step.
fn first_conflict(
    overlay: &Overlay<'_>,
    r: &Receipt,
) -> std::result::Result<Option<Vec<u8>>, StateError> {
    for read in &r.read_set.keys {
        // A key no committed transaction of the run wrote still holds its base value.
        if overlay.written(&read.key).is_some_and(|v| *v != read.value) {
            return Ok(Some(read.key.clone()));
        }
    }
    for d in &r.read_set.deltas {
        if overlay
            .written(&d.key)
            .is_some_and(|v| !d.holds(v.as_deref()))
        {
            return Ok(Some(d.key.clone()));
        }
    }
    for d in &r.read_set.digests {
        if overlay
            .written(&d.key)
            .is_some_and(|v| !d.holds(v.as_deref()))
        {
            return Ok(Some(d.key.clone()));
        }
    }
    for c in &r.read_set.codes {
        if overlay
            .written(&c.key)
            .is_some_and(|v| !c.holds(v.as_deref()))
        {
            return Ok(Some(c.key.clone()));
        }
    }
    for step in &r.read_set.ranges {
        if overlay.next_key(&step.prefix, step.after.as_deref())? != step.found {
            return Ok(Some(step.prefix.clone()));
        }
    }
    Ok(None)
}

/// Moves the writes `r` made by adding to keys it never read onto the values `overlay`
/// holds for them now (each within its delta read's range, checked by
/// [`first_conflict`]): exactly what executing `r` over `overlay` would write and see.
/// `Some(key)` if a write cannot be moved (not a `u128`; cannot happen for writes made
/// by `storage_add`, and then `r` is executed again).
fn rebase(overlay: &Overlay<'_>, r: &mut Receipt) -> Option<Vec<u8>> {
    for d in &mut r.read_set.deltas {
        let Some(now) = overlay.written(&d.key) else {
            continue; // (not written by the run: the base value, which it saw)
        };
        if *now == d.seen {
            continue;
        }
        if let Some(Some(w)) = r.write_set.get_mut(&d.key) {
            let moved = decode_u128(Some(w)).and_then(|w| d.rebase(now.as_deref(), w));
            let Some(moved) = moved else {
                return Some(d.key.clone());
            };
            *w = moved.to_le_bytes().to_vec();
        }
        d.seen = now.clone();
    }
    None
}

impl ParallelExecutor {
    /// One optimistic in-order-commit run over `txs` (see the module documentation).
    /// Runs on a worker of the pool.
    pub(crate) fn occ(
        &self,
        base: &dyn StateView,
        block: &BlockEnv,
        txs: &[Transaction],
    ) -> Result<StmOutput> {
        let n = txs.len();
        let run = Run {
            vm: self.vm(),
            block,
            txs,
            view: Committed {
                base,
                overlay: RwLock::new(Overlay::new(base)),
            },
            receipts: (0..n).map(|_| Mutex::new(None)).collect(),
            next_exec: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            frontier: Mutex::new(Frontier {
                next: 0,
                reexecutions: 0,
                conflicts: HashMap::new(),
            }),
            failure: Failure::default(),
        };
        self.pool().scope(|scope| {
            for _ in 0..self.threads() {
                scope.spawn(|_| run.failure.guard(|| run.work_loop()));
            }
        });
        if let Some(e) = run.failure.take() {
            return Err(e);
        }
        let f = run.frontier.into_inner();
        let mut receipts = Vec::with_capacity(n);
        for (i, slot) in run.receipts.into_iter().enumerate() {
            receipts.push(slot.into_inner().ok_or(Error::Incomplete(i))?);
        }
        let executions = n as u64 + f.reexecutions;
        Ok(StmOutput {
            receipts,
            writes: run.view.overlay.into_inner().into_layer(),
            conflicts: f.conflicts,
            stats: BlockStats {
                txs: n,
                threads: self.threads(),
                executions,
                reexecutions: f.reexecutions,
                validations: n as u64,
                validation_aborts: f.reexecutions,
                dependency_waits: 0,
                hottest_keys: Vec::new(),
                sequential_txs: 0,
                occ_txs: n,
            },
        })
    }
}

/// The share of `receipts` (in block order) that read a key one of the [`AHEAD`]
/// transactions before them wrote, or iterated after one of them wrote anything: what
/// OCC would re-execute if every transaction ran that far ahead
/// of the commits.
pub fn recent_conflicts(receipts: &[Receipt]) -> f64 {
    if receipts.is_empty() {
        return 0.0;
    }
    let mut last_writer: HashMap<&[u8], usize, foldhash::fast::RandomState> = HashMap::default();
    let mut last_write = None;
    let mut conflicts = 0usize;
    for (i, r) in receipts.iter().enumerate() {
        let recent = |j: usize| i - j <= AHEAD;
        let hit = (!r.read_set.ranges.is_empty() && last_write.is_some_and(recent))
            || r.read_set
                .point_keys()
                .any(|k| last_writer.get(k).is_some_and(|&j| recent(j)));
        conflicts += hit as usize;
        for k in r.write_set.keys() {
            last_writer.insert(k, i);
        }
        if !r.write_set.is_empty() {
            last_write = Some(i);
        }
    }
    conflicts as f64 / receipts.len() as f64
}

#[cfg(test)]
mod tests {
    use supervm_vm::{InMemoryState, WriteSet};

    use super::*;
    use crate::test_support::{receipt, step};

    /// Validation by value: a key the run wrote must hold what the transaction saw
    /// (deleted equals absent), a key it did not write passes, and every iteration step
    /// must find the same key over the committed writes.
    #[test]
    fn conflicts_are_reads_the_committed_state_answers_differently() {
        let mut base = InMemoryState::new();
        let w = |pairs: &[(&[u8], Option<&[u8]>)]| -> WriteSet {
            pairs
                .iter()
                .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                .collect()
        };
        base.apply(&w(&[
            (b"a1", Some(b"x")),
            (b"a3", Some(b"x")),
            (b"k", Some(b"old")),
        ]));
        let mut overlay = Overlay::new(&base);
        overlay.apply(&w(&[
            (b"k", Some(b"new")),
            (b"gone", None),
            (b"a2", Some(b"y")),
        ]));
        let check = |r: Receipt| first_conflict(&overlay, &r).unwrap();
        // Keys.
        assert_eq!(check(receipt(&[(b"k", Some(b"new"))], vec![], &[])), None);
        assert_eq!(
            check(receipt(&[(b"z", None), (b"k", Some(b"old"))], vec![], &[])),
            Some(b"k".to_vec())
        );
        assert_eq!(check(receipt(&[(b"gone", None)], vec![], &[])), None);
        assert_eq!(
            check(receipt(&[(b"gone", Some(b"v"))], vec![], &[])),
            Some(b"gone".to_vec())
        );
        assert_eq!(
            check(receipt(&[(b"a1", Some(b"stale?"))], vec![], &[])),
            None
        );
        // Iteration steps: a2 was inserted between a1 and a3.
        assert_eq!(
            check(receipt(&[], vec![step(b"a", None, Some(b"a1"))], &[])),
            None
        );
        assert_eq!(
            check(receipt(
                &[],
                vec![step(b"a", Some(b"a1"), Some(b"a3"))],
                &[]
            )),
            Some(b"a".to_vec())
        );
        assert_eq!(
            check(receipt(
                &[],
                vec![step(b"a", Some(b"a1"), Some(b"a2"))],
                &[]
            )),
            None
        );
        assert_eq!(
            check(receipt(&[], vec![step(b"a", Some(b"a3"), None)], &[])),
            None
        );
    }

    /// A code read is validated by presence: code written in the run (an upload) is a
    /// conflict for a transaction that saw it absent, not for one that saw it present
    /// (code is immutable by hash, and the read keeps no bytes to compare).
    #[test]
    fn code_reads_validate_by_presence() {
        let base = InMemoryState::new();
        let mut overlay = Overlay::new(&base);
        overlay.apply(
            &[(b"code".to_vec(), Some(vec![1, 2, 3]))]
                .into_iter()
                .collect(),
        );
        let read = |len: Option<usize>| {
            let mut r = receipt(&[], vec![], &[]);
            r.read_set.codes.push(supervm_vm::CodeRead {
                key: b"code".to_vec(),
                len,
            });
            r
        };
        assert_eq!(first_conflict(&overlay, &read(Some(3))).unwrap(), None);
        assert_eq!(
            first_conflict(&overlay, &read(None)).unwrap(),
            Some(b"code".to_vec())
        );
        let mut other = read(None);
        other.read_set.codes[0].key = b"elsewhere".to_vec();
        assert_eq!(first_conflict(&overlay, &other).unwrap(), None);
    }

    /// A delta read passes validation while the committed value stays in its range, and
    /// its write then moves onto the committed value (and `seen` becomes that value, as
    /// in a sequential execution); outside the range it is a conflict.
    #[test]
    fn delta_reads_validate_by_range_and_rebase_their_writes() {
        let u = |v: u128| Some(v.to_le_bytes().to_vec());
        let base = InMemoryState::new();
        let mut overlay = Overlay::new(&base);
        overlay.apply(&[(b"hot".to_vec(), u(500))].into_iter().collect());
        // Saw 100 and wrote 70 (subtracted 30): valid for 30 <= v.
        let mut r = receipt(&[], vec![], &[]);
        r.read_set.deltas.push(supervm_vm::DeltaRead {
            key: b"hot".to_vec(),
            seen: u(100),
            lo: 30,
            hi: u128::MAX,
        });
        // (and one on a key the run never wrote: it saw the base value, nothing moves)
        r.read_set.deltas.push(supervm_vm::DeltaRead {
            key: b"cold".to_vec(),
            seen: None,
            lo: 0,
            hi: u128::MAX - 1,
        });
        r.write_set.insert(b"hot".to_vec(), u(70));
        r.write_set.insert(b"cold".to_vec(), u(1));
        assert_eq!(first_conflict(&overlay, &r).unwrap(), None);
        assert_eq!(rebase(&overlay, &mut r), None);
        assert_eq!(r.write_set[&b"hot"[..]], u(470));
        assert_eq!(r.read_set.deltas[0].seen, u(500));
        assert_eq!(r.write_set[&b"cold"[..]], u(1));
        assert_eq!(r.read_set.deltas[1].seen, None);

        overlay.apply(&[(b"hot".to_vec(), u(29))].into_iter().collect());
        assert_eq!(first_conflict(&overlay, &r).unwrap(), Some(b"hot".to_vec()));
        overlay.apply(
            &[(b"hot".to_vec(), Some(b"not a u128".to_vec()))]
                .into_iter()
                .collect(),
        );
        assert_eq!(first_conflict(&overlay, &r).unwrap(), Some(b"hot".to_vec()));
    }

    /// A read of a key written by one of the [`AHEAD`] transactions before counts, one
    /// written earlier does not; an iteration counts after any recent write.
    #[test]
    fn recent_conflicts_look_back_ahead_transactions() {
        assert_eq!(recent_conflicts(&[]), 0.0);
        let writer = receipt(&[], vec![], &[b"k"]);
        let reader = receipt(&[(b"k", None)], vec![], &[]);
        let idle = || receipt(&[], vec![], &[b"x"]);
        let mut near = vec![writer.clone()];
        near.extend((0..AHEAD - 1).map(|_| idle()));
        near.push(reader.clone());
        assert_eq!(recent_conflicts(&near), 1.0 / near.len() as f64);
        let mut far = vec![writer];
        far.extend((0..AHEAD).map(|_| idle()));
        far.push(reader);
        assert_eq!(recent_conflicts(&far), 0.0);
        let iterates = receipt(&[], vec![step(b"", None, None)], &[]);
        let runs = [receipt(&[], vec![], &[b"q"]), iterates];
        assert_eq!(recent_conflicts(&runs), 0.5);
    }
}
