//! Byte layout of everything the store writes (`docs/design.md`, "Durable storage",
//! has the same tables). Integers in keys are big-endian so they sort numerically;
//! integers in values are little-endian.

use supervm_vm::{Address, WriteSet};

use crate::{Error, LtHash, Result};

/// The most topics an event may have: its row stores the count in one byte.
pub const MAX_EVENT_TOPICS: usize = u8::MAX as usize;
/// Column family of a shard holding state entries: state key → value.
pub const CF_STATE: &str = "state";
/// Column families of the coordinator's history.
pub const CF_BLOCKS: &str = "blocks";
/// Block hash → height (u64 BE).
pub const CF_BLOCK_HASH: &str = "block_hash";
/// Transaction hash → height ‖ index ‖ body.
pub const CF_TXS: &str = "txs";
/// height (BE) → the block's transaction hashes, concatenated in block order.
pub const CF_BLOCK_TXS: &str = "block_txs";
/// height (BE) → the block's events ([`encode_block_events`]); absent without events.
pub const CF_EVENTS: &str = "events";
/// contract ‖ height (BE) → empty: the block has events of the contract.
pub const CF_EV_CONTRACT: &str = "ev_contract";
/// digest (16) of a first topic ‖ height (BE) → empty: the block has events with it.
pub const CF_EV_TOPIC: &str = "ev_topic";
/// Shard column family: len(key) u32 BE ‖ state key ‖ height BE → the key's value
/// before that block (`0` absent, or `1 ‖ value`).
pub const CF_UNDO: &str = "undo";
/// Every coordinator column family except `default`.
pub const COORD_CFS: [&str; 7] = [
    CF_BLOCKS,
    CF_BLOCK_HASH,
    CF_TXS,
    CF_BLOCK_TXS,
    CF_EVENTS,
    CF_EV_CONTRACT,
    CF_EV_TOPIC,
];

/// Shard meta key (default CF): id of the last batch the shard applied, u64 LE.
pub const META_APPLIED: &[u8] = b"applied";
/// Shard meta key: the shard's lattice hash after that batch (2048 bytes).
pub const META_LTHASH: &[u8] = b"lthash";
/// Shard meta key prefix: `prep ‖ batch (u64 BE)` → prepare record.
pub const META_PREPARED: &[u8] = b"prep";
/// Coordinator meta key: the decision log head ([`Head`]).
pub const META_HEAD: &[u8] = b"head";
/// Coordinator meta key: the head before the last decision, written with it, so that
/// recovery can take back a decision whose batch some shard never prepared.
pub const META_PREV_HEAD: &[u8] = b"prev-head";
/// Coordinator meta key: the history floor, u64 LE (absent: 0): the height at and
/// below which the shards' compactions may have dropped undo records (bounded history,
/// `StoreConfig::history_blocks`), or a batch committed without state history wrote
/// none. Written with each decision (never lower than before, unless recovery takes
/// the decision back: [`META_PREV_HISTORY_FLOOR`]); the compactions use the one of
/// the decision before the last, or an older one (in synced steps without fsync;
/// `two_phase.rs`): reads below it stay refused whatever the configuration the store
/// is opened with later.
pub const META_HISTORY_FLOOR: &[u8] = b"history-floor";
/// Coordinator meta key: the history floor before the last decision, u64 LE (absent:
/// the history floor's value). Recovery puts it back as the floor when it takes that
/// decision back; an opening store's compactions start from it (they trail the
/// decided floor by one decision, as while the store runs).
pub const META_PREV_HISTORY_FLOOR: &[u8] = b"prev-history-floor";
/// Coordinator meta key: the shard count, u32 LE, written when the store is created.
pub const META_SHARDS: &[u8] = b"shards";
/// Coordinator meta key: the store's on-disk format, u32 LE, written when the store
/// is created; absent in stores made before formats were recorded (format 1).
pub const META_FORMAT: &[u8] = b"format";
/// The format this build reads and writes: 2 since history rows are per block, 3 since
/// undo records are grouped per key and batch, 4 since a bounded history records its
/// floor ([`META_HISTORY_FLOOR`]), which a build reading format 3 would ignore and then
/// answer reads below it from pruned undo records.
pub const FORMAT: u32 = 4;
/// The older format this build opens and marks as [`FORMAT`] (its rows are format 4's;
/// a history floor, if the build that wrote it recorded one, is honoured).
pub const FORMAT_UPGRADED: u32 = 3;
/// Meta key present while a store is open without a WAL (cleared on clean close).
pub const META_NOWAL_OPEN: &[u8] = b"nowal-open";
/// Meta key written (synced) before recovery's first write and deleted once the whole
/// state has been rescanned and hashes to the head's root: while present, every open
/// rescans, so a refused or interrupted check is never skipped by a later open.
pub const META_VERIFY_PENDING: &[u8] = b"verify-pending";

/// The shard that owns `key`: FNV-1a 64 of the key, modulo the shard count. Fixed by
/// this layout (not a library hasher) so that a store reads the same on every build.
pub fn shard_of(key: &[u8], shards: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(shards)) as u32
}

/// `prep ‖ batch`.
pub fn prepared_key(batch: u64) -> Vec<u8> {
    let mut k = META_PREPARED.to_vec();
    k.extend_from_slice(&batch.to_be_bytes());
    k
}

/// `len(key) u32 BE ‖ key ‖ height BE`: where a key's undo group lives, `height` being
/// the first block of the group (a group holds the key's undo records of one batch).
pub fn undo_key(key: &[u8], height: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 12);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The value of an undo group (one key's records within one batch, heights ascending):
/// `n × (height u64 LE ‖ opt)`, `opt` = `0` (the key was absent before that block) or
/// `1 ‖ vlen u32 ‖ value`.
pub fn encode_undo_group(records: &[(u64, Option<Vec<u8>>)]) -> Vec<u8> {
    let size: usize = records.iter().map(|(_, v)| 8 + opt_len(v)).sum();
    let mut b = Vec::with_capacity(size);
    for (h, v) in records {
        b.extend_from_slice(&h.to_le_bytes());
        put_opt(&mut b, v);
    }
    b
}

/// From an [`encode_undo_group`] value: the record of the group's first block after
/// `height` (`Some(old value)`), or `None` if the group has no block after it.
pub fn undo_after(group: &[u8], height: u64) -> Result<Option<Option<Vec<u8>>>> {
    let mut r = Reader(group, "undo group");
    if group.is_empty() {
        return Err(r.bad());
    }
    while !r.0.is_empty() {
        let h = r.u64()?;
        let v = read_opt(&mut r)?;
        if h > height {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// From an [`encode_undo_group`] value: the height of its last record, `None` if it
/// does not parse.
pub fn undo_last_height(group: &[u8]) -> Option<u64> {
    let mut r = Reader(group, "undo group");
    let mut last = None;
    while !r.0.is_empty() {
        last = Some(r.u64().ok()?);
        read_opt(&mut r).ok()?;
    }
    last
}

/// The 16-byte digest of an event topic used by the topic index.
pub fn topic_digest(topic: &[u8]) -> [u8; 16] {
    let h = blake3::hash(topic);
    let mut d = [0; 16];
    d.copy_from_slice(&h.as_bytes()[..16]);
    d
}

/// A block's `events` value: its events in position order, each
/// `tx u32 ‖ event u32 ‖ contract (32) ‖ ntopics u8 ‖ ntopics × (len u32 ‖ topic) ‖
/// len u32 ‖ data`.
pub fn encode_block_events(events: &[StoredEvent]) -> Vec<u8> {
    let size: usize = events
        .iter()
        .map(|e| 49 + e.data.len() + e.topics.iter().map(|t| 4 + t.len()).sum::<usize>())
        .sum();
    let mut b = Vec::with_capacity(size);
    for e in events {
        b.extend_from_slice(&e.tx_index.to_le_bytes());
        b.extend_from_slice(&e.event_index.to_le_bytes());
        b.extend_from_slice(&e.contract.0);
        debug_assert!(
            e.topics.len() <= MAX_EVENT_TOPICS,
            "staging refuses more topics"
        );
        b.push(e.topics.len() as u8);
        for t in &e.topics {
            put_bytes(&mut b, t);
        }
        put_bytes(&mut b, &e.data);
    }
    b
}

/// The distinct contracts and first-topic digests of a block's events: the keys of its
/// rows in the event indexes (with its height appended).
pub fn block_event_keys(events: &[StoredEvent]) -> (Vec<Address>, Vec<[u8; 16]>) {
    let contracts: std::collections::BTreeSet<Address> =
        events.iter().map(|e| e.contract).collect();
    let topics: std::collections::BTreeSet<&[u8]> = events
        .iter()
        .filter_map(|e| e.topics.first().map(Vec::as_slice))
        .collect();
    let mut digests: Vec<[u8; 16]> = topics.into_iter().map(topic_digest).collect();
    digests.sort_unstable();
    (contracts.into_iter().collect(), digests)
}

/// Reads [`encode_block_events`]'s output for the block at `height`.
pub fn decode_block_events(height: u64, value: &[u8]) -> Result<Vec<StoredEvent>> {
    BlockEvents::new(height, value).collect()
}

/// The events of one block's `events` row, decoded one at a time; events before a
/// position are skipped by their lengths, without decoding them.
pub struct BlockEvents<'a> {
    height: u64,
    r: Reader<'a>,
}

impl<'a> BlockEvents<'a> {
    /// The events of `value`, the `events` row of the block at `height`.
    pub fn new(height: u64, value: &'a [u8]) -> Self {
        BlockEvents {
            height,
            r: Reader(value, "block events"),
        }
    }

    /// Skips the events before `(tx, event)`.
    pub fn skip_before(&mut self, tx: u32, event: u32) -> Result<()> {
        while self.r.0.len() >= 8 {
            let at = (
                u32::from_le_bytes(self.r.0[..4].try_into().expect("4 bytes")),
                u32::from_le_bytes(self.r.0[4..8].try_into().expect("4 bytes")),
            );
            if at >= (tx, event) {
                break;
            }
            self.r.take(8 + 32)?;
            for _ in 0..self.r.u8()? {
                self.r.bytes()?;
            }
            self.r.bytes()?;
        }
        Ok(())
    }
}

impl Iterator for BlockEvents<'_> {
    type Item = Result<StoredEvent>;

    fn next(&mut self) -> Option<Result<StoredEvent>> {
        if self.r.0.is_empty() {
            return None;
        }
        let mut one = || -> Result<StoredEvent> {
            let r = &mut self.r;
            let tx_index = r.u32()?;
            let event_index = r.u32()?;
            let contract = Address(r.array32()?);
            let n = r.u8()?;
            let mut topics = Vec::with_capacity(n as usize);
            for _ in 0..n {
                topics.push(r.bytes()?.to_vec());
            }
            Ok(StoredEvent {
                height: self.height,
                tx_index,
                event_index,
                contract,
                topics,
                data: r.bytes()?.to_vec(),
            })
        };
        let e = one();
        if e.is_err() {
            self.r.0 = &[]; // (one error, then the end)
        }
        Some(e)
    }
}

/// The `ev_contract` key of a block with events of `contract`.
pub fn ev_contract_key(contract: &Address, height: u64) -> Vec<u8> {
    [&contract.0[..], &height.to_be_bytes()].concat()
}

/// The `ev_topic` key of a block with events whose first topic has `digest`.
pub fn ev_topic_key(digest: &[u8; 16], height: u64) -> Vec<u8> {
    [&digest[..], &height.to_be_bytes()].concat()
}

/// A shard's prepare record: the batch's final writes to the shard's keys and the
/// shard's lattice hash after them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The batch.
    pub batch: u64,
    /// The shard's lattice hash once the writes are applied.
    pub lthash: LtHash,
    /// Key → new value (`None`: delete), in key order.
    pub writes: WriteSet,
    /// Undo records of the shard's keys.
    pub undo: UndoRows,
}

/// One key's undo records within one batch: the key, and for each block of the batch
/// that changed it (heights ascending) the key's value before that block (`None`:
/// absent).
pub type UndoGroup = (Vec<u8>, Vec<(u64, Option<Vec<u8>>)>);

/// A shard's undo records of one batch: one group per key, in state-key order (as the
/// writes; undo row keys sort by key length first, so among keys of one length, which
/// contract storage keys mostly share, a write batch inserts each row next to the
/// previous one).
pub type UndoRows = Vec<UndoGroup>;

/// How many bytes [`put_opt`] writes for `v`.
fn opt_len(v: &Option<Vec<u8>>) -> usize {
    1 + v.as_ref().map_or(0, |v| 4 + v.len())
}

fn put_opt(b: &mut Vec<u8>, v: &Option<Vec<u8>>) {
    match v {
        None => b.push(0),
        Some(v) => {
            b.push(1);
            put_bytes(b, v);
        }
    }
}

fn read_opt(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(r.bytes()?.to_vec())),
        _ => Err(r.bad()),
    }
}

impl Prepared {
    /// `batch u64 LE ‖ lthash (2048) ‖ count u32 ‖ (klen u32 ‖ key ‖ opt)* ‖ groups u32 ‖
    /// (klen u32 ‖ key ‖ n u32 ‖ (height u64 ‖ opt) × n)*` where `opt` is `0` (absent /
    /// delete) or `1 ‖ vlen u32 ‖ value`: the undo records grouped by key
    /// ([`UndoRows`]), each key written once.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.encoded_len());
        b.extend_from_slice(&self.batch.to_le_bytes());
        b.extend_from_slice(&self.lthash.to_bytes());
        b.extend_from_slice(&(self.writes.len() as u32).to_le_bytes());
        for (k, v) in &self.writes {
            put_bytes(&mut b, k);
            put_opt(&mut b, v);
        }
        b.extend_from_slice(&(self.undo.len() as u32).to_le_bytes());
        for (k, records) in &self.undo {
            debug_assert!(!records.is_empty(), "an empty undo group");
            put_bytes(&mut b, k);
            b.extend_from_slice(&(records.len() as u32).to_le_bytes());
            for (h, v) in records {
                b.extend_from_slice(&h.to_le_bytes());
                put_opt(&mut b, v);
            }
        }
        b
    }

    /// The length of [`Prepared::encode`]'s output (about the bytes of keys and values
    /// its apply writes to a shard, less the metadata rows and the undo rows' heights).
    pub fn encoded_len(&self) -> usize {
        let writes: usize = self
            .writes
            .iter()
            .map(|(k, v)| 4 + k.len() + opt_len(v))
            .sum();
        let undo: usize = self
            .undo
            .iter()
            .map(|(k, records)| {
                8 + k.len() + records.iter().map(|(_, v)| 8 + opt_len(v)).sum::<usize>()
            })
            .sum();
        8 + 2048 + 4 + writes + 4 + undo
    }

    /// Reads [`Prepared::encode`]'s output.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut r = Reader(b, "prepare record");
        let batch = r.u64()?;
        let lthash = LtHash::from_bytes(r.take(2048)?).ok_or_else(|| r.bad())?;
        let n = r.u32()?;
        let mut writes = WriteSet::new();
        for _ in 0..n {
            let k = r.bytes()?.to_vec();
            let v = read_opt(&mut r)?;
            writes.insert(k, v);
        }
        let groups = r.u32()?;
        let mut undo = Vec::with_capacity((groups as usize).min(r.0.len()));
        for _ in 0..groups {
            let k = r.bytes()?.to_vec();
            let n = r.u32()?;
            if n == 0 {
                return Err(r.bad());
            }
            let mut records = Vec::with_capacity((n as usize).min(r.0.len()));
            for _ in 0..n {
                let h = r.u64()?;
                records.push((h, read_opt(&mut r)?));
            }
            undo.push((k, records));
        }
        r.end()?;
        Ok(Prepared {
            batch,
            lthash,
            writes,
            undo,
        })
    }
}

/// The coordinator's decision-log head: the last committed batch and the chain tip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Id of the last committed batch (0: none yet).
    pub batch: u64,
    /// Number of blocks committed (the last block's height + 1; 0: none).
    pub blocks: u64,
    /// Hash of the last block (zero when none).
    pub block_hash: [u8; 32],
    /// Lattice hash of the whole state after the last batch.
    pub lthash: LtHash,
}

impl Head {
    /// The head of an empty store.
    pub fn genesis() -> Self {
        Head {
            batch: 0,
            blocks: 0,
            block_hash: [0; 32],
            lthash: LtHash::zero(),
        }
    }

    /// `batch u64 LE ‖ blocks u64 LE ‖ block_hash (32) ‖ lthash (2048)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(2096);
        b.extend_from_slice(&self.batch.to_le_bytes());
        b.extend_from_slice(&self.blocks.to_le_bytes());
        b.extend_from_slice(&self.block_hash);
        b.extend_from_slice(&self.lthash.to_bytes());
        b
    }

    /// Reads [`Head::encode`]'s output.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let mut r = Reader(b, "head record");
        let batch = r.u64()?;
        let blocks = r.u64()?;
        let block_hash = r.array32()?;
        let lthash = LtHash::from_bytes(r.take(2048)?).ok_or_else(|| r.bad())?;
        r.end()?;
        Ok(Head {
            batch,
            blocks,
            block_hash,
            lthash,
        })
    }
}

/// An event as the history stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Block height.
    pub height: u64,
    /// Index of the transaction in its block.
    pub tx_index: u32,
    /// Index of the event in its transaction.
    pub event_index: u32,
    /// The emitting contract.
    pub contract: Address,
    /// Topics.
    pub topics: Vec<Vec<u8>>,
    /// Data.
    pub data: Vec<u8>,
}

pub(crate) fn put_bytes(b: &mut Vec<u8>, x: &[u8]) {
    b.extend_from_slice(&(x.len() as u32).to_le_bytes());
    b.extend_from_slice(x);
}

/// A bounds-checked reader over a stored record.
pub(crate) struct Reader<'a>(pub &'a [u8], pub &'static str);

impl<'a> Reader<'a> {
    pub fn bad(&self) -> Error {
        Error::Corrupt(format!("malformed {}", self.1))
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(self.bad());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn u64_be(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    pub fn array32(&mut self) -> Result<[u8; 32]> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn end(&self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.bad())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last record's height, whatever the values; `None` for what does not parse
    /// (the compaction filter then keeps the row).
    #[test]
    fn an_undo_groups_last_height_is_its_last_records() {
        let a = encode_undo_group(&[(2, None), (7, Some(vec![])), (9, Some(b"y".to_vec()))]);
        assert_eq!(undo_last_height(&a), Some(9));
        assert_eq!(undo_last_height(&encode_undo_group(&[(5, None)])), Some(5));
        assert_eq!(undo_last_height(&a[..a.len() - 1]), None);
        assert_eq!(undo_last_height(&[1, 2, 3]), None);
    }

    #[test]
    fn undo_groups_answer_the_first_block_after_a_height() {
        let a = encode_undo_group(&[(2, None), (7, Some(vec![])), (9, Some(b"y".to_vec()))]);
        assert_eq!(undo_after(&a, 0).unwrap(), Some(None));
        assert_eq!(undo_after(&a, 2).unwrap(), Some(Some(vec![])));
        assert_eq!(undo_after(&a, 7).unwrap(), Some(Some(b"y".to_vec())));
        assert_eq!(undo_after(&a, 9).unwrap(), None);
        assert!(undo_after(&[], 0).is_err());
        assert!(undo_after(&a[..a.len() - 1], 8).is_err());
        // A prepare record with an empty group is malformed.
        let p = Prepared {
            batch: 1,
            lthash: LtHash::zero(),
            writes: WriteSet::new(),
            undo: vec![],
        };
        let mut b = p.encode();
        b.truncate(b.len() - 4);
        b.extend_from_slice(&1u32.to_le_bytes());
        put_bytes(&mut b, b"k");
        b.extend_from_slice(&0u32.to_le_bytes());
        assert!(Prepared::decode(&b).is_err());
    }

    #[test]
    fn records_round_trip() {
        let mut writes = WriteSet::new();
        writes.insert(b"a".to_vec(), Some(b"1".to_vec()));
        writes.insert(b"b".to_vec(), None);
        let p = Prepared {
            batch: 7,
            lthash: LtHash::of_entry(b"x", b"y"),
            writes,
            undo: vec![
                (b"a".to_vec(), vec![(3, None), (4, Some(b"1".to_vec()))]),
                (b"c".to_vec(), vec![(4, Some(vec![]))]),
            ],
        };
        assert_eq!(Prepared::decode(&p.encode()).unwrap(), p);
        assert_eq!(p.encode().len(), p.encoded_len());
        let h = Head {
            batch: 3,
            blocks: 9,
            block_hash: [5; 32],
            lthash: LtHash::of_entry(b"q", b"r"),
        };
        assert_eq!(Head::decode(&h.encode()).unwrap(), h);
        let e = StoredEvent {
            height: 4,
            tx_index: 2,
            event_index: 1,
            contract: Address([3; 32]),
            topics: vec![b"Transfer".to_vec(), vec![1, 2]],
            data: vec![9, 9],
        };
        let mut f = e.clone();
        f.event_index = 2;
        f.topics.clear();
        let v = encode_block_events(&[e.clone(), f.clone()]);
        assert_eq!(decode_block_events(4, &v).unwrap(), vec![e, f.clone()]);
        assert!(decode_block_events(4, &v[..v.len() - 1]).is_err());
        let mut it = BlockEvents::new(4, &v);
        it.skip_before(2, 2).unwrap();
        assert_eq!(it.map(Result::unwrap).collect::<Vec<_>>(), vec![f]);
        let mut it = BlockEvents::new(4, &v);
        it.skip_before(9, 0).unwrap();
        assert!(it.next().is_none());
        assert!(Prepared::decode(&p.encode()[..100]).is_err());
    }

    #[test]
    fn shard_of_is_the_documented_fnv() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c.
        assert_eq!(
            shard_of(b"a", 1 << 31),
            (0xaf63dc4c8601ec8cu64 % (1 << 31)) as u32
        );
    }
}
