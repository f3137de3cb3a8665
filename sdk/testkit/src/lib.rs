//! An in-process environment that runs contracts on the real SuperVM.
//!
//! ```no_run
//! use supervm_testkit::TestEnv;
//! # let token_wasm: &[u8] = &[];
//! let mut env = TestEnv::new();
//! let alice = env.account("alice");
//! let bob = env.account("bob");
//! env.set_sender(alice);
//! let token = env.deploy(token_wasm, ("Coin".to_string(), "C".to_string(), 6u8, alice, 1000u128));
//! let r = env.call(&token, "transfer", (bob, 10u128));
//! assert!(r.is_success(), "{:?}", r.outcome());
//! assert_eq!(env.call(&token, "balance", (bob,)).value::<u128>(), 10);
//! ```
//!
//! Every call is a real transaction: gas is metered, failures discard writes,
//! and the receipt is what a node would produce.
//!
//! Calls run on the calling thread. Give test threads
//! [`supervm_vm::EXECUTION_STACK`] (8 MiB) of stack, e.g. in the contract project's
//! `.cargo/config.toml`:
//!
//! ```toml
//! [env]
//! RUST_MIN_STACK = "8388608"
//! ```
//!
//! On a test thread's default 2 MiB, every call maps, protects and unmaps a stack
//! segment of its own (a few tens of microseconds, and each unmapping interrupts the
//! CPUs running the test's other threads).

use supervm_abi::codec::{Decode, Encode, decode_all};
use supervm_vm::{
    Address, BlockEnv, CodeSource, Event, InMemoryState, Outcome, Payload, Receipt, Transaction,
    Vm, VmConfig,
};

pub use supervm_vm;

/// Gas limit of every call unless changed with [`TestEnv::set_gas_limit`].
pub const DEFAULT_GAS: u64 = 100_000_000;

/// An in-memory chain with one VM.
pub struct TestEnv {
    vm: Vm,
    state: InMemoryState,
    block: BlockEnv,
    sender: Address,
    gas_limit: u64,
    deploys: u64,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A fresh environment: empty state, block height 1, timestamp 1 000 000 ms, chain id 1
    /// (a `--dev` node's is 1337: see [`TestEnv::set_chain_id`]).
    pub fn new() -> Self {
        Self::with_vm(Vm::new(VmConfig::default()).expect("VM starts"))
    }

    /// A fresh environment sharing an existing VM (and its module cache).
    pub fn with_vm(vm: Vm) -> Self {
        TestEnv {
            vm,
            state: InMemoryState::new(),
            block: BlockEnv {
                height: 1,
                timestamp_ms: 1_000_000,
                chain_id: 1,
            },
            sender: Address([0xAA; 32]),
            gas_limit: DEFAULT_GAS,
            deploys: 0,
        }
    }

    /// A deterministic account address for a name.
    pub fn account(&self, name: &str) -> Address {
        Address(*blake3::hash(format!("testkit account {name}").as_bytes()).as_bytes())
    }

    /// Sets who signs the next transactions.
    pub fn set_sender(&mut self, sender: Address) {
        self.sender = sender;
    }

    /// Sets block height and timestamp (milliseconds) of the next transactions. Any
    /// values, backwards too (a node's blocks only go forwards: each is one higher, and
    /// its timestamp never lower; [`TestEnv::advance`] moves the way a node does).
    pub fn set_block(&mut self, height: u64, timestamp_ms: u64) {
        self.block.height = height;
        self.block.timestamp_ms = timestamp_ms;
    }

    /// Moves `blocks` blocks and `ms` milliseconds forwards, as a node's chain moves.
    pub fn advance(&mut self, blocks: u64, ms: u64) {
        self.block.height = self
            .block
            .height
            .checked_add(blocks)
            .expect("height overflows");
        self.block.timestamp_ms = self
            .block
            .timestamp_ms
            .checked_add(ms)
            .expect("time overflows");
    }

    /// The block the next transactions run in.
    pub fn block(&self) -> BlockEnv {
        self.block
    }

    /// Sets the chain id contracts see (`env::chain_id`).
    pub fn set_chain_id(&mut self, chain_id: u64) {
        self.block.chain_id = chain_id;
    }

    /// Sets the gas limit of the next transactions. Panics above
    /// [`supervm_abi::MAX_TX_GAS_LIMIT`], the most a node accepts: a test passing only
    /// with more would pass here and fail on every chain.
    pub fn set_gas_limit(&mut self, gas: u64) {
        assert!(
            gas <= supervm_abi::MAX_TX_GAS_LIMIT,
            "gas limit {gas} is over {}, the most a node accepts in a transaction",
            supervm_abi::MAX_TX_GAS_LIMIT
        );
        self.gas_limit = gas;
    }

    /// The VM.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The state.
    pub fn state(&self) -> &InMemoryState {
        &self.state
    }

    /// The state, to change by hand (say, to store a value no contract function writes:
    /// an empty one, or bytes that do not decode).
    pub fn state_mut(&mut self) -> &mut InMemoryState {
        &mut self.state
    }

    /// Executes a raw transaction and applies its writes.
    pub fn execute(&mut self, payload: Payload) -> CallResult {
        let tx = Transaction {
            sender: self.sender,
            gas_limit: self.gas_limit,
            payload,
        };
        let receipt = self
            .vm
            .execute(&self.state, &self.block, &tx)
            .unwrap_or_else(|e| panic!("the VM failed (not the contract): {e}"));
        self.state.apply(&receipt.write_set);
        let error = match &receipt.outcome {
            Outcome::Revert { code, contract, .. } => self.error_name(&tx.payload, contract, *code),
            _ => None,
        };
        CallResult { receipt, error }
    }

    /// The name the interface of the contract at `reverter` gives revert `code` (see
    /// [`CallResult::error_name`]): by the error type of the function that reverted
    /// when it is known (the called one, or a deploy's constructor), else by any error
    /// type that has the code.
    fn error_name(&self, payload: &Payload, reverter: &Address, code: u32) -> Option<String> {
        use supervm_vm::StateView;
        let code_of = |hash: &[u8; 32]| {
            self.state
                .get(&supervm_vm::state::code_key(hash))
                .ok()
                .flatten()
        };
        let (wasm, called) = match payload {
            // (a reverted deploy stored nothing: the code is the transaction's)
            Payload::Deploy { code: source, .. } => match source {
                CodeSource::Wasm(w) => (w.clone(), None),
                CodeSource::Hash(h) => (code_of(h)?, None),
            },
            _ => {
                let record = self
                    .state
                    .get(&supervm_vm::state::contract_key(reverter))
                    .ok()??;
                let record = supervm_vm::state::ContractRecord::decode(&record)?;
                let called = match payload {
                    Payload::Call {
                        contract, function, ..
                    } if contract == reverter => Some(function.as_str()),
                    _ => None,
                };
                (code_of(&record.code_hash)?, called)
            }
        };
        let info = supervm_vm::validate::validate(&wasm, &supervm_vm::Limits::default()).ok()?;
        let i = supervm_vm::interface::Interface::parse(info.interface.as_deref()?).ok()?;
        let function = match payload {
            Payload::Deploy { .. } => i
                .functions
                .iter()
                .find(|f| f.constructor)
                .map(|f| f.name.as_str()),
            _ => called,
        };
        i.revert_name(function, code).map(str::to_string)
    }

    /// Deploys `wasm` with constructor arguments, panicking with the outcome if it fails.
    pub fn deploy<A: Encode>(&mut self, wasm: &[u8], init_args: A) -> Address {
        let r = self.try_deploy(wasm, init_args);
        assert!(r.is_success(), "deploy failed: {}", r.describe());
        r.receipt
            .contract
            .expect("deploy receipt names the contract")
    }

    /// Deploys `wasm`, returning the receipt whatever happened. The salt counts this
    /// environment's deploys (failed ones too); [`TestEnv::try_deploy_with`] takes one.
    pub fn try_deploy<A: Encode>(&mut self, wasm: &[u8], init_args: A) -> CallResult {
        self.deploys += 1;
        let mut salt = [0u8; 32];
        salt[..8].copy_from_slice(&self.deploys.to_le_bytes());
        self.try_deploy_with(CodeSource::Wasm(wasm.to_vec()), salt, init_args)
    }

    /// Deploys code (given, or uploaded before and named by its hash) with `salt`: the
    /// address is [`supervm_vm::contract_address`] of the sender and the salt, as on a
    /// node. Returns the receipt whatever happened.
    pub fn try_deploy_with<A: Encode>(
        &mut self,
        code: CodeSource,
        salt: [u8; 32],
        init_args: A,
    ) -> CallResult {
        self.execute(Payload::Deploy {
            code,
            salt,
            init_args: init_args.encode(),
        })
    }

    /// Uploads `wasm` without deploying it (for `env::upgrade`, or deploys by hash);
    /// returns its code hash, panicking with the outcome if the upload fails.
    pub fn upload(&mut self, wasm: &[u8]) -> [u8; 32] {
        let r = self.execute(Payload::Upload {
            code: wasm.to_vec(),
        });
        assert!(r.is_success(), "upload failed: {}", r.describe());
        r.receipt.code_hash.expect("upload receipt names the code")
    }

    /// Calls `function` of `contract` with `args` (a tuple of its parameters).
    pub fn call<A: Encode>(&mut self, contract: &Address, function: &str, args: A) -> CallResult {
        self.execute(Payload::Call {
            contract: *contract,
            function: function.to_string(),
            args: args.encode(),
        })
    }
}

/// The receipt of one call, with typed accessors.
#[derive(Clone, Debug)]
pub struct CallResult {
    /// The full receipt.
    pub receipt: Receipt,
    /// A revert's error name, by the reverting contract's interface.
    error: Option<String>,
}

impl CallResult {
    /// How the call ended.
    pub fn outcome(&self) -> &Outcome {
        &self.receipt.outcome
    }

    /// Whether it succeeded.
    pub fn is_success(&self) -> bool {
        self.receipt.outcome.is_success()
    }

    /// The decoded return value; panics if the call failed or the data does not decode.
    pub fn value<R: Decode>(&self) -> R {
        assert!(self.is_success(), "call failed: {}", self.describe());
        decode_all(&self.receipt.return_data).unwrap_or_else(|e| {
            panic!(
                "return data ({} bytes) does not decode as {}: {e:?}",
                self.receipt.return_data.len(),
                std::any::type_name::<R>()
            )
        })
    }

    /// The outcome in words, naming the SDK's reserved revert codes (`BAD_INPUT`: the
    /// arguments did not decode as the entry point's parameters, often an integer
    /// literal of another width; `BAD_RESULT`, `BAD_STORAGE`).
    pub fn describe(&self) -> String {
        match self.outcome() {
            Outcome::Revert {
                code,
                data,
                contract,
            } => {
                let name = match *code {
                    supervm_abi::BAD_INPUT => {
                        " BAD_INPUT: the arguments did not decode as the entry point's parameters (check each argument's type, e.g. 10u128 rather than 10)"
                    }
                    supervm_abi::BAD_RESULT => " BAD_RESULT: a callee's return data did not decode",
                    supervm_abi::BAD_STORAGE => {
                        " BAD_STORAGE: a stored value did not decode as its type"
                    }
                    _ => "",
                };
                let error = self
                    .error_name()
                    .map_or_else(String::new, |e| format!(" {e}"));
                format!(
                    "revert{error} with code {code}{name} by contract 0x{} (data {} bytes)",
                    contract
                        .0
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>(),
                    data.len()
                )
            }
            Outcome::Trap { reason } if reason.ends_with(supervm_vm::UNREACHABLE_TRAP) => {
                format!("trap: {reason} ({})", supervm_vm::UNREACHABLE_HINT)
            }
            other => format!("{other:?}"),
        }
    }

    /// The name of the error the call reverted with, as the reverting contract's
    /// interface names its code (the variant of a `#[contract_error]` enum:
    /// `Some("InsufficientBalance")`), as the CLI names it; `None` if the call did not
    /// revert or the interface does not name the code.
    pub fn error_name(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The revert code, if the call reverted.
    pub fn revert_code(&self) -> Option<u32> {
        match self.outcome() {
            Outcome::Revert { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The contract that reverted, if the call reverted: the called one, or one beneath
    /// it in a chain of `call`s (a token's `InsufficientBalance` through a proxy names
    /// the token).
    pub fn revert_contract(&self) -> Option<Address> {
        match self.outcome() {
            Outcome::Revert { contract, .. } => Some(*contract),
            _ => None,
        }
    }

    /// Gas used.
    pub fn gas_used(&self) -> u64 {
        self.receipt.gas_used
    }

    /// All events.
    pub fn events(&self) -> &[Event] {
        &self.receipt.events
    }

    /// Events whose first topic is `name`, from any contract the call reached.
    pub fn events_named(&self, name: &str) -> Vec<&Event> {
        self.receipt
            .events
            .iter()
            .filter(|e| e.topics.first().map(|t| t.as_slice()) == Some(name.as_bytes()))
            .collect()
    }

    /// Events named `name` emitted by `contract` (two tokens' `Transfer`s kept apart).
    pub fn events_from(&self, contract: &Address, name: &str) -> Vec<&Event> {
        self.events_named(name)
            .into_iter()
            .filter(|e| e.contract == *contract)
            .collect()
    }
}

/// The wasm of the contract crate in `crate_dir`, built as `supervm contract build`
/// builds it (`supervm_build`: release, `wasm32v1-none`, into `crate_dir/target`), so a
/// contract's own tests always run its current source:
///
/// ```no_run
/// let wasm = supervm_testkit::contract_wasm(env!("CARGO_MANIFEST_DIR"));
/// let mut env = supervm_testkit::TestEnv::new();
/// let vault = env.deploy(&wasm, ());
/// ```
///
/// Built once per test process and crate (cargo finds it up to date the next time).
/// Panics with the build's error, or if the crate made more than one `.wasm`.
pub fn contract_wasm(crate_dir: impl AsRef<std::path::Path>) -> Vec<u8> {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Mutex;
    static BUILT: Mutex<BTreeMap<PathBuf, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let dir = crate_dir.as_ref().to_path_buf();
    // (held across the build: two tests asking at once build once)
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = built.get(&dir) {
        return w.clone();
    }
    let made = supervm_build::build(&dir)
        .unwrap_or_else(|e| panic!("building the contract in {}: {e}", dir.display()));
    let [wasm] = made.wasm.as_slice() else {
        panic!(
            "the crate in {} made {} .wasm files: {:?}",
            dir.display(),
            made.wasm.len(),
            made.wasm
        );
    };
    let code = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    built.insert(dir, code.clone());
    code
}

/// Decodes one topic or event data blob.
pub fn decode<T: Decode>(bytes: &[u8]) -> T {
    decode_all(bytes).unwrap_or_else(|e| panic!("does not decode: {e:?}"))
}
