#!/usr/bin/env bash
# Runs the runtime benchmarks of our pallets on this machine and writes each pallet's
# weights.rs from scripts/frame-weight-template.hbs. Needs a node built with the
# `runtime-benchmarks` feature, which this script builds. The benchmarked code is the wasm
# runtime, which the wasm builder always compiles optimised; the node around it is the dev
# profile (dependencies at opt-level 1, see Cargo.toml), whose slower host functions make the
# weights somewhat conservative. A release node would take an hour to build on 2 cores.
#   scripts/benchmark.sh                 # every pallet of ours
#   scripts/benchmark.sh pallet_fx_rate  # one
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
cargo build --locked -p clearline-node --features runtime-benchmarks
node="$CARGO_TARGET_DIR/debug/clearline-node"

declare -A dirs=([pallet_fx_rate]=pallets/fx-rate [pallet_clearing_bank]=pallets/clearing-bank)
pallets=("$@")
[ ${#pallets[@]} -gt 0 ] || pallets=("${!dirs[@]}")
for pallet in "${pallets[@]}"; do
	dir=${dirs[$pallet]:-}
	[ -n "$dir" ] || { echo "unknown pallet $pallet (known: ${!dirs[*]})" >&2; exit 2; }
	echo "[benchmark] $pallet -> $dir/src/weights.rs"
	"$node" benchmark pallet \
		--chain dev \
		--pallet "$pallet" \
		--extrinsic '*' \
		--steps 50 \
		--repeat 20 \
		--wasm-execution compiled \
		--heap-pages 4096 \
		--template scripts/frame-weight-template.hbs \
		--output "$dir/src/weights.rs"
done
