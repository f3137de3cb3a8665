//! What a call costs when its contract's module is not in the VM's memory cache (the
//! `MODULES_IN_MEMORY` most recently used): loaded from the disk cache. A contract
//! author cannot choose whether that happens (any call of a contract that was not
//! called for a while), and a call pays no gas for its contract's size: this benchmark
//! measures what such a call costs the node (docs/benchmarks.md). Validation and
//! instrumentation, which a load from disk no longer repeats (it did until the ninth
//! session), are timed on their own once per shape for comparison.
//!
//! Each shape is deployed once into a module-cache directory; then, round by round, a
//! fresh VM over that directory calls the contract twice: the first call loads the
//! module from disk (checking the file against its digest, as a VM does the first time
//! it loads a file), the second finds it in memory; then the memory cache is emptied and
//! a third call loads the module from disk again (no check: the VM checked that file).
//! The calls name an entry point the module lacks, so nothing runs but the load.
//!
//! ```text
//! cargo run --release --example code_load_bench -- [--rounds R] [--json]
//! ```

/// The allocator of every benchmark binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::wasm_shapes::{filled, token_init_args};
use supervm_benches::{arg, median};
use supervm_vm::{
    Address, BlockEnv, CodeSource, InMemoryState, Limits, Outcome, Payload, StateView, Transaction,
    Vm, VmConfig, contract_address,
};

const BLOCK: BlockEnv = BlockEnv {
    height: 1,
    timestamp_ms: 0,
    chain_id: 1,
};

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let rounds = arg(&args, "--rounds", 9).max(1);
    let l = Limits::default();
    let loops = "(loop (local.get 0) (br_if 0))".repeat(l.max_loops_per_function as usize);
    let ifs = "(if (local.get 0) (then))".repeat(l.max_blocks_per_function as usize);
    let plain = "(local.set 0 (i32.add (local.get 0) (i32.const 1)))".repeat(64);
    let token_init = token_init_args();
    let shapes: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "token contract",
            supervm_contracts::TOKEN.to_vec(),
            token_init,
        ),
        ("straight-line functions, filled", filled(&plain), vec![]),
        ("256 loops per function, filled", filled(&loops), vec![]),
        ("1,024 flat ifs per function, filled", filled(&ifs), vec![]),
    ];
    let sender = Address([1; 32]);
    for (name, code, init) in shapes {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = || VmConfig {
            module_cache_dir: Some(dir.path().to_path_buf()),
            ..VmConfig::default()
        };
        let bytes = code.len();
        let t = Instant::now();
        let info = supervm_vm::validate::validate(&code, &l).expect("valid");
        let tv = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let instrumented =
            supervm_vm::instrument::instrument(&code, &info, l.stack_budget).expect("instruments");
        let ti = t.elapsed().as_secs_f64();
        drop(instrumented); // (after the clock)
        let mut state = InMemoryState::new();
        let deploy = Transaction {
            sender,
            gas_limit: 1_000_000_000,
            payload: Payload::Deploy {
                code: CodeSource::Wasm(code),
                salt: [0; 32],
                init_args: init,
            },
        };
        let r = Vm::new(config())
            .expect("vm")
            .execute(&state, &BLOCK, &deploy)
            .expect("deploy");
        assert_eq!(r.outcome, Outcome::Success, "{name}: {:?}", r.outcome);
        state.apply(&r.write_set);
        let call = Transaction {
            sender,
            gas_limit: 1_000_000_000,
            payload: Payload::Call {
                contract: contract_address(&sender, &[0; 32]),
                function: "no_such_entry_point".into(),
                args: vec![],
            },
        };
        let view: &dyn StateView = &state;
        let (mut cold, mut warm, mut reload) = (Vec::new(), Vec::new(), Vec::new());
        let mut gas = 0;
        for _ in 0..rounds {
            let vm = Vm::new(config()).expect("vm");
            let t = Instant::now();
            let r = vm.execute(view, &BLOCK, &call).expect("call");
            cold.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let again = vm.execute(view, &BLOCK, &call).expect("call");
            warm.push(t.elapsed().as_secs_f64());
            assert_eq!(r, again, "a load changes nothing about the receipt");
            // Dropped from memory (as after 1,024 other modules), loaded from disk again
            // by the same VM: its file was checked against its digest at the first load.
            vm.clear_module_cache();
            let t = Instant::now();
            let third = vm.execute(view, &BLOCK, &call).expect("call");
            reload.push(t.elapsed().as_secs_f64());
            assert_eq!(r, third);
            gas = r.gas_used;
        }
        let (cold, warm, reload) = (median(cold), median(warm), median(reload));
        let ns_per_byte = (cold - warm) * 1e9 / bytes as f64;
        let (validate_ns, instrument_ns) = (tv * 1e9 / bytes as f64, ti * 1e9 / bytes as f64);
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "shape": name, "bytes": bytes, "rounds": rounds,
                    "from_disk_ms": cold * 1e3, "in_memory_ms": warm * 1e3,
                    "from_disk_again_ms": reload * 1e3,
                    "load_ns_per_byte": ns_per_byte, "validate_ns_per_byte": validate_ns,
                    "instrument_ns_per_byte": instrument_ns, "gas_charged": gas,
                })
            );
        } else {
            println!(
                "{name:>36}: {bytes:>7} bytes  from disk {:>8.3} ms (again {:>6.3} ms)  in memory {:>7.3} ms  load {ns_per_byte:>6.1} ns/byte (for comparison, not part of it: validation {validate_ns:.1}, instrumentation {instrument_ns:.1})  gas {gas}",
                cold * 1e3,
                reload * 1e3,
                warm * 1e3
            );
        }
    }
}
