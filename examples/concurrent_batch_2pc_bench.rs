//! The predecessor's `concurrent_batch_2pc_bench`, done honestly: real token-transfer
//! contracts executed by the parallel VM, blocks staged with their state root and
//! committed durably through batched 2PC over sharded RocksDB; about 30 % of transfers
//! write keys on two shards. Only committed transfers (outcome `Success`, batch
//! acknowledged) are counted. Baselines from the same run: sequential execution in
//! memory, and a raw single-instance RocksDB `WriteBatch` of the same keys with the
//! same durability. The transactions are the VM's (sender, gas limit, call): no
//! signature is verified and no nonce or fee charged, as the output says
//! (`transactions`); `node_load` measures signed transactions through the node.
//! `durable` is true only with `fsync` (the default).
//!
//! ```text
//! cargo run --release --example concurrent_batch_2pc_bench -- TXS BATCH THREADS
//!     [--block-txs N] [--accounts N] [--shards S] [--cross-percent P]
//!     [--durability fsync|no-fsync|no-wal] [--schedule adaptive|sequential] [--repeat R] [--json]
//! ```
//!
//! `--schedule sequential` executes each block's transactions one by one on one worker
//! (the other is left to the state root and the commit); the default is the parallel
//! executor's adaptive schedule.
//!
//! BATCH is the number of blocks per commit batch (the group-commit unit), each block
//! `--block-txs` transfers (default 1000). Execution of block n+1 overlaps the commit
//! of the previous batch (a commit thread).
//!
//! The comparison with raw RocksDB times `--repeat` (default 5) passes of each side
//! over all the run's batches, taking turns (raw first in the odd-numbered turns,
//! so in 3 of 5 by default), each into a fresh directory, and divides the medians
//! (`commit_vs_raw`; every pass's ratio in `commit_vs_raw_per_pass`). The 2PC side
//! there commits the state keys with one block row each (no transactions, events or
//! undo records). `commit_with_history_tx_per_s` is the pipelined run's commit busy
//! time, history included, once, measured while the executor's workers compete for the
//! same cores; `commit_with_history_vs_raw` divides it by the raw median (raw passes run
//! alone): a lower bound, biased against the store.
//!
//! `seq_pipeline_tx_per_s` is the same pipeline (fresh store, same transfers, same
//! durability) run once more with the sequential schedule right after the measured
//! run: the same-run baseline of the end-to-end figure.
//!
//! `cpu_seconds` is the CPU time the whole process used during the pipelined run (every
//! thread: workers, committer, RocksDB's background threads), and `cores_busy` that
//! divided by the run's wall time: how many cores it kept busy on average (2.0 is both
//! of a 2-core machine).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_benches::arg;
use supervm_benches::storage::{open_store, percentile_ms, raw_commit};
use supervm_benches::transfer::{setup, transfer_tx};
use supervm_parallel::ParallelExecutor;
use supervm_store::layout::shard_of;
use supervm_store::{BlockRecord, Durability, Staging, StoredEvent, TxEntry};
use supervm_vm::{Payload, Transaction, WriteLayer, WriteSet};

/// What this benchmark's transactions are, printed with its figures: VM transactions
/// (a sender, a gas limit and a call), not the node's signed ones.
const TX_KIND: &str = "VM token-transfer calls: no signature verified, no nonce or fee \
    charged, each transaction's stored body a 32-byte receipt hash (node_load measures \
    signed transactions end to end)";

/// What one pipelined run measured.
struct Pipelined {
    secs: f64,
    cpu_secs: f64,
    exec_time: Duration,
    rows_time: Duration,
    stage_time: Duration,
    lat: Vec<Duration>,
    commit_busy: Duration,
    committed: usize,
    cross: usize,
    reexec: u64,
    block_groups: Vec<WriteSet>,
}

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let pos: Vec<usize> = args[1..]
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .map(|a| a.parse().expect("positional arguments: TXS BATCH THREADS"))
        .collect();
    let txs_n = pos.first().copied().unwrap_or(100_000);
    let batch_blocks = pos.get(1).copied().unwrap_or(32).max(1);
    let threads = pos.get(2).copied().unwrap_or(2).max(1);
    let json = args.iter().any(|a| a == "--json");
    let repeat = arg(&args, "--repeat", 5).max(1);
    let block_txs = arg(&args, "--block-txs", 1000).max(1);
    let accounts_n = arg(&args, "--accounts", 10_000).max(4);
    let shards = arg(&args, "--shards", 2) as u32;
    let cross_pct = arg(&args, "--cross-percent", 30) as u32;
    let durability = args
        .iter()
        .position(|a| a == "--durability")
        .and_then(|i| args.get(i + 1))
        .map_or(Durability::Fsync, |s| {
            Durability::parse(s).expect("durability: fsync|no-fsync|no-wal")
        });

    // Deploy the token and fund the accounts (in memory), then learn which shard holds
    // each account's balance by reading it through the VM.
    let w = setup(accounts_n, 0, 1);
    let mut by_shard: Vec<Vec<usize>> = vec![vec![]; shards as usize];
    for (i, a) in w.accounts.iter().enumerate() {
        let probe = Transaction {
            sender: *a,
            gas_limit: 1_000_000,
            payload: Payload::Call {
                contract: w.token,
                function: "balance".into(),
                args: supervm_abi::Encode::encode(a),
            },
        };
        let r = w.vm.execute(&w.state, &w.block, &probe).expect("probe");
        let key = r
            .read_set
            .keys
            .iter()
            .map(|k| &k.key)
            .find(|k| k[0] == supervm_vm::state::PREFIX_STORAGE)
            .expect("balance read");
        by_shard[shard_of(key, shards) as usize].push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let txs: Vec<Transaction> = (0..txs_n)
        .map(|_| {
            let s = rng.gen_range(0..shards as usize);
            let from = by_shard[s][rng.gen_range(0..by_shard[s].len())];
            let ts = if shards > 1 && rng.gen_range(0..100) < cross_pct {
                (s + rng.gen_range(1..shards as usize)) % shards as usize
            } else {
                s
            };
            let mut to = by_shard[ts][rng.gen_range(0..by_shard[ts].len())];
            if to == from {
                to = by_shard[ts][(by_shard[ts].iter().position(|x| *x == to).unwrap() + 1)
                    % by_shard[ts].len()];
            }
            transfer_tx(
                w.token,
                w.accounts[from],
                w.accounts[to],
                rng.gen_range(1..100),
            )
        })
        .collect();

    // Baseline 1: sequential execution in memory (no storage).
    let mut seq_state = w.state.clone();
    let t = Instant::now();
    let mut seq_ok = 0;
    for tx in &txs {
        let r = w.vm.execute(&seq_state, &w.block, tx).expect("execute");
        if r.outcome.is_success() {
            seq_state.apply_owned(r.write_set);
            seq_ok += 1;
        }
    }
    let seq_secs = t.elapsed().as_secs_f64();

    let schedule = match args
        .iter()
        .position(|a| a == "--schedule")
        .map(|i| args.get(i + 1))
    {
        None => supervm_parallel::Schedule::Adaptive,
        Some(Some(s)) if s == "adaptive" => supervm_parallel::Schedule::Adaptive,
        Some(Some(s)) if s == "sequential" => supervm_parallel::Schedule::Sequential,
        Some(other) => panic!("--schedule adaptive|sequential, got {other:?}"),
    };
    // The measured run: execute, stage, commit (on a commit thread), into a fresh store
    // with the funded state as block 0. Run with the chosen schedule, then once more
    // with the sequential one as the same-run baseline of the end-to-end figure.
    let pipeline = |schedule: supervm_parallel::Schedule| -> Pipelined {
        // The store, with the funded state as block 0.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(dir.path(), shards, durability);
        let mut staging = Staging::new(store.clone());
        supervm_benches::storage::commit_genesis(&store, &mut staging, &w.state);

        let exec = ParallelExecutor::new(w.vm.clone(), threads).with_schedule(schedule);
        let (send, recv) = mpsc::sync_channel::<supervm_store::CommitBatch>(1);
        let committer = {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut busy = Duration::ZERO;
                for b in recv {
                    let t = Instant::now();
                    store.commit(b).expect("commit");
                    let l = t.elapsed();
                    busy += l;
                    lat.push(l);
                }
                (lat, busy)
            })
        };
        let cpu_start = supervm_benches::process_cpu_seconds();
        let start = Instant::now();
        let (mut exec_time, mut rows_time, mut stage_time) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let (mut committed, mut cross, mut reexec) = (0usize, 0usize, 0u64);
        let mut block_groups: Vec<WriteLayer> = Vec::new();
        for (bi, chunk) in txs.chunks(block_txs).enumerate() {
            let mut env = w.block;
            env.height = staging.next_height();
            let te = Instant::now();
            let out = exec
                .execute_block(&staging.view(), &env, chunk)
                .expect("execute block");
            exec_time += te.elapsed();
            let tr = Instant::now();
            reexec += out.stats.reexecutions;
            // Receipts to history rows, on the executor's workers (each receipt consumed:
            // its events move into the rows, the rest is dropped there).
            let height = env.height;
            let rows: Vec<(TxEntry, Vec<StoredEvent>, bool, bool)> = exec.install(|| {
                use rayon::prelude::*;
                out.receipts
                    .into_par_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let ok = r.outcome.is_success();
                        let mut s = r.write_set.keys().map(|k| shard_of(k, shards));
                        let first = s.next();
                        let is_cross = ok && s.any(|x| Some(x) != first);
                        let entry = TxEntry {
                            hash: *blake3::hash(
                                &[&height.to_le_bytes()[..], &(i as u32).to_le_bytes()].concat(),
                            )
                            .as_bytes(),
                            body: r.hash().to_vec(),
                        };
                        let events = r
                            .events
                            .into_iter()
                            .enumerate()
                            .map(|(ei, e)| StoredEvent {
                                height,
                                tx_index: i as u32,
                                event_index: ei as u32,
                                contract: e.contract,
                                topics: e.topics,
                                data: e.data,
                            })
                            .collect();
                        (entry, events, ok, is_cross)
                    })
                    .collect()
            });
            let mut entries = Vec::with_capacity(rows.len());
            let mut events = Vec::new();
            for (entry, evs, ok, is_cross) in rows {
                committed += usize::from(ok);
                cross += usize::from(is_cross);
                entries.push(entry);
                events.extend(evs);
            }
            rows_time += tr.elapsed();
            let ts = Instant::now();
            // (on the executor's workers, as the node does: see ParallelExecutor::install)
            exec.install(|| {
                staging
                    .stage_block(&out.writes, |root| BlockRecord {
                        height,
                        hash: *blake3::hash(&root).as_bytes(),
                        state_root: root,
                        header: vec![],
                        txs: entries,
                        events,
                    })
                    .expect("stage")
            });
            stage_time += ts.elapsed();
            block_groups.push(out.writes);
            if (bi + 1) % batch_blocks == 0 {
                send.send(staging.seal().expect("sealed"))
                    .expect("committer alive");
            }
        }
        if let Some(b) = staging.seal() {
            send.send(b).expect("committer alive");
        }
        drop(send);
        let (lat, commit_busy) = committer.join().expect("committer");
        let secs = start.elapsed().as_secs_f64();
        let cpu_secs = supervm_benches::process_cpu_seconds() - cpu_start;
        assert_eq!(
            store.head().blocks as usize,
            txs.len().div_ceil(block_txs) + 1
        );
        // The parallel result must equal the sequential one.
        assert_eq!(
            committed, seq_ok,
            "committed transfers differ from sequential"
        );
        // (the whole committed state, both ways: no key missing, none extra)
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = seq_state
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        want.sort();
        assert!(
            store.dump().expect("dump") == want,
            "state differs from sequential"
        );
        drop(staging);
        Pipelined {
            secs,
            cpu_secs,
            exec_time,
            rows_time,
            stage_time,
            lat,
            commit_busy,
            committed,
            cross,
            reexec,
            // (sorted copies for the raw baseline, after the timed run)
            block_groups: block_groups.iter().map(WriteLayer::to_write_set).collect(),
        }
    };
    let Pipelined {
        secs,
        cpu_secs,
        exec_time,
        rows_time,
        stage_time,
        lat,
        commit_busy,
        committed,
        cross,
        reexec,
        block_groups,
    } = pipeline(schedule);
    // (only its figures kept: not its write sets through the baselines below)
    let (seqp_secs, seqp_cpu_secs, seqp_committed) = {
        let p = pipeline(supervm_parallel::Schedule::Sequential);
        (p.secs, p.cpu_secs, p.committed)
    };

    // Baseline 2: raw single-instance RocksDB against the 2PC commit path alone, on the
    // same keys grouped the same way, timed around the writes and `Store::commit`
    // (passes taking turns, medians compared: see the module documentation). One pass
    // is a handful of fsyncs; a single pair swung the ratio by a quarter here.
    let sizes: Vec<usize> = vec![batch_blocks; block_groups.len().div_ceil(batch_blocks)];
    let raw_pass = || {
        let raw_dir = tempfile::tempdir().expect("tempdir");
        raw_commit(raw_dir.path(), durability, &block_groups, &sizes)
    };
    let two_pc_pass = || {
        let dir2 = tempfile::tempdir().expect("tempdir");
        let store2 =
            supervm_benches::storage::open_store_with(dir2.path(), shards, durability, false);
        let mut staging2 = Staging::new(store2.clone());
        let mut elapsed = Duration::ZERO;
        for chunk in block_groups.chunks(batch_blocks) {
            for g in chunk {
                supervm_benches::storage::stage_plain(&mut staging2, g, vec![]);
            }
            let b = staging2.seal().expect("sealed");
            let t = Instant::now();
            store2.commit(b).expect("commit");
            elapsed += t.elapsed();
        }
        elapsed
    };
    let (mut raw_runs, mut two_pc_runs) = (vec![], vec![]);
    for r in 0..repeat {
        if r % 2 == 0 {
            raw_runs.push(raw_pass().as_secs_f64());
            two_pc_runs.push(two_pc_pass().as_secs_f64());
        } else {
            two_pc_runs.push(two_pc_pass().as_secs_f64());
            raw_runs.push(raw_pass().as_secs_f64());
        }
    }
    let pass_ratios: Vec<f64> = raw_runs
        .iter()
        .zip(&two_pc_runs)
        .map(|(raw, two_pc)| raw / two_pc)
        .collect();
    let raw = Duration::from_secs_f64(supervm_benches::median(raw_runs));
    let state_only = Duration::from_secs_f64(supervm_benches::median(two_pc_runs));
    let state_only_tx_per_s = committed as f64 / state_only.as_secs_f64();
    let tx_per_s = committed as f64 / secs;
    let seq_pipeline_tx_per_s = seqp_committed as f64 / seqp_secs;
    let raw_tx_per_s = committed as f64 / raw.as_secs_f64();
    let commit_tx_per_s = committed as f64 / commit_busy.as_secs_f64();
    let report = serde_json::json!({
        "txs": txs.len(), "committed": committed, "cross_shard": cross,
        "cross_shard_percent": 100.0 * cross as f64 / committed.max(1) as f64,
        "seconds": secs, "tx_per_s": tx_per_s,
        "cpu_seconds": cpu_secs, "cores_busy": cpu_secs / secs,
        "raw_rocksdb_tx_per_s": raw_tx_per_s,
        "commit_with_history_tx_per_s": commit_tx_per_s,
        "commit_state_only_tx_per_s": state_only_tx_per_s,
        "commit_vs_raw": state_only_tx_per_s / raw_tx_per_s,
        "commit_with_history_vs_raw": commit_tx_per_s / raw_tx_per_s,
        "commit_vs_raw_per_pass": pass_ratios, "repeat": repeat,
        "seq_exec_in_memory_tx_per_s": seq_ok as f64 / seq_secs,
        "seq_pipeline_tx_per_s": seq_pipeline_tx_per_s,
        "seq_pipeline_cpu_seconds": seqp_cpu_secs,
        // (acknowledged batches survive power loss only with fsync; without it they
        // survive a process crash, and without the WAL not even that)
        "durable": durability == Durability::Fsync,
        "survives_process_crash": durability != Durability::NoWalUnrecoverableOnCrash,
        "transactions": TX_KIND,
        "durability": durability.name(), "threads": threads,
        "schedule": format!("{schedule:?}").to_lowercase(), "shards": shards,
        "batch_blocks": batch_blocks, "block_txs": block_txs, "accounts": accounts_n,
        "reexecutions_per_tx": reexec as f64 / txs.len() as f64,
        "commit_p50_ms": percentile_ms(&lat, 0.5), "commit_p99_ms": percentile_ms(&lat, 0.99),
        "batches": lat.len(),
        "execute_seconds": exec_time.as_secs_f64(), "rows_seconds": rows_time.as_secs_f64(),
        "stage_root_seconds": stage_time.as_secs_f64(),
        "commit_busy_seconds": commit_busy.as_secs_f64(),
    });
    if !json {
        println!(
            "{} transfers ({} committed, {} cross-shard = {:.1}%), {} threads, {} shards, blocks of {}, {} blocks per batch, durability {}",
            txs.len(),
            committed,
            cross,
            100.0 * cross as f64 / committed.max(1) as f64,
            threads,
            shards,
            block_txs,
            batch_blocks,
            durability.name()
        );
        println!("transactions: {TX_KIND}");
        println!(
            "execute + stage + {} 2PC commit: {tx_per_s:>10.0} tx/s ({secs:.2} s, {cpu_secs:.2} s of CPU: {:.2} cores busy)",
            if durability == Durability::Fsync {
                "durable"
            } else {
                durability.name()
            },
            cpu_secs / secs
        );
        println!(
            "  2PC commit incl. history rows:     {commit_tx_per_s:>10.0} tx/s (p50 {:.1} ms, p99 {:.1} ms per batch; vs raw {:.2})",
            percentile_ms(&lat, 0.5),
            percentile_ms(&lat, 0.99),
            commit_tx_per_s / raw_tx_per_s
        );
        println!(
            "  2PC commit, state keys only:       {state_only_tx_per_s:>10.0} tx/s (median of {repeat} passes)"
        );
        println!(
            "  raw RocksDB WriteBatch, same keys: {raw_tx_per_s:>10.0} tx/s (2PC/raw {:.2}; per pass {})",
            state_only_tx_per_s / raw_tx_per_s,
            pass_ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  sequential execution in memory:    {:>10.0} tx/s",
            seq_ok as f64 / seq_secs
        );
        println!(
            "  the same pipeline, sequential schedule: {seq_pipeline_tx_per_s:>10.0} tx/s ({:.2} s of CPU; run after the measured one)",
            seqp_cpu_secs
        );
    }
    println!("{report}");
}
