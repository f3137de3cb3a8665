//! Benchmark workloads as library functions: the criterion benches in
//! `benches/benches/` and the runnable examples in `examples/` call the same
//! code, so a number in `docs/benchmarks.md` can be reproduced either way.
//!
//! Every throughput figure counts only transactions that ran the real wasm
//! contract and committed (outcome `Success`, writes applied).

pub mod bare;
pub mod contention;
pub mod transfer;
