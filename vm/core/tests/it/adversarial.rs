//! The adversarial corpus: every case is rejected at deploy or trapped
//! deterministically within its gas, and the process is unharmed (later
//! transactions on the same VM still work).

use supervm_vm::abi::{HOST_FNS, limits};
use supervm_vm::{CodeError, Limits, Outcome};
use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
    MemorySection, MemoryType, Module, TableSection, TableType, TypeSection, ValType,
};

use crate::util::{Chain, contract, import, trap_in, with_abi};

const GAS: u64 = 50_000_000;

fn rejected(c: &mut Chain, wasm: Vec<u8>, needle: &str) {
    let r = c.deploy(wasm);
    match &r.outcome {
        Outcome::Invalid { reason } => {
            assert!(reason.contains(needle), "expected '{needle}' in '{reason}'")
        }
        other => panic!("expected rejection naming '{needle}', got {other:?}"),
    }
    assert!(r.write_set.is_empty());
}

fn still_healthy(c: &mut Chain) {
    let wasm = contract(
        &["return_data"],
        r#"(memory (export "memory") 1) (data (i32.const 0) "ok")
        (func (export "ping") (call $return_data (i32.const 0) (i32.const 2)))"#,
    );
    let a = c.deploy_ok(wasm);
    assert_eq!(c.call(a, "ping", vec![], GAS).return_data, b"ok");
}

/// A module with one memory exported and whatever `extra` adds.
fn module(extra: impl FnOnce(&mut Module)) -> Vec<u8> {
    let mut m = Module::new();
    extra(&mut m);
    with_abi(m.finish())
}

#[test]
fn infinite_loop_runs_out_of_gas_exactly_at_the_limit() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1)
        (func (export "spin") (loop $l (br $l)))"#,
    ));
    for _ in 0..3 {
        let r = c.call(a, "spin", vec![], 1_000_000);
        assert_eq!((r.outcome, r.gas_used), (Outcome::OutOfGas, 1_000_000));
    }
    still_healthy(&mut c);
}

#[test]
fn memory_grows_to_the_cap_and_no_further() {
    let mut c = Chain::new();
    let cap = Limits::default().max_memory_pages;
    // Grows to exactly the cap (ok), then by one more page (fails with -1), returns both results.
    let a = c.deploy_ok(contract(
        &["return_data"],
        &format!(
            r#"(memory (export "memory") 1)
        (func (export "grow")
          (i32.store (i32.const 0) (memory.grow (i32.const {})))
          (i32.store (i32.const 4) (memory.grow (i32.const 1)))
          (call $return_data (i32.const 0) (i32.const 8)))"#,
            cap - 1
        ),
    ));
    let r = c.call(a, "grow", vec![], GAS);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        i32::from_le_bytes(r.return_data[0..4].try_into().unwrap()),
        1,
        "old size"
    );
    assert_eq!(
        i32::from_le_bytes(r.return_data[4..8].try_into().unwrap()),
        -1,
        "past the cap"
    );
    // A module asking for more initial memory than the cap is rejected at deploy.
    rejected(
        &mut c,
        contract(&[], &format!(r#"(memory (export "memory") {})"#, cap + 1)),
        "max_memory_pages",
    );
    still_healthy(&mut c);
}

#[test]
fn deep_recursion_hits_the_deterministic_stack_budget() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1)
        (func $r (param i32) (result i32) (call $r (i32.add (local.get 0) (i32.const 1))))
        (func (export "recurse") (drop (call $r (i32.const 0))))"#,
    ));
    let first = c.call(a, "recurse", vec![], GAS);
    assert_eq!(first.outcome, trap_in(a, "call stack budget exhausted"));
    for _ in 0..3 {
        let again = c.call(a, "recurse", vec![], GAS);
        assert_eq!(
            (again.outcome, again.gas_used),
            (first.outcome.clone(), first.gas_used)
        );
    }
    still_healthy(&mut c);
}

/// Guards against: a function whose wasm locals and operand stack are tiny but whose
/// compiled frame is large (many values computed before a recursive call and used after
/// it, which Cranelift keeps live across the call in spill slots) reaching wasmtime's
/// native stack limit before the deterministic budget: how deep that is depends on
/// the compiler, its version and the CPU, so receipts would differ between nodes. The
/// budget must trip first, with a wide margin (a review predicted such frames from
/// Cranelift's value numbering; measured, the compiled frames stay small).
#[test]
fn large_compiled_frames_hit_the_budget_not_the_native_stack() {
    let mut c = Chain::new();
    let n = 3000;
    let products: String = (0..n)
        .map(|k| {
            format!(
                "(i32.store (i32.const 0) (i32.mul (local.get 0) (i32.const {})))",
                2 * k + 3
            )
        })
        .collect();
    let wasm = contract(
        &[],
        &format!(
            r#"(memory (export "memory") 1)
            (func $f (param i32)
              {products}
              (call $f (i32.add (local.get 0) (i32.const 1)))
              {products})
            (func (export "recurse") (call $f (i32.const 1)))"#
        ),
    );
    let a = c.deploy_ok(wasm.clone());
    let mut budget_gas = 0;
    for _ in 0..2 {
        let r = c.call(a, "recurse", vec![], GAS);
        assert_eq!(r.outcome, trap_in(a, "call stack budget exhausted"));
        budget_gas = r.gas_used;
    }
    // With the budget out of reach the native limit is hit, and (every frame running
    // the same instructions) only far deeper: here about 36 times (Cranelift keeps the
    // products out of the frame). A compiler that kept them would shrink the margin.
    c.vm = budget_out_of_reach();
    let b = c.deploy_ok(wasm);
    let r = c.call(b, "recurse", vec![], GAS * 40);
    assert!(
        r.outcome == trap_in(b, "call stack exhausted"),
        "{:?}",
        r.outcome
    );
    assert!(
        r.gas_used > 4 * budget_gas,
        "the native limit came at {} gas, the budget at {budget_gas}",
        r.gas_used
    );
    still_healthy(&mut c);
}

/// A VM whose stack budget is out of reach: only wasmtime's native limit stops recursion.
fn budget_out_of_reach() -> supervm_vm::Vm {
    supervm_vm::Vm::new(supervm_vm::VmConfig {
        limits: Limits {
            stack_budget: 1 << 30,
            ..Limits::default()
        },
        ..Default::default()
    })
    .unwrap()
}

/// wasmtime's native stack limit stays as a backstop behind the deterministic budget.
/// With the budget set out of reach, recursion hits the backstop instead: a trap like
/// any other (its depth varies between builds, which is why the budget exists), the
/// native stack intact, and the VM still working.
#[test]
fn the_native_stack_limit_is_a_backstop_that_traps_cleanly() {
    let mut c = Chain::new();
    c.vm = budget_out_of_reach();
    let a = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1)
        (func $r (param i32) (result i32) (call $r (i32.add (local.get 0) (i32.const 1))))
        (func (export "recurse") (drop (call $r (i32.const 0))))"#,
    ));
    for _ in 0..3 {
        let r = c.call(a, "recurse", vec![], GAS);
        match &r.outcome {
            Outcome::Trap { reason } => assert!(
                reason.contains("stack") && !reason.contains("budget"),
                "the budget was set out of reach, yet: {reason}"
            ),
            other => panic!("expected the backstop's trap, got {other:?}"),
        }
        assert!(
            r.gas_used < GAS,
            "the backstop fired before the gas ran out"
        );
    }
    still_healthy(&mut c);
}

#[test]
fn huge_tables_are_rejected() {
    let mut c = Chain::new();
    let wasm = module(|m| {
        let mut t = TableSection::new();
        t.table(TableType {
            element_type: wasm_encoder::RefType::FUNCREF,
            table64: false,
            minimum: 1_000_000,
            maximum: Some(1_000_000),
            shared: false,
        });
        let mut mem = MemorySection::new();
        mem.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut e = ExportSection::new();
        e.export("memory", ExportKind::Memory, 0);
        m.section(&t).section(&mem).section(&e);
    });
    rejected(&mut c, wasm, "max_table_elements");
    // A table without a maximum is rejected too: it could grow without bound.
    rejected(
        &mut c,
        contract(&[], r#"(memory (export "memory") 1) (table 1 funcref)"#),
        "max_table_elements",
    );
}

#[test]
fn ten_thousand_params_are_rejected() {
    let mut c = Chain::new();
    let params = vec!["i32"; 10_000].join(" ");
    rejected(
        &mut c,
        contract(
            &[],
            &format!(r#"(memory (export "memory") 1) (func (param {params}))"#),
        ),
        "max_params",
    );
}

#[test]
fn a_hundred_thousand_functions_are_rejected_before_compiling() {
    let mut c = Chain::new();
    rejected(&mut c, functions(100_000, 0, |_| {}), "max_functions");
    still_healthy(&mut c);
}

/// A module of `n` functions `() -> ()` with `locals` `i32` locals and `body` each;
/// the first is exported as `go`.
fn functions(n: u32, locals: u32, body: impl Fn(&mut Function)) -> Vec<u8> {
    module(|m| {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        for _ in 0..n {
            funcs.function(0);
            let mut f = Function::new((locals > 0).then_some((locals, ValType::I32)));
            body(&mut f);
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        let mut mem = MemorySection::new();
        mem.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut e = ExportSection::new();
        e.export("memory", ExportKind::Memory, 0);
        e.export("go", ExportKind::Func, 0);
        m.section(&types)
            .section(&funcs)
            .section(&mem)
            .section(&e)
            .section(&code);
    })
}

/// A module whose one exported function `go` (with an `i32` local) has `body`.
fn one_function(body: impl Fn(&mut Function)) -> Vec<u8> {
    functions(1, 1, body)
}

/// `n` loops one after the other, each branching back while local 0 is non-zero.
fn loops(f: &mut Function, n: u32) {
    for _ in 0..n {
        f.instruction(&Instruction::Loop(BlockType::Empty))
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::BrIf(0))
            .instruction(&Instruction::End);
    }
}

/// `n` `if`s nested in each other.
fn nested_ifs(f: &mut Function, n: u32) {
    for _ in 0..n {
        f.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::If(BlockType::Empty));
    }
    for _ in 0..n {
        f.instruction(&Instruction::End);
    }
}

/// Shapes whose compile time grows faster than their size (measured here: 20,000
/// nested loops in 60 KB took 4.9 s to compile, 20,000 nested `if`s 3.6 s) are
/// rejected by validation, before any compiling; the largest function the limits
/// allow still deploys and runs.
#[test]
fn compile_bombs_are_rejected_before_compiling() {
    let mut c = Chain::new();
    let l = Limits::default();
    rejected(
        &mut c,
        one_function(|f| loops(f, l.max_loops_per_function + 1)),
        "max_loops_per_function",
    );
    rejected(
        &mut c,
        one_function(|f| loops(f, 10_000)),
        "max_loops_per_function",
    );
    rejected(
        &mut c,
        one_function(|f| nested_ifs(f, 20_000)),
        "max_blocks_per_function",
    );
    rejected(
        &mut c,
        one_function(|f| {
            for _ in 0..=l.max_blocks_per_function {
                f.instruction(&Instruction::Block(BlockType::Empty))
                    .instruction(&Instruction::End);
            }
        }),
        "max_blocks_per_function",
    );
    // Each `return` gets a fuel-checking loop from the instrumentation: it counts.
    rejected(
        &mut c,
        one_function(|f| {
            for _ in 0..=l.max_loops_per_function {
                f.instruction(&Instruction::LocalGet(0))
                    .instruction(&Instruction::If(BlockType::Empty))
                    .instruction(&Instruction::Return)
                    .instruction(&Instruction::End);
            }
        }),
        "max_loops_per_function",
    );
    rejected(
        &mut c,
        one_function(|f| {
            for _ in 0..20_000 {
                f.instruction(&Instruction::Return);
            }
        }),
        "max_loops_per_function",
    );
    let at_limits = one_function(|f| {
        loops(f, l.max_loops_per_function);
        nested_ifs(f, l.max_blocks_per_function - l.max_loops_per_function);
    });
    let a = c.deploy_ok(at_limits);
    assert_eq!(c.call(a, "go", vec![], GAS).outcome, Outcome::Success);
    still_healthy(&mut c);
}

#[test]
fn oversized_module_is_rejected() {
    let mut c = Chain::new();
    let big = "\\00".repeat(600 * 1024);
    rejected(
        &mut c,
        contract(
            &[],
            &format!(r#"(memory (export "memory") 10) (data (i32.const 0) "{big}")"#),
        ),
        "max_code_size",
    );
}

#[test]
fn policy_violations_are_rejected_with_their_reason() {
    let mut c = Chain::new();
    rejected(
        &mut c,
        contract(&[], r#"(memory (export "memory") 1) (func $s) (start $s)"#),
        "start function",
    );
    rejected(
        &mut c,
        with_abi(
            wat::parse_str(
                r#"(module (import "env" "abort" (func)) (memory (export "memory") 1))"#,
            )
            .unwrap(),
        ),
        "not part of the SuperVM ABI",
    );
    rejected(
        &mut c,
        with_abi(wat::parse_str(r#"(module (import "supervm_v1" "block_height" (func (result i32))) (memory (export "memory") 1))"#).unwrap()),
        "wrong signature",
    );
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (export "f") (drop (i32x4.splat (i32.const 1))))"#,
        ),
        "invalid wasm",
    );
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (export "f") (memory.fill (i32.const 0) (i32.const 0) (i32.const 0)))"#,
        ),
        "invalid wasm",
    );
    rejected(
        &mut c,
        contract(&[], r#"(func (export "f"))"#),
        "exactly one memory",
    );
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (export "f") (param i32))"#,
        ),
        "must have type () -> ()",
    );
    rejected(
        &mut c,
        wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
        "ABI version",
    );
    rejected(
        &mut c,
        crate::util::with_custom(
            wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
            "supervm_abi_version",
            &9u32.to_le_bytes(),
        ),
        "ABI version 9 is not supported",
    );
    // Copies of the version (a contract in several `#[contract]` blocks: the linker
    // concatenates their sections) must agree, in one section or several.
    let twice = [supervm_vm::abi::ABI_VERSION.to_le_bytes(); 2].concat();
    let copies = crate::util::with_custom(
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "f")))"#).unwrap(),
        "supervm_abi_version",
        &twice,
    );
    let r = c.deploy(copies);
    assert!(r.outcome.is_success(), "{:?}", r.outcome);
    let mut differing = twice.clone();
    differing[4] ^= 1;
    rejected(
        &mut c,
        crate::util::with_custom(
            wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
            "supervm_abi_version",
            &differing,
        ),
        "holds different versions",
    );
    rejected(
        &mut c,
        crate::util::with_custom(
            contract(&[], r#"(memory (export "memory") 1)"#),
            "supervm_abi_version",
            &9u32.to_le_bytes(),
        ),
        "holds different versions",
    );
    rejected(
        &mut c,
        crate::util::with_custom(
            wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap(),
            "supervm_abi_version",
            &[1, 0, 0, 0, 1],
        ),
        "must hold 4 bytes",
    );
    rejected(
        &mut c,
        crate::util::with_custom(
            contract(&[], r#"(memory (export "memory") 1)"#),
            "supervm_interface",
            b"{oops",
        ),
        "interface section",
    );
    rejected(
        &mut c,
        vec![0, 97, 115, 109, 1, 0, 0, 0, 1, 2, 3],
        "invalid wasm",
    );
    // Threads: a shared memory, and an atomic instruction on an ordinary one.
    rejected(
        &mut c,
        contract(&[], r#"(memory (export "memory") 1 1 shared)"#),
        "threads must be enabled for shared memories",
    );
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (export "f") (drop (i32.atomic.load (i32.const 0))))"#,
        ),
        "threads support is not enabled",
    );
    // Reference types: an externref table, and a `ref.null extern`.
    rejected(
        &mut c,
        contract(&[], r#"(memory (export "memory") 1) (table 1 1 externref)"#),
        "reference types support is not enabled",
    );
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (export "f") (drop (ref.null extern)))"#,
        ),
        "reference types support is not enabled",
    );
    // Multi-value: a function returning two i32s (over the VM's own max_results, checked
    // before wasmparser sees the type), and a block taking a parameter.
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (result i32 i32) (i32.const 1) (i32.const 2))"#,
        ),
        "max_results",
    );
    rejected(
        &mut c,
        contract(
            &[],
            r#"(memory (export "memory") 1) (func (export "f") (i32.const 1) (block (param i32) (drop)))"#,
        ),
        "multi-value is not enabled",
    );
    still_healthy(&mut c);
}

/// Every structural limit is enforced at deploy and named in the error: each case is a
/// small module over one limit set low (the defaults are checked the same way, only
/// at sizes that make slow tests), which the same module passes under the defaults.
#[test]
fn every_limit_is_enforced_and_named() {
    let d = Limits::default();
    let two_imports = format!("{} {}", import("input_len"), import("returned_len"));
    let cases: Vec<(&str, Limits, String)> = vec![
        (
            "max_functions",
            Limits {
                max_functions: 2,
                ..d.clone()
            },
            "(func) (func) (func)".into(),
        ),
        (
            "max_imports",
            Limits {
                max_imports: 1,
                ..d.clone()
            },
            two_imports,
        ),
        (
            "max_types",
            Limits {
                max_types: 1,
                ..d.clone()
            },
            "(type (func)) (type (func (param i32)))".into(),
        ),
        (
            "max_params",
            Limits {
                max_params: 1,
                ..d.clone()
            },
            "(type (func (param i32 i32)))".into(),
        ),
        (
            "max_results",
            Limits {
                max_results: 0,
                ..d.clone()
            },
            "(func (result i32) (i32.const 1))".into(),
        ),
        (
            "max_locals",
            Limits {
                max_locals: 2,
                ..d.clone()
            },
            "(func (local i32 i32 i32))".into(),
        ),
        (
            "max_globals",
            Limits {
                max_globals: 1,
                ..d.clone()
            },
            "(global i32 (i32.const 0)) (global i32 (i32.const 1))".into(),
        ),
        (
            "max_tables",
            Limits {
                max_tables: 0,
                ..d.clone()
            },
            "(table 1 1 funcref)".into(),
        ),
        (
            "max_table_elements",
            Limits {
                max_table_elements: 5,
                ..d.clone()
            },
            "(table 10 10 funcref)".into(),
        ),
        (
            "max_data_segments",
            Limits {
                max_data_segments: 1,
                ..d.clone()
            },
            r#"(data (i32.const 0) "a") (data (i32.const 8) "b")"#.into(),
        ),
        (
            "max_element_segments",
            Limits {
                max_element_segments: 0,
                ..d.clone()
            },
            "(table 1 1 funcref) (func $f) (elem (i32.const 0) $f)".into(),
        ),
        (
            "max_exports",
            Limits {
                max_exports: 1,
                ..d.clone()
            },
            r#"(func (export "a"))"#.into(),
        ),
        (
            "max_function_size",
            Limits {
                max_function_size: 16,
                ..d.clone()
            },
            format!("(func {})", "(nop)".repeat(40)),
        ),
        (
            "max_total_operators",
            Limits {
                max_total_operators: 20,
                ..d.clone()
            },
            format!(
                "(func {}) (func {})",
                "(nop)".repeat(15),
                "(nop)".repeat(15)
            ),
        ),
        (
            "max_loops_per_function",
            Limits {
                max_loops_per_function: 1,
                ..d.clone()
            },
            "(func (loop) (loop))".into(),
        ),
        (
            "max_blocks_per_function",
            Limits {
                max_blocks_per_function: 1,
                ..d.clone()
            },
            "(func (block) (block))".into(),
        ),
        (
            "max_memory_pages",
            Limits {
                max_memory_pages: 1,
                ..d.clone()
            },
            String::new(), // the module's memory has 2 pages
        ),
    ];
    for (name, limits, body) in cases {
        let src = format!(r#"(module {body} (memory (export "memory") 2))"#);
        let wasm = with_abi(wat::parse_str(&src).unwrap());
        supervm_vm::validate::validate(&wasm, &d)
            .unwrap_or_else(|e| panic!("{name}: the module passes the defaults: {e}"));
        match supervm_vm::validate::validate(&wasm, &limits) {
            Err(e) => assert!(e.to_string().contains(name), "{name}: {e}"),
            Ok(_) => panic!("{name}: a module over the limit was accepted"),
        }
    }
}

#[test]
fn code_error_names_the_limit() {
    let e = CodeError::OverLimit {
        what: "functions",
        limit_name: "max_functions",
        count: 9,
        limit: 8,
    };
    assert_eq!(
        e.to_string(),
        "functions: 9 is over the limit max_functions = 8"
    );
}

#[test]
fn event_spam_stops_at_the_event_limit() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &["emit_event"],
        r#"(memory (export "memory") 1)
        (data (i32.const 0) "\01\00\00\00\01\00\00\00e")
        (func (export "spam") (loop $l
          (call $emit_event (i32.const 0) (i32.const 9) (i32.const 0) (i32.const 0)) (br $l)))"#,
    ));
    let r = c.call(a, "spam", vec![], 1_000_000_000);
    assert_eq!(
        r.outcome,
        trap_in(
            a,
            &format!(
                "more than {} events in one transaction",
                limits::MAX_EVENTS_PER_TX
            )
        )
    );
    assert!(r.events.is_empty());
    // With less gas, it runs out of gas first — also deterministic.
    let r = c.call(a, "spam", vec![], 200_000);
    assert_eq!(r.outcome, Outcome::OutOfGas);
    still_healthy(&mut c);
}

#[test]
fn oversized_return_data_traps() {
    let mut c = Chain::new();
    let a = c.deploy_ok(contract(
        &["return_data"],
        &format!(
            r#"(memory (export "memory") 4)
        (func (export "big") (call $return_data (i32.const 0) (i32.const {})))"#,
            limits::MAX_RETURN_DATA + 1
        ),
    ));
    let r = c.call(a, "big", vec![], GAS);
    assert!(
        matches!(r.outcome, Outcome::Trap { ref reason } if reason.contains("return data")),
        "{:?}",
        r.outcome
    );
}

#[test]
fn reentrancy_through_a_cross_contract_call_is_denied() {
    let mut c = Chain::new();
    // `bounce` calls `bounce` of the address in its input with the same input: A -> A.
    let wasm = contract(
        &["input_read", "input_len", "call", "try_call", "return_data"],
        r#"(memory (export "memory") 1)
        (data (i32.const 100) "bounce")
        (func (export "bounce")
          (call $input_read (i32.const 0))
          (drop (call $call (i32.const 0) (i32.const 100) (i32.const 6) (i32.const 0) (call $input_len) (i64.const 0))))
        (func (export "try_bounce")
          (call $input_read (i32.const 0))
          (i64.store (i32.const 200) (call $try_call (i32.const 0) (i32.const 100) (i32.const 6) (i32.const 0) (call $input_len) (i64.const 0)))
          (call $return_data (i32.const 200) (i32.const 8)))"#,
    );
    let a = c.deploy_ok(wasm);
    let r = c.call(a, "bounce", a.0.to_vec(), GAS);
    assert!(
        matches!(r.outcome, Outcome::Trap { ref reason } if reason.contains("reentrancy denied")),
        "{:?}",
        r.outcome
    );
    let r = c.call(a, "try_bounce", a.0.to_vec(), GAS);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        i64::from_le_bytes(r.return_data.try_into().unwrap()),
        3,
        "trap status"
    );
}

/// A `try_call` into a callee that spends all it may (an endless loop) keeps 1/64 of the
/// gas left for the caller, with the cap 0 (all) or larger than what is left: the callee
/// comes back out of gas and the caller finishes (a `call` gives all and fails with it).
#[test]
fn a_try_call_keeps_a_64th_of_the_gas_for_its_caller() {
    let mut c = Chain::new();
    let spinner = c.deploy_ok(contract(
        &[],
        r#"(memory (export "memory") 1)
        (func (export "spin") (loop $l (br $l)))"#,
    ));
    // `try(cap)`: try_call of `spin` of the address in the input with gas `cap` (8 bytes
    // after the address), returns the status word; `call` the same through `call`.
    let caller = c.deploy_ok(contract(
        &["input_read", "call", "try_call", "return_data"],
        r#"(memory (export "memory") 1)
        (data (i32.const 100) "spin")
        (func (export "try")
          (call $input_read (i32.const 0))
          (i64.store (i32.const 200) (call $try_call (i32.const 0) (i32.const 100) (i32.const 4)
            (i32.const 0) (i32.const 0) (i64.load (i32.const 32))))
          (call $return_data (i32.const 200) (i32.const 8)))
        (func (export "call")
          (call $input_read (i32.const 0))
          (drop (call $call (i32.const 0) (i32.const 100) (i32.const 4)
            (i32.const 0) (i32.const 0) (i64.load (i32.const 32)))))"#,
    ));
    let limit = 1_000_000;
    for cap in [0u64, 10 * limit] {
        let input = [&spinner.0[..], &cap.to_le_bytes()].concat();
        let r = c.call(caller, "try", input.clone(), limit);
        assert_eq!(r.outcome, Outcome::Success, "cap {cap}");
        assert_eq!(
            i64::from_le_bytes(r.return_data.clone().try_into().unwrap()),
            i64::from(supervm_vm::abi::STATUS_OUT_OF_GAS),
            "cap {cap}"
        );
        // (1/64 of what was left at the call, a little under 15,625, less the caller's
        // work after it: 15,427 measured; literal bounds, not the constant under test,
        // and tight: a 1/65 reserve would leave about 240 less)
        let left = limit - r.gas_used;
        assert!(15_327 < left && left < 15_527, "cap {cap}: {left} left");
        let r = c.call(caller, "call", input, limit);
        assert_eq!(
            (r.outcome, r.gas_used),
            (Outcome::OutOfGas, limit),
            "cap {cap}"
        );
    }
}

/// Reentrancy is denied through a third contract too (A -> B -> A), not only a
/// direct self-call, and a chain of distinct contracts is allowed (A -> B -> C).
#[test]
fn reentrancy_through_another_contract_is_denied() {
    let mut c = Chain::new();
    // `hop` calls `hop` of the first address in its input with the rest of the input.
    let hop = || {
        contract(
            &["input_read", "input_len", "call"],
            r#"(memory (export "memory") 1)
            (data (i32.const 1000) "hop")
            (func (export "hop")
              (call $input_read (i32.const 0))
              (if (i32.ge_u (call $input_len) (i32.const 32))
                (then (drop (call $call (i32.const 0) (i32.const 1000) (i32.const 3)
                  (i32.const 32) (i32.sub (call $input_len) (i32.const 32)) (i64.const 0))))))"#,
        )
    };
    let (a, b, d) = (c.deploy_ok(hop()), c.deploy_ok(hop()), c.deploy_ok(hop()));
    assert!(a != b && b != d);
    let r = c.call(a, "hop", [b.0, d.0].concat(), GAS);
    assert_eq!(r.outcome, Outcome::Success, "A -> B -> C");
    let r = c.call(a, "hop", [b.0, a.0].concat(), GAS);
    assert!(
        matches!(r.outcome, Outcome::Trap { ref reason } if reason.contains("reentrancy denied")),
        "A -> B -> A: {:?}",
        r.outcome
    );
}

#[test]
fn call_depth_is_limited() {
    let mut c = Chain::new();
    // Each contract calls the next one named in its input (a chain of 10 distinct contracts).
    let src = include_str!("../fixtures/hop.wat");
    let addrs: Vec<_> = (0..10)
        .map(|_| c.deploy_ok(contract(&["input_read", "input_len", "call"], src)))
        .collect();
    let chain = |n: usize| addrs[1..n].iter().flat_map(|a| a.0).collect::<Vec<u8>>();
    let ok = c.call(addrs[0], "hop", chain(limits::MAX_CALL_DEPTH as usize), GAS);
    assert_eq!(
        ok.outcome,
        Outcome::Success,
        "depth {} is allowed",
        limits::MAX_CALL_DEPTH
    );
    let r = c.call(
        addrs[0],
        "hop",
        chain(limits::MAX_CALL_DEPTH as usize + 1),
        GAS,
    );
    assert!(
        matches!(r.outcome, Outcome::Trap { ref reason } if reason.contains("call depth limit")),
        "{:?}",
        r.outcome
    );
}

/// Whether a host-function parameter is a pointer into guest memory.
fn is_pointer(name: &str) -> bool {
    name == "ptr" || name.ends_with("_ptr")
}

/// Deploys a contract whose `poke` calls host function `f` once, parameter `j` set to
/// `bad` (a WAT constant) and the others in bounds, and calls it.
fn poke_host_fn(
    c: &mut Chain,
    f: &supervm_vm::abi::HostFnSpec,
    j: usize,
    bad: &str,
) -> supervm_vm::Receipt {
    let args: Vec<String> = f
        .params
        .iter()
        .enumerate()
        .map(|(i, (n, t))| match (*n, *t) {
            _ if i == j => bad.to_string(),
            (n, _) if is_pointer(n) => "(i32.const 256)".to_string(),
            (_, "i64") => "(i64.const 100000)".to_string(),
            _ => "(i32.const 8)".to_string(),
        })
        .collect();
    let call = format!("(call ${} {})", f.name, args.join(" "));
    let call = if f.result == "()" {
        call
    } else {
        format!("(drop {call})")
    };
    let body = format!(r#"(memory (export "memory") 1) (func (export "poke") {call})"#);
    let src = format!("(module {} {body})", import(f.name));
    let a = c.deploy_ok(with_abi(wat::parse_str(&src).unwrap()));
    c.call(a, "poke", vec![7; 16], GAS)
}

/// Every pointer of every host function, each out of bounds in turn while the other
/// arguments are in bounds (and again straddling the end of memory), traps with a
/// bounds error and never touches the host's state.
#[test]
fn out_of_bounds_pointers_into_every_host_function_trap() {
    let mut c = Chain::new();
    let mut covered = 0;
    for f in HOST_FNS {
        for (j, (target, _)) in f.params.iter().enumerate() {
            if !is_pointer(target) {
                continue;
            }
            // -16 wraps to the top of the 32-bit space; 65,532 starts inside the one
            // page and runs past its end (every buffer here is at least 8 bytes).
            for bad in ["-16", "65532"] {
                if bad == "65532" && f.name == "returned_read" {
                    // Nothing was returned before: it copies 0 bytes, in bounds.
                    continue;
                }
                let r = poke_host_fn(&mut c, f, j, &format!("(i32.const {bad})"));
                match &r.outcome {
                    Outcome::Trap { reason } if reason.contains("out of bounds") => {}
                    other => panic!(
                        "{}({target} = {bad}): expected an out-of-bounds trap, got {other:?}",
                        f.name
                    ),
                }
                assert!(r.write_set.is_empty() && r.events.is_empty(), "{}", f.name);
                covered += 1;
            }
        }
    }
    assert!(covered >= 40, "covered {covered} pointer parameters");
    still_healthy(&mut c);
}

/// Every length parameter (and output buffer capacity) of every host function,
/// negative in turn while the other arguments are in bounds, traps (a length read as
/// `u32` would otherwise be billions of bytes: a charge ending in out of gas, or a read
/// past memory; a negative capacity is a bad buffer, not an empty one), and so does a
/// negative `gas` for `call` and `try_call`.
#[test]
fn negative_lengths_and_gas_into_every_host_function_trap() {
    let mut c = Chain::new();
    let mut covered = 0;
    for f in HOST_FNS {
        for (j, (target, ty)) in f.params.iter().enumerate() {
            let is_len = *target == "len"
                || target.ends_with("_len")
                || target.ends_with("_cap")
                || *target == "gas";
            if !is_len {
                continue;
            }
            let bad = if *ty == "i64" {
                "(i64.const -5)"
            } else {
                "(i32.const -5)"
            };
            let r = poke_host_fn(&mut c, f, j, bad);
            assert!(
                matches!(r.outcome, Outcome::Trap { .. }),
                "{}({target}: {ty} = -5): expected a trap, got {:?}",
                f.name,
                r.outcome
            );
            assert!(r.write_set.is_empty() && r.events.is_empty(), "{}", f.name);
            covered += 1;
        }
    }
    assert!(covered >= 15, "covered {covered} length parameters");
    still_healthy(&mut c);
}

/// Guards against: code stored before the limits tightened (here written straight into
/// the state: a function of 300 `return`s, over today's loop cap) halting the chain. A
/// call of it, and a deploy of it by hash, fail as transactions; the VM goes on.
#[test]
fn stored_code_that_no_longer_validates_fails_the_call_not_the_block() {
    use supervm_vm::state::{ContractRecord, code_key, contract_key};
    use supervm_vm::{Address, CodeSource, Payload, WriteSet, code_hash};
    let mut c = Chain::new();
    let old = one_function(|f| {
        for _ in 0..300 {
            f.instruction(&Instruction::Return);
        }
    });
    let hash = code_hash(&old);
    let addr = Address([0xAB; 32]);
    let mut w = WriteSet::new();
    w.insert(code_key(&hash), Some(old));
    let rec = ContractRecord {
        code_hash: hash,
        deployer: c.sender,
    };
    w.insert(contract_key(&addr), Some(rec.encode()));
    c.state.apply(&w);
    let r = c.call(addr, "go", vec![], GAS);
    match &r.outcome {
        Outcome::Trap { reason } | Outcome::Invalid { reason } => {
            assert!(reason.contains("no longer passes validation"), "{reason}")
        }
        other => panic!("expected a failed call, got {other:?}"),
    }
    // The VM remembers the rejection: the next call fails without reading the code
    // (shown by taking the code out of the state, which no consistent state does; a
    // call that read it would find none).
    let mut gone = WriteSet::new();
    gone.insert(code_key(&hash), None);
    c.state.apply(&gone);
    let again = c.call(addr, "go", vec![], GAS);
    assert_eq!(again.outcome, r.outcome);
    assert_eq!(again.gas_used, r.gas_used);
    c.state.apply(&w);
    let r = c.run(
        Payload::Deploy {
            code: CodeSource::Hash(hash),
            salt: [5; 32],
            init_args: vec![],
        },
        GAS,
    );
    assert!(
        matches!(&r.outcome, Outcome::Invalid { reason } if reason.contains("max_loops_per_function")),
        "{:?}",
        r.outcome
    );
    still_healthy(&mut c);
}
