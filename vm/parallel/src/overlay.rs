//! The writes of the block's earlier chunks over committed state: the base every
//! later chunk reads, whichever way it executes (see [`crate::adaptive`]).

use supervm_vm::{StateError, StateView, WriteLayer, WriteSet};

/// Committed state with a block's writes so far on top ([`WriteLayer`]: one hash
/// lookup before the base; prefix iteration merges the written keys with the base's,
/// skipping keys the block deleted).
pub struct Overlay<'a> {
    base: &'a dyn StateView,
    writes: WriteLayer,
}

impl<'a> Overlay<'a> {
    /// Nothing written yet over `base`.
    pub fn new(base: &'a dyn StateView) -> Self {
        Overlay {
            base,
            writes: WriteLayer::default(),
        }
    }

    /// Applies one transaction's writes, in block order.
    pub fn apply(&mut self, writes: &WriteSet) {
        for (k, v) in writes {
            self.writes.put(k, v);
        }
    }

    /// Applies a run's final writes, taking ownership.
    pub fn merge(&mut self, writes: WriteLayer) {
        self.writes.merge(writes);
    }

    /// What the block's writes so far hold for `key` (`None`: not written, `Some(None)`:
    /// deleted).
    pub fn written(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.writes.get(key)
    }

    /// Everything written, each key's last value.
    pub fn into_layer(self) -> WriteLayer {
        self.writes
    }
}

impl StateView for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        let written = self.writes.next_present(prefix, after);
        // The first committed key the block did not delete.
        let mut cursor = after.map(<[u8]>::to_vec);
        let committed = loop {
            match self.base.next_key(prefix, cursor.as_deref())? {
                Some(k) if matches!(self.writes.get(&k), Some(None)) => cursor = Some(k),
                other => break other,
            }
        };
        Ok(match (written, committed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

#[cfg(test)]
mod tests {
    use supervm_vm::InMemoryState;

    use super::*;

    fn ws(pairs: &[(&[u8], Option<&[u8]>)]) -> WriteSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect()
    }

    /// Every point read and every iteration step of the overlay equals the same
    /// writes applied to a copy of the base.
    #[test]
    fn reads_and_iterates_like_the_applied_state() {
        let mut base = InMemoryState::new();
        base.apply(&ws(&[
            (b"a1", Some(b"x")),
            (b"a3", Some(b"x")),
            (b"a5", Some(b"x")),
            (b"b1", Some(b"x")),
        ]));
        let chunks = [
            ws(&[(b"a2", Some(b"y")), (b"a3", None)]),
            ws(&[(b"a4", Some(b"z")), (b"a5", None), (b"a2", Some(b"w"))]),
            ws(&[(b"a3", Some(b"again")), (b"a0", None)]),
        ];
        let mut overlay = Overlay::new(&base);
        let mut applied = base.clone();
        for (i, c) in chunks.iter().enumerate() {
            if i % 2 == 0 {
                overlay.apply(c);
            } else {
                overlay.merge(c.clone().into_iter().collect());
            }
            applied.apply(c);
            for k in [&b"a0"[..], b"a1", b"a2", b"a3", b"a4", b"a5", b"b1", b"zz"] {
                assert_eq!(overlay.get(k).unwrap(), applied.get(k).unwrap(), "{k:?}");
            }
            let mut cursor: Option<Vec<u8>> = None;
            loop {
                let a = overlay.next_key(b"a", cursor.as_deref()).unwrap();
                assert_eq!(a, applied.next_key(b"a", cursor.as_deref()).unwrap());
                match a {
                    Some(k) => cursor = Some(k),
                    None => break,
                }
            }
        }
        let mut rebuilt = base.clone();
        rebuilt.apply_writes(&overlay.into_layer());
        assert_eq!(rebuilt, applied);
    }
}
