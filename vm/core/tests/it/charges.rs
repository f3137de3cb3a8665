//! Host work that grows with what a contract does is charged for: memory pages (zeroed
//! after every call) and keys a prefix iteration steps over because the transaction
//! deleted them.

use supervm_vm::Outcome;
use supervm_vm::gas::MEMORY_PAGE;

use crate::util::{Chain, contract};

const GAS: u64 = 50_000_000;

/// The ABI table's per-byte charge of host function `name`.
fn per_byte(name: &str) -> u64 {
    supervm_vm::abi::HOST_FNS
        .iter()
        .find(|f| f.name == name)
        .expect("host fn")
        .cost
        .per_byte
}

#[test]
fn memory_pages_beyond_the_first_are_charged_per_call() {
    let mut c = Chain::new();
    let one = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1) (func (export "f"))"#,
    ));
    let nine = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 9) (func (export "f"))"#,
    ));
    // Twice each: the second call runs on a recycled instance and pays the same.
    for _ in 0..2 {
        let a = c.call(one, "f", vec![], GAS);
        let b = c.call(nine, "f", vec![], GAS);
        assert_eq!(
            (&a.outcome, &b.outcome),
            (&Outcome::Success, &Outcome::Success)
        );
        assert_eq!(b.gas_used - a.gas_used, 8 * MEMORY_PAGE);
    }
    // Not enough gas for the pages: out of gas, and the limit is charged.
    let base = c.call(one, "f", vec![], GAS).gas_used;
    let short = base + 8 * MEMORY_PAGE - 1;
    let r = c.call(nine, "f", vec![], short);
    assert_eq!((r.outcome, r.gas_used), (Outcome::OutOfGas, short));
}

#[test]
fn pages_grown_during_a_call_are_charged_when_it_ends() {
    let mut c = Chain::new();
    let body = |pages: u32| {
        format!(
            r#"(memory (export "memory") 1) (func (export "f") (drop (memory.grow (i32.const {pages}))))"#
        )
    };
    let none = c.deploy_ok(contract(&[], &body(0)));
    let three = c.deploy_ok(contract(&[], &body(3)));
    let a = c.call(none, "f", vec![], GAS);
    let b = c.call(three, "f", vec![], GAS);
    assert_eq!(
        (&a.outcome, &b.outcome),
        (&Outcome::Success, &Outcome::Success)
    );
    assert_eq!(b.gas_used - a.gas_used, 3 * MEMORY_PAGE);
    // The grown pages do not fit the limit: out of gas (and nothing it wrote stays).
    let r = c.call(three, "f", vec![], a.gas_used + 3 * MEMORY_PAGE - 1);
    assert_eq!(r.outcome, Outcome::OutOfGas);
}

#[test]
fn iteration_pays_for_the_deleted_keys_it_steps_over() {
    let mut c = Chain::new();
    // Removes ten keys ("p0".."p9" or "q0".."q9", never written), then asks for the
    // first key with prefix "p": over "p*" deletions the search steps over all ten.
    let body = |first: char| {
        format!(
            r#"(memory (export "memory") 1)
            (data (i32.const 0) "p")
            (func (export "f") (local $i i32)
              (loop $l
                (i32.store8 (i32.const 16) (i32.const {}))
                (i32.store8 (i32.const 17) (i32.add (i32.const 48) (local.get $i)))
                (call $storage_remove (i32.const 16) (i32.const 2))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
              (drop (call $storage_next (i32.const 0) (i32.const 1) (i32.const 0) (i32.const -1)
                (i32.const 32) (i32.const 8))))"#,
            first as u32
        )
    };
    let uses = ["storage_remove", "storage_next"];
    let p = c.deploy_ok(contract(&uses, &body('p')));
    let q = c.deploy_ok(contract(&uses, &body('q')));
    let over_p = c.call(p, "f", vec![], GAS);
    let over_q = c.call(q, "f", vec![], GAS);
    assert_eq!(over_p.outcome, Outcome::Success);
    assert_eq!(over_q.outcome, Outcome::Success);
    let base = supervm_vm::abi::host_fns::cost::storage_next.base;
    assert_eq!(over_p.gas_used - over_q.gas_used, 10 * base);
}

/// A `try_call` with a gas cap (the SDK's `try_call_with_gas`) loses only that cap to a
/// callee that spins forever, and the caller carries on with the rest.
#[test]
fn a_capped_try_call_loses_only_its_cap() {
    let mut c = Chain::new();
    let spinner = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1) (func (export "spin") (loop $l (br $l)))"#,
    ));
    let caller = c.deploy_ok(contract(
        &["input_read", "try_call", "return_data"],
        r#"(memory (export "memory") 1)
        (data (i32.const 100) "spin")
        (func (export "f")
          (call $input_read (i32.const 0))
          (i64.store (i32.const 200)
            (call $try_call (i32.const 0) (i32.const 100) (i32.const 4) (i32.const 0) (i32.const 0)
              (i64.const 20000)))
          (call $return_data (i32.const 200) (i32.const 8)))"#,
    ));
    let r = c.call(caller, "f", spinner.0.to_vec(), GAS);
    assert_eq!(r.outcome, Outcome::Success);
    let status = i64::from_le_bytes(r.return_data.clone().try_into().unwrap());
    assert_eq!(status & 0xffff_ffff, 2, "out of gas status");
    assert!(
        r.gas_used > 20_000 && r.gas_used < 40_000,
        "the callee's 20,000 plus the calls' costs, not the whole limit: {}",
        r.gas_used
    );
}

/// Every host function whose per-byte charge a length argument sets charges exactly
/// its table's `per_byte` for each byte its documentation names: the same contract
/// called with a length 64 bytes longer (same instructions, so the same fuel) costs
/// `per_byte × 64` more. (`storage_get`, `storage_next`, `input_read` and
/// `returned_read` charge for bytes that state, the input or a callee decide; the
/// contract tests' golden gas trace covers them.)
#[test]
fn per_byte_costs_are_the_tables() {
    let mut c = Chain::new();
    let callee = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1) (func (export "f"))"#,
    ));
    // The callee's address at offset 512, its function name "f" at 600.
    let addr: String = callee.0.iter().map(|b| format!("\\{b:02x}")).collect();
    let data = format!(r#"(data (i32.const 512) "{addr}") (data (i32.const 600) "f")"#);
    // (function, the call with `{L}` for the varied length, outcome expected)
    let cases: &[(&str, &str, bool)] = &[
        (
            "blake3",
            "(call $blake3 (i32.const 0) (i32.const {L}) (i32.const 1024))",
            true,
        ),
        (
            "sha256",
            "(call $sha256 (i32.const 0) (i32.const {L}) (i32.const 1024))",
            true,
        ),
        (
            "return_data",
            "(call $return_data (i32.const 0) (i32.const {L}))",
            true,
        ),
        (
            "debug_log",
            "(call $debug_log (i32.const 0) (i32.const {L}))",
            true,
        ),
        (
            "storage_has",
            "(drop (call $storage_has (i32.const 0) (i32.const {L})))",
            true,
        ),
        (
            "storage_remove",
            "(call $storage_remove (i32.const 0) (i32.const {L}))",
            true,
        ),
        (
            // adds the 16 zero bytes at offset 200
            "storage_add",
            "(drop (call $storage_add (i32.const 0) (i32.const {L}) (i32.const 200) (i32.const 0)))",
            true,
        ),
        (
            "storage_set",
            "(call $storage_set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const {L}))",
            true,
        ),
        (
            // topics: an empty list (a zero u32 length at offset 0)
            "emit_event",
            "(call $emit_event (i32.const 0) (i32.const 4) (i32.const 100) (i32.const {L}))",
            true,
        ),
        (
            "ed25519_verify",
            "(drop (call $ed25519_verify (i32.const 0) (i32.const 100) (i32.const {L}) (i32.const 200)))",
            true,
        ),
        (
            "call",
            "(drop (call $call (i32.const 512) (i32.const 600) (i32.const 1) (i32.const 0) (i32.const {L}) (i64.const 0)))",
            true,
        ),
        (
            "try_call",
            "(drop (call $try_call (i32.const 512) (i32.const 600) (i32.const 1) (i32.const 0) (i32.const {L}) (i64.const 0)))",
            true,
        ),
        // A revert is charged too (the outcome is Revert, the gas is used).
        (
            "revert",
            "(call $revert (i32.const 1) (i32.const 0) (i32.const {L}))",
            false,
        ),
    ];
    for (name, call, succeeds) in cases {
        let gas_at = |c: &mut Chain, len: u32| {
            let body = format!(
                r#"(memory (export "memory") 1) {data} (func (export "f") {})"#,
                call.replace("{L}", &len.to_string())
            );
            let a = c.deploy_ok(contract(&[name], &body));
            let r = c.call(a, "f", vec![], GAS);
            assert_eq!(r.outcome.is_success(), *succeeds, "{name}: {:?}", r.outcome);
            r.gas_used
        };
        let short = gas_at(&mut c, 8);
        let long = gas_at(&mut c, 72);
        assert_eq!(
            long - short,
            64 * per_byte(name),
            "{name}: 64 more bytes cost {} gas, the table says {} per byte",
            long - short,
            per_byte(name)
        );
    }
}

/// Growing memory past what the frame's gas can pay for is out of gas at the
/// `memory.grow` itself (the pages would be charged when the frame ends, and they alone
/// exceed its gas), not after the frame went on with memory it never pays for: the
/// debug line logged after the growth (logs are kept on failure) is not there. With
/// enough gas the same growth succeeds and the line is logged; past the memory cap
/// `memory.grow` returns -1 whatever the gas.
#[test]
fn growth_the_gas_cannot_pay_for_is_out_of_gas_at_once() {
    let mut c = Chain::new();
    let grow = |pages: u32| {
        format!(
            r#"(memory (export "memory") 1) (data (i32.const 0) "grew")
               (func (export "f")
                 (if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable))
                 (call $debug_log (i32.const 0) (i32.const 4)))"#
        )
    };
    let a = c.deploy_ok(contract(&["debug_log"], &grow(100)));
    let rich = c.call(a, "f", vec![], GAS);
    assert_eq!(rich.outcome, Outcome::Success);
    assert_eq!(rich.logs, ["grew"]);
    // 10 pages' worth of gas beyond what the call costs without growing.
    let poor = 200_000 + 10 * MEMORY_PAGE;
    let r = c.call(a, "f", vec![], poor);
    assert_eq!((&r.outcome, r.gas_used), (&Outcome::OutOfGas, poor));
    assert!(
        r.logs.is_empty(),
        "the frame went on after the growth: {:?}",
        r.logs
    );
    // Past the cap (128 pages by default): -1, so `unreachable`.
    let b = c.deploy_ok(contract(&["debug_log"], &grow(200)));
    let r = c.call(b, "f", vec![], GAS);
    assert!(
        matches!(&r.outcome, Outcome::Trap { reason } if reason.contains("unreachable")),
        "{:?}",
        r.outcome
    );
}

/// Host functions that read a stored value whole without handing it to the contract
/// charge its bytes: `storage_has` of a present key (as `storage_get` does), a
/// `storage_add` that finds a value that is not a `u128` (before its trap), and
/// `upgrade` for the code it checks is stored. Without these charges a contract could
/// fill its read set with large values at a flat fee per key.
#[test]
fn values_read_whole_are_charged_per_byte() {
    use supervm_vm::Payload;
    let mut c = Chain::new();
    // `put` stores {L} bytes under key "k"; `has` and `add` use it (the amount: the
    // 16 zero bytes at offset 200).
    let body = |len: u32| {
        format!(
            r#"(memory (export "memory") 1) (data (i32.const 0) "k")
               (func (export "put") (call $storage_set (i32.const 0) (i32.const 1) (i32.const 100) (i32.const {len})))
               (func (export "has") (drop (call $storage_has (i32.const 0) (i32.const 1))))
               (func (export "add") (drop (call $storage_add (i32.const 0) (i32.const 1) (i32.const 200) (i32.const 0))))"#
        )
    };
    let uses = ["storage_set", "storage_has", "storage_add"];
    let gas_of = |c: &mut Chain, len: u32, f: &str| {
        let a = c.deploy_ok(contract(&uses, &body(len)));
        assert!(c.call(a, "put", vec![], GAS).outcome.is_success());
        let r = c.call(a, f, vec![], GAS);
        (r.outcome, r.gas_used)
    };
    let (o8, short) = gas_of(&mut c, 8, "has");
    let (o72, long) = gas_of(&mut c, 72, "has");
    assert_eq!((&o8, &o72), (&Outcome::Success, &Outcome::Success));
    assert_eq!(long - short, 64 * per_byte("storage_has"), "storage_has");
    let (o8, short) = gas_of(&mut c, 8, "add");
    let (o72, long) = gas_of(&mut c, 72, "add");
    for o in [&o8, &o72] {
        assert!(
            matches!(o, Outcome::Trap { reason } if reason.contains("not a 16-byte u128")),
            "{o:?}"
        );
    }
    assert_eq!(long - short, 64 * per_byte("storage_add"), "storage_add");
    // `upgrade` to uploaded code of two sizes (the same module, one with a custom
    // section 64 bytes longer).
    let code = |pad: usize| {
        crate::util::with_custom(
            contract(&[], r#"(memory (export "memory") 1) (func (export "f"))"#),
            "pad",
            &vec![0u8; pad],
        )
    };
    let (small, large) = (code(8), code(72));
    assert_eq!(large.len() - small.len(), 64);
    let mut gas = vec![];
    for wasm in [small, large] {
        let up = c.run(Payload::Upload { code: wasm }, GAS * 10);
        assert!(up.outcome.is_success(), "{:?}", up.outcome);
        // A fresh upgrader each time (the first upgrade replaces its code).
        let a = c.deploy_ok(contract(
            &["input_read", "upgrade"],
            r#"(memory (export "memory") 1)
               (func (export "up") (call $input_read (i32.const 64)) (call $upgrade (i32.const 64)))"#,
        ));
        let r = c.call(a, "up", up.code_hash.unwrap().to_vec(), GAS);
        assert!(r.outcome.is_success(), "{:?}", r.outcome);
        gas.push(r.gas_used);
    }
    assert_eq!(gas[1] - gas[0], 64 * per_byte("upgrade"), "upgrade");
}
