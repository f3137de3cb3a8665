//! The cost of one state-root (lattice hash) update: expanding an entry to 2,048 bytes
//! with the blake3 XOF (Solana's choice) versus the blake3 digest expanded by ChaCha12
//! (what `supervm-store` uses), and `LtHash::add_entry` as the store calls it.
//!
//! ```text
//! cargo run --release --example lthash_bench -- [--n 100000] [--json]
//! ```

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use rand::{RngCore, SeedableRng};
use supervm_benches::arg;
use supervm_store::LtHash;

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--n", 100_000).max(1) as u32;
    let json = args.iter().any(|a| a == "--json");
    let value = [7u8; 16];
    let mut buf = [0u8; 2048];
    let mut sink = 0u8;
    // Untimed warm-up of each loop's code and data, so the first timed loop starts as warm
    // as the others.
    for i in 0..n.min(1_000) {
        let mut h = blake3::Hasher::new();
        h.update(&i.to_le_bytes());
        h.finalize_xof().fill(&mut buf);
        rand_chacha::ChaCha12Rng::from_seed(*h.finalize().as_bytes()).fill_bytes(&mut buf);
        sink ^= buf[7];
        LtHash::zero().add_entry(&i.to_le_bytes(), &value);
    }
    let t = Instant::now();
    for i in 0..n {
        let mut h = blake3::Hasher::new();
        h.update(&i.to_le_bytes());
        h.update(&value);
        h.finalize_xof().fill(&mut buf);
        sink ^= buf[7];
    }
    let xof_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let t = Instant::now();
    for i in 0..n {
        let mut h = blake3::Hasher::new();
        h.update(&i.to_le_bytes());
        h.update(&value);
        rand_chacha::ChaCha12Rng::from_seed(*h.finalize().as_bytes()).fill_bytes(&mut buf);
        sink ^= buf[7];
    }
    let chacha_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let mut l = LtHash::zero();
    let t = Instant::now();
    for i in 0..n {
        l.add_entry(&i.to_le_bytes(), &value);
    }
    let add_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let report = serde_json::json!({
        "entries": n, "blake3_xof_2048_us": xof_us, "blake3_chacha12_2048_us": chacha_us,
        "lthash_add_entry_us": add_us, "sink": sink, "root": format!("{l:?}"),
    });
    if !json {
        println!(
            "per entry, {n} entries: blake3 XOF {xof_us:.2} us, blake3 + ChaCha12 {chacha_us:.2} us, LtHash::add_entry {add_us:.2} us"
        );
    }
    println!("{report}");
}
