//! The collaborative scheduler of Block-STM (Gelashvili et al., PPoPP 2023,
//! Algorithms 4 and 5): two shared indices hand out execution and validation
//! tasks in transaction order; aborts and dependency waits move them back.
//!
//! Invariants:
//! * A transaction's status only moves ReadyToExecute(i) → Executing(i) →
//!   Executed(i) → Aborting(i) → ReadyToExecute(i+1) (or Executing(i) →
//!   Aborting(i) when it waits on a dependency).
//! * `num_active_tasks` counts tasks handed out and not finished; the block is done
//!   only when both indices passed the end, no task is active, and no index was
//!   decreased while checking (`decrease_cnt`).
//! * Nothing is ever dropped: a transaction that cannot proceed waits on its
//!   dependency and is resumed when that one finishes executing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use parking_lot::Mutex;

use crate::mvmemory::Version;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
}

/// A unit of work for a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Execute this incarnation.
    Execute(Version),
    /// Validate this incarnation's read set.
    Validate(Version),
}

/// The shared scheduler of one block.
pub struct Scheduler {
    n: usize,
    execution_idx: AtomicUsize,
    validation_idx: AtomicUsize,
    decrease_cnt: AtomicUsize,
    num_active_tasks: AtomicUsize,
    done: AtomicBool,
    status: Vec<Mutex<(u32, Status)>>,
    dependencies: Vec<Mutex<Vec<usize>>>,
    /// Contention throttle (see [`Scheduler::throttled`]): every transaction below
    /// this index was Executed when last checked (a hint, never relied on for
    /// correctness).
    executed_prefix: AtomicUsize,
    executions: AtomicUsize,
    conflicts: AtomicUsize,
}

impl Scheduler {
    /// A scheduler for `n` transactions.
    pub fn new(n: usize) -> Self {
        Scheduler {
            n,
            execution_idx: AtomicUsize::new(0),
            validation_idx: AtomicUsize::new(0),
            decrease_cnt: AtomicUsize::new(0),
            num_active_tasks: AtomicUsize::new(0),
            done: AtomicBool::new(n == 0),
            status: (0..n)
                .map(|_| Mutex::new((0, Status::ReadyToExecute)))
                .collect(),
            dependencies: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
            executed_prefix: AtomicUsize::new(0),
            executions: AtomicUsize::new(0),
            conflicts: AtomicUsize::new(0),
        }
    }

    /// Whether every transaction is executed and validated.
    pub fn done(&self) -> bool {
        self.done.load(SeqCst)
    }

    fn decrease_execution_idx(&self, target: usize) {
        self.execution_idx.fetch_min(target, SeqCst);
        self.decrease_cnt.fetch_add(1, SeqCst);
    }

    fn decrease_validation_idx(&self, target: usize) {
        self.validation_idx.fetch_min(target, SeqCst);
        self.decrease_cnt.fetch_add(1, SeqCst);
    }

    fn check_done(&self) {
        let observed = self.decrease_cnt.load(SeqCst);
        if self
            .execution_idx
            .load(SeqCst)
            .min(self.validation_idx.load(SeqCst))
            >= self.n
            && self.num_active_tasks.load(SeqCst) == 0
            && observed == self.decrease_cnt.load(SeqCst)
        {
            self.done.store(true, SeqCst);
        }
    }

    /// Moves `idx` from ReadyToExecute to Executing. Does not touch the task count.
    fn try_incarnate(&self, idx: usize) -> Option<Version> {
        if idx < self.n {
            let mut s = self.status[idx].lock();
            if s.1 == Status::ReadyToExecute {
                s.1 = Status::Executing;
                return Some((idx, s.0));
            }
        }
        None
    }

    fn next_version_to_execute(&self) -> Option<Version> {
        if self.execution_idx.load(SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, SeqCst);
        let idx = self.execution_idx.fetch_add(1, SeqCst);
        let v = self.try_incarnate(idx);
        if v.is_none() {
            self.num_active_tasks.fetch_sub(1, SeqCst);
        }
        v
    }

    fn next_version_to_validate(&self) -> Option<Version> {
        if self.validation_idx.load(SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, SeqCst);
        let idx = self.validation_idx.fetch_add(1, SeqCst);
        if idx < self.n {
            let s = self.status[idx].lock();
            if s.1 == Status::Executed {
                return Some((idx, s.0));
            }
        }
        self.num_active_tasks.fetch_sub(1, SeqCst);
        None
    }

    /// The next task, or `None` when there is nothing to do right now (call again
    /// unless [`Scheduler::done`]).
    pub fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(SeqCst) < self.execution_idx.load(SeqCst) {
            self.next_version_to_validate().map(Task::Validate)
        } else if self.throttled() {
            None
        } else {
            self.next_version_to_execute().map(Task::Execute)
        }
    }

    /// Records the end of an execution (`conflict`: it stopped on a dependency) or an
    /// aborting validation, for the contention throttle.
    pub fn note(&self, executed: bool, conflict: bool) {
        if executed {
            self.executions.fetch_add(1, SeqCst);
        }
        if conflict {
            self.conflicts.fetch_add(1, SeqCst);
        }
    }

    /// Under heavy contention (more than one conflict per four executions, after at
    /// least 16), optimistic execution mostly produces work that is thrown away and
    /// slows the useful work down. Then a new execution starts only once every lower
    /// transaction has executed: execution proceeds in block order while validation
    /// stays parallel. At low contention this never triggers. It only delays handing
    /// out tasks, so correctness and progress are those of Block-STM: the transaction
    /// at the prefix is always executing, executed, or ready at or above the
    /// execution index (which then does not exceed the prefix).
    fn throttled(&self) -> bool {
        if self.execution_idx.load(SeqCst) >= self.n {
            return false; // let `next_version_to_execute` run the done check
        }
        let execs = self.executions.load(SeqCst);
        if execs < 16 || self.conflicts.load(SeqCst) * 4 <= execs {
            return false;
        }
        let mut p = self.executed_prefix.load(SeqCst);
        while p < self.n && self.status[p].lock().1 == Status::Executed {
            p += 1;
        }
        self.executed_prefix.fetch_max(p, SeqCst);
        self.execution_idx.load(SeqCst) > p
    }

    /// Transaction `idx` read an estimate written by `blocking`. Returns false when
    /// `blocking` has meanwhile finished executing (re-execute right away); otherwise
    /// `idx` waits and its task ends.
    pub fn add_dependency(&self, idx: usize, blocking: usize) -> bool {
        let mut deps = self.dependencies[blocking].lock();
        if self.status[blocking].lock().1 == Status::Executed {
            return false;
        }
        self.status[idx].lock().1 = Status::Aborting;
        deps.push(idx);
        drop(deps);
        self.num_active_tasks.fetch_sub(1, SeqCst);
        true
    }

    fn set_ready(&self, idx: usize) {
        let mut s = self.status[idx].lock();
        s.0 += 1;
        s.1 = Status::ReadyToExecute;
    }

    /// Incarnation `version` finished executing. Returns a follow-up task for the
    /// same worker, if any.
    pub fn finish_execution(&self, version: Version, wrote_new_location: bool) -> Option<Task> {
        let (idx, inc) = version;
        self.status[idx].lock().1 = Status::Executed;
        let deps = std::mem::take(&mut *self.dependencies[idx].lock());
        if let Some(&min) = deps.iter().min() {
            for d in &deps {
                self.set_ready(*d);
            }
            self.decrease_execution_idx(min);
        }
        if self.validation_idx.load(SeqCst) > idx {
            if wrote_new_location {
                self.decrease_validation_idx(idx);
            } else {
                return Some(Task::Validate((idx, inc)));
            }
        }
        self.num_active_tasks.fetch_sub(1, SeqCst);
        None
    }

    /// Validation of `version` failed: abort it, unless it was already aborted
    /// (then this validation is stale). Returns whether this call aborted it.
    pub fn try_validation_abort(&self, version: Version) -> bool {
        let mut s = self.status[version.0].lock();
        if *s == (version.1, Status::Executed) {
            s.1 = Status::Aborting;
            true
        } else {
            false
        }
    }

    /// Validation of `version` finished. Returns a follow-up task, if any.
    pub fn finish_validation(&self, idx: usize, aborted: bool) -> Option<Task> {
        if aborted {
            self.set_ready(idx);
            self.decrease_validation_idx(idx + 1);
            if self.execution_idx.load(SeqCst) > idx
                && let Some(v) = self.try_incarnate(idx)
            {
                return Some(Task::Execute(v));
            }
        }
        self.num_active_tasks.fetch_sub(1, SeqCst);
        None
    }
}

#[cfg(test)]
mod tests {
    //! The scheduler's state machine under random interleavings of its operations:
    //! virtual workers take tasks and finish them in a random order, executions block
    //! on random lower transactions and validations fail at random (a bounded number
    //! of times per transaction, so a run must end). Every run must reach `done`
    //! within a step bound (no lost wake-up, no task lost, the throttle never stalls
    //! it), with every transaction validated after its last execution and after the
    //! last abort or new-location write of every lower one. Operations are atomic
    //! here: races inside them are the threaded tests' business. Each case prints its
    //! seed; `SUPERVM_SEED=<seed>` reruns one.

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Failures (dependency waits plus validation aborts) a transaction may suffer.
    const FAILURES: u32 = 4;

    fn run(seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.gen_range(1..60);
        let workers = rng.gen_range(1..6);
        let fail_percent = rng.gen_range(0..60);
        let s = Scheduler::new(n);
        let mut held: Vec<Option<Task>> = vec![None; workers];
        let mut failures = vec![0u32; n];
        let mut validated = vec![false; n];
        // Step of each transaction's last passing validation, and of the last event that
        // obliges every higher one to be validated again (its validation abort, or an
        // execution that wrote a new location).
        let mut passed_at = vec![0u64; n];
        let mut dirtied_at = vec![0u64; n];
        let mut steps = 0u64;
        let fail = |rng: &mut ChaCha8Rng, failures: &mut Vec<u32>, idx: usize| {
            if failures[idx] < FAILURES && rng.gen_range(0..100) < fail_percent {
                failures[idx] += 1;
                true
            } else {
                false
            }
        };
        while !s.done() {
            steps += 1;
            assert!(
                steps < 200_000,
                "seed {seed}: no progress after {steps} steps (n {n}, workers {workers})"
            );
            let w = rng.gen_range(0..workers);
            held[w] = match held[w].take() {
                None => s.next_task(),
                Some(Task::Execute(v)) => {
                    let (idx, _) = v;
                    if idx > 0 && fail(&mut rng, &mut failures, idx) {
                        s.note(false, true);
                        let blocking = rng.gen_range(0..idx);
                        if s.add_dependency(idx, blocking) {
                            None
                        } else {
                            Some(Task::Execute(v))
                        }
                    } else {
                        s.note(true, false);
                        validated[idx] = false;
                        let wrote_new = rng.gen_bool(0.3);
                        if wrote_new {
                            dirtied_at[idx] = steps;
                        }
                        s.finish_execution(v, wrote_new)
                    }
                }
                Some(Task::Validate(v)) => {
                    let (idx, _) = v;
                    let conflict = fail(&mut rng, &mut failures, idx);
                    let aborted = conflict && s.try_validation_abort(v);
                    if !conflict && *s.status[idx].lock() == (v.1, Status::Executed) {
                        validated[idx] = true;
                        passed_at[idx] = steps;
                    }
                    if aborted {
                        s.note(false, true);
                        validated[idx] = false;
                        dirtied_at[idx] = steps;
                    }
                    s.finish_validation(idx, aborted)
                }
            };
        }
        assert!(
            held.iter().all(Option::is_none),
            "seed {seed}: a task outlived done"
        );
        for (i, validated) in validated.iter().enumerate() {
            assert_eq!(
                s.status[i].lock().1,
                Status::Executed,
                "seed {seed}: tx {i} not executed at done"
            );
            assert!(
                validated,
                "seed {seed}: tx {i} not validated after its last execution"
            );
            if let Some(j) = (0..i).find(|&j| dirtied_at[j] > passed_at[i]) {
                panic!("seed {seed}: tx {i} not validated again after lower tx {j} changed");
            }
        }
    }

    #[test]
    fn random_interleavings_always_finish() {
        let seeds: Vec<u64> = match supervm_vm::env_number("SUPERVM_SEED") {
            Some(s) => vec![s],
            None => (0..2_000).collect(),
        };
        for seed in seeds {
            println!("scheduler seed {seed}");
            run(seed);
        }
    }
}
