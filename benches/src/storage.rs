//! Durable-storage workloads: raw puts through the 2PC store against a raw
//! single-instance RocksDB `WriteBatch`, and real token transfers executed by the
//! parallel VM and committed durably.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rocksdb::{DB, DBCompressionType, Options, WriteBatch, WriteOptions};
use supervm_store::{BlockRecord, Durability, Staging, Store, StoreConfig, TxEntry};
use supervm_vm::{WriteEntries, WriteSet};

/// A raw single-instance RocksDB with the same per-instance options as a store shard.
pub fn raw_db(dir: &Path) -> DB {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.set_write_buffer_size(64 << 20);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_max_background_jobs(2);
    DB::open(&o, dir).expect("open raw rocksdb")
}

/// Write options of the raw baseline matching a store durability mode.
pub fn raw_write_options(d: Durability) -> WriteOptions {
    let mut w = WriteOptions::default();
    match d {
        Durability::Fsync => w.set_sync(true),
        Durability::NoFsyncLosesRecentOnPowerLoss => w.set_sync(false),
        Durability::NoWalUnrecoverableOnCrash => w.disable_wal(true),
    }
    w
}

/// Commits `groups` (each a write group) to a raw RocksDB, `sizes[i]` groups per
/// `WriteBatch` holding the final value of each key written in those groups (the same
/// keys the 2PC path writes); returns the time of building the batches and writing
/// them. Merging the groups into their final values happens before the clock starts,
/// as the 2PC path's merge does (in `Staging::seal`, before `Store::commit`).
#[allow(clippy::disallowed_methods)] // a benchmark times things
pub fn raw_commit(dir: &Path, d: Durability, groups: &[WriteSet], sizes: &[usize]) -> Duration {
    let db = raw_db(dir);
    let wo = raw_write_options(d);
    let mut merged_batches = Vec::new();
    let mut i = 0;
    for &n in sizes {
        let mut merged: std::collections::BTreeMap<&Vec<u8>, &Option<Vec<u8>>> = Default::default();
        for g in &groups[i..(i + n).min(groups.len())] {
            merged.extend(g.iter());
        }
        merged_batches.push(merged);
        i += n;
        if i >= groups.len() {
            break;
        }
    }
    let start = Instant::now();
    for merged in merged_batches {
        let mut wb = WriteBatch::default();
        for (k, v) in merged {
            match v {
                Some(v) => wb.put(k, v),
                None => wb.delete(k),
            }
        }
        db.write_opt(wb, &wo).expect("raw write");
    }
    start.elapsed()
}

/// `n` write groups of `per_group` random puts each: 41-byte storage keys (prefix,
/// contract, slot) over a space of 4 million, 16-byte values.
pub fn put_groups(n: usize, per_group: usize, seed: u64) -> Vec<WriteSet> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (0..per_group)
                .map(|_| {
                    let mut k = vec![0u8];
                    k.extend_from_slice(&[0x42; 32]);
                    k.extend_from_slice(&rng.gen_range(0u64..4_000_000).to_be_bytes());
                    (k, Some(rng.r#gen::<[u8; 16]>().to_vec()))
                })
                .collect()
        })
        .collect()
}

/// A store in `dir` with `shards` shards and durability `d` (state history on, as a
/// node runs it).
pub fn open_store(dir: &Path, shards: u32, d: Durability) -> std::sync::Arc<Store> {
    open_store_with(dir, shards, d, true)
}

/// A store with state history (undo records of every block) on or off.
pub fn open_store_with(
    dir: &Path,
    shards: u32,
    d: Durability,
    state_history: bool,
) -> std::sync::Arc<Store> {
    let (s, _) = Store::open(
        dir,
        StoreConfig {
            shards,
            durability: d,
            state_history,
            ..StoreConfig::default()
        },
    )
    .expect("open store");
    std::sync::Arc::new(s)
}

/// Commits `state` (every key) as block 0 of an empty store, through `staging`.
pub fn commit_genesis(store: &Store, staging: &mut Staging, state: &supervm_vm::InMemoryState) {
    let genesis: WriteSet = state
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    stage_plain(staging, &genesis, vec![]);
    store
        .commit(staging.seal().expect("genesis"))
        .expect("commit genesis");
}

/// Stages one block with `writes` and no transactions.
pub fn stage_plain(staging: &mut Staging, writes: &impl WriteEntries, txs: Vec<TxEntry>) {
    let height = staging.next_height();
    staging
        .stage_block(writes, |root| BlockRecord {
            height,
            hash: *blake3::hash(&[&height.to_le_bytes()[..], &root].concat()).as_bytes(),
            state_root: root,
            header: vec![],
            txs,
            events: vec![],
        })
        .expect("stage");
}

/// Percentile of a sample, in milliseconds.
pub fn percentile_ms(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s: Vec<Duration> = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i].as_secs_f64() * 1e3
}
