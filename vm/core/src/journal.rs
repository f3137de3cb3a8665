//! A transaction's private view of state: its writes over the state below it,
//! the read set it observed, its events, and checkpoints so that a failed
//! `try_call` rolls back only the callee.

use std::collections::BTreeMap;

use crate::error::StateError;
use crate::state::{
    CodeRead, DIGEST_READS_OVER, DeltaRead, DigestRead, KeyRead, RangeRead, ReadSet, StateView,
    WriteSet, decode_u128, next_key_range,
};
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
    /// The same for `reads.deltas`.
    delta_index: BTreeMap<Vec<u8>, usize>,
    /// The same for `reads.codes` (a contract can leave one per failed `upgrade`).
    code_index: BTreeMap<Vec<u8>, usize>,
    /// Checkpoints taken and not yet committed or rolled back; while there are none, no
    /// undo log is kept (a failed transaction discards the whole journal anyway).
    open_checkpoints: usize,
    pub(crate) events: Vec<Event>,
}

/// Appends `item` to a list of reads and returns its position, indexing the list by
/// key once it outgrows a scan ([`INDEX_AFTER`]).
fn push_indexed<T>(
    items: &mut Vec<T>,
    index: &mut BTreeMap<Vec<u8>, usize>,
    item: T,
    key_of: impl Fn(&T) -> &[u8],
) -> usize {
    let i = items.len();
    if i >= INDEX_AFTER {
        if index.is_empty() {
            for (j, r) in items.iter().enumerate() {
                index.insert(key_of(r).to_vec(), j);
            }
        }
        index.insert(key_of(&item).to_vec(), i);
    }
    items.push(item);
    i
}

/// The position of `key` in a list kept by [`push_indexed`].
fn find_indexed<T>(
    items: &[T],
    index: &BTreeMap<Vec<u8>, usize>,
    key: &[u8],
    key_of: impl Fn(&T) -> &[u8],
) -> Option<usize> {
    if items.len() > INDEX_AFTER {
        index.get(key).copied()
    } else {
        items.iter().position(|r| key_of(r) == key)
    }
}

fn read_key(r: &KeyRead) -> &[u8] {
    &r.key
}

fn delta_key(d: &DeltaRead) -> &[u8] {
    &d.key
}

fn code_key(c: &CodeRead) -> &[u8] {
    &c.key
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
        self.pin(&key);
        if let Some(v) = self.writes.get(&key) {
            return Ok(v.as_deref());
        }
        if let Some(i) = self.find_read(&key) {
            return Ok(self.reads.keys[i].value.as_deref());
        }
        let value = view.get(&key)?;
        // (fields, not `push_read`: the early return above lends from `self.writes`)
        let read = KeyRead { key, value };
        let i = push_indexed(&mut self.reads.keys, &mut self.read_index, read, read_key);
        Ok(self.reads.keys[i].value.as_deref())
    }

    /// The length of the code stored under the code key `key`, if any: own writes
    /// first, then an earlier read of it, then the state below, recorded as a
    /// [`CodeRead`] (its presence, not its bytes: the read set of a block's
    /// transactions is held until the block is done).
    pub(crate) fn code_len(
        &mut self,
        view: &dyn StateView,
        key: Vec<u8>,
    ) -> Result<Option<usize>, StateError> {
        if let Some(v) = self.writes.get(&key) {
            return Ok(v.as_ref().map(Vec::len));
        }
        if let Some(i) = self.find_read(&key) {
            return Ok(self.reads.keys[i].value.as_ref().map(Vec::len));
        }
        if let Some(i) = find_indexed(&self.reads.codes, &self.code_index, &key, code_key) {
            return Ok(self.reads.codes[i].len);
        }
        let len = view.get(&key)?.map(|v| v.len());
        let read = CodeRead { key, len };
        push_indexed(&mut self.reads.codes, &mut self.code_index, read, code_key);
        Ok(len)
    }

    fn push_read(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let read = KeyRead { key, value };
        push_indexed(&mut self.reads.keys, &mut self.read_index, read, read_key);
    }

    /// A plain read or write of a key this transaction so far only added to makes its
    /// behaviour depend on the exact value below: that value becomes a point read.
    fn pin(&mut self, key: &[u8]) {
        if let Some(i) = self.find_delta(key)
            && self.find_read(key).is_none()
        {
            let d = &self.reads.deltas[i];
            let (key, seen) = (d.key.clone(), d.seen.clone());
            self.push_read(key, seen);
        }
    }

    fn find_delta(&self, key: &[u8]) -> Option<usize> {
        find_indexed(&self.reads.deltas, &self.delta_index, key, delta_key)
    }

    /// `storage_add`: adds `amount` to (or, `negative`, subtracts it from) the `u128`
    /// under `key` (absent is 0). `Ok(true)`: done; `Ok(false)`: the result would
    /// leave `0..=u128::MAX`, nothing changed; `Err(len)`: the value is not 16 bytes
    /// but `len` (read whole, and kept as a point read).
    ///
    /// A key this transaction has not read or written plainly is not read: the value
    /// below is looked up but recorded as a [`DeltaRead`] whose range narrows with each
    /// outcome (see `docs/design.md`, "Delta reads").
    pub(crate) fn add(
        &mut self,
        view: &dyn StateView,
        key: Vec<u8>,
        amount: u128,
        negative: bool,
    ) -> Result<Result<bool, usize>, StateError> {
        let delta = match self.find_delta(&key) {
            Some(i) if self.find_read(&key).is_none() => Some(i),
            Some(_) => None,
            None if self.writes.contains_key(&key) || self.find_read(&key).is_some() => None,
            None => {
                let seen = view.get(&key)?;
                if decode_u128(seen.as_deref()).is_none() {
                    let len = seen.as_ref().map_or(0, Vec::len);
                    self.push_read(key, seen);
                    return Ok(Err(len));
                }
                let d = DeltaRead {
                    key: key.clone(),
                    seen,
                    lo: 0,
                    hi: u128::MAX,
                };
                Some(push_indexed(
                    &mut self.reads.deltas,
                    &mut self.delta_index,
                    d,
                    delta_key,
                ))
            }
        };
        let current = match self.writes.get(&key) {
            Some(v) => v.as_deref(),
            None => match delta {
                Some(i) => self.reads.deltas[i].seen.as_deref(),
                None => self.reads.keys[self.find_read(&key).expect("read")]
                    .value
                    .as_deref(),
            },
        };
        let Some(cur) = decode_u128(current) else {
            return Ok(Err(current.map_or(0, <[u8]>::len)));
        };
        let result = if negative {
            cur.checked_sub(amount)
        } else {
            cur.checked_add(amount)
        };
        if let Some(i) = delta {
            // The bounds on the value `v` below under which each outcome repeats, with
            // `net = cur - v`: written so that they do not depend on `v` itself.
            let d = &mut self.reads.deltas[i];
            let v = decode_u128(d.seen.as_deref()).expect("checked when recorded");
            const MAX: u128 = u128::MAX;
            match (negative, result.is_some()) {
                // v + net >= amount
                (true, true) => d.lo = d.lo.max(v.saturating_sub(cur - amount)),
                // v + net < amount
                (true, false) => d.hi = d.hi.min(v.saturating_add(amount - cur - 1)),
                // v + net + amount <= MAX
                (false, true) => d.hi = d.hi.min(v.saturating_add(MAX - cur - amount)),
                // v + net + amount > MAX
                (false, false) => d.lo = d.lo.max(v.saturating_sub(amount - (MAX - cur) - 1)),
            }
        }
        Ok(Ok(match result {
            Some(new) => {
                self.put_unpinned(key, Some(new.to_le_bytes().to_vec()));
                true
            }
            None => false,
        }))
    }

    fn find_read(&self, key: &[u8]) -> Option<usize> {
        find_indexed(&self.reads.keys, &self.read_index, key, read_key)
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
        self.pin(&key);
        self.put_unpinned(key, value);
    }

    fn put_unpinned(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
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

    /// Consumes the journal: (writes, reads, events). A key that became a point read
    /// keeps no [`DeltaRead`]: its exact value is checked anyway.
    pub(crate) fn finish(mut self) -> (WriteSet, ReadSet, Vec<Event>) {
        if !self.reads.deltas.is_empty() {
            let deltas = std::mem::take(&mut self.reads.deltas);
            self.reads.deltas = deltas
                .into_iter()
                .filter(|d| self.find_read(&d.key).is_none())
                .collect();
        }
        // Large values read are kept as their digests from here on (the journal needed
        // them whole to answer repeated reads the same; a scheduler only compares them).
        let ReadSet { keys, digests, .. } = &mut self.reads;
        keys.retain_mut(|r| match &r.value {
            Some(v) if v.len() > DIGEST_READS_OVER => {
                digests.push(DigestRead {
                    key: std::mem::take(&mut r.key),
                    digest: DigestRead::digest_of(v),
                });
                false
            }
            _ => true,
        });
        (self.writes, self.reads, self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::InMemoryState;

    /// A code key checked again answers what the first check recorded, past the
    /// size where the lookup goes through an index too, and is recorded once.
    #[test]
    fn code_checks_answer_the_recorded_presence() {
        let absent = InMemoryState::new();
        let mut present = InMemoryState::new();
        let keys: Vec<Vec<u8>> = (0..40u8).map(|i| vec![b'c', i]).collect();
        present.apply(&keys.iter().map(|k| (k.clone(), Some(vec![1; 7]))).collect());
        let mut j = Journal::default();
        for k in &keys[..30] {
            assert_eq!(j.code_len(&absent, k.clone()).unwrap(), None);
        }
        for (i, k) in keys.iter().enumerate() {
            let want = if i < 30 { None } else { Some(7) };
            assert_eq!(j.code_len(&present, k.clone()).unwrap(), want, "key {i}");
        }
        assert_eq!(j.reads.codes.len(), 40);
    }

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

    fn u(v: u128) -> Option<Vec<u8>> {
        Some(v.to_le_bytes().to_vec())
    }

    /// `storage_add` on keys never read: the value below is not a point read, the range
    /// of values below with the same outcomes narrows with each one, and every value in
    /// the range gives the same outcomes and `v + (written - seen)` as the final value.
    #[test]
    fn adds_record_the_range_their_outcomes_hold_in() {
        let run = |v: Option<u128>| {
            let mut base = InMemoryState::new();
            if let Some(v) = v {
                base.apply(&[(b"k".to_vec(), u(v))].into_iter().collect());
            }
            let mut j = Journal::default();
            let outcomes = [
                j.add(&base, b"k".to_vec(), 30, true).unwrap(),
                j.add(&base, b"k".to_vec(), 5, false).unwrap(),
                j.add(&base, b"k".to_vec(), 1000, true).unwrap(),
                j.add(&base, b"k".to_vec(), u128::MAX - 10, false).unwrap(),
            ];
            let (writes, reads, _) = j.finish();
            (outcomes, writes, reads)
        };
        let (outcomes, writes, reads) = run(Some(100));
        assert_eq!(outcomes, [Ok(true), Ok(true), Ok(false), Ok(false)]);
        assert!(reads.keys.is_empty());
        assert_eq!(writes.get(&b"k"[..]), Some(&u(75)));
        let d = &reads.deltas[0];
        // sub 30 ok: v >= 30; add 5 ok: v <= MAX - 5 + 30 (no bound); sub 1000 fails:
        // v - 25 < 1000; add MAX - 10 fails: v - 25 + MAX - 10 > MAX, so v >= 36.
        assert_eq!((d.lo, d.hi), (36, 1024));
        assert_eq!(d.seen, u(100));
        for v in [36, 500, 1024] {
            let (o, w, r) = run(Some(v));
            assert_eq!(o, outcomes, "value {v}");
            assert_eq!((r.deltas[0].lo, r.deltas[0].hi), (36, 1024), "value {v}");
            assert_eq!(d.rebase(u(v).as_deref(), 75), Some(v - 25));
            assert_eq!(w.get(&b"k"[..]), Some(&u(v - 25)));
        }
        for v in [35, 1025] {
            assert!(!d.holds(u(v).as_deref()));
            assert_ne!(run(Some(v)).0, outcomes, "value {v}");
        }
        // Absent counts as 0: the first subtraction fails.
        assert_eq!(run(None).0[0], Ok(false));
        assert!(!d.holds(None));
    }

    /// A plain read or write of an added-to key, or a value that is not a `u128`, makes
    /// the value below a point read; a rollback keeps the range and drops the write.
    #[test]
    fn plain_access_pins_the_value_and_rollback_keeps_the_range() {
        let mut base = InMemoryState::new();
        base.apply(
            &[
                (b"k".to_vec(), u(50)),
                (b"bad".to_vec(), Some(b"xyz".to_vec())),
            ]
            .into_iter()
            .collect(),
        );
        let mut j = Journal::default();
        assert_eq!(j.add(&base, b"k".to_vec(), 10, false).unwrap(), Ok(true));
        assert_eq!(j.get(&base, b"k").unwrap(), u(60));
        assert_eq!(j.add(&base, b"bad".to_vec(), 1, false).unwrap(), Err(3));
        let (_, reads, _) = j.finish();
        assert_eq!(reads.keys.len(), 2);
        assert_eq!(
            (&reads.keys[0].key[..], &reads.keys[0].value),
            (&b"k"[..], &u(50))
        );
        assert_eq!(reads.keys[1].value.as_deref(), Some(&b"xyz"[..]));
        assert!(reads.deltas.is_empty(), "a pinned key keeps no delta read");

        let mut j = Journal::default();
        let cp = j.checkpoint();
        assert_eq!(j.add(&base, b"k".to_vec(), 20, true).unwrap(), Ok(true));
        j.rollback(cp);
        assert_eq!(j.add(&base, b"k".to_vec(), 45, true).unwrap(), Ok(true));
        let (writes, reads, _) = j.finish();
        assert_eq!(writes.get(&b"k"[..]), Some(&u(5)));
        assert!(reads.keys.is_empty());
        assert_eq!((reads.deltas[0].lo, reads.deltas[0].hi), (45, u128::MAX));

        // A key written plainly first is plain arithmetic on that value.
        let mut j = Journal::default();
        j.put(b"n".to_vec(), u(7));
        assert_eq!(j.add(&base, b"n".to_vec(), 8, true).unwrap(), Ok(false));
        let (writes, reads, _) = j.finish();
        assert_eq!(writes.get(&b"n"[..]), Some(&u(7)));
        assert!(reads.keys.is_empty() && reads.deltas.is_empty());
    }

    /// Past [`INDEX_AFTER`] delta reads, lookups go through the index and find the same.
    #[test]
    fn many_delta_reads_are_indexed() {
        let base = InMemoryState::new();
        let mut j = Journal::default();
        let key = |i: u32| i.to_be_bytes().to_vec();
        for i in 0..40 {
            assert_eq!(j.add(&base, key(i), 1, false).unwrap(), Ok(true));
        }
        for i in 0..40 {
            assert_eq!(
                j.add(&base, key(i), u128::from(i), false).unwrap(),
                Ok(true)
            );
        }
        assert_eq!(j.get(&base, &key(30)).unwrap(), u(31));
        let (writes, reads, _) = j.finish();
        assert_eq!(writes.len(), 40);
        assert_eq!(reads.keys.len(), 1);
        assert_eq!(reads.keys[0].key, key(30));
        assert_eq!(reads.deltas.len(), 39);
        assert_eq!(reads.deltas[39 - 1].key, key(39));
        assert_eq!(reads.deltas[39 - 1].hi, u128::MAX - 40);
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
