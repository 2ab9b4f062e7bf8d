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

# The PostgreSQL run starts the services' test programs just built. Asking cargo for only those
# targets would resolve the dependencies' features anew and build the runtime, the client and
# the services a second time (10 min measured on a warm machine).
mapfile -t pg_tests < <(cargo test --locked --no-run --message-format=json --workspace \
	"${features[@]}" "$@" 2>/dev/null | jq -r 'select(.reason == "compiler-artifact"
		and .target.kind == ["test"] and .executable != null
		and (.target.name | IN("store", "flows", "faults", "crash_points"))) | .executable')
[ "${#pg_tests[@]}" -eq 4 ] || { echo "[test] expected 4 service test programs, found: ${pg_tests[*]}" >&2; exit 1; }
# What follows `--` in this script's arguments is for the test programs themselves.
test_args=()
for ((i = 1; i <= $#; i++)); do
	if [ "${!i}" = -- ]; then test_args=("${@:i+1}"); break; fi
done
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/clearline-pg.XXXXXX")
trap 'scripts/test-postgres.sh stop "$pg_dir"' EXIT
pg_url=$(scripts/test-postgres.sh start "$pg_dir")
for program in "${pg_tests[@]}"; do
	echo "[test] on PostgreSQL: $(basename "$program")"
	# As cargo runs them: from the package's directory.
	(cd workers && CLEARLINE_TEST_POSTGRES="$pg_url" "$program" "${test_args[@]}")
done
echo "[test] total $(( $(date +%s) - start )) s"
