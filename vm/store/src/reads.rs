//! Reading committed state: a cache in front of the shards, so state need not fit in
//! memory. Reads and applies exclude each other through the store's `committed` lock.

use rocksdb::{Direction, IteratorMode, ReadOptions};
use supervm_vm::{StateError, StateView};

use crate::layout::shard_of;
use crate::{Error, Result, Store};

impl Store {
    fn check_readable(&self) -> Result<(), StateError> {
        if self.poisoned.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StateError::Backend(
                "store refuses reads and writes after a failed commit; reopen it".into(),
            ));
        }
        Ok(())
    }

    /// Reads `key` from the shard (no cache). Call with `committed` held.
    fn read_shard(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let s = &self.shards[shard_of(key, self.config.shards) as usize];
        s.db.get_cf(s.state(), key).map_err(|e| Error::Rocks {
            what: format!("shard {} get", s.index),
            source: e,
        })
    }

    fn next_in_shard(
        &self,
        s: &crate::store::Shard,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        let mut ro = ReadOptions::default();
        ro.set_prefix_same_as_start(false);
        let start: Vec<u8> = match after {
            Some(a) if a >= prefix => a.to_vec(),
            _ => prefix.to_vec(),
        };
        for item in s.db.iterator_cf_opt(
            s.state(),
            ro,
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, _) = item.map_err(|e| Error::Rocks {
                what: format!("shard {} iterate", s.index),
                source: e,
            })?;
            if after.is_some_and(|a| &*k <= a) {
                continue;
            }
            return Ok(k.starts_with(prefix).then(|| k.to_vec()));
        }
        Ok(None)
    }

    /// Several reads from one consistent committed state (no batch is applied while
    /// the returned guard lives).
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            store: self,
            _guard: self.committed.read(),
        }
    }
}

fn get_cached(store: &Store, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
    store.check_readable()?;
    if let Some(v) = store.cache.get(key) {
        return Ok(v);
    }
    let v = store.read_shard(key)?;
    store.cache.insert(key.to_vec(), v.clone());
    Ok(v)
}

fn next_key_merged(
    store: &Store,
    prefix: &[u8],
    after: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, StateError> {
    store.check_readable()?;
    let mut best: Option<Vec<u8>> = None;
    for s in &store.shards {
        if let Some(k) = store.next_in_shard(s, prefix, after)?
            && best.as_ref().is_none_or(|b| &k < b)
        {
            best = Some(k);
        }
    }
    Ok(best)
}

/// The committed state, read through the cache. Each call is atomic with respect to
/// commits; use [`Store::snapshot`] for several reads from the same state.
impl StateView for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let _g = self.committed.read();
        get_cached(self, key)
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        let _g = self.committed.read();
        next_key_merged(self, prefix, after)
    }
}

/// A consistent view of the committed state (see [`Store::snapshot`]).
pub struct Snapshot<'a> {
    store: &'a Store,
    _guard: parking_lot::RwLockReadGuard<'a, crate::store::Committed>,
}

impl Snapshot<'_> {
    /// The committed head this snapshot reads.
    pub fn head(&self) -> &crate::layout::Head {
        &self._guard.head
    }
}

impl StateView for Snapshot<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        get_cached(self.store, key)
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        next_key_merged(self.store, prefix, after)
    }
}

impl Store {
    /// The committed state as it was after block `height`: point reads consult the
    /// blocks' undo records (the value a key had before each later block), then the
    /// current state. Prefix iteration is available at the latest height only.
    pub fn snapshot_at(&self, height: u64) -> Result<HistoricSnapshot<'_>> {
        let guard = self.committed.read();
        // (a commit fails under the write side of this lock, so a snapshot taken now
        // stays readable for its life)
        self.check_readable()
            .map_err(|e| Error::Read(e.to_string()))?;
        let latest = guard.head.blocks.checked_sub(1);
        if !self.config.state_history && latest != Some(height) {
            return Err(Error::Read(
                "state history is off (StoreConfig::state_history); only the latest height is readable"
                    .to_string(),
            ));
        }
        let oldest = self.oldest_readable_at(guard.head.blocks);
        if height < oldest {
            return Err(Error::Read(format!(
                "height {height} is below the oldest readable height {oldest} (bounded state history: StoreConfig::history_blocks, now {:?}, or an earlier opening's)",
                self.config.history_blocks
            )));
        }
        if latest.is_none_or(|l| height > l) {
            return Err(Error::Read(format!(
                "height {height} is above the latest committed block ({})",
                latest.map_or("none".to_string(), |l| l.to_string())
            )));
        }
        Ok(HistoricSnapshot {
            store: self,
            height,
            latest: latest.unwrap_or(0),
            _guard: guard,
        })
    }

    /// The oldest past height [`Store::snapshot_at`] serves now: 0 unless history is
    /// bounded ([`StoreConfig::history_blocks`](crate::StoreConfig::history_blocks), now
    /// or when an earlier opening pruned it or ran without state history). It only
    /// rises while the store is open. (Without state history only
    /// the latest height is served, whatever this says.)
    pub fn oldest_readable_height(&self) -> u64 {
        let blocks = self.published_head.lock().blocks;
        self.oldest_readable_at(blocks)
    }

    /// The oldest readable height with `blocks` blocks committed: the configured
    /// horizon, or the recorded history floor if an earlier opening pruned further (or
    /// ran without state history), but never above the latest height, which the
    /// current state serves without undo records.
    fn oldest_readable_at(&self, blocks: u64) -> u64 {
        self.config
            .history_horizon(blocks)
            .max(
                self.history_floor
                    .load(std::sync::atomic::Ordering::Acquire),
            )
            .min(blocks.saturating_sub(1))
    }

    /// Compacts every shard's `undo` column family now: with bounded history
    /// ([`StoreConfig::history_blocks`](crate::StoreConfig::history_blocks)) this drops
    /// the undo records no servable height needs, which RocksDB's own compactions
    /// otherwise drop as they come. An archival store keeps every record.
    pub fn compact_history(&self) {
        for s in &self.shards {
            let cf =
                s.db.cf_handle(crate::layout::CF_UNDO)
                    .expect("undo column family exists");
            s.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
    }
}

/// The state after a past block (see [`Store::snapshot_at`]).
pub struct HistoricSnapshot<'a> {
    store: &'a Store,
    height: u64,
    latest: u64,
    _guard: parking_lot::RwLockReadGuard<'a, crate::store::Committed>,
}

impl HistoricSnapshot<'_> {
    /// The height this snapshot reads.
    pub fn height(&self) -> u64 {
        self.height
    }
}

impl StateView for HistoricSnapshot<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if self.height < self.latest {
            // The first block after `height` that changed the key recorded its value
            // then: in the group that starts at or before `height` (it may reach past
            // it), else in the first group after it.
            let shard = &self.store.shards[shard_of(key, self.store.config.shards) as usize];
            let cf = shard
                .db
                .cf_handle(crate::layout::CF_UNDO)
                .expect("undo column family exists");
            let at = crate::layout::undo_key(key, self.height);
            let mut it = shard.db.raw_iterator_cf(cf);
            // The record of the first block after `height` in the group the iterator
            // stands on, if that group is the key's.
            let found =
                |it: &rocksdb::DBRawIterator<'_>| -> Result<Option<Option<Vec<u8>>>, StateError> {
                    it.status()
                        .map_err(|e| StateError::Backend(format!("undo scan: {e}")))?;
                    match (it.key(), it.value()) {
                        (Some(k), Some(v))
                            if k.len() == at.len() && k[..at.len() - 8] == at[..at.len() - 8] =>
                        {
                            Ok(crate::layout::undo_after(v, self.height)?)
                        }
                        _ => Ok(None),
                    }
                };
            it.seek_for_prev(&at);
            if let Some(old) = found(&it)? {
                return Ok(old);
            }
            it.seek(crate::layout::undo_key(key, self.height + 1));
            if let Some(old) = found(&it)? {
                return Ok(old);
            }
        }
        get_cached(self.store, key)
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        if self.height < self.latest {
            return Err(StateError::Unsupported(format!(
                "prefix iteration at past height {} is not supported (latest is {})",
                self.height, self.latest
            )));
        }
        next_key_merged(self.store, prefix, after)
    }
}
