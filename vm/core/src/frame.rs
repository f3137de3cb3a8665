//! Call frames: every contract call runs in an instance in its freshly
//! instantiated state: a new wasmtime Store and instance, or a recycled one that
//! returned normally and was reset (see `warm.rs`). A Store is never reused after
//! a trap. Cross-contract calls nest frames; the transaction context moves into
//! the callee's Store and back.

use supervm_abi::{Address, STATUS_OK, STATUS_OUT_OF_GAS, STATUS_REVERT, STATUS_TRAP, limits};
use wasmtime::{Caller, Store, StoreLimitsBuilder, Trap};

use crate::engine::{LoadedModule, MAX_WASM_STACK, VmInner};
use crate::error::Error;
use crate::gas;
use crate::host::{
    FUEL_RESERVE, HostAbort, HostState, TxCtx, abort, charge, gas_left_of, set_gas_left,
};
use crate::state::{ContractRecord, code_key, contract_key};
use crate::warm::Warm;

/// Stack that must be free before entering a frame: the backstop plus host slack.
const RED_ZONE: usize = MAX_WASM_STACK + (512 << 10);
/// Fuel for instantiating a module, outside any call's gas (bounded by validation's
/// limits on globals and segments).
const INSTANTIATION_FUEL: u64 = 1 << 30;
/// Size of a new stack segment when the current one is short.
const NEW_SEGMENT: usize = 16 << 20;

/// Native stack a thread that executes transactions should have. A call starts on the
/// thread's own stack when [`RED_ZONE`] (2.5 MiB) of it is free; on a smaller stack
/// (a spawned thread's default is 2 MiB, tokio's blocking threads' too) every call runs
/// on a segment mapped for it and unmapped after it (`mmap`, `mprotect` and `munmap`
/// per call), and each unmapping interrupts every CPU running another thread of the
/// process: two threads executing at once on this project's 2-vCPU machines ran at 0.3
/// times one thread's rate (`docs/benchmarks.md`, seventeenth session). With this
/// much, a call and two nested calls start on the thread's own stack.
pub const EXECUTION_STACK: usize = 8 << 20;

/// How a frame ended.
#[derive(Debug)]
pub(crate) enum FrameOutcome {
    Success,
    Revert {
        code: u32,
        data: Vec<u8>,
        /// The contract that called `revert`.
        contract: crate::Address,
    },
    OutOfGas,
    Trap(String),
    /// The frame could not start (no such contract or entry point, depth, reentrancy).
    CannotCall(String),
    /// Infrastructure failure: not an outcome, aborts the transaction.
    Fatal(Error),
}

pub(crate) struct FrameResult {
    pub(crate) outcome: FrameOutcome,
    pub(crate) gas_used: u64,
    pub(crate) return_data: Vec<u8>,
}

impl FrameResult {
    /// A frame that ended with `outcome` after `gas_used`, returning nothing.
    fn ended(outcome: FrameOutcome, gas_used: u64) -> Self {
        FrameResult {
            outcome,
            gas_used,
            return_data: Vec::new(),
        }
    }

    fn cannot(reason: String) -> Self {
        Self::ended(FrameOutcome::CannotCall(reason), 0)
    }
}

/// The receipt's reason for a wasm trap: the VM's own text for every trap an MVP
/// module can raise, never wasmtime's `Display` (which a wasmtime upgrade may reword,
/// and receipts are committed in the block's receipts root).
pub(crate) fn trap_reason(t: &Trap) -> &'static str {
    match t {
        Trap::MemoryOutOfBounds => "out of bounds memory access",
        Trap::TableOutOfBounds => "undefined element: out of bounds table access",
        Trap::IndirectCallToNull => "uninitialized element",
        Trap::BadSignature => "indirect call type mismatch",
        Trap::IntegerOverflow => "integer overflow",
        Trap::IntegerDivisionByZero => "integer divide by zero",
        Trap::BadConversionToInteger => "invalid conversion to integer",
        Trap::UnreachableCodeReached => crate::UNREACHABLE_TRAP,
        // The native stack backstop: the VM's own call-depth budget is meant to stop
        // every contract first (design.md §3, invariant 4).
        Trap::StackOverflow => "call stack exhausted",
        // Not reachable by a module that passed validation (no threads, references,
        // GC or components); named by kind, not by wasmtime's text.
        _ => "engine trap outside the MVP feature set",
    }
}

/// A trap's reason as the receipt gives it: the contract whose frame trapped, then what
/// happened (a trap raised by a callee keeps the callee's name on its way up).
fn trapped_in(contract: crate::Address, reason: &str) -> String {
    format!("in contract 0x{}: {reason}", hex::encode(contract.0))
}

/// What ended a frame of `contract` with `err`.
fn classify(err: wasmtime::Error, stack_exhausted: bool, contract: crate::Address) -> FrameOutcome {
    if let Some(a) = err.downcast_ref::<HostAbort>() {
        return match a.clone() {
            HostAbort::Revert {
                code,
                data,
                contract,
            } => FrameOutcome::Revert {
                code,
                data,
                contract,
            },
            HostAbort::OutOfGas => FrameOutcome::OutOfGas,
            HostAbort::Trap(r) => FrameOutcome::Trap(trapped_in(contract, &r)),
            HostAbort::Nested(r) => FrameOutcome::Trap(r),
            HostAbort::Fatal(e) => FrameOutcome::Fatal(Error::State(e)),
            HostAbort::Engine(e) => FrameOutcome::Fatal(Error::Engine(e)),
            HostAbort::Resource(e) => FrameOutcome::Fatal(Error::Resource(e)),
        };
    }
    if let Some(t) = err.downcast_ref::<Trap>() {
        return match t {
            Trap::OutOfFuel => FrameOutcome::OutOfGas,
            Trap::UnreachableCodeReached if stack_exhausted => {
                FrameOutcome::Trap(trapped_in(contract, "call stack budget exhausted"))
            }
            other => FrameOutcome::Trap(trapped_in(contract, trap_reason(other))),
        };
    }
    FrameOutcome::Fatal(Error::Engine(format!("{err:#}")))
}

/// Runs `export` of `module` in a fresh Store with `gas` fuel.
fn run_frame(
    vm: &VmInner,
    tx: TxCtx,
    frame: crate::host::Frame,
    module: &LoadedModule,
    export: &str,
    gas: u64,
) -> (FrameResult, TxCtx) {
    stacker::maybe_grow(RED_ZONE, NEW_SEGMENT, || {
        run_frame_here(vm, tx, frame, module, export, gas)
    })
}

fn run_frame_here(
    vm: &VmInner,
    tx: TxCtx,
    frame: crate::host::Frame,
    module: &LoadedModule,
    export: &str,
    gas: u64,
) -> (FrameResult, TxCtx) {
    // The memory the frame starts with is charged first (pages past the first, at
    // `MEMORY_PAGE` each); a frame whose gas does not cover it ends out of gas before an
    // instance is taken or made, so a caller cannot buy an instantiation (or spend a
    // recycled instance) for less than its memory's price.
    let memory_gas = gas::MEMORY_PAGE * module.memory_pages.saturating_sub(1);
    if memory_gas > gas {
        return (FrameResult::ended(FrameOutcome::OutOfGas, gas), tx);
    }
    // (what the frame's run may spend once its memory is paid)
    let budget = gas - memory_gas;
    let contract = frame.contract;
    let mut outcome = FrameOutcome::Success;
    let mut w = match module.warm.take() {
        Some(mut w) => {
            let data = w.store.data_mut();
            data.tx = Some(tx);
            data.frame = frame;
            w
        }
        None => match fresh(vm, module, tx, frame) {
            Ok(w) => w,
            Err((e, mut store)) => {
                let tx = store.data_mut().tx.take().expect("transaction context");
                // (the memory was paid for: a validated module's instantiation traps
                // only where validation could not see it, and then not for free; out of
                // gas uses all of it, as everywhere)
                let outcome = classify(e, false, contract);
                let gas_used = match outcome {
                    FrameOutcome::OutOfGas => gas,
                    _ => memory_gas,
                };
                return (FrameResult::ended(outcome, gas_used), tx);
            }
        },
    };
    let pages = |w: &Warm| {
        w.store
            .data()
            .memory
            .map_or(0, |m| (m.data_size(&w.store) / 65536) as u64)
    };
    let pages_at_start = module.memory_pages;
    debug_assert_eq!(
        pages(&w),
        pages_at_start,
        "instances start at the initial memory"
    );
    // The most pages this frame's gas pays for (see `FrameLimits`).
    let affordable = pages_at_start.saturating_add(budget / gas::MEMORY_PAGE);
    w.store.data_mut().limits.affordable =
        usize::try_from(affordable.saturating_mul(65536)).unwrap_or(usize::MAX);
    w.store
        .set_fuel(budget + FUEL_RESERVE)
        .expect("fuel metering is enabled");
    match w.call_entry(module, export) {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            let depth = w
                .globals
                .last()
                .and_then(|g| g.get(&mut w.store).i32())
                .unwrap_or(0);
            let exhausted = depth as u32 > vm.config.limits.stack_budget;
            outcome = classify(e, exhausted, contract);
        }
        None => {
            let reason = format!("entry point {export} not found");
            outcome = FrameOutcome::Trap(trapped_in(contract, &reason));
        }
    }
    w.store.data_mut().limits.affordable = usize::MAX;
    let fuel_left = w.store.get_fuel().unwrap_or(0);
    if fuel_left < FUEL_RESERVE && matches!(outcome, FrameOutcome::Success) {
        // Unreachable while every function exit checks fuel; kept so an overrun can
        // never be reported as success.
        outcome = FrameOutcome::OutOfGas;
    }
    // Pages grown during the call are charged now that it is over (the instance is
    // dropped, not recycled, and its slot is reset with them).
    let grown_gas = gas::MEMORY_PAGE * pages(&w).saturating_sub(pages_at_start);
    // (the fuel started `memory_gas` short, so what it lost includes the pages)
    let mut gas_used = match outcome {
        FrameOutcome::OutOfGas => gas,
        _ => (gas + FUEL_RESERVE).saturating_sub(fuel_left).min(gas),
    };
    if gas_used.saturating_add(grown_gas) > gas {
        outcome = FrameOutcome::OutOfGas;
        gas_used = gas;
    } else {
        gas_used += grown_gas;
    }
    let data = w.store.data_mut();
    let tx = data
        .tx
        .take()
        .expect("transaction context returned to the frame");
    let return_data = match &outcome {
        FrameOutcome::Success => std::mem::take(&mut data.frame.return_data),
        FrameOutcome::Revert { data, .. } => data.clone(),
        _ => Vec::new(),
    };
    if matches!(outcome, FrameOutcome::Success) {
        // Only an instance whose call returned normally is recycled; see `warm.rs`.
        data.frame = crate::host::Frame::idle();
        module.warm.give_back(w, vm.config.verify_recycling);
    }
    (
        FrameResult {
            outcome,
            gas_used,
            return_data,
        },
        tx,
    )
}

/// A fresh Store and instance of `module`.
#[allow(clippy::result_large_err)]
fn fresh(
    vm: &VmInner,
    module: &LoadedModule,
    tx: TxCtx,
    frame: crate::host::Frame,
) -> Result<Warm, (wasmtime::Error, Store<HostState>)> {
    let max_bytes = vm.config.limits.max_memory_pages as usize * 65536;
    let limits = StoreLimitsBuilder::new()
        .memory_size(max_bytes)
        .instances(1)
        .memories(1)
        .tables(1)
        .build();
    let mut store = Store::new(
        &vm.engine,
        HostState {
            tx: Some(tx),
            frame,
            memory: None,
            limits: crate::host::FrameLimits {
                store: limits,
                affordable: usize::MAX,
            },
            dirty: crate::host::Dirty {
                shift: module.dirty_shift,
                mask: 0,
            },
        },
    );
    store.limiter(|s| &mut s.limits);
    // Instantiation (constant expressions) may consume fuel. It is not the call's gas:
    // a recycled instance skips it, and gas must not depend on which one runs.
    store
        .set_fuel(INSTANTIATION_FUEL)
        .expect("fuel metering is enabled");
    let instance = match module.pre.instantiate(&mut store) {
        Ok(i) => i,
        Err(e) => return Err((e, store)),
    };
    let memory = instance
        .get_module_export(&mut store, &module.memory)
        .and_then(|e| e.into_memory());
    let Some(memory) = memory else {
        let e = wasmtime::Error::msg("validated module lacks its memory export");
        return Err((e, store));
    };
    // Every global the instrumentation exports: the module's own, the stack depth, then
    // the dirty-chunk mask.
    let mut globals = Vec::with_capacity(module.globals.len() + 1);
    for g in module.globals.iter().chain([&module.dirty]) {
        match instance
            .get_module_export(&mut store, g)
            .and_then(|e| e.into_global())
        {
            Some(g) => globals.push(g),
            None => {
                let e = wasmtime::Error::msg("instrumented module lacks a global export");
                return Err((e, store));
            }
        }
    }
    let dirty = globals
        .pop()
        .expect("the dirty-chunk global was just pushed");
    store.data_mut().memory = Some(memory);
    module.warm.observe_fresh(&mut store, &memory, &globals);
    Ok(Warm {
        store,
        instance,
        globals,
        dirty,
        entries: vec![None; module.entry_points.len()],
    })
}

/// What [`load_contract`] found at an address.
pub(crate) enum Loaded {
    Module(std::sync::Arc<LoadedModule>),
    /// No contract record.
    NoContract,
    /// A record naming code that is not stored. Code is never deleted and a record is
    /// only written for stored code, so no consistent state has this; a speculative
    /// execution of the parallel scheduler can see it (a lower transaction that wrote
    /// the code was since re-executed without writing it). It is decided on a recorded
    /// read of the code, and the call fails like a call of a missing contract:
    /// validation then sees the record and the code read disagree with the block's
    /// final values and re-executes the transaction, whose final incarnation never
    /// gets here.
    MissingCode,
    /// Stored code that the VM's current limits reject (stored before they tightened):
    /// the call fails; the block goes on.
    Rejected(String),
}

impl Loaded {
    /// Why a call of the contract at `addr` cannot start, unless a module was found.
    fn cannot_call(&self, addr: &Address) -> Option<String> {
        let at = format!("0x{}", hex::encode(addr.0));
        match self {
            Loaded::Module(_) => None,
            Loaded::NoContract => Some(format!("no contract at {at}")),
            Loaded::MissingCode => Some(format!(
                "the contract at {at} names code that is not stored"
            )),
            Loaded::Rejected(reason) => Some(format!(
                "the code of the contract at {at} no longer passes validation: {reason}"
            )),
        }
    }
}

/// Loads the module of the contract at `addr`.
pub(crate) fn load_contract(vm: &VmInner, tx: &mut TxCtx, addr: &Address) -> Result<Loaded, Error> {
    // Every call reads this record: the key goes into the read set and the value is
    // decoded in place (no copies).
    let Some(rec) = tx.get_ref(contract_key(addr))? else {
        return Ok(Loaded::NoContract);
    };
    let rec = ContractRecord::decode(rec)
        .ok_or_else(|| Error::Engine("corrupt contract record".into()))?;
    // From memory or the disk cache without reading the code: a stored record names
    // stored code (deploy and `upgrade` check it, in recorded reads).
    // (the memory cache first: the path of nearly every call)
    if let Some(m) = vm.cached(&rec.code_hash) {
        return Ok(Loaded::Module(m));
    }
    // Code this VM already found invalid fails the same way without being read and
    // validated again (up to `max_code_size` bytes at 40-100 ns each, per call).
    if let Some(reason) = vm.rejection(&rec.code_hash) {
        return Ok(Loaded::Rejected(reason.to_string()));
    }
    if let Some(m) = vm.load_from_disk(&rec.code_hash)? {
        return Ok(Loaded::Module(m));
    }
    // Code is immutable by hash: a read that finds it is not recorded (a stored code can
    // only be the one code with that hash). A read that does not find it decides
    // nothing by itself: the decision is taken on a recorded read, which validation
    // checks (a lower transaction may have written the code in between).
    let key = code_key(&rec.code_hash);
    let code = match tx.journal.get_unrecorded(tx.view(), &key)? {
        Some(code) => code,
        None => match tx.get_ref(key)? {
            Some(code) => code.to_vec(),
            None => return Ok(Loaded::MissingCode),
        },
    };
    match vm.compile_and_link(&rec.code_hash, &code) {
        Ok(m) => Ok(Loaded::Module(m)),
        Err(Error::Code(e)) => {
            let reason = e.to_string();
            vm.reject(&rec.code_hash, &reason);
            Ok(Loaded::Rejected(reason))
        }
        Err(e) => Err(e),
    }
}

/// Calls `entry` of contract `addr` as a new frame at `depth`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn invoke(
    vm: &VmInner,
    mut tx: TxCtx,
    caller: Address,
    addr: Address,
    entry: &str,
    input: Vec<u8>,
    gas: u64,
    depth: u32,
    is_constructor: bool,
) -> (FrameResult, TxCtx) {
    if depth > limits::MAX_CALL_DEPTH {
        let r = format!("call depth limit of {} exceeded", limits::MAX_CALL_DEPTH);
        return (FrameResult::cannot(r), tx);
    }
    if !is_constructor && entry.starts_with("__") {
        return (
            FrameResult::cannot(format!("function {entry} is not callable")),
            tx,
        );
    }
    if tx.call_stack.contains(&addr) {
        let r = format!(
            "reentrancy denied: contract 0x{} is already executing",
            hex::encode(addr.0)
        );
        return (FrameResult::cannot(r), tx);
    }
    let module = match load_contract(vm, &mut tx, &addr) {
        Ok(Loaded::Module(m)) => m,
        Ok(other) => {
            let reason = other.cannot_call(&addr).unwrap_or_default();
            return (FrameResult::cannot(reason), tx);
        }
        Err(e) => return (FrameResult::ended(FrameOutcome::Fatal(e), 0), tx),
    };
    if !module.entry_points.contains_key(entry) {
        return (
            FrameResult::cannot(format!("contract has no entry point {entry}")),
            tx,
        );
    }
    if input.len() > limits::MAX_INPUT_LEN as usize {
        let r = format!(
            "call input of {} bytes is over the limit of {} (MAX_INPUT_LEN)",
            input.len(),
            limits::MAX_INPUT_LEN
        );
        return (FrameResult::cannot(r), tx);
    }
    tx.call_stack.push(addr);
    let frame = crate::host::Frame {
        contract: addr,
        caller,
        input,
        return_data: Vec::new(),
        returned: Vec::new(),
        depth,
    };
    let (res, mut tx) = run_frame(vm, tx, frame, &module, entry, gas);
    tx.call_stack.pop();
    (res, tx)
}

/// A `try_call`'s callee gets at most all but 1/`RESERVED_FOR_CALLER` of the gas left.
pub const RESERVED_FOR_CALLER: u64 = 64;

/// Whether a cross-contract call propagates failure (`call`) or reports it (`try_call`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Call,
    TryCall,
}

/// The host side of `call` and `try_call`.
pub(crate) fn call_contract(
    c: &mut Caller<'_, HostState>,
    addr: Address,
    name: String,
    args: Vec<u8>,
    gas: i64,
    kind: CallKind,
) -> Result<i64, wasmtime::Error> {
    if gas < 0 {
        return Err(crate::host::trap(format!(
            "call gas {gas} is negative (0 means all that is left)"
        )));
    }
    charge(c, gas::CALL_FRAME)?;
    let depth = c.data().frame.depth + 1;
    let me = c.data().frame.contract;
    let avail = gas_left_of(c)?;
    // A `try_call` keeps 1/64 of what is left for its caller, whatever the cap (as
    // Ethereum's EIP-150 does for every call): a callee that spends all it may still
    // leaves the caller gas to handle its failure. A `call`'s failure fails the caller
    // anyway.
    let most = match kind {
        CallKind::TryCall => avail - avail / RESERVED_FOR_CALLER,
        CallKind::Call => avail,
    };
    let callee_gas = if gas == 0 {
        most
    } else {
        (gas as u64).min(most)
    };
    let mut tx = c.data_mut().tx.take().expect("transaction context present");
    // SAFETY: the VM outlives the transaction context (see `TxCtx::new`).
    let vm = unsafe { &*tx.vm };
    let cp = tx.journal.checkpoint();
    let (res, mut tx) = invoke(vm, tx, me, addr, &name, args, callee_gas, depth, false);
    let (status, code) = match &res.outcome {
        FrameOutcome::Success => (STATUS_OK, 0),
        FrameOutcome::Revert { code, .. } => (STATUS_REVERT, *code),
        FrameOutcome::OutOfGas => (STATUS_OUT_OF_GAS, 0),
        FrameOutcome::Trap(_) | FrameOutcome::CannotCall(_) => (STATUS_TRAP, 0),
        FrameOutcome::Fatal(_) => (u32::MAX, 0),
    };
    if status != STATUS_OK && kind == CallKind::TryCall {
        tx.journal.rollback(cp);
    } else {
        // A failed `call` fails its caller, whose own checkpoint (or the end of the
        // transaction) discards the callee's writes.
        tx.journal.commit(cp);
    }
    c.data_mut().tx = Some(tx);
    set_gas_left(c, avail - res.gas_used.min(avail))?;
    match res.outcome {
        FrameOutcome::Success => {
            c.data_mut().frame.returned = res.return_data;
            Ok(0)
        }
        FrameOutcome::Fatal(Error::State(e)) => Err(abort(HostAbort::Fatal(e))),
        // (an infrastructure failure in the callee keeps its kind on the way up)
        FrameOutcome::Fatal(Error::Resource(e)) => Err(abort(HostAbort::Resource(e))),
        FrameOutcome::Fatal(Error::Engine(e)) => Err(abort(HostAbort::Engine(e))),
        FrameOutcome::Fatal(e) => Err(abort(HostAbort::Engine(e.to_string()))),
        other if kind == CallKind::Call => Err(abort(match other {
            FrameOutcome::Revert {
                code,
                data,
                contract,
            } => HostAbort::Revert {
                code,
                data,
                contract,
            },
            FrameOutcome::OutOfGas => HostAbort::OutOfGas,
            // (a callee's trap names the callee; a call that could not start is a trap
            // of the caller, named by the caller's frame)
            FrameOutcome::Trap(r) => HostAbort::Nested(r),
            FrameOutcome::CannotCall(r) => HostAbort::Trap(r),
            _ => unreachable!("handled above"),
        })),
        _ => {
            c.data_mut().frame.returned = res.return_data;
            Ok(((code as u64) << 32 | status as u64) as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread with [`EXECUTION_STACK`] starts a call and two nested calls on its own
    /// stack; one with a spawned thread's default 2 MiB would map a segment per call.
    #[test]
    fn an_execution_thread_calls_on_its_own_stack() {
        let free = std::thread::Builder::new()
            .stack_size(EXECUTION_STACK)
            .spawn(|| stacker::remaining_stack().expect("stack bounds known"))
            .expect("thread")
            .join()
            .expect("thread");
        assert!(
            free > 3 * RED_ZONE,
            "room for a call and two nested: {free}"
        );
        // (not measured on a thread of a spawned thread's default 2 MiB, which is below
        // RED_ZONE: glibc may hand such a thread a larger cached stack)
    }
}
