//! History the node serves: blocks by height and hash, transactions by hash, events by
//! contract and topic. Written with each batch's decision, before the shards apply the
//! batch's state; so reads show only blocks below the published head (moved once the
//! apply finished), and history and state never disagree about what is committed.

use rocksdb::{Direction, IteratorMode};
use supervm_vm::Address;

use crate::error::RocksExt;
use crate::layout::{
    self, CF_BLOCK_HASH, CF_BLOCK_TXS, CF_BLOCKS, CF_EV_CONTRACT, CF_EV_TOPIC, CF_EVENTS, CF_TXS,
    Reader, StoredEvent,
};
use crate::{Result, Store};

/// A committed block as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlock {
    /// Height.
    pub height: u64,
    /// Hash.
    pub hash: [u8; 32],
    /// State root after it.
    pub state_root: [u8; 32],
    /// The commit batch it was part of.
    pub batch: u64,
    /// Number of transactions.
    pub tx_count: u32,
    /// The node's encoded header.
    pub header: Vec<u8>,
}

/// A committed transaction as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTx {
    /// Block height.
    pub height: u64,
    /// Index in the block.
    pub index: u32,
    /// The node's body (transaction and receipt).
    pub body: Vec<u8>,
}

/// The position of an event: `(height, tx index, event index)`.
pub type EventPos = (u64, u32, u32);

/// An event query. Heights are inclusive; `after` is the cursor of the last event seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this contract.
    pub contract: Option<Address>,
    /// Per position, the topic required there (`None`: any).
    pub topics: Vec<Option<Vec<u8>>>,
    /// Lowest height.
    pub from_height: u64,
    /// Highest height (`None`: the latest).
    pub to_height: Option<u64>,
    /// Resume after this event position `(height, tx, event)`.
    pub after: Option<(u64, u32, u32)>,
    /// Most events to return.
    pub limit: usize,
}

impl Store {
    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.coord.cf_handle(name).expect("column family exists")
    }

    /// The block at `height`.
    pub fn block_by_height(&self, height: u64) -> Result<Option<StoredBlock>> {
        // (only blocks of a batch whose state is applied are readable)
        if height >= self.committed_blocks() {
            return Ok(None);
        }
        let Some(v) = self
            .coord
            .get_cf(self.cf(CF_BLOCKS), height.to_be_bytes())
            .ctx(|| format!("block {height}"))?
        else {
            return Ok(None);
        };
        let mut r = Reader(&v, "block record");
        Ok(Some(StoredBlock {
            height,
            hash: r.array32()?,
            state_root: r.array32()?,
            batch: r.u64()?,
            tx_count: r.u32()?,
            header: r.0.to_vec(),
        }))
    }

    /// The block with this hash.
    pub fn block_by_hash(&self, hash: &[u8; 32]) -> Result<Option<StoredBlock>> {
        let Some(h) = self
            .coord
            .get_cf(self.cf(CF_BLOCK_HASH), hash)
            .ctx(|| "block by hash".into())?
        else {
            return Ok(None);
        };
        let height = Reader(&h, "block hash index").u64_be()?;
        self.block_by_height(height)
    }

    /// The transaction with this hash.
    pub fn tx(&self, hash: &[u8; 32]) -> Result<Option<StoredTx>> {
        let Some(v) = self
            .coord
            .get_cf(self.cf(CF_TXS), hash)
            .ctx(|| "transaction by hash".into())?
        else {
            return Ok(None);
        };
        let mut r = Reader(&v, "transaction record");
        let t = StoredTx {
            height: r.u64()?,
            index: r.u32()?,
            body: r.0.to_vec(),
        };
        Ok((t.height < self.committed_blocks()).then_some(t))
    }

    /// The hashes of a block's transactions, in order.
    pub fn block_tx_hashes(&self, height: u64) -> Result<Vec<[u8; 32]>> {
        if height >= self.committed_blocks() {
            return Ok(vec![]);
        }
        let row = self
            .coord
            .get_cf(self.cf(CF_BLOCK_TXS), height.to_be_bytes())
            .ctx(|| format!("transactions of block {height}"))?;
        split_hashes(row.as_deref().unwrap_or_default())
    }

    /// Events matching `f`, in chain order, at most `f.limit` (capped at 10,000); a page
    /// ends with the event that brings its data and topics to [`MAX_PAGE_BYTES`] (so it
    /// may pass that by one event). The second value is the cursor to pass as `after`
    /// for the next page (`None`: done).
    /// One page looks at no more than [`MAX_EVENTS_SCANNED`] events, counting every
    /// event of the blocks the chosen index lists (other contracts' events in a block
    /// listed by the contract index, events whose later topics do not match): any filter
    /// can make a page end with fewer events, even none, and a cursor to go on from.
    ///
    /// The indexes name blocks (by contract, by first topic); each block's events are
    /// one row, read here and filtered, the events before the cursor skipped undecoded.
    pub fn events(&self, f: &EventFilter) -> Result<(Vec<StoredEvent>, Option<EventPos>)> {
        let limit = f.limit.clamp(1, 10_000);
        let Some(visible) = self.committed_blocks().checked_sub(1) else {
            return Ok((vec![], None));
        };
        let to = f.to_height.unwrap_or(u64::MAX).min(visible);
        let floor = (f.from_height, 0, 0);
        let start = match f.after {
            Some((h, t, e)) => next_pos(h, t, e).map(|p| p.max(floor)),
            None => Some(floor),
        };
        let Some(start) = start else {
            return Ok((vec![], None));
        };
        // Pick an index: the contract's, else the first topic's (the event name, the only
        // topic indexed), else every block with events.
        let first_topic = f.topics.first().and_then(|t| t.as_ref());
        let (cf, prefix): (&str, Vec<u8>) = match (&f.contract, first_topic) {
            (Some(c), _) => (CF_EV_CONTRACT, c.0.to_vec()),
            (None, Some(t)) => (CF_EV_TOPIC, layout::topic_digest(t).to_vec()),
            (None, None) => (CF_EVENTS, vec![]),
        };
        let mut seek = prefix.clone();
        seek.extend_from_slice(&start.0.to_be_bytes());
        let mut out = Vec::new();
        let mut scanned = 0usize;
        let mut bytes = 0usize;
        let events_cf = self.cf(CF_EVENTS);
        for item in self
            .coord
            .iterator_cf(self.cf(cf), IteratorMode::From(&seek, Direction::Forward))
        {
            let (k, v) = item.ctx(|| "event index".into())?;
            if !k.starts_with(&prefix) {
                break;
            }
            if k.len() != prefix.len() + 8 {
                return Err(crate::Error::Corrupt(format!(
                    "a {cf} row's key is {} bytes, not {}",
                    k.len(),
                    prefix.len() + 8
                )));
            }
            let height = u64::from_be_bytes(k[prefix.len()..].try_into().expect("8 bytes"));
            if height > to {
                break;
            }
            let fetched;
            let row: &[u8] = if cf == CF_EVENTS {
                &v
            } else {
                fetched = self
                    .coord
                    .get_pinned_cf(events_cf, height.to_be_bytes())
                    .ctx(|| format!("events of block {height}"))?
                    .ok_or_else(|| {
                        crate::Error::Corrupt(format!(
                            "event index points at block {height}, which has no events"
                        ))
                    })?;
                &fetched
            };
            // (events before the cursor are skipped undecoded: paging through a block
            // with many events decodes each of them once)
            let mut events = layout::BlockEvents::new(height, row);
            if height == start.0 {
                events.skip_before(start.1, start.2)?;
            }
            for e in events {
                let e = e?;
                let at = (e.height, e.tx_index, e.event_index);
                scanned += 1;
                let topics_match = f.topics.iter().enumerate().all(|(i, want)| match want {
                    None => true,
                    Some(t) => e.topics.get(i) == Some(t),
                });
                if topics_match && f.contract.is_none_or(|c| c == e.contract) {
                    bytes += e.data.len() + e.topics.iter().map(Vec::len).sum::<usize>();
                    out.push(e);
                    if out.len() == limit || bytes >= MAX_PAGE_BYTES {
                        return Ok((out, Some(at)));
                    }
                }
                if scanned == MAX_EVENTS_SCANNED {
                    return Ok((out, Some(at)));
                }
            }
        }
        Ok((out, None))
    }
}

/// Most events one page of [`Store::events`](crate::Store::events) looks at.
pub const MAX_EVENTS_SCANNED: usize = 10_000;

/// A page of [`Store::events`](crate::Store::events) ends once its events' data and
/// topics reach this many bytes (a page of 1,000 events of 8 KiB each was 16 MiB of
/// hex in one answer).
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// The event position right after `(h, t, e)`.
fn next_pos(h: u64, t: u32, e: u32) -> Option<EventPos> {
    if let Some(e) = e.checked_add(1) {
        return Some((h, t, e));
    }
    if let Some(t) = t.checked_add(1) {
        return Some((h, t, 0));
    }
    h.checked_add(1).map(|h| (h, 0, 0))
}

/// A `block_txs` row as hashes.
fn split_hashes(row: &[u8]) -> Result<Vec<[u8; 32]>> {
    if !row.len().is_multiple_of(32) {
        return Err(crate::Error::Corrupt(format!(
            "a block's transaction list has {} bytes, not a multiple of 32",
            row.len()
        )));
    }
    Ok(row
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect())
}

/// A write batch deleting the history rows of blocks `from..to` (a decision taken back
/// by recovery: its batch was never prepared on every shard, so never acknowledged):
/// the blocks, their hash index, their transactions (a transaction row only while it
/// still points into that range) and their events with both event indexes.
///
/// A transaction row is keyed by the transaction's hash alone: had the batch included a
/// transaction committed earlier, its decision overwrote that row and taking it back
/// loses it. Nodes refuse committed hashes at admission, so no batch does.
pub(crate) fn take_back_rows(
    coord: &rocksdb::DB,
    from: u64,
    to: u64,
    batch: u64,
) -> Result<rocksdb::WriteBatch> {
    let cf = |n| coord.cf_handle(n).expect("column family exists");
    let mut wb = rocksdb::WriteBatch::default();
    for h in from..to {
        let key = h.to_be_bytes();
        if let Some(v) = coord
            .get_cf(cf(CF_BLOCKS), key)
            .ctx(|| format!("read block {h} to take back"))?
        {
            let mut r = Reader(&v, "block");
            let hash = r.array32()?;
            let _state_root = r.array32()?;
            let written_by = r.u64()?;
            if written_by != batch {
                return Err(crate::Error::Corrupt(format!(
                    "block {h} to take back with batch {batch} was written by batch {written_by}"
                )));
            }
            wb.delete_cf(cf(CF_BLOCK_HASH), hash);
            wb.delete_cf(cf(CF_BLOCKS), key);
        }
        let hashes = coord
            .get_cf(cf(CF_BLOCK_TXS), key)
            .ctx(|| format!("read the transactions of block {h} to take back"))?;
        for tx_hash in split_hashes(hashes.as_deref().unwrap_or_default())? {
            let row = coord
                .get_cf(cf(CF_TXS), tx_hash)
                .ctx(|| "read a transaction to take back".into())?;
            if let Some(row) = row
                && Reader(&row, "transaction").u64()? == h
            {
                wb.delete_cf(cf(CF_TXS), tx_hash);
            }
        }
        wb.delete_cf(cf(CF_BLOCK_TXS), key);
        let events = coord
            .get_cf(cf(CF_EVENTS), key)
            .ctx(|| format!("read the events of block {h} to take back"))?;
        if let Some(events) = events {
            let (contracts, topics) =
                layout::block_event_keys(&layout::decode_block_events(h, &events)?);
            for c in contracts {
                wb.delete_cf(cf(CF_EV_CONTRACT), layout::ev_contract_key(&c, h));
            }
            for t in topics {
                wb.delete_cf(cf(CF_EV_TOPIC), layout::ev_topic_key(&t, h));
            }
            wb.delete_cf(cf(CF_EVENTS), key);
        }
    }
    Ok(wb)
}
