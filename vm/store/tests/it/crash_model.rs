//! Guards against: a crash or I/O error at any step of the two-phase commit leaving
//! shards that disagree, orphaned prepare records, a lost acknowledged batch, a batch
//! that survives without its decision or without a shard's prepare record, or a state
//! root that differs from the state.
//!
//! Random batches are committed against a model; one commit per round has a fault
//! injected at a chosen fail-point (each point at least 10 times, crash and I/O error
//! alternating); the store must then refuse work, and after reopening must agree with
//! the model, which includes the faulted batch exactly when it was decided (its decision and every
//! prepare record durable).

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;
use supervm_store::{
    CommitBatch, Durability, Error, FailAction, FailPoint, Recovery, Staging, Store, StoreConfig,
};
use supervm_vm::StateView;

use crate::support::{Model, check_consistent, open, random_writes, seed, stage};

const SHARDS: u32 = 3;

fn points() -> Vec<FailPoint> {
    let mut p = vec![FailPoint::BeforePrepare];
    p.extend((0..SHARDS).map(FailPoint::PrepareShard));
    p.push(FailPoint::BeforeDecision);
    p.push(FailPoint::AfterDecision);
    p.extend((0..SHARDS).map(FailPoint::ApplyShard));
    p.push(FailPoint::AfterApply);
    p
}

/// Where and how a test wants the next fault: `None` while it wants none.
type Armed = Arc<Mutex<Option<(FailPoint, FailAction)>>>;

/// `base` with a fail hook that injects the armed action at the armed point.
/// How many times the hook injected a fault at each point.
type Fired = Arc<Mutex<std::collections::HashMap<FailPoint, usize>>>;

fn armed_config(base: StoreConfig) -> (Armed, Fired, StoreConfig) {
    let armed: Armed = Arc::new(Mutex::new(None));
    let fired: Fired = Arc::default();
    let (hook, count) = (armed.clone(), fired.clone());
    let config = StoreConfig {
        fail: Some(Arc::new(move |p| match *hook.lock().unwrap() {
            Some((at, action)) if at == p => {
                *count.lock().unwrap().entry(p).or_insert(0) += 1;
                action
            }
            _ => FailAction::Continue,
        })),
        ..base
    };
    (armed, fired, config)
}

fn decided(p: FailPoint) -> bool {
    matches!(
        p,
        FailPoint::AfterDecision | FailPoint::ApplyShard(_) | FailPoint::AfterApply
    )
}

/// What recovery must report after a fault at `point`, the store being at `batch`
/// after the reopen (so the faulted batch is `batch` if it was decided,
/// `batch + 1` if not), `clean` batches having committed since it was opened.
fn check_recovery(point: FailPoint, rec: &Recovery, batch: u64, clean: usize) {
    // Applies skip the WAL and a poisoned store is not flushed: every batch applied
    // since the last flush (the open, after a clean close; these tests' memtables
    // never fill) is redone, whatever the point: the clean ones, and the faulted one
    // if it was decided.
    assert!(
        redone_up_to(rec, batch) && rec.redone.len() == clean + usize::from(decided(point)),
        "{point:?}: {rec:?} is not the last {} batches up to {batch}",
        clean + usize::from(decided(point))
    );
    match point {
        FailPoint::AfterDecision | FailPoint::ApplyShard(_) | FailPoint::AfterApply => {
            assert!(
                rec.redone.last() == Some(&batch) && rec.rolled_back.is_empty(),
                "{point:?}: {rec:?}"
            )
        }
        FailPoint::BeforePrepare => {
            assert!(rec.rolled_back.is_empty(), "{point:?}: {rec:?}")
        }
        // A fault at a shard's prepare still lets the coordinator's decision, written in
        // the same round, land: recovery must take it back.
        FailPoint::PrepareShard(_) => {
            assert_eq!(rec.rolled_back, vec![batch + 1], "{point:?}: {rec:?}");
            assert_eq!(rec.taken_back, Some(batch + 1), "{point:?}: {rec:?}");
        }
        FailPoint::BeforeDecision => {
            assert_eq!(rec.rolled_back, vec![batch + 1], "{point:?}: {rec:?}");
            assert_eq!(rec.taken_back, None, "{point:?}: {rec:?}");
        }
        FailPoint::RecoveryAfterTakeBack | FailPoint::RecoveryShard(_) => {
            unreachable!("not a commit step")
        }
    }
}

/// Whether `rec.redone` is empty or consecutive batches ending at `head`.
fn redone_up_to(rec: &Recovery, head: u64) -> bool {
    rec.redone.windows(2).all(|w| w[1] == w[0] + 1) && rec.redone.last().is_none_or(|&b| b == head)
}

/// Stages the batch a fault will hit (1 to 3 random blocks) and, on top of it, a small
/// batch to check that writes are refused afterwards; returns both and the model as it
/// stands if the faulty batch commits.
fn faulty_and_next(
    rng: &mut ChaCha8Rng,
    staging: &mut Staging,
    model: &Model,
) -> (CommitBatch, CommitBatch, Model) {
    let mut pending = model.clone();
    for _ in 0..rng.gen_range(1..4) {
        let w = random_writes(rng, 20);
        stage(staging, &w);
        pending.apply_block(&w);
    }
    pending.batches += 1;
    let faulty = staging.seal().unwrap();
    stage(staging, &random_writes(rng, 3));
    let next = staging.seal().unwrap();
    (faulty, next, pending)
}

/// A fault injected into a commit: where, the model as it stands if the faulted batch
/// commits, and how many batches committed cleanly since the store was opened.
struct Fault {
    point: FailPoint,
    pending: Model,
    clean: usize,
}

/// Closes `store` after `fault`, takes its pending model if the faulted batch was
/// decided, reopens and checks recovery and state against it; returns how many batches
/// recovery redid.
fn reopen_after_fault(
    store: Arc<Store>,
    dir: &std::path::Path,
    config: &StoreConfig,
    fault: Fault,
    model: &mut Model,
) -> usize {
    let Fault {
        point,
        pending,
        clean,
    } = fault;
    drop(Arc::try_unwrap(store).expect("sole owner"));
    if decided(point) {
        *model = pending;
    }
    let (store, rec) = Store::open(dir, config.clone()).unwrap();
    check_recovery(point, &rec, model.batches, clean);
    check_consistent(&store, model);
    rec.redone.len()
}

#[test]
fn crash_at_every_two_phase_step_matches_model() {
    let seed = seed("crash_model");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (armed, fired, config) = armed_config(StoreConfig {
        shards: SHARDS,
        durability: Durability::Fsync,
        cache_bytes: 8 << 10, // small, so reads fall through to RocksDB
        ..StoreConfig::default()
    });
    let mut model = Model::default();
    let mut longest_redo = 0;
    let rounds = 10;
    for round in 0..rounds {
        for (pi, point) in points().into_iter().enumerate() {
            let action = if (round + pi) % 2 == 0 {
                FailAction::Crash
            } else {
                FailAction::IoError
            };
            let store = Arc::new(open(dir.path(), config.clone()));
            check_consistent(&store, &model);
            let mut staging = Staging::new(store.clone());
            // A few clean batches first.
            let clean = rng.gen_range(0..3);
            for _ in 0..clean {
                let mut pending = model.clone();
                for _ in 0..rng.gen_range(1..4) {
                    let w = random_writes(&mut rng, 20);
                    stage(&mut staging, &w);
                    pending.apply_block(&w);
                }
                store.commit(staging.seal().unwrap()).expect("clean commit");
                pending.batches += 1;
                model = pending;
            }
            // Then one with the fault.
            let (faulty, next, pending) = faulty_and_next(&mut rng, &mut staging, &model);
            *armed.lock().unwrap() = Some((point, action));
            let err = store.commit(faulty).expect_err("fault injected");
            *armed.lock().unwrap() = None;
            assert!(
                matches!(err, Error::Injected(p) if p == point),
                "round {round} {point:?}: {err}"
            );
            // The store refuses further work until reopened.
            let refused = store.commit(next).expect_err("writes refused");
            assert!(matches!(refused, Error::Poisoned { .. }), "{refused}");
            assert!(
                store.get(b"\0\0\0\0").is_err(),
                "reads refused after a failed commit"
            );
            let latest = store.head().blocks.saturating_sub(1);
            assert!(
                store.snapshot_at(latest).is_err(),
                "snapshots refused after a failed commit"
            );
            drop(staging);
            let fault = Fault {
                point,
                pending,
                clean,
            };
            longest_redo = longest_redo.max(reopen_after_fault(
                store,
                dir.path(),
                &config,
                fault,
                &mut model,
            ));
        }
    }
    // (counted by the fail hook each time it injected the fault)
    let fired = fired.lock().unwrap();
    for p in points() {
        let n = fired.get(&p).copied().unwrap_or(0);
        assert!(n >= 10, "{p:?} injected {n} times");
    }
    // Some reopen redid several batches, as after a real crash.
    assert!(
        longest_redo >= 2,
        "seed {seed}: longest redo {longest_redo}"
    );
    println!(
        "crash_model: {} faults, {} batches, {} blocks",
        points()
            .iter()
            .map(|p| fired.get(p).copied().unwrap_or(0))
            .sum::<usize>(),
        model.batches,
        model.blocks
    );
}

/// Guards against: a panic in the middle of a commit (in the protocol, or in a shard
/// writer thread, whose panic used to surface through `join().expect`) leaving the
/// store writable on a possibly half-applied batch. At every fail-point a panic is
/// injected; the commit must unwind, the store must then refuse writes (`Poisoned`,
/// naming the batch and the panic) and reads, and a reopen must match the model, with
/// the faulted batch in it exactly when it was decided.
#[test]
fn panic_at_every_two_phase_step_poisons_the_store_and_reopens_consistent() {
    let seed = seed("panic_model");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let armed: Arc<Mutex<Option<FailPoint>>> = Arc::new(Mutex::new(None));
    let hook_armed = armed.clone();
    let config = StoreConfig {
        shards: SHARDS,
        cache_bytes: 8 << 10,
        fail: Some(Arc::new(move |p| {
            if *hook_armed.lock().unwrap() == Some(p) {
                FailAction::Panic
            } else {
                FailAction::Continue
            }
        })),
        ..StoreConfig::default()
    };
    let mut model = Model::default();
    for point in points() {
        let store = Arc::new(open(dir.path(), config.clone()));
        let mut staging = Staging::new(store.clone());
        let clean = rng.gen_range(0..3);
        for _ in 0..clean {
            let w = random_writes(&mut rng, 20);
            stage(&mut staging, &w);
            store.commit(staging.seal().unwrap()).expect("clean commit");
            model.apply_block(&w);
            model.batches += 1;
        }
        let (faulty, next, pending) = faulty_and_next(&mut rng, &mut staging, &model);
        *armed.lock().unwrap() = Some(point);
        let unwound =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.commit(faulty)));
        *armed.lock().unwrap() = None;
        let payload = match unwound {
            Ok(r) => panic!("{point:?}: the commit returned {r:?} instead of panicking"),
            Err(p) => p,
        };
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(msg, format!("injected panic at {point:?}"), "{point:?}");
        // The store refuses further work until reopened.
        match store.commit(next) {
            Err(Error::Poisoned { batch, reason }) => {
                assert_eq!(batch, pending.batches, "{point:?}");
                assert!(reason.contains("panicked"), "{point:?}: {reason}");
            }
            r => panic!("{point:?}: a write after the panic gave {r:?}"),
        }
        assert!(
            store.get(b"\0\0\0\0").is_err(),
            "{point:?}: reads refused after a panicked commit"
        );
        drop(staging);
        let fault = Fault {
            point,
            pending,
            clean,
        };
        reopen_after_fault(store, dir.path(), &config, fault, &mut model);
    }
    println!(
        "panic_model: {} panics, {} batches, {} blocks",
        points().len(),
        model.batches,
        model.blocks
    );
}

/// The error of opening the store in `dir` with 4 shards (it was made with 2).
fn open_with_4_shards(dir: &std::path::Path) -> Error {
    let config = StoreConfig {
        shards: 4,
        ..StoreConfig::default()
    };
    supervm_store::Store::open(dir, config).unwrap_err()
}

#[test]
fn reopen_with_other_shard_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), StoreConfig::default()));
    let err = open_with_4_shards(dir.path());
    assert!(
        matches!(
            err,
            Error::ShardCountMismatch {
                found: 2,
                expected: 4,
                ..
            }
        ),
        "{err}"
    );
}

/// A format-3 store (the same rows, no history floor) opens, keeps its blocks and
/// state, and is marked format 4 at once, so that a build reading format 3 (which would
/// ignore a floor) refuses it from then on. With the wrong shard count it is refused
/// as any store is, and left unmarked.
#[test]
fn a_format_3_store_is_marked_format_4_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (head, root) = {
        let store = std::sync::Arc::new(open(dir.path(), StoreConfig::default()));
        let mut staging = supervm_store::Staging::new(store.clone());
        let writes: supervm_vm::WriteSet = [(b"k".to_vec(), Some(b"v".to_vec()))].into();
        let root = stage(&mut staging, &writes);
        store.commit(staging.seal().unwrap()).unwrap();
        (store.head(), root)
    };
    let marker = || {
        let raw = crate::support::raw_coord(dir.path());
        let v = raw
            .get(supervm_store::layout::META_FORMAT)
            .unwrap()
            .unwrap();
        u32::from_le_bytes(v.try_into().unwrap())
    };
    assert_eq!(marker(), supervm_store::layout::FORMAT);
    crate::support::raw_coord(dir.path())
        .put(supervm_store::layout::META_FORMAT, 3u32.to_le_bytes())
        .unwrap();
    let err = open_with_4_shards(dir.path());
    assert!(matches!(err, Error::ShardCountMismatch { .. }), "{err}");
    assert_eq!(marker(), 3, "a refused store is left as it was");
    let store = open(dir.path(), StoreConfig::default());
    assert_eq!(store.head(), head);
    assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(store.state_root(), root);
    drop(store);
    assert_eq!(marker(), 4);
}

/// A store in another on-disk format (here one made before formats were recorded:
/// no marker) is refused with both formats named, and left as it was.
#[test]
fn reopen_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), StoreConfig::default()));
    crate::support::raw_coord(dir.path())
        .delete(supervm_store::layout::META_FORMAT)
        .unwrap();
    for _ in 0..2 {
        let err = supervm_store::Store::open(dir.path(), StoreConfig::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::FormatMismatch {
                    found: 1,
                    expected: supervm_store::layout::FORMAT,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("format 1"), "{err}");
    }
    let set_marker = |v: &[u8]| {
        crate::support::raw_coord(dir.path())
            .put(supervm_store::layout::META_FORMAT, v)
            .unwrap();
    };
    // A newer format, and a marker that is not a format at all.
    let newer = supervm_store::layout::FORMAT + 1;
    set_marker(&newer.to_le_bytes());
    let err = supervm_store::Store::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(
        matches!(err, Error::FormatMismatch { found, .. } if found == newer),
        "{err}"
    );
    set_marker(b"x");
    let err = supervm_store::Store::open(dir.path(), StoreConfig::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("format marker")),
        "{err}"
    );
    // The right marker opens it again, as it was.
    set_marker(&supervm_store::layout::FORMAT.to_le_bytes());
    drop(open(dir.path(), StoreConfig::default()));
}

#[test]
fn no_wal_mode_refuses_to_open_after_an_unclean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        durability: Durability::NoWalUnrecoverableOnCrash,
        ..StoreConfig::default()
    };
    // Clean close: reopens with its data.
    let store = Arc::new(open(dir.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let mut w = supervm_vm::WriteSet::new();
    w.insert(b"k".to_vec(), Some(b"v".to_vec()));
    stage(&mut staging, &w);
    store.commit(staging.seal().unwrap()).unwrap();
    drop(staging);
    Arc::try_unwrap(store).unwrap().close().unwrap();
    let store = open(dir.path(), config.clone());
    assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    // An unclean stop (simulated: the marker stays because a commit failed).
    let store = Arc::new(store);
    let mut staging = Staging::new(store.clone());
    stage(&mut staging, &w);
    let failing = StoreConfig {
        fail: Some(Arc::new(|p| {
            if p == FailPoint::AfterDecision {
                FailAction::Crash
            } else {
                FailAction::Continue
            }
        })),
        ..config.clone()
    };
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    let store = Arc::new(open(dir.path(), failing));
    let mut staging = Staging::new(store.clone());
    stage(&mut staging, &w);
    assert!(store.commit(staging.seal().unwrap()).is_err());
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    let err = supervm_store::Store::open(dir.path(), config).unwrap_err();
    assert!(matches!(err, Error::UncleanNoWalShutdown(_)), "{err}");
}

/// Guards against: recovery finishing or rolling back a batch over state that no
/// longer hashes to the committed root. An open that recovered something rescans the
/// whole state; a key slipped into a shard behind the store's back (with a batch in
/// doubt, so that recovery has work to do) makes it refuse with `Corrupt`.
#[test]
fn an_open_that_recovered_a_batch_rescans_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let armed = Arc::new(Mutex::new(false));
    let hook_armed = armed.clone();
    let config = StoreConfig {
        shards: 2,
        fail: Some(Arc::new(move |p| {
            if *hook_armed.lock().unwrap() && p == FailPoint::BeforeDecision {
                FailAction::Crash
            } else {
                FailAction::Continue
            }
        })),
        ..StoreConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed("recovery_rescan"));
    let store = Arc::new(open(dir.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();
    for _ in 0..3 {
        let w = random_writes(&mut rng, 20);
        stage(&mut staging, &w);
        model.apply_block(&w);
        store.commit(staging.seal().unwrap()).unwrap();
        model.batches += 1;
    }
    let (faulty, _next, _pending) = faulty_and_next(&mut rng, &mut staging, &model);
    *armed.lock().unwrap() = true;
    store.commit(faulty).expect_err("crash before the decision");
    drop(staging);
    drop(Arc::try_unwrap(store).expect("sole owner"));

    // A stray key in shard 0's state, written around the store.
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(false);
        let db = rocksdb::DB::open_cf(
            &opts,
            dir.path().join("shard-0"),
            [
                supervm_store::layout::CF_STATE,
                supervm_store::layout::CF_UNDO,
            ],
        )
        .unwrap();
        let cf = db.cf_handle(supervm_store::layout::CF_STATE).unwrap();
        let key = (0u8..)
            .map(|i| vec![0, i, b's'])
            .find(|k| supervm_store::layout::shard_of(k, 2) == 0)
            .unwrap();
        db.put_cf(cf, key, b"stray value").unwrap();
        db.flush_cf(cf).unwrap();
    }
    *armed.lock().unwrap() = false;
    match Store::open(dir.path(), config) {
        Err(Error::Corrupt(m)) => assert!(m.contains("scanned state"), "{m}"),
        Err(e) => panic!("expected Corrupt from the rescan, got {e}"),
        Ok((_, rec)) => panic!("opened over a stray key (recovery {rec:?})"),
    }
}

/// Guards against: a crash during recovery itself leaving the store unopenable or
/// inconsistent. Recovery is interrupted at each of its steps in turn (after taking a
/// decision back, before each shard's rollback or redo; in recovery a crash and an
/// I/O error both make the open fail there); the next open must finish the job and
/// match the model: without the batch
/// a shard never prepared, with the batch some shards had not applied.
#[test]
fn a_crash_during_recovery_is_finished_by_the_next_open() {
    let seed = seed("recovery_crash");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (armed, _, config) = armed_config(StoreConfig {
        shards: SHARDS,
        ..StoreConfig::default()
    });
    let mut model = Model::default();
    // (the commit fault, whether it decides the batch, then the recovery steps to crash)
    let cases = [
        (
            FailPoint::PrepareShard(1),
            false,
            vec![
                FailPoint::RecoveryAfterTakeBack,
                FailPoint::RecoveryShard(0),
            ],
        ),
        (
            FailPoint::ApplyShard(1),
            true,
            vec![FailPoint::RecoveryShard(1), FailPoint::RecoveryShard(2)],
        ),
    ];
    for (fault, decides, recovery_points) in cases {
        let store = Arc::new(open(dir.path(), config.clone()));
        let mut staging = Staging::new(store.clone());
        let (faulty, _next, pending) = faulty_and_next(&mut rng, &mut staging, &model);
        *armed.lock().unwrap() = Some((fault, FailAction::Crash));
        store.commit(faulty).expect_err("fault injected");
        drop(staging);
        drop(Arc::try_unwrap(store).expect("sole owner"));
        for (i, p) in recovery_points.iter().enumerate() {
            let action = if i % 2 == 0 {
                FailAction::Crash
            } else {
                FailAction::IoError
            };
            *armed.lock().unwrap() = Some((*p, action));
            match Store::open(dir.path(), config.clone()) {
                Err(Error::Injected(at)) => assert_eq!(at, *p, "seed {seed}"),
                Err(e) => panic!("seed {seed}: {fault:?} then {p:?}: {e}"),
                Ok(_) => panic!("seed {seed}: {fault:?}: recovery never reached {p:?}"),
            }
        }
        *armed.lock().unwrap() = None;
        if decides {
            model = pending;
        }
        let (store, rec) = Store::open(dir.path(), config.clone()).unwrap();
        assert!(
            rec.taken_back.is_none(),
            "seed {seed}: taken back by the first, interrupted open: {rec:?}"
        );
        assert!(redone_up_to(&rec, model.batches), "seed {seed}: {rec:?}");
        if decides {
            assert_eq!(
                rec.redone.last(),
                Some(&model.batches),
                "seed {seed}: {rec:?}"
            );
        } else {
            assert_eq!(
                rec.rolled_back,
                vec![model.batches + 1],
                "seed {seed}: {rec:?}"
            );
        }
        check_consistent(&store, &model);
    }
}

/// Guards against: recovery mishandling shards that stand at different flush points
/// (applies skip the WAL, so after a crash each shard redoes the batches since its own
/// last flush) or reporting the redone batches out of order. Large values go to shard
/// 0 only, so its small memtables flush many times while shard 1's never do; a fault
/// then poisons the store, whose memtables are dropped as in a crash.
#[test]
fn shards_flushed_at_different_points_are_redone_each_from_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (armed, _, config) = armed_config(StoreConfig {
        shards: 2,
        write_buffer_bytes: 64 << 10,
        ..StoreConfig::default()
    });
    let store = Arc::new(open(dir.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();
    let on_shard = |shard: u32, from: u32| -> Vec<Vec<u8>> {
        (from..)
            .map(|i| [&[0u8, 9][..], &i.to_be_bytes()].concat())
            .filter(|k| supervm_store::layout::shard_of(k, 2) == shard)
            .take(6)
            .collect()
    };
    let batches = 8u64;
    for b in 0..batches as u32 {
        let mut w = supervm_vm::WriteSet::new();
        for k in on_shard(0, b * 1000) {
            w.insert(k, Some(vec![b as u8; 12 << 10]));
        }
        for k in on_shard(1, b * 1000) {
            w.insert(k, Some(vec![b as u8; 8]));
        }
        stage(&mut staging, &w);
        model.apply_block(&w);
        model.batches += 1;
        store.commit(staging.seal().unwrap()).unwrap();
    }
    stage(
        &mut staging,
        &random_writes(&mut ChaCha8Rng::seed_from_u64(1), 3),
    );
    *armed.lock().unwrap() = Some((FailPoint::BeforePrepare, FailAction::Crash));
    store
        .commit(staging.seal().unwrap())
        .expect_err("fault injected");
    drop(staging);
    drop(Arc::try_unwrap(store).expect("sole owner"));
    *armed.lock().unwrap() = None;
    // Shard 0 flushed (its table files exist), shard 1 never did.
    let tables = |shard: &str| {
        std::fs::read_dir(dir.path().join(shard))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sst")
            })
            .count()
    };
    assert!(tables("shard-0") > 0 && tables("shard-1") == 0);
    let (store, rec) = Store::open(dir.path(), config).unwrap();
    // Shard 1 never flushed: every batch is redone, reported once each, in order
    // (shard 0, which flushed, redid only its last few first).
    assert_eq!(rec.redone, (1..=batches).collect::<Vec<_>>(), "{rec:?}");
    assert!(rec.rolled_back.is_empty(), "{rec:?}");
    check_consistent(&store, &model);
}
