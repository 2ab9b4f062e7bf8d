#!/usr/bin/env bash
# Measures the runtime's weights on this machine with a release node built with the
# `runtime-benchmarks` feature (the binary scripts/bench.sh measures the chain with):
#   scripts/benchmark.sh                    # our pallets, pallet_balances and the transaction
#                                           # extensions of frame_system
#   scripts/benchmark.sh pallet_fx_rate     # one of them
#   scripts/benchmark.sh storage DIR        # the database's read and write weights, measured
#                                           # on the dev-chain state kept in DIR (make one with
#                                           # `clearline-bench --only throughput --kinds batch
#                                           # --base-path DIR --seconds N`)
#   scripts/benchmark.sh blocks DIR FROM TO # how long the blocks FROM..=TO of that state take
#                                           # to import, against their weight
# BENCHMARK_STEPS and BENCHMARK_REPEAT (default 50 and 20) trade precision for time.
# Our pallets' weights go to their weights.rs (from scripts/frame-weight-template.hbs); the
# others' and the database's to runtime/src/weights/. The first release build takes long:
# README "Build cost".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
node="$(scripts/build-release.sh)/clearline-node"

case "${1:-}" in
storage)
	dir=${2:?"usage: scripts/benchmark.sh storage DIR (a dev chain's --base-path)"}
	echo "[benchmark] storage of the state in $dir -> runtime/src/weights/paritydb_weights.rs"
	# Writes in batches of 10,000 keys: a block of postings writes thousands of items, and
	# ParityDb commits a block's changes at once.
	"$node" benchmark storage \
		--dev \
		--base-path "$dir" \
		--database paritydb \
		--state-version 1 \
		--batch-size 10000 \
		--weight-path runtime/src/weights
	exit 0
	;;
blocks)
	dir=${2:?"usage: scripts/benchmark.sh blocks DIR FROM TO"}
	"$node" benchmark block \
		--dev \
		--base-path "$dir" \
		--database paritydb \
		--from "${3:?FROM}" \
		--to "${4:?TO}" \
		--repeat "${BENCHMARK_REPEAT:-3}"
	exit 0
	;;
esac

declare -A outputs=(
	[pallet_fx_rate]=pallets/fx-rate/src/weights.rs
	[pallet_clearing_bank]=pallets/clearing-bank/src/weights.rs
	[pallet_balances]=runtime/src/weights/pallet_balances.rs
	[frame_system_extensions]=runtime/src/weights/frame_system_extensions.rs
)
pallets=("$@")
[ ${#pallets[@]} -gt 0 ] || pallets=(pallet_clearing_bank pallet_fx_rate pallet_balances frame_system_extensions)
for pallet in "${pallets[@]}"; do
	output=${outputs[$pallet]:-}
	[ -n "$output" ] || { echo "unknown pallet $pallet (known: ${!outputs[*]})" >&2; exit 2; }
	echo "[benchmark] $pallet -> $output"
	# Our pallets declare their WeightInfo from our template; the others' files implement the
	# pallet's own trait (the benchmark's default template).
	template=()
	case "$output" in pallets/*) template=(--template scripts/frame-weight-template.hbs) ;; esac
	"$node" benchmark pallet \
		--chain dev \
		--pallet "$pallet" \
		--extrinsic '*' \
		--steps "${BENCHMARK_STEPS:-50}" \
		--repeat "${BENCHMARK_REPEAT:-20}" \
		--wasm-execution compiled \
		--heap-pages 4096 \
		"${template[@]}" \
		--output "$output"
done
