#!/usr/bin/env bash
# Installs what SuperVM needs on a Debian 12 machine with rustup: libclang-dev (RocksDB
# bindings) and, unless rustup already has the wasm32v1-none target, Debian's rustc-web
# toolchain used to build contracts (the recipe is in scripts/build-contracts.sh and the README). Idempotent; fast when all is there.
set -euo pipefail

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup" >&2; exit 1; }

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have libclang-dev || need+=(libclang-dev)
if ! (command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32v1-none); then
    for p in rustc-web rust-web-src lld-22; do have "$p" || need+=("$p"); done
fi

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${need[*]}" >&2
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
    else
        echo "setup: missing packages; run: sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
fi
