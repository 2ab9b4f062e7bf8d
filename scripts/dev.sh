#!/usr/bin/env bash
# Sets up the machine, builds the node and starts the development chain on 127.0.0.1:9944.
# Extra arguments go to clearline-node (for example: scripts/dev.sh --base-path /tmp/cl).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
echo "[dev] building clearline-node (first build: see README 'Build cost')"
cargo build --locked -p clearline-node
echo "[dev] starting the dev chain: JSON-RPC on ws://127.0.0.1:9944 and http://127.0.0.1:9944"
# The manual-seal engine logs every sealed block twice at info level; keep one line a block.
exec "$CARGO_TARGET_DIR/debug/clearline-node" --dev -lsc_consensus_manual_seal::rpc=warn "$@"
