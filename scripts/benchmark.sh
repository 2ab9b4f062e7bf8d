#!/usr/bin/env bash
# Measures the runtime's weights on this machine with a release node built with the
# `runtime-benchmarks` feature (the binary scripts/bench.sh measures the chain with):
#   scripts/benchmark.sh                    # our pallets and pallet_balances
#   scripts/benchmark.sh pallet_fx_rate     # one of them
#   scripts/benchmark.sh storage DIR        # the database's read and write weights, measured
#                                           # on the dev-chain state kept in DIR (make one with
#                                           # `scripts/bench.sh --only throughput --kinds batch
#                                           # --base-path DIR --seconds N`)
# Our pallets' weights go to their weights.rs (from scripts/frame-weight-template.hbs);
# pallet_balances' and the database's to runtime/src/weights/. The first release build takes
# long: README "Build cost".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh
node="$(scripts/build-release.sh)/clearline-node"

if [ "${1:-}" = storage ]; then
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
fi

declare -A outputs=(
	[pallet_fx_rate]=pallets/fx-rate/src/weights.rs
	[pallet_clearing_bank]=pallets/clearing-bank/src/weights.rs
	[pallet_balances]=runtime/src/weights/pallet_balances.rs
)
pallets=("$@")
[ ${#pallets[@]} -gt 0 ] || pallets=(pallet_clearing_bank pallet_fx_rate pallet_balances)
for pallet in "${pallets[@]}"; do
	output=${outputs[$pallet]:-}
	[ -n "$output" ] || { echo "unknown pallet $pallet (known: ${!outputs[*]})" >&2; exit 2; }
	# Our pallets get their WeightInfo trait from our template; pallet_balances has its own
	# trait, which the benchmark CLI's standard template implements.
	template=()
	case $pallet in pallet_balances) ;; *) template=(--template scripts/frame-weight-template.hbs) ;; esac
	echo "[benchmark] $pallet -> $output"
	"$node" benchmark pallet \
		--chain dev \
		--pallet "$pallet" \
		--extrinsic '*' \
		--steps 50 \
		--repeat 20 \
		--wasm-execution compiled \
		--heap-pages 4096 \
		"${template[@]}" \
		--output "$output"
done
