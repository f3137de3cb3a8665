//! Criterion benches of the VM: deploy + compile, a token transfer through the
//! whole VM path, and host-call overhead. Run: `cargo bench -p supervm-benches`.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use supervm_benches::transfer;
use supervm_vm::{CodeSource, InMemoryState, Payload, Transaction, Vm, VmConfig};

fn deploy_and_compile(c: &mut Criterion) {
    c.bench_function("deploy_token_cold_compile", |b| {
        b.iter(|| {
            let vm = Vm::new(VmConfig::default()).unwrap();
            let state = InMemoryState::new();
            let tx = Transaction {
                sender: transfer::account(0),
                gas_limit: 1_000_000_000,
                payload: Payload::Deploy {
                    code: CodeSource::Wasm(supervm_contracts::TOKEN.to_vec()),
                    salt: [1; 32],
                    init_args: supervm_vm::abi::Encode::encode(&(
                        String::from("T"),
                        String::from("T"),
                        6u8,
                        transfer::account(0),
                        1u128,
                    )),
                },
            };
            let r = vm.execute(&state, &Default::default(), &tx).unwrap();
            assert!(r.outcome.is_success());
        })
    });
}

fn token_transfer(c: &mut Criterion) {
    let mut w = transfer::setup(1_000, 1, 1);
    let tx = w.txs.pop().unwrap();
    c.bench_function("token_transfer_vm_path", |b| {
        b.iter(|| {
            let r = w.vm.execute(&w.state, &w.block, &tx).unwrap();
            assert!(r.outcome.is_success());
            r
        })
    });
}

fn host_call_overhead(c: &mut Criterion) {
    // `balance` is one storage read: the smallest call that crosses into the host.
    let w = transfer::setup(10, 0, 1);
    let tx = Transaction {
        sender: transfer::account(0),
        gas_limit: transfer::TRANSFER_GAS,
        payload: Payload::Call {
            contract: w.token,
            function: "balance".into(),
            args: supervm_vm::abi::Encode::encode(&(transfer::account(0),)),
        },
    };
    c.bench_function("call_with_one_storage_read", |b| {
        b.iter(|| w.vm.execute(&w.state, &w.block, &tx).unwrap())
    });
}

criterion_group!(
    benches,
    deploy_and_compile,
    token_transfer,
    host_call_overhead
);
criterion_main!(benches);
