//! [`WriteLayer`]: writes keyed by state key, read by point and by prefix, the
//! building block of every view that stacks writes on top of another state (the
//! parallel executor's overlay of earlier chunks, the store's staged batches).

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;

use crate::state::next_key_range;

/// A key held in the table itself when it is short (state keys of contract storage
/// are about 66 bytes): a lookup compares it where the probe already looks, instead
/// of following a pointer to a separate allocation.
type Key = smallvec::SmallVec<[u8; 72]>;

/// Writes by key (`None`: deleted). Point reads are one hash lookup. The keys are
/// put in order only when a prefix iteration first needs them, and kept in order
/// from then on: storage keys share long prefixes, so ordered inserts compare many
/// bytes, and layers that are never iterated never pay for them.
#[derive(Default)]
pub struct WriteLayer {
    writes: HashMap<Key, Option<Vec<u8>>, foldhash::fast::RandomState>,
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
            None => self.insert_new(Key::from_slice(key), value.clone()),
        }
    }

    /// [`WriteLayer::put`], taking ownership.
    pub fn put_owned(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        match self.writes.get_mut(key.as_slice()) {
            Some(old) => *old = value,
            None => self.insert_new(Key::from_slice(&key), value),
        }
    }

    fn insert_new(&mut self, key: Key, value: Option<Vec<u8>>) {
        if let Some(ordered) = self.ordered.get_mut() {
            ordered.insert(key.to_vec());
        }
        self.writes.insert(key, value);
    }

    /// The smallest key this layer holds a value for (not deleted) that starts with
    /// `prefix` and lies in the range of a `next_key(prefix, after)` step.
    #[allow(clippy::disallowed_methods)] // the keys are collected into an ordered set
    pub fn next_present(&self, prefix: &[u8], after: Option<&[u8]>) -> Option<Vec<u8>> {
        let mut ordered = self.ordered.lock();
        ordered
            .get_or_insert_with(|| self.writes.keys().map(|k| k.to_vec()).collect())
            .range::<[u8], _>(next_key_range(prefix, after))
            .take_while(|k| k.starts_with(prefix))
            .find(|k| matches!(self.writes.get(k.as_slice()), Some(Some(_))))
            .cloned()
    }

    /// Every write, in no particular order (callers sort or aggregate).
    #[allow(clippy::disallowed_methods)] // documented as unordered
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &Option<Vec<u8>>)> {
        self.writes.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// Every write, in no particular order, by value.
    pub fn into_entries(self) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
        self.writes.into_iter().map(|(k, v)| (k.into_vec(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys longer than the inline capacity live on the heap and behave the same.
    #[test]
    fn short_and_long_keys_read_iterate_and_come_back() {
        let short = b"\x00short".to_vec();
        let long: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
        for n in [71, 72, 73] {
            let k = vec![1u8; n];
            let mut l = WriteLayer::default();
            l.put_owned(k.clone(), Some(vec![n as u8]));
            assert_eq!(l.get(&k), Some(&Some(vec![n as u8])));
            assert_eq!(l.get(&k[..n - 1]), None);
            assert_eq!(l.into_entries().next(), Some((k, Some(vec![n as u8]))));
        }
        let mut l = WriteLayer::default();
        l.put(&short, &Some(b"1".to_vec()));
        l.put_owned(long.clone(), Some(b"2".to_vec()));
        assert_eq!(l.get(&long), Some(&Some(b"2".to_vec())));
        assert_eq!(l.next_present(b"\x00", None), Some(long.clone()));
        assert_eq!(l.next_present(b"\x00", Some(&long)), Some(short.clone()));
        l.put(&long, &None);
        assert_eq!(l.get(&long), Some(&None));
        assert_eq!(l.next_present(b"\x00", None), Some(short.clone()));
        let mut e: Vec<_> = l.into_entries().collect();
        e.sort();
        assert_eq!(e, vec![(long, None), (short, Some(b"1".to_vec()))]);
    }
}
