//! The state a transaction incarnation sees: the block's multi-version memory
//! below its index, over committed state. It records which transaction a read
//! had to wait for; the executor turns that into a scheduler dependency.

use parking_lot::Mutex;
use supervm_vm::{ReadSet, StateError, StateView};

use crate::mvmemory::{MvMemory, MvRead};

/// Transaction `idx`'s view of the block.
pub struct MvView<'a> {
    mv: &'a MvMemory,
    base: &'a dyn StateView,
    idx: usize,
    /// The key of the estimate that stopped a read, for conflict statistics.
    blocked: Mutex<Option<Vec<u8>>>,
}

/// What a recorded read saw: a value, a code key's presence, or a large
/// value's digest.
enum Seen<'a> {
    Value(&'a Option<Vec<u8>>),
    Code(&'a supervm_vm::CodeRead),
    Digest(&'a supervm_vm::DigestRead),
}

impl<'a> MvView<'a> {
    /// The view of transaction `idx`.
    pub fn new(mv: &'a MvMemory, base: &'a dyn StateView, idx: usize) -> Self {
        MvView {
            mv,
            base,
            idx,
            blocked: Mutex::new(None),
        }
    }

    /// The key whose estimate blocked the last read that returned `Blocked`.
    pub fn blocked_key(&self) -> Option<Vec<u8>> {
        self.blocked.lock().take()
    }

    fn blocked_on(&self, key: &[u8], writer: usize) -> StateError {
        *self.blocked.lock() = Some(key.to_vec());
        StateError::Blocked(writer)
    }

    /// What the view resolves `key` to: `Err(Blocked)` on an estimate.
    fn resolve(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.mv.read(key, self.idx) {
            MvRead::Value(v) => Ok(v),
            MvRead::Estimate(writer) => Err(self.blocked_on(key, writer)),
            MvRead::NotFound | MvRead::NeverWritten => self.base.get(key),
        }
    }

    /// Replays `reads`: `None` when every read (and every prefix-iteration step) would
    /// see the same now, else the first key that differs. An estimate on the way counts
    /// as a difference.
    pub fn first_conflict(&self, reads: &ReadSet) -> Result<Option<Vec<u8>>, StateError> {
        // Block-STM checks a delta read's value exactly, like a point read: the write it
        // made from that value is in the multi-version memory, where transactions above
        // may have read it.
        // (a code read compares presence only: code is immutable by hash)
        let points = reads.keys.iter().map(|r| (&r.key, Seen::Value(&r.value)));
        let deltas = reads.deltas.iter().map(|d| (&d.key, Seen::Value(&d.seen)));
        let codes = reads.codes.iter().map(|c| (&c.key, Seen::Code(c)));
        let digests = reads.digests.iter().map(|d| (&d.key, Seen::Digest(d)));
        for (key, seen) in points.chain(deltas).chain(codes).chain(digests) {
            if !self.mv.maybe_written(key) {
                continue; // read from committed state, which no transaction of the block wrote
            }
            let now = match self.mv.read(key, self.idx) {
                // No lower transaction ever wrote the key in this block, so it was read
                // from committed state, which does not change during the block.
                MvRead::NeverWritten => continue,
                MvRead::Value(v) => v,
                MvRead::Estimate(_) => return Ok(Some(key.clone())),
                MvRead::NotFound => match self.base.get(key) {
                    Ok(v) => v,
                    Err(StateError::Blocked(_)) => return Ok(Some(key.clone())),
                    Err(e) => return Err(e),
                },
            };
            let same = match seen {
                Seen::Value(v) => now == *v,
                Seen::Code(c) => c.holds(now.as_deref()),
                Seen::Digest(d) => d.holds(now.as_deref()),
            };
            if !same {
                return Ok(Some(key.clone()));
            }
        }
        for r in &reads.ranges {
            match self.next_key(&r.prefix, r.after.as_deref()) {
                Ok(found) if found == r.found => {}
                Ok(_) | Err(StateError::Blocked(_)) => return Ok(Some(r.prefix.clone())),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The first key written in the block (below `idx`) after `after` that is present.
    fn next_written(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let mut cursor = after.map(|a| a.to_vec());
        loop {
            let batch = self.mv.keys_after(prefix, cursor.as_deref(), 32);
            let Some(last) = batch.last().cloned() else {
                return Ok(None);
            };
            for k in batch {
                match self.mv.read(&k, self.idx) {
                    MvRead::Value(Some(_)) => return Ok(Some(k)),
                    MvRead::Estimate(w) => return Err(self.blocked_on(&k, w)),
                    // Deleted below idx, or not written below idx: the committed
                    // state decides, which the caller consults separately.
                    MvRead::Value(None) | MvRead::NotFound | MvRead::NeverWritten => {}
                }
            }
            cursor = Some(last);
        }
    }

    /// The first committed key after `after` that no lower transaction deleted.
    fn next_committed(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let mut cursor = after.map(|a| a.to_vec());
        loop {
            let Some(k) = self.base.next_key(prefix, cursor.as_deref())? else {
                return Ok(None);
            };
            match self.mv.read(&k, self.idx) {
                MvRead::Value(None) => cursor = Some(k),
                MvRead::Estimate(w) => return Err(self.blocked_on(&k, w)),
                MvRead::Value(Some(_)) | MvRead::NotFound | MvRead::NeverWritten => {
                    return Ok(Some(k));
                }
            }
        }
    }
}

impl StateView for MvView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.resolve(key)
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        let written = self.next_written(prefix, after)?;
        let committed = self.next_committed(prefix, after)?;
        Ok(match (written, committed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}
