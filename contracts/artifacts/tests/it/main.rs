//! Integration tests of the example contracts (`token`, `counter`, `escrow`, `hotkey`,
//! `sdkcheck`) on the real VM: their behaviour through `supervm-testkit` (every entry point,
//! error code and event, failures leaving the state untouched, cross-contract escrow calls
//! and their partial rollback, the SDK helpers `sdkcheck` runs), their interface sections, a
//! golden gas trace (`tests/golden/gas.txt`, regenerated with `SUPERVM_BLESS=1`), and
//! determinism of a seeded block of mixed transactions across cold and warm module caches.

mod committed_wasm;
mod counter;
mod determinism;
mod escrow;
mod golden;
mod hotkey;
mod sdkcheck;
mod token;
mod util;
