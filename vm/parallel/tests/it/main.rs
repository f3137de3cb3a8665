//! Differential tests of the parallel executor against the sequential one: the
//! same receipts (byte for byte, but for the `executions` metadata), gas, events
//! and state, for random blocks of real wasm contract calls with reverts,
//! out-of-gas, traps, cross-contract calls and prefix iteration (over committed keys,
//! other transactions' deletions and a transaction's own), at 1, 2, 4 and 8 threads;
//! blocks that deploy, upload and upgrade code while calling it; deep call chains at
//! the most workers. Every case prints its seed; `SUPERVM_SEED=<seed>` reruns one case,
//! `SUPERVM_PAR_SCALE=<k>` multiplies the number of cases.

mod code_changes;
mod differential;
mod large_values;
mod workload;
