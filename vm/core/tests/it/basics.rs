//! The ABI and transaction semantics, one behaviour per test.

use supervm_vm::{Address, CodeSource, Outcome, Payload, StateView, Vm, VmConfig};

use crate::util::{Chain, contract, trap_in};

const GAS: u64 = 10_000_000;

/// A counter at key "k": `inc` adds one and returns the new value (u64 LE);
/// `inc_then_revert` adds one and reverts with code 7 and data "no".
fn counter() -> Vec<u8> {
    contract(
        &[
            "storage_get",
            "storage_set",
            "return_data",
            "revert",
            "emit_event",
        ],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "k")
        ;; codec Vec<Vec<u8>> with one topic "inc": count=1, len=3, "inc"
        (data (i32.const 64) "\01\00\00\00\03\00\00\00inc")
        (data (i32.const 96) "no")
        (func $bump (result i64)
          (local $v i64)
          (if (i64.ge_s (call $storage_get (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 8)) (i64.const 0))
            (then (local.set $v (i64.load (i32.const 8)))))
          (local.set $v (i64.add (local.get $v) (i64.const 1)))
          (i64.store (i32.const 8) (local.get $v))
          (call $storage_set (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 8))
          (local.get $v))
        (func (export "inc")
          (drop (call $bump))
          (call $emit_event (i32.const 64) (i32.const 11) (i32.const 8) (i32.const 8))
          (call $return_data (i32.const 8) (i32.const 8)))
        (func (export "inc_then_revert")
          (drop (call $bump))
          (call $emit_event (i32.const 64) (i32.const 11) (i32.const 8) (i32.const 8))
          (call $revert (i32.const 7) (i32.const 96) (i32.const 2)))
        "#,
    )
}

#[test]
fn counter_counts_and_charges_deterministic_gas() {
    let mut c = Chain::new();
    let addr = c.deploy_ok(counter());
    let mut gas = vec![];
    for i in 1..=3u64 {
        let r = c.call(addr, "inc", vec![], GAS);
        assert_eq!(r.outcome, Outcome::Success);
        assert_eq!(r.return_data, i.to_le_bytes());
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].topics, vec![b"inc".to_vec()]);
        assert_eq!(r.events[0].contract, addr);
        gas.push(r.gas_used);
    }
    // The first call reads an absent key, later ones a present one: same code path after that.
    assert_eq!(gas[1], gas[2]);
    assert!(gas[0] > 2_000, "intrinsic gas is charged");
}

#[test]
fn revert_discards_writes_and_events_but_charges_gas() {
    let mut c = Chain::new();
    let addr = c.deploy_ok(counter());
    c.call(addr, "inc", vec![], GAS);
    let before = c.state.state_hash();
    let r = c.call(addr, "inc_then_revert", vec![], GAS);
    assert_eq!(
        r.outcome,
        Outcome::Revert {
            code: 7,
            data: b"no".to_vec(),
            contract: addr,
        }
    );
    assert!(r.write_set.is_empty() && r.events.is_empty());
    assert!(r.gas_used > 0);
    assert_eq!(c.state.state_hash(), before);
    assert_eq!(
        r.read_set.keys.len(),
        2,
        "contract record and the counter key were read"
    );
}

#[test]
fn unknown_contract_function_and_constructor_are_invalid() {
    let mut c = Chain::new();
    let addr = c.deploy_ok(counter());
    let r = c.call(addr, "nope", vec![], GAS);
    assert!(
        matches!(r.outcome, Outcome::Invalid { ref reason } if reason.contains("no entry point nope")),
        "{:?}",
        r.outcome
    );
    let r = c.call(Address([9; 32]), "inc", vec![], GAS);
    assert!(
        matches!(r.outcome, Outcome::Invalid { ref reason } if reason.contains("no contract")),
        "{:?}",
        r.outcome
    );
    let r = c.call(addr, "__init", vec![], GAS);
    assert!(
        matches!(r.outcome, Outcome::Invalid { ref reason } if reason.contains("not callable")),
        "{:?}",
        r.outcome
    );
}

#[test]
fn out_of_gas_below_intrinsic_and_in_wasm() {
    let mut c = Chain::new();
    let addr = c.deploy_ok(counter());
    let r = c.call(addr, "inc", vec![], 100);
    assert_eq!((r.outcome, r.gas_used), (Outcome::OutOfGas, 100));
    let r = c.call(addr, "inc", vec![], 3_500);
    assert_eq!((r.outcome, r.gas_used), (Outcome::OutOfGas, 3_500));
    assert!(r.write_set.is_empty());
}

#[test]
fn environment_is_the_block_and_the_callers() {
    let mut c = Chain::new();
    let wasm = contract(
        &[
            "caller",
            "origin",
            "self_address",
            "block_height",
            "block_timestamp",
            "chain_id",
            "return_data",
        ],
        r#"
        (memory (export "memory") 1)
        (func (export "env")
          (call $caller (i32.const 0))
          (call $origin (i32.const 32))
          (call $self_address (i32.const 64))
          (i64.store (i32.const 96) (call $block_height))
          (i64.store (i32.const 104) (call $block_timestamp))
          (i64.store (i32.const 112) (call $chain_id))
          (call $return_data (i32.const 0) (i32.const 120)))
        "#,
    );
    let addr = c.deploy_ok(wasm);
    let r = c.call(addr, "env", vec![], GAS);
    let d = r.return_data;
    assert_eq!(&d[0..32], &c.sender.0);
    assert_eq!(&d[32..64], &c.sender.0);
    assert_eq!(&d[64..96], &addr.0);
    assert_eq!(u64::from_le_bytes(d[96..104].try_into().unwrap()), 7);
    assert_eq!(
        u64::from_le_bytes(d[104..112].try_into().unwrap()),
        1_700_000_000_000
    );
    assert_eq!(u64::from_le_bytes(d[112..120].try_into().unwrap()), 42);
}

/// A proxy whose input is a 32-byte callee address: `keep_and_try` writes its own key,
/// then `try_call`s the callee's `inc_then_revert` and returns the i64 status;
/// `keep_and_call` does the same with `call`.
fn proxy() -> Vec<u8> {
    contract(
        &[
            "input_read",
            "storage_set",
            "try_call",
            "call",
            "return_data",
        ],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 100) "inc_then_revert")
        (data (i32.const 120) "p")
        (func (export "keep_and_try")
          (call $input_read (i32.const 0))
          (call $storage_set (i32.const 120) (i32.const 1) (i32.const 120) (i32.const 1))
          (i64.store (i32.const 200)
            (call $try_call (i32.const 0) (i32.const 100) (i32.const 15) (i32.const 0) (i32.const 0) (i64.const 0)))
          (call $return_data (i32.const 200) (i32.const 8)))
        (func (export "keep_and_call")
          (call $input_read (i32.const 0))
          (call $storage_set (i32.const 120) (i32.const 1) (i32.const 120) (i32.const 1))
          (drop (call $call (i32.const 0) (i32.const 100) (i32.const 15) (i32.const 0) (i32.const 0) (i64.const 0))))
        "#,
    )
}

#[test]
fn try_call_rolls_back_only_the_callee_and_call_propagates() {
    let mut c = Chain::new();
    let counter = c.deploy_ok(counter());
    let proxy = c.deploy_ok(proxy());
    let r = c.call(proxy, "keep_and_try", counter.0.to_vec(), GAS);
    assert_eq!(r.outcome, Outcome::Success);
    let status = i64::from_le_bytes(r.return_data.try_into().unwrap());
    assert_eq!(status & 0xffff_ffff, 1, "revert status");
    assert_eq!(status >> 32, 7, "revert code");
    assert_eq!(
        r.write_set.len(),
        1,
        "only the proxy's own write survives: {:?}",
        r.write_set
    );
    assert!(r.events.is_empty(), "the callee's event was rolled back");

    let r = c.call(proxy, "keep_and_call", counter.0.to_vec(), GAS);
    // (the callee's revert fails the proxy's `call`: the receipt names the callee, whose
    // interface names the code, not the contract the transaction called)
    assert_eq!(
        r.outcome,
        Outcome::Revert {
            code: 7,
            data: b"no".to_vec(),
            contract: counter,
        }
    );
    assert!(r.write_set.is_empty());
}

/// A trap names the contract whose frame trapped, before the reason: through a proxy's
/// `call` the callee, not the proxy (a `try_call` of it gives the proxy the trap
/// status and goes on); a `call` that cannot start (no contract at the address) is a
/// trap of the proxy.
#[test]
fn a_trap_names_the_contract_that_trapped() {
    let mut c = Chain::new();
    let trapper = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1) (func (export "inc_then_revert") unreachable)"#,
    ));
    let proxy = c.deploy_ok(proxy());
    let unreachable = "wasm `unreachable` instruction executed";
    let r = c.call(trapper, "inc_then_revert", vec![], GAS);
    assert_eq!(r.outcome, trap_in(trapper, unreachable));
    let r = c.call(proxy, "keep_and_call", trapper.0.to_vec(), GAS);
    assert_eq!(r.outcome, trap_in(trapper, unreachable));
    assert!(r.write_set.is_empty());
    let r = c.call(proxy, "keep_and_try", trapper.0.to_vec(), GAS);
    assert_eq!(r.outcome, Outcome::Success);
    let status = i64::from_le_bytes(r.return_data.try_into().unwrap());
    assert_eq!(
        status & 0xffff_ffff,
        i64::from(supervm_vm::abi::STATUS_TRAP)
    );
    let nobody = Address([9; 32]);
    let r = c.call(proxy, "keep_and_call", nobody.0.to_vec(), GAS);
    match &r.outcome {
        Outcome::Trap { reason } => {
            let named = format!("in contract 0x{}: ", hex::encode(proxy.0));
            assert!(reason.starts_with(&named), "{reason}");
            assert!(reason.contains(&hex::encode(nobody.0)), "{reason}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn prefix_iteration_sees_own_writes_in_order() {
    let mut c = Chain::new();
    // `fill` writes keys a1, a3, b1; `scan` iterates prefix "a" and returns the keys found.
    let wasm = contract(
        &[
            "storage_set",
            "storage_remove",
            "storage_next",
            "return_data",
        ],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "a1a3b1a2")
        (func (export "fill")
          (call $storage_set (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 1))
          (call $storage_set (i32.const 2) (i32.const 2) (i32.const 0) (i32.const 1))
          (call $storage_set (i32.const 4) (i32.const 2) (i32.const 0) (i32.const 1)))
        (func (export "scan")
          (local $out i32) (local $len i64) (local $after i32) (local $after_len i32)
          ;; insert a2, delete a3 inside this transaction, then iterate "a"
          (call $storage_set (i32.const 6) (i32.const 2) (i32.const 0) (i32.const 1))
          (call $storage_remove (i32.const 2) (i32.const 2))
          (local.set $out (i32.const 100))
          (local.set $after_len (i32.const -1))
          (block $done (loop $next
            (local.set $len (call $storage_next (i32.const 0) (i32.const 1)
              (local.get $after) (local.get $after_len) (local.get $out) (i32.const 16)))
            (br_if $done (i64.lt_s (local.get $len) (i64.const 0)))
            (local.set $after (local.get $out))
            (local.set $after_len (i32.wrap_i64 (local.get $len)))
            (local.set $out (i32.add (local.get $out) (i32.wrap_i64 (local.get $len))))
            (br $next)))
          (call $return_data (i32.const 100) (i32.sub (local.get $out) (i32.const 100))))
        "#,
    );
    let addr = c.deploy_ok(wasm);
    assert!(c.call(addr, "fill", vec![], GAS).outcome.is_success());
    let r = c.call(addr, "scan", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.return_data, b"a1a2");
    assert!(
        !r.read_set.ranges.is_empty(),
        "range reads are recorded for validation"
    );
}

#[test]
fn constructor_runs_once_at_deploy() {
    let mut c = Chain::new();
    let wasm = contract(
        &[
            "storage_set",
            "storage_get",
            "input_read",
            "input_len",
            "return_data",
        ],
        r#"
        (memory (export "memory") 1)
        (data (i32.const 0) "owner")
        (func (export "__init")
          (call $input_read (i32.const 16))
          (call $storage_set (i32.const 0) (i32.const 5) (i32.const 16) (call $input_len)))
        (func (export "get")
          (drop (call $storage_get (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 64)))
          (call $return_data (i32.const 16) (i32.const 3)))
        "#,
    );
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Wasm(wasm.clone()),
            salt: [5; 32],
            init_args: b"bob".to_vec(),
        },
        GAS * 10,
    );
    assert!(r.outcome.is_success(), "{:?}", r.outcome);
    let addr = r.contract.unwrap();
    assert_eq!(
        addr,
        supervm_vm::contract_address(&c.sender, &[5; 32]),
        "address is known before deploy"
    );
    assert_eq!(c.call(addr, "get", vec![], GAS).return_data, b"bob");
    // Same deployer and salt again: the address is taken.
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Wasm(wasm),
            salt: [5; 32],
            init_args: vec![],
        },
        GAS * 10,
    );
    assert!(
        matches!(r.outcome, Outcome::Invalid { ref reason } if reason.contains("already exists"))
    );
}

/// A deploy whose constructor fails names no contract in its receipt (nothing was
/// created at the address), but keeps the code hash; the address stays free.
#[test]
fn a_failed_constructor_names_no_contract() {
    let mut c = Chain::new();
    let failing = contract(
        &[],
        r#"(memory (export "memory") 1) (func (export "__init") unreachable) (func (export "f"))"#,
    );
    let deploy = |c: &mut Chain, code: Vec<u8>| {
        c.run(
            Payload::Deploy {
                code: CodeSource::Wasm(code),
                salt: [9; 32],
                init_args: vec![],
            },
            GAS * 10,
        )
    };
    let r = deploy(&mut c, failing.clone());
    // (the trap names the address being deployed, where nothing was created)
    let would_be = supervm_vm::contract_address(&c.sender, &[9; 32]);
    assert_eq!(
        r.outcome,
        trap_in(would_be, "wasm `unreachable` instruction executed")
    );
    assert_eq!(r.contract, None);
    assert_eq!(r.code_hash, Some(supervm_vm::code_hash(&failing)));
    let ok = contract(&[], r#"(memory (export "memory") 1) (func (export "f"))"#);
    let r = deploy(&mut c, ok.clone());
    assert_eq!(r.contract, Some(would_be));
    // The same salt again: nothing is created, and the receipt still names the code and
    // gives the taken address in 0x form.
    let r = deploy(&mut c, ok.clone());
    assert_eq!(
        r.outcome,
        Outcome::Invalid {
            reason: format!("a contract already exists at 0x{}", hex::encode(would_be.0))
        }
    );
    assert_eq!(
        (r.contract, r.code_hash),
        (None, Some(supervm_vm::code_hash(&ok)))
    );
    // By the hash of code never uploaded: the receipt names the hash asked for.
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Hash([7; 32]),
            salt: [1; 32],
            init_args: vec![],
        },
        GAS * 10,
    );
    assert_eq!(
        r.outcome,
        Outcome::Invalid {
            reason: format!(
                "no code with hash 0x{} was uploaded",
                hex::encode([7u8; 32])
            )
        }
    );
    assert_eq!((r.contract, r.code_hash), (None, Some([7; 32])));
}

#[test]
fn code_is_stored_once_and_deployable_by_hash_and_upgradable_by_itself() {
    let mut c = Chain::new();
    let v2 = contract(
        &["return_data"],
        r#"(memory (export "memory") 1) (data (i32.const 0) "v2")
           (func (export "version") (call $return_data (i32.const 0) (i32.const 2)))"#,
    );
    let up = c.run(Payload::Upload { code: v2.clone() }, GAS * 10);
    assert!(up.outcome.is_success());
    // An upload pays its base (it compiles) and its bytes, and nothing else.
    use supervm_vm::gas;
    assert_eq!(
        up.gas_used,
        gas::TX_BASE + gas::UPLOAD_BASE + gas::PER_CODE_BYTE * v2.len() as u64
    );
    let v2_hash = up.code_hash.unwrap();
    assert_eq!(v2_hash, supervm_vm::code_hash(&v2));
    assert!(
        up.write_set.keys().any(|k| k.ends_with(&v2_hash)),
        "the first upload stores the code under its hash"
    );
    // Stored once: uploading the same code again succeeds and writes nothing.
    let again = c.run(Payload::Upload { code: v2.clone() }, GAS * 10);
    assert!(again.outcome.is_success(), "{:?}", again.outcome);
    assert_eq!(again.code_hash, Some(v2_hash));
    assert!(again.write_set.is_empty(), "{:?}", again.write_set);
    // v1 upgrades itself to the code whose hash is its input.
    let v1 = contract(
        &["return_data", "input_read", "upgrade"],
        r#"(memory (export "memory") 1) (data (i32.const 0) "v1")
           (func (export "version") (call $return_data (i32.const 0) (i32.const 2)))
           (func (export "upgrade") (call $input_read (i32.const 64)) (call $upgrade (i32.const 64)))"#,
    );
    let addr = c.deploy_ok(v1);
    assert_eq!(c.call(addr, "version", vec![], GAS).return_data, b"v1");
    assert!(
        c.call(addr, "upgrade", v2_hash.to_vec(), GAS)
            .outcome
            .is_success()
    );
    assert_eq!(c.call(addr, "version", vec![], GAS).return_data, b"v2");
    // A deploy by hash of unknown code is invalid.
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Hash([3; 32]),
            salt: [1; 32],
            init_args: vec![],
        },
        GAS,
    );
    assert!(matches!(r.outcome, Outcome::Invalid { .. }));
}

/// An upgrade made inside a callee that then fails is rolled back with the callee's
/// other writes: `try_call` of a function that upgrades its contract and traps leaves the
/// old code in place, while the same upgrade in a callee that returns takes effect.
#[test]
fn an_upgrade_in_a_failed_try_call_is_rolled_back() {
    let mut c = Chain::new();
    let version = |v: &str| {
        format!(
            r#"(memory (export "memory") 1) (data (i32.const 0) "{v}")
               (func (export "version") (call $return_data (i32.const 0) (i32.const 2)))
               (func (export "up") (call $input_read (i32.const 64)) (call $upgrade (i32.const 64)))
               (func (export "up_and_trap") (call $input_read (i32.const 64)) (call $upgrade (i32.const 64)) unreachable)"#
        )
    };
    let uses = ["return_data", "input_read", "upgrade"];
    let v2 = contract(&uses, &version("v2"));
    let up = c.run(Payload::Upload { code: v2 }, GAS * 10);
    let v2_hash = up.code_hash.expect("uploaded");
    let target = c.deploy_ok(contract(&uses, &version("v1")));
    // The caller's input: the target's address, the function name's length (one byte),
    // the name, then the 32-byte code hash passed on as the callee's arguments.
    let caller = c.deploy_ok(contract(
        &["input_read", "input_len", "try_call", "return_data"],
        r#"(memory (export "memory") 1)
           (func (export "go") (local $n i32) (local $status i64)
             (call $input_read (i32.const 0))
             (local.set $n (i32.load8_u (i32.const 32)))
             (local.set $status
               (call $try_call (i32.const 0) (i32.const 33) (local.get $n)
                 (i32.add (i32.const 33) (local.get $n)) (i32.const 32) (i64.const 0)))
             (i64.store (i32.const 1024) (local.get $status))
             (call $return_data (i32.const 1024) (i32.const 8)))"#,
    ));
    let go = |c: &mut Chain, function: &str| {
        let mut input = target.0.to_vec();
        input.push(function.len() as u8);
        input.extend_from_slice(function.as_bytes());
        input.extend_from_slice(&v2_hash);
        let r = c.call(caller, "go", input, GAS);
        assert_eq!(r.outcome, Outcome::Success, "{function}: {:?}", r.outcome);
        u64::from_le_bytes(r.return_data[..8].try_into().unwrap()) & 0xffff_ffff
    };
    assert_eq!(go(&mut c, "up_and_trap"), 3, "the callee trapped");
    assert_eq!(c.call_ok(target, "version", GAS), b"v1");
    assert_eq!(go(&mut c, "up"), 0, "the callee returned");
    assert_eq!(c.call_ok(target, "version", GAS), b"v2");
}

#[test]
fn floats_are_deterministic_nan_is_canonical() {
    let mut c = Chain::new();
    let wasm = contract(
        &["return_data"],
        r#"(memory (export "memory") 1)
           (func (export "nan")
             (i32.store (i32.const 0)
               (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))))
             (i64.store (i32.const 4)
               (i64.reinterpret_f64 (f64.sqrt (f64.const -1))))
             (call $return_data (i32.const 0) (i32.const 12)))"#,
    );
    let addr = c.deploy_ok(wasm);
    let d = c.call(addr, "nan", vec![], GAS).return_data;
    assert_eq!(u32::from_le_bytes(d[0..4].try_into().unwrap()), 0x7fc0_0000);
    assert_eq!(
        u64::from_le_bytes(d[4..12].try_into().unwrap()),
        0x7ff8_0000_0000_0000
    );
}

#[test]
fn disk_module_cache_survives_a_restart_and_changes_nothing() {
    let (mut c, dir, cfg) = chain_with_disk_cache("cache-test");
    let addr = c.deploy_ok(counter());
    c.call(addr, "inc", vec![], GAS);
    let first = c.call(addr, "inc", vec![], GAS);
    let files: Vec<_> = walk(&dir);
    assert!(
        files.iter().any(|f| f.ends_with(".cwasm")),
        "a compiled module was written: {files:?}"
    );
    // An older engine's cache (another 16-hex-digit directory) and unrelated entries.
    let stale = dir.join("00000000deadbeef");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("x.cwasm"), b"old").unwrap();
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    // Look-alikes that are not caches: uppercase, or holding other files.
    std::fs::create_dir_all(dir.join("00000000DEADBEEF")).unwrap();
    let mixed = dir.join("00000000cafef00d");
    std::fs::create_dir_all(&mixed).unwrap();
    std::fs::write(mixed.join("x.cwasm"), b"old").unwrap();
    std::fs::write(mixed.join("readme.txt"), b"mine").unwrap();
    // Temporaries a crash left beside the current cache's modules: an old one, and one
    // a compile in another process might still be writing.
    let current = std::path::Path::new(
        files
            .iter()
            .find(|f| f.ends_with(".cwasm"))
            .expect("a module file"),
    )
    .parent()
    .unwrap()
    .to_path_buf();
    let crashed = current.join("ab.123-0.tmp");
    let writing = current.join("cd.456-0.tmp");
    for f in [&crashed, &writing] {
        std::fs::write(f, b"partial").unwrap();
    }
    #[allow(clippy::disallowed_methods)] // a file time an hour back
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&crashed)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    // A second contract whose module file is damaged on disk (one byte of its machine
    // code flipped): loaded after the restart, it is found out by its digest and
    // compiled again, not run as it is.
    let tag_addr = c.deploy_ok(tagged("damaged on disk"));
    let tag_gas = c.call(tag_addr, "tag", vec![], GAS).gas_used;
    let damaged = current.join(format!(
        "{}.cwasm",
        hex_of(&supervm_vm::code_hash(&tagged("damaged on disk")))
    ));
    let mut bytes = std::fs::read(&damaged).expect("the second module's file");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&damaged, &bytes).unwrap();
    // "Restart": a new VM over the same state and cache dir.
    c.vm = Vm::new(cfg).unwrap();
    assert!(!crashed.exists(), "a stale temporary is deleted at start");
    assert!(writing.exists(), "a fresh temporary is left to its writer");
    let second = c.call(addr, "inc", vec![], GAS);
    assert_eq!(first.gas_used, second.gas_used);
    assert_eq!(second.return_data, 3u64.to_le_bytes());
    assert_eq!(
        c.vm.compiled_modules(),
        0,
        "the module came from disk, not from the compiler"
    );
    let r = c.call(tag_addr, "tag", vec![], GAS);
    assert_eq!(r.return_data, b"damaged on disk");
    assert_eq!(r.gas_used, tag_gas);
    assert_eq!(
        c.vm.compiled_modules(),
        1,
        "the damaged module was compiled again"
    );
    assert_ne!(
        std::fs::read(&damaged).unwrap(),
        bytes,
        "and its file rewritten"
    );
    // Loaded from disk without validating again, the module has the same entry points
    // (a missing one is refused alike) and recycles its instances alike.
    let missing = c.call(addr, "no_such_entry", vec![], GAS);
    assert!(
        format!("{:?}", missing.outcome).contains("no entry point"),
        "{:?}",
        missing.outcome
    );
    for n in 4..8u64 {
        assert_eq!(
            c.call(addr, "inc", vec![], GAS).return_data,
            n.to_le_bytes()
        );
    }
    assert!(
        !stale.exists(),
        "another engine's cache is deleted at start"
    );
    assert!(dir.join("notes").exists(), "other entries are left alone");
    assert!(dir.join("00000000DEADBEEF").exists() && mixed.join("readme.txt").exists());
    assert!(
        walk(&dir).iter().any(|f| f.ends_with(".cwasm")),
        "the current engine's cache is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A chain whose VM keeps its module cache in a fresh directory (`supervm-<name>-<pid>`
/// under the temporary directory, emptied first); the directory and the VM's config.
fn chain_with_disk_cache(name: &str) -> (Chain, std::path::PathBuf, VmConfig) {
    let dir = std::env::temp_dir().join(format!("supervm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = VmConfig {
        module_cache_dir: Some(dir.clone()),
        ..Default::default()
    };
    let mut c = Chain::new();
    c.vm = Vm::new(cfg.clone()).unwrap();
    (c, dir, cfg)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Guards against: code stored without ever compiling. `upgrade` only checks that code
/// is stored, so code the engine refuses would fail its first call as the machine's
/// failure (an `Err`, the block fails) instead of failing its upload as a receipt.
/// Upload compiles (into the cache), so stored code has compiled once.
#[test]
fn upload_compiles_the_code_it_stores() {
    let (mut c, dir, _) = chain_with_disk_cache("upload-compiles");
    let code = tagged("uploaded");
    let up = c.run(Payload::Upload { code: code.clone() }, GAS * 10);
    assert!(up.outcome.is_success(), "{:?}", up.outcome);
    assert_eq!(c.vm.compiled_modules(), 1, "the upload compiled its code");
    let file = format!("{}.cwasm", hex_of(&supervm_vm::code_hash(&code)));
    assert!(walk(&dir).iter().any(|f| f.ends_with(&file)));
    // Deploying it by hash takes the compiled module: nothing compiles again.
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Hash(supervm_vm::code_hash(&code)),
            salt: [4; 32],
            init_args: vec![],
        },
        GAS * 10,
    );
    assert!(r.outcome.is_success(), "{:?}", r.outcome);
    assert_eq!(c.vm.compiled_modules(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Guards against: a call whose module is on disk but not in memory reading its whole
/// code from state first (up to `max_code_size` bytes, unpaid), only to load the module
/// from disk. The code is read only when the module must be compiled.
#[test]
fn a_module_on_disk_loads_without_reading_its_code() {
    struct Counting<'a> {
        inner: &'a supervm_vm::InMemoryState,
        code_reads: std::sync::atomic::AtomicUsize,
    }
    impl StateView for Counting<'_> {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, supervm_vm::StateError> {
            if key.first() == Some(&supervm_vm::state::PREFIX_CODE) {
                self.code_reads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.inner.get(key)
        }
        fn next_key(
            &self,
            prefix: &[u8],
            after: Option<&[u8]>,
        ) -> Result<Option<Vec<u8>>, supervm_vm::StateError> {
            self.inner.next_key(prefix, after)
        }
    }
    let (mut c, dir, cfg) = chain_with_disk_cache("no-code-read");
    let addr = c.deploy_ok(tagged("on disk"));
    let call = supervm_vm::Transaction {
        sender: c.sender,
        gas_limit: GAS,
        payload: Payload::Call {
            contract: addr,
            function: "tag".into(),
            args: vec![],
        },
    };
    let run = |vm: &Vm| {
        let view = Counting {
            inner: &c.state,
            code_reads: Default::default(),
        };
        let r = vm.execute(&view, &c.block, &call).unwrap();
        assert_eq!(r.return_data, b"on disk");
        (view.code_reads.into_inner(), r)
    };
    // A new VM over the same disk cache: the module comes from disk, the code unread.
    let (reads, from_disk) = run(&Vm::new(cfg).unwrap());
    assert_eq!(reads, 0, "the code was read although its module is on disk");
    // Without a disk cache it is compiled from the code read from state, same receipt.
    let (reads, compiled) = run(&Vm::new(VmConfig::default()).unwrap());
    assert_eq!(reads, 1);
    assert_eq!(from_disk, compiled);
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn crypto_host_functions_match_reference_implementations() {
    use ed25519_dalek::{Signer, SigningKey};
    use sha2::Digest;
    let mut c = Chain::new();
    // Input: pk (32) ‖ sig (64) ‖ msg (rest). Output: blake3(msg) ‖ sha256(msg) ‖ verify as i32.
    let wasm = contract(
        &[
            "input_read",
            "input_len",
            "blake3",
            "sha256",
            "ed25519_verify",
            "return_data",
        ],
        r#"(memory (export "memory") 1)
           (func (export "crypto")
             (local $n i32)
             (call $input_read (i32.const 0))
             (local.set $n (i32.sub (call $input_len) (i32.const 96)))
             (call $blake3 (i32.const 96) (local.get $n) (i32.const 4096))
             (call $sha256 (i32.const 96) (local.get $n) (i32.const 4128))
             (i32.store (i32.const 4160)
               (call $ed25519_verify (i32.const 0) (i32.const 96) (local.get $n) (i32.const 32)))
             (call $return_data (i32.const 4096) (i32.const 68)))"#,
    );
    let a = c.deploy_ok(wasm);
    let key = SigningKey::from_bytes(&[7; 32]);
    let msg = b"supervm crypto test message";
    let sig = key.sign(msg).to_bytes();
    let input = |sig: &[u8; 64]| [key.verifying_key().to_bytes().as_slice(), sig, msg].concat();
    let r = c.call(a, "crypto", input(&sig), GAS);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(&r.return_data[0..32], blake3::hash(msg).as_bytes());
    assert_eq!(&r.return_data[32..64], sha2::Sha256::digest(msg).as_slice());
    assert_eq!(&r.return_data[64..68], 1i32.to_le_bytes());
    let mut bad = sig;
    bad[0] ^= 1;
    let r = c.call(a, "crypto", input(&bad), GAS);
    assert_eq!(
        &r.return_data[64..68],
        0i32.to_le_bytes(),
        "a tampered signature fails"
    );
}

/// A contract returning `tag`: a different code (hash) for every tag.
fn tagged(tag: &str) -> Vec<u8> {
    contract(
        &["return_data"],
        &format!(
            r#"(memory (export "memory") 1) (data (i32.const 0) "{tag}")
            (func (export "tag") (call $return_data (i32.const 0) (i32.const {})))"#,
            tag.len()
        ),
    )
}

/// Guards against: a disk cache of compiled modules that grows with every code ever
/// uploaded. Over its byte limit the least recently used modules are deleted; a call
/// of a deleted one compiles it again and behaves the same.
#[test]
fn disk_module_cache_stays_under_its_byte_limit() {
    let dir = std::env::temp_dir().join(format!("supervm-cache-trim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let size_of_cache = |dir: &std::path::Path| -> (usize, u64) {
        let files: Vec<_> = walk(dir)
            .into_iter()
            .filter(|f| f.ends_with(".cwasm"))
            .collect();
        let bytes = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        (files.len(), bytes)
    };
    // One module's size, to set a limit of four and a half modules (trimmed to three).
    let mut c = Chain::new();
    c.vm = Vm::new(VmConfig {
        module_cache_dir: Some(dir.join("probe")),
        ..Default::default()
    })
    .unwrap();
    c.deploy_ok(tagged("probe"));
    let (n, one) = size_of_cache(&dir.join("probe"));
    assert_eq!(n, 1);
    let limit = one * 9 / 2;
    let cfg = VmConfig {
        module_cache_dir: Some(dir.join("trimmed")),
        module_cache_bytes: limit,
        ..Default::default()
    };
    c.vm = Vm::new(cfg.clone()).unwrap();
    let mut deployed: Vec<(Address, String)> = vec![];
    for i in 0..9 {
        let tag = format!("contract number {i}");
        deployed.push((c.deploy_ok(tagged(&tag)), tag));
        let (n, bytes) = size_of_cache(&dir.join("trimmed"));
        assert!(bytes <= limit, "{n} modules, {bytes} bytes over {limit}");
        let sums = walk(&dir.join("trimmed"))
            .iter()
            .filter(|f| f.ends_with(".sum"))
            .count();
        assert_eq!(sums, n, "each module's digest is deleted with it");
        assert!(n >= 1, "the newest module stays");
        // The first contract is called all along, from the memory cache: its file is
        // the most recently used one at every trim and stays.
        c.call(deployed[0].0, "tag", vec![], GAS);
        std::thread::sleep(std::time::Duration::from_millis(20)); // (file times' granularity)
    }
    let hot: String = supervm_vm::code_hash(&tagged("contract number 0"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        walk(&dir.join("trimmed")).iter().any(|f| f.contains(&hot)),
        "the module in use was trimmed from the disk cache"
    );
    // Every contract still runs, compiled again where its module was deleted, in a new
    // VM (nothing in memory) and with the same gas as before.
    let before: Vec<_> = deployed
        .iter()
        .map(|(a, _)| c.call(*a, "tag", vec![], GAS).gas_used)
        .collect();
    c.vm = Vm::new(cfg).unwrap();
    for ((a, tag), gas) in deployed.iter().zip(before) {
        let r = c.call(*a, "tag", vec![], GAS);
        assert_eq!(r.return_data, tag.as_bytes());
        assert_eq!(r.gas_used, gas);
    }
    let (_, bytes) = size_of_cache(&dir.join("trimmed"));
    assert!(bytes <= limit);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Guards against: a contract record naming code that is not stored failing the
/// whole block with an engine error. No consistent state has one (code is never
/// deleted), but a speculative execution of the parallel scheduler can read one; the
/// call must fail like a call of a missing contract, with the code read recorded so
/// that validation re-executes the transaction.
#[test]
fn a_record_naming_missing_code_fails_the_call_not_the_block() {
    let mut c = Chain::new();
    let addr = c.deploy_ok(counter());
    let rec = c
        .state
        .get(&supervm_vm::state::contract_key(&addr))
        .unwrap()
        .unwrap();
    let hash: [u8; 32] = supervm_vm::state::ContractRecord::decode(&rec)
        .unwrap()
        .code_hash;
    let code_key = supervm_vm::state::code_key(&hash);
    let mut gone = supervm_vm::WriteSet::new();
    gone.insert(code_key.clone(), None);
    c.state.apply(&gone);
    c.vm.clear_module_cache();
    let r = c.call(addr, "inc", vec![], GAS);
    match &r.outcome {
        Outcome::Trap { reason } | Outcome::Invalid { reason } => {
            assert!(reason.contains("not stored"), "{reason}")
        }
        other => panic!("expected a failed call, got {other:?}"),
    }
    assert!(
        r.read_set.keys.iter().any(|k| k.key == code_key),
        "the code read is in the read set"
    );
}

/// A deploy by hash records that the code is stored, not the code: the read sets of a
/// block's transactions are held until the block is done, and a deploy of 512 KiB of
/// uploaded code for about 22,000 gas kept all of it there.
#[test]
fn a_deploy_by_hash_records_the_codes_presence_not_its_bytes() {
    use supervm_vm::{CodeRead, CodeSource};
    let mut c = Chain::new();
    let code = counter();
    let up = c.run(Payload::Upload { code: code.clone() }, GAS);
    assert_eq!(up.outcome, Outcome::Success);
    let hash = supervm_vm::code_hash(&code);
    let key = supervm_vm::state::code_key(&hash);
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Hash(hash),
            salt: [3; 32],
            init_args: vec![],
        },
        GAS,
    );
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        r.read_set.codes,
        [CodeRead {
            key: key.clone(),
            len: Some(code.len())
        }]
    );
    assert!(r.read_set.keys.iter().all(|k| k.key != key));
    let missing = c.run(
        Payload::Deploy {
            code: CodeSource::Hash([9; 32]),
            salt: [4; 32],
            init_args: vec![],
        },
        GAS,
    );
    assert!(matches!(missing.outcome, Outcome::Invalid { .. }));
    assert_eq!(missing.read_set.codes[0].len, None);
}

/// Every trap an MVP module can raise has the VM's own fixed reason, whatever wasmtime
/// calls it: receipts are committed in a block's receipts root, so a wasmtime upgrade
/// must not be able to reword one.
#[test]
fn every_wasm_trap_kind_has_a_fixed_reason() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1)
        (type $v (func))
        (table 3 3 funcref)
        (elem (i32.const 0) $v_fn)
        (func $v_fn)
        (func $i (param i32) (result i32) (local.get 0))
        (elem (i32.const 1) $i)
        (func (export "oob") (drop (i32.load (i32.const 70000))))
        (func (export "table_oob") (call_indirect (type $v) (i32.const 5)))
        (func (export "bad_sig") (call_indirect (type $v) (i32.const 1)))
        (func (export "null_elem") (call_indirect (type $v) (i32.const 2)))
        (func (export "div0") (drop (i32.div_u (i32.const 1) (i32.const 0))))
        (func (export "overflow") (drop (i32.div_s (i32.const -2147483648) (i32.const -1))))
        (func (export "bad_conv") (drop (i32.trunc_f32_s (f32.const nan))))
        (func (export "unreachable") unreachable)"#,
    ));
    let expected = [
        ("oob", "out of bounds memory access"),
        ("table_oob", "undefined element: out of bounds table access"),
        ("bad_sig", "indirect call type mismatch"),
        ("null_elem", "uninitialized element"),
        ("div0", "integer divide by zero"),
        ("overflow", "integer overflow"),
        ("bad_conv", "invalid conversion to integer"),
        ("unreachable", "wasm `unreachable` instruction executed"),
    ];
    for (function, reason) in expected {
        let r = c.call(a, function, vec![], 10_000_000);
        assert_eq!(r.outcome, trap_in(a, reason), "{function}");
    }
}

/// A dependency's wording of why code is malformed is shown in the receipt but not
/// committed: two receipts that differ only in that text hash the same, and differ
/// from a receipt with another rejection class.
#[test]
fn foreign_rejection_text_is_shown_but_not_committed() {
    let mut c = Chain::new();
    let r = c.run(
        Payload::Upload {
            code: b"\0asm\x01\0\0\0\x7f".to_vec(),
        },
        1_000_000,
    );
    let Outcome::Invalid { reason } = &r.outcome else {
        panic!("expected invalid, got {:?}", r.outcome)
    };
    assert!(
        reason.starts_with("code rejected: invalid wasm: ") && reason.len() > 29,
        "{reason}"
    );
    let mut reworded = r.clone();
    reworded.outcome = Outcome::Invalid {
        reason: "code rejected: invalid wasm: some other wording".into(),
    };
    assert_eq!(reworded.hash(), r.hash());
    let mut other_class = r.clone();
    other_class.outcome = Outcome::Invalid {
        reason: "code rejected: module has a start function".into(),
    };
    assert_ne!(other_class.hash(), r.hash());

    // serde_json's wording of a malformed interface section: the same.
    let bad_interface = crate::util::with_custom(
        contract(&[], r#"(memory (export "memory") 1) (func (export "f"))"#),
        supervm_vm::abi::INTERFACE_SECTION,
        b"{not json",
    );
    let r = c.run(
        Payload::Upload {
            code: bad_interface,
        },
        1_000_000,
    );
    let Outcome::Invalid { reason } = &r.outcome else {
        panic!("expected invalid, got {:?}", r.outcome)
    };
    let marker = "interface section is invalid: ";
    let at = reason.find(marker).unwrap_or_else(|| panic!("{reason}")) + marker.len();
    assert!(reason.len() > at, "{reason}");
    let mut reworded = r.clone();
    reworded.outcome = Outcome::Invalid {
        reason: format!("{}other wording", &reason[..at]),
    };
    assert_eq!(reworded.hash(), r.hash());

    // A trap carrying a dependency's text mid-reason (a nested call of code that no
    // longer validates): committed up to the marker too.
    let trap = |detail: &str| {
        let mut t = r.clone();
        t.outcome = Outcome::Trap {
            reason: format!(
                "the code of the contract at 0x01 no longer passes validation: invalid wasm: {detail}"
            ),
        };
        t.hash()
    };
    assert_eq!(trap("one wording"), trap("another"));
}

/// Active segments must lie within the memory and table a module starts with: one
/// outside would trap every instantiation after copying the segments before it, work
/// no call pays for. Such code is refused at upload; segments ending exactly at the
/// edge are fine. (An offset that is not an `i32.const` is refused too, but cannot be
/// written: contracts import no globals.)
#[test]
fn segments_outside_the_initial_memory_or_table_are_refused() {
    let mut c = Chain::new();
    for (body, needle) in [
        (
            r#"(memory (export "memory") 1)
            (data (i32.const 65536) "x")
            (func (export "f"))"#,
            "data segment (1 at offset 65536) lies outside the initial memory bytes (65536)",
        ),
        (
            r#"(memory (export "memory") 1)
            (data (i32.const -1) "x")
            (func (export "f"))"#,
            "at offset 4294967295",
        ),
        (
            r#"(memory (export "memory") 1)
            (table 1 1 funcref)
            (func $g)
            (elem (i32.const 1) $g)
            (func (export "f"))"#,
            "element segment (1 at offset 1) lies outside the initial table elements (1)",
        ),
    ] {
        let r = c.run(
            Payload::Upload {
                code: contract(&[], body),
            },
            10_000_000,
        );
        match &r.outcome {
            Outcome::Invalid { reason } => assert!(reason.contains(needle), "{reason}"),
            other => panic!("expected an invalid upload, got {other:?}"),
        }
    }
    let a = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1)
        (data (i32.const 65535) "x")
        (table 2 2 funcref)
        (func $g)
        (elem (i32.const 1) $g)
        (func (export "f") (drop (i32.load8_u (i32.const 65535))))"#,
    ));
    let r = c.call(a, "f", vec![], 10_000_000);
    assert_eq!(r.outcome, Outcome::Success);
}

/// A frame whose gas does not cover its memory ends out of gas without an instance
/// taken or made: a recycled instance of the callee stays in the pool (it was taken
/// and dropped, so a caller could destroy or create instances of a large contract
/// for a fraction of their memory's price).
#[test]
fn a_frame_that_cannot_pay_its_memory_takes_no_instance() {
    let mut c = Chain::new();
    let big = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 64)
        (func (export "f"))"#,
    ));
    // 63 pages past the first: 252,000 gas of memory.
    let r = c.call(big, "f", vec![], 10_000_000);
    assert_eq!(r.outcome, Outcome::Success);
    let idle = c.vm.idle_instances();
    assert!(idle >= 1, "the call's instance was recycled");
    let r = c.call(big, "f", vec![], 100_000);
    assert_eq!(r.outcome, Outcome::OutOfGas);
    assert_eq!(r.gas_used, 100_000);
    assert_eq!(c.vm.idle_instances(), idle, "no instance was taken");
    let r = c.call(big, "f", vec![], 10_000_000);
    assert_eq!(r.outcome, Outcome::Success);
}
