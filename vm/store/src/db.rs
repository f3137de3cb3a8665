//! Opening the RocksDB instances: one coordinator and S shards, each with its own WAL.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::{
    ColumnFamilyDescriptor, DB, DBCompressionType, DBRecoveryMode, Options, WriteOptions,
};

use crate::error::RocksExt;
use crate::{Durability, Result};

fn base_options(write_buffer: usize) -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_write_buffer_size(write_buffer);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_max_background_jobs(2);
    // A torn or corrupted WAL tail is dropped back to the last intact record; recovery
    // then checks that the shards and the coordinator still agree.
    o.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    // Prepare records and applied state live in different column families of a shard;
    // flushing them together keeps an apply and the deletion of its prepare record
    // together (applies skip the WAL: a crash keeps a shard's writes up to its last
    // flush, and its WAL'd writes after it).
    o.set_atomic_flush(true);
    o
}

/// Options of a shard's `undo` column family when state history is bounded: its
/// compactions drop every undo group whose last record is of a block at or below
/// `horizon` (no read at a height the store still serves can need it: a read at
/// height `h` uses only records of blocks after `h`). A group that does not parse is
/// kept.
fn undo_options(write_buffer: usize, horizon: Arc<AtomicU64>) -> Options {
    let mut o = base_options(write_buffer);
    o.set_compaction_filter(
        "supervm-undo-below-horizon",
        move |_level: u32, _key: &[u8], group: &[u8]| match crate::layout::undo_last_height(group) {
            Some(last) if last <= horizon.load(Ordering::Acquire) => {
                rocksdb::compaction_filter::Decision::Remove
            }
            _ => rocksdb::compaction_filter::Decision::Keep,
        },
    );
    o
}

/// Opens (creating if needed) a RocksDB instance with the given column families.
/// With `undo_horizon`, the `undo` column family drops what lies below it
/// ([`undo_options`]). It keeps at most `max_open_files` table files open (`None`: every
/// one, RocksDB's default).
pub(crate) fn open(
    path: &Path,
    cfs: &[&str],
    write_buffer: usize,
    undo_horizon: Option<&Arc<AtomicU64>>,
    max_open_files: Option<u64>,
) -> Result<DB> {
    // Only `Store`'s clean close flushes: the memtables of a poisoned store, which may
    // hold half a batch, are dropped as in a crash. (The crate has no setter for this
    // database option; RocksDB's option-string parser has. The options it returns
    // copy `base_options` but not the crate's keep-alive handles: should
    // `base_options` ever set an env, a cache or a comparator, set them here instead.)
    let mut opts = base_options(write_buffer)
        .get_options_from_string("avoid_flush_during_shutdown=true")
        .ctx(|| "database options".into())?;
    if let Some(n) = max_open_files {
        opts.set_max_open_files(i32::try_from(n).unwrap_or(i32::MAX));
    }
    let descs = cfs.iter().map(|n| {
        let options = match undo_horizon {
            Some(h) if *n == crate::layout::CF_UNDO => undo_options(write_buffer, h.clone()),
            _ => base_options(write_buffer),
        };
        ColumnFamilyDescriptor::new(*n, options)
    });
    DB::open_cf_descriptors(&opts, path, descs).ctx(|| format!("open {}", path.display()))
}

/// Write options for records the protocol must find after a crash (prepare records,
/// decisions) in the given durability mode.
pub(crate) fn durable_writes(d: Durability) -> WriteOptions {
    let mut w = WriteOptions::default();
    match d {
        Durability::Fsync => w.set_sync(true),
        Durability::NoFsyncLosesRecentOnPowerLoss => w.set_sync(false),
        Durability::NoWalUnrecoverableOnCrash => w.disable_wal(true),
    }
    w
}

/// Write options for applying a decided batch: without the WAL, in every mode. The
/// batch's values are already in the shard's WAL once, in its prepare record (except
/// in the no-WAL mode, where nothing is), which the same write deletes; until a flush
/// persists the apply (all column families together: atomic flush), a crash loses
/// both the apply and the deletion, and recovery redoes the batch from the record.
/// Writing the values to the WAL a second time took the state-keys commit from about
/// 0.94 to about 0.82 of the raw `WriteBatch` (`docs/benchmarks.md`, fourteenth
/// session).
pub(crate) fn apply_writes() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(false);
    w.disable_wal(true);
    w
}

/// Write options for markers that must survive even in the no-WAL mode.
pub(crate) fn marker_writes() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}
