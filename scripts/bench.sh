#!/usr/bin/env bash
# Builds the release node, the services and clearline-bench, then measures on this machine:
#   1. post_payment's and transfer_keep_alive's weights, benchmarked by the node binary
#      measured below, in one run;
#   2. finalized transfers, single postings and batched postings per second on one dev node
#      (many signers, 60 s of chain time each), and their ratios;
#   3. micropay → merchant notification latency, open loop for 60 s (the first tenth left
#      out): 500 payments/s on the dev chain, 200/s on the four-validator local network;
#      with --search-rates R1,R2,… also the highest rate each sustains (all notified as
#      successful, latency flat); --postgres URL --acquirers 2 puts the stores on PostgreSQL
#      and splits the load over two acquirer processes.
# The node is the release build with the `runtime-benchmarks` feature: one binary serves the
# weights and the chain (the feature adds the benchmark runtime API; the calls measured run
# the same code). The tests and the dev chain keep the debug build.
# Results: bench-results/results.json, throughput.png, latency.png and perf-*.txt (the node's
# profile, where perf can sample). Arguments go to clearline-bench (`--help` lists them), for
# example: scripts/bench.sh --only throughput --seconds 30
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/setup.sh --bench
echo "[bench] building the release node, services and bench (first time: README 'Build cost')"
bin=$(scripts/build-release.sh)
exec "$bin/clearline-bench" --benchmark-node "$bin/clearline-node" "$@"
