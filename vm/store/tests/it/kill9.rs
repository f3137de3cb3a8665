//! Guards against: an acknowledged block lost, or a state that is not a sequential
//! replay of the acknowledged prefix, after the process is killed (`kill -9`) at an
//! arbitrary point of its commit loop.
//!
//! The parent test re-runs this test binary as a child (`kill9::child_commit_loop`),
//! which commits a deterministic chain, printing `ACK <batch>` after each commit
//! returns. The parent kills it after a random number of acknowledgements plus a random
//! delay, reopens the store, and compares it with a replay. `SUPERVM_KILL9_CYCLES`
//! (default 50) sets the number of cycles.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_store::{Staging, StoreConfig};

use crate::support::{Model, batch_blocks, check_consistent, open, seed, stage};

const CHILD_DIR: &str = "SUPERVM_KILL9_CHILD_DIR";
const CHILD_SEED: &str = "SUPERVM_KILL9_CHILD_SEED";

fn config() -> StoreConfig {
    StoreConfig {
        shards: 2,
        cache_entries: 1024,
        ..StoreConfig::default()
    }
}

/// The child's commit loop (does nothing unless started by the parent test).
#[test]
fn child_commit_loop() {
    let (Ok(dir), Ok(seed)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_SEED)) else {
        return;
    };
    let seed: u64 = seed.parse().unwrap();
    let store = Arc::new(open(dir.as_ref(), config()));
    let mut staging = Staging::new(store.clone());
    let mut batch = store.head().batch;
    loop {
        batch += 1;
        for w in batch_blocks(seed, batch) {
            stage(&mut staging, &w);
        }
        store.commit(staging.seal().unwrap()).unwrap();
        println!("ACK {batch}");
    }
}

#[test]
fn kill_9_during_commit_loop_loses_no_acknowledged_block() {
    let seed = seed("kill9");
    let cycles: usize = std::env::var("SUPERVM_KILL9_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut model = Model::default();
    let mut acked = 0u64;
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill9::child_commit_loop",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_SEED, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let want = rng.gen_range(1..=8);
        let mut seen = 0;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while seen < want {
            let Some(line) = lines.next() else {
                panic!("cycle {cycle}: child exited: {:?}", child.wait());
            };
            if let Some(b) = line.unwrap().strip_prefix("ACK ") {
                acked = b.trim().parse().unwrap();
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..4000)));
        child.kill().unwrap(); // SIGKILL
        // Acknowledgements printed before the kill landed still count.
        for line in lines.map_while(Result::ok) {
            if let Some(b) = line.strip_prefix("ACK ") {
                acked = b.trim().parse().unwrap();
            }
        }
        child.wait().unwrap();
        let store = open(dir.path(), config());
        let head = store.head();
        assert!(
            head.batch >= acked,
            "cycle {cycle}: batch {acked} was acknowledged but the store stands at {}",
            head.batch
        );
        while model.batches < head.batch {
            model.batches += 1;
            for w in batch_blocks(seed, model.batches) {
                model.apply_block(&w);
            }
        }
        check_consistent(&store, &model);
    }
    println!(
        "kill9: {cycles} kills, {} batches, {} blocks committed",
        model.batches, model.blocks
    );
}
