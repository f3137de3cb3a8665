//! The state commitment: a lattice hash (LtHash, as in Solana's accounts lattice hash).
//!
//! Each state entry `(key, value)` maps to a vector of 1024 16-bit lanes: the entry
//! digest `d = blake3("supervm-entry-v1" ‖ len(key) as u32 LE ‖ key ‖ value)` expanded to
//! 2048 bytes by the ChaCha12 stream keyed with `d` (`rand_chacha::ChaCha12Rng::from_seed(d)`,
//! value-stable). Solana expands with the blake3 XOF instead; on CPUs without AVX-512
//! the XOF computes its 32 output blocks one by one (2.6 µs per entry measured here)
//! while ChaCha12 takes 0.95 µs, and the lattice needs two expansions per changed key.
//! With AVX-512F the ChaCha12 stream is computed 16 blocks at a time
//! ([`crate::keystream`]; `LtHash::add_entry`, digest included, 0.37 µs against 0.79 µs
//! through `rand_chacha` in `lthash_bench` on the Zen 4 of
//! `docs/benchmarks.md`), and the lanes are held in that computation's order: only the
//! byte form ([`LtHash::to_bytes`]) and the root use the canonical order.
//! The state's lattice hash is the lane-wise wrapping sum of its entries' vectors, so
//!
//! - it depends only on the set of entries, not on order, history or sharding;
//! - changing key `k` from `old` to `new` costs two expansions: subtract `h(k, old)`, add
//!   `h(k, new)`;
//! - per-shard lattices add up to the whole state's.
//!
//! The 32-byte state root is `blake3("supervm-root-v1" ‖ lanes as u16 LE)`, lanes in
//! canonical order.

/// Number of 16-bit lanes.
pub const LANES: usize = 1024;

/// A lattice hash of a multiset of state entries.
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash(Box<[u16; LANES]>);

impl Default for LtHash {
    fn default() -> Self {
        LtHash(Box::new([0; LANES]))
    }
}

impl std::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LtHash({})", hex32(&self.root()))
    }
}

fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl LtHash {
    /// The lattice hash of the empty state.
    pub fn zero() -> Self {
        Self::default()
    }

    /// The expanded vector of one entry, in keystream order ([`crate::keystream`]).
    fn entry_lanes(key: &[u8], value: &[u8]) -> [u16; LANES] {
        let mut h = blake3::Hasher::new();
        h.update(b"supervm-entry-v1");
        h.update(&(key.len() as u32).to_le_bytes());
        h.update(key);
        h.update(value);
        crate::keystream::expand(h.finalize().as_bytes())
    }

    /// The vector of one entry.
    pub fn of_entry(key: &[u8], value: &[u8]) -> Self {
        let mut l = Self::zero();
        l.add_entry(key, value);
        l
    }

    /// Adds one entry's vector.
    pub fn add_entry(&mut self, key: &[u8], value: &[u8]) {
        let v = Self::entry_lanes(key, value);
        for (a, b) in self.0.iter_mut().zip(v.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// Subtracts one entry's vector.
    pub fn sub_entry(&mut self, key: &[u8], value: &[u8]) {
        let v = Self::entry_lanes(key, value);
        for (a, b) in self.0.iter_mut().zip(v.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// Adds another lattice hash (multiset union).
    pub fn add(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// Subtracts another lattice hash (multiset difference).
    pub fn sub(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// Applies one change of `key`: removes `old` (if it existed), adds `new` (if it exists).
    pub fn update(&mut self, key: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) {
        if old == new {
            return;
        }
        if let Some(o) = old {
            self.sub_entry(key, o);
        }
        if let Some(n) = new {
            self.add_entry(key, n);
        }
    }

    /// The 32-byte state root.
    pub fn root(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"supervm-root-v1");
        h.update(&self.to_bytes());
        *h.finalize().as_bytes()
    }

    /// The lanes in canonical order as 2048 little-endian bytes (the on-disk form).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![0; LANES * 2];
        for (k, l) in self.0.iter().enumerate() {
            let c = crate::keystream::canonical(k);
            v[2 * c..2 * c + 2].copy_from_slice(&l.to_le_bytes());
        }
        v
    }

    /// Reads [`LtHash::to_bytes`]'s output.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != LANES * 2 {
            return None;
        }
        let mut lanes = Box::new([0u16; LANES]);
        for (k, l) in lanes.iter_mut().enumerate() {
            let c = crate::keystream::canonical(k);
            *l = u16::from_le_bytes([b[2 * c], b[2 * c + 1]]);
        }
        Some(LtHash(lanes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_invertible() {
        let mut a = LtHash::zero();
        a.update(b"k1", None, Some(b"v1"));
        a.update(b"k2", None, Some(b"v2"));
        let mut b = LtHash::zero();
        b.update(b"k2", None, Some(b"v2"));
        b.update(b"k1", None, Some(b"v1"));
        assert_eq!(a, b);
        b.update(b"k1", Some(b"v1"), Some(b"v3"));
        assert_ne!(a, b);
        b.update(b"k1", Some(b"v3"), None);
        a.update(b"k1", Some(b"v1"), None);
        assert_eq!(a, b);
        a.update(b"k2", Some(b"v2"), None);
        assert_eq!(a, LtHash::zero());
        assert_eq!(LtHash::from_bytes(&b.to_bytes()), Some(b));
    }

    /// Roots recorded before lanes were held in keystream order (and before the
    /// AVX-512 path): the commitment is value-stable.
    #[test]
    fn roots_are_value_stable() {
        let mut l = LtHash::zero();
        l.update(b"k1", None, Some(b"v1"));
        assert_eq!(
            hex32(&l.root()),
            "a677fea54c23eb09149cdc327d5a860e5ec3362ebe7484d1832ab3c92c3d1711"
        );
        l.update(b"a longer key with more bytes", None, Some(&[7u8; 100]));
        l.update(b"k1", Some(b"v1"), Some(b"v2"));
        assert_eq!(
            hex32(&l.root()),
            "a636872b43667e35ee8bd6e4d7acf314b3aaddc40f9006cdbe925224d3951f8c"
        );
        let b = l.to_bytes();
        assert_eq!(&b[..8], &[140, 18, 36, 12, 225, 17, 77, 126]);
        assert_eq!(&b[2040..], &[244, 224, 31, 248, 148, 50, 136, 142]);
        assert_eq!(LtHash::from_bytes(&b), Some(l));
    }

    #[test]
    fn key_value_boundary_is_unambiguous() {
        assert_ne!(LtHash::of_entry(b"ab", b"c"), LtHash::of_entry(b"a", b"bc"));
    }
}
