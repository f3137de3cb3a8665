//! Builds the contracts to wasm with `scripts/build-contracts.sh` into `OUT_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let script = repo.join("scripts/build-contracts.sh");

    // Checkouts at different paths share one target dir in CI (.ci/run); the files named
    // below are absolute paths, so a build from another checkout must rerun: scripts/test.sh
    // exports the checkout's path in SUPERVM_REPO_DIR.
    println!("cargo:rerun-if-env-changed=SUPERVM_REPO_DIR");
    rerun_if_changed(&script);
    rerun_if_changed(&repo.join("contracts/Cargo.toml"));
    rerun_if_changed(&repo.join("contracts/Cargo.lock"));
    for c in ["token", "counter", "escrow", "hotkey", "sdkcheck"] {
        rerun_if_changed(&repo.join("contracts").join(c).join("src"));
        rerun_if_changed(&repo.join("contracts").join(c).join("Cargo.toml"));
    }
    rerun_if_changed(&repo.join("sdk/sdk"));
    rerun_if_changed(&repo.join("sdk/macros"));
    rerun_if_changed(&repo.join("vm/abi/src"));
    rerun_if_changed(&repo.join("vm/abi/Cargo.toml"));

    // A clean environment: the outer cargo's variables (RUSTFLAGS, CARGO_TARGET_DIR, the
    // jobserver, profile settings, ..) must not leak into the nested wasm build.
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .arg(&out_dir)
        .current_dir(&repo)
        .env_clear();
    for var in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "TMPDIR",
        "SUPERVM_CONTRACTS_TARGET",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    if !out.status.success() {
        panic!(
            "scripts/build-contracts.sh failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn rerun_if_changed(p: &Path) {
    println!("cargo:rerun-if-changed={}", p.display());
}
