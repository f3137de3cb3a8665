//! Staging: execution reads staged-but-uncommitted blocks, commits overlap with
//! staging the next blocks, and roots are those of the resulting state.

use std::sync::Arc;

use supervm_store::{Staging, StoreConfig};
use supervm_vm::{StateView, WriteLayer, WriteSet};

use crate::support::{Model, check_consistent, open, stage};

fn w(pairs: &[(&[u8], Option<&[u8]>)]) -> WriteSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec())))
        .collect()
}

#[test]
fn staged_writes_are_visible_before_commit_and_roots_match_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::open_sharded(dir.path(), 3);
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();

    let b0 = w(&[
        (b"a1", Some(b"x")),
        (b"a2", Some(b"y")),
        (b"b1", Some(b"z")),
    ]);
    stage(&mut staging, &b0);
    model.apply_block(&b0);
    let batch1 = staging.seal().unwrap();
    // Block 1 executes on top of the sealed, uncommitted batch 1.
    assert_eq!(staging.view().get(b"a1").unwrap(), Some(b"x".to_vec()));
    assert_eq!(store.get(b"a1").unwrap(), None, "not committed yet");
    let b1 = w(&[(b"a1", None), (b"a3", Some(b"w")), (b"b1", Some(b"zz"))]);
    let root1 = stage(&mut staging, &b1);
    model.apply_block(&b1);
    assert_eq!(root1, model.root());
    {
        let v = staging.view();
        assert_eq!(v.get(b"a1").unwrap(), None);
        assert_eq!(v.next_key(b"a", None).unwrap(), Some(b"a2".to_vec()));
        assert_eq!(v.next_key(b"a", Some(b"a2")).unwrap(), Some(b"a3".to_vec()));
        assert_eq!(v.next_key(b"a", Some(b"a3")).unwrap(), None);
    }
    store.commit(batch1).unwrap();
    assert_eq!(store.get(b"a1").unwrap(), Some(b"x".to_vec()));
    assert_eq!(
        store.next_key(b"a", Some(b"a1")).unwrap(),
        Some(b"a2".to_vec())
    );
    store.commit(staging.seal().unwrap()).unwrap();
    model.batches = 2;
    check_consistent(&store, &model);
    assert_eq!(staging.view().get(b"a1").unwrap(), None);
    assert_eq!(store.next_key(b"a", None).unwrap(), Some(b"a2".to_vec()));
    assert_eq!(store.next_key(b"b", Some(b"b1")).unwrap(), None);
    // A large block takes the parallel root path; same result.
    let big: WriteSet = (0..5000u32)
        .map(|i| (i.to_be_bytes().to_vec(), Some(vec![i as u8; 8])))
        .collect();
    let root = stage(&mut staging, &big);
    model.apply_block(&big);
    assert_eq!(root, model.root());
    store.commit(staging.seal().unwrap()).unwrap();
    model.batches = 3;
    check_consistent(&store, &model);
}

/// A block's writes staged as the executor hands them over (a `WriteLayer`: unordered,
/// built in any order) give the root, history and state the same writes give as a
/// sorted `WriteSet`: nothing in staging depends on their order.
#[test]
fn unordered_block_writes_stage_like_a_sorted_write_set() {
    let blocks: Vec<WriteSet> = (0..4u32)
        .map(|b| {
            (0..300u32)
                .map(|i| {
                    let k = ((i * 7 + b * 13) % 400).to_be_bytes().to_vec();
                    // (every fifth a deletion, some of keys never written)
                    let v = (i % 5 != 0).then(|| vec![b as u8, i as u8, 1]);
                    (k, v)
                })
                .collect()
        })
        .collect();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store_a = crate::support::open_sharded(dir_a.path(), 3);
    let store_b = crate::support::open_sharded(dir_b.path(), 3);
    let (mut sa, mut sb) = (Staging::new(store_a.clone()), Staging::new(store_b.clone()));
    let mut model = Model::default();
    for (b, block) in blocks.iter().enumerate() {
        // (reversed, so the layer is built in another order than the set's)
        let layer: WriteLayer = block
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(layer.to_write_set(), *block);
        let root_a = stage(&mut sa, block);
        let root_b = stage(&mut sb, &layer);
        model.apply_block(block);
        assert_eq!(root_a, root_b, "block {b}");
        assert_eq!(root_b, model.root(), "block {b}");
        if b % 2 == 1 {
            store_a.commit(sa.seal().unwrap()).unwrap();
            store_b.commit(sb.seal().unwrap()).unwrap();
        }
    }
    model.batches = 2;
    check_consistent(&store_b, &model);
    assert_eq!(store_a.dump().unwrap(), store_b.dump().unwrap());
    // Past heights read the same through the undo records.
    for height in 0..4 {
        let (pa, pb) = (
            store_a.snapshot_at(height).unwrap(),
            store_b.snapshot_at(height).unwrap(),
        );
        for k in (0..400u32).map(u32::to_be_bytes) {
            assert_eq!(pa.get(&k).unwrap(), pb.get(&k).unwrap(), "height {height}");
        }
    }
}

#[test]
fn a_batch_from_a_stale_staging_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), StoreConfig::default()));
    let mut a = Staging::new(store.clone());
    let mut b = Staging::new(store.clone());
    stage(&mut a, &w(&[(b"k", Some(b"1"))]));
    stage(&mut b, &w(&[(b"k", Some(b"2"))]));
    store.commit(a.seal().unwrap()).unwrap();
    let err = store.commit(b.seal().unwrap()).unwrap_err();
    assert!(matches!(err, supervm_store::Error::BadBatch(_)), "{err}");
    assert_eq!(store.get(b"k").unwrap(), Some(b"1".to_vec()));
    // The refused staging's next batch has the id and first height the store expects,
    // but was staged on top of the refused one: refused too, and the store (state,
    // root, head) stays as `a` left it.
    let head = store.head();
    stage(&mut b, &w(&[(b"j", Some(b"3"))]));
    let next = b.seal().unwrap();
    assert_eq!(next.id(), head.batch + 1);
    assert_eq!(next.blocks()[0].height, head.blocks);
    let err = store.commit(next).unwrap_err();
    assert!(
        matches!(&err, supervm_store::Error::BadBatch(m) if m.contains("does not stand at")),
        "{err}"
    );
    assert_eq!(store.head(), head);
    assert_eq!(store.get(b"k").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(b"j").unwrap(), None);
    // A staging started anew commits on top of it.
    let mut c = Staging::new(store.clone());
    stage(&mut c, &w(&[(b"j", Some(b"3"))]));
    store.commit(c.seal().unwrap()).unwrap();
    store.verify_state_root().unwrap();
}

#[test]
fn prefix_iteration_through_layers_matches_the_model() {
    use rand::{Rng, SeedableRng};
    let seed = crate::support::seed("staging_iteration");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::open_sharded(dir.path(), 2);
    let mut staging = Staging::new(store.clone());
    let mut model = Model::default();
    let mut in_flight = Vec::new();
    for round in 0..60 {
        let w = crate::support::random_writes(&mut rng, 12);
        stage(&mut staging, &w);
        model.apply_block(&w);
        if rng.gen_bool(0.3) {
            in_flight.push(staging.seal().unwrap());
        }
        if !in_flight.is_empty() && rng.gen_bool(0.4) {
            store.commit(in_flight.remove(0)).unwrap();
        }
        let view = staging.view();
        for c in 0u8..4 {
            let prefix = [0u8, c];
            let mut got = Vec::new();
            let mut cursor: Option<Vec<u8>> = None;
            while let Some(k) = view.next_key(&prefix, cursor.as_deref()).unwrap() {
                got.push(k.clone());
                cursor = Some(k);
            }
            let want: Vec<Vec<u8>> = model
                .state
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            assert_eq!(got, want, "round {round}, contract {c}");
        }
    }
}

/// Guards against: a store whose RocksDB instances keep every table file open (RocksDB's
/// default) however many there are, until a flush or compaction cannot open a file and
/// the store fails. With `max_open_files` each instance gets an equal part, at least
/// `MIN_OPEN_FILES_PER_INSTANCE`, as RocksDB's own options file records.
#[test]
fn open_table_files_are_bounded_per_instance() {
    let recorded = |db: &std::path::Path| -> String {
        let options = std::fs::read_dir(db)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("OPTIONS-")
            })
            .max()
            .expect("an options file");
        let text = std::fs::read_to_string(options).unwrap();
        text.lines()
            .find(|l| l.trim_start().starts_with("max_open_files="))
            .expect("max_open_files")
            .trim()
            .to_string()
    };
    for (bound, per_instance) in [
        (Some(900u64), "max_open_files=300"),
        (Some(10), "max_open_files=64"),
        (None, "max_open_files=-1"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = supervm_store::Store::open(
            dir.path(),
            StoreConfig {
                shards: 2,
                max_open_files: bound,
                ..StoreConfig::default()
            },
        )
        .unwrap()
        .0;
        for db in ["coord", "shard-0", "shard-1"] {
            assert_eq!(
                recorded(&dir.path().join(db)),
                per_instance,
                "{bound:?} {db}"
            );
        }
        drop(store);
    }
}

/// The events row keeps a topic count in one byte: a block with an event of more
/// topics is refused before the staging changes (it was truncated, stored wrong, and
/// a later take-back of its batch failed to decode it, so the store no longer opened).
#[test]
fn an_event_with_more_topics_than_a_byte_counts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::open_sharded(dir.path(), 2);
    let mut staging = Staging::new(store.clone());
    let record = |topics: usize| {
        move |root| supervm_store::BlockRecord {
            height: 0,
            hash: [0; 32],
            state_root: root,
            header: vec![],
            txs: vec![],
            events: vec![supervm_store::StoredEvent {
                height: 0,
                tx_index: 0,
                event_index: 0,
                contract: supervm_vm::Address([1; 32]),
                topics: vec![vec![7]; topics],
                data: vec![],
            }],
        }
    };
    let err = staging
        .stage_block(&w(&[(b"k", Some(b"v"))]), record(256))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has 256 topics, more than 255"), "{err}");
    assert_eq!(staging.next_height(), 0, "nothing staged");
    staging
        .stage_block(&w(&[(b"k", Some(b"v"))]), record(255))
        .unwrap();
    store.commit(staging.seal().unwrap()).unwrap();
    let (events, _) = store
        .events(&supervm_store::EventFilter {
            contract: None,
            topics: vec![],
            from_height: 0,
            to_height: None,
            after: None,
            limit: 10,
        })
        .unwrap();
    assert_eq!(events[0].topics.len(), 255);
}
