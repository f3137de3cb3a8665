//! The floor under every transaction: what one fresh wasmtime instance costs
//! (Store, instantiate through `InstancePre`, call an export that dirties a few
//! pages, drop) under the pooling-allocator settings we considered. The VM's
//! settings are the row marked `vm`.
//!
//! ```text
//! cargo run --release --example instance_lifecycle_bench -- [--n N] [--json]
//! ```

use std::time::Instant;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig,
    Store,
};

struct Variant {
    name: &'static str,
    cow: bool,
    keep_resident: usize,
    pagemap: bool,
    instances_per_store: usize,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "madvise reset, cow image",
        cow: true,
        keep_resident: 0,
        pagemap: false,
        instances_per_store: 1,
    },
    Variant {
        name: "memset reset, cow image",
        cow: true,
        keep_resident: 1 << 20,
        pagemap: false,
        instances_per_store: 1,
    },
    Variant {
        name: "pagemap reset, cow image",
        cow: true,
        keep_resident: 1 << 20,
        pagemap: true,
        instances_per_store: 1,
    },
    Variant {
        name: "vm",
        cow: false,
        keep_resident: 1 << 20,
        pagemap: false,
        instances_per_store: 1,
    },
    Variant {
        name: "vm + 16 instances per store",
        cow: false,
        keep_resident: 1 << 20,
        pagemap: false,
        instances_per_store: 16,
    },
];

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let n = supervm_benches::arg(&args, "--n", 200_000);
    // One 64 KiB page, a 16 KiB stack region and data after it: the layout of our contracts.
    let wat = r#"(module (memory (export "memory") 1) (data (i32.const 16384) "hello")
        (func (export "f") (i32.store (i32.const 16000) (i32.const 1)) (i32.store (i32.const 17000) (i32.const 1))))"#;
    let wasm = wat::parse_str(wat).expect("wat");
    for v in VARIANTS {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_memories(64)
            .total_core_instances(64)
            .total_tables(64)
            .max_memory_size(8 << 20)
            .linear_memory_keep_resident(v.keep_resident)
            .pagemap_scan(if v.pagemap {
                Enabled::Auto
            } else {
                Enabled::No
            });
        let mut c = Config::new();
        c.consume_fuel(true).memory_init_cow(v.cow);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&c).expect("engine");
        let module = Module::new(&engine, &wasm).expect("module");
        let pre = Linker::<()>::new(&engine)
            .instantiate_pre(&module)
            .expect("link");
        let t = Instant::now();
        let mut store = Store::new(&engine, ());
        for i in 0..n {
            if i % v.instances_per_store == 0 {
                store = Store::new(&engine, ());
            }
            store.set_fuel(1_000_000).expect("fuel");
            let inst = pre.instantiate(&mut store).expect("instantiate");
            let f = inst
                .get_typed_func::<(), ()>(&mut store, "f")
                .expect("export");
            f.call(&mut store, ()).expect("call");
        }
        drop(store);
        let us = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        if json {
            println!(
                "{}",
                serde_json::json!({"bench": "instance_lifecycle", "variant": v.name, "n": n, "us_per_instance": us})
            );
        } else {
            println!(
                "{:<32} {us:6.3} us per fresh instance (store + instantiate + call + drop)",
                v.name
            );
        }
    }
}
