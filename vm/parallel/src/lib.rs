//! Parallel execution of SuperVM blocks, Block-STM style.
//!
//! A block executes on all cores through the real wasm VM and produces exactly
//! what [`supervm_vm::Vm::execute_block`] produces executing it one by one in
//! block order: the same receipts, gas, events and state, whatever the thread
//! count and timing. No transaction is ever dropped or reordered.
//!
//! * [`mvmemory`]: multi-version state keyed by (key, transaction index), with
//!   estimate markers for writes an aborted incarnation is expected to redo.
//! * [`scheduler`]: the collaborative execution/validation scheduler.
//! * [`view`]: what an incarnation reads — lower transactions' writes over
//!   committed state — and read-set validation, prefix iteration included (no
//!   phantom reads).
//! * [`executor`]: the worker loop and the block output with its statistics.
//! * [`occ`]: optimistic execution over the committed prefix with in-order commit and
//!   value validation, for blocks with few conflicts.
//! * [`adaptive`]: the default schedule: runs by OCC or Block-STM, or sequential
//!   chunks while contention makes optimistic execution a loss; [`overlay`] holds the
//!   earlier chunks' writes.
//!
//! ```
//! use supervm_parallel::ParallelExecutor;
//! use supervm_vm::{BlockEnv, InMemoryState, Vm, VmConfig};
//! let exec = ParallelExecutor::new(Vm::new(VmConfig::default()).unwrap(), 2);
//! let out = exec.execute_block(&InMemoryState::new(), &BlockEnv::default(), &[]).unwrap();
//! assert!(out.receipts.is_empty());
//! ```

pub mod adaptive;
pub mod bloom;
mod error;
pub mod executor;
pub mod mvmemory;
pub mod occ;
pub mod overlay;
pub mod scheduler;
#[cfg(test)]
mod test_support;
pub mod view;

pub use adaptive::Schedule;
pub use error::{Error, Result};
pub use executor::{BlockOutput, BlockStats, DEFAULT_LINGER, MAX_THREADS, ParallelExecutor};
