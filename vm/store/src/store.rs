//! The store: a coordinator RocksDB (decision log and history) and S shard RocksDBs
//! (state), opened with crash recovery.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use parking_lot::{Mutex, RwLock};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};

use crate::error::RocksExt;
use crate::layout::{self, CF_STATE, COORD_CFS, Head, Prepared};
use crate::{Durability, Error, FailPoint, LtHash, Result, StoreConfig, db};

/// One state shard.
pub(crate) struct Shard {
    pub db: DB,
    pub index: u32,
}

impl Shard {
    pub fn state(&self) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(CF_STATE)
            .expect("state column family exists")
    }

    /// Persists everything the memtables hold (applies are written without the WAL):
    /// every column family in one atomic flush (with atomic flush on, flushing one
    /// column family would leave the others in the memtable).
    fn flush(&self) -> Result<()> {
        let undo = self.db.cf_handle(layout::CF_UNDO).expect("cf exists");
        let default = self
            .db
            .cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME)
            .expect("cf exists");
        self.db
            .flush_cfs_opt(
                &[self.state(), undo, default],
                &rocksdb::FlushOptions::default(),
            )
            .ctx(|| format!("flush shard {}", self.index))
    }

    fn applied(&self) -> Result<u64> {
        let v = self
            .db
            .get(layout::META_APPLIED)
            .ctx(|| format!("shard {} applied", self.index))?;
        match v {
            None => Ok(0),
            Some(b) => Ok(u64::from_le_bytes(b.as_slice().try_into().map_err(
                |_| Error::Corrupt(format!("shard {}: malformed applied marker", self.index)),
            )?)),
        }
    }

    fn lthash(&self) -> Result<LtHash> {
        match self
            .db
            .get(layout::META_LTHASH)
            .ctx(|| format!("shard {} lthash", self.index))?
        {
            None => Ok(LtHash::zero()),
            Some(b) => LtHash::from_bytes(&b).ok_or_else(|| {
                Error::Corrupt(format!("shard {}: malformed lattice hash", self.index))
            }),
        }
    }

    /// The batches this shard holds a prepare record of, in order, read from the keys
    /// alone (a record holds a whole batch's writes: not decoded here).
    fn prepared_batches(&self) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let it = self.db.iterator(IteratorMode::From(
            layout::META_PREPARED,
            Direction::Forward,
        ));
        for item in it {
            let (k, _) = item.ctx(|| format!("shard {} scan prepared", self.index))?;
            let Some(batch) = k.strip_prefix(layout::META_PREPARED) else {
                break;
            };
            let batch: [u8; 8] = batch.try_into().map_err(|_| {
                Error::Corrupt(format!("shard {}: malformed prepare key", self.index))
            })?;
            out.push(u64::from_be_bytes(batch));
        }
        Ok(out)
    }

    /// Every prepare record, in batch order.
    fn prepared(&self) -> Result<Vec<Prepared>> {
        let mut out = Vec::new();
        let it = self.db.iterator(IteratorMode::From(
            layout::META_PREPARED,
            Direction::Forward,
        ));
        for item in it {
            let (k, v) = item.ctx(|| format!("shard {} scan prepared", self.index))?;
            let Some(key_batch) = k.strip_prefix(layout::META_PREPARED) else {
                break;
            };
            let p = Prepared::decode(&v)?;
            // (recovery settles by the keys and redoes by the records: they must agree)
            if key_batch != p.batch.to_be_bytes() {
                return Err(Error::Corrupt(format!(
                    "shard {}: the prepare record under key {} is of batch {}",
                    self.index,
                    hex(key_batch),
                    p.batch
                )));
            }
            out.push(p);
        }
        Ok(out)
    }

    /// The write batch that applies a prepared batch: state writes, the new lattice
    /// hash and applied marker, and the deletion of the prepare record, atomically.
    pub fn apply_batch(&self, p: &Prepared) -> WriteBatch {
        let cf = self.state();
        // Sized up front (see `decision`): RocksDB's buffer grows by doubling. Each row
        // adds a tag, a column family and two lengths to what the record holds; undo
        // rows also the height in their key.
        let size = p.encoded_len() + 6 * p.writes.len() + 24 * p.undo.len() + 4096;
        let mut wb = WriteBatch::with_capacity_bytes(size);
        for (k, v) in &p.writes {
            match v {
                Some(v) => wb.put_cf(cf, k, v),
                None => wb.delete_cf(cf, k),
            }
        }
        let undo = self
            .db
            .cf_handle(layout::CF_UNDO)
            .expect("undo column family exists");
        for (k, records) in &p.undo {
            if let Some((first, _)) = records.first() {
                wb.put_cf(
                    undo,
                    layout::undo_key(k, *first),
                    layout::encode_undo_group(records),
                );
            }
        }
        wb.put(layout::META_LTHASH, p.lthash.to_bytes());
        wb.put(layout::META_APPLIED, p.batch.to_le_bytes());
        wb.delete(layout::prepared_key(p.batch));
        wb
    }
}

/// What the store knows about its committed state, changed only under the apply lock.
pub(crate) struct Committed {
    pub head: Head,
    pub shard_lthash: Vec<LtHash>,
}

/// Durable, sharded SuperVM state with history. See the crate docs.
pub struct Store {
    pub(crate) path: PathBuf,
    pub(crate) config: StoreConfig,
    pub(crate) coord: DB,
    pub(crate) shards: Vec<Shard>,
    /// Readers hold it shared; applying a batch holds it exclusively, so a reader never
    /// sees half an applied batch and the cache never goes stale.
    pub(crate) committed: RwLock<Committed>,
    /// A copy of `committed.head`, replaced under the apply lock, read without it:
    /// [`Store::head`] never waits behind a reader holding a snapshot and an apply
    /// queued behind that reader.
    pub(crate) published_head: Mutex<std::sync::Arc<Head>>,
    pub(crate) cache: quick_cache::sync::Cache<Vec<u8>, Option<Vec<u8>>, ByteWeighter>,
    /// One commit at a time; `Some` once a commit failed part-way.
    pub(crate) commit_lock: Mutex<Option<(u64, String)>>,
    /// Set when a commit failed part-way: reads are refused too (a shard may hold half a batch).
    pub(crate) poisoned: std::sync::atomic::AtomicBool,
    /// The history floor ([`layout::META_HISTORY_FLOOR`]) as decided: reads below it
    /// are refused. Raised under the apply lock, once the decision that records it is
    /// written.
    pub(crate) history_floor: std::sync::Arc<AtomicU64>,
    /// What the `undo` column family's compactions may drop (with bounded history,
    /// the groups whose records are all at or below it): the floor of the decision
    /// *before* the last, so that losing the last decision (which recovery accepts as
    /// a clean prefix) never leaves a servable height without its records, and in
    /// the modes that do not fsync each commit, only a floor whose decision was synced
    /// (see `two_phase.rs`, `advance_compaction_floor`).
    pub(crate) compaction_floor: std::sync::Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What [`Store::open`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Batches decided (decision and every prepare record durable) whose apply some
    /// shard had not persisted: redone, in order (applies skip the WAL, so after a
    /// crash every batch since a shard's last flush is here).
    pub redone: Vec<u64>,
    /// Batches not decided (a prepare record or the decision missing): rolled back,
    /// their prepare records deleted and a decision written for them taken back.
    pub rolled_back: Vec<u64>,
    /// The batch whose durable decision was taken back (with its history rows) because
    /// some shard never prepared it: also listed in `rolled_back`.
    pub taken_back: Option<u64>,
}

impl Recovery {
    /// Whether recovery redid or rolled back anything (the open was after a crash, or
    /// an unclean stop, since the last flush).
    pub fn changed_state(&self) -> bool {
        !self.redone.is_empty() || !self.rolled_back.is_empty()
    }
}

impl Store {
    /// Opens or creates the store in `dir`, recovering from any crash: every in-doubt
    /// batch is finished (decided: the decision and every prepare record durable) or
    /// rolled back (not decided; a decision written for it is taken back), then the shards
    /// and the coordinator are checked to agree on the committed batch and state root.
    /// When recovery finished or rolled back a batch, or an earlier open's recovery
    /// never saw that check pass (the `verify-pending` marker), the whole state is also
    /// scanned and checked against the root ([`Store::verify_state_root`]).
    pub fn open(dir: impl AsRef<Path>, config: StoreConfig) -> Result<(Store, Recovery)> {
        let dir = dir.as_ref();
        if config.shards == 0 || config.shards > 256 {
            return Err(Error::Config(format!(
                "shards must be 1..=256, got {}",
                config.shards
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
        let coord = db::open(
            &dir.join("coord"),
            &COORD_CFS,
            config.write_buffer_bytes,
            None,
            config.open_files_per_instance(),
        )?;
        match meta_u32(&coord, layout::META_SHARDS, "shard count")? {
            Some(found) => {
                let format = meta_u32(&coord, layout::META_FORMAT, "format marker")?.unwrap_or(1);
                if format != layout::FORMAT && format != layout::FORMAT_UPGRADED {
                    return Err(Error::FormatMismatch {
                        path: dir.display().to_string(),
                        found: format,
                        expected: layout::FORMAT,
                    });
                }
                if found != config.shards {
                    return Err(Error::ShardCountMismatch {
                        path: dir.display().to_string(),
                        found,
                        expected: config.shards,
                    });
                }
                if format == layout::FORMAT_UPGRADED {
                    // Marked before anything can prune it: from then on a build that
                    // would ignore the history floor refuses the store.
                    let mut wb = rocksdb::WriteBatch::default();
                    wb.put(layout::META_FORMAT, layout::FORMAT.to_le_bytes());
                    coord
                        .write_opt(wb, &db::marker_writes())
                        .ctx(|| "upgrade the format marker".into())?;
                }
            }
            None => {
                let mut wb = rocksdb::WriteBatch::default();
                wb.put(layout::META_FORMAT, layout::FORMAT.to_le_bytes());
                wb.put(layout::META_SHARDS, config.shards.to_le_bytes());
                coord
                    .write_opt(wb, &db::marker_writes())
                    .ctx(|| "write format and shard count".into())?
            }
        }
        if coord
            .get(layout::META_NOWAL_OPEN)
            .ctx(|| "read no-wal marker".into())?
            .is_some()
        {
            return Err(Error::UncleanNoWalShutdown(dir.display().to_string()));
        }
        // The compactions start from the floor before the last decision (recovery may
        // take that decision back and put its floor back), read before the shards open
        // so their compactions use it from the start. What is read here is durable:
        // RocksDB flushes what its WAL recovery replayed before it opens.
        let prev_floor = meta_u64(&coord, layout::META_PREV_HISTORY_FLOOR, "previous floor")?;
        let decided_floor = meta_u64(&coord, layout::META_HISTORY_FLOOR, "history floor")?;
        let compaction_floor =
            std::sync::Arc::new(AtomicU64::new(prev_floor.or(decided_floor).unwrap_or(0)));
        let bounded = config.prunes_history().then_some(&compaction_floor);
        let mut shards = Vec::with_capacity(config.shards as usize);
        for i in 0..config.shards {
            let db = db::open(
                &dir.join(format!("shard-{i}")),
                &[CF_STATE, layout::CF_UNDO],
                config.write_buffer_bytes,
                bounded,
                config.open_files_per_instance(),
            )?;
            shards.push(Shard { db, index: i });
        }
        let head = match coord.get(layout::META_HEAD).ctx(|| "read head".into())? {
            Some(b) => Head::decode(&b)?,
            None => Head::genesis(),
        };
        let fail = |p: FailPoint| config.injected(p);
        // Before recovery's first write, a synced marker that the state must be
        // rescanned; an earlier open's marker means a rescan is still owed.
        let rescan = std::cell::Cell::new(
            coord
                .get(layout::META_VERIFY_PENDING)
                .ctx(|| "read verify marker".into())?
                .is_some(),
        );
        let before_write = || -> Result<()> {
            if !rescan.get() {
                coord
                    .put_opt(layout::META_VERIFY_PENDING, [1], &db::marker_writes())
                    .ctx(|| "write verify marker".into())?;
                rescan.set(true);
            }
            Ok(())
        };
        let (head, taken_back) = settle_decision(&coord, &shards, head, &before_write)?;
        // (read after settling: a take-back puts the floor before that decision back)
        let history_floor = std::sync::Arc::new(AtomicU64::new(
            meta_u64(&coord, layout::META_HISTORY_FLOOR, "history floor")?.unwrap_or(0),
        ));
        if taken_back.is_some() {
            fail(FailPoint::RecoveryAfterTakeBack)?;
        }
        let mut recovery = recover(&shards, &head, &fail, &before_write)?;
        let rescan = rescan.get();
        if let Some(b) = taken_back
            && !recovery.rolled_back.contains(&b)
        {
            recovery.rolled_back.push(b);
        }
        recovery.taken_back = taken_back;
        let mut shard_lthash = Vec::with_capacity(shards.len());
        let mut total = LtHash::zero();
        for s in &shards {
            let l = s.lthash()?;
            total.add(&l);
            shard_lthash.push(l);
        }
        if total != head.lthash {
            return Err(Error::Corrupt(format!(
                "the shards' lattice hashes add up to {:?}, the decision log says {:?}",
                total, head.lthash
            )));
        }
        if head.blocks > 0 {
            let cf = coord
                .cf_handle(layout::CF_BLOCKS)
                .expect("blocks column family");
            let stored = coord
                .get_cf(cf, (head.blocks - 1).to_be_bytes())
                .ctx(|| "read last block".into())?
                .ok_or_else(|| {
                    Error::Corrupt(format!("block {} of the head is missing", head.blocks - 1))
                })?;
            if stored.get(32..64) != Some(&head.lthash.root()[..]) {
                return Err(Error::Corrupt(format!(
                    "block {}'s stored state root differs from the recovered state's",
                    head.blocks - 1
                )));
            }
        }
        let bytes = config
            .cache_bytes
            .max(16 * crate::config::CACHE_ENTRY_OVERHEAD);
        // (the item estimate only sizes the cache's tables: a guess of 256 bytes each)
        let cache = quick_cache::sync::Cache::with_weighter(
            (bytes / 256).clamp(16, 1 << 24) as usize,
            bytes,
            ByteWeighter,
        );
        let store = Store {
            path: dir.to_path_buf(),
            history_floor,
            compaction_floor,
            config,
            coord,
            shards,
            published_head: Mutex::new(std::sync::Arc::new(head.clone())),
            committed: RwLock::new(Committed { head, shard_lthash }),
            cache,
            commit_lock: Mutex::new(None),
            poisoned: std::sync::atomic::AtomicBool::new(false),
        };
        // A batch redone or rolled back wrote state on this open (or an earlier open
        // recovered and never finished this check): the whole state is rescanned and
        // must hash to the committed root (a clean open trusts the shards' stored
        // lattice hashes, checked above).
        if rescan || recovery.changed_state() {
            store.verify_state_root()?;
            store
                .coord
                .delete_opt(layout::META_VERIFY_PENDING, &db::marker_writes())
                .ctx(|| "clear verify marker".into())?;
        }
        // Only now, before the first write without the WAL: an open that the rescan
        // above never finished wrote nothing that needs it.
        if store.config.durability == Durability::NoWalUnrecoverableOnCrash {
            store
                .coord
                .put_opt(layout::META_NOWAL_OPEN, [1], &db::marker_writes())
                .ctx(|| "write no-wal marker".into())?;
        }
        Ok((store, recovery))
    }

    /// The committed head: last batch, number of blocks, last block hash, state lattice.
    /// Never waits for a commit or a reader.
    pub fn head(&self) -> Head {
        (**self.published_head.lock()).clone()
    }

    /// Blocks committed so far (the next block's height), without copying the head.
    pub fn committed_blocks(&self) -> u64 {
        self.published_head.lock().blocks
    }

    /// The state root after the last committed block.
    pub fn state_root(&self) -> [u8; 32] {
        self.published_head.lock().lthash.root()
    }

    /// Number of shards.
    pub fn shard_count(&self) -> u32 {
        self.config.shards
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.config.durability
    }

    /// Recomputes the lattice hash of the whole state by scanning every shard and
    /// checks it against the committed head. Costs a full scan; [`Store::open`] runs it
    /// after a recovery that changed state, and tests and operators may run it any time.
    pub fn verify_state_root(&self) -> Result<[u8; 32]> {
        let c = self.committed.read();
        let mut total = LtHash::zero();
        for s in &self.shards {
            for item in s.db.iterator_cf(s.state(), IteratorMode::Start) {
                let (k, v) = item.ctx(|| format!("shard {} scan", s.index))?;
                if layout::shard_of(&k, self.config.shards) != s.index {
                    return Err(Error::Corrupt(format!(
                        "key {} found on shard {} but belongs to shard {}",
                        hex(&k),
                        s.index,
                        layout::shard_of(&k, self.config.shards)
                    )));
                }
                total.add_entry(&k, &v);
            }
        }
        if total != c.head.lthash {
            return Err(Error::Corrupt(format!(
                "scanned state hashes to {:?}, the committed head says {:?}",
                total, c.head.lthash
            )));
        }
        Ok(total.root())
    }

    /// Every state entry in key order (merged across shards). For tests and tools.
    pub fn dump(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let _c = self.committed.read();
        let mut all = Vec::new();
        for s in &self.shards {
            for item in s.db.iterator_cf(s.state(), IteratorMode::Start) {
                let (k, v) = item.ctx(|| format!("shard {} scan", s.index))?;
                all.push((k.to_vec(), v.to_vec()));
            }
        }
        all.sort();
        Ok(all)
    }

    /// Per shard: the last applied batch and the number of prepare records left.
    /// After a successful open both are the same on every shard (head batch, 0).
    pub fn shard_status(&self) -> Result<Vec<(u64, usize)>> {
        self.shards
            .iter()
            .map(|s| Ok((s.applied()?, s.prepared_batches()?.len())))
            .collect()
    }

    /// Closes the store cleanly: flushes the shards (applies are written without the
    /// WAL, so the next open need not redo them) and, in the no-WAL mode, the
    /// coordinator; without fsync, syncs every WAL first.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    /// Syncs every WAL, the shards' first: the coordinator's decisions never get
    /// durable ahead of the prepare records they rely on. `when` names the occasion in
    /// an error.
    pub(crate) fn sync_wals(&self, when: &str) -> Result<()> {
        for s in &self.shards {
            s.db.flush_wal(true)
                .ctx(|| format!("shard {} sync {when}", s.index))?;
        }
        self.coord
            .flush_wal(true)
            .ctx(|| format!("coordinator sync {when}"))
    }

    fn shutdown(&self) -> Result<()> {
        if self.commit_lock.lock().is_some() {
            // Poisoned: nothing is flushed (the databases do not flush on close either,
            // `avoid_flush_during_shutdown`), so what the memtables hold is lost as in
            // a crash, and the next open recovers.
            return Ok(());
        }
        if self.config.durability == Durability::NoFsyncLosesRecentOnPowerLoss {
            // The shards' flushes below reach the disk; the decisions they apply must
            // too, or a power loss after a clean close leaves shards past the decision
            // log (a store that refuses to open). Shards first, as for the history floor.
            self.sync_wals("at close")?;
        }
        for s in &self.shards {
            s.flush()?;
        }
        if self.config.durability == Durability::NoWalUnrecoverableOnCrash {
            let flush = rocksdb::FlushOptions::default();
            let mut cfs: Vec<_> = COORD_CFS
                .iter()
                .map(|cf| self.coord.cf_handle(cf).expect("cf exists"))
                .collect();
            cfs.push(
                self.coord
                    .cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME)
                    .expect("cf exists"),
            );
            self.coord
                .flush_cfs_opt(&cfs, &flush)
                .ctx(|| "flush coordinator".into())?;
            self.coord
                .delete_opt(layout::META_NOWAL_OPEN, &db::marker_writes())
                .ctx(|| "clear no-wal marker".into())?;
        }
        Ok(())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Decides the coordinator's last decision (`docs/design.md`, "Recovery"): it stands if
/// every shard prepared its batch or applied it; if some shard did neither and none
/// applied it, the crash came in the middle of the prepare round (in `Fsync` mode the
/// batch was never acknowledged), so the decision and its history rows are taken back,
/// returning the previous head and the batch taken back. Before anything is written,
/// every shard must stand where the previous head says (applied it, or behind it with
/// the prepare records of every batch up to it); otherwise, and when a shard lacks the
/// batch while another applied it, a durable record was lost: `Error::Corrupt`,
/// nothing changed. So is a shard past the head that settling leaves, or holding a
/// prepare record more than one batch past it ([`no_lost_decision`]).
fn settle_decision(
    coord: &DB,
    shards: &[Shard],
    head: Head,
    before_write: &dyn Fn() -> Result<()>,
) -> Result<(Head, Option<u64>)> {
    // (applied batch, batches with a prepare record) of every shard
    let status = shards
        .iter()
        .map(|s| Ok((s.applied()?, s.prepared_batches()?)))
        .collect::<Result<Vec<_>>>()?;
    if head.batch == 0 {
        no_lost_decision(shards, &status, 0)?;
        return Ok((head, None));
    }
    let mut missing = Vec::new();
    let mut applied_by = None;
    for (s, (applied, prepared)) in shards.iter().zip(&status) {
        if *applied >= head.batch {
            applied_by.get_or_insert(s.index);
        } else if !prepared.contains(&head.batch) {
            missing.push((s.index, *applied));
        }
    }
    let Some(&(first_missing, stands)) = missing.first() else {
        no_lost_decision(shards, &status, head.batch)?;
        return Ok((head, None));
    };
    if let Some(applied) = applied_by {
        return Err(Error::Corrupt(format!(
            "shard {first_missing} stands at batch {stands} without a prepare record of batch {}, which shard {applied} applied (a durable prepare record was lost)",
            head.batch
        )));
    }
    let prev = match coord
        .get(layout::META_PREV_HEAD)
        .ctx(|| "read previous head".into())?
    {
        Some(b) => Head::decode(&b)?,
        None => {
            return Err(Error::Corrupt(format!(
                "batch {} is not prepared on shard {first_missing} and the coordinator has no previous head to return to",
                head.batch
            )));
        }
    };
    if prev.batch.checked_add(1) != Some(head.batch) || prev.blocks >= head.blocks {
        return Err(Error::Corrupt(format!(
            "the previous head (batch {}, {} blocks) does not precede the head (batch {}, {} blocks)",
            prev.batch, prev.blocks, head.batch, head.blocks
        )));
    }
    for (s, &(applied, ref prepared)) in shards.iter().zip(&status) {
        // (applies are written without the WAL: a crash takes a shard back to its last
        // flush, with the prepare records of every batch after it)
        // (`prepared` is in batch order)
        let behind_with_records = applied < prev.batch
            && (applied + 1..=prev.batch).all(|b| prepared.binary_search(&b).is_ok());
        if applied != prev.batch && !behind_with_records {
            return Err(Error::Corrupt(format!(
                "batch {} is not prepared on shard {first_missing}, but shard {} stands at batch {applied}, not at the previous batch {}: not a crash inside a commit; nothing was taken back",
                head.batch, s.index, prev.batch
            )));
        }
    }
    no_lost_decision(shards, &status, prev.batch)?;
    before_write()?;
    let mut wb = crate::history::take_back_rows(coord, prev.blocks, head.blocks, head.batch)?;
    wb.put(layout::META_HEAD, prev.encode());
    wb.delete(layout::META_PREV_HEAD);
    // The floor before the taken-back decision (which may have raised it past what the
    // restored head needs: a batch without state history records its own last block).
    if let Some(p) = meta::<8>(
        coord,
        layout::META_PREV_HISTORY_FLOOR,
        "previous history floor",
    )? {
        wb.put(layout::META_HISTORY_FLOOR, p);
    }
    coord
        .write_opt(wb, &db::marker_writes())
        .ctx(|| format!("coordinator take back batch {}", head.batch))?;
    Ok((prev, Some(head.batch)))
}

/// Checks, before recovery writes anything, that no shard stands past `head` (the
/// batch the coordinator's log will stand at) or holds a prepare record more than one
/// batch past it: a shard applies a batch only once it is decided, and only the batch
/// after the head can be in doubt, since a batch prepares only once the one before it
/// is decided. Either means the coordinator lost decisions.
fn no_lost_decision(shards: &[Shard], status: &[(u64, Vec<u64>)], head: u64) -> Result<()> {
    for (s, (applied, prepared)) in shards.iter().zip(status) {
        if *applied > head {
            return Err(Error::Corrupt(format!(
                "shard {} stands at batch {applied} but the coordinator's decision log is at batch {head} (a durable decision was lost)",
                s.index
            )));
        }
        if let Some(b) = prepared.iter().find(|&&b| b > head.saturating_add(1)) {
            return Err(Error::Corrupt(format!(
                "shard {} has the prepare record of batch {b} but the coordinator's decision log is at batch {head} (a durable decision was lost)",
                s.index
            )));
        }
    }
    Ok(())
}

/// A u32 (LE) coordinator marker, if present; `what` names it in errors.
fn meta_u32(coord: &DB, key: &[u8], what: &str) -> Result<Option<u32>> {
    Ok(meta(coord, key, what)?.map(u32::from_le_bytes))
}

/// A u64 (LE) coordinator meta value, if present; `what` names it in errors.
fn meta_u64(coord: &DB, key: &[u8], what: &str) -> Result<Option<u64>> {
    Ok(meta(coord, key, what)?.map(u64::from_le_bytes))
}

/// A coordinator meta value of exactly `N` bytes (`None`: absent).
fn meta<const N: usize>(coord: &DB, key: &[u8], what: &str) -> Result<Option<[u8; N]>> {
    let Some(b) = coord.get(key).ctx(|| format!("read {what}"))? else {
        return Ok(None);
    };
    let b: [u8; N] = b
        .as_slice()
        .try_into()
        .map_err(|_| Error::Corrupt(format!("malformed {what}")))?;
    Ok(Some(b))
}

/// Finishes or rolls back every in-doubt batch, then checks that every shard stands
/// at the committed batch. Every decided batch a shard holds a prepare record of is
/// redone in order (applies are written without the WAL, so a crash takes a shard
/// back to its last flush: several batches may need redoing). Presumed abort: the
/// prepare record of the batch after the head (its decision missing or taken back) is
/// deleted. Any other prepare record (one of a batch the shard has applied, or one past
/// a gap) is `Error::Corrupt` (one more than a batch past the head was refused before,
/// by [`settle_decision`]).
fn recover(
    shards: &[Shard],
    head: &Head,
    fail: &dyn Fn(FailPoint) -> Result<()>,
    before_write: &dyn Fn() -> Result<()>,
) -> Result<Recovery> {
    let mut rec = Recovery::default();
    for s in shards {
        let mut applied = s.applied()?;
        let prepared = s.prepared()?;
        if !prepared.is_empty() {
            fail(FailPoint::RecoveryShard(s.index))?;
        }
        let mut redid = false;
        for p in prepared {
            if p.batch <= head.batch && p.batch == applied + 1 {
                // As the commit applies: without the WAL, the prepare record staying
                // until the flush below persists the redo (a crash before it redoes
                // the batch again).
                before_write()?;
                s.db.write_opt(s.apply_batch(&p), &db::apply_writes())
                    .ctx(|| format!("shard {} redo batch {}", s.index, p.batch))?;
                applied = p.batch;
                redid = true;
                rec.redone.push(p.batch);
            } else if p.batch <= applied {
                // Cannot follow from a crash: the apply (and its redo) deletes the record
                // in the same atomic write that advances `applied`, and a crash keeps a
                // shard's writes up to its last (atomic) flush and its WAL'd writes after
                // it (point-in-time WAL recovery), never an apply without the deletion.
                // So the shard's files were damaged or mixed up: report it.
                return Err(Error::Corrupt(format!(
                    "shard {} has the prepare record of batch {} but has already applied up to batch {} (applying a batch deletes its prepare record in the same atomic write)",
                    s.index, p.batch, applied
                )));
            } else if p.batch > head.batch {
                before_write()?;
                s.db.delete_opt(layout::prepared_key(p.batch), &db::marker_writes())
                    .ctx(|| format!("shard {} roll back batch {}", s.index, p.batch))?;
                rec.rolled_back.push(p.batch);
            } else {
                return Err(Error::Corrupt(format!(
                    "shard {} has a prepare record for batch {} but has applied only up to {}",
                    s.index, p.batch, applied
                )));
            }
        }
        if redid {
            s.flush()?;
        }
        if applied != head.batch {
            return Err(Error::Corrupt(format!(
                "shard {} stands at batch {} but the coordinator's decision log is at batch {}{}",
                s.index,
                applied,
                head.batch,
                if applied < head.batch {
                    " (a durable prepare record was lost)"
                } else {
                    " (a durable decision was lost)"
                }
            )));
        }
    }
    // (each shard reports its own batches, from its own last flush)
    rec.redone.sort_unstable();
    rec.redone.dedup();
    rec.rolled_back.sort_unstable();
    rec.rolled_back.dedup();
    Ok(rec)
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Weighs a read-cache entry by its bytes, so that the cache's bound is a memory bound
/// whatever the sizes of the values (up to 64 KiB of storage, whole contract code).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ByteWeighter;

impl quick_cache::Weighter<Vec<u8>, Option<Vec<u8>>> for ByteWeighter {
    fn weight(&self, key: &Vec<u8>, value: &Option<Vec<u8>>) -> u64 {
        (key.len() + value.as_ref().map_or(0, Vec::len)) as u64
            + crate::config::CACHE_ENTRY_OVERHEAD
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use supervm_vm::{StateView, WriteSet};

    use crate::{BlockRecord, Staging, Store, StoreConfig};

    /// Large values count by their size: reading many of them keeps the cache under its
    /// byte bound (an entry-count bound would have kept them all).
    #[test]
    fn the_read_cache_is_bounded_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bound = 2 << 20; // (quick_cache splits it over shards: each must hold a value)
        let config = StoreConfig {
            cache_bytes: bound,
            ..StoreConfig::default()
        };
        let store = Arc::new(Store::open(dir.path(), config).unwrap().0);
        let mut w = WriteSet::new();
        for i in 0..40u8 {
            w.insert(vec![i; 8], Some(vec![i; 60 << 10]));
        }
        let mut staging = Staging::new(store.clone());
        staging
            .stage_block(&w, |root| BlockRecord {
                height: 0,
                hash: [1; 32],
                state_root: root,
                header: vec![],
                txs: vec![],
                events: vec![],
            })
            .unwrap();
        store.commit(staging.seal().unwrap()).unwrap();
        for i in 0..40u8 {
            assert_eq!(store.get(&[i; 8]).unwrap(), Some(vec![i; 60 << 10]));
        }
        assert!(store.cache.weight() <= bound, "{}", store.cache.weight());
        assert!(
            store.cache.len() < 40,
            "{} entries cached",
            store.cache.len()
        );
        assert!(!store.cache.is_empty(), "the cache is used");
    }
}
