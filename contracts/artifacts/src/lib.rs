//! The example and benchmark contracts as wasm bytes, built from `contracts/` by
//! `scripts/build-contracts.sh` when this crate builds (see `contracts/*/src` for their APIs).

/// `contracts/token`: a fungible token (`transfer` is the benchmark transaction).
pub const TOKEN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/token.wasm"));
/// `contracts/counter`: a counter, for storage, event, revert and trap tests.
pub const COUNTER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/counter.wasm"));
/// `contracts/escrow`: token swaps, calling the token contract.
pub const ESCROW: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/escrow.wasm"));
/// `contracts/hotkey`: counters under many keys, for contention workloads.
pub const HOTKEY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hotkey.wasm"));

/// Every contract, by name.
pub fn all() -> [(&'static str, &'static [u8]); 4] {
    [
        ("token", TOKEN),
        ("counter", COUNTER),
        ("escrow", ESCROW),
        ("hotkey", HOTKEY),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn contracts_are_wasm() {
        for (name, code) in super::all() {
            assert!(
                code.starts_with(b"\0asm\x01\0\0\0"),
                "{name} is not a wasm module"
            );
        }
    }
}
