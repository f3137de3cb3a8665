//! The VM's error type. A contract's revert, trap or out-of-gas is *not* an
//! error: it is a [`Outcome`](crate::Outcome) in the receipt. `Error` is for
//! failures of the infrastructure (state backend, engine) and for rejected code.

/// Why code was rejected at deploy time. Each variant names the limit it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The module is larger than `max_code_size`.
    #[error("code is {size} bytes, over the limit max_code_size = {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A count (functions, imports, params, ...) is over its limit.
    #[error("{what}: {count} is over the limit {limit_name} = {limit}")]
    OverLimit {
        /// What was counted.
        what: &'static str,
        /// The limit's name in [`Limits`](crate::Limits).
        limit_name: &'static str,
        /// How many there were.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// An import outside the host ABI.
    #[error(
        "import {module}.{name} is not part of the SuperVM ABI (module {})",
        supervm_abi::IMPORT_MODULE
    )]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// An import of a host function with the wrong signature.
    #[error("import {name} has the wrong signature: expected {expected}")]
    ImportSignature {
        /// The host function.
        name: String,
        /// Its signature in the ABI.
        expected: String,
    },
    /// Only functions may be imported.
    #[error("import {name}: only functions may be imported")]
    NonFunctionImport {
        /// The import name.
        name: String,
    },
    /// Modules may not have a start function.
    #[error("modules may not have a start function")]
    StartFunction,
    /// The ABI version section is missing.
    #[error(
        "custom section {} (ABI version) is missing; build with the SuperVM SDK",
        supervm_abi::ABI_VERSION_SECTION
    )]
    MissingAbiVersion,
    /// The ABI version is not this VM's.
    #[error("ABI version {found} is not supported (this VM speaks version {expected})")]
    AbiVersion {
        /// The contract's version.
        found: u32,
        /// The VM's version.
        expected: u32,
    },
    /// The module must export its memory as "memory".
    #[error("the module must define and export exactly one memory named \"memory\"")]
    Memory,
    /// An exported entry point has a signature other than `() -> ()`.
    #[error("exported function {name} must have type () -> ()")]
    EntrySignature {
        /// The export.
        name: String,
    },
    /// The interface section is not valid.
    #[error("interface section is invalid: {0}")]
    Interface(String),
    /// The module is not valid wasm, or uses a feature outside the VM's policy.
    #[error("invalid wasm: {0}")]
    Invalid(String),
}

/// Why state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The read depends on a transaction that has not finished (parallel execution):
    /// the executing incarnation must stop and wait for it.
    #[error("read blocked on transaction {0}")]
    Blocked(usize),
    /// The storage backend failed.
    #[error("state backend: {0}")]
    Backend(String),
    /// The view does not serve this kind of read (prefix iteration at a past height).
    #[error("{0}")]
    Unsupported(String),
}

/// Errors of the VM crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Code was rejected.
    #[error("code rejected: {0}")]
    Code(#[from] CodeError),
    /// State access failed; the transaction was not executed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The wasm engine failed in a way that is not the contract's fault.
    #[error("engine: {0}")]
    Engine(String),
    /// The machine refused a resource (a thread): not the contract's doing and not the
    /// same on every node, so never a receipt; the transaction was not executed.
    #[error("resource: {0}")]
    Resource(String),
}

/// Result with the VM's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
