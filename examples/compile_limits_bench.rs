//! What a deploy's compile costs at the VM's validation limits, beside the real token
//! contract: the code shapes whose compile time grows faster than their size (loops
//! and `if`s, with fuel metering) at the most a function may hold, filling about
//! 500 KB (the code-size limit is 512 KiB), and one function over the limit, which
//! validation rejects before compiling. Each deploy runs on a fresh VM (no module
//! cache), through `Vm::execute` (validate, instrument, compile, store).
//!
//! ```text
//! cargo run --release --example compile_limits_bench -- [--json]
//! ```

/// The allocator of every benchmark binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::wasm_shapes::{filled, module, token_init_args};
use supervm_vm::{
    Address, BlockEnv, CodeSource, InMemoryState, Limits, Outcome, Payload, Transaction, Vm,
    VmConfig,
};

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn deploy(code: Vec<u8>, init_args: Vec<u8>) -> (usize, f64, Outcome) {
    let vm = Vm::new(VmConfig::default()).expect("vm");
    let tx = Transaction {
        sender: Address([1; 32]),
        gas_limit: 100_000_000,
        payload: Payload::Deploy {
            code: CodeSource::Wasm(code.clone()),
            salt: [0; 32],
            init_args,
        },
    };
    let block = BlockEnv {
        height: 1,
        timestamp_ms: 0,
        chain_id: 1,
    };
    let t = Instant::now();
    let r = vm
        .execute(&InMemoryState::new(), &block, &tx)
        .expect("deploy");
    (code.len(), t.elapsed().as_secs_f64(), r.outcome)
}

/// Seconds plain wasmtime (fuel metering on, as in the VM) takes to compile `code`:
/// what the limits keep a deploy from costing.
#[allow(clippy::disallowed_methods)] // a benchmark times things
fn plain_compile(code: &[u8]) -> f64 {
    let mut c = wasmtime::Config::new();
    c.consume_fuel(true);
    let engine = wasmtime::Engine::new(&c).expect("engine");
    let t = Instant::now();
    let compiled = wasmtime::Module::new(&engine, code).expect("compiles");
    let seconds = t.elapsed().as_secs_f64();
    drop(compiled); // (after the clock)
    seconds
}

fn main() {
    supervm_node::allocator::configure();
    let json = std::env::args().any(|a| a == "--json");
    let l = Limits::default();
    let loops = "(loop (local.get 0) (br_if 0))".repeat(l.max_loops_per_function as usize);
    let ifs = "(if (local.get 0) (then))".repeat(l.max_blocks_per_function as usize);
    let nested_ifs = format!(
        "{}{}",
        "(local.get 0) if ".repeat(l.max_blocks_per_function as usize),
        "end ".repeat(l.max_blocks_per_function as usize)
    );
    let returns = "(if (local.get 0) (then (return)))".repeat(l.max_loops_per_function as usize);
    let over = "(loop (local.get 0) (br_if 0))".repeat(10_000);
    // (untimed: the process's first compile also starts wasmtime's and rayon's shared state)
    plain_compile(&module(1, "(nop)"));
    let over_plain = plain_compile(&module(1, &over));
    let token_init = token_init_args();
    let shapes: Vec<(String, Vec<u8>)> = vec![
        ("token contract".into(), supervm_contracts::TOKEN.to_vec()),
        (
            format!("{} loops per function, filled", l.max_loops_per_function),
            filled(&loops),
        ),
        (
            format!(
                "{} flat ifs per function, filled",
                l.max_blocks_per_function
            ),
            filled(&ifs),
        ),
        (
            format!(
                "{} nested ifs per function, filled",
                l.max_blocks_per_function
            ),
            filled(&nested_ifs),
        ),
        (
            format!("{} returns per function, filled", l.max_loops_per_function),
            filled(&returns),
        ),
        ("10,000 loops in one function".into(), module(1, &over)),
    ];
    let mut token_rate = None;
    for (name, code) in shapes {
        let init = if name == "token contract" {
            token_init.clone()
        } else {
            vec![]
        };
        let (bytes, secs, outcome) = deploy(code, init);
        let us_per_byte = secs * 1e6 / bytes as f64;
        let token = *token_rate.get_or_insert(us_per_byte);
        let outcome = match outcome {
            Outcome::Success => "compiled".to_string(),
            Outcome::Invalid { reason } => format!("rejected: {reason}"),
            other => format!("{other:?}"),
        };
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "shape": name, "bytes": bytes, "ms": secs * 1e3,
                    "us_per_byte": us_per_byte, "vs_token": us_per_byte / token,
                    "outcome": outcome,
                })
            );
        } else {
            println!(
                "{name:>40}: {bytes:>7} bytes {:>9.2} ms {us_per_byte:>6.2} µs/byte ({:.1}x token)  {outcome}",
                secs * 1e3,
                us_per_byte / token
            );
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"shape": "10,000 loops in one function, plain wasmtime with fuel (no limits)", "ms": over_plain * 1e3})
        );
    } else {
        println!(
            "{:>40}: {:>9.2} ms (what the loop limit prevents)",
            "same, plain wasmtime with fuel",
            over_plain * 1e3
        );
    }
}
