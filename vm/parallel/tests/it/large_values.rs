//! Values longer than `DIGEST_READS_OVER` are kept in read sets as digests: blocks
//! where transactions read large values other transactions of the block write give
//! the sequential output under every schedule.
//!
//! Guards against: a digest read that validation passes although the value changed
//! (a transaction copying a stale value would commit).

use supervm_parallel::{ParallelExecutor, Schedule};
use supervm_vm::{
    Address, InMemoryState, Payload, Transaction, Vm, VmConfig, contract_address,
    state::DIGEST_READS_OVER,
};

use crate::code_changes::{same_as_sequential, wat_contract};
use crate::workload::{GAS, account, call};

/// `put` stores its input under "src"; `copy` reads "src" (up to 4 KiB) and stores it
/// under "dst".
fn copier() -> Vec<u8> {
    wat_contract(
        &[
            ("input_len", "(result i32)"),
            ("input_read", "(param i32)"),
            ("storage_get", "(param i32 i32 i32 i32) (result i64)"),
            ("storage_set", "(param i32 i32 i32 i32)"),
        ],
        r#"(memory (export "memory") 1)
        (data (i32.const 8192) "srcdst")
        (func (export "put")
            (call $input_read (i32.const 0))
            (call $storage_set (i32.const 8192) (i32.const 3) (i32.const 0) (call $input_len)))
        (func (export "copy") (local $n i64)
            (local.set $n (call $storage_get (i32.const 8192) (i32.const 3) (i32.const 0) (i32.const 4096)))
            (if (i64.ge_s (local.get $n) (i64.const 0))
                (then (call $storage_set (i32.const 8195) (i32.const 3) (i32.const 0)
                    (i32.wrap_i64 (local.get $n))))))"#,
    )
}

#[test]
fn large_values_read_while_written_give_the_sequential_output() {
    let vm = Vm::new(VmConfig::default()).expect("vm");
    let mut state = InMemoryState::new();
    let deployer = account(0);
    let deploy = Transaction {
        sender: deployer,
        gas_limit: 1_000_000_000,
        payload: Payload::Deploy {
            code: supervm_vm::CodeSource::Wasm(copier()),
            salt: [1; 32],
            init_args: vec![],
        },
    };
    let r = vm
        .execute_block(&mut state, &crate::code_changes::BLOCK, &[deploy])
        .expect("deploy");
    assert!(r[0].outcome.is_success(), "{:?}", r[0].outcome);
    let c: Address = contract_address(&deployer, &[1; 32]);
    // Each put writes a distinct value of 100 to 300 bytes; each copy right after it
    // must copy exactly that one.
    let txs: Vec<Transaction> = (0..120usize)
        .flat_map(|i| {
            let value: Vec<u8> = (0..100 + (i * 37) % 200)
                .map(|j| (i * 7 + j) as u8)
                .collect();
            assert!(value.len() > DIGEST_READS_OVER);
            [
                call(account(1 + i % 5), c, "put", value, GAS),
                call(account(6 + i % 5), c, "copy", vec![], GAS),
            ]
        })
        .collect();
    let receipts = {
        let mut probe = state.clone();
        vm.execute_block(&mut probe, &crate::code_changes::BLOCK, &txs)
            .expect("sequential")
    };
    assert!(receipts.iter().all(|r| r.outcome.is_success()));
    let copy = &receipts[1].read_set;
    assert!(
        copy.digests.len() == 1
            && copy.keys.iter().all(|k| k
                .value
                .as_ref()
                .is_none_or(|v| v.len() <= DIGEST_READS_OVER)),
        "a copy keeps the large value it read as a digest: {copy:?}"
    );
    for (schedule, threads) in [
        (Schedule::Occ, 2),
        (Schedule::Occ, 4),
        (Schedule::Parallel, 2),
        (Schedule::Parallel, 4),
        (Schedule::Adaptive, 2),
    ] {
        let exec = ParallelExecutor::new(vm.clone(), threads).with_schedule(schedule);
        let mut s = state.clone();
        same_as_sequential(
            &vm,
            &exec,
            &mut s,
            &txs,
            &format!("{schedule:?} x{threads}"),
        );
    }
}
