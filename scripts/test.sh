#!/usr/bin/env bash
# Sets up the machine and runs every test: unit tests of all crates, runtime tests, and the
# tests that start real clearline-node processes (dev chain and the 4-validator network).
# The services' suites (flows, faults, crash points) run twice: on SQLite, then on a
# throwaway PostgreSQL cluster this script starts and always stops.
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
echo "[test] SQLite and everything else: $(( $(date +%s) - start )) s"

pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/clearline-pg.XXXXXX")
trap 'scripts/test-postgres.sh stop "$pg_dir"' EXIT
pg_url=$(scripts/test-postgres.sh start "$pg_dir")
CLEARLINE_TEST_POSTGRES="$pg_url" cargo test --locked --workspace "${features[@]}" \
	--test store --test flows --test faults --test crash_points "$@"
echo "[test] total $(( $(date +%s) - start )) s"
