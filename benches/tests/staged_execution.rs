//! Guards against: the parallel scheduler reading committed state that changes under
//! it. In the node, blocks execute over the staging view (the uncommitted blocks on top
//! of the store) while a committer thread applies earlier batches to the store, and the
//! scheduler does not validate reads it served from committed state (they are assumed
//! not to change during the block). Here a chain of contended token-transfer blocks
//! runs that way, with commits racing execution, and every block's receipts and the
//! final state must equal sequential execution in memory. Prints its seed;
//! `SUPERVM_SEED` reruns one.

use std::sync::mpsc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_benches::transfer::{setup, transfer_tx};
use supervm_parallel::{ParallelExecutor, Schedule};
use supervm_store::{Durability, Staging};
use supervm_vm::Receipt;

#[test]
fn blocks_over_the_staging_view_match_sequential_while_batches_commit() {
    let seed: u64 = supervm_vm::env_number("SUPERVM_SEED").unwrap_or(0x005e_a1ed);
    println!("staged_execution seed {seed} (rerun with SUPERVM_SEED={seed})");
    let w = setup(40, 0, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let store = supervm_benches::storage::open_store(
        dir.path(),
        2,
        Durability::NoFsyncLosesRecentOnPowerLoss,
    );
    let mut staging = Staging::new(store.clone());
    supervm_benches::storage::commit_genesis(&store, &mut staging, &w.state);

    let (send, recv) = mpsc::sync_channel::<supervm_store::CommitBatch>(1);
    let committer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for b in recv {
                store.commit(b).expect("commit");
            }
        })
    };
    // Block-STM and OCC over the whole block, in turn (the adaptive schedule would run
    // contended blocks as sequential chunks).
    let execs = [Schedule::Parallel, Schedule::Occ]
        .map(|s| ParallelExecutor::new(w.vm.clone(), 2).with_schedule(s));
    let mut model = w.state.clone();
    for block in 0..30 {
        let txs: Vec<_> = (0..150)
            .map(|_| {
                // Half the transfers touch one of 4 hot accounts.
                let hot = rng.gen_bool(0.5);
                let from = if hot {
                    rng.gen_range(0..4)
                } else {
                    rng.gen_range(0..40)
                };
                let to = rng.gen_range(0..40);
                transfer_tx(
                    w.token,
                    w.accounts[from],
                    w.accounts[to],
                    rng.gen_range(1..50),
                )
            })
            .collect();
        let mut env = w.block;
        env.height = staging.next_height();
        let out = execs[block % 2]
            .execute_block(&staging.view(), &env, &txs)
            .expect("parallel block");
        let seq: Vec<Receipt> = txs
            .iter()
            .map(|tx| {
                let r = w.vm.execute(&model, &env, tx).expect("sequential");
                model.apply(&r.write_set);
                r
            })
            .collect();
        assert_eq!(out.receipts.len(), seq.len(), "seed {seed} block {block}");
        for (i, (p, s)) in out.receipts.iter().zip(&seq).enumerate() {
            let p = Receipt {
                executions: 1,
                ..p.clone()
            };
            assert!(
                &p == s,
                "seed {seed} block {block} tx {i}: parallel {p:?}\nsequential {s:?}"
            );
        }
        supervm_benches::storage::stage_plain(&mut staging, &out.writes, vec![]);
        // A batch every two blocks, committed while the next blocks execute.
        if block % 2 == 1 {
            send.send(staging.seal().unwrap()).unwrap();
        }
    }
    if let Some(b) = staging.seal() {
        send.send(b).unwrap();
    }
    drop(send);
    committer.join().unwrap();
    assert_eq!(store.head().blocks, 31);
    // (the whole committed state, both ways: no key missing, none extra)
    let mut want: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    want.sort();
    assert!(store.dump().unwrap() == want, "seed {seed}: state differs");
}
