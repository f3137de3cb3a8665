//! The producer's side of the store: blocks are staged on top of the committed state
//! (each one's state root computed incrementally), sealed into a commit batch, and
//! committed while the producer goes on executing on top of them.

use std::collections::VecDeque;
use std::sync::Arc;

use supervm_vm::{StateError, StateView, WriteEntries, WriteLayer, WriteSet};

use crate::layout::{Head, Prepared, StoredEvent, shard_of};
use crate::{Error, LtHash, Result, Store};

/// A transaction as the history stores it: its hash and an opaque body (the node's
/// encoding of the signed transaction and its receipt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxEntry {
    /// Transaction hash.
    pub hash: [u8; 32],
    /// Opaque body.
    pub body: Vec<u8>,
}

/// A block as the history stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    /// Height (the first block is 0).
    pub height: u64,
    /// Block hash (the node's hash of its header).
    pub hash: [u8; 32],
    /// State root after the block.
    pub state_root: [u8; 32],
    /// The node's encoded header (opaque to the store).
    pub header: Vec<u8>,
    /// Its transactions, in block order.
    pub txs: Vec<TxEntry>,
    /// Events to index, in position order (their `height` must be the block's).
    pub events: Vec<StoredEvent>,
}

/// One or more blocks with their merged writes, ready for [`Store::commit`].
#[derive(Debug)]
pub struct CommitBatch {
    /// Batch id (the committed head's + 1).
    pub(crate) batch: u64,
    /// One prepare record per shard (every shard takes part in every batch).
    pub(crate) prepared: Vec<Prepared>,
    /// The blocks.
    pub(crate) blocks: Vec<BlockRecord>,
    /// The head once committed.
    pub(crate) head: Head,
    /// The head it was staged on: the store must stand there to commit it.
    pub(crate) parent: Head,
}

impl CommitBatch {
    /// Batch id.
    pub fn id(&self) -> u64 {
        self.batch
    }
    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }
    /// Number of transactions in its blocks.
    pub fn tx_count(&self) -> usize {
        self.blocks.iter().map(|b| b.txs.len()).sum()
    }
    /// Number of distinct keys written.
    pub fn key_count(&self) -> usize {
        self.prepared.iter().map(|p| p.writes.len()).sum()
    }
    /// The blocks.
    pub fn blocks(&self) -> &[BlockRecord] {
        &self.blocks
    }
}

/// The open batch's undo records: key → for each block that changed it (heights
/// ascending), its value before that block (`None`: absent).
type OpenUndo =
    std::collections::HashMap<Vec<u8>, Vec<(u64, Option<Vec<u8>>)>, foldhash::fast::RandomState>;

#[derive(Default)]
struct Layer {
    batch: u64,
    writes: WriteLayer,
}

/// Blocks staged on top of the committed state. One producer owns it.
pub struct Staging {
    store: Arc<Store>,
    sealed: VecDeque<Arc<Layer>>,
    open: Layer,
    open_blocks: Vec<BlockRecord>,
    open_undo: OpenUndo,
    shard_lthash: Vec<LtHash>,
    next_height: u64,
    last_hash: [u8; 32],
    /// The head the next sealed batch follows (the committed head at the start, then
    /// each sealed batch's); that batch's number is one past this head's.
    sealed_head: Head,
}

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("next_batch", &(self.sealed_head.batch + 1))
            .field("next_height", &self.next_height)
            .field("sealed", &self.sealed.len())
            .field("open_blocks", &self.open_blocks.len())
            .finish()
    }
}

impl Staging {
    /// Starts staging on top of the store's committed head.
    pub fn new(store: Arc<Store>) -> Self {
        let c = store.committed.read();
        let (head, shard_lthash) = (c.head.clone(), c.shard_lthash.clone());
        drop(c);
        Staging {
            store,
            sealed: VecDeque::new(),
            open: Layer::default(),
            open_blocks: Vec::new(),
            open_undo: OpenUndo::default(),
            shard_lthash,
            next_height: head.blocks,
            last_hash: head.block_hash,
            sealed_head: head,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Height of the next block to stage.
    pub fn next_height(&self) -> u64 {
        self.next_height
    }

    /// Hash of the last staged (or committed) block.
    pub fn last_hash(&self) -> [u8; 32] {
        self.last_hash
    }

    /// Number of blocks staged but not sealed.
    pub fn open_blocks(&self) -> usize {
        self.open_blocks.len()
    }

    /// The state after every staged block: what the next block executes on.
    pub fn view(&mut self) -> StagingView<'_> {
        let committed = self.store.committed.read().head.batch;
        while self.sealed.front().is_some_and(|l| l.batch <= committed) {
            self.sealed.pop_front();
        }
        StagingView {
            open: &self.open,
            sealed: self.sealed.iter().rev().cloned().collect(),
            store: &self.store,
        }
    }

    /// The state root after every staged block.
    pub fn state_root(&self) -> [u8; 32] {
        self.lthash().root()
    }

    fn lthash(&self) -> LtHash {
        let mut t = LtHash::zero();
        for l in &self.shard_lthash {
            t.add(l);
        }
        t
    }

    /// Stages a block's writes: computes the state root after them (two lattice-hash
    /// updates per changed key), asks `make` for the block record with that root, and
    /// adds both to the open batch. Returns the root.
    pub fn stage_block<'w>(
        &mut self,
        writes: &'w impl WriteEntries,
        make: impl FnOnce([u8; 32]) -> BlockRecord,
    ) -> Result<[u8; 32]> {
        let shards = self.store.config.shards;
        let history = self.store.config.state_history;
        // Per shard the lattice delta, and the old value of every written key that
        // changed (the block's undo records, for reads at past heights).
        // (in no particular order: the lattice is a sum, and undo records are by key)
        type Part<'w> = (Vec<LtHash>, Vec<(&'w [u8], Option<Vec<u8>>)>);
        let items: Vec<(&'w [u8], &'w Option<Vec<u8>>)> = writes.write_entries().collect();
        let (deltas, undo) = {
            let view = self.view();
            let delta_of = |chunk: &[(&'w [u8], &'w Option<Vec<u8>>)]| -> Result<Part<'w>> {
                let mut d = vec![LtHash::zero(); shards as usize];
                let mut u = Vec::with_capacity(chunk.len());
                for (k, new) in chunk {
                    let old = view.get(k).map_err(|e| Error::Read(e.to_string()))?;
                    d[shard_of(k, shards) as usize].update(k, old.as_deref(), new.as_deref());
                    if history && old.as_ref() != new.as_ref() {
                        u.push((*k, old));
                    }
                }
                Ok((d, u))
            };
            if items.len() < 64 {
                delta_of(&items)?
            } else {
                use rayon::prelude::*;
                items.par_chunks(32).map(delta_of).try_reduce(
                    || (vec![LtHash::zero(); shards as usize], Vec::new()),
                    |mut a, b| {
                        for (x, y) in a.0.iter_mut().zip(&b.0) {
                            x.add(y);
                        }
                        a.1.extend(b.1);
                        Ok(a)
                    },
                )?
            }
        };
        let mut lattices = self.shard_lthash.clone();
        for (l, d) in lattices.iter_mut().zip(&deltas) {
            l.add(d);
        }
        let mut total = LtHash::zero();
        for l in &lattices {
            total.add(l);
        }
        let root = total.root();
        let rec = make(root);
        if rec.height != self.next_height || rec.state_root != root {
            return Err(Error::BadBatch(format!(
                "block record has height {} and root {}, expected height {} and root {}",
                rec.height,
                crate::store::hex(&rec.state_root),
                self.next_height,
                crate::store::hex(&root)
            )));
        }
        if let Some(e) = rec.events.iter().find(|e| e.height != rec.height) {
            return Err(Error::BadBatch(format!(
                "event at height {} in block {}",
                e.height, rec.height
            )));
        }
        // (the events row stores a topic count in one byte)
        if let Some(e) = rec
            .events
            .iter()
            .find(|e| e.topics.len() > crate::layout::MAX_EVENT_TOPICS)
        {
            return Err(Error::BadBatch(format!(
                "event ({}, {}) of block {} has {} topics, more than {}",
                e.tx_index,
                e.event_index,
                rec.height,
                e.topics.len(),
                crate::layout::MAX_EVENT_TOPICS
            )));
        }
        if let Some(w) = rec
            .events
            .windows(2)
            .find(|w| (w[0].tx_index, w[0].event_index) >= (w[1].tx_index, w[1].event_index))
        {
            return Err(Error::BadBatch(format!(
                "events of block {} out of order: ({}, {}) before ({}, {})",
                rec.height, w[0].tx_index, w[0].event_index, w[1].tx_index, w[1].event_index
            )));
        }
        // Valid: only now change the staging.
        self.shard_lthash = lattices;
        for (k, v) in items {
            self.open.writes.put(k, v);
        }
        let height = self.next_height;
        for (k, old) in undo {
            match self.open_undo.get_mut(k) {
                Some(records) => records.push((height, old)),
                None => {
                    self.open_undo.insert(k.to_vec(), vec![(height, old)]);
                }
            }
        }
        self.next_height += 1;
        self.last_hash = rec.hash;
        self.open_blocks.push(rec);
        Ok(root)
    }

    /// Seals the staged blocks into a commit batch (`None` if nothing is staged). Their
    /// writes stay visible to [`Staging::view`] until the batch is committed.
    pub fn seal(&mut self) -> Option<CommitBatch> {
        if self.open_blocks.is_empty() {
            return None;
        }
        let shards = self.store.config.shards;
        type Pairs = Vec<(Vec<u8>, Option<Vec<u8>>)>;
        let mut pairs: Vec<Pairs> = vec![Vec::new(); shards as usize];
        for (k, v) in self.open.writes.entries() {
            pairs[shard_of(k, shards) as usize].push((k.to_vec(), v.clone()));
        }
        // Unique keys: sort once and bulk-build each shard's write set instead of
        // inserting one by one (each insert compares long shared key prefixes). Undo
        // records travel with the shard that owns the key (applied with it, redone with
        // it after a crash), grouped by key in the same order. (None when state history
        // is off: stage_block collects none.)
        let mut open_undo = std::mem::take(&mut self.open_undo);
        let (per_shard, undo): (Vec<WriteSet>, Vec<crate::layout::UndoRows>) = pairs
            .into_iter()
            .map(|mut p| {
                p.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                let undo = if open_undo.is_empty() {
                    Vec::new()
                } else {
                    p.iter()
                        .filter_map(|(k, _)| open_undo.remove_entry(k.as_slice()))
                        .collect()
                };
                (WriteSet::from_iter(p), undo)
            })
            .unzip();
        // (Every undo record is of a written key: stage_block records only those.)
        assert!(open_undo.is_empty(), "undo records of unwritten keys");
        let batch = self.sealed_head.batch + 1;
        let prepared = per_shard
            .into_iter()
            .zip(undo)
            .zip(&self.shard_lthash)
            .map(|((writes, undo), l)| Prepared {
                batch,
                lthash: l.clone(),
                writes,
                undo,
            })
            .collect();
        let mut layer = std::mem::take(&mut self.open);
        layer.batch = batch;
        self.sealed.push_back(Arc::new(layer));
        let head = Head {
            batch,
            blocks: self.next_height,
            block_hash: self.last_hash,
            lthash: self.lthash(),
        };
        let parent = std::mem::replace(&mut self.sealed_head, head.clone());
        Some(CommitBatch {
            batch,
            prepared,
            blocks: std::mem::take(&mut self.open_blocks),
            head,
            parent,
        })
    }
}

/// The state after every staged block (open writes, then sealed batches newest first,
/// then the committed store).
pub struct StagingView<'a> {
    open: &'a Layer,
    sealed: Vec<Arc<Layer>>,
    store: &'a Store,
}

impl StateView for StagingView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.open.writes.get(key) {
            return Ok(v.clone());
        }
        for l in &self.sealed {
            if let Some(v) = l.writes.get(key) {
                return Ok(v.clone());
            }
        }
        self.store.get(key)
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        // Candidates: the store's next key, and the smallest overlay key in range that is
        // live; then skip candidates some newer layer deleted.
        let mut cursor: Option<Vec<u8>> = after.map(|a| a.to_vec());
        loop {
            let mut best = self.store.next_key(prefix, cursor.as_deref())?;
            for l in std::iter::once(self.open).chain(self.sealed.iter().map(|l| &**l)) {
                if let Some(k) = l.writes.next_present(prefix, cursor.as_deref())
                    && best.as_ref().is_none_or(|b| &k < b)
                {
                    best = Some(k);
                }
            }
            match best {
                None => return Ok(None),
                Some(k) => {
                    if self.get(&k)?.is_some() {
                        return Ok(Some(k));
                    }
                    cursor = Some(k);
                }
            }
        }
    }
}
