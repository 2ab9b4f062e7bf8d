#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: its own directory and port, loopback only,
# trust authentication (nothing else can reach it), stopped and deleted by `stop`.
#   scripts/test-postgres.sh start DIR   prints the URL of its `postgres` database
#   scripts/test-postgres.sh stop DIR
# As root, the cluster runs as the `postgres` user the Debian package creates (PostgreSQL
# refuses to run as root).
set -euo pipefail

say() { printf '[postgres] %s\n' "$*" >&2; }
fail() { printf '[postgres] ERROR: %s\n' "$*" >&2; exit 1; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || fail "PostgreSQL's server is not installed (scripts/setup.sh installs it)"
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || fail "usage: $0 start|stop DIR"
case "$cmd" in
start)
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
		|| { cat "$dir/initdb.log" >&2; fail "initdb failed"; }
	for attempt in 1 2 3 4 5; do
		port=$(( 20000 + RANDOM % 20000 ))
		if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400" start >/dev/null; then
			echo "$port" >"$dir/port"
			say "cluster in $dir on port $port"
			echo "postgres://postgres@127.0.0.1:$port/postgres"
			exit 0
		fi
		say "port $port did not work (attempt $attempt)"
	done
	tail -20 "$dir/server.log" >&2 || true
	fail "the cluster did not start"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
	fi
	rm -rf "$dir"
	;;
*) fail "usage: $0 start|stop DIR" ;;
esac
