//! Host functions one at a time: cross-contract return data, `try_call` status and
//! rollback, `storage_has`, `gas_left` and `debug_log`, each checked on concrete values.

use supervm_vm::abi::{STATUS_OK, STATUS_REVERT};
use supervm_vm::state::storage_key;
use supervm_vm::{Address, Outcome, StateView};

use crate::util::{Chain, contract, trap_in};

const GAS: u64 = 10_000_000;

/// A callee: `give_xyz` returns "xyz", `give_eight` returns 8 bytes, `write` stores
/// "xyz" under key "ck", and `write_and_revert` stores it then reverts with code 5 and
/// data "bad".
fn callee() -> Vec<u8> {
    contract(
        &["storage_set", "return_data", "revert"],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "xyz")
        (data (i32.const 8) "8 bytes!")
        (data (i32.const 16) "bad")
        (data (i32.const 32) "ck")
        (func (export "give_xyz") (call $return_data (i32.const 0) (i32.const 3)))
        (func (export "give_eight") (call $return_data (i32.const 8) (i32.const 8)))
        (func (export "write")
          (call $storage_set (i32.const 32) (i32.const 2) (i32.const 0) (i32.const 3)))
        (func (export "write_and_revert")
          (call $storage_set (i32.const 32) (i32.const 2) (i32.const 0) (i32.const 3))
          (call $revert (i32.const 5) (i32.const 16) (i32.const 3)))
        "#,
    )
}

/// A caller whose input is a callee address (32 bytes) followed by a function name.
/// `via_call` `call`s it and returns what it returned (read with `returned_len` /
/// `returned_read`); `via_try_call` `try_call`s it and returns the i64 status followed
/// by the returned data; `read_returned_at_end` / `read_returned_past_end` `call` it and
/// copy the returned data to 65,528 / 65,532 of its one page.
fn caller() -> Vec<u8> {
    contract(
        &[
            "input_read",
            "input_len",
            "call",
            "try_call",
            "returned_len",
            "returned_read",
            "return_data",
        ],
        r#"
        (memory (export "memory") 1)
        (func $name_len (result i32) (i32.sub (call $input_len) (i32.const 32)))
        (func $call_it
          (call $input_read (i32.const 0))
          (drop (call $call (i32.const 0) (i32.const 32) (call $name_len)
            (i32.const 0) (i32.const 0) (i64.const 0))))
        (func (export "via_call")
          (call $call_it)
          (call $returned_read (i32.const 512))
          (call $return_data (i32.const 512) (call $returned_len)))
        (func (export "via_try_call")
          (call $input_read (i32.const 0))
          (i64.store (i32.const 504)
            (call $try_call (i32.const 0) (i32.const 32) (call $name_len)
              (i32.const 0) (i32.const 0) (i64.const 0)))
          (call $returned_read (i32.const 512))
          (call $return_data (i32.const 504) (i32.add (i32.const 8) (call $returned_len))))
        (func (export "read_returned_at_end")
          (call $call_it)
          (call $returned_read (i32.const 65528)))
        (func (export "read_returned_past_end")
          (call $call_it)
          (call $returned_read (i32.const 65532)))
        "#,
    )
}

/// The caller's input naming `function` of `callee`.
fn target(callee: Address, function: &str) -> Vec<u8> {
    [callee.0.as_slice(), function.as_bytes()].concat()
}

/// `call` hands the callee's return data to the caller, which returns it as its own.
#[test]
fn call_returns_the_callees_data_through_returned_read() {
    let mut c = Chain::new();
    let callee = c.deploy_ok(callee());
    let caller = c.deploy_ok(caller());
    let r = c.call(caller, "via_call", target(callee, "give_xyz"), GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    assert_eq!(r.return_data, b"xyz");
    let r = c.call(caller, "via_call", target(callee, "give_eight"), GAS);
    assert_eq!(r.return_data, b"8 bytes!");
}

/// `returned_read` of 8 returned bytes fits exactly at the end of memory and traps out
/// of bounds 4 bytes later.
#[test]
fn returned_read_past_the_end_of_memory_traps() {
    let mut c = Chain::new();
    let callee = c.deploy_ok(callee());
    let caller = c.deploy_ok(caller());
    let r = c.call(
        caller,
        "read_returned_at_end",
        target(callee, "give_eight"),
        GAS,
    );
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    let r = c.call(
        caller,
        "read_returned_past_end",
        target(callee, "give_eight"),
        GAS,
    );
    match &r.outcome {
        Outcome::Trap { reason } if reason.contains("out of bounds") => {
            assert!(reason.contains("len=8"), "the 8 returned bytes: {reason}")
        }
        other => panic!("expected an out-of-bounds trap, got {other:?}"),
    }
    assert!(r.write_set.is_empty() && r.events.is_empty());
}

/// `try_call` of a callee that reverts reports status 1 with code 5, hands over the
/// revert data, and rolls back the callee's write while the caller succeeds.
#[test]
fn try_call_reports_a_revert_with_its_data_and_rolls_back_the_callee() {
    let mut c = Chain::new();
    let callee = c.deploy_ok(callee());
    let caller = c.deploy_ok(caller());
    let key = storage_key(&callee, b"ck");

    let r = c.call(
        caller,
        "via_try_call",
        target(callee, "write_and_revert"),
        GAS,
    );
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    let status = i64::from_le_bytes(r.return_data[..8].try_into().unwrap());
    assert_eq!(status & 0xffff_ffff, STATUS_REVERT as i64, "revert status");
    assert_eq!(status >> 32, 5, "revert code");
    assert_eq!(&r.return_data[8..], b"bad");
    assert!(
        !r.write_set.contains_key(&key),
        "the callee's write was rolled back: {:?}",
        r.write_set
    );
    assert!(r.write_set.is_empty(), "{:?}", r.write_set);
    assert_eq!(c.state.get(&key).unwrap(), None);

    // The same write without the revert is kept: the key above is the one written.
    let r = c.call(caller, "via_try_call", target(callee, "write"), GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    assert_eq!(r.return_data, (STATUS_OK as i64).to_le_bytes());
    assert_eq!(r.write_set.get(&key), Some(&Some(b"xyz".to_vec())));
    assert_eq!(c.state.get(&key).unwrap(), Some(b"xyz".to_vec()));
}

/// `storage_has` sees a key absent, present after `storage_set`, absent after
/// `storage_remove` in one call, and present when an earlier transaction set it.
#[test]
fn storage_has_follows_set_and_remove_and_committed_state() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &[
            "storage_has",
            "storage_set",
            "storage_remove",
            "return_data",
        ],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "hk")
        (data (i32.const 8) "old")
        (func (export "cycle")
          (i32.store8 (i32.const 100) (call $storage_has (i32.const 0) (i32.const 2)))
          (call $storage_set (i32.const 0) (i32.const 2) (i32.const 8) (i32.const 3))
          (i32.store8 (i32.const 101) (call $storage_has (i32.const 0) (i32.const 2)))
          (call $storage_remove (i32.const 0) (i32.const 2))
          (i32.store8 (i32.const 102) (call $storage_has (i32.const 0) (i32.const 2)))
          (call $return_data (i32.const 100) (i32.const 3)))
        (func (export "set_old")
          (call $storage_set (i32.const 8) (i32.const 3) (i32.const 8) (i32.const 3)))
        (func (export "has_old")
          (i32.store8 (i32.const 100) (call $storage_has (i32.const 8) (i32.const 3)))
          (call $return_data (i32.const 100) (i32.const 1)))
        "#,
    ));
    assert_eq!(c.call_ok(a, "cycle", GAS), [0u8, 1, 0]);
    assert_eq!(c.call_ok(a, "has_old", GAS), [0u8]);
    c.call_ok(a, "set_old", GAS);
    assert_eq!(
        c.state.get(&storage_key(&a, b"old")).unwrap(),
        Some(b"old".to_vec())
    );
    assert_eq!(c.call_ok(a, "has_old", GAS), [1u8]);
}

/// `storage_add` on concrete values: an absent key counts as 0, a subtraction past 0
/// returns 0 and changes nothing, the result is a 16-byte little-endian value, the gas
/// does not depend on the stored value, and a value that is not 16 bytes traps. The
/// balance is not a point read but a delta read with its range.
#[test]
fn storage_add_adds_checks_and_never_shows_the_value() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &["storage_add", "storage_set", "return_data"],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "k")
        (data (i32.const 16) "\07")
        (data (i32.const 32) "\0a")
        (func (export "add7")
          (i32.store8 (i32.const 100)
            (call $storage_add (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 0)))
          (call $return_data (i32.const 100) (i32.const 1)))
        (func (export "sub10")
          (i32.store8 (i32.const 100)
            (call $storage_add (i32.const 0) (i32.const 1) (i32.const 32) (i32.const 1)))
          (call $return_data (i32.const 100) (i32.const 1)))
        (func (export "break")
          (call $storage_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 3)))
        "#,
    ));
    let key = storage_key(&a, b"k");
    let value = |c: &Chain| c.state.get(&key).unwrap();
    let u = |v: u128| Some(v.to_le_bytes().to_vec());
    let first = c.call(a, "add7", vec![], GAS);
    assert_eq!(first.return_data, [1u8]);
    assert_eq!(value(&c), u(7));
    assert!(
        first.read_set.keys.iter().all(|r| r.key != key),
        "not a point read"
    );
    let d = &first.read_set.deltas[0];
    assert_eq!(
        (&d.key, &d.seen, d.lo, d.hi),
        (&key, &None, 0, u128::MAX - 7)
    );
    let second = c.call(a, "add7", vec![], GAS);
    assert_eq!(
        second.gas_used, first.gas_used,
        "gas does not depend on the value"
    );
    assert_eq!(value(&c), u(14));
    assert_eq!(c.call_ok(a, "sub10", GAS), [1u8]);
    assert_eq!(value(&c), u(4));
    let r = c.call(a, "sub10", vec![], GAS);
    assert_eq!(r.return_data, [0u8]);
    assert!(r.write_set.is_empty());
    assert_eq!(value(&c), u(4));
    c.call_ok(a, "break", GAS);
    let r = c.call(a, "add7", vec![], GAS);
    assert!(
        matches!(&r.outcome, Outcome::Trap { reason } if reason.contains("not a 16-byte u128")),
        "{:?}",
        r.outcome
    );
}

/// `gas_left` is below the transaction's limit and strictly decreases between two calls.
#[test]
fn gas_left_is_below_the_limit_and_decreases() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &["gas_left", "return_data"],
        r#"
        (memory (export "memory") 1)
        (func (export "twice")
          (i64.store (i32.const 0) (call $gas_left))
          (i64.store (i32.const 8) (call $gas_left))
          (call $return_data (i32.const 0) (i32.const 16)))
        "#,
    ));
    let r = c.call(a, "twice", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    let first = u64::from_le_bytes(r.return_data[0..8].try_into().unwrap());
    let second = u64::from_le_bytes(r.return_data[8..16].try_into().unwrap());
    let base = supervm_vm::abi::host_fns::cost::gas_left.base;
    // The limit less the transaction's intrinsic gas and the first call's base cost.
    let intrinsic = supervm_vm::gas::TX_BASE + supervm_vm::gas::PER_ARG_BYTE * 5; // "twice"
    assert!(first <= GAS - intrinsic - base, "{first}");
    assert!(
        first > GAS - 10_000,
        "a few instructions only were spent: {first}"
    );
    assert!(second < first, "{second} after {first}");
    assert!(first - second >= base, "the second call costs its base");
    assert!(
        r.gas_used >= GAS - second,
        "gas used {} and {second} left",
        r.gas_used
    );
}

/// Bytes `debug_log` keeps of one message (host.rs).
const LOG_MESSAGE_CAP: usize = 1024;
/// Lines `debug_log` keeps per transaction (host.rs).
const LOG_LINES_CAP: usize = 256;

/// `debug_log` lines land in the receipt's `logs`: a long message truncated to 1 KiB,
/// lines past 256 dropped without a trap, and lines kept when the call traps.
#[test]
fn debug_log_lines_are_in_the_receipt_within_their_caps() {
    let mut c = Chain::new();
    let long = "a".repeat(2000);
    let a = c.deploy_ok(contract(
        &["debug_log"],
        &format!(
            r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "hello")
        (data (i32.const 1024) "{long}")
        (func (export "hello") (call $debug_log (i32.const 0) (i32.const 5)))
        (func (export "long") (call $debug_log (i32.const 1024) (i32.const 2000)))
        (func (export "many")
          (local $i i32)
          (loop $l
            (call $debug_log (i32.const 0) (i32.const 5))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 300)))))
        (func (export "hello_then_trap")
          (call $debug_log (i32.const 0) (i32.const 5))
          unreachable)
        "#
        ),
    ));
    let r = c.call(a, "hello", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    assert_eq!(r.logs, vec!["hello".to_string()]);

    let r = c.call(a, "long", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    assert_eq!(r.logs, vec!["a".repeat(LOG_MESSAGE_CAP)]);

    let r = c.call(a, "many", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.outcome);
    assert_eq!(r.logs.len(), LOG_LINES_CAP);
    assert!(r.logs.iter().all(|l| l == "hello"));

    let r = c.call(a, "hello_then_trap", vec![], GAS);
    assert_eq!(
        r.outcome,
        trap_in(a, "wasm `unreachable` instruction executed")
    );
    assert_eq!(r.logs, vec!["hello".to_string()]);
}
