//! Schedules of the parallel executor against the sequential executor in one
//! process, one block each in turn, so that this machine's drift over seconds stays
//! out of the comparison. Each turn is a single block (workers may be asleep when it
//! starts); `high_contention_bench` times the second of two back-to-back blocks.
//!
//! ```text
//! cargo run --release --example schedule_compare -- [--case low|full|hot80] [--txs N] [--rounds R] [--burst B] [CONFIG ...]
//! ```
//!
//! CONFIG: `seq` (the sequential executor), `chunks` (`Schedule::Sequential`: chunks
//! over the overlay), `stm1` (Block-STM, 1 thread), `stm` (Block-STM, 2 threads),
//! `occ1` / `occ` (optimistic execution with in-order commit, 1 / 2 threads),
//! `adaptive` (the default schedule, 2 threads). Default: all seven. Prints the median
//! and best committed transfers/s of each; every output is checked against the
//! sequential one. `--burst B` times the last of B blocks run back to back by each
//! configuration, the sequential executor too (default 1: a single block, on a freshly
//! started pool where parallel; before the twenty-fifth session the sequential one
//! always ran one cold block, which made small blocks' ratios look better than they
//! are). `--txs N` sets the block's size (default: the case's). Each
//! turn starts its configuration's executor and drops it afterwards: one worker pool
//! alive at a time.

/// The allocator of every benchmark binary (the baselines in the same run use it too).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::arg;
use supervm_benches::contention::{Pattern, setup};
use supervm_parallel::{ParallelExecutor, Schedule};

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let rounds = arg(&args, "--rounds", 15);
    let burst = arg(&args, "--burst", 1).max(1);
    let flag = |n: &str| {
        args.iter()
            .position(|a| a == n)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let case = flag("--case").unwrap_or_else(|| "low".into());
    let (accounts, txs, pattern) = match case.as_str() {
        "low" => (10_000, 10_000, Pattern::Uniform),
        "full" => (1_000, 1_000, Pattern::OneKey),
        "hot80" => (
            10_000,
            1_000,
            Pattern::Hot {
                hot: 5,
                hot_percent: 80,
            },
        ),
        other => panic!("unknown case {other} (low, full, hot80)"),
    };
    // (`--txs N`: the block's size instead of the case's)
    let txs = arg(&args, "--txs", txs);
    let known = ["seq", "chunks", "stm1", "stm", "occ1", "occ", "adaptive"];
    let mut configs: Vec<&str> = args
        .iter()
        .skip(1)
        .filter_map(|a| known.iter().find(|k| **k == a.as_str()).copied())
        .collect();
    if configs.is_empty() {
        configs = known.to_vec();
    }
    let w = setup(accounts, txs, pattern, 7);
    let executor = |c: &str| {
        let (threads, schedule) = match c {
            "chunks" => (2, Schedule::Sequential),
            "stm1" => (1, Schedule::Parallel),
            "stm" => (2, Schedule::Parallel),
            "occ1" => (1, Schedule::Occ),
            "occ" => (2, Schedule::Occ),
            _ => (2, Schedule::Adaptive),
        };
        ParallelExecutor::new(w.vm.clone(), threads).with_schedule(schedule)
    };
    let mut seq_state = w.state.clone();
    let expected =
        w.vm.execute_block(&mut seq_state, &w.block, &w.txs)
            .expect("sequential");
    let seq_root = seq_state.state_hash();
    let committed = expected.iter().filter(|r| r.outcome.is_success()).count();
    let mut times = vec![vec![]; configs.len()];
    for _ in 0..rounds {
        for (i, config) in configs.iter().enumerate() {
            // One worker pool alive at a time, as in a node (and in high_contention_bench):
            // idle pools of other configurations slowed the timed blocks of 2-thread runs
            // by up to several times (docs/benchmarks.md, twelfth and thirteenth sessions).
            let exec = (*config != "seq").then(|| executor(config));
            let (t, receipts) = match &exec {
                None => {
                    // (the same B - 1 untimed blocks first as the executors get)
                    for _ in 1..burst {
                        w.vm.execute_block(&mut w.state.clone(), &w.block, &w.txs)
                            .expect("sequential");
                    }
                    let mut state = w.state.clone();
                    let t = Instant::now();
                    let r = w.vm.execute_block(&mut state, &w.block, &w.txs);
                    let took = t.elapsed();
                    assert_eq!(state.state_hash(), seq_root, "sequential state");
                    (took, r.expect("sequential"))
                }
                Some(e) => {
                    // (with --burst B, B - 1 untimed blocks first, back to back: the
                    // workers are awake when the timed one starts, as in a busy node)
                    for _ in 1..burst {
                        e.execute_block(&w.state, &w.block, &w.txs)
                            .expect("parallel");
                    }
                    let t = Instant::now();
                    let out = e.execute_block(&w.state, &w.block, &w.txs);
                    let took = t.elapsed();
                    let out = out.expect("parallel");
                    // (untimed: the block's writes, not only its receipts)
                    let mut par_state = w.state.clone();
                    par_state.apply_writes(&out.writes);
                    assert_eq!(
                        par_state.state_hash(),
                        seq_root,
                        "{} writes differ from sequential",
                        configs[i]
                    );
                    (took, out.receipts)
                }
            };
            times[i].push(t.as_secs_f64());
            assert_eq!(
                receipts.len(),
                expected.len(),
                "{} receipt count",
                configs[i]
            );
            for (p, s) in receipts.iter().zip(&expected) {
                assert_eq!(p.hash(), s.hash(), "{} differs from sequential", configs[i]);
            }
            if let Some(e) = exec {
                drop(e);
                // Untimed: the dropped pool's threads see the shutdown and exit.
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
    println!(
        "{case}: {txs} transfers, {committed} committed, {rounds} rounds, 2 threads where parallel"
    );
    for (c, mut t) in configs.iter().zip(times) {
        t.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        println!(
            "  {c:>9}: median {:>7.0} tx/s  best {:>7.0}",
            committed as f64 / t[t.len() / 2],
            committed as f64 / t[0]
        );
    }
}
