//! Guards against: a torn or corrupted write-ahead-log tail (of a shard or of the
//! coordinator) opening as a partial batch, and against recovery refusing a store that
//! a real crash can leave behind.
//!
//! Twelve batches are committed, then the files are copied while the store is open (a
//! crash image) and the newest WAL of one database is damaged at an offset chosen from
//! where the last batch's records lie (measured with fail-point hooks while
//! committing). Applies are written without the WAL, so the image's shards hold every
//! batch only as its prepare record (nothing was flushed), and every open of an image
//! redoes them. The outcome is fixed by where the damage starts:
//!
//! - in a shard's (fsynced) prepare record of the last batch: that shard lost it
//!   before any shard persisted the batch's apply, which looks exactly like a crash
//!   inside the prepare round: the decision is taken back and the store opens at the
//!   batch before, a clean prefix (`docs/design.md`, "Assumptions about the media");
//! - in a shard's earlier records: `Error::Corrupt`, nothing taken back (the shard
//!   lacks a prepare record of a batch before the last);
//! - in the coordinator's last record (the last batch's fsynced decision): its log
//!   stands at the batch before, and the shards' prepare records of the last batch are
//!   rolled back, a clean prefix again;
//! - in the coordinator's earlier records: `Error::Corrupt` saying a durable decision
//!   was lost (the shards hold prepare records more than a batch past its log).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use supervm_store::layout::{self, Prepared};
use supervm_store::{Error, FailAction, FailPoint, LtHash, Staging, Store, StoreConfig};

use crate::support::{Model, batch_blocks, check_consistent, open, stage};

const SHARDS: u32 = 2;
const BATCHES: u64 = 12;
/// RocksDB's WAL block size: a record never starts in the last 6 bytes of a block
/// (they are zero padding, which the reader skips unchecked).
const WAL_BLOCK: u64 = 32 * 1024;
const WAL_HEADER: u64 = 7;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// The newest write-ahead log of a RocksDB directory.
fn newest_wal(db: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    logs.pop()
        .unwrap_or_else(|| panic!("no WAL in {}", db.display()))
}

/// The newest WAL of `db` and its length.
fn wal_len(db: &Path) -> (PathBuf, u64) {
    let wal = newest_wal(db);
    let len = std::fs::metadata(&wal).unwrap().len();
    (wal, len)
}

/// `at`, or 7 bytes earlier if `at` may be block padding: a byte that belongs to a
/// record (header or payload), so flipping it fails the record's checksum.
fn record_byte(at: u64) -> u64 {
    if WAL_BLOCK - at % WAL_BLOCK < WAL_HEADER {
        at - WAL_HEADER
    } else {
        at
    }
}

/// Where the record appended to a WAL of `len` bytes starts (after any block padding).
fn record_start(len: u64) -> u64 {
    let left = WAL_BLOCK - len % WAL_BLOCK;
    if left < WAL_HEADER { len + left } else { len }
}

/// The store's settings in these tests: `SHARDS` shards, the rest default.
fn sharded() -> StoreConfig {
    StoreConfig {
        shards: SHARDS,
        ..StoreConfig::default()
    }
}

/// Commits `batches` batches of `batch_blocks(seed, _)` to a new store in `dir` and
/// closes it cleanly; returns the model.
fn commit_clean(dir: &Path, seed: u64, batches: u64) -> Model {
    let store = Arc::new(open(dir, sharded()));
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();
    for batch in 1..=batches {
        for w in batch_blocks(seed, batch) {
            stage(&mut staging, &w);
            model.apply_block(&w);
        }
        model.batches = batch;
        store.commit(staging.seal().unwrap()).unwrap();
    }
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    model
}

/// Shard `i` of the store in `dir`, opened as a plain RocksDB database (the store
/// closed), for a test to plant or inspect records.
fn raw_shard(dir: &Path, i: u32) -> rocksdb::DB {
    let path = dir.join(format!("shard-{i}"));
    rocksdb::DB::open_cf(&rocksdb::Options::default(), path, ["state", "undo"]).unwrap()
}

/// Puts a well-formed, empty prepare record of `batch` on `db`.
fn plant_prepare(db: &rocksdb::DB, batch: u64) {
    let record = Prepared {
        batch,
        lthash: LtHash::zero(),
        writes: Default::default(),
        undo: vec![],
    };
    db.put(layout::prepared_key(batch), record.encode())
        .unwrap();
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The file is cut to this length.
    TruncateTo(u64),
    /// The byte at this offset is flipped.
    FlipAt(u64),
}

impl Damage {
    /// The first offset the damage changes.
    fn start(self) -> u64 {
        match self {
            Damage::TruncateTo(n) | Damage::FlipAt(n) => n,
        }
    }

    fn apply(self, wal: &Path) {
        match self {
            Damage::TruncateTo(n) => {
                let f = std::fs::OpenOptions::new().write(true).open(wal).unwrap();
                f.set_len(n).unwrap();
            }
            Damage::FlipAt(n) => {
                let mut bytes = std::fs::read(wal).unwrap();
                bytes[n as usize] ^= 0x5a;
                std::fs::write(wal, bytes).unwrap();
            }
        }
    }
}

/// What opening a damaged image must do.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Open at the batch before the last, every earlier batch redone; the last batch's
    /// decision taken back (a shard lost its prepare record) or not (the coordinator
    /// lost the decision); the other shards' prepare records of it rolled back.
    Prefix { taken_back: bool },
    /// `Error::Corrupt`: `shard` lacks the prepare record of a batch before the last;
    /// nothing taken back.
    Refused { shard: u32 },
    /// `Error::Corrupt`: the coordinator lost a durable decision.
    LostDecision,
}

/// WAL lengths of the last committed batch, taken by the fail hook at each batch.
#[derive(Default)]
struct Marks {
    /// Each shard's WAL before the batch's prepare record.
    shard_before_prepare: Vec<(PathBuf, u64)>,
    /// Each shard's WAL after its prepare record.
    shard_prepared: Vec<(PathBuf, u64)>,
    /// The coordinator's WAL before the batch's decision.
    coord_before_decision: Option<(PathBuf, u64)>,
}

#[test]
fn damaged_wal_tail_opens_at_a_clean_prefix_or_is_refused() {
    let seed = 7;
    let live = tempfile::tempdir().unwrap();
    let marks = Arc::new(Mutex::new(Marks::default()));
    let hook_marks = marks.clone();
    let root = live.path().to_path_buf();
    let shard_wals = move || -> Vec<(PathBuf, u64)> {
        (0..SHARDS)
            .map(|i| wal_len(&root.join(format!("shard-{i}"))))
            .collect()
    };
    let coord_dir = live.path().join("coord");
    let config = StoreConfig {
        shards: SHARDS,
        ..StoreConfig::default()
    };
    let hooked = StoreConfig {
        fail: Some(Arc::new(move |p| {
            let mut m = hook_marks.lock().unwrap();
            match p {
                FailPoint::BeforePrepare => m.shard_before_prepare = shard_wals(),
                FailPoint::BeforeDecision => m.coord_before_decision = Some(wal_len(&coord_dir)),
                FailPoint::AfterDecision => m.shard_prepared = shard_wals(),
                _ => {}
            }
            FailAction::Continue
        })),
        ..config.clone()
    };
    let store = Arc::new(open(live.path(), hooked));
    let mut staging = Staging::new(store.clone());
    let mut models = vec![Model::default()];
    for batch in 1..=BATCHES {
        let mut m = models.last().unwrap().clone();
        for w in batch_blocks(seed, batch) {
            stage(&mut staging, &w);
            m.apply_block(&w);
        }
        m.batches = batch;
        store.commit(staging.seal().unwrap()).unwrap();
        models.push(m);
    }
    // The "crash image": the files as they are while the store is still open.
    let image = tempfile::tempdir().unwrap();
    copy_dir(live.path(), image.path());
    let marks = marks.lock().unwrap();

    // Every case, with the outcome it must have.
    let mut cases: Vec<(String, Damage, Expect)> = Vec::new();
    for i in 0..SHARDS {
        let db = format!("shard-{i}");
        let (wal, end) = wal_len(&image.path().join(&db));
        let (before_wal, begin) = &marks.shard_before_prepare[i as usize];
        let (prep_wal, prepared) = &marks.shard_prepared[i as usize];
        let (begin, prepared) = (*begin, *prepared);
        for w in [before_wal, prep_wal] {
            assert_eq!(w.file_name(), wal.file_name(), "{db}: the WAL rolled over");
        }
        // The apply wrote nothing to the WAL: the prepare record is its last record.
        assert!(
            begin < prepared && prepared == end,
            "{db}: {begin} {prepared} {end}"
        );
        println!("{db}: prepare record of batch {BATCHES} at {begin}..{end}");
        for damage in [
            // In the last batch's prepare record.
            Damage::TruncateTo(end - 1),
            Damage::TruncateTo(end - 7),
            Damage::TruncateTo((begin + end) / 2),
            Damage::TruncateTo(begin),
            Damage::FlipAt(end - 1),
            Damage::FlipAt(record_byte((begin + end) / 2)),
            Damage::FlipAt(record_start(begin)),
            // Further back.
            Damage::TruncateTo(begin - 1),
            Damage::TruncateTo(begin / 2),
            Damage::FlipAt(begin - 1),
            Damage::FlipAt(record_byte(begin / 2)),
        ] {
            let expect = if damage.start() >= begin {
                Expect::Prefix { taken_back: true }
            } else {
                Expect::Refused { shard: i }
            };
            cases.push((db.clone(), damage, expect));
        }
    }
    {
        let (wal, end) = wal_len(&image.path().join("coord"));
        let (before_wal, decided) = marks.coord_before_decision.clone().unwrap();
        assert_eq!(
            before_wal.file_name(),
            wal.file_name(),
            "coord: the WAL rolled over"
        );
        assert!(decided < end, "coord: {decided} {end}");
        println!("coord: decision of batch {BATCHES} at {decided}..{end}");
        for damage in [
            Damage::TruncateTo(end - 1),
            Damage::TruncateTo(end - 7),
            Damage::TruncateTo((decided + end) / 2),
            Damage::TruncateTo(decided),
            Damage::TruncateTo(decided / 2),
            Damage::FlipAt(end - 1),
            Damage::FlipAt(record_byte((decided + end) / 2)),
            Damage::FlipAt(record_start(decided)),
            Damage::FlipAt(record_byte(decided / 2)),
        ] {
            let expect = if damage.start() >= decided {
                Expect::Prefix { taken_back: false }
            } else {
                Expect::LostDecision
            };
            cases.push(("coord".into(), damage, expect));
        }
    }

    let (mut prefix, mut refused, mut lost_decision) = (0, 0, 0);
    for (db, damage, expect) in &cases {
        let case = tempfile::tempdir().unwrap();
        copy_dir(image.path(), case.path());
        damage.apply(&newest_wal(&case.path().join(db)));
        let what = format!("{db} {damage:?}, expected {expect:?}");
        let opened = Store::open(case.path(), config.clone());
        match (*expect, opened) {
            (Expect::Prefix { taken_back }, Ok((s, rec))) => {
                let earlier: Vec<u64> = (1..BATCHES).collect();
                assert_eq!(
                    (
                        rec.redone.as_slice(),
                        rec.rolled_back.as_slice(),
                        rec.taken_back
                    ),
                    (&earlier[..], &[BATCHES][..], taken_back.then_some(BATCHES)),
                    "{what}: recovery {rec:?}"
                );
                assert_eq!(s.head().batch, BATCHES - 1, "{what}");
                check_consistent(&s, &models[BATCHES as usize - 1]);
                prefix += 1;
            }
            (Expect::Refused { shard }, Err(Error::Corrupt(msg))) => {
                assert!(
                    msg.contains(&format!("batch {BATCHES} is not prepared on shard {shard}"))
                        && msg.contains("nothing was taken back"),
                    "{what}: {msg}"
                );
                refused += 1;
            }
            (Expect::LostDecision, Err(Error::Corrupt(msg))) => {
                assert!(
                    msg.contains("but the coordinator's decision log is at batch ")
                        && msg.contains("(a durable decision was lost)"),
                    "{what}: {msg}"
                );
                lost_decision += 1;
            }
            (_, Ok((s, rec))) => panic!(
                "{what}: opened at batch {} with recovery {rec:?}",
                s.head().batch
            ),
            (_, Err(e)) => panic!("{what}: {e}"),
        }
        // A refused image stays refused (that refusals write nothing first is checked by
        // `a_lost_decision_is_refused_before_the_take_back_is_written`).
        if !matches!(expect, Expect::Prefix { .. }) {
            assert!(
                Store::open(case.path(), config.clone()).is_err(),
                "{what}: second open"
            );
        }
    }
    println!(
        "corruption: {} cases: {prefix} opened at the clean prefix before the last batch, {refused} refused (a shard lacks an earlier prepare record), {lost_decision} refused (durable decision lost)",
        cases.len()
    );
    // Per shard 7 cases land in the last prepare record and 4 before it; the
    // coordinator has 7 in its last decision and 2 before it.
    assert_eq!(prefix, 7 * SHARDS as usize + 7);
    assert_eq!(refused, 4 * SHARDS as usize);
    assert_eq!(lost_decision, 2);
    drop(staging);
    drop(store);
}

/// Guards against: recovery silently dropping a prepare record of a batch its shard has
/// already applied. No crash leaves one (the apply deletes the record in the same
/// atomic write), so it means damaged or mixed-up files and must be reported.
#[test]
fn prepare_record_of_an_applied_batch_is_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = sharded();
    let model = commit_clean(dir.path(), 11, 3);
    // Put a well-formed prepare record of batch 2 back on shard 1.
    let raw = || raw_shard(dir.path(), 1);
    let db = raw();
    plant_prepare(&db, 2);
    drop(db);
    for attempt in 0..2 {
        let err = Store::open(dir.path(), config.clone()).unwrap_err();
        let Error::Corrupt(msg) = &err else {
            panic!("open {attempt}: {err}")
        };
        assert!(
            msg.contains(
                "shard 1 has the prepare record of batch 2 but has already applied up to batch 3"
            ),
            "open {attempt}: {msg}"
        );
    }
    // The record was reported, not repaired; without it the store opens as it was.
    let db = raw();
    assert!(db.get(layout::prepared_key(2)).unwrap().is_some());
    db.delete(layout::prepared_key(2)).unwrap();
    drop(db);
    let (store, rec) = Store::open(dir.path(), config).unwrap();
    assert_eq!(rec, Default::default());
    check_consistent(&store, &model);
}

/// Guards against: recovery settling by the prepare keys' batch numbers while it
/// redoes by the records' own. A record of batch 5 stored under the key of batch 4
/// (the batch after the head, in doubt) is refused as corruption at open, naming both;
/// without it the store opens as it was.
#[test]
fn a_prepare_record_under_another_batchs_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = sharded();
    let model = commit_clean(dir.path(), 12, 3);
    let db = raw_shard(dir.path(), 0);
    let record = Prepared {
        batch: 5,
        lthash: LtHash::zero(),
        writes: Default::default(),
        undo: vec![],
    };
    db.put(layout::prepared_key(4), record.encode()).unwrap();
    drop(db);
    let err = Store::open(dir.path(), config.clone()).unwrap_err();
    let Error::Corrupt(msg) = &err else {
        panic!("{err}")
    };
    assert!(
        msg.contains("shard 0: the prepare record under key 0000000000000004 is of batch 5"),
        "{msg}"
    );
    let db = raw_shard(dir.path(), 0);
    db.delete(layout::prepared_key(4)).unwrap();
    drop(db);
    let (store, rec) = Store::open(dir.path(), config).unwrap();
    assert_eq!(rec, Default::default());
    check_consistent(&store, &model);
}

/// Guards against: recovery taking back a decision over shards that a crash inside a
/// commit cannot explain. The shards' files are restored from a copy two batches behind
/// the coordinator: no shard prepared the head's batch (as after a crash inside its
/// prepare round), but they do not stand at the previous batch either, so the open is
/// refused as corruption and writes nothing (a second open says the same; with the
/// newer shard files back, the store opens as it was).
#[test]
fn shards_two_batches_behind_are_refused_without_taking_anything_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        shards: SHARDS,
        ..StoreConfig::default()
    };
    let shard_dirs: Vec<PathBuf> = (0..SHARDS)
        .map(|i| dir.path().join(format!("shard-{i}")))
        .collect();
    let copies = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();
    for batch in 1..=3 {
        for w in batch_blocks(12, batch) {
            stage(&mut staging, &w);
            model.apply_block(&w);
        }
        model.batches = batch;
        store.commit(staging.seal().unwrap()).unwrap();
        if batch == 1 {
            // A crash-consistent image of the shards after batch 1 (files copied while
            // open, as `damaged_wal_tail…` does: the apply is only in the memtable, so
            // the image stands at batch 0 with batch 1's prepare record).
            for (i, d) in shard_dirs.iter().enumerate() {
                copy_dir(d, &copies.path().join(format!("old-{i}")));
            }
        }
    }
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    for (i, d) in shard_dirs.iter().enumerate() {
        std::fs::rename(d, copies.path().join(format!("new-{i}"))).unwrap();
        copy_dir(&copies.path().join(format!("old-{i}")), d);
    }
    for attempt in 0..2 {
        let err = Store::open(dir.path(), config.clone()).unwrap_err();
        let Error::Corrupt(msg) = &err else {
            panic!("open {attempt}: {err}")
        };
        assert!(
            msg.contains("batch 3 is not prepared on shard 0")
                && msg.contains("stands at batch 0, not at the previous batch 2")
                && msg.contains("nothing was taken back"),
            "open {attempt}: {msg}"
        );
    }
    for (i, d) in shard_dirs.iter().enumerate() {
        std::fs::remove_dir_all(d).unwrap();
        std::fs::rename(copies.path().join(format!("new-{i}")), d).unwrap();
    }
    let (store, rec) = Store::open(dir.path(), config).unwrap();
    assert_eq!(rec, Default::default());
    check_consistent(&store, &model);
}

/// Guards against: recovery writing its take-back of a decision before finding that
/// the shards cannot be explained by a crash. A fault keeps shard 1 from preparing
/// batch 3 while the decision lands (a decision to take back); a prepare record of
/// batch 4, two past the batch the take-back would return to, is then planted on shard
/// 0 (a lost decision). The open must refuse with nothing written: once the planted
/// record is removed, the next open still finds the decision and takes it back.
#[test]
fn a_lost_decision_is_refused_before_the_take_back_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (config, armed) = crate::support::crash_when_armed(SHARDS, FailPoint::PrepareShard(1));
    let store = Arc::new(open(dir.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();
    for batch in 1..=3 {
        let mut next = model.clone();
        for w in batch_blocks(13, batch) {
            stage(&mut staging, &w);
            next.apply_block(&w);
        }
        next.batches = batch;
        if batch == 3 {
            armed.store(true, std::sync::atomic::Ordering::SeqCst);
            store
                .commit(staging.seal().unwrap())
                .expect_err("fault injected");
        } else {
            store.commit(staging.seal().unwrap()).unwrap();
            model = next;
        }
    }
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    let raw = || raw_shard(dir.path(), 0);
    plant_prepare(&raw(), 4);
    let plain = StoreConfig {
        shards: SHARDS,
        ..StoreConfig::default()
    };
    for attempt in 0..2 {
        let err = Store::open(dir.path(), plain.clone()).unwrap_err();
        let Error::Corrupt(msg) = &err else {
            panic!("open {attempt}: {err}")
        };
        assert!(
            msg.contains("shard 0 has the prepare record of batch 4 but the coordinator's decision log is at batch 2 (a durable decision was lost)"),
            "open {attempt}: {msg}"
        );
    }
    let db = raw();
    db.delete(layout::prepared_key(4)).unwrap();
    drop(db);
    let (store, rec) = Store::open(dir.path(), plain).unwrap();
    assert_eq!(rec.taken_back, Some(3), "{rec:?}");
    check_consistent(&store, &model);
}

/// Guards against: recovery rolling back a shard's prepare record before it finds
/// another shard standing past the coordinator's log (a lost decision). After three
/// clean batches the coordinator's head is put back to batch 2 (its decision of batch
/// 3 lost) and shard 0 back to batch 2 with a prepare record of batch 3, while shard 1
/// stands at batch 3. The open must refuse, and shard 0's record must still be there.
#[test]
fn a_shard_past_the_decision_log_is_refused_before_any_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let config = sharded();
    commit_clean(dir.path(), 14, 3);
    let coord = crate::support::raw_coord(dir.path());
    let prev = coord.get(layout::META_PREV_HEAD).unwrap().unwrap();
    coord.put(layout::META_HEAD, prev).unwrap();
    drop(coord);
    let raw = || raw_shard(dir.path(), 0);
    let db = raw();
    db.put(layout::META_APPLIED, 2u64.to_le_bytes()).unwrap();
    plant_prepare(&db, 3);
    drop(db);
    let err = Store::open(dir.path(), config).unwrap_err();
    let Error::Corrupt(msg) = &err else {
        panic!("{err}")
    };
    assert!(
        msg.contains("shard 1 stands at batch 3 but the coordinator's decision log is at batch 2 (a durable decision was lost)"),
        "{msg}"
    );
    let db = raw();
    assert!(
        db.get(layout::prepared_key(3)).unwrap().is_some(),
        "shard 0's prepare record was rolled back before the refusal"
    );
}

/// A state that recovery finds not to hash to the head's root is refused, and stays
/// refused: the open that redid the batches and then failed the rescan leaves the
/// rescan owed (a marker), so the next open, with nothing left to redo, rescans again
/// instead of trusting the shards.
#[test]
fn a_failed_rescan_after_recovery_is_not_skipped_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let model = commit_clean(dir.path(), 3, 2);
    // A third batch decided and prepared everywhere, its apply lost to a crash.
    {
        let (config, armed) = crate::support::crash_when_armed(SHARDS, FailPoint::ApplyShard(0));
        let store = Arc::new(open(dir.path(), config));
        let mut staging = Staging::new(store.clone());
        for w in batch_blocks(3, 3) {
            stage(&mut staging, &w);
        }
        armed.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(store.commit(staging.seal().unwrap()).is_err());
    }
    // Meanwhile a state value of shard 1 changes behind the store's back.
    let (key, _) = model
        .state
        .iter()
        .find(|(k, _)| layout::shard_of(k, SHARDS) == 1)
        .expect("a key on shard 1");
    {
        let db = raw_shard(dir.path(), 1);
        let cf = db.cf_handle("state").unwrap();
        db.put_cf(cf, key, b"tampered").unwrap();
    }
    for attempt in 0..2 {
        match Store::open(dir.path(), sharded()) {
            Err(Error::Corrupt(m)) => {
                assert!(
                    m.contains("scanned state hashes to"),
                    "attempt {attempt}: {m}"
                )
            }
            other => panic!("attempt {attempt}: {:?}", other.map(|(_, r)| r)),
        }
    }
}

/// A rescan that passes clears the marker: later opens trust the shards again.
#[test]
fn a_passed_rescan_clears_its_marker() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = commit_clean(dir.path(), 4, 2);
    {
        let (config, armed) = crate::support::crash_when_armed(SHARDS, FailPoint::ApplyShard(1));
        let store = Arc::new(open(dir.path(), config));
        let mut staging = Staging::new(store.clone());
        for w in batch_blocks(4, 3) {
            stage(&mut staging, &w);
            model.apply_block(&w);
        }
        model.batches = 3;
        armed.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(store.commit(staging.seal().unwrap()).is_err());
    }
    let (store, recovery) = Store::open(dir.path(), sharded()).unwrap();
    assert_eq!(recovery.redone, vec![3]);
    check_consistent(&store, &model);
    drop(store);
    let coord = crate::support::raw_coord(dir.path());
    assert_eq!(coord.get(layout::META_VERIFY_PENDING).unwrap(), None);
}
