//! Multi-version memory: for every key, the values written by the block's
//! transactions, by transaction index, each tagged with the incarnation that
//! wrote it, or marked as an *estimate* (the writer was aborted and is expected
//! to write there again).

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;

use parking_lot::Mutex;
use supervm_vm::{ReadSet, WriteSet};

use crate::error::{Error, Result};

/// Writes as (key, value) pairs, keys unique, in no particular order (`None`: deleted).
pub type WritePairs = Vec<(Vec<u8>, Option<Vec<u8>>)>;

const SHARDS: usize = 64;

/// A version: (transaction index, incarnation).
pub type Version = (usize, u32);

#[derive(Clone, Debug)]
enum Cell {
    /// Written by the transaction's latest incarnation (`None`: deleted). Validation
    /// compares values, so the incarnation number is not needed here.
    Value(Option<Vec<u8>>),
    /// The writer aborted; a dependency marker.
    Estimate,
}

/// The versions of one key, sorted by transaction index. Most keys of a block have one
/// or two writers, so a sorted vector beats a tree (one small allocation per key);
/// writers of a hot key mostly arrive in index order, so inserts land at the end.
#[derive(Clone, Debug)]
struct Versions {
    by_index: Vec<(usize, Cell)>,
    /// The lowest transaction index that ever wrote the key in this block (versions
    /// are removed when an incarnation stops writing a key; this never goes back up).
    min_writer: usize,
}

impl Versions {
    fn one(idx: usize, cell: Cell) -> Self {
        Versions {
            by_index: vec![(idx, cell)],
            min_writer: idx,
        }
    }

    fn insert(&mut self, idx: usize, cell: Cell) {
        self.min_writer = self.min_writer.min(idx);
        match self.by_index.binary_search_by_key(&idx, |(i, _)| *i) {
            Ok(p) => self.by_index[p].1 = cell,
            Err(p) => self.by_index.insert(p, (idx, cell)),
        }
    }

    fn remove(&mut self, idx: usize) {
        if let Ok(p) = self.by_index.binary_search_by_key(&idx, |(i, _)| *i) {
            self.by_index.remove(p);
        }
    }

    /// The highest version below `idx`.
    fn below(&self, idx: usize) -> Option<&(usize, Cell)> {
        let p = self.by_index.partition_point(|(i, _)| *i < idx);
        p.checked_sub(1).map(|p| &self.by_index[p])
    }

    fn into_last(mut self) -> Option<(usize, Cell)> {
        self.by_index.pop()
    }
}

/// What a transaction sees for a key.
#[derive(Debug, PartialEq, Eq)]
pub enum MvRead {
    /// The latest lower transaction wrote this (`None`: deleted it).
    Value(Option<Vec<u8>>),
    /// The latest lower writer is being re-executed: wait for transaction `.0`.
    Estimate(usize),
    /// No lower transaction wrote the key: read committed state.
    NotFound,
    /// No transaction below the reader has ever written the key in this block (so
    /// far): read committed state. Nothing is forgotten during a block (keys stay in
    /// the memory, the lowest writer ever only goes down), so a read that finds this
    /// now found no lower writer earlier either: it read committed state then too.
    NeverWritten,
}

/// One shard: versions by key (hashed, for point reads) and, once a prefix iteration
/// has looked into the shard, the same keys ordered. Storage keys share long
/// prefixes, which makes ordered inserts compare many bytes: blocks that never
/// iterate never pay for them.
struct Shard {
    versions: HashMap<Vec<u8>, Versions, foldhash::fast::RandomState>,
    ordered: Option<BTreeSet<Vec<u8>>>,
}

/// Everything written in a block, by key and transaction index. Keys are spread
/// over shards by hash (less lock contention); prefix iteration merges the
/// shards' ordered key sets.
pub struct MvMemory {
    shards: Vec<Mutex<Shard>>,
    hasher: foldhash::fast::RandomState,
    /// Per transaction: the read set of its last recorded incarnation.
    last_reads: Vec<Mutex<ReadSet>>,
    /// Keys written in the block, when the Bloom pre-check is on.
    written: Option<crate::bloom::WrittenKeys>,
}

impl MvMemory {
    /// Memory for a block of `n` transactions.
    pub fn new(n: usize, bloom: bool) -> Self {
        MvMemory {
            written: bloom.then(Default::default),
            // About two written keys per transaction (a transfer writes two balances).
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        versions: HashMap::with_capacity_and_hasher(
                            (2 * n / SHARDS).max(4),
                            Default::default(),
                        ),
                        ordered: None,
                    })
                })
                .collect(),
            hasher: Default::default(),
            last_reads: (0..n).map(|_| Mutex::new(ReadSet::default())).collect(),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    /// The value of `key` as transaction `idx` must see it.
    pub fn read(&self, key: &[u8], idx: usize) -> MvRead {
        let shard = self.shard(key).lock();
        let Some(versions) = shard.versions.get(key) else {
            return MvRead::NeverWritten;
        };
        if versions.min_writer >= idx {
            return MvRead::NeverWritten;
        }
        match versions.below(idx) {
            None => MvRead::NotFound,
            Some((writer, Cell::Estimate)) => MvRead::Estimate(*writer),
            Some((_, Cell::Value(v))) => MvRead::Value(v.clone()),
        }
    }

    /// Records what incarnation `version` read and wrote; `previous` is what the
    /// transaction's previously recorded incarnation wrote, if any. Returns whether it
    /// wrote a key the previous incarnation did not (then every higher transaction
    /// must be validated again).
    pub fn record(
        &self,
        version: Version,
        reads: ReadSet,
        writes: &WriteSet,
        previous: Option<&WriteSet>,
    ) -> bool {
        let (idx, _) = version;
        for (k, v) in writes {
            if let Some(w) = &self.written {
                w.insert(k);
            }
            let mut shard = self.shard(k).lock();
            match shard.versions.get_mut(k.as_slice()) {
                Some(versions) => {
                    versions.insert(idx, Cell::Value(v.clone()));
                }
                None => {
                    if let Some(ordered) = &mut shard.ordered {
                        ordered.insert(k.clone());
                    }
                    shard
                        .versions
                        .insert(k.clone(), Versions::one(idx, Cell::Value(v.clone())));
                }
            }
        }
        let empty = WriteSet::new();
        let previous = previous.unwrap_or(&empty);
        let wrote_new = writes.keys().any(|k| !previous.contains_key(k));
        for old in previous.keys() {
            if !writes.contains_key(old)
                && let Some(versions) = self.shard(old).lock().versions.get_mut(old.as_slice())
            {
                versions.remove(idx);
            }
        }
        *self.last_reads[idx].lock() = reads;
        wrote_new
    }

    /// Marks every key in `writes`, what the last recorded incarnation of `idx`
    /// wrote, as an estimate.
    pub fn convert_writes_to_estimates(&self, idx: usize, writes: &WriteSet) {
        for k in writes.keys() {
            if let Some(versions) = self.shard(k).lock().versions.get_mut(k.as_slice()) {
                versions.insert(idx, Cell::Estimate);
            }
        }
    }

    /// With the Bloom pre-check on: false when no transaction of the block wrote `key`.
    pub fn maybe_written(&self, key: &[u8]) -> bool {
        self.written.as_ref().is_none_or(|w| w.may_contain(key))
    }

    /// Runs `f` on the read set of the last recorded incarnation of `idx`.
    pub fn with_last_reads<R>(&self, idx: usize, f: impl FnOnce(&ReadSet) -> R) -> R {
        f(&self.last_reads[idx].lock())
    }

    /// Takes the read set of the last recorded incarnation of `idx` (once the block is done).
    pub fn take_last_reads(&self, idx: usize) -> ReadSet {
        std::mem::take(&mut *self.last_reads[idx].lock())
    }

    /// Keys written in this block that start with `prefix` and are greater than
    /// `after` (or at least `prefix`), in order, up to `limit` of them.
    #[allow(clippy::disallowed_methods)] // each shard's keys are collected into an ordered set
    pub fn keys_after(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for shard in &self.shards {
            let mut guard = shard.lock();
            let Shard { versions, ordered } = &mut *guard;
            let ordered = ordered.get_or_insert_with(|| versions.keys().cloned().collect());
            keys.extend(
                ordered
                    .range::<[u8], _>(supervm_vm::state::next_key_range(prefix, after))
                    .take_while(|k| k.starts_with(prefix))
                    .take(limit)
                    .cloned(),
            );
        }
        keys.sort();
        keys.truncate(limit);
        keys
    }

    /// The block's final writes, in no particular order: for every key, the value of
    /// its highest writer. Only meaningful once every transaction is executed and
    /// validated; a key whose highest version is still an estimate then is a bug, and
    /// fails the block ([`Error::UnfinishedWrite`]) instead of leaving the key out.
    /// Shards are drained (and what they no longer need freed) in parallel on the
    /// current rayon pool.
    pub fn into_final_pairs(self) -> Result<WritePairs> {
        use rayon::prelude::*;
        self.shards
            .into_par_iter()
            .flat_map_iter(|shard| {
                shard
                    .into_inner()
                    .versions
                    .into_iter()
                    .filter_map(|(k, versions)| match versions.into_last() {
                        Some((_, Cell::Value(v))) => Some(Ok((k, v))),
                        Some((i, Cell::Estimate)) => Some(Err(Error::UnfinishedWrite(i))),
                        None => None,
                    })
            })
            .collect()
    }

    /// [`MvMemory::into_final_pairs`] as a write set (for tests).
    #[cfg(test)]
    pub fn into_final_writes(self) -> Result<WriteSet> {
        Ok(WriteSet::from_iter(self.into_final_pairs()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(pairs: &[(&[u8], Option<&[u8]>)]) -> WriteSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec())))
            .collect()
    }

    #[test]
    fn versions_stay_sorted_whatever_the_arrival_order() {
        let mut v = Versions::one(5, Cell::Estimate);
        for i in [9, 1, 7, 3] {
            v.insert(i, Cell::Value(Some(vec![i as u8])));
        }
        v.insert(5, Cell::Value(None)); // replaces, does not duplicate
        v.remove(7);
        v.remove(8); // absent: no effect
        let idx: Vec<usize> = v.by_index.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![1, 3, 5, 9]);
        assert!(v.below(1).is_none());
        assert_eq!(v.below(2).map(|(i, _)| *i), Some(1));
        assert_eq!(v.below(5).map(|(i, _)| *i), Some(3));
        assert!(matches!(v.below(6), Some((5, Cell::Value(None)))));
        assert_eq!(v.below(100).map(|(i, _)| *i), Some(9));
        assert!(matches!(v.into_last(), Some((9, _))));
    }

    #[test]
    fn reads_the_latest_lower_writer_and_estimates() {
        let m = MvMemory::new(4, true);
        let first = ws(&[(b"k", Some(b"1"))]);
        assert!(m.record((1, 0), ReadSet::default(), &first, None));
        assert!(m.record((3, 0), ReadSet::default(), &ws(&[(b"k", None)]), None));
        assert_eq!(m.read(b"other", 4), MvRead::NeverWritten);
        // Nothing below 1 ever wrote k: committed state, and validation may skip it.
        assert_eq!(m.read(b"k", 0), MvRead::NeverWritten);
        assert_eq!(m.read(b"k", 1), MvRead::NeverWritten);
        assert_eq!(m.read(b"k", 2), MvRead::Value(Some(b"1".to_vec())));
        assert_eq!(m.read(b"k", 4), MvRead::Value(None));
        m.convert_writes_to_estimates(1, &first);
        assert_eq!(m.read(b"k", 2), MvRead::Estimate(1));
        // Re-executed without writing k: the old location is removed, not new.
        assert!(!m.record((1, 1), ReadSet::default(), &ws(&[]), Some(&first)));
        assert_eq!(m.read(b"k", 2), MvRead::NotFound);
        assert_eq!(m.keys_after(b"k", None, 10), vec![b"k".to_vec()]);
    }

    #[test]
    fn a_final_estimate_fails_the_output_instead_of_dropping_the_key() {
        let m = MvMemory::new(4, false);
        let w = ws(&[(b"k", Some(b"1")), (b"j", Some(b"2"))]);
        assert!(m.record((2, 0), ReadSet::default(), &w, None));
        m.convert_writes_to_estimates(2, &w);
        assert!(matches!(
            m.into_final_pairs(),
            Err(Error::UnfinishedWrite(2))
        ));
        let m = MvMemory::new(4, false);
        assert!(m.record((2, 0), ReadSet::default(), &w, None));
        assert_eq!(m.into_final_writes().unwrap(), w);
    }
}
