//! Shared helpers: a model of the state, deterministic batch generators, checks.

use std::collections::BTreeMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_store::{BlockRecord, LtHash, Staging, Store, StoreConfig, StoredEvent, TxEntry};
use supervm_vm::{Address, WriteSet};

/// The seed of a randomized test: `SUPERVM_SEED` or a fresh one, printed.
pub fn seed(name: &str) -> u64 {
    let s = supervm_vm::env_number("SUPERVM_SEED").unwrap_or_else(|| {
        let t = std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        t ^ (std::process::id() as u64) << 32
    });
    println!("{name}: seed {s} (rerun with SUPERVM_SEED={s})");
    s
}

/// The reference: committed state and block count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub state: BTreeMap<Vec<u8>, Vec<u8>>,
    pub blocks: u64,
    pub batches: u64,
}

impl Model {
    pub fn apply_block(&mut self, writes: &WriteSet) {
        for (k, v) in writes {
            match v {
                Some(v) => {
                    self.state.insert(k.clone(), v.clone());
                }
                None => {
                    self.state.remove(k);
                }
            }
        }
        self.blocks += 1;
    }

    pub fn root(&self) -> [u8; 32] {
        let mut l = LtHash::zero();
        for (k, v) in &self.state {
            l.add(&LtHash::of_entry(k, v));
        }
        l.root()
    }
}

/// Random writes for one block over a small key space (so keys are overwritten and
/// deleted), spread over several "contracts" (prefixes).
pub fn random_writes(rng: &mut ChaCha8Rng, max: usize) -> WriteSet {
    let n = rng.gen_range(1..=max);
    let mut w = WriteSet::new();
    for _ in 0..n {
        let contract = rng.gen_range(0u8..4);
        let slot: u16 = rng.gen_range(0..150);
        let mut k = vec![0u8, contract];
        k.extend_from_slice(&slot.to_be_bytes());
        if rng.gen_bool(0.2) {
            w.insert(k, None);
        } else {
            let len = rng.gen_range(0..40);
            w.insert(k, Some((0..len).map(|_| rng.r#gen()).collect()));
        }
    }
    w
}

/// The block hash tests use: a hash of the height and the root.
pub fn block_hash(height: u64, root: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&height.to_le_bytes());
    h.update(root);
    *h.finalize().as_bytes()
}

/// Stages one block with `writes`, one transaction and one event.
pub fn stage(staging: &mut Staging, writes: &impl supervm_vm::WriteEntries) -> [u8; 32] {
    let height = staging.next_height();
    staging
        .stage_block(writes, |root| BlockRecord {
            height,
            hash: block_hash(height, &root),
            state_root: root,
            header: height.to_le_bytes().to_vec(),
            txs: vec![TxEntry {
                hash: *blake3::hash(&height.to_le_bytes()).as_bytes(),
                body: vec![height as u8],
            }],
            events: vec![StoredEvent {
                height,
                tx_index: 0,
                event_index: 0,
                contract: Address([height as u8 % 3; 32]),
                topics: vec![b"Tick".to_vec()],
                data: height.to_le_bytes().to_vec(),
            }],
        })
        .expect("stage block")
}

/// The writes of batch `batch` (1-based) of a deterministic chain: a pure function of
/// the seed and the batch number, so a crashed run can be replayed exactly.
pub fn batch_blocks(seed: u64, batch: u64) -> Vec<WriteSet> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ batch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let blocks = rng.gen_range(1..=3);
    (0..blocks).map(|_| random_writes(&mut rng, 30)).collect()
}

/// Checks everything recovery promises: every shard at the head batch with no prepare
/// records left, the state equal to the model, the roots equal, the last block there.
pub fn check_consistent(store: &Store, model: &Model) {
    let head = store.head();
    for (i, (applied, prepared)) in store.shard_status().unwrap().into_iter().enumerate() {
        assert_eq!(applied, head.batch, "shard {i} applied batch");
        assert_eq!(prepared, 0, "shard {i} has orphaned prepare records");
    }
    assert_eq!(head.batch, model.batches, "committed batch");
    assert_eq!(head.blocks, model.blocks, "committed blocks");
    let dump: BTreeMap<Vec<u8>, Vec<u8>> = store.dump().unwrap().into_iter().collect();
    assert_eq!(dump, model.state, "state differs from the model");
    assert_eq!(
        store.state_root(),
        model.root(),
        "state root differs from the model"
    );
    assert_eq!(store.verify_state_root().unwrap(), model.root());
    if model.blocks > 0 {
        let b = store
            .block_by_height(model.blocks - 1)
            .unwrap()
            .expect("last block stored");
        assert_eq!(b.state_root, model.root(), "last block's stored root");
        assert!(store.block_by_height(model.blocks).unwrap().is_none());
    }
}

/// The coordinator database of the (closed) store in `dir`, opened raw, to damage it.
pub fn raw_coord(dir: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(
        &rocksdb::Options::default(),
        dir.join("coord"),
        supervm_store::layout::COORD_CFS,
    )
    .unwrap()
}

/// Opens a store (panics on error).
pub fn open(dir: &Path, config: StoreConfig) -> Store {
    Store::open(dir, config).expect("open store").0
}

/// A shared store with `shards` shards and the other settings at their defaults.
pub fn open_sharded(dir: &Path, shards: u32) -> std::sync::Arc<Store> {
    std::sync::Arc::new(open(
        dir,
        StoreConfig {
            shards,
            ..StoreConfig::default()
        },
    ))
}

/// A config of `shards` shards whose fail hook crashes at `point` once the returned
/// flag is set (and lets every other step through).
pub fn crash_when_armed(
    shards: u32,
    point: supervm_store::FailPoint,
) -> (StoreConfig, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let armed = std::sync::Arc::new(AtomicBool::new(false));
    let hook = armed.clone();
    let config = StoreConfig {
        shards,
        fail: Some(std::sync::Arc::new(move |p| {
            if p == point && hook.load(SeqCst) {
                supervm_store::FailAction::Crash
            } else {
                supervm_store::FailAction::Continue
            }
        })),
        ..StoreConfig::default()
    };
    (config, armed)
}

/// Asserts that a point read of every key in `keys` at every height `h` from `oldest`
/// on answers as `models[h]` (the state after block `h`) does.
pub fn assert_past_reads(
    store: &Store,
    models: &[Model],
    keys: &std::collections::BTreeSet<Vec<u8>>,
    oldest: u64,
) {
    use supervm_vm::StateView;
    for (h, m) in models.iter().enumerate().skip(oldest as usize) {
        let snap = store.snapshot_at(h as u64).unwrap();
        for k in keys {
            assert_eq!(
                snap.get(k).unwrap().as_ref(),
                m.state.get(k),
                "height {h}, key {k:?}"
            );
        }
    }
}
