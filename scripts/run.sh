#!/usr/bin/env bash
# The main job: starts a development node (`supervm node --dev`) with embedded sharded
# RocksDB in ~/.supervm/dev, prefunded dev accounts (keys in ~/.supervm/dev/dev-keys.json),
# JSON-RPC on http://127.0.0.1:8645. Ctrl-C stops it cleanly; running it again resumes.
# Extra arguments go to `supervm node` (e.g. --data-dir DIR --listen 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
export SUPERVM_REPO_DIR="$PWD"
exec cargo run --release --locked -p supervm-node --bin supervm -- node --dev "$@"
