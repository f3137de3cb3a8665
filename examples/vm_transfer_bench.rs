//! Token transfers through the whole VM path on one core with in-memory state,
//! with a bare-wasmtime call of the same contract function from the same run.
//!
//! ```text
//! cargo run --release --example vm_transfer_bench -- [--txs N] [--accounts N] [--json] [--vm-only]
//! ```
//!
//! Counts only committed transfers (outcome `Success`, write set applied).

/// The allocator of every benchmark binary (the baselines in the same run use it too).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::{arg, bare::BareToken, transfer};
use supervm_vm::{Payload, abi::Decode};

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let n = arg(&args, "--txs", 200_000);
    let accounts = arg(&args, "--accounts", 1_000);
    let mut w = transfer::setup(accounts, n, 42);

    // No warm-up needed: setup deployed the token and funded the accounts through the same
    // VM, so the module is compiled and cached before the clock starts.
    let t0 = Instant::now();
    let committed = transfer::run_sequential(&mut w);
    let seconds = t0.elapsed().as_secs_f64();

    if args.iter().any(|a| a == "--vm-only") {
        println!(
            "{committed} committed in {seconds:.3}s = {:.0} tx/s",
            committed as f64 / seconds
        );
        return;
    }
    // Bare wasmtime, same contract, same transfers: default and tuned configurations, and
    // one reused instance (the floor under the VM's recycled instances).
    let plan: Vec<_> = w
        .txs
        .iter()
        .map(|tx| match &tx.payload {
            Payload::Call { args, .. } => {
                let (to, amount) =
                    <(supervm_vm::Address, u128)>::decode(&mut &args[..]).expect("args");
                (tx.sender, to, amount)
            }
            _ => unreachable!("transfers only"),
        })
        .collect();
    let mut bare_rates = vec![];
    for (tuned, recycled) in [(false, false), (true, false), (true, true)] {
        let mut bare = BareToken::new(supervm_contracts::TOKEN, &w.accounts, 1_000_000_000, tuned)
            .expect("bare");
        if recycled {
            bare = bare.recycling().expect("bare instance");
        }
        let t1 = Instant::now();
        let mut ok = 0usize;
        for (from, to, amount) in &plan {
            if bare.transfer(*from, *to, *amount).is_ok() {
                ok += 1;
            }
        }
        let secs = t1.elapsed().as_secs_f64();
        // Both paths must agree on the outcome of the workload.
        assert_eq!(ok, committed, "bare and VM committed counts differ");
        for a in w.accounts.iter().take(50) {
            let r =
                w.vm.execute(
                    &w.state,
                    &w.block,
                    &supervm_vm::Transaction {
                        sender: *a,
                        gas_limit: transfer::TRANSFER_GAS,
                        payload: Payload::Call {
                            contract: w.token,
                            function: "balance".into(),
                            args: supervm_vm::abi::Encode::encode(&(*a,)),
                        },
                    },
                )
                .expect("query");
            let vm_balance = u128::decode(&mut &r.return_data[..]).expect("u128");
            assert_eq!(
                vm_balance,
                bare.balance(a),
                "balances differ between VM and bare runs"
            );
        }
        bare_rates.push((ok as f64 / secs, secs));
    }
    let (bare_tx_per_s, bare_seconds) = bare_rates[0];
    let (tuned_tx_per_s, tuned_seconds) = bare_rates[1];
    let (recycled_tx_per_s, recycled_seconds) = bare_rates[2];

    let tx_per_s = committed as f64 / seconds;
    if !json {
        println!(
            "workload: {n} token transfers, {accounts} accounts, uniform random, 1 thread, in-memory state"
        );
        println!(
            "SuperVM (whole VM path): {committed} committed in {seconds:.3}s = {tx_per_s:.0} tx/s"
        );
        println!(
            "bare wasmtime, default config (same contract fn): {bare_seconds:.3}s = {bare_tx_per_s:.0} tx/s"
        );
        println!(
            "bare wasmtime, VM's pooling config: {tuned_seconds:.3}s = {tuned_tx_per_s:.0} tx/s"
        );
        println!(
            "bare wasmtime, one instance reused, memory reset to its fresh image after each call: {recycled_seconds:.3}s = {recycled_tx_per_s:.0} tx/s"
        );
        println!(
            "VM layers (gas, limits, globals reset, journal, read/write sets, receipts) cost {:.2} us per transfer over the reused bare instance",
            (seconds - recycled_seconds) / n as f64 * 1e6
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "vm_transfer",
            "txs": n,
            "committed": committed,
            "accounts": accounts,
            "threads": 1,
            "state": "in-memory",
            "seconds": seconds,
            "tx_per_s": tx_per_s,
            "bare_wasmtime_tx_per_s": bare_tx_per_s,
            "bare_wasmtime_seconds": bare_seconds,
            "bare_config": "wasmtime defaults, InstancePre, HashMap storage, no gas or read/write sets",
            "bare_tuned_wasmtime_tx_per_s": tuned_tx_per_s,
            "bare_tuned_wasmtime_seconds": tuned_seconds,
            "bare_tuned_config": "the VM's pooling settings, InstancePre, HashMap storage, no gas or read/write sets",
            "bare_recycled_wasmtime_tx_per_s": recycled_tx_per_s,
            "bare_recycled_wasmtime_seconds": recycled_seconds,
            "bare_recycled_config": "one instance reused, memory zeroed and its fresh image restored after each call, HashMap storage, no gas or read/write sets",
        })
    );
}
