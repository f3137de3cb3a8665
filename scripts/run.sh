#!/usr/bin/env bash
# The main job. Until the node lands (issue 5) this runs the token walk-through: it deploys
# the SDK-built token contract on the VM, transfers, and prints receipts, gas and events.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
exec cargo run --release --locked --example token_walkthrough -- "$@"
