//! The parallel scheduler under contention: the predecessor's workload (1,000
//! token transfers, 80 % touching 5 hot accounts), a low-contention case (10,000
//! accounts) and a full-contention case (one hot key). For each: sequential
//! executor, the parallel executor's default (adaptive: OCC, Block-STM or sequential
//! chunks; the JSON's `occ_txs` and `sequential_txs` say which ran) schedule with 1
//! thread and with N threads, and Block-STM over the whole block with N threads (without and
//! with the Bloom pre-check), from the same run, on the same block, taking turns
//! round by round (each turn three blocks, the third timed), one worker pool alive at
//! a time; every parallel output is checked equal to the sequential one.
//!
//! ```text
//! cargo run --release --example high_contention_bench -- [--threads N] [--repeat R] [--case NAME] [--json]
//! ```
//!
//! Counts only committed transfers (outcome `Success`) of the real token contract.

/// The allocator of every benchmark binary (the baselines in the same run use it too).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::contention::{Pattern, setup};
use supervm_benches::{arg, median};
use supervm_parallel::{ParallelExecutor, Schedule};
use supervm_vm::Receipt;

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let threads = arg(
        &args,
        "--threads",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    );
    let repeat = arg(&args, "--repeat", 5);
    let cases = [
        (
            "hot80_5accounts",
            10_000,
            1_000,
            Pattern::Hot {
                hot: 5,
                hot_percent: 80,
            },
        ),
        ("low_10000accounts", 10_000, 10_000, Pattern::Uniform),
        ("full_one_key", 1_000, 1_000, Pattern::OneKey),
    ];
    let only = args
        .iter()
        .position(|a| a == "--case")
        .and_then(|i| args.get(i + 1))
        .cloned();
    for (case, accounts, txs, pattern) in cases {
        if only.as_deref().is_some_and(|c| c != case) {
            continue;
        }
        let w = setup(accounts, txs, pattern, 7);
        // The sequential executor (the reference output and the baseline); the default
        // (adaptive) schedule at 1 and N threads; Block-STM over the whole block without
        // and with the Bloom pre-check. The configurations take turns, one block each,
        // `repeat` rounds: this machine's speed drifts by tens of percent over seconds,
        // and turns keep that drift out of the comparison.
        let configs = [
            (1, Schedule::Adaptive, false),
            (threads, Schedule::Adaptive, false),
            (threads, Schedule::Parallel, false),
            (threads, Schedule::Parallel, true),
        ];
        let new_exec = |&(t_count, schedule, bloom): &(usize, Schedule, bool)| {
            ParallelExecutor::new(w.vm.clone(), t_count)
                .with_schedule(schedule)
                .with_bloom(bloom)
        };
        let mut seq_times = vec![];
        let mut times = vec![vec![]; configs.len()];
        let mut last_stats = vec![(0u64, 0usize, 0usize); configs.len()];
        let mut seq_receipts: Vec<Receipt> = vec![];
        for _ in 0..repeat {
            // Two untimed warm-up blocks, as for the executors below.
            for _ in 0..2 {
                w.vm.execute_block(&mut w.state.clone(), &w.block, &w.txs)
                    .expect("sequential");
            }
            let mut state = w.state.clone();
            let t = Instant::now();
            let receipts =
                w.vm.execute_block(&mut state, &w.block, &w.txs)
                    .expect("sequential");
            seq_times.push(t.elapsed().as_secs_f64());
            let seq_root = state.state_hash();
            // (the previous round's receipts are dropped here, untimed, as the parallel
            // outputs are)
            seq_receipts = receipts;
            for (i, config) in configs.iter().enumerate() {
                // One worker pool alive at a time, as in a node: each turn starts this
                // configuration's executor and drops it after the timed block (its
                // threads are given 20 ms to exit before the next turn starts its own).
                // Idle pools of other configurations made the timed blocks of 2-thread
                // runs up to several times slower (docs/benchmarks.md, twelfth and
                // thirteenth sessions). Two untimed
                // blocks first: the workers wake and warm their instance lanes, and the
                // adaptive schedule settles into the mode it would run a stream of such
                // blocks in, as in a node producing blocks back to back.
                let exec = new_exec(config);
                for _ in 0..2 {
                    exec.execute_block(&w.state, &w.block, &w.txs)
                        .expect("parallel");
                }
                let t = Instant::now();
                let out = exec
                    .execute_block(&w.state, &w.block, &w.txs)
                    .expect("parallel");
                times[i].push(t.elapsed().as_secs_f64());
                last_stats[i] = (
                    out.stats.reexecutions,
                    out.stats.sequential_txs,
                    out.stats.occ_txs,
                );
                assert_eq!(out.receipts.len(), seq_receipts.len(), "receipt count");
                for (p, s) in out.receipts.iter().zip(&seq_receipts) {
                    assert_eq!(
                        p.hash(),
                        s.hash(),
                        "parallel output differs from sequential"
                    );
                }
                // (untimed: the block's writes, not only its receipts, as sequential's)
                let mut par_state = w.state.clone();
                par_state.apply_writes(&out.writes);
                assert_eq!(
                    par_state.state_hash(),
                    seq_root,
                    "parallel writes differ from sequential"
                );
                drop(exec);
                // Untimed: the dropped pool's threads see the shutdown and exit.
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let committed = seq_receipts
            .iter()
            .filter(|r| r.outcome.is_success())
            .count();
        let results: Vec<(usize, f64, u64, usize, usize)> = configs
            .iter()
            .zip(times)
            .zip(&last_stats)
            .map(|((c, t), &(reexec, sequential, occ))| (c.0, median(t), reexec, sequential, occ))
            .collect();
        let seq = committed as f64 / median(seq_times);
        let (_, one_time, one_reexec, _, _) = results[0];
        let (n, n_time, n_reexec, n_sequential, n_occ) = results[1];
        let (_, stm_time, stm_reexec, _, _) = results[2];
        let (_, bloom_time, _, _, _) = results[3];
        let stm = committed as f64 / stm_time;
        let bloom_rate = committed as f64 / bloom_time;
        let one = committed as f64 / one_time;
        let par = committed as f64 / n_time;
        if !json {
            println!(
                "{case}: {txs} transfers, {accounts} accounts, {committed} committed, in-memory state, median of {repeat}"
            );
            println!("  sequential executor     {seq:>10.0} tx/s");
            println!("  parallel, 1 thread      {one:>10.0} tx/s  ({one_reexec} re-executions)");
            println!(
                "  parallel, {n} threads     {par:>10.0} tx/s  ({n_reexec} re-executions, {n_sequential} of {txs} transactions in sequential chunks, {n_occ} by OCC)  speedup {:.2}x over sequential, {:.2}x over 1 thread",
                par / seq,
                par / one
            );
            println!("  Block-STM only, {n} threads {stm:>7.0} tx/s  ({stm_reexec} re-executions)");
            println!(
                "  same with Bloom pre-check {bloom_rate:>8.0} tx/s  ({:+.1} %)",
                (bloom_rate / stm - 1.0) * 100.0
            );
        }
        println!(
            "{}",
            serde_json::json!({
                "case": case, "txs": txs, "accounts": accounts, "threads": n, "committed": committed,
                "seq_tx_per_s": seq, "par_1thread_tx_per_s": one, "par_tx_per_s": par,
                "speedup": par / seq, "speedup_vs_1thread": par / one,
                "sequential_txs": n_sequential, "occ_txs": n_occ,
                "blockstm_tx_per_s": stm, "blockstm_reexecutions_per_tx": stm_reexec as f64 / txs as f64,
                "par_bloom_tx_per_s": bloom_rate,
                "reexecutions_per_tx": n_reexec as f64 / txs as f64,
                "state": "in-memory", "repeat": repeat,
            })
        );
    }
}
