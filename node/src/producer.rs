//! The block pipeline: a producer thread drains the mempool into blocks, runs native
//! transfers and fees sequentially and contract calls on the parallel scheduler,
//! stages each block (state root) on top of the uncommitted ones, and hands sealed
//! batches to a committer thread. While a batch commits, the producer keeps building
//! blocks, which the next batch then carries (group commit); signature checks happen
//! on the RPC threads. So verification, execution and commit overlap.
//!
//! Fee rules (deterministic, in block order): a transaction is included if it has not
//! expired, its nonce is the sender's next, and the sender's balance covers gas limit
//! × price (plus the amount of a native transfer) at that point of the block;
//! otherwise it is dropped (reported by `tx.get`). The full gas limit × price is
//! reserved when it is included; the unused part is refunded after the block's
//! contract calls ran. Fees are burned. Native transfers cost a fixed
//! `NATIVE_TRANSFER_GAS`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use parking_lot::Mutex;
use supervm_client::{DeployCode, TxPayload};
use supervm_parallel::ParallelExecutor;
use supervm_store::{AdaptiveBatcher, BlockRecord, CommitBatch, Staging, StoredEvent, TxEntry};
use supervm_vm::{Address, BlockEnv, CodeSource, Payload, Transaction, WriteLayer};

use crate::accounts::{Account, account_key};
use crate::block::{Header, Status, StoredReceipt, encode_tx_body};
use crate::chain::Chain;
use crate::config::NATIVE_TRANSFER_GAS;
use crate::mempool::PendingTx;

/// A sealed batch and the mempool entries it carries.
struct Sealed {
    batch: CommitBatch,
    txs: Vec<Arc<PendingTx>>,
}

/// Running pipeline threads.
pub struct Pipeline {
    producer: Option<std::thread::JoinHandle<()>>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the producer and committer threads.
    pub fn start(chain: Arc<Chain>) -> Self {
        let (send, recv) = mpsc::sync_channel::<Sealed>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let batcher = Arc::new(Mutex::new(AdaptiveBatcher::new(chain.config.batch)));
        let committer = {
            let (chain, busy, batcher) = (chain.clone(), busy.clone(), batcher.clone());
            std::thread::Builder::new()
                .name("committer".into())
                .spawn(move || {
                    halt_on_panic(&chain, "committer", || {
                        commit_loop(&chain, recv, &busy, &batcher)
                    })
                })
                .expect("spawn committer")
        };
        let producer = std::thread::Builder::new()
            .name("producer".into())
            .spawn(move || {
                halt_on_panic(&chain, "producer", || {
                    produce_loop(&chain, send, &busy, &batcher)
                })
            })
            .expect("spawn producer");
        Pipeline {
            producer: Some(producer),
            committer: Some(committer),
        }
    }

    /// Waits for both threads (after `chain.stopping` was set): the producer finishes
    /// its block and seals it, the committer commits everything sealed.
    pub fn join(mut self) {
        if let Some(p) = self.producer.take() {
            let _ = p.join();
        }
        if let Some(c) = self.committer.take() {
            let _ = c.join();
        }
    }
}

/// Runs a pipeline thread's loop. A panic in it (a bug, or the store's own panic in a
/// commit, after which the store is poisoned) halts the pipeline as a failed commit
/// does: `/health` answers 503 with the reason and submissions are refused, instead of
/// the node answering as healthy while nothing commits any more. The transactions in
/// flight stay in the mempool and are saved at the stop, as after a failed commit.
fn halt_on_panic(chain: &Chain, thread: &str, body: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        tracing::error!("the {thread} panicked, block pipeline halted: {msg}");
        chain.halt(format!("the {thread} panicked: {msg}"));
        chain.stopping.store(true, Ordering::Relaxed);
        chain.mempool.wake();
    }
}

#[allow(clippy::disallowed_methods)] // commit latency is measured for batching and metrics only
fn commit_loop(
    chain: &Chain,
    recv: mpsc::Receiver<Sealed>,
    busy: &AtomicBool,
    batcher: &Mutex<AdaptiveBatcher>,
) {
    for s in recv {
        let blocks = s.batch.block_count() as u64;
        let start = Instant::now();
        let r = chain.store.commit(s.batch);
        let lat = start.elapsed();
        match r {
            Ok(_) => {
                if lat > crate::logging::SLOW {
                    tracing::warn!(
                        blocks,
                        txs = s.txs.len(),
                        ms = lat.as_millis() as u64,
                        "slow commit"
                    );
                } else {
                    tracing::debug!(
                        blocks,
                        txs = s.txs.len(),
                        ms = lat.as_secs_f64() * 1e3,
                        "committed"
                    );
                }
                batcher.lock().observe(lat);
                let st = &chain.stats;
                st.committed_txs.add(s.txs.len() as u64);
                st.committed_blocks.add(blocks);
                st.batches.inc();
                st.commit_latency.observe_duration(lat);
                st.note_commit(Instant::now(), s.txs.len() as u64);
                chain.mempool.resolve(&s.txs, &[]);
                st.mempool.set(chain.mempool.len() as f64);
                let head = chain.store.committed_blocks();
                st.height.set(head.saturating_sub(1) as f64);
                chain.committed.send_replace(head);
            }
            Err(e) => {
                tracing::error!("commit failed, block pipeline halted: {e}");
                chain.halt(e.to_string());
                chain.stopping.store(true, Ordering::Relaxed);
                chain.mempool.wake();
            }
        }
        busy.store(false, Ordering::Release);
        // The producer may hold finished blocks waiting for an idle committer.
        chain.mempool.wake();
    }
}

#[allow(clippy::disallowed_methods)] // the producer stamps blocks with wall-clock time; timing for metrics
fn produce_loop(
    chain: &Chain,
    send: mpsc::SyncSender<Sealed>,
    busy: &AtomicBool,
    batcher: &Mutex<AdaptiveBatcher>,
) {
    let exec = ParallelExecutor::new(chain.vm.clone(), chain.config.threads)
        .with_linger(chain.config.worker_linger);
    let mut staging = Staging::new(chain.store.clone());
    let mut open_txs: Vec<Arc<PendingTx>> = Vec::new();
    let mut last_ts = chain
        .latest_height()
        .and_then(|h| chain.store.block_by_height(h).ok().flatten())
        .and_then(|b| Header::decode(&b.header))
        .map_or(0, |h| h.timestamp_ms);
    loop {
        let stopping = chain.stopping.load(Ordering::Relaxed);
        if chain.halted.lock().is_some() {
            break;
        }
        let txs = if stopping || chain.mempool.is_held() {
            if !stopping {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            vec![]
        } else {
            chain
                .mempool
                .take(chain.config.block, chain.config.block_wait)
        };
        if !txs.is_empty() {
            let now = std::time::SystemTime::UNIX_EPOCH
                .elapsed()
                .map_or(0, |d| d.as_millis() as u64);
            last_ts = last_ts.max(now);
            let t = Instant::now();
            let taken = txs.len();
            match build_block(chain, &exec, &mut staging, txs, last_ts) {
                Ok(included) => {
                    let took = t.elapsed();
                    if took > crate::logging::SLOW {
                        tracing::warn!(
                            txs = taken,
                            included = included.len(),
                            ms = took.as_millis() as u64,
                            "slow block"
                        );
                    } else {
                        tracing::debug!(
                            txs = taken,
                            included = included.len(),
                            ms = took.as_secs_f64() * 1e3,
                            "block built"
                        );
                    }
                    open_txs.extend(included);
                }
                Err(e) => {
                    tracing::error!("block building failed, pipeline halted: {e}");
                    chain.halt(e.to_string());
                    break;
                }
            }
            chain.stats.block_time.observe_duration(t.elapsed());
            chain.stats.mempool.set(chain.mempool.len() as f64);
        }
        // Seal when the committer is idle (low latency) or the batch reached its size.
        let open = staging.open_blocks();
        let idle = !busy.load(Ordering::Acquire);
        if open > 0 && (idle || open >= batcher.lock().size() || stopping) {
            let batch = staging.seal().expect("open blocks");
            busy.store(true, Ordering::Release);
            if send
                .send(Sealed {
                    batch,
                    txs: std::mem::take(&mut open_txs),
                })
                .is_err()
            {
                break;
            }
        }
        if stopping && staging.open_blocks() == 0 {
            break;
        }
    }
}

/// Builds one block from `txs` and stages it. Returns the included transactions.
fn build_block(
    chain: &Chain,
    exec: &ParallelExecutor,
    staging: &mut Staging,
    txs: Vec<Arc<PendingTx>>,
    timestamp_ms: u64,
) -> crate::Result<Vec<Arc<PendingTx>>> {
    let height = staging.next_height();
    let env = BlockEnv {
        height,
        timestamp_ms,
        chain_id: chain.config.chain_id,
    };
    let mut accounts: HashMap<Address, Account> = HashMap::new();
    let mut included: Vec<Arc<PendingTx>> = Vec::with_capacity(txs.len());
    let mut dropped: Vec<(Arc<PendingTx>, String)> = Vec::new();
    // Receipts of native transfers are known now; contract calls get theirs below.
    let mut natives: HashMap<usize, StoredReceipt> = HashMap::new();
    let mut vm_txs: Vec<Transaction> = Vec::new();
    let mut vm_index: Vec<usize> = Vec::new();
    {
        let view = staging.view();
        let load =
            |a: &Address, accounts: &mut HashMap<Address, Account>| -> crate::Result<Account> {
                if let Some(x) = accounts.get(a) {
                    return Ok(*x);
                }
                let x = Account::load(&view, a)?;
                accounts.insert(*a, x);
                Ok(x)
            };
        for p in txs {
            let b = &p.tx.body;
            let mut acc = load(&b.sender, &mut accounts)?;
            let reason = if b.expiry_height < height {
                Some(format!(
                    "expired at height {} (block {height})",
                    b.expiry_height
                ))
            } else if b.nonce != acc.nonce {
                Some(format!(
                    "nonce {} is not the account's next ({})",
                    b.nonce, acc.nonce
                ))
            } else if acc.balance < p.max_cost {
                Some(format!(
                    "balance {} does not cover {}",
                    acc.balance, p.max_cost
                ))
            } else {
                None
            };
            if let Some(r) = reason {
                dropped.push((p, r));
                continue;
            }
            let price = u128::from(b.gas_price);
            acc.nonce += 1;
            acc.balance -= u128::from(b.gas_limit) * price;
            let idx = included.len();
            match &b.payload {
                TxPayload::Transfer { to, amount } => {
                    acc.balance = acc.balance - amount
                        + u128::from(b.gas_limit - NATIVE_TRANSFER_GAS) * price;
                    accounts.insert(b.sender, acc);
                    let mut dest = load(to, &mut accounts)?;
                    dest.balance = dest.balance.saturating_add(*amount);
                    accounts.insert(*to, dest);
                    natives.insert(
                        idx,
                        StoredReceipt {
                            status: Status::Success,
                            gas_used: NATIVE_TRANSFER_GAS,
                            fee: u128::from(NATIVE_TRANSFER_GAS) * price,
                            return_data: vec![],
                            contract: None,
                            code_hash: None,
                        },
                    );
                }
                other => {
                    accounts.insert(b.sender, acc);
                    vm_txs.push(Transaction {
                        sender: b.sender,
                        gas_limit: b.gas_limit,
                        payload: vm_payload(other),
                    });
                    vm_index.push(idx);
                }
            }
            included.push(p);
        }
    }
    chain.resolve_dropped(&dropped);
    if included.is_empty() {
        return Ok(included);
    }
    let out = if vm_txs.is_empty() {
        None
    } else {
        let out = exec
            .execute_block(&staging.view(), &env, &vm_txs)
            .map_err(|e| crate::Error::Other(e.to_string()))?;
        chain.stats.reexecutions.add(out.stats.reexecutions);
        chain
            .stats
            .sequential_txs
            .add(out.stats.sequential_txs as u64);
        chain.stats.occ_txs.add(out.stats.occ_txs as u64);
        Some(out)
    };
    // Refunds, receipts, events.
    let mut stored: Vec<Option<StoredReceipt>> =
        (0..included.len()).map(|i| natives.remove(&i)).collect();
    let mut receipt_hashes: Vec<[u8; 32]> = vec![[0; 32]; included.len()];
    let mut events = Vec::new();
    let mut writes = WriteLayer::default();
    if let Some(out) = out {
        // (receipt hashes on the executor's workers, in parallel)
        let hashes: Vec<[u8; 32]> = exec.install(|| {
            use rayon::prelude::*;
            out.receipts.par_iter().map(|r| r.hash()).collect()
        });
        for ((r, &idx), hash) in out.receipts.iter().zip(&vm_index).zip(hashes) {
            let b = &included[idx].tx.body;
            let price = u128::from(b.gas_price);
            let acc = accounts
                .get_mut(&b.sender)
                .expect("loaded in the first pass");
            acc.balance += u128::from(b.gas_limit.saturating_sub(r.gas_used)) * price;
            receipt_hashes[idx] = hash;
            for (ei, e) in r.events.iter().enumerate() {
                events.push(StoredEvent {
                    height,
                    tx_index: idx as u32,
                    event_index: ei as u32,
                    contract: e.contract,
                    topics: e.topics.clone(),
                    data: e.data.clone(),
                });
            }
            let (status, data) = Status::of_receipt(r);
            stored[idx] = Some(StoredReceipt {
                status,
                gas_used: r.gas_used,
                fee: u128::from(r.gas_used) * price,
                return_data: data,
                contract: r.contract,
                code_hash: r.code_hash,
            });
        }
        writes = out.writes;
    }
    events.sort_by_key(|e| (e.tx_index, e.event_index));
    for (a, acc) in &accounts {
        writes.put_owned(account_key(a), Some(acc.encode()));
    }
    let stored: Vec<StoredReceipt> = stored
        .into_iter()
        .map(|r| r.expect("every included transaction has a receipt"))
        .collect();
    let gas_used = stored
        .iter()
        .fold(0u64, |g, r| g.saturating_add(r.gas_used));
    // (bodies, and the hashes of native transfers' receipts, on the executor's workers)
    let entries: Vec<TxEntry> = exec.install(|| {
        use rayon::prelude::*;
        included
            .par_iter()
            .zip(&stored)
            .zip(&mut receipt_hashes)
            .map(|((p, r), receipt_hash)| {
                let body = encode_tx_body(&p.raw, r);
                if *receipt_hash == [0; 32] {
                    *receipt_hash = *blake3::hash(&body).as_bytes();
                }
                TxEntry { hash: p.hash, body }
            })
            .collect()
    });
    let tx_root = root_of(included.iter().map(|p| p.hash));
    let receipts_root = root_of(receipt_hashes.iter().copied());
    let parent_hash = staging.last_hash();
    let tx_count = included.len() as u32;
    let chain_id = chain.config.chain_id;
    // (on the executor's workers: the state root's parallel loop runs on them, and
    // they are still awake from executing the block)
    exec.install(|| {
        staging.stage_block(&writes, |state_root| {
            let header = Header {
                height,
                parent_hash,
                timestamp_ms,
                chain_id,
                tx_root,
                receipts_root,
                state_root,
                tx_count,
                gas_used,
            };
            BlockRecord {
                height,
                hash: header.hash(),
                state_root,
                header: header.encode(),
                txs: entries,
                events,
            }
        })
    })?;
    Ok(included)
}

fn root_of(hashes: impl Iterator<Item = [u8; 32]>) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for x in hashes {
        h.update(&x);
    }
    *h.finalize().as_bytes()
}

/// The VM's payload of a contract transaction (not a native transfer).
pub(crate) fn vm_payload(p: &TxPayload) -> Payload {
    match p {
        TxPayload::Upload { code } => Payload::Upload { code: code.clone() },
        TxPayload::Deploy {
            code,
            salt,
            init_args,
        } => Payload::Deploy {
            code: match code {
                DeployCode::Wasm(w) => CodeSource::Wasm(w.clone()),
                DeployCode::Hash(h) => CodeSource::Hash(*h),
            },
            salt: *salt,
            init_args: init_args.clone(),
        },
        TxPayload::Call {
            contract,
            function,
            args,
        } => Payload::Call {
            contract: *contract,
            function: function.clone(),
            args: args.clone(),
        },
        TxPayload::Transfer { .. } => unreachable!("native transfers do not reach the VM"),
    }
}
