//! Puts per second through the sharded 2PC store for fixed commit-batch sizes and for
//! the adaptive policy, in every durability mode, with a raw single-instance RocksDB
//! `WriteBatch` of the same keys, grouped the same way, with the same durability,
//! measured in the same run.
//!
//! ```text
//! cargo run --release --example rocksdb_adaptive_batch_bench -- [--puts N] [--group-puts G]
//!     [--shards S] [--target-ms T] [--modes fsync,no-fsync,no-wal] [--repeat R] [--json]
//! ```
//!
//! Each configuration runs `--repeat` (default 3) passes of each side, taking turns
//! (the raw side first in odd-numbered turns), each into a fresh directory; every rate
//! is the median of its passes. The first 2PC pass decides the batch sizes (the
//! adaptive policy adapts in it; its latencies are the ones reported); the other passes
//! of both sides commit the same batches.
//!
//! A batch holds `size` write groups of G puts each (a group stands for one block's
//! writes). `puts_per_s` is end to end (staging with the state root, then 2PC);
//! `commit_puts_per_s` times `Store::commit` alone, the path compared with the raw
//! baseline. Only durably committed puts are counted (every commit must succeed).
//! The store runs without state history (undo records), like the raw baseline.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use supervm_benches::storage::{percentile_ms, put_groups, raw_commit, stage_plain};
use supervm_benches::{arg, median};
use supervm_store::{AdaptiveBatcher, BatchPolicy, Durability, Staging};

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let puts = arg(&args, "--puts", 200_000);
    let group = arg(&args, "--group-puts", 100).max(1);
    let shards = arg(&args, "--shards", 2) as u32;
    let target = Duration::from_millis(arg(&args, "--target-ms", 20) as u64);
    let repeat = arg(&args, "--repeat", 3).max(1);
    let modes: Vec<Durability> = args
        .iter()
        .position(|a| a == "--modes")
        .and_then(|i| args.get(i + 1))
        .map_or("fsync,no-fsync,no-wal", |s| s.as_str())
        .split(',')
        .map(|m| Durability::parse(m).unwrap_or_else(|| panic!("unknown mode {m}")))
        .collect();
    let groups = put_groups(puts / group, group, 42);
    let policies: Vec<(String, Option<usize>)> = vec![
        ("fixed-8".into(), Some(8)),
        ("fixed-32".into(), Some(32)),
        ("fixed-128".into(), Some(128)),
        ("adaptive-8..128".into(), None),
    ];
    if !json {
        println!(
            "{} puts in groups of {group}, {shards} shards, adaptive target {} ms (machine: {} threads)",
            groups.len() * group,
            target.as_millis(),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!(
            "{:<9} {:<16} {:>8} {:>12} {:>14} {:>14} {:>7} {:>9} {:>9}",
            "mode",
            "policy",
            "batches",
            "puts/s",
            "commit puts/s",
            "raw puts/s",
            "ratio",
            "p50 ms",
            "p99 ms"
        );
    }
    for &mode in &modes {
        for (name, fixed) in &policies {
            // Passes of each side, taking turns (the 2PC side first in even-numbered turns,
            // the raw side first in odd ones), each into a fresh directory; every rate is
            // the median of its passes. The first 2PC pass decides the batch sizes (for
            // the adaptive policy, as it adapts); later 2PC passes and every raw pass
            // commit the same batches.
            let mut sizes: Vec<usize> = Vec::new();
            let (mut lat, mut totals, mut commits, mut raws) = (vec![], vec![], vec![], vec![]);
            for turn in 0..repeat {
                for side in if turn % 2 == 0 { [0, 1] } else { [1, 0] } {
                    if side == 1 {
                        let raw_dir = tempfile::tempdir().expect("tempdir");
                        raws.push(raw_commit(raw_dir.path(), mode, &groups, &sizes).as_secs_f64());
                        continue;
                    }
                    let replay = (turn > 0).then(|| sizes.clone());
                    let dir = tempfile::tempdir().expect("tempdir");
                    let store =
                        supervm_benches::storage::open_store_with(dir.path(), shards, mode, false);
                    let mut staging = Staging::new(store.clone());
                    let mut batcher = AdaptiveBatcher::new(BatchPolicy {
                        target,
                        ..BatchPolicy::default()
                    });
                    let mut pass_sizes = Vec::new();
                    let mut commit_time = Duration::ZERO;
                    let start = Instant::now();
                    let mut i = 0;
                    while i < groups.len() {
                        let n = match &replay {
                            Some(r) => r[pass_sizes.len()],
                            None => fixed.unwrap_or(batcher.size()),
                        }
                        .min(groups.len() - i);
                        for g in &groups[i..i + n] {
                            stage_plain(&mut staging, g, vec![]);
                        }
                        let batch = staging.seal().expect("staged");
                        let t = Instant::now();
                        store.commit(batch).expect("commit");
                        let l = t.elapsed();
                        commit_time += l;
                        if replay.is_none() {
                            lat.push(l);
                        }
                        batcher.observe(l);
                        pass_sizes.push(n);
                        i += n;
                    }
                    totals.push(start.elapsed().as_secs_f64());
                    commits.push(commit_time.as_secs_f64());
                    if replay.is_none() {
                        sizes = pass_sizes;
                    }
                }
            }
            let i: usize = sizes.iter().sum();
            let committed = i * group;
            let (total, commit_time, raw) = (median(totals), median(commits), median(raws));
            let puts_per_s = committed as f64 / total;
            let commit_puts_per_s = committed as f64 / commit_time;
            let raw_puts_per_s = committed as f64 / raw;
            let ratio = commit_puts_per_s / raw_puts_per_s;
            if json {
                let trail: Vec<usize> = sizes.iter().take(24).copied().collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "config": name, "durability": mode.name(), "shards": shards,
                        "puts": committed, "group_puts": group, "batches": sizes.len(),
                        "avg_batch_groups": i as f64 / sizes.len() as f64,
                        "final_batch_groups": sizes.last(), "batch_size_trail": trail,
                        "seconds": total, "puts_per_s": puts_per_s, "passes": repeat,
                        "commit_puts_per_s": commit_puts_per_s,
                        "raw_rocksdb_puts_per_s": raw_puts_per_s,
                        "commit_vs_raw": ratio,
                        "commit_p50_ms": percentile_ms(&lat, 0.5),
                        "commit_p99_ms": percentile_ms(&lat, 0.99),
                        "target_ms": target.as_millis() as u64,
                    })
                );
            } else {
                println!(
                    "{:<9} {:<16} {:>8} {:>12.0} {:>14.0} {:>14.0} {:>6.2}x {:>9.2} {:>9.2}",
                    mode.name(),
                    name,
                    sizes.len(),
                    puts_per_s,
                    commit_puts_per_s,
                    raw_puts_per_s,
                    ratio,
                    percentile_ms(&lat, 0.5),
                    percentile_ms(&lat, 0.99)
                );
                if fixed.is_none() {
                    let trail: Vec<String> = sizes.iter().take(24).map(|s| s.to_string()).collect();
                    println!("          adaptive sizes: {} ...", trail.join(" "));
                }
            }
        }
    }
}
