#!/usr/bin/env bash
# Sets up the machine and runs every test: unit tests of all crates, runtime tests, and the
# tests that start real clearline-node processes (dev chain and the 4-validator network).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
start=$(date +%s)
cargo build --locked --workspace --all-targets
echo "[test] build took $(( $(date +%s) - start )) s"
cargo test --locked --workspace "$@"
echo "[test] total $(( $(date +%s) - start )) s"
