//! Random store-heavy programs against the recycled-instance reset. A generator writes
//! functions of stores (every width, offsets around the 2 KiB chunk size, addresses
//! from locals, `local.tee`, constants and arithmetic) inside random `block`s with
//! `br_if`, `if`/`else` and counted loops, with the address locals changing between
//! and after stores: the shapes the dirty-chunk marks treat specially. Each program
//! runs, then a second entry point hashes the whole memory: the hash must be the fresh
//! instance's. (The VM's own check, `verify_recycling`, is off here so that a miss
//! reports its seed.)
//!
//! `SUPERVM_SEED` reruns one case; `SUPERVM_FUZZ_CASES` sets how many (default 1000).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_vm::{Outcome, Vm, VmConfig};

use crate::util::{Chain, contract, env_u64};

const GAS: u64 = 50_000_000;
/// Memory size of the generated modules (2 pages: 32 chunks of 4 KiB).
const PAGES: u32 = 2;
const SIZE: u32 = PAGES * 65536;
/// Store offsets: around the chunk size, and large.
const OFFSETS: [u32; 8] = [0, 1, 7, 1000, 2047, 4095, 4096, 9000];
/// Addresses in locals stay below this, so every store is in bounds (a computed address
/// adds up to 7, the widest store is 8 bytes).
const LIMIT: u32 = SIZE - 9000 - 16;
/// Address locals `$a0..$a3`.
const LOCALS: u32 = 4;

struct Gen {
    rng: ChaCha8Rng,
    out: String,
    /// Loop counters in use (one local per nesting level).
    loops: u32,
}

impl Gen {
    fn local(&mut self) -> u32 {
        self.rng.gen_range(0..LOCALS)
    }

    /// An in-bounds address expression for the limit.
    fn bounded(&mut self) -> String {
        let a = self.local();
        let d: u32 = self.rng.gen_range(0..6000);
        match self.rng.gen_range(0..3) {
            0 => format!("(i32.const {})", self.rng.gen_range(0..LIMIT)),
            1 => format!(
                "(i32.rem_u (i32.add (local.get $a{a}) (i32.const {d})) (i32.const {LIMIT}))"
            ),
            // Near a chunk boundary of the 4 KiB chunks.
            _ => format!(
                "(i32.const {})",
                (self.rng.gen_range(1..SIZE / 4096) * 4096 - self.rng.gen_range(1..9))
                    .min(LIMIT - 1)
            ),
        }
    }

    fn value(&mut self, ty: &str) -> String {
        let v: i64 = self.rng.r#gen::<i64>() | 1;
        let inner = match self.rng.gen_range(0..3) {
            0 => format!("(i64.const {v})"),
            1 => "(local.get $v)".to_string(),
            _ => format!(
                "(i64.load (i32.rem_u (local.get $a{}) (i32.const {LIMIT})))",
                self.local()
            ),
        };
        match ty {
            "i64" => inner,
            "f64" => format!("(f64.reinterpret_i64 {inner})"),
            _ => format!("(i32.wrap_i64 {inner})"),
        }
    }

    fn store(&mut self) {
        let a = self.local();
        let addr = match self.rng.gen_range(0..5) {
            // The patterns the marks recognise: a local, a tee, a constant.
            0 | 1 => format!("(local.get $a{a})"),
            2 => format!("(local.tee $a{a} {})", self.bounded()),
            3 => format!("(i32.const {})", self.rng.gen_range(0..LIMIT)),
            // Computed.
            _ => format!(
                "(i32.add (local.get $a{a}) (i32.const {}))",
                self.rng.gen_range(0..8)
            ),
        };
        self.store_at(&addr);
    }

    /// A store of a random width, offset and value at `addr`.
    fn store_at(&mut self, addr: &str) {
        let (op, ty) = [
            ("i64.store", "i64"),
            ("i32.store", "i32"),
            ("i32.store8", "i32"),
            ("i64.store16", "i64"),
            ("i64.store32", "i64"),
            ("f64.store", "f64"),
        ][self.rng.gen_range(0..6)];
        let o = OFFSETS[self.rng.gen_range(0..OFFSETS.len())];
        let v = self.value(ty);
        self.out += &format!("({op} offset={o} {addr} {v})\n");
    }

    fn statement(&mut self, depth: u32) {
        let choice = if depth >= 3 {
            self.rng.gen_range(0..4)
        } else {
            self.rng.gen_range(0..8)
        };
        match choice {
            0 | 1 => self.store(),
            2 => {
                let a = self.local();
                let e = self.bounded();
                self.out += &format!("(local.set $a{a} {e})\n");
            }
            3 => self.out += &format!("(local.set $v (i64.const {}))\n", self.rng.r#gen::<i64>()),
            4 => {
                // Both branches store through the same local first: a mark in `then`
                // must not cover the store in `else`.
                let (c, a) = (self.local(), self.local());
                self.out += &format!("(if (i32.and (local.get $a{c}) (i32.const 1)) (then\n");
                self.store_at(&format!("(local.get $a{a})"));
                self.block(depth + 1);
                self.out += ") (else\n";
                self.store_at(&format!("(local.get $a{a})"));
                self.block(depth + 1);
                self.out += "))\n";
            }
            5 => {
                // A store after a `br_if` out of the block, and one through the same local
                // after the block: the mark inside does not cover it.
                let (c, a) = (self.local(), self.local());
                self.out += "(block\n";
                self.block(depth + 1);
                self.out += &format!("(br_if 0 (i32.and (local.get $a{c}) (i32.const 2)))\n");
                self.store_at(&format!("(local.get $a{a})"));
                self.block(depth + 1);
                self.out += ")\n";
                self.store_at(&format!("(local.get $a{a})"));
            }
            _ => {
                let n = self.loops;
                self.loops += 1;
                let times = self.rng.gen_range(1..4);
                // An address local stored through before the loop and at the top of its
                // body, then moved on at the end of each iteration past the chunk after
                // its own (which a mark covers too).
                let a = self.local();
                if self.rng.gen_bool(0.5) {
                    self.store_at(&format!("(local.get $a{a})"));
                }
                self.out += &format!("(local.set $n{n} (i32.const {times}))\n(loop $l{n}\n");
                self.store_at(&format!("(local.get $a{a})"));
                self.block(depth + 1);
                let step = self.rng.gen_range(3 * 4096..6 * 4096);
                self.out += &format!(
                    "(local.set $a{a} (i32.rem_u (i32.add (local.get $a{a}) (i32.const {step})) (i32.const {LIMIT})))\n"
                );
                self.out += &format!(
                    "(local.set $n{n} (i32.sub (local.get $n{n}) (i32.const 1)))\n(br_if $l{n} (local.get $n{n}))\n)\n"
                );
            }
        }
    }

    fn block(&mut self, depth: u32) {
        for _ in 0..self.rng.gen_range(1..5) {
            self.statement(depth);
        }
    }
}

fn program(seed: u64) -> Vec<u8> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        out: String::new(),
        loops: 0,
    };
    let mut inits = String::new();
    for a in 0..LOCALS {
        inits += &format!(
            "(local.set $a{a} (i32.const {}))\n",
            g.rng.gen_range(0..LIMIT)
        );
    }
    g.block(0);
    let body = std::mem::take(&mut g.out);
    let counters: String = (0..g.loops)
        .map(|n| format!("(local $n{n} i32) "))
        .collect();
    let locals: String = (0..LOCALS).map(|a| format!("(local $a{a} i32) ")).collect();
    contract(
        &["return_data", "blake3"],
        &format!(
            r#"
        (memory (export "memory") {PAGES})
        (data (i32.const 0) "fresh bytes at the start")
        (data (i32.const 4090) "across the first chunk boundary")
        (data (i32.const {last}) "and at the end")
        (func (export "run") {locals} (local $v i64) {counters}
          {inits}
          {body})
        (func (export "hash")
          (call $blake3 (i32.const 0) (i32.const {SIZE}) (i32.const 64))
          (call $return_data (i32.const 64) (i32.const 32)))
        "#,
            last = SIZE - 14,
        ),
    )
}

#[test]
fn random_store_programs_leave_recycled_instances_as_fresh() {
    let cases = env_u64("SUPERVM_FUZZ_CASES").unwrap_or(1000);
    let seeds: Vec<u64> = match env_u64("SUPERVM_SEED") {
        Some(s) => vec![s],
        None => (0..cases.max(1)).map(|i| 0x5107e + i).collect(),
    };
    eprintln!(
        "seeds {}..={} (rerun one with SUPERVM_SEED=<seed>)",
        seeds[0],
        seeds[seeds.len() - 1]
    );
    let mut c = Chain::new();
    c.vm = Vm::new(VmConfig {
        verify_recycling: false,
        ..VmConfig::default()
    })
    .unwrap();
    let (mut recycled, mut rounds) = (0u64, 0u64);
    for seed in seeds {
        // (the modules of earlier seeds dropped with their idle instances: a lane keeps at
        // most PER_VM / LANES idle instances over all modules, and once earlier modules
        // filled it, every call ran on a fresh instance and this test compared fresh with
        // fresh)
        c.vm.clear_module_cache();
        let d = c.deploy(program(seed));
        let Some(addr) = d.contract.filter(|_| d.outcome == Outcome::Success) else {
            panic!("seed {seed}: not deployed: {:?}", d.outcome);
        };
        let hash = |c: &mut Chain| c.call_ok(addr, "hash", GAS);
        let fresh = hash(&mut c);
        for round in 0..2 {
            c.call_ok(addr, "run", GAS);
            let reused = c.vm.reused_instances();
            assert_eq!(
                hash(&mut c),
                fresh,
                "seed {seed}, round {round}: a write survived the reset (rerun with SUPERVM_SEED={seed})"
            );
            // (on the instance `run` wrote in, reset)
            recycled += c.vm.reused_instances() - reused;
            rounds += 1;
        }
    }
    assert_eq!(
        recycled, rounds,
        "every hash after a run ran on a recycled instance"
    );
}
