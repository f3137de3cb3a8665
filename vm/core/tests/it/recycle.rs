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
    for _ in 0..3 {
        let again = observe(&mut c, a);
        assert_eq!(
            again.gas_used, first.gas_used,
            "recycled and fresh cost the same"
        );
    }
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
