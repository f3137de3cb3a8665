//! A transaction's private view of state: its writes over the state below it,
//! the read set it observed, its events, and checkpoints so that a failed
//! `try_call` rolls back only the callee.

use std::collections::BTreeMap;

use crate::error::StateError;
use crate::state::{KeyRead, RangeRead, ReadSet, StateView, WriteSet, next_key_range};
use crate::tx::Event;

/// A position in the journal to roll back to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint {
    undo: usize,
    events: usize,
}

/// A key and what the write set held for it before a write (`None`: nothing).
type UndoEntry = (Vec<u8>, Option<Option<Vec<u8>>>);

#[derive(Default)]
pub(crate) struct Journal {
    writes: WriteSet,
    /// For each write, what `writes` held for the key before it (outer `None`: nothing).
    undo: Vec<UndoEntry>,
    reads: ReadSet,
    /// Index into `reads.keys` by key, so repeated reads see the same value. Built only
    /// once the read set outgrows a linear scan ([`INDEX_AFTER`] reads).
    read_index: BTreeMap<Vec<u8>, usize>,
    /// Checkpoints taken and not yet committed or rolled back; while there are none, no
    /// undo log is kept (a failed transaction discards the whole journal anyway).
    open_checkpoints: usize,
    pub(crate) events: Vec<Event>,
}

/// Read-set size from which repeated-read lookups use an index instead of a scan.
const INDEX_AFTER: usize = 16;

impl Journal {
    /// Reads a key: own writes first, then the state below (recorded in the read set).
    pub(crate) fn get(
        &mut self,
        view: &dyn StateView,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.get_ref(view, key.to_vec())?.map(<[u8]>::to_vec))
    }

    /// [`Journal::get`] taking the key by value (it goes into the read set) and
    /// lending the value instead of copying it.
    pub(crate) fn get_ref(
        &mut self,
        view: &dyn StateView,
        key: Vec<u8>,
    ) -> Result<Option<&[u8]>, StateError> {
        if let Some(v) = self.writes.get(&key) {
            return Ok(v.as_deref());
        }
        if let Some(i) = self.find_read(&key) {
            return Ok(self.reads.keys[i].value.as_deref());
        }
        let value = view.get(&key)?;
        let i = self.reads.keys.len();
        if i >= INDEX_AFTER {
            if self.read_index.is_empty() {
                for (j, r) in self.reads.keys.iter().enumerate() {
                    self.read_index.insert(r.key.clone(), j);
                }
            }
            self.read_index.insert(key.clone(), i);
        }
        self.reads.keys.push(KeyRead { key, value });
        Ok(self.reads.keys[i].value.as_deref())
    }

    fn find_read(&self, key: &[u8]) -> Option<usize> {
        if self.reads.keys.len() > INDEX_AFTER {
            self.read_index.get(key).copied()
        } else {
            self.reads.keys.iter().position(|r| r.key == key)
        }
    }

    /// Reads a key without recording it: only for immutable data (code by hash).
    pub(crate) fn get_unrecorded(
        &self,
        view: &dyn StateView,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        view.get(key)
    }

    /// Writes (`Some`) or deletes (`None`) a key.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if self.open_checkpoints == 0 {
            self.writes.insert(key, value);
        } else {
            let prev = self.writes.insert(key.clone(), value);
            self.undo.push((key, prev));
        }
    }

    /// The smallest key with `prefix` greater than `after`, over own writes and the
    /// state below, and how many keys deleted by this transaction the search stepped
    /// over (in the state below and among its own writes: the caller charges for them,
    /// or a contract could make one call walk every key it deleted). Every step taken
    /// in the state below is recorded.
    pub(crate) fn next_key(
        &mut self,
        view: &dyn StateView,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, u64), StateError> {
        let mut skipped = 0u64;
        let mut cursor = after.map(|a| a.to_vec());
        let below = loop {
            let found = view.next_key(prefix, cursor.as_deref())?;
            self.reads.ranges.push(RangeRead {
                prefix: prefix.to_vec(),
                after: cursor.clone(),
                found: found.clone(),
            });
            match found {
                Some(k) if matches!(self.writes.get(&k), Some(None)) => {
                    skipped += 1;
                    cursor = Some(k);
                }
                other => break other,
            }
        };
        let mut own = None;
        for (k, v) in self
            .writes
            .range::<[u8], _>(next_key_range(prefix, after))
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            // (only up to the key found below: nothing after it can be the answer)
            if below.as_ref().is_some_and(|b| k > b) {
                break;
            }
            if v.is_some() {
                own = Some(k.clone());
                break;
            }
            skipped += 1;
        }
        let next = match (below, own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok((next, skipped))
    }

    /// Marks a point to roll back to; must be ended by [`Journal::commit`] or
    /// [`Journal::rollback`].
    pub(crate) fn checkpoint(&mut self) -> Checkpoint {
        self.open_checkpoints += 1;
        Checkpoint {
            undo: self.undo.len(),
            events: self.events.len(),
        }
    }

    /// Keeps everything after `cp`.
    pub(crate) fn commit(&mut self, _cp: Checkpoint) {
        self.open_checkpoints -= 1;
        if self.open_checkpoints == 0 {
            self.undo.clear();
        }
    }

    /// Undoes every write and event after `cp`. Reads stay recorded: they
    /// influenced execution.
    pub(crate) fn rollback(&mut self, cp: Checkpoint) {
        self.open_checkpoints -= 1;
        while self.undo.len() > cp.undo {
            let (key, prev) = self.undo.pop().expect("undo entry");
            match prev {
                Some(v) => {
                    self.writes.insert(key, v);
                }
                None => {
                    self.writes.remove(&key);
                }
            }
        }
        self.events.truncate(cp.events);
        if self.open_checkpoints == 0 {
            self.undo.clear();
        }
    }

    /// Consumes the journal: (writes, reads, events).
    pub(crate) fn finish(self) -> (WriteSet, ReadSet, Vec<Event>) {
        (self.writes, self.reads, self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::InMemoryState;

    #[test]
    fn rollback_restores_writes_and_keeps_reads() {
        let mut base = InMemoryState::new();
        let mut w = WriteSet::new();
        w.insert(b"a".to_vec(), Some(b"1".to_vec()));
        base.apply(&w);
        let mut j = Journal::default();
        j.put(b"a".to_vec(), Some(b"2".to_vec()));
        let cp = j.checkpoint();
        let inner = j.checkpoint();
        j.put(b"a".to_vec(), Some(b"9".to_vec()));
        j.commit(inner);
        j.put(b"a".to_vec(), None);
        j.put(b"b".to_vec(), Some(b"3".to_vec()));
        assert_eq!(j.get(&base, b"c").unwrap(), None);
        j.rollback(cp);
        assert_eq!(j.get(&base, b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(j.get(&base, b"b").unwrap(), None);
        let (writes, reads, _) = j.finish();
        assert_eq!(writes.len(), 1);
        assert_eq!(reads.keys.len(), 2); // c, then b (a was served from own writes)
    }

    #[test]
    fn next_key_merges_own_writes_and_deletes() {
        let mut base = InMemoryState::new();
        let mut w = WriteSet::new();
        for k in [&b"p1"[..], b"p3", b"p5", b"q0"] {
            w.insert(k.to_vec(), Some(b"x".to_vec()));
        }
        base.apply(&w);
        let mut j = Journal::default();
        j.put(b"p3".to_vec(), None);
        j.put(b"p4".to_vec(), Some(b"y".to_vec()));
        let mut keys = vec![];
        let mut after: Option<Vec<u8>> = None;
        let mut skipped = vec![];
        while let (Some(k), s) = j.next_key(&base, b"p", after.as_deref()).unwrap() {
            keys.push(k.clone());
            skipped.push(s);
            after = Some(k);
        }
        assert_eq!(keys, vec![b"p1".to_vec(), b"p4".to_vec(), b"p5".to_vec()]);
        // From p1, the search steps over p3 (deleted here) in the state below and among
        // the own writes.
        assert_eq!(skipped, vec![0, 2, 0]);
    }
}
