//! Guards against: a torn or corrupted write-ahead-log tail (of a shard or of the
//! coordinator) opening as a partial batch. Every damaged image must either open at a
//! clean prefix of the committed batches, with all shards agreeing and the root
//! verified, or fail with an explicit error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use supervm_store::{Staging, Store, StoreConfig};

use crate::support::{Model, batch_blocks, check_consistent, open, stage};

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

#[derive(Clone, Copy, Debug)]
enum Damage {
    Truncate(u64),
    Flip(u64),
}

#[test]
fn damaged_wal_tail_opens_at_a_clean_prefix_or_fails_explicitly() {
    let seed = 7;
    let live = tempfile::tempdir().unwrap();
    let config = StoreConfig::default();
    let store = Arc::new(open(live.path(), config.clone()));
    let mut staging = Staging::new(store.clone());
    let mut models = vec![Model::default()];
    for batch in 1..=12 {
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
    let (mut opened, mut refused) = (0, 0);
    for db in ["coord", "shard-0", "shard-1"] {
        for damage in [
            Damage::Truncate(1),
            Damage::Truncate(7),
            Damage::Truncate(100),
            Damage::Truncate(2500),
            Damage::Truncate(20_000),
            Damage::Flip(3),
            Damage::Flip(60),
            Damage::Flip(1500),
            Damage::Flip(6000),
        ] {
            let case = tempfile::tempdir().unwrap();
            copy_dir(image.path(), case.path());
            let wal = newest_wal(&case.path().join(db));
            let len = std::fs::metadata(&wal).unwrap().len();
            match damage {
                Damage::Truncate(n) => {
                    let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
                    f.set_len(len.saturating_sub(n)).unwrap();
                }
                Damage::Flip(n) => {
                    let mut bytes = std::fs::read(&wal).unwrap();
                    let at = bytes.len().saturating_sub(n as usize);
                    if at < bytes.len() {
                        bytes[at] ^= 0x5a;
                    }
                    std::fs::write(&wal, bytes).unwrap();
                }
            }
            match Store::open(case.path(), config.clone()) {
                Ok((s, _)) => {
                    let b = s.head().batch as usize;
                    assert!(b <= 12, "{db} {damage:?}: head batch {b}");
                    check_consistent(&s, &models[b]);
                    opened += 1;
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        matches!(
                            e,
                            supervm_store::Error::Corrupt(_) | supervm_store::Error::Rocks { .. }
                        ),
                        "{db} {damage:?}: unexpected error {msg}"
                    );
                    println!("{db} {damage:?} (wal {len} bytes): refused: {msg}");
                    refused += 1;
                }
            }
        }
    }
    println!(
        "corruption: {opened} damaged images opened at a clean prefix, {refused} refused explicitly"
    );
    drop(staging);
    drop(store);
}
