//! What a transaction's state reads cost through each view the pipeline stacks, on one
//! thread, same transfers, taking turns: the sequential executor over the in-memory
//! state (the baseline), over the parallel executor's [`Overlay`] of an in-memory
//! state, and over an overlay of the store's [`Staging`] view (the committed state in
//! RocksDB behind its read cache, with and without the run's keys in the open layer).
//! Each configuration executes the same 10,000 uniform transfers over 10,000
//! accounts, applying each transaction's writes to its overlay as the parallel
//! executor's sequential chunks do.
//!
//! ```text
//! cargo run --release --example view_cost_probe -- [--rounds R]
//! ```

/// The allocator of every benchmark binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::contention::{Pattern, setup};
use supervm_benches::storage::{commit_genesis, open_store, stage_plain};
use supervm_benches::{arg, median};
use supervm_parallel::overlay::Overlay;
use supervm_parallel::{ParallelExecutor, Schedule};
use supervm_store::{Durability, Staging};
use supervm_vm::{StateView, WriteSet};

#[allow(clippy::disallowed_methods)] // a probe times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let rounds = arg(&args, "--rounds", 9);
    let w = setup(10_000, 10_000, Pattern::Uniform, 7);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(dir.path(), 2, Durability::Fsync);
    let mut staging = Staging::new(store.clone());
    commit_genesis(&store, &mut staging, &w.state);
    // A second staging whose open layer holds every account (a block rewriting them
    // all, staged and not committed): reads hit the open layer as in a commit batch.
    let mut warm = Staging::new(store.clone());
    let all: WriteSet = w
        .state
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    stage_plain(&mut warm, &all, vec![]);

    let run = |view: &dyn StateView, keep: bool| -> f64 {
        let mut overlay = Overlay::new(view);
        let mut kept = Vec::with_capacity(if keep { w.txs.len() } else { 0 });
        let t = Instant::now();
        for tx in &w.txs {
            let r = w.vm.execute(&overlay, &w.block, tx).expect("execute");
            assert!(r.outcome.is_success());
            overlay.apply(&r.write_set);
            if keep {
                kept.push(r);
            }
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / w.txs.len() as f64;
        drop(kept);
        us
    };
    let names = [
        "sequential executor, in memory (state applied in place)",
        "overlay over in-memory state, receipts dropped at once",
        "overlay over in-memory state, receipts kept",
        "overlay over staging view, open layer empty, receipts kept",
        "overlay over staging view, every key in the open layer, receipts kept",
        "ParallelExecutor (2 workers), Schedule::Sequential, blocks of 1000 over the staging view",
        "ParallelExecutor (2 workers), Schedule::Adaptive, blocks of 1000 over the staging view",
        "ParallelExecutor (1 worker), Schedule::Sequential, blocks of 1000 over the staging view",
        "ParallelExecutor (2 workers, no linger), Schedule::Sequential, blocks of 1000 over the staging view",
    ];
    let mut times = vec![vec![]; names.len()];
    for _ in 0..rounds {
        let mut state = w.state.clone();
        let t = Instant::now();
        w.vm.execute_block(&mut state, &w.block, &w.txs)
            .expect("sequential");
        times[0].push(t.elapsed().as_secs_f64() * 1e6 / w.txs.len() as f64);
        times[1].push(run(&w.state, false));
        times[2].push(run(&w.state, true));
        times[3].push(run(&staging.view(), true));
        times[4].push(run(&warm.view(), true));
        for (i, schedule, threads, linger) in [
            (5, Schedule::Sequential, 2, true),
            (6, Schedule::Adaptive, 2, true),
            (7, Schedule::Sequential, 1, true),
            (8, Schedule::Sequential, 2, false),
        ] {
            let mut exec = ParallelExecutor::new(w.vm.clone(), threads).with_schedule(schedule);
            if !linger {
                exec = exec.with_linger(std::time::Duration::ZERO);
            }
            let view = staging.view();
            let mut outs = Vec::new();
            let t = Instant::now();
            for block in w.txs.chunks(1000) {
                outs.push(exec.execute_block(&view, &w.block, block).expect("block"));
            }
            times[i].push(t.elapsed().as_secs_f64() * 1e6 / w.txs.len() as f64);
            drop(outs);
            drop(exec);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    for (name, t) in names.iter().zip(times) {
        println!("{:>8.2} us per transfer  {name}", median(t));
    }
}
