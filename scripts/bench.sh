#!/usr/bin/env bash
# Builds the node, the services and clearline-bench, then measures on this machine:
#   1. post_payment's and transfer_keep_alive's weights, benchmarked by one node binary built
#      with the runtime-benchmarks feature, in one run;
#   2. finalized transfers and postings per second on one dev node (many signers, 60 s of
#      chain time each), and their ratio;
#   3. micropay → merchant notification latency at 100 payments/s, 1,000 payments, on the
#      dev chain and on the four-validator local network.
# Results: bench-results/results.json, throughput.png, latency.png and perf-*.txt (the node's
# profile, where perf can sample). Arguments go to clearline-bench (`--help` lists them), for
# example: scripts/bench.sh --only throughput --seconds 30
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh --bench
bin="$CARGO_TARGET_DIR/debug"
# The same profile the tests and the dev chain use (README "Throughput and latency" says what
# that means for the figures). The benchmark node first: both builds write
# $bin/clearline-node, so it is kept under its own name before the plain node is built.
echo "[bench] building clearline-node with runtime-benchmarks (first time: README 'Build cost')"
cargo build --locked -p clearline-node --features runtime-benchmarks
cp "$bin/clearline-node" "$bin/clearline-node-benchmarks"
cargo build --locked -p clearline-node -p clearline-workers -p clearline-bench
exec "$bin/clearline-bench" "$@"
