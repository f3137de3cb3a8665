//! The node's shared state: the store, the VM, the mempool and the commit notifier.
//! RPC handlers call into it; the producer threads (`producer.rs`) drive it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use supervm_client::tx::{SenderKey, ToVerify};
use supervm_client::{SignedTx, TxPayload};
use supervm_store::Store;
use supervm_vm::{Address, PayloadSize, Vm, VmConfig};

use crate::accounts::Account;
use crate::config::{MAX_GAS_LIMIT, MIN_GAS_LIMIT, NodeConfig};
use crate::mempool::{AccountNow, Mempool, NotAdmitted, PendingTx};
use crate::metrics::{Counter, Gauge, Histogram, Metrics, MetricsError};
use crate::{Error, Result};

/// What the pipeline and admission report at `/metrics` (Prometheus).
#[derive(Debug)]
pub struct Stats {
    /// Transactions committed.
    pub committed_txs: Counter,
    /// Blocks committed.
    pub committed_blocks: Counter,
    /// Commit batches.
    pub batches: Counter,
    /// Transactions dropped at block building.
    pub dropped_txs: Counter,
    /// Re-executions by the parallel scheduler.
    pub reexecutions: Counter,
    /// Transactions the adaptive schedule ran in sequential chunks (contention).
    pub sequential_txs: Counter,
    /// Transactions the adaptive schedule ran by optimistic in-order commit (few
    /// conflicts).
    pub occ_txs: Counter,
    /// Transactions admitted to the mempool.
    pub admitted: Counter,
    /// Transactions refused at admission.
    pub rejected: Counter,
    /// Latency of a batch commit (2PC), seconds.
    pub commit_latency: Histogram,
    /// Time to build a block (fees, execution, state root), seconds.
    pub block_time: Histogram,
    /// Transactions in the mempool (queued and in flight).
    pub mempool: Gauge,
    /// Height of the latest committed block.
    pub height: Gauge,
    /// Committed transactions per second over the last [`RATE_WINDOW`] (refreshed at
    /// every commit and every scrape, so it falls to zero when nothing commits).
    pub tx_per_s: Gauge,
    /// 1 once the block pipeline halted, else 0 (an idle chain's height stands still
    /// too: this tells them apart).
    pub halted: Gauge,
    /// Commits of the last [`RATE_WINDOW`]: when, and how many transactions.
    recent: Mutex<VecDeque<(Instant, u64)>>,
}

/// The window `supervm_transactions_per_second` averages over.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

impl Stats {
    /// Registers the node's metrics.
    pub fn new(m: &Metrics) -> std::result::Result<Self, MetricsError> {
        m.gauge_vec(
            "supervm_build_info",
            "The node's version (the value is always 1).",
            ["version"],
        )?
        .with([env!("CARGO_PKG_VERSION")])
        .set(1.0);
        Ok(Stats {
            committed_txs: m.counter(
                "supervm_committed_transactions_total",
                "Transactions committed durably.",
            )?,
            committed_blocks: m.counter(
                "supervm_committed_blocks_total",
                "Blocks committed durably.",
            )?,
            batches: m.counter("supervm_commit_batches_total", "Two-phase commit batches.")?,
            dropped_txs: m.counter(
                "supervm_dropped_transactions_total",
                "Admitted transactions dropped at block building (nonce, balance, expiry).",
            )?,
            reexecutions: m.counter(
                "supervm_reexecutions_total",
                "Transaction re-executions by the parallel scheduler.",
            )?,
            sequential_txs: m.counter(
                "supervm_sequential_chunk_transactions_total",
                "Transactions executed in sequential chunks because their chunk's dependency chains left too little parallelism.",
            )?,
            occ_txs: m.counter(
                "supervm_occ_transactions_total",
                "Transactions executed by optimistic execution with in-order commit (blocks with few conflicts).",
            )?,
            admitted: m.counter(
                "supervm_admitted_transactions_total",
                "Transactions admitted to the mempool.",
            )?,
            rejected: m.counter(
                "supervm_rejected_transactions_total",
                "Transactions refused at admission.",
            )?,
            commit_latency: m.histogram(
                "supervm_commit_latency_seconds",
                "Latency of one batch commit (2PC).",
                &LATENCY_BUCKETS,
            )?,
            block_time: m.histogram(
                "supervm_block_time_seconds",
                "Time to build one block (fees, parallel execution, state root).",
                &LATENCY_BUCKETS,
            )?,
            mempool: m.gauge(
                "supervm_mempool_transactions",
                "Transactions in the mempool (queued and in flight).",
            )?,
            height: m.gauge("supervm_height", "Height of the latest committed block.")?,
            tx_per_s: m.gauge(
                "supervm_transactions_per_second",
                "Committed transactions per second over the last 10 seconds.",
            )?,
            halted: m.gauge(
                "supervm_halted",
                "1 once the block pipeline halted (a failed commit or block build: /health says why), else 0.",
            )?,
            recent: Mutex::new(VecDeque::new()),
        })
    }

    /// Records a commit of `txs` transactions at `now`.
    pub fn note_commit(&self, now: Instant, txs: u64) {
        self.recent.lock().push_back((now, txs));
        self.refresh_rate(now);
    }

    /// Sets `tx_per_s` to the rate over the [`RATE_WINDOW`] before `now`.
    pub fn refresh_rate(&self, now: Instant) {
        let mut r = self.recent.lock();
        while r
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            r.pop_front();
        }
        let txs: u64 = r.iter().map(|(_, n)| n).sum();
        self.tx_per_s.set(txs as f64 / RATE_WINDOW.as_secs_f64());
    }
}

/// The node.
pub struct Chain {
    /// Configuration.
    pub config: NodeConfig,
    /// Durable state and history.
    pub store: Arc<Store>,
    /// The VM (for simulation; the producer has its own executor).
    pub vm: Vm,
    /// Admitted transactions.
    pub mempool: Mempool,
    /// Metrics registry (`/metrics`).
    pub metrics: Metrics,
    /// The node's metrics.
    pub stats: Stats,
    /// Number of committed blocks, published after every commit.
    pub committed: tokio::sync::watch::Sender<u64>,
    /// Held by a simulation that runs on a locked snapshot (commits wait for it): one
    /// at a time, so simulations can delay a commit by at most one call.
    pub locked_simulation: Mutex<()>,
    /// Simulations running now (at most [`MAX_SIMULATIONS`]): each holds instance slots
    /// of the VM's pool, which block execution needs too.
    /// Taken before a simulation goes to the blocking pool, so waiting simulations wait
    /// as tasks and never tie up the threads other queries run on.
    simulations: Arc<tokio::sync::Semaphore>,
    /// Queries on the blocking pool at once (at most [`MAX_BLOCKING_QUERIES`]): taken,
    /// as a task, before a query goes to the pool and held until it ends there. A
    /// request that times out or is dropped while waiting queues nothing, and the pool's
    /// queue cannot grow with requests that were given up on.
    pub blocking_queries: Arc<tokio::sync::Semaphore>,
    /// The same for `tx.submit` and `tx.submit_batch` (checks and admission; at most
    /// [`MAX_BLOCKING_QUERIES`] at once, apart from the queries: a flood of queries does
    /// not delay submissions, nor submissions queries).
    pub admissions: Arc<tokio::sync::Semaphore>,
    /// Set once shutdown starts.
    pub stopping: AtomicBool,
    /// Set if the pipeline failed (the store refuses writes until restart).
    pub halted: Mutex<Option<String>>,
    /// Checked, decompressed sender keys (decompression is about a third of a
    /// verification).
    keys: quick_cache::sync::Cache<[u8; 32], SenderKey>,
    /// The interface (as `contract.get` serves it) of recently asked code, by code hash.
    pub(crate) interfaces: quick_cache::sync::Cache<[u8; 32], Option<serde_json::Value>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.config.chain_id)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// A chain over an opened store.
    pub fn new(config: NodeConfig, store: Arc<Store>) -> Result<Self> {
        let vm = Vm::new(VmConfig {
            module_cache_dir: Some(config.data_dir.join("module-cache")),
            ..VmConfig::default()
        })?;
        let blocks = store.head().blocks;
        let metrics = Metrics::new();
        let stats = Stats::new(&metrics).map_err(|e| Error::Other(e.to_string()))?;
        stats.height.set(blocks.saturating_sub(1) as f64);
        Ok(Chain {
            mempool: Mempool::new(config.mempool),
            config,
            store,
            vm,
            metrics,
            stats,
            committed: tokio::sync::watch::channel(blocks).0,
            locked_simulation: Mutex::new(()),
            simulations: Arc::new(tokio::sync::Semaphore::new(MAX_SIMULATIONS)),
            blocking_queries: Arc::new(tokio::sync::Semaphore::new(MAX_BLOCKING_QUERIES)),
            admissions: Arc::new(tokio::sync::Semaphore::new(MAX_BLOCKING_QUERIES)),
            stopping: AtomicBool::new(false),
            halted: Mutex::new(None),
            keys: quick_cache::sync::Cache::new(100_000),
            interfaces: quick_cache::sync::Cache::new(1024),
        })
    }

    /// Brings the gauges that change without a commit up to date (called before
    /// `/metrics` renders): the rate over the last window, the mempool size.
    #[allow(clippy::disallowed_methods)] // metrics only
    pub fn refresh_gauges(&self) {
        self.stats.refresh_rate(Instant::now());
        self.stats.mempool.set(self.mempool.len() as f64);
    }

    /// Height of the latest committed block.
    pub fn latest_height(&self) -> Option<u64> {
        self.store.committed_blocks().checked_sub(1)
    }

    /// Decodes and checks everything about a transaction that does not need state
    /// (size, encoding, chain id, gas bounds, signature).
    pub fn check_stateless(&self, raw: &[u8]) -> Result<(SignedTx, [u8; 32])> {
        let (tx, hash, key) = self.check_before_signature(raw)?;
        tx.verify_with_key(&hash, &key).map_err(signature_error)?;
        Ok((tx, hash))
    }

    /// [`Chain::check_stateless`] for many transactions: the checks before the
    /// signature on rayon's threads, then the signatures by batch verification in about
    /// one chunk per thread, 64 to 2,048 signatures each (the same result per
    /// transaction as one by one).
    pub fn check_stateless_many(&self, raws: &[Vec<u8>]) -> Vec<Result<(SignedTx, [u8; 32])>> {
        use rayon::prelude::*;
        let pre: Vec<Result<(SignedTx, [u8; 32], SenderKey)>> = raws
            .par_iter()
            .map(|raw| self.check_before_signature(raw))
            .collect();
        let ok: Vec<(usize, ToVerify<'_>)> = pre
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().ok().map(|(t, h, k)| (i, (t, h, k))))
            .collect();
        let verdicts: Vec<(usize, supervm_client::Result<()>)> = ok
            .par_chunks(verify_batch_size(ok.len()))
            .flat_map_iter(|c| {
                let items: Vec<_> = c.iter().map(|(_, item)| *item).collect();
                let out = supervm_client::tx::verify_batch(&items);
                c.iter().map(|(i, _)| *i).zip(out).collect::<Vec<_>>()
            })
            .collect();
        let mut bad: Vec<Option<Error>> = (0..raws.len()).map(|_| None).collect();
        for (i, v) in verdicts {
            if let Err(e) = v {
                bad[i] = Some(signature_error(e));
            }
        }
        pre.into_iter()
            .zip(bad)
            .map(|(r, b)| match (r, b) {
                (Err(e), _) | (Ok(_), Some(e)) => Err(e),
                (Ok((tx, hash, _)), None) => Ok((tx, hash)),
            })
            .collect()
    }

    /// Everything [`Chain::check_stateless`] checks except the signature equation;
    /// also returns the sender's checked key.
    fn check_before_signature(&self, raw: &[u8]) -> Result<(SignedTx, [u8; 32], SenderKey)> {
        if raw.len() > self.config.max_tx_bytes {
            return Err(Error::TooLarge {
                size: raw.len(),
                limit: self.config.max_tx_bytes,
            });
        }
        let tx = SignedTx::decode(raw).map_err(|e| {
            // (the decoder's own error says "malformed transaction" already)
            Error::Malformed(match e {
                supervm_client::Error::Malformed(m) => m,
                other => other.to_string(),
            })
        })?;
        let b = &tx.body;
        if b.chain_id != self.config.chain_id {
            return Err(Error::WrongChain {
                expected: self.config.chain_id,
                got: b.chain_id,
            });
        }
        if !(MIN_GAS_LIMIT..=MAX_GAS_LIMIT).contains(&b.gas_limit) {
            return Err(Error::GasLimit {
                got: b.gas_limit,
                min: MIN_GAS_LIMIT,
                max: MAX_GAS_LIMIT,
            });
        }
        unexecutable(&b.payload)?;
        let size = payload_size(&b.payload);
        if let Some(size) = size {
            let needed = supervm_vm::intrinsic_gas_of(size);
            if needed > b.gas_limit {
                return Err(Error::IntrinsicGas {
                    needed,
                    limit: b.gas_limit,
                });
            }
        }
        if b.gas_price < self.config.gas_price {
            return Err(Error::GasPrice {
                got: b.gas_price,
                min: self.config.gas_price,
            });
        }
        let hash = tx.hash();
        let key = match self.keys.get(&b.sender.0) {
            Some(k) => k,
            None => {
                let k = supervm_client::tx::sender_key(&b.sender).map_err(signature_error)?;
                self.keys.insert(b.sender.0, k);
                k
            }
        };
        Ok((tx, hash, key))
    }

    /// Halts the pipeline with `why` (the store refuses writes until restart) and wakes
    /// every waiter to say so.
    pub fn halt(&self, why: String) {
        self.stats.halted.set(1.0);
        *self.halted.lock() = Some(why);
        self.committed.send_modify(|_| {});
    }

    /// `Err(Halted)` once the pipeline has halted.
    pub fn check_halted(&self) -> Result<()> {
        match self.halted.lock().clone() {
            Some(h) => Err(Error::Halted(h)),
            None => Ok(()),
        }
    }

    /// Admits a checked transaction into the mempool.
    pub fn admit(&self, tx: SignedTx, hash: [u8; 32], raw: Vec<u8>) -> Result<()> {
        // (a halted pipeline also sets `stopping`: say why first)
        self.check_halted()?;
        if self.stopping.load(Ordering::Relaxed) {
            return Err(Error::ShuttingDown);
        }
        if self.mempool.contains(&hash) {
            return Err(Error::AlreadyKnown);
        }
        let next = self.store.committed_blocks();
        if tx.body.expiry_height < next {
            return Err(self.committed_or(
                &hash,
                Error::Expired {
                    expiry: tx.body.expiry_height,
                    next,
                },
            )?);
        }
        let Some(max_cost) = max_cost(&tx) else {
            return Err(Error::InvalidParam {
                param: "tx",
                reason: "gas_limit × gas_price + amount exceeds u128::MAX, more than any balance"
                    .into(),
            });
        };
        let mut p = PendingTx {
            tx,
            hash,
            raw,
            max_cost,
        };
        // Read the account after noting the mempool's generation; if a commit resolved
        // transactions in between (and the sender has nothing pending), read again.
        let r = loop {
            let generation = self.mempool.generation();
            let acc = Account::load(&*self.store, &p.tx.body.sender)?;
            let now = AccountNow {
                nonce: acc.nonce,
                balance: acc.balance,
            };
            match self.mempool.admit_at(p, now, generation) {
                Ok(()) => break Ok(()),
                Err(NotAdmitted::Rejected(e @ Error::StaleNonce { .. })) => {
                    break Err(self.committed_or(&hash, e)?);
                }
                Err(NotAdmitted::Rejected(e)) => break Err(e),
                Err(NotAdmitted::Stale(back)) => p = *back,
            }
        };
        match &r {
            // (a resubmission of a transaction dropped earlier lost its drop record in
            // the same step: its waiters do not see the old drop)
            Ok(()) => self.stats.admitted.inc(),
            Err(_) => self.stats.rejected.inc(),
        }
        r
    }

    /// `AlreadyCommitted` if the transaction `hash` is in the history, else `other`.
    /// Admission asks only once a transaction is rejected as expired or for a stale
    /// nonce: a committed transaction always is one or the other (its nonce is used),
    /// and the history lookup (a RocksDB read) stays off the path of every admitted
    /// transaction.
    fn committed_or(&self, hash: &[u8; 32], other: Error) -> Result<Error> {
        Ok(match self.store.tx(hash)? {
            Some(t) => Error::AlreadyCommitted { height: t.height },
            None => other,
        })
    }

    /// Drops transactions taken for a block, with their reasons: the mempool forgets
    /// them and their senders' queued followers, and records why (bounded); waiters of
    /// `tx.submit` re-check their transaction.
    pub fn resolve_dropped(&self, dropped: &[(Arc<PendingTx>, String)]) {
        if dropped.is_empty() {
            return;
        }
        let orphans = self.mempool.resolve(&[], dropped);
        self.stats
            .dropped_txs
            .add((dropped.len() + orphans.len()) as u64);
        self.committed.send_modify(|_| {});
    }

    /// The sender's account as committed.
    pub fn account(&self, a: &Address) -> Result<Account> {
        Ok(Account::load(&*self.store, a)?)
    }
}

/// Runs `f` on tokio's blocking pool in one of `slots`' places ([`Chain::blocking_queries`],
/// [`Chain::admissions`]). The place is awaited as a task, so a caller given up on while
/// it waits queues nothing, and held until `f` ends. `Err` says why `f` did not finish
/// (the semaphore closed, or `f` panicked).
pub async fn in_slot<T: Send + 'static>(
    slots: &Arc<tokio::sync::Semaphore>,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::result::Result<T, String> {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        f()
    })
    .await
    .map_err(joined_error)
}

/// What a caller is told of a blocking task that did not finish: a panic is logged
/// here, with its message, and reported without it (rpc.md: the response carries no
/// panic message).
pub fn joined_error(e: tokio::task::JoinError) -> String {
    if e.is_panic() {
        tracing::error!(error = %e, "a request handler panicked");
        "the handler panicked (logged)".into()
    } else {
        e.to_string()
    }
}

/// Most queries running on the blocking pool at once ([`Chain::blocking_queries`]), and
/// most `tx.submit` admissions ([`Chain::admissions`]); simulations have their own bound.
pub const MAX_BLOCKING_QUERIES: usize = 64;

/// Most simulations (`tx.simulate`) running at once. A call holds up to 8 instances
/// (one per frame) of the VM's pool of 512, which block execution shares: without a
/// bound, concurrent deep simulations could leave a block no instance and fail it.
pub const MAX_SIMULATIONS: usize = 4;

/// A running simulation's place among [`MAX_SIMULATIONS`]; released on drop.
#[derive(Debug)]
pub struct SimulationSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl Chain {
    /// Waits (as a task, holding no thread) for a place among the
    /// [`MAX_SIMULATIONS`] running simulations.
    pub async fn simulation_slot(&self) -> SimulationSlot {
        SimulationSlot(
            self.simulations
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed"),
        )
    }
}

/// What the VM refuses before running any code, whatever the state: call or
/// constructor arguments over [`MAX_INPUT_LEN`](supervm_vm::abi::limits::MAX_INPUT_LEN),
/// a call of a reserved function (`__` names: the constructor runs only at deploy).
/// Included, such a transaction would be `invalid` and charged.
fn unexecutable(p: &TxPayload) -> Result<()> {
    let limit = supervm_vm::abi::limits::MAX_INPUT_LEN as usize;
    let (what, len) = match p {
        TxPayload::Call { function, args, .. } => {
            if function.starts_with("__") {
                return Err(Error::Unexecutable(format!(
                    "function {function} is not callable (names beginning with __ are \
                     reserved; a constructor runs only at deploy)"
                )));
            }
            ("call arguments", args.len())
        }
        TxPayload::Deploy { init_args, .. } => ("constructor arguments", init_args.len()),
        TxPayload::Upload { .. } | TxPayload::Transfer { .. } => return Ok(()),
    };
    if len > limit {
        return Err(Error::Unexecutable(format!(
            "{what} are {len} bytes, over the limit of {limit} (MAX_INPUT_LEN)"
        )));
    }
    Ok(())
}

/// The sizes the intrinsic gas of a contract transaction depends on (`None` for a
/// native transfer), read from the payload without copying it.
fn payload_size(p: &TxPayload) -> Option<PayloadSize> {
    match p {
        TxPayload::Transfer { .. } => None,
        TxPayload::Upload { code } => Some(PayloadSize::Upload { code: code.len() }),
        TxPayload::Deploy {
            code, init_args, ..
        } => Some(PayloadSize::Deploy {
            code: match code {
                supervm_client::DeployCode::Wasm(c) => c.len(),
                supervm_client::DeployCode::Hash(_) => 0,
            },
            init_args: init_args.len(),
        }),
        TxPayload::Call { function, args, .. } => Some(PayloadSize::Call {
            function: function.len(),
            args: args.len(),
        }),
    }
}

/// The most a transaction can cost its sender: gas limit × price, plus the amount of a
/// native transfer; `None` when that exceeds `u128::MAX` (more than any balance, as the
/// whole supply fits in a `u128`: see [`crate::genesis::ensure_genesis`]).
pub fn max_cost(tx: &SignedTx) -> Option<u128> {
    // (u64 × u64 always fits in a u128)
    let fee = u128::from(tx.body.gas_limit) * u128::from(tx.body.gas_price);
    match &tx.body.payload {
        TxPayload::Transfer { amount, .. } => fee.checked_add(*amount),
        _ => Some(fee),
    }
}

/// How many of `n` signatures one batch verification takes in
/// [`Chain::check_stateless_many`]: about one batch per thread, 64 to 2,048 each.
pub fn verify_batch_size(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).clamp(64, 2048)
}

/// The node's error for the client library's signature-check error.
fn signature_error(e: supervm_client::Error) -> Error {
    match e {
        supervm_client::Error::NonCanonicalSignature => Error::NonCanonicalSignature,
        supervm_client::Error::BadSenderKey(why) => Error::BadSenderKey(why),
        _ => Error::BadSignature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panicking blocking task is reported without its message (which is logged).
    #[tokio::test]
    async fn a_panicking_task_is_reported_without_its_message() {
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let e = in_slot(&slots, || -> u8 { panic!("secret detail") })
            .await
            .unwrap_err();
        assert_eq!(e, "the handler panicked (logged)");
        assert_eq!(in_slot(&slots, || 7u8).await, Ok(7));
    }

    /// Block execution at its most workers and the most simulations, each transaction
    /// at the deepest call chain, plus every idle recycled instance, fit in the VM's
    /// instance slots (past them instantiation fails, and with it the block).
    #[test]
    fn executing_and_simulating_at_once_fit_the_instance_slots() {
        let per_tx = supervm_vm::abi::limits::MAX_CALL_DEPTH as usize;
        let threads = supervm_parallel::MAX_THREADS + MAX_SIMULATIONS;
        let busy = threads * per_tx;
        // (the idle cap is checked before a lock: each thread may overshoot it by one)
        assert!(
            busy + supervm_vm::IDLE_INSTANCES + threads <= supervm_vm::INSTANCE_SLOTS,
            "{busy} busy + {} idle > {} slots",
            supervm_vm::IDLE_INSTANCES,
            supervm_vm::INSTANCE_SLOTS
        );
    }

    /// The rate is what committed in the last window, and falls to zero once nothing
    /// has committed for a window (it was a moving average updated only by commits, so
    /// an idle node kept reporting its last rate).
    #[test]
    #[allow(clippy::disallowed_methods)] // a fixed origin for the clock of the test
    fn the_rate_covers_the_last_window_and_decays_to_zero() {
        let m = Metrics::new();
        let st = Stats::new(&m).unwrap();
        let t0 = Instant::now();
        st.note_commit(t0, 300);
        st.note_commit(t0 + Duration::from_secs(4), 200);
        assert_eq!(st.tx_per_s.get(), 50.0);
        st.refresh_rate(t0 + Duration::from_secs(12));
        assert_eq!(st.tx_per_s.get(), 20.0, "the first commit left the window");
        st.refresh_rate(t0 + Duration::from_secs(15));
        assert_eq!(st.tx_per_s.get(), 0.0);
    }

    /// Admission computes intrinsic gas from the payload's sizes; it must be what the VM
    /// charges the same transaction.
    #[test]
    fn admission_intrinsic_gas_is_the_vms() {
        use supervm_client::DeployCode;
        let payloads = [
            TxPayload::Upload { code: vec![1; 300] },
            TxPayload::Deploy {
                code: DeployCode::Wasm(vec![2; 500]),
                salt: [0; 32],
                init_args: vec![3; 40],
            },
            TxPayload::Deploy {
                code: DeployCode::Hash([4; 32]),
                salt: [0; 32],
                init_args: vec![5; 7],
            },
            TxPayload::Call {
                contract: Address([6; 32]),
                function: "transfer".into(),
                args: vec![7; 64],
            },
        ];
        for p in payloads {
            let vm_tx = supervm_vm::Transaction {
                sender: Address([0; 32]),
                gas_limit: 1,
                payload: crate::producer::vm_payload(&p),
            };
            assert_eq!(
                payload_size(&p).map(supervm_vm::intrinsic_gas_of),
                Some(supervm_vm::intrinsic_gas(&vm_tx)),
                "{p:?}"
            );
        }
        assert_eq!(
            payload_size(&TxPayload::Transfer {
                to: Address([0; 32]),
                amount: 1
            }),
            None
        );
    }
}
