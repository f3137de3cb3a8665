#!/usr/bin/env bash
# Builds every contract of contracts/ to wasm32v1-none and copies the .wasm files to OUT_DIR.
#
#   scripts/build-contracts.sh [OUT_DIR]      (default OUT_DIR: <repo>/target/wasm)
#
# With a rustup toolchain that has the wasm32v1-none target installed, uses it. Otherwise
# uses Debian's rustc-web (1.96, at /usr/bin/rustc) with -Zbuild-std, installing it when
# run as root. Target dir: $SUPERVM_CONTRACTS_TARGET (default <repo>/target/contracts).
# Sources are built from a copy at $SUPERVM_CONTRACTS_SRC (default
# /tmp/supervm-contracts-src), so every checkout gives the same bytes (see below).
set -euo pipefail

die() {
    echo "build-contracts: error: $*" >&2
    exit 1
}

CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${1:-$CHECKOUT/target/wasm}"
TARGET_DIR="${SUPERVM_CONTRACTS_TARGET:-$CHECKOUT/target/contracts}"

# The contracts are built from a copy of their sources at one fixed path, not from the
# checkout: cargo hashes the absolute path of the path dependencies outside the contracts
# workspace (the SDK, the ABI crate) into their symbol names, and the linker's function
# order follows the names, so the same source built in two checkouts gave different bytes
# (and code hashes). Only changed files are copied (so cargo's mtime checks see them);
# a lock keeps two builds from sharing the copy at once.
REPO="${SUPERVM_CONTRACTS_SRC:-/tmp/supervm-contracts-src}"
mkdir -p "$REPO" || die "cannot create $REPO"
exec 9>"$REPO.lock"
flock 9 || die "cannot lock $REPO.lock"
sync_tree() { # copies the files of $1 to $2 where they differ, deletes what $1 lacks
    local from="$1" to="$2" f
    mkdir -p "$to"
    while IFS= read -r -d '' f; do
        if ! cmp -s "$from/$f" "$to/$f"; then
            mkdir -p "$(dirname "$to/$f")" && cp "$from/$f" "$to/$f" || die "cannot copy $from/$f"
        fi
    done < <(cd "$from" && find . -type f ! -path './target/*' ! -path '*/target/*' -print0)
    while IFS= read -r -d '' f; do
        [ -e "$from/$f" ] || rm -f "$to/$f"
    done < <(cd "$to" && find . -type f ! -path './target/*' ! -path '*/target/*' -print0)
}
for d in contracts sdk vm/abi; do
    sync_tree "$CHECKOUT/$d" "$REPO/$d"
done
# (the SDK and ABI crates inherit their version, edition and lints from the root manifest)
cmp -s "$CHECKOUT/Cargo.toml" "$REPO/Cargo.toml" || cp "$CHECKOUT/Cargo.toml" "$REPO/Cargo.toml"
MANIFEST="$REPO/contracts/Cargo.toml"
CONTRACTS=(token counter escrow hotkey sdkcheck)
TARGET=wasm32v1-none

# A nested build (from a build script or `cargo run`) must not inherit the outer build's
# settings.
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER \
    CARGO_BUILD_TARGET CARGO_BUILD_RUSTFLAGS CARGO_MAKEFLAGS MAKEFLAGS MFLAGS RUSTC RUSTDOC \
    RUSTC_BOOTSTRAP CARGO_PRIMARY_PACKAGE CARGO_MANIFEST_DIR CARGO_PKG_NAME __CARGO_FIX_PLZ
while IFS= read -r var; do
    unset "$var"
done < <(env | sed -n 's/^\(CARGO_PROFILE_[A-Za-z0-9_]*\|CARGO_TARGET_[A-Za-z0-9_]*\)=.*/\1/p')

command -v cargo >/dev/null || die "cargo not found in PATH"

# Small, deterministic memory: a 16 KiB stack, so a contract fits one 64 KiB page.
# Reproducible: no machine paths in the wasm (panic locations, debug names), so the same
# source gives the same code hash in any checkout.
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
export RUSTFLAGS="-C link-arg=-zstack-size=16384 --remap-path-prefix=$REPO=/supervm --remap-path-prefix=$CARGO_HOME_DIR=/cargo --remap-path-prefix=$TARGET_DIR=/target"

cargo_args=(build --release --manifest-path "$MANIFEST" --target "$TARGET" --target-dir "$TARGET_DIR")
# The committed lock file pins the dependencies; the first build writes it.
if [ -f "$REPO/contracts/Cargo.lock" ]; then
    cargo_args+=(--locked)
fi

if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo "build-contracts: using the rustup toolchain's $TARGET target" >&2
    TOOLCHAIN="$(rustc -vV | tr '\n' ' ')$(cargo --version) $TARGET"
    cargo "${cargo_args[@]}" || die "cargo build of the contracts failed (rustup toolchain)"
else
    # Debian's rustc-web: a rustc with the wasm targets, and the library source for build-std.
    if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || ! command -v wasm-ld-22 >/dev/null; then
        PKGS="rustc-web rust-web-src lld-22"
        if [ "$(id -u)" = 0 ]; then
            echo "build-contracts: installing $PKGS" >&2
            { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PKGS; } >&2 \
                || die "could not install $PKGS"
        else
            die "no $TARGET target in rustup and no Debian toolchain; run: sudo apt-get install -y $PKGS"
        fi
    fi
    echo "build-contracts: using $(/usr/bin/rustc --version) with -Zbuild-std" >&2
    TOOLCHAIN="$(/usr/bin/rustc -vV | tr '\n' ' ')$(cargo --version) $TARGET build-std $(dpkg-query -W -f '${Package}=${Version} ' rustc-web rust-web-src lld-22 2>/dev/null)"
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 cargo "${cargo_args[@]}" -Zbuild-std=core,alloc \
        || die "cargo build of the contracts failed (Debian rustc with -Zbuild-std)"
fi

mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
# Which compiler made these bytes: the committed copies (contracts/artifacts/wasm) are
# compared with a fresh build only when it was made by the same one.
printf '%s\n' "$TOOLCHAIN" >"$OUT_DIR/TOOLCHAIN" || die "cannot write $OUT_DIR/TOOLCHAIN"
for c in "${CONTRACTS[@]}"; do
    src="$TARGET_DIR/$TARGET/release/$c.wasm"
    [ -f "$src" ] || die "the build produced no $src"
    # The interface and ABI version live in custom sections that a toolchain change could drop.
    for section in supervm_abi_version supervm_interface; do
        grep -qaF "$section" "$src" || die "$src has no $section custom section"
    done
    cp "$src" "$OUT_DIR/$c.wasm" || die "cannot copy $src to $OUT_DIR"
    printf '%s\t%s bytes\n' "$OUT_DIR/$c.wasm" "$(wc -c <"$OUT_DIR/$c.wasm")"
done
