//! `contract_wasm` builds a contract crate from its source, as a contract's own tests
//! use it.

use std::path::Path;

/// The repository's counter contract, built from its crate and deployed: its entry
/// points answer; a second request in the process is served without building again.
#[test]
fn a_contract_crate_is_built_and_runs() {
    let counter = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/counter");
    let wasm = supervm_testkit::contract_wasm(&counter);
    assert_eq!(&wasm[..4], b"\0asm");
    let mut env = supervm_testkit::TestEnv::new();
    let c = env.deploy(&wasm, ());
    assert_eq!(env.call(&c, "increment", ()).value::<u64>(), 1);
    assert_eq!(env.call(&c, "increment", ()).value::<u64>(), 2);
    assert_eq!(supervm_testkit::contract_wasm(&counter), wasm);
}

/// A directory without a crate is a panic naming the directory and the reason.
#[test]
#[should_panic(expected = "has no Cargo.toml")]
fn a_directory_without_a_crate_panics_saying_so() {
    supervm_testkit::contract_wasm(std::env::temp_dir().join("supervm-no-crate-here"));
}
