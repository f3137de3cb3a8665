//! Executing one transaction: [`Vm::execute`].

use std::sync::Arc;

use supervm_abi::{Address, CONSTRUCTOR_EXPORT};

use crate::address::{code_hash, contract_address};
use crate::config::VmConfig;
use crate::engine::VmInner;
use crate::error::{CodeError, Error, Result};
use crate::frame::{FrameOutcome, FrameResult, invoke};
use crate::gas;
use crate::host::TxCtx;
use crate::state::{ContractRecord, StateView, WriteSet, code_key, contract_key};
use crate::tx::{BlockEnv, CodeSource, Outcome, Payload, Receipt, Transaction};
use crate::validate::CodeInfo;

/// The virtual machine. Cheap to clone; share one per process so compiled
/// modules are shared.
#[derive(Clone)]
pub struct Vm {
    inner: Arc<VmInner>,
}

/// What a transaction did before its receipt is assembled.
struct Run {
    outcome: Outcome,
    gas_used: u64,
    return_data: Vec<u8>,
    contract: Option<Address>,
    code_hash: Option<[u8; 32]>,
}

impl Run {
    fn invalid(reason: impl Into<String>, gas_used: u64) -> Self {
        Run {
            outcome: Outcome::Invalid {
                reason: reason.into(),
            },
            gas_used,
            return_data: Vec::new(),
            contract: None,
            code_hash: None,
        }
    }
}

/// The sizes of a payload that its intrinsic gas depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadSize {
    /// Uploading code of `code` bytes.
    Upload {
        /// Code bytes.
        code: usize,
    },
    /// Deploying code of `code` bytes (0 for code named by hash) with constructor
    /// arguments of `init_args` bytes.
    Deploy {
        /// Code bytes.
        code: usize,
        /// Constructor argument bytes.
        init_args: usize,
    },
    /// Calling a function whose name has `function` bytes with `args` bytes of
    /// arguments.
    Call {
        /// Function name bytes.
        function: usize,
        /// Argument bytes.
        args: usize,
    },
}

impl PayloadSize {
    /// The sizes of `p`.
    pub fn of(p: &Payload) -> Self {
        match p {
            Payload::Upload { code } => PayloadSize::Upload { code: code.len() },
            Payload::Deploy {
                code, init_args, ..
            } => PayloadSize::Deploy {
                code: match code {
                    CodeSource::Wasm(c) => c.len(),
                    CodeSource::Hash(_) => 0,
                },
                init_args: init_args.len(),
            },
            Payload::Call { args, function, .. } => PayloadSize::Call {
                function: function.len(),
                args: args.len(),
            },
        }
    }
}

/// Gas a transaction costs before any code runs: [`gas::TX_BASE`] plus the per-byte
/// charges of its code and arguments (docs/abi.md). A gas limit below it makes the
/// transaction run out of gas at once, charging the whole limit; nodes refuse such
/// transactions at admission.
pub fn intrinsic_gas(tx: &Transaction) -> u64 {
    intrinsic_gas_of(PayloadSize::of(&tx.payload))
}

/// [`intrinsic_gas`] from the payload's sizes alone (no copy of the payload needed).
pub fn intrinsic_gas_of(size: PayloadSize) -> u64 {
    gas::TX_BASE
        + match size {
            PayloadSize::Upload { code } => gas::UPLOAD_BASE + gas::PER_CODE_BYTE * code as u64,
            PayloadSize::Deploy { code, init_args } => {
                gas::DEPLOY_BASE
                    + gas::PER_CODE_BYTE * code as u64
                    + gas::PER_ARG_BYTE * init_args as u64
            }
            PayloadSize::Call { function, args } => gas::PER_ARG_BYTE * (args + function) as u64,
        }
}

impl Vm {
    /// A VM with the given configuration.
    pub fn new(config: VmConfig) -> Result<Self> {
        Ok(Vm {
            inner: Arc::new(VmInner::new(config)?),
        })
    }

    /// The VM's configuration.
    pub fn config(&self) -> &VmConfig {
        &self.inner.config
    }

    /// Validates code as a deploy would, without executing anything.
    pub fn validate(&self, code: &[u8]) -> Result<CodeInfo, CodeError> {
        self.inner.prepare(code).map(|(info, _)| info)
    }

    /// Compiles code into the module cache ahead of use (node start-up, benchmarks).
    pub fn precompile(&self, code: &[u8]) -> Result<[u8; 32]> {
        let hash = code_hash(code);
        self.inner.load(&hash, code)?;
        Ok(hash)
    }

    /// Idle instances kept for reuse (reset to their freshly instantiated state).
    pub fn idle_instances(&self) -> usize {
        self.inner.idle_instances()
    }

    /// Frames so far (calls, nested calls included) that ran on a recycled instance
    /// (reset to its module's pristine state) instead of a freshly instantiated one.
    pub fn reused_instances(&self) -> u64 {
        self.inner.reused_instances()
    }

    /// Modules this VM compiled and wrote to its disk cache (a module loaded from the
    /// disk cache is not compiled again).
    pub fn compiled_modules(&self) -> u64 {
        self.inner.compiled_modules()
    }

    /// Drops every compiled module held in memory (a disk cache stays).
    pub fn clear_module_cache(&self) {
        self.inner.clear_memory_cache();
    }

    /// Executes one transaction against `view`. Never applies anything: the
    /// receipt carries the write set. `Err` means the transaction could not be
    /// executed at all (state backend failure, or a parallel read that must wait);
    /// every contract-level failure is an [`Outcome`] instead.
    pub fn execute(
        &self,
        view: &dyn StateView,
        block: &BlockEnv,
        tx: &Transaction,
    ) -> Result<Receipt> {
        let vm = &*self.inner;
        let mut ctx = TxCtx::new(view, vm, *block, tx.sender);
        let gas_limit = tx.gas_limit.min(vm.config.limits.max_tx_gas);
        let intrinsic = intrinsic_gas(tx);
        let run = if intrinsic > gas_limit {
            Run {
                outcome: Outcome::OutOfGas,
                gas_used: gas_limit,
                return_data: Vec::new(),
                contract: None,
                code_hash: None,
            }
        } else {
            let budget = gas_limit - intrinsic;
            let (run, c) = match &tx.payload {
                Payload::Upload { code } => upload(vm, ctx, code),
                Payload::Deploy {
                    code,
                    salt,
                    init_args,
                } => deploy(vm, ctx, tx.sender, code, salt, init_args, budget),
                Payload::Call {
                    contract,
                    function,
                    args,
                } => call(vm, ctx, tx.sender, *contract, function, args, budget),
            };
            ctx = c;
            let mut run = run?;
            run.gas_used += intrinsic;
            run
        };
        let logs = std::mem::take(&mut ctx.logs);
        let (writes, reads, events) = ctx.journal.finish();
        let success = run.outcome.is_success();
        Ok(Receipt {
            outcome: run.outcome,
            gas_used: run.gas_used,
            return_data: run.return_data,
            events: if success { events } else { Vec::new() },
            logs,
            contract: run.contract,
            code_hash: run.code_hash,
            read_set: reads,
            write_set: if success { writes } else { WriteSet::new() },
            executions: 1,
        })
    }

    /// Executes transactions one by one in order over `state`, applying each
    /// successful write set: the reference semantics of a block.
    pub fn execute_block(
        &self,
        state: &mut crate::state::InMemoryState,
        block: &BlockEnv,
        txs: &[Transaction],
    ) -> Result<Vec<Receipt>> {
        let mut receipts = Vec::with_capacity(txs.len());
        for tx in txs {
            let r = self.execute(&*state, block, tx)?;
            state.apply(&r.write_set);
            receipts.push(r);
        }
        Ok(receipts)
    }
}

/// Stores code under its hash, compiled first: validation errors and an engine's
/// refusal to compile make the upload invalid. So every code in state has compiled
/// once, and a later failure to compile it (a call after a restart, an `upgrade` to
/// it) is the machine's failure, not the code's: an `Err`, never a receipt.
fn store_code(vm: &VmInner, ctx: &mut TxCtx, code: &[u8]) -> Result<Result<[u8; 32], String>> {
    let hash = code_hash(code);
    match vm.load(&hash, code) {
        Ok(_) => {}
        Err(Error::Code(e)) => return Ok(Err(format!("code rejected: {e}"))),
        Err(Error::Engine(e)) => return Ok(Err(format!("compile failed: {e}"))),
        Err(e) => return Err(e),
    }
    let key = code_key(&hash);
    // (a presence read: the read set does not keep up to 512 KiB of code)
    if ctx.code_len(key.clone())?.is_none() {
        ctx.journal.put(key, Some(code.to_vec()));
    }
    Ok(Ok(hash))
}

fn upload(vm: &VmInner, mut ctx: TxCtx, code: &[u8]) -> (Result<Run>, TxCtx) {
    let r = match store_code(vm, &mut ctx, code) {
        Err(e) => Err(e),
        Ok(Err(reason)) => Ok(Run::invalid(reason, 0)),
        Ok(Ok(hash)) => Ok(Run {
            outcome: Outcome::Success,
            gas_used: 0,
            return_data: Vec::new(),
            contract: None,
            code_hash: Some(hash),
        }),
    };
    (r, ctx)
}

fn deploy(
    vm: &VmInner,
    mut ctx: TxCtx,
    sender: Address,
    code: &CodeSource,
    salt: &[u8; 32],
    init_args: &[u8],
    budget: u64,
) -> (Result<Run>, TxCtx) {
    // (a failure names the code when there is code to name: stored, or asked for by hash)
    type Failed = (String, Option<[u8; 32]>);
    let prepared = (|| -> Result<Result<([u8; 32], Address), Failed>> {
        let hash = match code {
            CodeSource::Wasm(code) => match store_code(vm, &mut ctx, code)? {
                Ok(h) => h,
                Err(reason) => return Ok(Err((reason, None))),
            },
            CodeSource::Hash(h) => {
                // (a presence read: the read set does not keep up to 512 KiB of code)
                if ctx.code_len(code_key(h))?.is_none() {
                    let reason = format!("no code with hash 0x{} was uploaded", hex::encode(h));
                    return Ok(Err((reason, Some(*h))));
                }
                *h
            }
        };
        let addr = contract_address(&sender, salt);
        let rec_key = contract_key(&addr);
        if ctx.get(&rec_key)?.is_some() {
            let reason = format!("a contract already exists at 0x{}", hex::encode(addr.0));
            return Ok(Err((reason, Some(hash))));
        }
        let rec = ContractRecord {
            code_hash: hash,
            deployer: sender,
        };
        ctx.journal.put(rec_key, Some(rec.encode()));
        Ok(Ok((hash, addr)))
    })();
    let (hash, addr) = match prepared {
        Err(e) => return (Err(e), ctx),
        Ok(Err((reason, named))) => {
            let mut run = Run::invalid(reason, 0);
            run.code_hash = named;
            return (Ok(run), ctx);
        }
        Ok(Ok(x)) => x,
    };
    let module = match crate::frame::load_contract(vm, &mut ctx, &addr) {
        Ok(crate::frame::Loaded::Module(m)) => m,
        // The record was just written by this transaction, and the code's presence read
        // or written by it too: not reachable in a consistent state, kept as a failed
        // deploy rather than a failed block. (A speculative execution that gets here
        // read the code as absent after reading it present: validation re-executes it.)
        Ok(crate::frame::Loaded::MissingCode) => {
            return (Ok(Run::invalid("the code vanished during deploy", 0)), ctx);
        }
        Ok(crate::frame::Loaded::NoContract) => {
            return (Err(Error::Engine("deployed contract vanished".into())), ctx);
        }
        // Code uploaded before the VM's limits tightened, deployed by its hash.
        Ok(crate::frame::Loaded::Rejected(reason)) => {
            return (Ok(Run::invalid(format!("code rejected: {reason}"), 0)), ctx);
        }
        // Stored code compiled when it was stored, but code stored by a build before
        // uploads compiled (or under another engine) may not: a receipt, as before,
        // rather than a failed block any user could cause by deploying it by hash.
        Err(Error::Engine(e)) => return (Ok(Run::invalid(format!("compile failed: {e}"), 0)), ctx),
        Err(e) => return (Err(e), ctx),
    };
    let mut run = Run {
        outcome: Outcome::Success,
        gas_used: 0,
        return_data: Vec::new(),
        contract: Some(addr),
        code_hash: Some(hash),
    };
    if module.entry_points.contains_key(CONSTRUCTOR_EXPORT) {
        let (res, c) = invoke(
            vm,
            ctx,
            sender,
            addr,
            CONSTRUCTOR_EXPORT,
            init_args.to_vec(),
            budget,
            1,
            true,
        );
        ctx = c;
        match finish(res) {
            Ok(r) => {
                run.outcome = r.outcome;
                run.gas_used = r.gas_used;
                run.return_data = r.return_data;
                if run.outcome != Outcome::Success {
                    // (the constructor failed: nothing was created at that address)
                    run.contract = None;
                }
            }
            Err(e) => return (Err(e), ctx),
        }
    } else if !init_args.is_empty() {
        return (
            Ok(Run::invalid(
                "constructor arguments given but the contract has no constructor",
                0,
            )),
            ctx,
        );
    }
    (Ok(run), ctx)
}

fn call(
    vm: &VmInner,
    ctx: TxCtx,
    sender: Address,
    contract: Address,
    function: &str,
    args: &[u8],
    budget: u64,
) -> (Result<Run>, TxCtx) {
    let (res, ctx) = invoke(
        vm,
        ctx,
        sender,
        contract,
        function,
        args.to_vec(),
        budget,
        1,
        false,
    );
    (finish(res), ctx)
}

fn finish(res: FrameResult) -> Result<Run> {
    let outcome = match res.outcome {
        FrameOutcome::Success => Outcome::Success,
        FrameOutcome::Revert {
            code,
            data,
            contract,
        } => Outcome::Revert {
            code,
            data,
            contract,
        },
        FrameOutcome::OutOfGas => Outcome::OutOfGas,
        FrameOutcome::Trap(reason) => Outcome::Trap { reason },
        FrameOutcome::CannotCall(reason) => Outcome::Invalid { reason },
        FrameOutcome::Fatal(e) => return Err(e),
    };
    Ok(Run {
        outcome,
        gas_used: res.gas_used,
        return_data: res.return_data,
        contract: None,
        code_hash: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn vm_is_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<super::Vm>();
    }
}
