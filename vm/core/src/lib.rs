//! The SuperVM virtual machine.
//!
//! Contracts are wasm modules built against the host ABI of [`supervm_abi`].
//! [`Vm::execute`] runs one [`Transaction`] against a [`StateView`] and returns a
//! [`Receipt`]: outcome, gas, return data, events, and the read and write sets
//! that the parallel scheduler validates and the storage layer commits.
//!
//! ```
//! use supervm_vm::{BlockEnv, InMemoryState, Vm, VmConfig};
//! let vm = Vm::new(VmConfig::default()).unwrap();
//! let mut state = InMemoryState::new();
//! let receipts = vm.execute_block(&mut state, &BlockEnv::default(), &[]).unwrap();
//! assert!(receipts.is_empty());
//! ```
//!
//! Determinism rules, the stack budget, gas and the key layout are described in
//! `docs/design.md`; the host functions in `docs/abi.md`.

mod address;
mod config;
mod engine;
mod error;
mod execute;
mod frame;
pub mod gas;
mod host;
pub mod instrument;
pub mod interface;
mod journal;
pub mod layer;
pub mod state;
mod tx;
pub mod validate;
mod warm;

pub use address::{code_hash, contract_address};
pub use config::{FRAME_OVERHEAD, Limits, VmConfig};
pub use engine::{IDLE_INSTANCES, INSTANCE_SLOTS};
pub use error::{CodeError, Error, Result, StateError};
pub use execute::{PayloadSize, Vm, intrinsic_gas, intrinsic_gas_of};
pub use frame::{EXECUTION_STACK, RESERVED_FOR_CALLER};
pub use interface::Interface;
pub use layer::{WriteEntries, WriteLayer};
pub use state::{
    CodeRead, DeltaRead, DigestRead, InMemoryState, ReadSet, StateView, WriteSet, decode_u128,
};
pub use supervm_abi::{self as abi, Address};
pub use tx::{
    BlockEnv, CodeSource, Event, FOREIGN_TEXT_MARKERS, Outcome, Payload, Receipt, Transaction,
    UNREACHABLE_HINT, UNREACHABLE_TRAP, committed_reason,
};

/// A number from the environment variable `name` (decimal or `0x` hex), `None` if unset:
/// the seeds and case counts of the workspace's randomized tests and benchmarks. Any
/// other value panics, naming it: a run that fell back to its defaults instead would
/// not rerun the seed it was given.
pub fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v:?}: {e} (decimal or 0x hex)")))
}
