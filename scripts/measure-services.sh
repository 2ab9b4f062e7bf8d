#!/usr/bin/env bash
# Measures the services while a latency run of clearline-bench is under way (start this first,
# then the bench, on the same machine): after WAIT seconds from the acquirer's start, for 10 s,
# the CPU of the issuer, the acquirer, the bench, the (first) node and PostgreSQL's processes
# (jiffies, from /proc), their log syncs, socket sends, futex calls and context switches
# (`perf stat`), `vmstat`, and both services' Prometheus counters before and after.
#   scripts/measure-services.sh OUT_DIR [WAIT]
# README "The services measured, and what changed" shows what came of it.
set -euo pipefail
out=${1:?usage: $0 OUT_DIR [WAIT]}; wait_s=${2:-40}
mkdir -p "$out"
command -v perf >/dev/null || { echo "perf is needed" >&2; exit 1; }
until pgrep -f "release/clearline-acquirer" >/dev/null; do sleep 1; done
sleep "$wait_s"
# Metrics are on each service's admin listener (a port alone: loopback).
port_of() { tr '\0' ' ' </proc/"$1"/cmdline | grep -o -- '--admin-listen [0-9]*' | sed 's/.* //'; }
jiffies() { for p in "$@"; do awk '{print $14+$15}' /proc/"$p"/stat; done; }
postgres_jiffies() {
	for q in $(pgrep -u postgres || true); do awk '{print $14+$15}' /proc/"$q"/stat 2>/dev/null || true; done |
		awk '{s+=$1} END {print s+0}'
}
issuer=$(pgrep -f "release/clearline-issuer" | head -1)
acquirer=$(pgrep -f "release/clearline-acquirer" | head -1)
bench=$(pgrep -f "release/clearline-bench" | head -1)
node=$(pgrep -f "release/clearline-node" | head -1)
echo "pids: issuer $issuer acquirer $acquirer bench $bench node $node" >"$out/info"
curl -s "localhost:$(port_of "$issuer")/metrics" >"$out/issuer.metrics0"
curl -s "localhost:$(port_of "$acquirer")/metrics" >"$out/acquirer.metrics0"
jiffies "$issuer" "$acquirer" "$bench" "$node" >"$out/cpu0"
postgres_jiffies >"$out/postgres0"
events='syscalls:sys_enter_fsync,syscalls:sys_enter_sendto,syscalls:sys_enter_futex,context-switches'
perf stat -e "$events" -p "$issuer" -o "$out/perf-issuer.txt" -- sleep 10 &
perf stat -e "$events" -p "$acquirer" -o "$out/perf-acquirer.txt" -- sleep 10 &
vmstat 1 10 >"$out/vmstat" &
wait
jiffies "$issuer" "$acquirer" "$bench" "$node" >"$out/cpu1"
postgres_jiffies >"$out/postgres1"
curl -s "localhost:$(port_of "$issuer")/metrics" >"$out/issuer.metrics1"
curl -s "localhost:$(port_of "$acquirer")/metrics" >"$out/acquirer.metrics1"
# Cores over the 10 s: issuer, acquirer, bench, node, PostgreSQL.
paste <(cat "$out/cpu0" "$out/postgres0") <(cat "$out/cpu1" "$out/postgres1") |
	awk '{printf "%.3f\n", ($2-$1)/100/10}' >"$out/cores"
echo "cores (issuer, acquirer, bench, node, postgres):" $(cat "$out/cores")
