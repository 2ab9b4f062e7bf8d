#!/usr/bin/env bash
# Measures the runtime's weights on this machine with a release node built with the
# `runtime-benchmarks` feature (the binary scripts/bench.sh measures the chain with):
#   scripts/benchmark.sh                    # our pallets
#   scripts/benchmark.sh pallet_fx_rate     # one of them
#   scripts/benchmark.sh storage DIR        # the database's read and write weights, measured
#                                           # on the dev-chain state kept in DIR (make one with
#                                           # `scripts/bench.sh --only throughput --kinds batch
#                                           # --base-path DIR --seconds N`)
# BENCHMARK_STEPS and BENCHMARK_REPEAT (default 50 and 20) trade precision for time.
# Our pallets' weights go to their weights.rs (from scripts/frame-weight-template.hbs); the
# database's to bench-results/paritydb_weights.rs (the runtime does not take them from there
# yet: README "Benchmarks and weights"). The first release build takes long: README
# "Build cost".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
node="$(scripts/build-release.sh)/clearline-node"

if [ "${1:-}" = storage ]; then
	dir=${2:?"usage: scripts/benchmark.sh storage DIR (a dev chain's --base-path)"}
	echo "[benchmark] storage of the state in $dir -> bench-results/paritydb_weights.rs"
	mkdir -p bench-results
	# Writes in batches of 10,000 keys: a block of postings writes thousands of items, and
	# ParityDb commits a block's changes at once.
	"$node" benchmark storage \
		--dev \
		--base-path "$dir" \
		--database paritydb \
		--state-version 1 \
		--batch-size 10000 \
		--weight-path bench-results
	exit 0
fi

declare -A outputs=(
	[pallet_fx_rate]=pallets/fx-rate/src/weights.rs
	[pallet_clearing_bank]=pallets/clearing-bank/src/weights.rs
)
pallets=("$@")
[ ${#pallets[@]} -gt 0 ] || pallets=(pallet_clearing_bank pallet_fx_rate)
for pallet in "${pallets[@]}"; do
	output=${outputs[$pallet]:-}
	[ -n "$output" ] || { echo "unknown pallet $pallet (known: ${!outputs[*]})" >&2; exit 2; }
	echo "[benchmark] $pallet -> $output"
	"$node" benchmark pallet \
		--chain dev \
		--pallet "$pallet" \
		--extrinsic '*' \
		--steps "${BENCHMARK_STEPS:-50}" \
		--repeat "${BENCHMARK_REPEAT:-20}" \
		--wasm-execution compiled \
		--heap-pages 4096 \
		--template scripts/frame-weight-template.hbs \
		--output "$output"
done
