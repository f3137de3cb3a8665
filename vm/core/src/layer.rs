//! [`WriteLayer`]: writes keyed by state key, read by point and by prefix, the
//! building block of every view that stacks writes on top of another state (the
//! parallel executor's overlay of earlier chunks, the store's staged batches).

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;

use crate::state::{WriteSet, next_key_range};

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
    /// An empty layer with room for `keys` keys without growing.
    pub fn with_capacity(keys: usize) -> Self {
        WriteLayer {
            writes: HashMap::with_capacity_and_hasher(keys, Default::default()),
            ordered: Mutex::new(None),
        }
    }

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

    /// Number of keys written (deletions included).
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Takes `newer`'s writes on top of these (a key both wrote gets `newer`'s value),
    /// moving them (a key new to this layer is copied only into the ordered index, if an
    /// iteration has built it).
    pub fn merge(&mut self, newer: WriteLayer) {
        self.writes.reserve(newer.writes.len());
        for (k, v) in newer.writes {
            match self.writes.get_mut(k.as_slice()) {
                Some(old) => *old = v,
                None => self.insert_new(k, v),
            }
        }
    }

    /// The writes as a [`WriteSet`], in key order (a copy).
    pub fn to_write_set(&self) -> WriteSet {
        let mut pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = self
            .entries()
            .map(|(k, v)| (k.to_vec(), v.clone()))
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        WriteSet::from_iter(pairs)
    }
}

impl FromIterator<(Vec<u8>, Option<Vec<u8>>)> for WriteLayer {
    /// Later pairs of a key replace earlier ones.
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>>(pairs: I) -> Self {
        let pairs = pairs.into_iter();
        let mut layer = WriteLayer::with_capacity(pairs.size_hint().0);
        for (k, v) in pairs {
            layer.put_owned(k, v);
        }
        layer
    }
}

impl Clone for WriteLayer {
    fn clone(&self) -> Self {
        WriteLayer {
            writes: self.writes.clone(),
            ordered: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for WriteLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.to_write_set().iter()).finish()
    }
}

/// The same writes, whatever the order they were made or are held in.
impl PartialEq for WriteLayer {
    fn eq(&self, other: &Self) -> bool {
        self.writes == other.writes
    }
}

impl Eq for WriteLayer {}

/// Writes for something that does not depend on their order (a state applying them, a
/// store staging a block's state root): a [`WriteSet`] or a [`WriteLayer`].
pub trait WriteEntries {
    /// Every key with its write (`None`: deleted), each key once, in no particular order
    /// (a [`WriteLayer`]'s differs between processes: sort, sum or key what is made of
    /// it before anything is hashed, encoded or stored).
    fn write_entries(&self) -> impl Iterator<Item = (&[u8], &Option<Vec<u8>>)>;
}

impl WriteEntries for WriteSet {
    fn write_entries(&self) -> impl Iterator<Item = (&[u8], &Option<Vec<u8>>)> {
        self.iter().map(|(k, v)| (k.as_slice(), v))
    }
}

impl WriteEntries for WriteLayer {
    fn write_entries(&self) -> impl Iterator<Item = (&[u8], &Option<Vec<u8>>)> {
        self.entries()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built from pairs, merged, compared and copied out, a layer holds each key's last
    /// write whatever the order it was given them in; a deletion is a write.
    #[test]
    fn layers_merge_compare_and_sort_by_key() {
        let pairs = |p: &[(&[u8], Option<&[u8]>)]| -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
            p.iter()
                .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
                .collect()
        };
        let older: WriteLayer =
            pairs(&[(b"b", Some(b"1")), (b"a", Some(b"1")), (b"b", Some(b"2"))])
                .into_iter()
                .collect();
        assert_eq!(older.len(), 2);
        assert_eq!(older.get(b"b"), Some(&Some(b"2".to_vec())));
        let newer: WriteLayer = pairs(&[(b"c", Some(b"3")), (b"a", None)])
            .into_iter()
            .collect();
        let mut merged = older.clone();
        merged.merge(newer);
        let expected: WriteSet = pairs(&[(b"a", None), (b"b", Some(b"2")), (b"c", Some(b"3"))])
            .into_iter()
            .collect();
        assert_eq!(merged.to_write_set(), expected);
        assert_eq!(
            merged.to_write_set().into_keys().collect::<Vec<_>>(),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        // Equal to the same writes made in another order; not to the older layer.
        let same: WriteLayer = expected.clone().into_iter().rev().collect();
        assert_eq!(merged, same);
        assert_ne!(merged, older);
        assert_eq!(merged.len(), expected.len());
        let mut from_layer: Vec<_> = merged.write_entries().collect();
        from_layer.sort();
        let from_set: Vec<_> = expected.write_entries().collect();
        assert_eq!(from_layer, from_set);
        assert!(WriteLayer::default().is_empty());
        // An iteration asked for before a merge sees the merged keys.
        let mut iterated: WriteLayer = pairs(&[(b"k1", Some(b"x"))]).into_iter().collect();
        assert_eq!(iterated.next_present(b"k", None), Some(b"k1".to_vec()));
        iterated.merge(pairs(&[(b"k0", Some(b"y"))]).into_iter().collect());
        assert_eq!(iterated.next_present(b"k", None), Some(b"k0".to_vec()));
    }

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
