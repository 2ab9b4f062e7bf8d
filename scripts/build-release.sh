#!/usr/bin/env bash
# Builds the release binaries the benchmarks measure: the node with the `runtime-benchmarks`
# feature (one binary serves `benchmark pallet`/`benchmark storage` and the chain itself), the
# services and clearline-bench, in one cargo invocation so that scripts/bench.sh and
# scripts/benchmark.sh share every artifact. Prints the binaries' directory last.
# The first build is long: README "Build cost".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --locked --release -p clearline-node -p clearline-client -p clearline-workers -p clearline-bench \
	--features clearline-node/runtime-benchmarks >&2
echo "$CARGO_TARGET_DIR/release"
