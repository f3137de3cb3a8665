//! Executing a block on all cores: workers take tasks from the [`Scheduler`],
//! execute incarnations through the real wasm VM over [`MvView`]s, and validate
//! read sets; the output is assembled in block order once the scheduler is done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;
use supervm_vm::{BlockEnv, Receipt, StateError, StateView, Transaction, Vm, WriteLayer};

use crate::adaptive::{Mode, Schedule};
use crate::error::{Error, Result};
use crate::mvmemory::{MvMemory, Version};
use crate::scheduler::{Scheduler, Task};
use crate::view::MvView;

/// Native stack of a worker thread: room for the deepest contract call chain
/// without the VM having to switch stacks.
const WORKER_STACK: usize = 64 << 20;

/// Most workers of one executor. Each executing transaction may hold
/// `MAX_CALL_DEPTH` instances (one per frame) out of the VM's
/// [`INSTANCE_SLOTS`](supervm_vm::INSTANCE_SLOTS), which idle recycled instances and the
/// node's simulations (4 at a time) share: 32 workers leave room for both.
pub const MAX_THREADS: usize = 32;

/// Statistics of one block's parallel execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockStats {
    /// Transactions in the block.
    pub txs: usize,
    /// Worker threads.
    pub threads: usize,
    /// Completed executions (incarnations), including the final ones.
    pub executions: u64,
    /// Executions beyond one per transaction.
    pub reexecutions: u64,
    /// Read-set validations performed.
    pub validations: u64,
    /// Validations that aborted an incarnation.
    pub validation_aborts: u64,
    /// Executions that stopped to wait for a lower transaction.
    pub dependency_waits: u64,
    /// The keys most often behind an abort or a wait, most first (at most 5).
    pub hottest_keys: Vec<(Vec<u8>, u64)>,
    /// Transactions executed one by one in block order (chunks the adaptive
    /// schedule ran sequentially because of contention, see [`crate::adaptive`]).
    pub sequential_txs: usize,
    /// Transactions run by optimistic execution with in-order commit ([`crate::occ`]);
    /// the others ran by Block-STM or sequentially.
    pub occ_txs: usize,
}

/// What one Block-STM run produced, before its conflicts are ranked.
pub(crate) struct StmOutput {
    pub(crate) receipts: Vec<Receipt>,
    /// The final writes, each key once.
    pub(crate) writes: WriteLayer,
    pub(crate) stats: BlockStats,
    /// Aborts and waits per key.
    pub(crate) conflicts: HashMap<Vec<u8>, u64>,
}

/// The (at most 5) keys most often behind a conflict, most first.
pub(crate) fn hottest(conflicts: HashMap<Vec<u8>, u64>) -> Vec<(Vec<u8>, u64)> {
    let mut hottest: Vec<(Vec<u8>, u64)> = conflicts.into_iter().collect();
    hottest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    hottest.truncate(5);
    hottest
}

/// The result of a block: exactly what sequential execution produces, plus stats.
#[derive(Clone, Debug)]
pub struct BlockOutput {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// The block's writes: every successful write set applied in order (each key's
    /// last write, held unordered: [`WriteLayer::to_write_set`] sorts a copy).
    pub writes: WriteLayer,
    /// How the execution went.
    pub stats: BlockStats,
}

/// Executes blocks in parallel with a fixed number of worker threads.
#[derive(Clone)]
pub struct ParallelExecutor {
    vm: Vm,
    threads: usize,
    bloom: bool,
    schedule: Schedule,
    /// The mode the next block starts in (adaptive schedule; set by the end of the
    /// previous block, a [`Mode`] as `u8`), shared by clones.
    next_mode: std::sync::Arc<AtomicU8>,
    /// The workers, kept across blocks: no thread start per block, and each worker keeps
    /// its lane of recycled instances (whose memory is warm in its core's cache).
    pool: std::sync::Arc<rayon::ThreadPool>,
    /// How long every worker stays awake after a block, waiting for the next one.
    linger: std::time::Duration,
}

/// How long at most the workers of a multi-threaded executor stay awake after a block
/// by default (never longer than the block took). A rayon worker with nothing to do sleeps after a few dozen polls (tens of
/// microseconds), and on this project's 2-vCPU virtual machines the second worker of a
/// block often started 2 to 3.5 ms late (`docs/benchmarks.md`): longer than a
/// 1,000-transfer block, which then ran on one worker. Blocks that follow each other
/// within this time find every worker awake; an idle executor stops spinning after it.
/// (OpenMP runtimes spin 200 ms by default for the same reason.)
pub const DEFAULT_LINGER: std::time::Duration = std::time::Duration::from_millis(3);

struct Shared<'a> {
    vm: &'a Vm,
    base: &'a dyn StateView,
    block: &'a BlockEnv,
    txs: &'a [Transaction],
    mv: MvMemory,
    sched: Scheduler,
    receipts: Vec<Mutex<Option<Receipt>>>,
    executions: Vec<AtomicU32>,
    validations: AtomicU64,
    validation_aborts: AtomicU64,
    dependency_waits: AtomicU64,
    conflicts: Mutex<HashMap<Vec<u8>, u64>>,
    failure: Failure,
}

impl ParallelExecutor {
    /// An executor running `threads` workers on `vm` (at least 1, at most
    /// [`MAX_THREADS`]).
    ///
    /// # Panics
    ///
    /// If the operating system refuses to start the worker threads.
    pub fn new(vm: Vm, threads: usize) -> Self {
        let threads = threads.clamp(1, MAX_THREADS);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .stack_size(WORKER_STACK)
            .thread_name(|i| format!("supervm-worker-{i}"))
            .build()
            .expect("start the worker threads");
        ParallelExecutor {
            vm,
            threads,
            bloom: false,
            schedule: Schedule::default(),
            next_mode: std::sync::Arc::new(AtomicU8::new(Mode::BlockStm as u8)),
            pool: std::sync::Arc::new(pool),
            linger: if threads > 1 {
                DEFAULT_LINGER
            } else {
                std::time::Duration::ZERO
            },
        }
    }

    /// Sets how long at most every worker stays awake after a block (never longer than
    /// the block took; [`DEFAULT_LINGER`] with more than one worker; zero: they sleep as
    /// soon as rayon lets them).
    pub fn with_linger(mut self, linger: std::time::Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Turns the Bloom-filter pre-check of validation on or off (off by default;
    /// see [`crate::bloom`] and `docs/benchmarks.md`).
    pub fn with_bloom(mut self, on: bool) -> Self {
        self.bloom = on;
        self
    }

    /// Sets how blocks are scheduled ([`Schedule::Adaptive`] by default).
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Runs `f` on this executor's workers: rayon parallel iterators inside it (a
    /// store staging a block's state root, say) use them, and workers still awake
    /// after a block (see [`DEFAULT_LINGER`]) take that work at once instead of
    /// competing for the cores with a second pool.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// The worker count.
    pub fn threads(&self) -> usize {
        self.threads
    }

    pub(crate) fn vm(&self) -> &Vm {
        &self.vm
    }

    pub(crate) fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }

    pub(crate) fn remember_mode_next(&self, mode: Mode) {
        self.next_mode.store(mode as u8, Relaxed);
    }

    /// Executes `txs` over the committed state `base`. The output equals, byte for
    /// byte, what [`Vm::execute_block`] produces on the same state (receipts differ
    /// only in their `executions` metadata).
    pub fn execute_block(
        &self,
        base: &dyn StateView,
        block: &BlockEnv,
        txs: &[Transaction],
    ) -> Result<BlockOutput> {
        // (the mode the block starts in, whether the mode adapts)
        let (mode, adapt) = match self.schedule {
            Schedule::Parallel => (Mode::BlockStm, false),
            Schedule::Occ => (Mode::Occ, false),
            Schedule::Adaptive if self.threads > 1 => {
                (Mode::from_u8(self.next_mode.load(Relaxed)), true)
            }
            Schedule::Adaptive | Schedule::Sequential => (Mode::Sequential, false),
        };
        // Everything runs on the workers, sequential chunks included, and the calling
        // thread only waits: on the calling thread a sequential chunk competed for the
        // two cores with the workers still spinning after the previous parallel step
        // (0.8–0.9× of the same chunks on one worker). The output's parallel iterator
        // (draining the multi-version memory) runs on this pool too.
        #[allow(clippy::disallowed_methods)] // how long to spin, never for output
        let start = std::time::Instant::now();
        let out = self
            .pool
            .install(|| self.execute_adaptive(base, block, txs, mode, adapt));
        if !self.linger.is_zero() {
            // At most as long as the block took: a node taking small blocks one after
            // another spins at most as long as it works.
            #[allow(clippy::disallowed_methods)]
            let now = std::time::Instant::now();
            let until = now + self.linger.min(now - start);
            // (one task on every worker, a sleeping one woken: a spawned task would go to
            // whichever worker is awake, and rayon wakes no other while one is)
            self.pool.spawn_broadcast(move |_| stay_awake(until));
        }
        out
    }

    /// One Block-STM run over the whole of `txs`. Runs on a worker of the pool.
    pub(crate) fn block_stm(
        &self,
        base: &dyn StateView,
        block: &BlockEnv,
        txs: &[Transaction],
    ) -> Result<StmOutput> {
        let n = txs.len();
        let shared = Shared {
            vm: &self.vm,
            base,
            block,
            txs,
            mv: MvMemory::new(n, self.bloom),
            sched: Scheduler::new(n),
            receipts: (0..n).map(|_| Mutex::new(None)).collect(),
            executions: (0..n).map(|_| AtomicU32::new(0)).collect(),
            validations: AtomicU64::new(0),
            validation_aborts: AtomicU64::new(0),
            dependency_waits: AtomicU64::new(0),
            conflicts: Mutex::new(HashMap::new()),
            failure: Failure::default(),
        };
        // One task per worker; `work` catches a panic and fails the block with it.
        self.pool.scope(|scope| {
            for _ in 0..self.threads {
                scope.spawn(|_| shared.work());
            }
        });
        if let Some(e) = shared.failure.take() {
            return Err(e);
        }
        shared.finish(self.threads)
    }
}

/// Keeps a worker awake until `until` or until it has run a job the pool got
/// meanwhile (the next block's: at once, where a sleeping worker would first have to
/// be woken). Returning after one job bounds the nesting: a job run here is either a
/// block's task or a newer linger task, which ends by its own deadline. Yields between
/// polls (a hint to the OS scheduler, which may still run this thread before others).
fn stay_awake(until: std::time::Instant) {
    #[allow(clippy::disallowed_methods)] // a clock for how long to spin, never for output
    while std::time::Instant::now() < until {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            return;
        }
        std::thread::yield_now();
    }
}

/// How an idle worker waits before polling the scheduler again.
pub(crate) fn back_off(idle: u32) {
    if idle <= 6 {
        for _ in 0..(1u32 << idle) {
            std::hint::spin_loop();
        }
    } else if idle <= 32 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(std::time::Duration::from_micros(20));
    }
}

/// The first failure of a parallel run: every worker stops at its next step.
#[derive(Default)]
pub(crate) struct Failure {
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl Failure {
    /// Records `e` (the first failure wins) and stops the workers.
    pub(crate) fn fail(&self, e: Error) {
        self.failed.store(true, Relaxed);
        self.error.lock().get_or_insert(e);
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Relaxed)
    }

    /// The failure, if any, once the workers are done.
    pub(crate) fn take(&self) -> Option<Error> {
        self.error.lock().take()
    }

    /// Runs a worker's loop. A panic in one worker must not leave the others waiting
    /// for its task forever: it fails the run, and every worker stops at its next step.
    pub(crate) fn guard(&self, work_loop: impl FnOnce()) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work_loop)).is_err() {
            self.fail(Error::WorkerPanicked);
        }
    }
}

impl Shared<'_> {
    fn fail(&self, e: Error) {
        self.failure.fail(e);
    }

    fn work(&self) {
        self.failure.guard(|| self.work_loop());
    }

    fn work_loop(&self) {
        let mut task: Option<Task> = None;
        // Consecutive polls that found nothing to do: an idle worker backs off (spin,
        // then yield, then short sleeps) so that it does not keep the scheduler's shared
        // counters and locks bouncing between cores while another worker does the work
        // (under heavy contention the throttle leaves one worker running).
        let mut idle = 0u32;
        loop {
            if self.failure.failed() {
                return;
            }
            let step = match task.take() {
                Some(Task::Execute(v)) => self.execute(v),
                Some(Task::Validate(v)) => self.validate(v),
                None => {
                    if self.sched.done() {
                        return;
                    }
                    let next = self.sched.next_task();
                    if next.is_none() {
                        idle += 1;
                        back_off(idle);
                    } else {
                        idle = 0;
                    }
                    Ok(next)
                }
            };
            match step {
                Ok(next) => task = next,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    fn conflict(&self, key: Vec<u8>) {
        *self.conflicts.lock().entry(key).or_insert(0) += 1;
    }

    fn execute(&self, version: Version) -> Result<Option<Task>> {
        let (idx, _) = version;
        let view = MvView::new(&self.mv, self.base, idx);
        match self.vm.execute(&view, self.block, &self.txs[idx]) {
            Err(supervm_vm::Error::State(StateError::Blocked(dep))) => {
                self.dependency_waits.fetch_add(1, Relaxed);
                self.sched.note(false, true);
                if let Some(k) = view.blocked_key() {
                    self.conflict(k);
                }
                if self.sched.add_dependency(idx, dep) {
                    Ok(None)
                } else {
                    Ok(Some(Task::Execute(version)))
                }
            }
            Err(e) => Err(Error::Vm(e)),
            Ok(mut receipt) => {
                self.executions[idx].fetch_add(1, Relaxed);
                self.sched.note(true, false);
                // The read set lives in the multi-version memory until the block is done.
                let reads = std::mem::take(&mut receipt.read_set);
                // The slot still holds the previous incarnation's receipt: what it wrote
                // is what the memory must forget where this one did not write again.
                let mut slot = self.receipts[idx].lock();
                let previous = slot.as_ref().map(|r| &r.write_set);
                let wrote_new = self.mv.record(version, reads, &receipt.write_set, previous);
                *slot = Some(receipt);
                drop(slot);
                Ok(self.sched.finish_execution(version, wrote_new))
            }
        }
    }

    fn validate(&self, version: Version) -> Result<Option<Task>> {
        let (idx, _) = version;
        self.validations.fetch_add(1, Relaxed);
        let view = MvView::new(&self.mv, self.base, idx);
        let conflict = self
            .mv
            .with_last_reads(idx, |reads| view.first_conflict(reads))
            .map_err(|e| Error::Vm(e.into()))?;
        let aborted = conflict.is_some() && self.sched.try_validation_abort(version);
        if aborted {
            self.validation_aborts.fetch_add(1, Relaxed);
            self.sched.note(false, true);
            if let Some(k) = conflict {
                self.conflict(k);
            }
            // Aborted here, so no incarnation of idx is running: the slot holds the
            // receipt of the incarnation whose writes are in the memory.
            if let Some(r) = &*self.receipts[idx].lock() {
                self.mv.convert_writes_to_estimates(idx, &r.write_set);
            }
        }
        Ok(self.sched.finish_validation(idx, aborted))
    }

    fn finish(self, threads: usize) -> Result<StmOutput> {
        let n = self.txs.len();
        let mut receipts = Vec::with_capacity(n);
        let mut executions = 0u64;
        for (i, slot) in self.receipts.into_iter().enumerate() {
            let mut r = slot.into_inner().ok_or(Error::Incomplete(i))?;
            r.executions = self.executions[i].load(Relaxed);
            r.read_set = self.mv.take_last_reads(i);
            executions += r.executions as u64;
            receipts.push(r);
        }
        let writes = self.mv.into_final_pairs()?.into_iter().collect();
        Ok(StmOutput {
            receipts,
            writes,
            conflicts: self.conflicts.into_inner(),
            stats: BlockStats {
                txs: n,
                threads,
                executions,
                reexecutions: executions - n as u64,
                validations: self.validations.into_inner(),
                validation_aborts: self.validation_aborts.into_inner(),
                dependency_waits: self.dependency_waits.into_inner(),
                hottest_keys: Vec::new(),
                sequential_txs: 0,
                occ_txs: 0,
            },
        })
    }
}
