//! Blocks that upload, deploy and upgrade code while other transactions call it, and
//! blocks of deep call chains, at more workers than cores: the sequential output.
//!
//! Guards against: a speculative execution that sees a contract record naming code a
//! lower transaction no longer writes (the lower one was re-executed) failing the
//! whole block instead of being re-executed; running out of instance slots with many
//! workers each holding a chain of frames.

use std::sync::atomic::{AtomicBool, Ordering};

use supervm_abi::{ABI_VERSION, ABI_VERSION_SECTION};
use supervm_parallel::{BlockOutput, MAX_THREADS, ParallelExecutor, Schedule};
use supervm_vm::{
    Address, BlockEnv, CodeSource, InMemoryState, Payload, Receipt, Transaction, Vm, VmConfig,
    code_hash, contract_address,
};
use wasm_encoder::Section;

use crate::workload::{GAS, account, call};

pub(crate) fn wat_contract(imports: &[(&str, &str)], body: &str) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|(n, sig)| format!("(import \"supervm_v1\" \"{n}\" (func ${n} {sig}))"))
        .collect();
    let mut wasm = wat::parse_str(format!("(module {imports} {body})")).expect("WAT");
    wasm_encoder::CustomSection {
        name: ABI_VERSION_SECTION.into(),
        data: ABI_VERSION.to_le_bytes().as_slice().into(),
    }
    .append_to(&mut wasm);
    wasm
}

/// `up(hash)` upgrades the contract to the code with that hash; `ping` returns
/// `version`, which makes every version a different code.
fn versioned(version: u32) -> Vec<u8> {
    let v: String = version
        .to_le_bytes()
        .iter()
        .map(|b| format!("\\{b:02x}"))
        .collect();
    wat_contract(
        &[
            ("input_read", "(param i32)"),
            ("upgrade", "(param i32)"),
            ("return_data", "(param i32 i32)"),
        ],
        &format!(
            r#"(memory (export "memory") 1) (data (i32.const 64) "{v}")
            (func (export "up") (call $input_read (i32.const 0)) (call $upgrade (i32.const 0)))
            (func (export "ping") (call $return_data (i32.const 64) (i32.const 4)))"#
        ),
    )
}

/// Calls the next contract named in its input (32 bytes each) with the rest.
fn hop() -> Vec<u8> {
    wat_contract(
        &[
            ("input_read", "(param i32)"),
            ("input_len", "(result i32)"),
            ("call", "(param i32 i32 i32 i32 i32 i64) (result i32)"),
        ],
        include_str!("../../../core/tests/fixtures/hop.wat"),
    )
}

fn deploy(sender: Address, code: CodeSource, salt: [u8; 32]) -> Transaction {
    Transaction {
        sender,
        gas_limit: 1_000_000_000,
        payload: Payload::Deploy {
            code,
            salt,
            init_args: vec![],
        },
    }
}

pub(crate) const BLOCK: BlockEnv = BlockEnv {
    height: 3,
    timestamp_ms: 1_700_000_000_000,
    chain_id: 7,
};

/// Runs `txs` sequentially on `state` and in parallel (with `exec`) over the same
/// state, checks the outputs agree, and leaves `state` after the block.
pub(crate) fn same_as_sequential(
    vm: &Vm,
    exec: &ParallelExecutor,
    state: &mut InMemoryState,
    txs: &[Transaction],
    label: &str,
) -> Vec<Receipt> {
    let out: BlockOutput = exec
        .execute_block(&*state, &BLOCK, txs)
        .unwrap_or_else(|e| panic!("{label}: the parallel block failed: {e}"));
    let mut par_state = state.clone();
    par_state.apply_writes(&out.writes);
    let receipts = vm.execute_block(state, &BLOCK, txs).expect("sequential");
    assert_eq!(out.receipts.len(), receipts.len(), "{label}");
    for (i, (p, s)) in out.receipts.iter().zip(&receipts).enumerate() {
        let p = Receipt {
            executions: 1,
            ..p.clone()
        };
        assert_eq!(&p, s, "{label}: receipt {i}");
    }
    assert_eq!(&par_state, state, "{label}");
    receipts
}

/// Runs `f` on a thread of its own and fails if it takes longer than `secs` (a hung
/// block would otherwise hang the whole test run).
fn within(secs: u64, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(()) => worker.join().expect("test thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // It panicked: report its panic.
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("no result after {secs} s: a block is stuck")
        }
    }
}

#[test]
fn blocks_that_deploy_upload_and_upgrade_code_while_calling_it() {
    within(300, deploy_upload_and_upgrade_blocks);
}

fn deploy_upload_and_upgrade_blocks() {
    let vm = Vm::new(VmConfig::default()).unwrap();
    let (admin, a, b) = (account(900), account(901), account(902));
    let mut state = InMemoryState::new();
    let d = contract_address(&admin, &[1; 32]);
    let setup = [deploy(admin, CodeSource::Wasm(versioned(0)), [1; 32])];
    for r in vm.execute_block(&mut state, &BLOCK, &setup).unwrap() {
        assert!(r.outcome.is_success(), "{:?}", r.outcome);
    }
    let ping = || call(b, d, "ping", vec![], GAS);
    let up = |hash: [u8; 32]| call(b, d, "up", hash.to_vec(), GAS);
    // A thread empties the in-memory module cache all along, so that calls load
    // modules from code (speculatively read) instead of finding them compiled.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                vm.clear_module_cache();
                std::thread::yield_now();
            }
        });
        let rounds = 12u32;
        for threads in [4, 8] {
            let exec = ParallelExecutor::new(vm.clone(), threads).with_schedule(Schedule::Parallel);
            for round in 0..rounds {
                let n = threads as u32 * rounds + round;
                let (x, h) = (versioned(2 * n + 1), versioned(2 * n + 2));
                let (hx, hh) = (code_hash(&x), code_hash(&h));
                let salt = [n as u8 + 2; 32];
                let txs = vec![
                    deploy(a, CodeSource::Wasm(x), salt),
                    // Same address: invalid, and its upload of `h` discarded with it.
                    deploy(a, CodeSource::Wasm(h.clone()), salt),
                    up(hh), // traps: `h` is not stored yet
                    ping(),
                    ping(),
                    Transaction {
                        sender: b,
                        gas_limit: 1_000_000_000,
                        payload: Payload::Upload { code: h },
                    },
                    up(hh),
                    ping(),
                    ping(),
                    up(hx),
                    ping(),
                    call(b, contract_address(&a, &salt), "ping", vec![], GAS),
                ];
                let label = format!("{threads} threads, round {round}");
                let r = same_as_sequential(&vm, &exec, &mut state, &txs, &label);
                let version =
                    |i: usize| u32::from_le_bytes(r[i].return_data[..4].try_into().unwrap());
                assert!(
                    r[0].outcome.is_success() && !r[1].outcome.is_success(),
                    "{label}"
                );
                assert!(!r[2].outcome.is_success(), "{label}: {:?}", r[2].outcome);
                assert!(r[6].outcome.is_success(), "{label}: {:?}", r[6].outcome);
                assert_eq!(version(7), 2 * n + 2, "{label}");
                assert_eq!(version(10), 2 * n + 1, "{label}");
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
}

#[test]
fn deep_call_chains_at_the_most_workers() {
    within(300, deep_call_chains);
}

fn deep_call_chains() {
    let vm = Vm::new(VmConfig::default()).unwrap();
    let admin = account(900);
    let mut state = InMemoryState::new();
    let depth = supervm_vm::abi::limits::MAX_CALL_DEPTH as usize;
    let setup: Vec<_> = (0..depth as u8)
        .map(|i| deploy(admin, CodeSource::Wasm(hop()), [i + 1; 32]))
        .collect();
    vm.execute_block(&mut state, &BLOCK, &setup).unwrap();
    let hops: Vec<Address> = (0..depth as u8)
        .map(|i| contract_address(&admin, &[i + 1; 32]))
        .collect();
    let exec = ParallelExecutor::new(vm.clone(), 4 * MAX_THREADS).with_schedule(Schedule::Parallel);
    assert_eq!(exec.threads(), MAX_THREADS);
    let txs: Vec<Transaction> = (0..600)
        .map(|i| {
            // The whole chain, from a rotating first contract.
            let order: Vec<Address> = (0..depth).map(|k| hops[(i + k) % depth]).collect();
            let rest: Vec<u8> = order[1..].iter().flat_map(|a| a.0).collect();
            call(account(i), order[0], "hop", rest, GAS)
        })
        .collect();
    let r = same_as_sequential(&vm, &exec, &mut state, &txs, "deep chains");
    assert!(
        r.iter().all(|r| r.outcome.is_success()),
        "{:?}",
        r[0].outcome
    );
}
