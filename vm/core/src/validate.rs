//! Deploy-time validation of contract code.
//!
//! Everything here runs before any compilation, so a compilation bomb is
//! rejected by counting, not by trying. The policy (see `docs/design.md`,
//! "Determinism rules"):
//!
//! * WebAssembly 1.0 (MVP + mutable globals) plus sign-extension and saturating
//!   float-to-int. Floats are allowed; the engine canonicalizes NaNs, which makes
//!   them deterministic. SIMD, threads, bulk memory, reference types,
//!   multi-value, tail calls, exceptions, GC and memory64 are rejected.
//! * Imports: only functions of [`supervm_abi::IMPORT_MODULE`], each with the ABI's
//!   exact signature. No start function. One memory, exported as `memory`.
//! * A `supervm_abi_version` custom section equal to [`supervm_abi::ABI_VERSION`].

use std::collections::BTreeSet;

use supervm_abi::{ABI_VERSION, ABI_VERSION_SECTION, HOST_FNS, IMPORT_MODULE, INTERFACE_SECTION};
use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FuncValidatorAllocations,
    Operator, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

use crate::config::{FRAME_OVERHEAD, Limits};
use crate::error::CodeError;

/// The wasm features contracts may use.
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM1 | WasmFeatures::SIGN_EXTENSION | WasmFeatures::SATURATING_FLOAT_TO_INT
}

/// What validation learned about a module; the instrumentation pass and the
/// VM use it.
#[derive(Clone, Debug, Default)]
pub struct CodeInfo {
    /// Number of imported functions.
    pub imported_funcs: u32,
    /// Number of imported globals (always 0 under the policy, kept for clarity).
    pub imported_globals: u32,
    /// Number of defined globals.
    pub defined_globals: u32,
    /// Stack weight of each defined function.
    pub weights: Vec<u32>,
    /// Result type of each defined function (MVP: at most one).
    pub results: Vec<Option<ValType>>,
    /// Locals of each defined function, parameters included.
    pub locals: Vec<u32>,
    /// Initial pages of the memory.
    pub memory_pages: u64,
    /// Exported entry points (functions of type `() -> ()`), sorted.
    pub entry_points: BTreeSet<String>,
    /// Whether the module has a constructor export.
    pub has_constructor: bool,
    /// The raw interface section (JSON lines), when present.
    pub interface: Option<String>,
}

fn over(what: &'static str, limit_name: &'static str, count: u64, limit: u64) -> CodeError {
    CodeError::OverLimit {
        what,
        limit_name,
        count,
        limit,
    }
}

fn check(
    what: &'static str,
    limit_name: &'static str,
    count: u64,
    limit: u64,
) -> Result<(), CodeError> {
    if count > limit {
        Err(over(what, limit_name, count, limit))
    } else {
        Ok(())
    }
}

fn val_type_name(t: &ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(_) => "ref",
    }
}

fn host_signature(name: &str) -> Option<(Vec<&'static str>, &'static str)> {
    HOST_FNS
        .iter()
        .find(|f| f.name == name)
        .map(|f| (f.params.iter().map(|(_, t)| *t).collect(), f.result))
}

fn invalid(e: impl std::fmt::Display) -> CodeError {
    CodeError::Invalid(e.to_string())
}

/// Checks parameter and result counts of plain function types before wasmparser
/// reads them, so that the error names our limit (wasmparser has its own, higher one).
fn precheck_types(
    code: &[u8],
    range: std::ops::Range<usize>,
    limits: &Limits,
) -> Result<(), CodeError> {
    let mut r = wasmparser::BinaryReader::new(&code[range], 0);
    let Ok(count) = r.read_var_u32() else {
        return Ok(());
    };
    for _ in 0..count {
        // Only plain `func` types of numeric values are pre-checked; anything else is
        // left to the validator (which rejects it under our feature set).
        if r.read_u8().ok() != Some(0x60) {
            return Ok(());
        }
        for (what, limit_name, limit) in [
            ("params of a type", "max_params", limits.max_params),
            ("results of a type", "max_results", limits.max_results),
        ] {
            let Ok(n) = r.read_var_u32() else {
                return Ok(());
            };
            check(what, limit_name, n as u64, limit as u64)?;
            for _ in 0..n {
                if !matches!(r.read_u8(), Ok(0x7c..=0x7f)) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// The version of the validation rules (the policy below, not the [`Limits`]): bump it
/// whenever a change could reject code that passed before. Compiled modules in the
/// disk cache are loaded without validating again, so it is part of the cache
/// directory's name (with the ABI version, the host functions' signatures and the
/// limits): a node never runs cached code that a node with a cold cache would reject.
pub const VALIDATION_VERSION: u32 = 2;

/// Checks that an active segment of `len` items at `offset` (a constant: contracts
/// import no globals) lies within the `size` items its memory or table starts with.
/// Instantiation would otherwise trap on every call, after copying the segments before
/// it: work no gas pays for, since the frame never starts. `unit` names what `size`
/// counts.
fn in_bounds(
    kind: &str,
    unit: &str,
    offset: &ConstExpr<'_>,
    len: u64,
    size: u64,
) -> Result<(), CodeError> {
    let mut ops = offset.get_operators_reader();
    let start = match ops.read() {
        Ok(Operator::I32Const { value }) => u64::from(value as u32),
        _ => {
            return Err(CodeError::Invalid(format!(
                "an active {kind} segment's offset is not an i32.const"
            )));
        }
    };
    if start + len > size {
        return Err(CodeError::Invalid(format!(
            "an active {kind} segment ({len} at offset {start}) lies outside the initial {unit} ({size})"
        )));
    }
    Ok(())
}

/// Validates `code` against `limits` and the VM's policy.
pub fn validate(code: &[u8], limits: &Limits) -> Result<CodeInfo, CodeError> {
    if code.len() > limits.max_code_size {
        return Err(CodeError::TooLarge {
            size: code.len(),
            limit: limits.max_code_size,
        });
    }
    let mut validator = Validator::new_with_features(features());
    let mut info = CodeInfo::default();
    let mut types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new(); // type index of every function, imports first
    let mut memories = 0u32;
    let mut table_elements = 0u64;
    let mut memory_exported = false;
    let mut abi_version: Option<u32> = None;
    let mut total_ops: u64 = 0;
    let mut allocs = FuncValidatorAllocations::default();
    let mut exported_funcs: Vec<(String, u32)> = Vec::new();

    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(invalid)?;
        if let Payload::TypeSection(r) = &payload {
            precheck_types(code, r.range(), limits)?;
        }
        let valid = validator.payload(&payload).map_err(invalid)?;
        match &payload {
            Payload::TypeSection(r) => {
                check(
                    "types",
                    "max_types",
                    r.count() as u64,
                    limits.max_types as u64,
                )?;
                for ft in r.clone().into_iter_err_on_gc_types() {
                    let ft = ft.map_err(invalid)?;
                    check(
                        "params of a type",
                        "max_params",
                        ft.params().len() as u64,
                        limits.max_params as u64,
                    )?;
                    check(
                        "results of a type",
                        "max_results",
                        ft.results().len() as u64,
                        limits.max_results as u64,
                    )?;
                    types.push((ft.params().to_vec(), ft.results().to_vec()));
                }
            }
            Payload::ImportSection(r) => {
                check(
                    "imports",
                    "max_imports",
                    r.count() as u64,
                    limits.max_imports as u64,
                )?;
                for imp in r.clone().into_imports() {
                    let imp = imp.map_err(invalid)?;
                    if imp.module != IMPORT_MODULE {
                        return Err(CodeError::UnknownImport {
                            module: imp.module.to_string(),
                            name: imp.name.to_string(),
                        });
                    }
                    let TypeRef::Func(ti) = imp.ty else {
                        return Err(CodeError::NonFunctionImport {
                            name: imp.name.to_string(),
                        });
                    };
                    let Some((params, result)) = host_signature(imp.name) else {
                        return Err(CodeError::UnknownImport {
                            module: imp.module.to_string(),
                            name: imp.name.to_string(),
                        });
                    };
                    let (p, r) = types
                        .get(ti as usize)
                        .ok_or_else(|| invalid("bad type index"))?;
                    let got_p: Vec<&str> = p.iter().map(val_type_name).collect();
                    let got_r = match r.as_slice() {
                        [] => "()",
                        [t] => val_type_name(t),
                        _ => "multi",
                    };
                    if got_p != params || got_r != result {
                        return Err(CodeError::ImportSignature {
                            name: imp.name.to_string(),
                            expected: format!("({}) -> {}", params.join(", "), result),
                        });
                    }
                    func_types.push(ti);
                    info.imported_funcs += 1;
                }
            }
            Payload::FunctionSection(r) => {
                let total = info.imported_funcs as u64 + r.count() as u64;
                check(
                    "functions",
                    "max_functions",
                    total,
                    limits.max_functions as u64,
                )?;
                for ti in r.clone() {
                    let ti = ti.map_err(invalid)?;
                    let results = &types
                        .get(ti as usize)
                        .ok_or_else(|| invalid("bad type index"))?
                        .1;
                    info.results.push(results.first().copied());
                    func_types.push(ti);
                }
            }
            Payload::TableSection(r) => {
                check(
                    "tables",
                    "max_tables",
                    r.count() as u64,
                    limits.max_tables as u64,
                )?;
                for t in r.clone() {
                    let t = t.map_err(invalid)?;
                    table_elements = t.ty.initial;
                    let max = t.ty.maximum.unwrap_or(u64::MAX);
                    check(
                        "table elements",
                        "max_table_elements",
                        t.ty.initial,
                        limits.max_table_elements,
                    )?;
                    if max > limits.max_table_elements {
                        return Err(over(
                            "table maximum (set a maximum)",
                            "max_table_elements",
                            max,
                            limits.max_table_elements,
                        ));
                    }
                }
            }
            Payload::MemorySection(r) => {
                for m in r.clone() {
                    let m = m.map_err(invalid)?;
                    memories += 1;
                    info.memory_pages = m.initial;
                    check(
                        "initial memory pages",
                        "max_memory_pages",
                        m.initial,
                        limits.max_memory_pages,
                    )?;
                }
            }
            Payload::GlobalSection(r) => {
                check(
                    "globals",
                    "max_globals",
                    r.count() as u64,
                    limits.max_globals as u64,
                )?;
                info.defined_globals = r.count();
            }
            Payload::ExportSection(r) => {
                check(
                    "exports",
                    "max_exports",
                    r.count() as u64,
                    limits.max_exports as u64,
                )?;
                for e in r.clone() {
                    let e = e.map_err(invalid)?;
                    if e.name
                        .starts_with(crate::instrument::RESERVED_EXPORT_PREFIX)
                    {
                        return Err(CodeError::Invalid(format!(
                            "export name {} is reserved (prefix {})",
                            e.name,
                            crate::instrument::RESERVED_EXPORT_PREFIX
                        )));
                    }
                    match e.kind {
                        ExternalKind::Memory if e.name == "memory" => memory_exported = true,
                        ExternalKind::Func => exported_funcs.push((e.name.to_string(), e.index)),
                        _ => {}
                    }
                }
            }
            Payload::StartSection { .. } => return Err(CodeError::StartFunction),
            Payload::ElementSection(r) => {
                check(
                    "element segments",
                    "max_element_segments",
                    r.count() as u64,
                    limits.max_element_segments as u64,
                )?;
                for e in r.clone() {
                    let e = e.map_err(invalid)?;
                    if let ElementKind::Active { offset_expr, .. } = e.kind {
                        let n = match &e.items {
                            ElementItems::Functions(f) => f.count(),
                            ElementItems::Expressions(_, x) => x.count(),
                        };
                        in_bounds(
                            "element",
                            "table elements",
                            &offset_expr,
                            n as u64,
                            table_elements,
                        )?;
                    }
                }
            }
            Payload::DataSection(r) => {
                check(
                    "data segments",
                    "max_data_segments",
                    r.count() as u64,
                    limits.max_data_segments as u64,
                )?;
                let bytes = info.memory_pages.saturating_mul(65536);
                for d in r.clone() {
                    let d = d.map_err(invalid)?;
                    if let DataKind::Active { offset_expr, .. } = d.kind {
                        in_bounds(
                            "data",
                            "memory bytes",
                            &offset_expr,
                            d.data.len() as u64,
                            bytes,
                        )?;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len();
                if size > limits.max_function_size {
                    return Err(over(
                        "function body bytes",
                        "max_function_size",
                        size as u64,
                        limits.max_function_size as u64,
                    ));
                }
            }
            Payload::CustomSection(c) => {
                if c.name() == ABI_VERSION_SECTION {
                    // Each `#[contract]` block of a crate emits the 4 bytes, and the linker
                    // concatenates sections of one name: a contract written in several
                    // blocks carries several copies, which must agree.
                    let d = c.data();
                    if d.is_empty() || d.len() % 4 != 0 {
                        return Err(CodeError::Invalid(format!(
                            "{ABI_VERSION_SECTION} must hold 4 bytes (or copies of them)"
                        )));
                    }
                    for v in d.chunks_exact(4) {
                        let v = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
                        if abi_version.is_some_and(|seen| seen != v) {
                            return Err(CodeError::Invalid(format!(
                                "{ABI_VERSION_SECTION} holds different versions"
                            )));
                        }
                        abi_version = Some(v);
                    }
                } else if c.name() == INTERFACE_SECTION {
                    let text = std::str::from_utf8(c.data())
                        .map_err(|_| CodeError::Interface("not UTF-8".into()))?;
                    let mut s = info.interface.take().unwrap_or_default();
                    s.push_str(text);
                    info.interface = Some(s);
                }
            }
            _ => {}
        }
        if let wasmparser::ValidPayload::Func(func, body) = valid {
            let mut fv = func.into_validator(std::mem::take(&mut allocs));
            let mut reader = body.get_binary_reader();
            fv.read_locals(&mut reader).map_err(invalid)?;
            let locals = fv.len_locals();
            check(
                "locals of a function",
                "max_locals",
                locals as u64,
                limits.max_locals as u64,
            )?;
            let mut max_height = 0u32;
            let (mut loops, mut blocks) = (0u32, 0u32);
            while !reader.eof() {
                // `block`, `loop`, `if` and `return` are one-byte opcodes that no
                // prefixed opcode starts with. A `return` counts as a loop: the stack
                // instrumentation puts a fuel-checking empty loop before each one.
                match reader.clone().read_u8().map_err(invalid)? {
                    0x02 | 0x04 => blocks += 1,
                    0x03 | 0x0f => {
                        loops += 1;
                        blocks += 1;
                        check(
                            "loops (each return counts as one) in a function",
                            "max_loops_per_function",
                            loops as u64,
                            limits.max_loops_per_function as u64,
                        )?;
                    }
                    _ => {}
                }
                check(
                    "blocks (block, loop, if, return) in a function",
                    "max_blocks_per_function",
                    blocks as u64,
                    limits.max_blocks_per_function as u64,
                )?;
                reader
                    .visit_operator(&mut fv.visitor(reader.original_position()))
                    .map_err(invalid)?
                    .map_err(invalid)?;
                max_height = max_height.max(fv.operand_stack_height());
                total_ops += 1;
                if total_ops > limits.max_total_operators {
                    return Err(over(
                        "operators",
                        "max_total_operators",
                        total_ops,
                        limits.max_total_operators,
                    ));
                }
            }
            reader
                .finish_expression(&fv.visitor(reader.original_position()))
                .map_err(invalid)?;
            info.weights.push(FRAME_OVERHEAD + locals + max_height);
            info.locals.push(locals);
            allocs = fv.into_allocations();
        }
    }

    if memories != 1 || !memory_exported {
        return Err(CodeError::Memory);
    }
    match abi_version {
        None => return Err(CodeError::MissingAbiVersion),
        Some(v) if v != ABI_VERSION => {
            return Err(CodeError::AbiVersion {
                found: v,
                expected: ABI_VERSION,
            });
        }
        Some(_) => {}
    }
    for (name, idx) in exported_funcs {
        let ti = func_types
            .get(idx as usize)
            .copied()
            .ok_or_else(|| invalid("bad export index"))?;
        let (p, r) = &types[ti as usize];
        if !p.is_empty() || !r.is_empty() {
            return Err(CodeError::EntrySignature { name });
        }
        if name == supervm_abi::CONSTRUCTOR_EXPORT {
            info.has_constructor = true;
        }
        info.entry_points.insert(name);
    }
    if let Some(text) = &info.interface {
        crate::interface::Interface::parse(text).map_err(CodeError::Interface)?;
    }
    Ok(info)
}
