#!/usr/bin/env bash
# Sets up the machine and runs every test: unit tests of all crates, runtime tests, and the
# tests that start real clearline-node processes (dev chain and the 4-validator network).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
start=$(date +%s)
# The services' crash points (the `failpoints` feature) are compiled into the test build only.
features=(--features clearline-workers/failpoints)
cargo build --locked --workspace --all-targets "${features[@]}"
echo "[test] build took $(( $(date +%s) - start )) s"
cargo test --locked --workspace "${features[@]}" "$@"
echo "[test] total $(( $(date +%s) - start )) s"
