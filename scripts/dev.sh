#!/usr/bin/env bash
# Sets up the machine, builds the node and the `clearline` CLI, and starts the development
# chain on 127.0.0.1:9944 with its FX feeder: `clearline fx feed` publishes HKD/CNY at 0.9213 as
# Ferdie (the dev chain's feeder) whenever the latest rate is about to go stale, so that the
# chain keeps quoting however long it runs. CLEARLINE_DEV_MID changes the mid (scaled by 10^9).
# Extra arguments go to clearline-node (for example: scripts/dev.sh --base-path /tmp/cl).
# Ctrl-C (or SIGTERM) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
echo "[dev] building clearline-node and clearline (first build: see README 'Build cost')"
cargo build --locked -p clearline-node -p clearline-client --bin clearline-node --bin clearline
BIN="$CARGO_TARGET_DIR/debug"

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

echo "[dev] starting the dev chain: JSON-RPC on ws://127.0.0.1:9944 and http://127.0.0.1:9944"
# The manual-seal engine logs every sealed block twice at info level; keep one line a block.
"$BIN/clearline-node" --dev -lsc_consensus_manual_seal::rpc=warn "$@" &
pids+=($!)
for _ in $(seq 1 120); do
	if curl -sf -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"chain_getFinalizedHead","params":[]}' \
		http://127.0.0.1:9944 >/dev/null 2>&1; then
		break
	fi
	kill -0 "${pids[0]}" 2>/dev/null || { echo "[dev] the node stopped" >&2; exit 1; }
	sleep 0.5
done
echo "[dev] starting the HKD/CNY feeder (Ferdie)"
"$BIN/clearline" --url ws://127.0.0.1:9944 --key //Ferdie fx feed HKD/CNY \
	--mid "${CLEARLINE_DEV_MID:-921300000}" > >(sed -u 's/^/[feeder] /') 2>&1 &
pids+=($!)
wait -n "${pids[@]}"
