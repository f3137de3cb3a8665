//! Intrinsic gas: what a transaction costs before any contract code runs.
//! Wasm instructions cost 1 gas each (wasmtime fuel); host functions cost what
//! the ABI table says (`supervm_abi::host_fns::cost`).

/// Every transaction.
pub const TX_BASE: u64 = 2_000;
/// Per byte of a call's arguments and function name, or of constructor arguments.
pub const PER_ARG_BYTE: u64 = 4;
/// Per byte of uploaded code: pays for validation, instrumentation, compilation and storage.
pub const PER_CODE_BYTE: u64 = 50;
/// Creating a contract record.
pub const DEPLOY_BASE: u64 = 20_000;
/// An upload, whatever the code's size: it compiles the code (on a thread of its own),
/// writes the module to the disk cache (synced) and takes a memory-cache slot, as a
/// deploy with code does, so an upload is no cheaper a way to make a node compile.
pub const UPLOAD_BASE: u64 = 20_000;
/// Each cross-contract call (`call`, `try_call`), charged to the caller before the
/// callee's frame starts. A transaction's own first frame is covered by [`TX_BASE`].
pub const CALL_FRAME: u64 = 1_000;
/// Per 64 KiB page of linear memory beyond the first, for each call frame: a larger
/// memory has larger chunks to reset after the call (see `warm.rs`), and a grown one
/// is dropped and its pooling slot reset whole. Charged for the memory the module
/// starts with when the frame starts, and for pages grown during the call when it ends;
/// a growth past what the frame's gas pays for is out of gas at once
/// (`host::FrameLimits`).
pub const MEMORY_PAGE: u64 = 4_000;
