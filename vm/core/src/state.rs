//! The state seam: everything a transaction reads goes through [`StateView`];
//! everything it writes comes back as a [`WriteSet`] in its receipt.
//!
//! The sequential executor reads from [`InMemoryState`]; the parallel scheduler
//! supplies a multi-version view; durable storage supplies a cached RocksDB view.
//!
//! Key layout (one flat, ordered key space; `docs/design.md` has the bytes):
//!
//! | prefix | rest | value |
//! |---|---|---|
//! | `0x00` | contract address (32) ‖ contract key | contract storage value |
//! | `0x01` | code hash (32) | wasm code as uploaded |
//! | `0x02` | contract address (32) | [`ContractRecord`] |

use std::collections::{BTreeMap, BTreeSet, HashMap};

use supervm_abi::Address;

use crate::error::StateError;

/// Prefix of contract storage keys.
pub const PREFIX_STORAGE: u8 = 0x00;
/// Prefix of code keys.
pub const PREFIX_CODE: u8 = 0x01;
/// Prefix of contract records.
pub const PREFIX_CONTRACT: u8 = 0x02;

/// The state key of a contract's storage key.
pub fn storage_key(contract: &Address, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + key.len());
    k.push(PREFIX_STORAGE);
    k.extend_from_slice(&contract.0);
    k.extend_from_slice(key);
    k
}

/// The state key of uploaded code.
pub fn code_key(hash: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(PREFIX_CODE);
    k.extend_from_slice(hash);
    k
}

/// The state key of a contract's record.
pub fn contract_key(addr: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(PREFIX_CONTRACT);
    k.extend_from_slice(&addr.0);
    k
}

/// What the state holds about a deployed contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractRecord {
    /// Hash of its current code.
    pub code_hash: [u8; 32],
    /// Who deployed it.
    pub deployer: Address,
}

impl ContractRecord {
    /// Encodes as `code_hash (32) ‖ deployer (32)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&self.code_hash);
        v.extend_from_slice(&self.deployer.0);
        v
    }

    /// Decodes [`ContractRecord::encode`]'s output.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 64 {
            return None;
        }
        let mut code_hash = [0; 32];
        code_hash.copy_from_slice(&b[..32]);
        let mut d = [0; 32];
        d.copy_from_slice(&b[32..]);
        Some(ContractRecord {
            code_hash,
            deployer: Address(d),
        })
    }
}

/// Read access to state as of some point (a block, or a transaction's position
/// in a block). Implementations must be deterministic: the same key gives the
/// same answer for the same position.
pub trait StateView: Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// The smallest key that starts with `prefix` and is strictly greater than
    /// `after` (or the smallest with `prefix` when `after` is `None`).
    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError>;
}

/// The key range one [`StateView::next_key`] step searches: keys at or above `prefix`,
/// strictly above `after` when that is inside or beyond the prefix. Callers stop at
/// the first key that no longer starts with `prefix`. For `BTreeMap`/`BTreeSet` keyed
/// by `Vec<u8>`: `.range::<[u8], _>(next_key_range(prefix, after))`.
pub fn next_key_range<'a>(
    prefix: &'a [u8],
    after: Option<&'a [u8]>,
) -> (std::ops::Bound<&'a [u8]>, std::ops::Bound<&'a [u8]>) {
    use std::ops::Bound;
    let lower = match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    };
    (lower, Bound::Unbounded)
}

/// The writes of a transaction: key to new value, `None` meaning deleted.
/// Ordered, so it serializes and hashes deterministically.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// One read of a key, with the value seen (`None`: absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRead {
    /// The key.
    pub key: Vec<u8>,
    /// The value the transaction saw.
    pub value: Option<Vec<u8>>,
}

/// One step of a prefix iteration, with the key it found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRead {
    /// The prefix iterated.
    pub prefix: Vec<u8>,
    /// The exclusive lower bound (`None`: start of the prefix).
    pub after: Option<Vec<u8>>,
    /// The key found in the underlying state (`None`: none).
    pub found: Option<Vec<u8>>,
}

/// Everything a transaction read from the state below it, each list in first-read
/// order. Reads served from the transaction's own writes are not included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSet {
    /// Point reads (once the transaction is done, of absent values and values of at
    /// most [`DIGEST_READS_OVER`] bytes; longer ones are in `digests`).
    pub keys: Vec<KeyRead>,
    /// Prefix-iteration steps (for phantom-read validation).
    pub ranges: Vec<RangeRead>,
    /// Keys the transaction only added to or subtracted from (`storage_add`), never
    /// read: what it depends on is that the value lay in a range, not the value.
    pub deltas: Vec<DeltaRead>,
    /// Code keys whose presence the transaction checked (upload, deploy by hash,
    /// `upgrade`): kept without the code, up to `max_code_size` bytes each.
    pub codes: Vec<CodeRead>,
    /// Point reads of values longer than [`DIGEST_READS_OVER`] bytes, kept as a digest
    /// of the value seen (the read sets of a block's transactions are held until the
    /// block is done: a transaction reading thousands of 64 KiB values kept them all).
    pub digests: Vec<DigestRead>,
}

impl ReadSet {
    /// The keys of every point read: plain, code presence and digest reads (not delta
    /// reads or iteration steps), for what looks at which keys a transaction read.
    pub fn point_keys(&self) -> impl Iterator<Item = &[u8]> {
        let keys = self.keys.iter().map(|k| k.key.as_slice());
        let codes = self.codes.iter().map(|c| c.key.as_slice());
        keys.chain(codes)
            .chain(self.digests.iter().map(|d| d.key.as_slice()))
    }
}

impl CodeRead {
    /// Whether `now` (the code key's value read now, `None`: absent) agrees with this
    /// read: code is stored under its hash, so its presence decides its value.
    pub fn holds(&self, now: Option<&[u8]>) -> bool {
        now.is_some() == self.len.is_some()
    }
}

/// Values read longer than this many bytes are kept in a finished read set as a
/// [`DigestRead`], not whole. (A contract record is exactly 64 bytes and stays whole:
/// tests and tools look for it among the point reads.)
pub const DIGEST_READS_OVER: usize = 64;

/// A point read of a present value longer than [`DIGEST_READS_OVER`] bytes: the
/// blake3 digest of the value seen. A scheduler validates it by the digest of the
/// value there now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestRead {
    /// The key.
    pub key: Vec<u8>,
    /// blake3 of the value the transaction saw.
    pub digest: [u8; 32],
}

impl DigestRead {
    /// The digest a read of `value` keeps.
    pub fn digest_of(value: &[u8]) -> [u8; 32] {
        *blake3::hash(value).as_bytes()
    }

    /// Whether `now` (a value read now, `None`: absent) is the value this read saw.
    pub fn holds(&self, now: Option<&[u8]>) -> bool {
        now.is_some_and(|v| v.len() > DIGEST_READS_OVER && Self::digest_of(v) == self.digest)
    }
}

/// A check of whether code is stored under a code key. Code is stored under its own
/// hash and never changed or deleted, so its presence decides its value (and length):
/// a scheduler validates the presence. A transaction that read the code itself
/// records a [`KeyRead`] instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRead {
    /// The code key.
    pub key: Vec<u8>,
    /// The code's length, or `None` if it was absent.
    pub len: Option<usize>,
}

/// A key a transaction changed only through `storage_add` (checked `u128` additions
/// and subtractions whose result the contract never sees): its outcome, gas, events
/// and every other write are the same for any value `v` of the key below it with
/// `lo <= v <= hi` (absent counts as 0), and its write of the key is then
/// `v + (written - seen)`. A scheduler may therefore validate the range instead of
/// the value, and rebase the write (see `docs/design.md`, "Delta reads").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaRead {
    /// The key.
    pub key: Vec<u8>,
    /// The value the execution saw below it (`None`: absent; always 16 bytes when
    /// present).
    pub seen: Option<Vec<u8>>,
    /// The least value below for which the transaction behaves the same.
    pub lo: u128,
    /// The greatest such value.
    pub hi: u128,
}

/// A stored value as a `u128` (16 bytes, little-endian; absent is 0), or `None` when it
/// is not one.
pub fn decode_u128(value: Option<&[u8]>) -> Option<u128> {
    match value {
        None => Some(0),
        Some(b) => Some(u128::from_le_bytes(b.try_into().ok()?)),
    }
}

impl DeltaRead {
    /// The value `written` (what this execution wrote for the key, a `u128`) rebased
    /// onto `below` (the key's value under the transaction now): `None` unless `below`
    /// is a `u128` in `lo..=hi`, the only values for which the rebase is the write
    /// the transaction would make.
    pub fn rebase(&self, below: Option<&[u8]>, written: u128) -> Option<u128> {
        let v = decode_u128(below)?;
        if v < self.lo || v > self.hi {
            return None;
        }
        let seen = decode_u128(self.seen.as_deref())?;
        if written >= seen {
            v.checked_add(written - seen)
        } else {
            v.checked_sub(seen - written)
        }
    }

    /// Whether `below` (the key's value under the transaction now) is in the range.
    pub fn holds(&self, below: Option<&[u8]>) -> bool {
        decode_u128(below).is_some_and(|v| self.lo <= v && v <= self.hi)
    }
}

/// A simple in-memory state: the reference backend of the sequential executor
/// and of the differential tests. Point reads go to a hash map; ordered
/// iteration uses a separate key set.
#[derive(Clone, Debug, Default)]
pub struct InMemoryState {
    values: HashMap<Vec<u8>, Vec<u8>, foldhash::fast::RandomState>,
    keys: BTreeSet<Vec<u8>>,
}

impl PartialEq for InMemoryState {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
            && self
                .keys
                .iter()
                .all(|k| self.values.get(k) == other.values.get(k))
    }
}

impl Eq for InMemoryState {}

impl InMemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(&mut self, k: Vec<u8>, v: Option<Vec<u8>>) {
        match v {
            Some(v) => match self.values.entry(k) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    e.insert(v);
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    self.keys.insert(e.key().clone());
                    e.insert(v);
                }
            },
            None => {
                if self.values.remove(&k).is_some() {
                    self.keys.remove(&k);
                }
            }
        }
    }

    /// Applies a write set.
    pub fn apply(&mut self, writes: &WriteSet) {
        self.apply_writes(writes);
    }

    /// Applies writes held in any form (a block's [`WriteLayer`](crate::WriteLayer)):
    /// each key once, so their order does not matter.
    pub fn apply_writes(&mut self, writes: &impl crate::layer::WriteEntries) {
        for (k, v) in writes.write_entries() {
            self.set(k.to_vec(), v.clone());
        }
    }

    /// Applies a write set, taking ownership (no copies).
    pub fn apply_owned(&mut self, writes: WriteSet) {
        for (k, v) in writes {
            self.set(k, v);
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// All entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
        self.keys.iter().map(|k| (k, &self.values[k]))
    }

    /// A blake3 hash of every entry in key order: `H(len(k) ‖ k ‖ len(v) ‖ v ...)` with
    /// 4-byte little-endian lengths. Two states are equal iff their hashes are (whp).
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        for (k, v) in self.iter() {
            h.update(&(k.len() as u32).to_le_bytes());
            h.update(k);
            h.update(&(v.len() as u32).to_le_bytes());
            h.update(v);
        }
        *h.finalize().as_bytes()
    }
}

impl StateView for InMemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.values.get(key).cloned())
    }

    fn next_key(&self, prefix: &[u8], after: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .keys
            .range::<[u8], _>(next_key_range(prefix, after))
            .next()
            .filter(|k| k.starts_with(prefix))
            .cloned())
    }
}
