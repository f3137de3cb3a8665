//! The example and benchmark contracts as wasm bytes (see `contracts/*/src` for their
//! APIs).
//!
//! The constants are the committed builds in `contracts/artifacts/wasm/`, so that gas,
//! code hashes and the golden traces do not change when the machine's contract compiler
//! does (Debian updates `rustc-web`; a rustup `wasm32v1-none` target is preferred when
//! installed). This crate's build script also builds the contracts afresh with
//! `scripts/build-contracts.sh` ([`fresh`]); a test checks the committed bytes against
//! the fresh ones whenever the same compiler made both, and
//! `SUPERVM_BLESS_WASM=1 cargo test --release --workspace -- committed_wasm` replaces them.

/// `contracts/token`: a fungible token (`transfer` is the benchmark transaction).
pub const TOKEN: &[u8] = include_bytes!("../wasm/token.wasm");
/// `contracts/counter`: a counter, for storage, event, revert and trap tests.
pub const COUNTER: &[u8] = include_bytes!("../wasm/counter.wasm");
/// `contracts/escrow`: token swaps, calling the token contract.
pub const ESCROW: &[u8] = include_bytes!("../wasm/escrow.wasm");
/// `contracts/hotkey`: counters under many keys, for contention workloads.
pub const HOTKEY: &[u8] = include_bytes!("../wasm/hotkey.wasm");
/// `contracts/sdkcheck`: runs the SDK helpers the others leave unused (environment getters,
/// crypto, logs, `Map::keys`, self-upgrade, `call_typed`, `call_with_gas`, `try_call_with_gas`).
pub const SDKCHECK: &[u8] = include_bytes!("../wasm/sdkcheck.wasm");
/// The compiler that made the committed builds (`rustc --version` and target).
pub const TOOLCHAIN: &str = include_str!("../wasm/TOOLCHAIN");

/// Every contract, by name (the committed builds).
pub fn all() -> [(&'static str, &'static [u8]); 5] {
    [
        ("token", TOKEN),
        ("counter", COUNTER),
        ("escrow", ESCROW),
        ("hotkey", HOTKEY),
        ("sdkcheck", SDKCHECK),
    ]
}

/// The contracts as built from source by this build, with this machine's compiler.
pub mod fresh {
    /// The compiler that made them.
    pub const TOOLCHAIN: &str = include_str!(concat!(env!("OUT_DIR"), "/TOOLCHAIN"));

    /// Every contract, by name, in the order of [`super::all`].
    pub fn all() -> [(&'static str, &'static [u8]); 5] {
        [
            (
                "token",
                include_bytes!(concat!(env!("OUT_DIR"), "/token.wasm")),
            ),
            (
                "counter",
                include_bytes!(concat!(env!("OUT_DIR"), "/counter.wasm")),
            ),
            (
                "escrow",
                include_bytes!(concat!(env!("OUT_DIR"), "/escrow.wasm")),
            ),
            (
                "hotkey",
                include_bytes!(concat!(env!("OUT_DIR"), "/hotkey.wasm")),
            ),
            (
                "sdkcheck",
                include_bytes!(concat!(env!("OUT_DIR"), "/sdkcheck.wasm")),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn contracts_are_wasm() {
        for (name, code) in super::all().into_iter().chain(super::fresh::all()) {
            assert!(
                code.starts_with(b"\0asm\x01\0\0\0"),
                "{name} is not a wasm module"
            );
        }
    }
}
