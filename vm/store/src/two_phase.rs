//! Batched two-phase commit across the shards (`docs/design.md`, "Batched two-phase
//! commit"): every shard's prepare record and the coordinator's decision in one round
//! of parallel durable writes (the batch is decided once all of them are durable), then
//! apply.

use std::sync::atomic::{AtomicBool, Ordering};

use rocksdb::WriteBatch;

use crate::error::RocksExt;
use crate::layout::Head;
use crate::layout::{
    self, CF_BLOCK_HASH, CF_BLOCK_TXS, CF_BLOCKS, CF_EV_CONTRACT, CF_EV_TOPIC, CF_EVENTS, CF_TXS,
};
use crate::staging::{BlockRecord, CommitBatch};
use crate::{Durability, Error, FailAction, FailPoint, Result, Store, db};

/// In the durability modes that do not fsync each commit, the compactions' history
/// floor moves (after a sync of the shards' and the coordinator's WALs) only once it
/// lags the decided floor by this many blocks: one round of syncs per this many blocks
/// at most.
pub const COMPACTION_FLOOR_STEP: u64 = 256;

/// What a successful commit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The batch id.
    pub batch: u64,
    /// Blocks committed (heights `first_height..first_height + blocks`).
    pub blocks: usize,
    /// Height of the first block.
    pub first_height: u64,
    /// Keys written across all shards.
    pub keys: usize,
    /// Shards with at least one write.
    pub shards_written: u32,
}

impl Store {
    /// Commits a sealed batch durably and atomically across shards. When this returns
    /// `Ok` the batch is decided (its decision and every shard's prepare record durable,
    /// in the configured mode) and every shard has applied it. On `Err` the batch is not
    /// acknowledged: it may or may not survive a reopen (it does iff it was decided), and
    /// the store refuses further
    /// commits and reads until reopened. A panic inside the commit (a bug, or
    /// [`FailAction::Panic`]) leaves the store refusing them in the same way.
    pub fn commit(&self, mut batch: CommitBatch) -> Result<CommitInfo> {
        let mut poisoned = self.commit_lock.lock();
        if let Some((b, reason)) = &*poisoned {
            return Err(Error::Poisoned {
                batch: *b,
                reason: reason.clone(),
            });
        }
        let head = self.committed.read().head.clone();
        // (the parent check covers the others but for the shard count; they stay for
        // their message)
        if head.batch.checked_add(1) != Some(batch.batch)
            || batch.blocks.first().map(|b| b.height) != Some(head.blocks)
            || batch.prepared.len() != self.shards.len()
        {
            return Err(Error::BadBatch(format!(
                "batch {} (first block {:?}) does not follow the committed head (batch {}, {} blocks); was it staged on another store or after a failed commit?",
                batch.batch,
                batch.blocks.first().map(|b| b.height),
                head.batch,
                head.blocks
            )));
        }
        if batch.parent != head {
            return Err(Error::BadBatch(format!(
                "batch {} was staged on a state the store does not stand at (its parent: block hash {}, root {}; the committed head: block hash {}, root {}): a batch refused before it, or another staging, committed in between; start a new Staging",
                batch.batch,
                crate::store::hex(&batch.parent.block_hash),
                crate::store::hex(&batch.parent.lthash.root()),
                crate::store::hex(&head.block_hash),
                crate::store::hex(&head.lthash.root())
            )));
        }
        let id = batch.batch;
        // From here on, leaving without `succeeded` (an error or a panic) poisons the store.
        let guard = PoisonUnlessDone {
            slot: &mut poisoned,
            flag: &self.poisoned,
            batch: id,
            reason: None,
            done: false,
        };
        let info = CommitInfo {
            batch: id,
            blocks: batch.blocks.len(),
            first_height: head.blocks,
            keys: batch.key_count(),
            shards_written: batch
                .prepared
                .iter()
                .filter(|p| !p.writes.is_empty())
                .count() as u32,
        };
        match self.run_protocol(&mut batch, &head) {
            Ok(()) => {
                guard.succeeded();
                Ok(info)
            }
            Err(e) => {
                guard.failed(e.to_string());
                Err(e)
            }
        }
    }

    /// Calls the fail hook for each shard's step; returns the first shard that must not
    /// run (and what to do) or `None`.
    fn first_fault(&self, step: fn(u32) -> FailPoint) -> Option<(u32, FailAction)> {
        (0..self.shards.len() as u32).find_map(|i| match self.config.fault(step(i)) {
            FailAction::Continue => None,
            a => Some((i, a)),
        })
    }

    fn run_protocol(&self, batch: &mut CommitBatch, head: &Head) -> Result<()> {
        let durable = db::durable_writes(self.config.durability);
        // Phase 1, one round of parallel durable writes: every shard's prepare record and
        // the coordinator's decision (the batch's history and the new head, with the
        // previous head to take it back by). The batch is decided once all of them are
        // durable; recovery takes back a decision that some shard never prepared.
        self.config.injected(FailPoint::BeforePrepare)?;
        let fault = self.first_fault(FailPoint::PrepareShard);
        let (upto, panic_at) = shards_to_run(fault, self.shards.len());
        let id = batch.batch;
        let (history, new_head) = (&batch.blocks, &batch.head);
        // The history floor this decision records: the horizon of the committed head
        // (never the new one: a decision recovery takes back restores that head), and
        // never below the floor already recorded. Without state history the batch
        // writes no undo records, so no height below its last block can ever be
        // served, even by a later opening with history on (reads clamp the floor to
        // the latest height, which a take-back may lower).
        let horizon = if self.config.state_history {
            self.config.history_horizon(head.blocks)
        } else {
            new_head.blocks.saturating_sub(1)
        };
        let prev_floor = self
            .history_floor
            .load(std::sync::atomic::Ordering::Acquire);
        let floor = prev_floor.max(horizon);
        let records = lockable(&mut batch.prepared);
        par_each_and(
            &self.shards[..upto],
            |s| {
                panic_if(panic_at, s.index, FailPoint::PrepareShard);
                // Encoded on the shard's own writer thread, next to the others (not
                // on the producer's thread, which seals the batch).
                let p = records[s.index as usize].lock();
                let record = p.encode();
                drop(p);
                s.db.put_opt(layout::prepared_key(id), record, &durable)
                    .ctx(|| format!("shard {} prepare batch {id}", s.index))
            },
            || {
                self.config.injected(FailPoint::BeforeDecision)?;
                // (built here, while the shards' writes are already under way)
                self.coord
                    .write_opt(
                        self.decision(id, history, new_head, head, (prev_floor, floor)),
                        &durable,
                    )
                    .ctx(|| format!("coordinator decide batch {id}"))
            },
        )?;
        drop(records);
        if let Some((i, _)) = fault {
            return Err(Error::Injected(FailPoint::PrepareShard(i)));
        }
        self.config.injected(FailPoint::AfterDecision)?;
        // Phase 2: apply. Readers wait for the whole batch so none sees half of it.
        let mut committed = self.committed.write();
        // Declared after the lock, so dropped before it: if the apply returns early or
        // unwinds, some shards may hold the batch, and reads are refused before any
        // reader gets in.
        let refuse_reads = RefuseReadsUnlessDone(Some(&self.poisoned));
        let fault = self.first_fault(FailPoint::ApplyShard);
        let (upto, panic_at) = shards_to_run(fault, self.shards.len());
        let apply = db::apply_writes();
        let prepared = lockable(&mut batch.prepared);
        par_each(&self.shards[..upto], |s| {
            panic_if(panic_at, s.index, FailPoint::ApplyShard);
            let mut p = prepared[s.index as usize].lock();
            s.db.write_opt(s.apply_batch(&p), &apply)
                .ctx(|| format!("shard {} apply batch {id}", s.index))?;
            // The shard's writes move into the read cache, each shard's by the thread
            // that applied it (the batch is not used after its commit). Not after an
            // injected fault: the commit fails, and the poisoned store refuses reads
            // until it is reopened either way.
            if fault.is_none() {
                for (k, v) in std::mem::take(&mut p.writes) {
                    self.cache.insert(k, v);
                }
            }
            Ok(())
        })?;
        drop(prepared);
        if let Some((i, _)) = fault {
            return Err(Error::Injected(FailPoint::ApplyShard(i)));
        }
        committed.head = batch.head.clone();
        // Reads below the new floor are refused from now on; the compactions get the
        // floor of the decision before this one (commits are serial: `prev_floor`).
        self.history_floor
            .fetch_max(floor, std::sync::atomic::Ordering::AcqRel);
        *self.published_head.lock() = std::sync::Arc::new(batch.head.clone());
        committed.shard_lthash = batch.prepared.iter().map(|p| p.lthash.clone()).collect();
        refuse_reads.done();
        drop(committed);
        self.advance_compaction_floor(prev_floor)?;
        self.config.injected(FailPoint::AfterApply)
    }

    /// Lets the `undo` compactions drop what lies at or below `floor`, the floor of
    /// the decision before the one just applied: if the last decision is lost (media
    /// damage that recovery accepts as a clean prefix, reopened with a longer history),
    /// the floor in force is at least that one's, so nothing a servable height needs
    /// is gone. In the modes that do not fsync each commit, a power loss may lose more
    /// than one decision: there the shards' and the coordinator's WALs are synced
    /// before the compactions move on, at most once per [`COMPACTION_FLOOR_STEP`]
    /// blocks of floor. A failed sync fails the commit: its batch is decided, applied
    /// and already readable, and a reopen after a process crash keeps it (a power loss
    /// may lose it, as any batch of that mode).
    fn advance_compaction_floor(&self, floor: u64) -> Result<()> {
        use std::sync::atomic::Ordering::AcqRel;
        let current = self
            .compaction_floor
            .load(std::sync::atomic::Ordering::Acquire);
        // (without bounded history no compaction filter reads it: nothing to sync for)
        if floor <= current || !self.config.prunes_history() {
            return Ok(());
        }
        match self.config.durability {
            Durability::Fsync => {}
            Durability::NoFsyncLosesRecentOnPowerLoss => {
                if floor < current.saturating_add(COMPACTION_FLOOR_STEP) {
                    return Ok(());
                }
                self.sync_wals("before the history floor moves")?;
            }
            // (a crash without a clean close leaves a store that refuses to open)
            Durability::NoWalUnrecoverableOnCrash => {}
        }
        self.compaction_floor.fetch_max(floor, AcqRel);
        Ok(())
    }

    /// The coordinator write that decides the batch (with the shards' prepare records):
    /// head, previous head, history and history floor, atomically.
    fn decision(
        &self,
        id: u64,
        history: &[BlockRecord],
        new_head: &Head,
        prev: &Head,
        (prev_floor, floor): (u64, u64),
    ) -> WriteBatch {
        let cf = |n| self.coord.cf_handle(n).expect("column family exists");
        let (blocks, block_hash, txs) = (cf(CF_BLOCKS), cf(CF_BLOCK_HASH), cf(CF_TXS));
        let (block_txs, events) = (cf(CF_BLOCK_TXS), cf(CF_EVENTS));
        let (ev_contract, ev_topic) = (cf(CF_EV_CONTRACT), cf(CF_EV_TOPIC));
        // Sized up front: a batch's history is megabytes, and RocksDB's buffer would
        // otherwise grow by doubling (copying it, faulting in fresh pages each time).
        // Each row adds about 12 bytes (tag, column family, lengths) to its key and value.
        let event_rows: Vec<Vec<u8>> = history
            .iter()
            .map(|b| layout::encode_block_events(&b.events))
            .collect();
        let size: usize = history
            .iter()
            .zip(&event_rows)
            .map(|(b, ev)| {
                (b.header.len() + 150)
                    + b.txs.iter().map(|t| 88 + t.body.len()).sum::<usize>()
                    + (ev.len() + 20)
                    + 2 * 60 * b.events.len()
            })
            .sum();
        let mut wb = WriteBatch::with_capacity_bytes(size + 4400);
        // Transactions by hash, in hash order: a memtable insert next to the previous
        // one starts from there. Stable: a hash given twice keeps its last row, as
        // before. The other rows are one per block (its transaction hashes, its events)
        // or per block and contract or first topic (the event indexes), and arrive in
        // key order within each column family except the indexes.
        let txs_count = history.iter().map(|b| b.txs.len()).sum();
        let mut by_hash: Vec<(&[u8; 32], u64, u32, &[u8])> = Vec::with_capacity(txs_count);
        for (b, event_row) in history.iter().zip(event_rows) {
            let h = b.height.to_be_bytes();
            let mut v = Vec::with_capacity(80 + b.header.len());
            v.extend_from_slice(&b.hash);
            v.extend_from_slice(&b.state_root);
            v.extend_from_slice(&id.to_le_bytes());
            v.extend_from_slice(&(b.txs.len() as u32).to_le_bytes());
            v.extend_from_slice(&b.header);
            wb.put_cf(blocks, h, v);
            wb.put_cf(block_hash, b.hash, h);
            let mut hashes = Vec::with_capacity(32 * b.txs.len());
            for (i, tx) in b.txs.iter().enumerate() {
                by_hash.push((&tx.hash, b.height, i as u32, &tx.body));
                hashes.extend_from_slice(&tx.hash);
            }
            if !hashes.is_empty() {
                wb.put_cf(block_txs, h, hashes);
            }
            if b.events.is_empty() {
                continue;
            }
            wb.put_cf(events, h, event_row);
            let (contracts, topics) = layout::block_event_keys(&b.events);
            for c in contracts {
                wb.put_cf(ev_contract, layout::ev_contract_key(&c, b.height), []);
            }
            for t in topics {
                wb.put_cf(ev_topic, layout::ev_topic_key(&t, b.height), []);
            }
        }
        by_hash.sort_by(|a, b| a.0.cmp(b.0));
        let mut v = Vec::new();
        for (hash, height, index, body) in by_hash {
            v.clear();
            v.extend_from_slice(&height.to_le_bytes());
            v.extend_from_slice(&index.to_le_bytes());
            v.extend_from_slice(body);
            wb.put_cf(txs, hash, &v);
        }
        wb.put(layout::META_PREV_HEAD, prev.encode());
        wb.put(layout::META_HEAD, new_head.encode());
        if floor > 0 {
            wb.put(layout::META_HISTORY_FLOOR, floor.to_le_bytes());
            wb.put(layout::META_PREV_HISTORY_FLOOR, prev_floor.to_le_bytes());
        }
        wb
    }
}

/// Poisons the store when dropped before [`succeeded`](Self::succeeded): a commit that
/// fails, or unwinds from a panic (in the protocol, a shard writer or a fail hook), may
/// leave a shard holding half a batch, so the store then refuses reads and writes until
/// it is reopened, which recovers.
struct PoisonUnlessDone<'a> {
    slot: &'a mut Option<(u64, String)>,
    flag: &'a AtomicBool,
    batch: u64,
    /// Why the commit failed; `None` while it runs (dropped so: it panicked).
    reason: Option<String>,
    done: bool,
}

impl PoisonUnlessDone<'_> {
    fn succeeded(mut self) {
        self.done = true;
    }

    fn failed(mut self, reason: String) {
        self.reason = Some(reason);
    }
}

impl Drop for PoisonUnlessDone<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let reason = self
            .reason
            .take()
            .unwrap_or_else(|| "it panicked part-way".into());
        *self.slot = Some((self.batch, reason));
        self.flag.store(true, Ordering::Relaxed);
    }
}

/// Sets the store's poisoned flag (reads refused) when dropped before `done`.
struct RefuseReadsUnlessDone<'a>(Option<&'a AtomicBool>);

impl RefuseReadsUnlessDone<'_> {
    fn done(mut self) {
        self.0 = None;
    }
}

impl Drop for RefuseReadsUnlessDone<'_> {
    fn drop(&mut self) {
        if let Some(flag) = self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// How many shards run a step with `fault` injected at shard i: those below i, and i
/// too when the fault is a panic (raised in its writer, returned as the second value).
fn shards_to_run(fault: Option<(u32, FailAction)>, shards: usize) -> (usize, Option<u32>) {
    match fault {
        None => (shards, None),
        Some((i, FailAction::Panic)) => (i as usize + 1, Some(i)),
        Some((i, _)) => (i as usize, None),
    }
}

/// Panics in shard `index`'s writer if a panic is injected there.
fn panic_if(panic_at: Option<u32>, index: u32, step: fn(u32) -> FailPoint) {
    if panic_at == Some(index) {
        panic!("injected panic at {:?}", step(index));
    }
}

/// Each shard's prepare record behind a lock of its own, for the shards' threads to
/// change their own.
fn lockable(prepared: &mut [layout::Prepared]) -> Vec<parking_lot::Mutex<&mut layout::Prepared>> {
    prepared.iter_mut().map(parking_lot::Mutex::new).collect()
}

/// Runs `f` on every shard, each on a thread of its own, while `also` runs on the
/// calling thread; waits for all. The first error wins: `also`'s, then the shards' in
/// order. A panic in a worker is resumed on the calling thread.
fn par_each_and<F, G>(shards: &[crate::store::Shard], f: F, also: G) -> Result<()>
where
    F: Fn(&crate::store::Shard) -> Result<()> + Sync,
    G: FnOnce() -> Result<()>,
{
    std::thread::scope(|sc| {
        let handles: Vec<_> = shards.iter().map(|s| sc.spawn(|| f(s))).collect();
        let mine = also();
        let rest: Vec<Result<()>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        mine?;
        rest.into_iter().collect()
    })
}

/// Runs `f` on every shard, the first on the calling thread and the others on threads
/// of their own; first error wins (in shard order). A panic in a worker is resumed on
/// the calling thread.
fn par_each<F>(shards: &[crate::store::Shard], f: F) -> Result<()>
where
    F: Fn(&crate::store::Shard) -> Result<()> + Sync,
{
    match shards {
        [] => Ok(()),
        [first, rest @ ..] => par_each_and(rest, &f, || f(first)),
    }
}
