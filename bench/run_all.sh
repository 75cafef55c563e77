#!/usr/bin/env bash
# Every benchmark of bench/README.md, one after another, on a quiet machine (about 25
# minutes). Figures go to bench/results/*.json; then `python -m bench.report` draws the
# plots and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
out=bench/results
mkdir -p "$out"
run() { name=$1; shift; echo "== $name: $*" >&2; "$PY" -m "$@" > "$out/$name.json"; }

run fanout-1 bench.fanout --clients 1 --events 200 --rate 10
run fanout-100 bench.fanout --clients 100 --events 100 --rate 10
run fanout-1000 bench.fanout --clients 1000 --events 100 --rate 10
run fanout-100-polling bench.fanout --clients 100 --events 100 --rate 10 --transport polling
run run-latency bench.run_latency --runs 100
run run-latency-pg bench.run_latency --runs 100 --database postgres
run profile-run-now-pg bench.profile_run_now --runs 40 --database postgres
run throughput bench.throughput --runs 300 --workers 2
run throughput-pg bench.throughput --runs 300 --workers 2 --database postgres
run idle-100 bench.idle_cost --pages 100 --seconds 60
run idle-500 bench.idle_cost --pages 500 --seconds 60
run schedule-lag bench.schedule_lag --tasks 10 --seconds 75
run load-1000 bench.load --clients 1000 --rate 50 --seconds 60
