//! Recycled instances are indistinguishable from fresh ones: whatever a call did to
//! its instance's memory and globals, the next call sees the freshly instantiated
//! state and is charged the same gas.

use supervm_vm::{Outcome, Receipt};

use crate::util::{Chain, contract};

const GAS: u64 = 10_000_000;

/// `observe` returns (global $g, mem[1024], mem[2048], i32 at 65532, memory.size) as
/// five little-endian i32s, then scribbles over all of them. The other entry points
/// scribble too, then grow memory, trap or revert.
fn scribbler() -> Vec<u8> {
    contract(
        &["return_data", "revert"],
        r#"
        (memory (export "memory") 1)
        (global $g (mut i32) (i32.const 5))
        (global $h (export "h") (mut i64) (i64.const 7))
        (data (i32.const 2048) "abc")
        (func $scribble
          (global.set $g (i32.add (global.get $g) (i32.const 1)))
          (global.set $h (i64.const -1))
          (i32.store8 (i32.const 1024) (i32.const 255))
          (i32.store8 (i32.const 2048) (i32.const 122))
          (i32.store (i32.const 65532) (i32.const -1)))
        (func (export "observe")
          (i32.store (i32.const 0) (global.get $g))
          (i32.store (i32.const 4) (i32.load8_u (i32.const 1024)))
          (i32.store (i32.const 8) (i32.load8_u (i32.const 2048)))
          (i32.store (i32.const 12) (i32.load (i32.const 65532)))
          (i32.store (i32.const 16) (memory.size))
          (if (i64.ne (global.get $h) (i64.const 7)) (then unreachable))
          (call $return_data (i32.const 0) (i32.const 20))
          (call $scribble))
        (func (export "grow")
          (call $scribble)
          (drop (memory.grow (i32.const 1)))
          (i32.store (i32.const 65540) (i32.const -1)))
        (func (export "trap")
          (call $scribble)
          unreachable)
        (func (export "revert_now")
          (call $scribble)
          (call $revert (i32.const 3) (i32.const 0) (i32.const 0)))
        "#,
    )
}

fn pristine_observation() -> Vec<u8> {
    [5i32, 0, 97, 0, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

fn observe(c: &mut Chain, addr: supervm_vm::Address) -> Receipt {
    let r = c.call(addr, "observe", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    assert_eq!(r.return_data, pristine_observation());
    r
}

#[test]
fn every_call_sees_the_freshly_instantiated_state() {
    let mut c = Chain::new();
    let a = c.deploy_ok(scribbler());
    let first = observe(&mut c, a);
    assert!(
        c.vm.idle_instances() > 0,
        "a successful call leaves its instance for reuse"
    );
    let reused = c.vm.reused_instances();
    for _ in 0..3 {
        let again = observe(&mut c, a);
        assert_eq!(
            again.gas_used, first.gas_used,
            "recycled and fresh cost the same"
        );
    }
    // (the three ran on recycled instances: the comparison is not fresh against fresh)
    assert_eq!(c.vm.reused_instances() - reused, 3);
    // A call that grew memory succeeds, but its instance cannot be reset (memory does not
    // shrink): the next call gets another instance with one page.
    assert_eq!(c.call(a, "grow", vec![], GAS).outcome, Outcome::Success);
    assert_eq!(observe(&mut c, a).gas_used, first.gas_used);
    // Trapped and reverted instances are dropped.
    assert!(matches!(
        c.call(a, "trap", vec![], GAS).outcome,
        Outcome::Trap { .. }
    ));
    assert_eq!(observe(&mut c, a).gas_used, first.gas_used);
    assert!(matches!(
        c.call(a, "revert_now", vec![], GAS).outcome,
        Outcome::Revert { code: 3, .. }
    ));
    assert_eq!(observe(&mut c, a).gas_used, first.gas_used);
    // A second contract with the same code shares the module and its idle instances.
    let b = c.deploy_ok(scribbler());
    assert_eq!(observe(&mut c, b).gas_used, first.gas_used);
    // And with the module cache dropped (idle instances go with it), a cold start again.
    c.vm.clear_module_cache();
    assert_eq!(c.vm.idle_instances(), 0);
    assert_eq!(observe(&mut c, a).gas_used, first.gas_used);
}

/// The idle pool never takes back an instance whose call trapped, reverted or ran out
/// of gas, and takes back one whose call succeeded.
#[test]
fn failed_calls_never_return_their_instance_to_the_pool() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &["revert"],
        r#"(memory (export "memory") 1)
        (func (export "ok"))
        (func (export "trap") unreachable)
        (func (export "revert_now") (call $revert (i32.const 3) (i32.const 0) (i32.const 0)))
        (func (export "spin") (loop $l (br $l)))"#,
    ));
    assert_eq!(
        c.vm.idle_instances(),
        0,
        "a deploy without constructor runs nothing"
    );
    let failures: [(&str, u64); 3] = [("trap", GAS), ("revert_now", GAS), ("spin", 100_000)];
    let failed_as_meant = |function: &str, outcome: &Outcome| {
        matches!(
            (function, outcome),
            ("trap", Outcome::Trap { .. })
                | ("revert_now", Outcome::Revert { code: 3, .. })
                | ("spin", Outcome::OutOfGas)
        )
    };
    for (function, gas) in failures {
        assert_eq!(c.call(a, "ok", vec![], GAS).outcome, Outcome::Success);
        assert_eq!(
            c.vm.idle_instances(),
            1,
            "a successful call gives its instance back"
        );
        // The first failing call runs on that idle instance, the second (the pool now
        // empty) on a fresh one: neither may join the pool.
        for what in ["its idle instance came back", "a fresh instance was kept"] {
            let r = c.call(a, function, vec![], gas);
            assert!(
                failed_as_meant(function, &r.outcome),
                "{function}: {:?}",
                r.outcome
            );
            assert_eq!(c.vm.idle_instances(), 0, "{function}: {what}");
        }
    }
    // Successive successful calls reuse the one idle instance.
    for _ in 0..3 {
        assert_eq!(c.call(a, "ok", vec![], GAS).outcome, Outcome::Success);
        assert_eq!(c.vm.idle_instances(), 1);
    }
}

#[test]
fn export_names_of_the_instrumentation_are_reserved() {
    let mut c = Chain::new();
    for name in ["__supervm_g0", "__supervm_depth", "__supervm_anything"] {
        let wasm = contract(
            &[],
            &format!(
                r#"(memory (export "memory") 1) (global (export "{name}") (mut i32) (i32.const 0))"#
            ),
        );
        match c.deploy(wasm).outcome {
            Outcome::Invalid { reason } => {
                assert!(reason.contains("reserved"), "{name}: {reason}")
            }
            other => panic!("{name}: expected rejection, got {other:?}"),
        }
    }
}

/// A contract of `pages` pages with data at both ends of its first chunks. `poke` reads
/// (addr: u32, value: u64, kind: u32) from its input (at the top of the memory) and writes
/// `value` at `addr` with the store (or host write, or store pattern) `kind` picks;
/// `hash` returns the blake3 hash of the whole memory as it found it. Kinds 8 to 13 are
/// store patterns the instrumentation marks once for several stores: each would leave
/// a write unrestored if a mark were wrongly taken to cover it.
fn poker(pages: u32) -> Vec<u8> {
    let top = pages * 65536 - 16;
    contract(
        &["input_read", "return_data", "blake3"],
        &format!(
            r#"
        (memory (export "memory") {pages})
        (data (i32.const 0) "first bytes")
        (data (i32.const 2040) "across a chunk boundary")
        (data (i32.const {top}) "the last bytes!")
        ;; a loop: the local changes after the store, then the body runs again
        (func $k8 (param $a i32) (param $v i64) (local $n i32)
          (i64.store (local.get $a) (local.get $v))
          (loop $l
            (i64.store offset=8 (local.get $a) (local.get $v))
            (local.set $a (i32.add (local.get $a) (i32.const 4096)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $n) (i32.const 3)))))
        ;; a mark inside `then` does not cover the store after the `if`
        (func $k9 (param $a i32) (param $v i64)
          (if (i32.wrap_i64 (i64.and (local.get $v) (i64.const 2)))
            (then (i64.store (i32.sub (local.get $a) (i32.const 0)) (local.get $v))
                  (i64.store (local.get $a) (local.get $v))))
          (i64.store offset=8 (local.get $a) (local.get $v)))
        ;; nor one in `then` the store in `else`
        (func $k10 (param $a i32) (param $v i64)
          (if (i32.wrap_i64 (i64.and (local.get $v) (i64.const 2)))
            (then (i64.store (local.get $a) (local.get $v)))
            (else (i64.store offset=16 (local.get $a) (local.get $v)))))
        ;; an address from local.tee, then stores through the teed local
        (func $k11 (param $a i32) (param $v i64) (local $b i32)
          (i64.store (local.tee $b (i32.add (local.get $a) (i32.const 0))) (local.get $v))
          (i64.store offset=16 (local.get $b) (local.get $v))
          (i64.store offset=1000 (local.get $b) (i64.const -1)))
        ;; constant addresses (one chunk, then the same one again, then another)
        (func $k12 (param $a i32) (param $v i64)
          (i64.store (i32.const 30000) (local.get $v))
          (i64.store offset=8 (i32.const 30000) (local.get $v))
          (i32.store8 (i32.const 2047) (i32.const 200))
          (i64.store (local.get $a) (local.get $v)))
        ;; the local changes between two stores through it; a computed address
        (func $k13 (param $a i32) (param $v i64)
          (i64.store (local.get $a) (local.get $v))
          (local.set $a (i32.add (local.get $a) (i32.const 5000)))
          (i64.store (local.get $a) (local.get $v))
          (i64.store (i32.sub (local.get $a) (i32.const 2500)) (local.get $v)))
        (func (export "poke")
          (local $a i32) (local $v i64) (local $k i32)
          (call $input_read (i32.const {top}))
          (local.set $a (i32.load (i32.const {top})))
          (local.set $v (i64.load offset=4 (i32.const {top})))
          (local.set $k (i32.load offset=12 (i32.const {top})))
          (block $done
            (block $k13 (block $k12 (block $k11 (block $k10 (block $k9 (block $k8
            (block $k7 (block $k6 (block $k5 (block $k4 (block $k3 (block $k2 (block $k1 (block $k0
              (br_table $k0 $k1 $k2 $k3 $k4 $k5 $k6 $k7 $k8 $k9 $k10 $k11 $k12 $k13 $done
                (local.get $k)))
              (i64.store (local.get $a) (local.get $v)) (br $done))
            (i64.store offset=2047 (local.get $a) (local.get $v)) (br $done))
            (i32.store8 (local.get $a) (i32.wrap_i64 (local.get $v))) (br $done))
            (i64.store offset=1000 (local.get $a) (local.get $v)) (br $done))
            (i32.store16 offset=65000 (local.get $a) (i32.wrap_i64 (local.get $v))) (br $done))
            (f64.store offset=7 (local.get $a) (f64.reinterpret_i64 (local.get $v))) (br $done))
            (i64.store32 offset=40000 (local.get $a) (local.get $v)) (br $done))
            ;; a host write: 32 bytes of hash
            (call $blake3 (i32.const 0) (i32.const 8) (local.get $a)) (br $done))
            (call $k8 (local.get $a) (local.get $v)) (br $done))
            (call $k9 (local.get $a) (local.get $v)) (br $done))
            (call $k10 (local.get $a) (local.get $v)) (br $done))
            (call $k11 (local.get $a) (local.get $v)) (br $done))
            (call $k12 (local.get $a) (local.get $v)) (br $done))
            (call $k13 (local.get $a) (local.get $v))))
        (func (export "hash")
          (call $blake3 (i32.const 0) (i32.const {len}) (i32.const 64))
          (call $return_data (i32.const 64) (i32.const 32)))
        "#,
            len = pages * 65536,
        ),
    )
}

/// For each `kind` of [`poker`]: (lowest, highest) byte it writes relative to `addr`,
/// the highest exclusive (constant addresses aside).
const POKES: [(u32, u32); 14] = [
    (0, 8),
    (2047, 2055),
    (0, 1),
    (1000, 1008),
    (65000, 65002),
    (7, 15),
    (40000, 40004),
    (0, 32),
    (0, 2 * 4096 + 16),
    (0, 16),
    (0, 24),
    (0, 1008),
    (0, 8),
    (0, 5008),
];

#[test]
fn a_reset_undoes_writes_anywhere_in_memory() {
    use rand::{Rng, SeedableRng};
    let seed = crate::util::env_u64("SUPERVM_SEED").unwrap_or(0x5eed_d1a7);
    eprintln!("seed {seed} (rerun with SUPERVM_SEED={seed})");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for pages in [1u32, 3] {
        let size = pages * 65536;
        let mut c = Chain::new();
        let a = c.deploy_ok(poker(pages));
        let hash = |c: &mut Chain| c.call_ok(a, "hash", GAS);
        let fresh = hash(&mut c);
        for i in 0..600 {
            let kind = rng.gen_range(0..POKES.len() as u32);
            let (offset, reach) = POKES[kind as usize];
            let width = reach - offset;
            if reach + 16 > size {
                continue;
            }
            // (the input sits in the last 16 bytes)
            let room = size - 16 - reach;
            // Half the (first) stores straddle or start at a 2 KiB boundary.
            let boundary = rng.gen_range(1..size / 2048) * 2048;
            let start = boundary - rng.gen_range(0..width.min(8));
            let addr = if rng.gen_bool(0.5) && start >= offset && start - offset <= room {
                start - offset
            } else {
                rng.gen_range(0..=room)
            };
            let value: u64 = rng.r#gen::<u64>() | 1;
            let mut input = addr.to_le_bytes().to_vec();
            input.extend(value.to_le_bytes());
            input.extend(kind.to_le_bytes());
            let r = c.call(a, "poke", input, GAS);
            assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
            let reused = c.vm.reused_instances();
            assert_eq!(
                hash(&mut c),
                fresh,
                "seed {seed}, {pages} pages, poke {i}: kind {kind} at {addr} survived the reset"
            );
            // (on the instance the poke wrote in, reset: not on a fresh one)
            assert_eq!(
                c.vm.reused_instances(),
                reused + 1,
                "seed {seed}, {pages} pages, poke {i}: the hash ran on a fresh instance"
            );
        }
    }
}
