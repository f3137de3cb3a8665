//! [`WriteLayer`]: writes keyed by state key, read by point and by prefix, the
//! building block of every view that stacks writes on top of another state (the
//! parallel executor's overlay of earlier chunks, the store's staged batches).

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;

use crate::state::next_key_range;

/// Writes by key (`None`: deleted). Point reads are one hash lookup. The keys are
/// put in order only when a prefix iteration first needs them, and kept in order
/// from then on: storage keys share long prefixes, so ordered inserts compare many
/// bytes, and layers that are never iterated never pay for them.
#[derive(Default)]
pub struct WriteLayer {
    writes: HashMap<Vec<u8>, Option<Vec<u8>>, foldhash::fast::RandomState>,
    /// The written keys in order, once an iteration asked for them.
    ordered: Mutex<Option<BTreeSet<Vec<u8>>>>,
}

impl WriteLayer {
    /// What the layer holds for `key`: `None` if it never wrote it, `Some(None)` if it
    /// deleted it.
    pub fn get(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.writes.get(key)
    }

    /// Writes `key` (a later write replaces an earlier one).
    pub fn put(&mut self, key: &[u8], value: &Option<Vec<u8>>) {
        match self.writes.get_mut(key) {
            Some(old) => old.clone_from(value),
            None => self.insert_new(key.to_vec(), value.clone()),
        }
    }

    /// [`WriteLayer::put`], taking ownership.
    pub fn put_owned(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        match self.writes.get_mut(key.as_slice()) {
            Some(old) => *old = value,
            None => self.insert_new(key, value),
        }
    }

    fn insert_new(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if let Some(ordered) = self.ordered.get_mut() {
            ordered.insert(key.clone());
        }
        self.writes.insert(key, value);
    }

    /// The smallest key this layer holds a value for (not deleted) that starts with
    /// `prefix` and lies in the range of a `next_key(prefix, after)` step.
    #[allow(clippy::disallowed_methods)] // the keys are collected into an ordered set
    pub fn next_present(&self, prefix: &[u8], after: Option<&[u8]>) -> Option<Vec<u8>> {
        let mut ordered = self.ordered.lock();
        ordered
            .get_or_insert_with(|| self.writes.keys().cloned().collect())
            .range::<[u8], _>(next_key_range(prefix, after))
            .take_while(|k| k.starts_with(prefix))
            .find(|k| matches!(self.writes.get(k.as_slice()), Some(Some(_))))
            .cloned()
    }

    /// Every write, in no particular order (callers sort or aggregate).
    #[allow(clippy::disallowed_methods)] // documented as unordered
    pub fn entries(&self) -> impl Iterator<Item = (&Vec<u8>, &Option<Vec<u8>>)> {
        self.writes.iter()
    }

    /// Every write, in no particular order, by value.
    pub fn into_entries(self) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
        self.writes.into_iter()
    }
}
