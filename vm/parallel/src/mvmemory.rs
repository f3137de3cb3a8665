//! Multi-version memory: for every key, the values written by the block's
//! transactions, by transaction index, each tagged with the incarnation that
//! wrote it, or marked as an *estimate* (the writer was aborted and is expected
//! to write there again).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};

use parking_lot::{Mutex, RwLock};
use supervm_vm::{ReadSet, WriteSet};

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

/// What a transaction sees for a key.
#[derive(Debug, PartialEq, Eq)]
pub enum MvRead {
    /// The latest lower transaction wrote this (`None`: deleted it).
    Value(Option<Vec<u8>>),
    /// The latest lower writer is being re-executed: wait for transaction `.0`.
    Estimate(usize),
    /// No lower transaction wrote the key: read committed state.
    NotFound,
}

/// Everything written in a block, by key and transaction index.
pub struct MvMemory {
    shards: Vec<Mutex<HashMap<Vec<u8>, BTreeMap<usize, Cell>>>>,
    hasher: std::collections::hash_map::RandomState,
    /// Every key ever written in this block, ordered, for prefix iteration.
    keys: RwLock<BTreeSet<Vec<u8>>>,
    /// Per transaction: the keys its last recorded incarnation wrote.
    last_writes: Vec<Mutex<Vec<Vec<u8>>>>,
    /// Per transaction: the read set of its last recorded incarnation.
    last_reads: Vec<Mutex<ReadSet>>,
}

impl MvMemory {
    /// Memory for a block of `n` transactions.
    pub fn new(n: usize) -> Self {
        MvMemory {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            keys: RwLock::new(BTreeSet::new()),
            last_writes: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
            last_reads: (0..n).map(|_| Mutex::new(ReadSet::default())).collect(),
        }
    }

    fn shard(&self, key: &[u8]) -> &Mutex<HashMap<Vec<u8>, BTreeMap<usize, Cell>>> {
        let mut h = self.hasher.build_hasher();
        key.hash(&mut h);
        &self.shards[h.finish() as usize % SHARDS]
    }

    /// The value of `key` as transaction `idx` must see it.
    pub fn read(&self, key: &[u8], idx: usize) -> MvRead {
        let shard = self.shard(key).lock();
        let Some(versions) = shard.get(key) else { return MvRead::NotFound };
        match versions.range(..idx).next_back() {
            None => MvRead::NotFound,
            Some((&writer, Cell::Estimate)) => MvRead::Estimate(writer),
            Some((_, Cell::Value(v))) => MvRead::Value(v.clone()),
        }
    }

    /// Records what incarnation `version` read and wrote. Returns whether it wrote a
    /// key the previous incarnation did not (then every higher transaction must be
    /// validated again).
    pub fn record(&self, version: Version, reads: ReadSet, writes: &WriteSet) -> bool {
        let (idx, _) = version;
        let mut new_keys = Vec::new();
        for (k, v) in writes {
            self.shard(k)
                .lock()
                .entry(k.clone())
                .or_default()
                .insert(idx, Cell::Value(v.clone()));
        }
        let mut last = self.last_writes[idx].lock();
        let mut wrote_new = false;
        for k in writes.keys() {
            if !last.contains(k) {
                wrote_new = true;
                new_keys.push(k.clone());
            }
        }
        for old in last.iter() {
            if !writes.contains_key(old) {
                if let Some(versions) = self.shard(old).lock().get_mut(old) {
                    versions.remove(&idx);
                }
            }
        }
        *last = writes.keys().cloned().collect();
        drop(last);
        if !new_keys.is_empty() {
            let mut index = self.keys.write();
            for k in new_keys {
                index.insert(k);
            }
        }
        *self.last_reads[idx].lock() = reads;
        wrote_new
    }

    /// Marks every key the last incarnation of `idx` wrote as an estimate.
    pub fn convert_writes_to_estimates(&self, idx: usize) {
        for k in self.last_writes[idx].lock().iter() {
            if let Some(versions) = self.shard(k).lock().get_mut(k) {
                versions.insert(idx, Cell::Estimate);
            }
        }
    }

    /// The read set of the last recorded incarnation of `idx`.
    pub fn last_reads(&self, idx: usize) -> ReadSet {
        self.last_reads[idx].lock().clone()
    }

    /// Keys written in this block that start with `prefix` and are greater than
    /// `after` (or at least `prefix`), in order, up to `limit` of them.
    pub fn keys_after(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Vec<Vec<u8>> {
        use std::ops::Bound;
        let lower = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_vec()),
            _ => Bound::Included(prefix.to_vec()),
        };
        self.keys
            .read()
            .range((lower, Bound::Unbounded))
            .take_while(|k| k.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(pairs: &[(&[u8], Option<&[u8]>)]) -> WriteSet {
        pairs.iter().map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec()))).collect()
    }

    #[test]
    fn reads_the_latest_lower_writer_and_estimates() {
        let m = MvMemory::new(4);
        assert!(m.record((1, 0), ReadSet::default(), &ws(&[(b"k", Some(b"1"))])));
        assert!(m.record((3, 0), ReadSet::default(), &ws(&[(b"k", None)])));
        assert_eq!(m.read(b"k", 0), MvRead::NotFound);
        assert_eq!(m.read(b"k", 2), MvRead::Value(Some(b"1".to_vec())));
        assert_eq!(m.read(b"k", 4), MvRead::Value(None));
        m.convert_writes_to_estimates(1);
        assert_eq!(m.read(b"k", 2), MvRead::Estimate(1));
        // Re-executed without writing k: the old location is removed, not new.
        assert!(!m.record((1, 1), ReadSet::default(), &ws(&[])));
        assert_eq!(m.read(b"k", 2), MvRead::NotFound);
        assert_eq!(m.keys_after(b"k", None, 10), vec![b"k".to_vec()]);
    }
}
