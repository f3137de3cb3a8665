//! Errors of parallel execution. A contract's failure is never one: it is the
//! transaction's receipt outcome, exactly as in sequential execution.

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The VM failed for a reason outside the contract (state backend, engine).
    #[error(transparent)]
    Vm(#[from] supervm_vm::Error),
    /// Executing a transaction panicked (on a worker thread, or on the calling
    /// thread in a sequential chunk).
    #[error("a worker thread panicked")]
    WorkerPanicked,
    /// The scheduler finished without a receipt for a transaction (a bug).
    #[error("no receipt for transaction {0} after the block finished")]
    Incomplete(usize),
    /// A key's highest version was still transaction `{0}`'s estimate (a write it was
    /// expected to redo) after the block finished (a bug: the output would be wrong).
    #[error("transaction {0}'s write was still an estimate after the block finished")]
    UnfinishedWrite(usize),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
