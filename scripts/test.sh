#!/usr/bin/env bash
# Runs every test of SuperVM: installs what is missing, builds the example contracts to
# wasm, then runs the whole workspace's tests in release mode (wasmtime and RocksDB are
# very slow unoptimized). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
# Rebuild the contracts when this checkout's path differs from the last build's (shared target dirs).
export SUPERVM_REPO_DIR="$PWD"
# Every reset of a recycled contract instance is checked against its fresh memory image.
export SUPERVM_VERIFY_RECYCLING=1
# Test threads get the stack of a thread that executes calls (supervm_vm::EXECUTION_STACK,
# 8 MiB): on the default 2 MiB every contract call in a test (the sequential reference
# runs, the SDK test harness) mapped and unmapped a stack segment of its own.
export RUST_MIN_STACK="${RUST_MIN_STACK:-8388608}"
cargo test --workspace --release --locked "$@"
# Lints, warnings denied (clippy.toml bans wall clocks and hash-order iteration in
# consensus code). Skipped with a notice where the toolchain has no clippy component.
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --workspace --all-targets --release --locked -- -D warnings
else
    echo "test.sh: clippy is not installed; lints skipped" >&2
fi
