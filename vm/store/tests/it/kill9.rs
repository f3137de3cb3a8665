//! Guards against: an acknowledged block lost, or a state that is not a sequential
//! replay of the acknowledged prefix, after the process is killed (`kill -9`) at an
//! arbitrary point of its commit loop.
//!
//! The parent test re-runs this test binary as a child (`kill9::child_commit_loop`),
//! which commits a deterministic chain, printing `ACK <batch>` after each commit
//! returns. The parent kills it after a random number of acknowledgements plus a random
//! delay, reopens the store, and compares it with a replay. `SUPERVM_KILL9_CYCLES`
//! (default 50) sets the number of cycles, in the default fsync mode; the no-fsync mode,
//! which claims to survive a process crash too (not an OS crash), runs half as many.
//!
//! A kill that lands between commits proves little, so the test counts the kills that
//! landed inside one (recovery rolled back the batch in flight, or the store holds a
//! batch whose acknowledgement was never printed) and fails if none did. (A redo says
//! nothing here: applies skip the WAL, so every batch since the last flush is redone
//! after a kill.) Here about four kills in five land inside one; should a run see none
//! in its cycles, it goes on (up to four times as many) until one does.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_store::{Durability, Staging, Store, StoreConfig};

use crate::support::{Model, batch_blocks, check_consistent, open, seed, stage};

const CHILD_DIR: &str = "SUPERVM_KILL9_CHILD_DIR";
const CHILD_SEED: &str = "SUPERVM_KILL9_CHILD_SEED";
const CHILD_DURABILITY: &str = "SUPERVM_KILL9_CHILD_DURABILITY";

fn config(durability: Durability) -> StoreConfig {
    StoreConfig {
        shards: 2,
        cache_bytes: 1 << 20,
        // Small memtables: the shards flush often, each at its own points, so a kill
        // leaves them behind the head by different numbers of batches to redo.
        write_buffer_bytes: 64 << 10,
        durability,
        ..StoreConfig::default()
    }
}

/// The child's commit loop, run only by the parent test (`--ignored`: on its own it
/// has nothing to check).
#[test]
#[ignore = "the kill -9 test's child process: run by that test"]
fn child_commit_loop() {
    let (Ok(dir), Ok(seed)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_SEED)) else {
        return;
    };
    let seed: u64 = seed.parse().unwrap();
    let durability = std::env::var(CHILD_DURABILITY)
        .ok()
        .and_then(|d| Durability::parse(&d))
        .unwrap_or_default();
    let store = Arc::new(open(dir.as_ref(), config(durability)));
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

fn cycles() -> usize {
    std::env::var("SUPERVM_KILL9_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
}

#[test]
fn kill_9_during_commit_loop_loses_no_acknowledged_block() {
    kill_loop(Durability::Fsync, cycles());
}

/// The no-fsync mode acknowledges a batch once its records are in the write-ahead logs
/// (in the page cache): a killed process loses none of them.
#[test]
fn kill_9_in_no_fsync_mode_loses_no_acknowledged_block() {
    kill_loop(
        Durability::NoFsyncLosesRecentOnPowerLoss,
        cycles().div_ceil(2),
    );
}

fn kill_loop(durability: Durability, cycles: usize) {
    let seed = seed("kill9");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut model = Model::default();
    let mut acked = 0u64;
    // Kills that landed inside a commit: recovery rolled back a batch, or the store
    // holds a batch whose acknowledgement was never printed (a redo says nothing here).
    let (mut mid_commit, mut redone, mut rolled_back, mut unacked) = (0, 0, 0, 0);
    let mut longest_redo = 0;
    let mut kills = 0;
    for cycle in 0..4 * cycles.max(1) {
        // Past the configured cycles only while no kill has landed mid-commit yet.
        if cycle >= cycles && mid_commit > 0 {
            break;
        }
        kills += 1;
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "--ignored",
                "kill9::child_commit_loop",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_SEED, seed.to_string())
            .env(CHILD_DURABILITY, durability.name())
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
        let (store, rec) = Store::open(dir.path(), config(durability))
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen after kill: {e}"));
        let head = store.head();
        assert!(
            head.batch >= acked,
            "cycle {cycle}: batch {acked} was acknowledged but the store stands at {}",
            head.batch
        );
        // Redone: the batches whose applies (written without the WAL) the kill lost,
        // consecutive up to the head. Rolled back: at most the batch in flight, if it
        // was not decided (then it is the one after the head).
        assert!(
            rec.redone.is_empty()
                || (rec.redone.last() == Some(&head.batch)
                    && rec.redone.windows(2).all(|w| w[1] == w[0] + 1)),
            "cycle {cycle}: head {} but recovery {rec:?}",
            head.batch
        );
        assert!(
            rec.rolled_back.is_empty() || rec.rolled_back == [head.batch + 1],
            "cycle {cycle}: head {} but recovery {rec:?}",
            head.batch
        );
        assert!(
            head.batch <= acked + 1,
            "cycle {cycle}: head {} is more than one batch past the acknowledged {acked}",
            head.batch
        );
        redone += rec.redone.len();
        longest_redo = longest_redo.max(rec.redone.len());
        rolled_back += usize::from(!rec.rolled_back.is_empty());
        unacked += usize::from(head.batch > acked);
        // (a redo alone does not say the kill landed inside a commit: every batch since
        // the last flush is redone)
        if !rec.rolled_back.is_empty() || head.batch > acked {
            mid_commit += 1;
        }
        while model.batches < head.batch {
            model.batches += 1;
            for w in batch_blocks(seed, model.batches) {
                model.apply_block(&w);
            }
        }
        check_consistent(&store, &model);
    }
    println!(
        "kill9 ({}): {kills} kills, {} batches, {} blocks committed; {mid_commit} kills landed mid-commit; {redone} batches redone, {rolled_back} rolled back, {unacked} committed but unacknowledged",
        durability.name(),
        model.batches,
        model.blocks
    );
    assert!(
        longest_redo >= 2,
        "no kill left more than one batch to redo (seed {seed})"
    );
    assert!(
        mid_commit > 0,
        "none of {kills} kills landed inside a commit: the test did not exercise recovery (seed {seed})"
    );
}
