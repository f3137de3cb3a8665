//! History queries: blocks by height and hash, transactions, events by contract,
//! topic and height range with cursor paging; all surviving a reopen.

use std::sync::Arc;

use supervm_store::{BlockRecord, EventFilter, Staging, StoreConfig, StoredEvent, TxEntry};
use supervm_vm::{Address, WriteSet};

use crate::support::{block_hash, open};

fn event(height: u64, tx: u32, ev: u32, contract: u8, topic: &str) -> StoredEvent {
    StoredEvent {
        height,
        tx_index: tx,
        event_index: ev,
        contract: Address([contract; 32]),
        topics: vec![topic.as_bytes().to_vec(), vec![tx as u8]],
        data: vec![height as u8, tx as u8, ev as u8],
    }
}

/// Every page of `f` from its cursor on (`f.after` left at the last cursor), each
/// within the limit.
/// Commits block 0 holding one transaction with `events`.
fn commit_one_tx_block(
    store: &Arc<supervm_store::Store>,
    staging: &mut Staging,
    events: Vec<StoredEvent>,
) {
    staging
        .stage_block(&WriteSet::new(), |root| BlockRecord {
            height: 0,
            hash: block_hash(0, &root),
            state_root: root,
            header: vec![],
            txs: vec![TxEntry {
                hash: [1; 32],
                body: vec![],
            }],
            events,
        })
        .unwrap();
    store.commit(staging.seal().unwrap()).unwrap();
}

fn all_pages(store: &supervm_store::Store, f: &mut EventFilter) -> Vec<StoredEvent> {
    let mut got = Vec::new();
    loop {
        let (page, cursor) = store.events(f).unwrap();
        assert!(page.len() <= f.limit);
        got.extend(page);
        match cursor {
            Some(c) => f.after = Some(c),
            None => return got,
        }
    }
}

/// Stages block `height` writing key `[height]`, with this history.
fn stage_with_history(
    staging: &mut Staging,
    height: u64,
    header: &[u8],
    txs: Vec<TxEntry>,
    events: Vec<StoredEvent>,
) {
    let mut w = WriteSet::new();
    w.insert(vec![height as u8], Some(vec![1]));
    staging
        .stage_block(&w, |root| BlockRecord {
            height,
            hash: block_hash(height, &root),
            state_root: root,
            header: header.to_vec(),
            txs,
            events,
        })
        .unwrap();
}

#[test]
fn blocks_transactions_and_events_are_queryable_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), StoreConfig::default()));
    let mut staging = Staging::new(store.clone());
    let mut all = Vec::new();
    for height in 0..10u64 {
        let mut events = Vec::new();
        let mut txs = Vec::new();
        for tx in 0..3u32 {
            txs.push(TxEntry {
                hash: *blake3::hash(&[height as u8, tx as u8]).as_bytes(),
                body: vec![tx as u8; 5],
            });
            for ev in 0..2u32 {
                let e = event(
                    height,
                    tx,
                    ev,
                    (tx % 2) as u8,
                    if ev == 0 { "Transfer" } else { "Approval" },
                );
                events.push(e);
            }
        }
        all.extend(events.clone());
        stage_with_history(&mut staging, height, b"hdr", txs, events);
        if height % 3 == 2 {
            store.commit(staging.seal().unwrap()).unwrap();
        }
    }
    store.commit(staging.seal().unwrap()).unwrap();
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    let store = open(dir.path(), StoreConfig::default());

    let b5 = store.block_by_height(5).unwrap().unwrap();
    assert_eq!(b5.tx_count, 3);
    assert_eq!(b5.header, b"hdr");
    assert_eq!(b5.batch, 2);
    assert_eq!(store.block_by_hash(&b5.hash).unwrap(), Some(b5.clone()));
    assert!(store.block_by_hash(&[9; 32]).unwrap().is_none());
    let hashes = store.block_tx_hashes(5).unwrap();
    assert_eq!(hashes.len(), 3);
    let t = store.tx(&hashes[2]).unwrap().unwrap();
    assert_eq!((t.height, t.index, t.body), (5, 2, vec![2u8; 5]));
    assert!(store.tx(&[0; 32]).unwrap().is_none());

    // Paging through every event of contract 1 with topic "Transfer" in heights 2..=7.
    let want: Vec<StoredEvent> = all
        .iter()
        .filter(|e| {
            e.contract == Address([1; 32])
                && e.topics[0] == b"Transfer"
                && (2..=7).contains(&e.height)
        })
        .cloned()
        .collect();
    assert_eq!(want.len(), 6);
    for by_contract in [true, false] {
        let mut f = EventFilter {
            contract: by_contract.then_some(Address([1; 32])),
            topics: vec![Some(b"Transfer".to_vec()), Some(vec![1])],
            from_height: 2,
            to_height: Some(7),
            after: None,
            limit: 4,
        };
        let got = all_pages(&store, &mut f);
        assert_eq!(got, want, "by_contract={by_contract}");
    }
    // A cursor below from_height starts at from_height (not "done").
    let (page, _) = store
        .events(&EventFilter {
            from_height: 5,
            after: Some((1, 0, 0)),
            limit: 1,
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(page[0].height, 5);
    // No filter: every event in chain order.
    let (page, cursor) = store
        .events(&EventFilter {
            limit: 1000,
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(page, all);
    assert_eq!(cursor, None);
}

#[test]
fn reads_at_every_past_height_match_the_state_after_that_block() {
    use rand::{Rng, SeedableRng};
    use supervm_vm::StateView;
    let seed = crate::support::seed("history_reads");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::open_sharded(dir.path(), 3);
    let mut staging = Staging::new(store.clone());
    let mut models = Vec::new();
    let mut model = crate::support::Model::default();
    let mut keys = std::collections::BTreeSet::new();
    // Batches of 4 blocks on average (each block ends one with probability 1/4), so
    // that a key's undo group (one per key and batch) often holds several blocks'
    // records, and reads fall before, inside and after groups. Some keys are others
    // with a byte added or dropped (rows of keys of different lengths that share
    // bytes must not be taken for each other's).
    for _ in 0..60u64 {
        let mut w = crate::support::random_writes(&mut rng, 60);
        let some: Vec<Vec<u8>> = w.keys().take(3).cloned().collect();
        for k in some {
            let v = Some(vec![rng.r#gen::<u8>()]);
            w.insert([&k[..], &[0]].concat(), v.clone());
            w.insert(k[..k.len() - 1].to_vec(), v);
        }
        keys.extend(w.keys().cloned());
        crate::support::stage(&mut staging, &w);
        model.apply_block(&w);
        models.push(model.clone());
        if rng.gen_bool(0.25) {
            store.commit(staging.seal().unwrap()).unwrap();
        }
    }
    if let Some(b) = staging.seal() {
        store.commit(b).unwrap();
    }
    drop(staging);
    let check = |store: &supervm_store::Store| {
        crate::support::assert_past_reads(store, &models, &keys, 0);
        assert!(store.snapshot_at(models.len() as u64).is_err());
        assert!(store.snapshot_at(3).unwrap().next_key(b"", None).is_err());
    };
    check(&store);
    drop(Arc::try_unwrap(store).unwrap());
    check(&open(
        dir.path(),
        StoreConfig {
            shards: 3,
            ..StoreConfig::default()
        },
    ));
}

/// A filter the index does not cover (a second topic) scans at most
/// `MAX_EVENTS_SCANNED` entries per page: a page may come back empty with a cursor,
/// and paging on finds every match.
#[test]
fn a_page_scans_a_bounded_number_of_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), StoreConfig::default()));
    let mut staging = Staging::new(store.clone());
    let n = supervm_store::MAX_EVENTS_SCANNED as u32 + 5;
    // One transaction with n events of contract 7; the second topic is [0] except for
    // the last two events.
    let events: Vec<StoredEvent> = (0..n)
        .map(|ev| StoredEvent {
            height: 0,
            tx_index: 0,
            event_index: ev,
            contract: Address([7; 32]),
            topics: vec![b"Transfer".to_vec(), vec![u8::from(ev >= n - 2)]],
            data: vec![],
        })
        .collect();
    commit_one_tx_block(&store, &mut staging, events);
    let mut f = EventFilter {
        contract: Some(Address([7; 32])),
        topics: vec![None, Some(vec![1])],
        limit: 100,
        ..EventFilter::default()
    };
    let (first, cursor) = store.events(&f).unwrap();
    assert!(first.is_empty(), "no match among the first entries scanned");
    let cursor = cursor.expect("the scan stopped at its bound, not at the end");
    assert_eq!(cursor, (0, 0, supervm_store::MAX_EVENTS_SCANNED as u32 - 1));
    f.after = Some(cursor);
    let (second, cursor) = store.events(&f).unwrap();
    let found: Vec<u32> = second.iter().map(|e| e.event_index).collect();
    assert_eq!(found, vec![n - 2, n - 1]);
    assert_eq!(cursor, None);
}

/// A page ends once its events carry `MAX_PAGE_BYTES` of data and topics, with a
/// cursor (1,000 events of 8 KiB made one answer of 16 MiB of hex); paging on returns
/// every event once, in order.
#[test]
fn a_page_is_bounded_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), StoreConfig::default()));
    let mut staging = Staging::new(store.clone());
    let n = 300u32;
    let events: Vec<StoredEvent> = (0..n)
        .map(|ev| StoredEvent {
            height: 0,
            tx_index: 0,
            event_index: ev,
            contract: Address([7; 32]),
            topics: vec![b"Big".to_vec()],
            data: vec![ev as u8; 8 * 1024 - 3],
        })
        .collect();
    commit_one_tx_block(&store, &mut staging, events);
    let mut f = EventFilter {
        contract: Some(Address([7; 32])),
        limit: 1000,
        ..EventFilter::default()
    };
    let per_page = supervm_store::MAX_PAGE_BYTES / (8 * 1024);
    let mut seen = Vec::new();
    loop {
        let (page, cursor) = store.events(&f).unwrap();
        assert!(page.len() <= per_page, "{} events in a page", page.len());
        seen.extend(page.iter().map(|e| e.event_index));
        match cursor {
            Some(c) => f.after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
}

/// History is written with the decision, before the shards apply the state: until the
/// apply finished, the batch's blocks, transactions and events are not served, so a
/// reader never sees block N beside the state after N - 1. (A crash right after the
/// decision leaves them hidden; recovery applies the batch and shows them.)
#[test]
fn a_decided_batch_is_not_served_before_its_state_is_applied() {
    use supervm_store::{FailAction, FailPoint};
    use supervm_vm::StateView;
    let dir = tempfile::tempdir().unwrap();
    let crash_after_decision = StoreConfig {
        fail: Some(Arc::new(|p| {
            if p == FailPoint::AfterDecision {
                FailAction::Crash
            } else {
                FailAction::Continue
            }
        })),
        ..StoreConfig::default()
    };
    let store = Arc::new(open(dir.path(), crash_after_decision));
    let mut staging = Staging::new(store.clone());
    let tx_hash = [7u8; 32];
    let mut w = WriteSet::new();
    w.insert(b"k".to_vec(), Some(b"v".to_vec()));
    staging
        .stage_block(&w, |root| BlockRecord {
            height: 0,
            hash: block_hash(0, &root),
            state_root: root,
            header: b"hdr".to_vec(),
            txs: vec![TxEntry {
                hash: tx_hash,
                body: vec![1],
            }],
            events: vec![event(0, 0, 0, 1, "Transfer")],
        })
        .unwrap();
    assert!(store.commit(staging.seal().unwrap()).is_err());
    let all = EventFilter {
        limit: 100,
        ..EventFilter::default()
    };
    assert_eq!(store.block_by_height(0).unwrap(), None);
    assert_eq!(store.tx(&tx_hash).unwrap(), None);
    assert!(store.block_tx_hashes(0).unwrap().is_empty());
    assert_eq!(store.events(&all).unwrap(), (vec![], None));
    drop(staging);
    drop(Arc::try_unwrap(store).unwrap());
    // Recovery finishes the decided batch: state and history appear together.
    let store = open(dir.path(), StoreConfig::default());
    assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    assert!(store.block_by_height(0).unwrap().is_some());
    assert_eq!(store.tx(&tx_hash).unwrap().unwrap().height, 0);
    assert_eq!(store.block_tx_hashes(0).unwrap(), vec![tx_hash]);
    assert_eq!(store.events(&all).unwrap().0.len(), 1);
}

/// The decision is written in the same round as the shards' prepare records; when a
/// shard's prepare fails (here: a crash at shard 1's) the decision may be durable with
/// its history rows while the batch is not. Recovery takes the decision back with every
/// row it wrote: after a shorter batch and then more blocks are committed at and past
/// the same heights, none of the taken-back blocks' hashes, transactions or events is
/// found, and the new blocks' are.
#[test]
fn a_decision_taken_back_by_recovery_leaves_no_history() {
    use supervm_store::{FailAction, FailPoint};
    use supervm_vm::StateView;
    let dir = tempfile::tempdir().unwrap();
    // A block whose hash, header and transactions are marked by `tag`.
    let block = |height: u64, root: [u8; 32], tag: u8, txs: &[u8], events| BlockRecord {
        height,
        hash: {
            let mut h = block_hash(height, &root);
            h[31] ^= tag;
            h
        },
        state_root: root,
        header: vec![tag],
        txs: txs
            .iter()
            .map(|t| TxEntry {
                hash: [*t; 32],
                body: vec![*t],
            })
            .collect(),
        events,
    };
    let write = |k: &[u8], v: &[u8]| {
        let mut w = WriteSet::new();
        w.insert(k.to_vec(), Some(v.to_vec()));
        w
    };
    let crash_at_shard_1 = StoreConfig {
        fail: Some(Arc::new(|p| {
            if p == FailPoint::PrepareShard(1) {
                FailAction::Crash
            } else {
                FailAction::Continue
            }
        })),
        ..StoreConfig::default()
    };
    {
        let store = Arc::new(open(dir.path(), StoreConfig::default()));
        let mut staging = Staging::new(store.clone());
        staging
            .stage_block(&write(b"a", b"1"), |root| {
                block(0, root, 1, &[1], vec![event(0, 0, 0, 1, "Mint")])
            })
            .unwrap();
        store.commit(staging.seal().unwrap()).unwrap();
    }
    // Batch 2: three blocks (two transactions and an event, none, one of each).
    let mut taken_back_hashes = Vec::new();
    {
        let store = Arc::new(open(dir.path(), crash_at_shard_1));
        let mut staging = Staging::new(store.clone());
        let blocks = [
            (1, &[2u8, 4][..], vec![event(1, 1, 0, 2, "Gone")]),
            (2, &[][..], vec![]),
            (3, &[5u8][..], vec![event(3, 0, 0, 2, "Gone")]),
        ];
        for (height, txs, events) in blocks {
            staging
                .stage_block(&write(&[b'b', height as u8], b"2"), |root| {
                    let b = block(height, root, 2, txs, events);
                    taken_back_hashes.push(b.hash);
                    b
                })
                .unwrap();
        }
        store
            .commit(staging.seal().unwrap())
            .expect_err("crash at shard 1's prepare");
    }
    let (store, rec) = supervm_store::Store::open(dir.path(), StoreConfig::default()).unwrap();
    assert_eq!(rec.rolled_back, vec![2], "{rec:?}");
    assert_eq!(rec.taken_back, Some(2), "the decision had landed: {rec:?}");
    assert!(rec.redone.is_empty(), "{rec:?}");
    assert_eq!((store.head().batch, store.head().blocks), (1, 1));
    assert_eq!(store.get(&[b'b', 1]).unwrap(), None);
    // A shorter batch at height 1, then a batch of blocks 2 to 4.
    let store = Arc::new(store);
    let mut staging = Staging::new(store.clone());
    let mut new_hashes = Vec::new();
    staging
        .stage_block(&write(b"c", b"3"), |root| {
            let b = block(1, root, 3, &[3], vec![]);
            new_hashes.push(b.hash);
            b
        })
        .unwrap();
    store.commit(staging.seal().unwrap()).unwrap();
    for height in 2..5u64 {
        staging
            .stage_block(&write(&[b'd', height as u8], b"4"), |root| {
                let b = block(height, root, 4, &[], vec![]);
                new_hashes.push(b.hash);
                b
            })
            .unwrap();
    }
    store.commit(staging.seal().unwrap()).unwrap();
    assert_eq!(store.head().blocks, 5);
    for (i, h) in taken_back_hashes.iter().enumerate() {
        assert_eq!(
            store.block_by_hash(h).unwrap(),
            None,
            "taken-back block {i}"
        );
    }
    for (i, h) in new_hashes.iter().enumerate() {
        let b = store.block_by_hash(h).unwrap().expect("new block");
        assert_eq!(b.height, i as u64 + 1);
    }
    for gone in [2u8, 4, 5] {
        assert_eq!(store.tx(&[gone; 32]).unwrap(), None, "transaction {gone}");
    }
    assert_eq!(store.tx(&[3; 32]).unwrap().unwrap().height, 1);
    assert_eq!(store.tx(&[1; 32]).unwrap().unwrap().height, 0);
    assert_eq!(store.block_tx_hashes(1).unwrap(), vec![[3; 32]]);
    assert!(store.block_tx_hashes(3).unwrap().is_empty());
    let all = EventFilter {
        limit: 100,
        ..EventFilter::default()
    };
    let topics: Vec<Vec<u8>> = store
        .events(&all)
        .unwrap()
        .0
        .iter()
        .map(|e| e.topics[0].clone())
        .collect();
    assert_eq!(topics, vec![b"Mint".to_vec()]);
    let by_topic = EventFilter {
        topics: vec![Some(b"Gone".to_vec())],
        limit: 100,
        ..EventFilter::default()
    };
    assert_eq!(store.events(&by_topic).unwrap().0, vec![]);
    let by_contract = EventFilter {
        contract: Some(Address([2; 32])),
        limit: 100,
        ..EventFilter::default()
    };
    assert_eq!(store.events(&by_contract).unwrap().0, vec![]);
}

/// A block's events are stored as one row in position order: a block whose events
/// are out of order, or repeat a position, is refused before anything is staged.
#[test]
fn events_out_of_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), StoreConfig::default()));
    let mut staging = Staging::new(store.clone());
    for events in [
        vec![event(0, 1, 0, 7, "A"), event(0, 0, 3, 7, "A")],
        vec![event(0, 0, 1, 7, "A"), event(0, 0, 1, 7, "B")],
    ] {
        let err = staging
            .stage_block(&WriteSet::new(), |root| BlockRecord {
                height: 0,
                hash: block_hash(0, &root),
                state_root: root,
                header: vec![],
                txs: vec![],
                events,
            })
            .unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
        assert_eq!(staging.next_height(), 0);
    }
}

/// Paging a contract's events with a small limit, over blocks that also hold other
/// contracts' events (the index lists blocks, the blocks' rows are filtered): pages
/// end inside blocks, a cursor in a block the index does not list resumes after it,
/// and the pages together are exactly the contract's events in chain order.
#[test]
fn contract_pages_end_inside_blocks_and_cursors_resume_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path(), StoreConfig::default()));
    let mut staging = Staging::new(store.clone());
    let mut all = Vec::new();
    for height in 0..6u64 {
        // Contract 1 in blocks 0, 2, 4 (5 transactions of 2 events); contract 2 in every
        // block, interleaved with contract 1's.
        let events: Vec<StoredEvent> = (0..5u32)
            .flat_map(|tx| {
                (0..2u32).map(move |ev| {
                    let c = if height % 2 == 0 && ev == 1 { 1 } else { 2 };
                    event(height, tx, ev, c, "Transfer")
                })
            })
            .collect();
        all.extend(events.clone());
        stage_with_history(&mut staging, height, b"", vec![], events);
    }
    store.commit(staging.seal().unwrap()).unwrap();
    let want: Vec<StoredEvent> = all
        .iter()
        .filter(|e| e.contract == Address([1; 32]))
        .cloned()
        .collect();
    assert_eq!(want.len(), 15);
    let mut f = EventFilter {
        contract: Some(Address([1; 32])),
        limit: 4,
        ..EventFilter::default()
    };
    assert_eq!(all_pages(&store, &mut f), want);
    // A cursor in block 3, which has no events of contract 1, resumes in block 4.
    f.after = Some((3, 2, 0));
    let (page, _) = store.events(&f).unwrap();
    assert_eq!(page, want[10..14].to_vec());
    // A cursor on an event of contract 2 inside block 2 resumes at the next event of
    // contract 1 in that block.
    f.after = Some((2, 1, 0));
    let (page, _) = store.events(&f).unwrap();
    assert_eq!(page[0], event(2, 1, 1, 1, "Transfer"));
    // A height range inside the chain.
    f.after = None;
    f.from_height = 1;
    f.to_height = Some(2);
    f.limit = 100;
    let (page, cursor) = store.events(&f).unwrap();
    assert_eq!(page, want[5..10].to_vec());
    assert_eq!(cursor, None);
}

/// Guards against: undo groups lost or mangled when recovery redoes applies. A crash
/// inside the apply of a decided batch loses every apply since the last flush
/// (applies skip the WAL); the reopen redoes them from the prepare records, undo
/// groups included, and reads at every past height still match the model.
#[test]
fn reads_at_past_heights_survive_a_crash_inside_an_apply() {
    use rand::{Rng, SeedableRng};
    use supervm_store::FailPoint;
    let seed = crate::support::seed("history_reads_after_redo");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (config, armed) = crate::support::crash_when_armed(2, FailPoint::ApplyShard(1));
    let store = Arc::new(open(dir.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let (mut models, mut model) = (Vec::new(), crate::support::Model::default());
    let mut keys = std::collections::BTreeSet::new();
    for height in 0..24u64 {
        let w = crate::support::random_writes(&mut rng, 40);
        keys.extend(w.keys().cloned());
        crate::support::stage(&mut staging, &w);
        model.apply_block(&w);
        models.push(model.clone());
        if height == 23 {
            // The last batch is decided, then its apply crashes on shard 1.
            armed.store(true, std::sync::atomic::Ordering::SeqCst);
            store
                .commit(staging.seal().unwrap())
                .expect_err("crash inside the apply");
        } else if rng.gen_bool(0.3) {
            store.commit(staging.seal().unwrap()).unwrap();
        }
    }
    drop(staging);
    drop(Arc::try_unwrap(store).expect("sole owner"));
    let (store, recovery) = supervm_store::Store::open(dir.path(), config).unwrap();
    assert!(!recovery.redone.is_empty(), "{recovery:?}");
    crate::support::assert_past_reads(&store, &models, &keys, 0);
}

/// The undo groups of every shard of the (closed) store in `dir`: (key, last height).
fn undo_groups(dir: &std::path::Path, shards: u32) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    for i in 0..shards {
        let path = dir.join(format!("shard-{i}"));
        let opts = rocksdb::Options::default();
        let cfs = rocksdb::DB::list_cf(&opts, &path).unwrap();
        let db = rocksdb::DB::open_cf_for_read_only(&opts, &path, &cfs, false).unwrap();
        let cf = db.cf_handle(supervm_store::layout::CF_UNDO).unwrap();
        for row in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (k, v) = row.unwrap();
            let last = supervm_store::layout::undo_last_height(&v).expect("a valid group");
            out.push((k.to_vec(), last));
        }
    }
    out
}

/// With `history_blocks: Some(n)`, the heights `latest - n ..= latest` read as the
/// state after each block, older heights are refused with an error naming the oldest
/// readable one, and a compaction drops exactly the undo groups whose records are all
/// at or below the compactions' floor: the history floor of the decision before the
/// last (each decision's floor is the horizon of the head it followed; an archival
/// store fed the same blocks keeps every group). Reopened as archival, the store still
/// refuses the heights below the last decision's floor and reads every other one
/// right.
#[test]
fn bounded_history_serves_recent_heights_and_compactions_drop_older_undo_records() {
    use rand::{Rng, SeedableRng};
    let seed = crate::support::seed("bounded_history");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let blocks: Vec<WriteSet> = (0..60)
        .map(|_| crate::support::random_writes(&mut rng, 40))
        .collect();
    let ends: Vec<bool> = (0..blocks.len()).map(|_| rng.gen_bool(0.25)).collect();
    let (archival, bounded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n = 10u64;
    let mut models = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    // The committed block count each commit followed: a decision's floor is the horizon
    // of that head.
    let mut heads: Vec<u64> = Vec::new();
    let check_reads = |store: &supervm_store::Store,
                       models: &[crate::support::Model],
                       keys: &std::collections::BTreeSet<Vec<u8>>,
                       oldest: u64| {
        crate::support::assert_past_reads(store, models, keys, oldest);
        for h in [0, oldest.saturating_sub(1)]
            .into_iter()
            .filter(|h| *h < oldest)
        {
            let e = store
                .snapshot_at(h)
                .err()
                .expect("below the oldest readable height");
            assert!(
                e.to_string()
                    .contains(&format!("oldest readable height {oldest}")),
                "{e}"
            );
        }
    };
    for (dir, history_blocks) in [(&archival, None), (&bounded, Some(n))] {
        let store = Arc::new(open(
            dir.path(),
            StoreConfig {
                shards: 2,
                history_blocks,
                ..StoreConfig::default()
            },
        ));
        let mut staging = Staging::new(store.clone());
        let mut model = crate::support::Model::default();
        models.clear();
        for (i, (w, end)) in blocks.iter().zip(&ends).enumerate() {
            keys.extend(w.keys().cloned());
            crate::support::stage(&mut staging, w);
            model.apply_block(w);
            models.push(model.clone());
            if *end && i + 1 < blocks.len() {
                heads.push(store.head().blocks);
                store.commit(staging.seal().unwrap()).unwrap();
            }
        }
        heads.push(store.head().blocks);
        store.commit(staging.seal().unwrap()).unwrap();
        drop(staging);
        store.compact_history();
        let latest = models.len() as u64 - 1;
        let oldest = if history_blocks.is_some() {
            latest - n
        } else {
            0
        };
        assert_eq!(store.oldest_readable_height(), oldest);
        check_reads(&store, &models, &keys, oldest);
        drop(Arc::try_unwrap(store).unwrap());
    }
    // (both stores made the same commits: the bounded one's are the second half)
    let heads = &heads[heads.len() / 2..];
    let horizon = |blocks: u64| blocks.saturating_sub(1).saturating_sub(n);
    let floor = horizon(heads[heads.len() - 1]);
    let compacted = horizon(heads[heads.len() - 2]);
    assert!(
        compacted > 0,
        "seed {seed}: the workload commits long enough for a floor"
    );
    // Reopened as an archival store, the pruned heights stay refused.
    let reopened = open(
        bounded.path(),
        StoreConfig {
            shards: 2,
            ..StoreConfig::default()
        },
    );
    assert_eq!(reopened.oldest_readable_height(), floor);
    check_reads(&reopened, &models, &keys, floor);
    drop(reopened);
    let kept = undo_groups(bounded.path(), 2);
    let all = undo_groups(archival.path(), 2);
    let expected: Vec<&(Vec<u8>, u64)> = all.iter().filter(|(_, last)| *last > compacted).collect();
    assert!(
        all.len() > expected.len() && !expected.is_empty(),
        "seed {seed}: the workload leaves groups on both sides of the floor ({} of {})",
        expected.len(),
        all.len()
    );
    assert_eq!(kept.iter().collect::<Vec<_>>(), expected, "seed {seed}");
}

/// A store that ran without state history (no undo records) and is reopened with it
/// serves no height below the last block committed without it: those reads would
/// need undo records that were never written. Heights from there on read right.
#[test]
fn heights_committed_without_state_history_stay_unreadable_with_it() {
    use rand::SeedableRng;
    let seed = crate::support::seed("history_off_then_on");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut models = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    let mut model = crate::support::Model::default();
    for (state_history, commits) in [(false, 2), (true, 2)] {
        let store = Arc::new(open(
            dir.path(),
            StoreConfig {
                shards: 2,
                state_history,
                ..StoreConfig::default()
            },
        ));
        let mut staging = Staging::new(store.clone());
        for _ in 0..commits {
            for _ in 0..3 {
                let w = crate::support::random_writes(&mut rng, 20);
                keys.extend(w.keys().cloned());
                crate::support::stage(&mut staging, &w);
                model.apply_block(&w);
                models.push(model.clone());
            }
            store.commit(staging.seal().unwrap()).unwrap();
        }
        drop(staging);
        drop(Arc::try_unwrap(store).unwrap());
    }
    let store = open(
        dir.path(),
        StoreConfig {
            shards: 2,
            ..StoreConfig::default()
        },
    );
    // Blocks 0 to 5 were committed without history: 5 is the oldest readable height.
    assert_eq!(store.oldest_readable_height(), 5, "seed {seed}");
    let e = store.snapshot_at(4).err().expect("no undo records below 5");
    assert!(e.to_string().contains("oldest readable height 5"), "{e}");
    crate::support::assert_past_reads(&store, &models, &keys, 5);
}

/// Without an fsync per commit, a power loss may lose several decisions, so the
/// compactions move their floor only after syncing the coordinator, once it lags by
/// `COMPACTION_FLOOR_STEP` blocks: until then they keep the groups a lost decision's
/// heights could need.
#[test]
fn without_fsync_the_compactions_floor_moves_in_synced_steps() {
    use supervm_store::{COMPACTION_FLOOR_STEP, Durability};
    let dir = tempfile::tempdir().unwrap();
    let n = 2u64;
    let store = Arc::new(open(
        dir.path(),
        StoreConfig {
            shards: 2,
            durability: Durability::NoFsyncLosesRecentOnPowerLoss,
            history_blocks: Some(n),
            ..StoreConfig::default()
        },
    ));
    let mut staging = Staging::new(store.clone());
    let blocks = COMPACTION_FLOOR_STEP + 40;
    for h in 0..blocks {
        let mut w = WriteSet::new();
        w.insert(vec![(h % 7) as u8], Some(h.to_le_bytes().to_vec()));
        crate::support::stage(&mut staging, &w);
        store.commit(staging.seal().unwrap()).unwrap();
    }
    drop(staging);
    store.compact_history();
    assert_eq!(store.oldest_readable_height(), blocks - 1 - n);
    drop(Arc::try_unwrap(store).unwrap());
    // Each block is its own batch: the decision at head `k` records floor `k - 1 - n`,
    // the one before it `k - 2 - n`; the compactions took that once it reached a step.
    // (with an fsync per commit they would have dropped every group up to
    // `blocks - 3 - n`)
    let synced = COMPACTION_FLOOR_STEP;
    let mut lasts: Vec<u64> = undo_groups(dir.path(), 2)
        .into_iter()
        .map(|(_, last)| last)
        .collect();
    lasts.sort_unstable();
    // (every block changed one key: one group per block)
    assert_eq!(lasts, (synced + 1..blocks).collect::<Vec<_>>());
}

/// A batch committed without state history records its own last block as the floor;
/// if recovery takes that decision back, the floor before it comes back with the head,
/// and the heights whose undo records exist read again.
#[test]
fn a_taken_back_decision_gives_back_the_floor_before_it() {
    use rand::SeedableRng;
    use std::sync::atomic::Ordering::SeqCst;
    let seed = crate::support::seed("floor_take_back");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        shards: 2,
        ..StoreConfig::default()
    };
    // The committed blocks' writes (a taken-back block is not one).
    let mut blocks: Vec<WriteSet> = Vec::new();
    fn stage_three(
        rng: &mut rand_chacha::ChaCha8Rng,
        staging: &mut Staging,
        committed: Option<&mut Vec<WriteSet>>,
    ) {
        let mut staged = Vec::new();
        for _ in 0..3 {
            let w = crate::support::random_writes(rng, 20);
            crate::support::stage(staging, &w);
            staged.push(w);
        }
        if let Some(c) = committed {
            c.extend(staged);
        }
    }
    let models_of = |blocks: &[WriteSet]| {
        let mut model = crate::support::Model::default();
        let mut keys = std::collections::BTreeSet::new();
        let mut models = Vec::new();
        for w in blocks {
            keys.extend(w.keys().cloned());
            model.apply_block(w);
            models.push(model.clone());
        }
        (models, keys)
    };
    {
        let store = Arc::new(open(dir.path(), config.clone()));
        let mut staging = Staging::new(store.clone());
        stage_three(&mut rng, &mut staging, Some(&mut blocks));
        store.commit(staging.seal().unwrap()).unwrap();
    }
    {
        // Without state history, a crash in the prepare round: decided on the
        // coordinator, never prepared on shard 1.
        let (crashing, armed) =
            crate::support::crash_when_armed(2, supervm_store::FailPoint::PrepareShard(1));
        let store = Arc::new(open(
            dir.path(),
            StoreConfig {
                state_history: false,
                ..crashing
            },
        ));
        let mut staging = Staging::new(store.clone());
        stage_three(&mut rng, &mut staging, None);
        armed.store(true, SeqCst);
        assert!(store.commit(staging.seal().unwrap()).is_err());
    }
    let (store, recovery) = supervm_store::Store::open(dir.path(), config.clone()).unwrap();
    assert_eq!(recovery.taken_back, Some(2), "{recovery:?}");
    assert_eq!(store.oldest_readable_height(), 0, "seed {seed}");
    let (models, keys) = models_of(&blocks);
    crate::support::assert_past_reads(&store, &models, &keys, 0);
    let store = Arc::new(store);
    let mut staging = Staging::new(store.clone());
    stage_three(&mut rng, &mut staging, Some(&mut blocks));
    store.commit(staging.seal().unwrap()).unwrap();
    assert_eq!(store.oldest_readable_height(), 0, "seed {seed}");
    let (models, keys) = models_of(&blocks);
    crate::support::assert_past_reads(&store, &models, &keys, 0);
}
