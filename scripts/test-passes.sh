#!/usr/bin/env bash
# `make test`'s pytest passes. The suite mostly waits (for processes to start, for
# sockets, for scheduled fires): with one pass at a time half of a two-core machine sat
# idle. So the PostgreSQL pass (the whole-system and browser tests again on PostgreSQL)
# runs beside the first pass, its output kept in test-artifacts/postgres-pass.log and
# printed when both are done; the tests that bring their own PostgreSQL cluster (the
# soak and its rolling faults, marker own_cluster) load the whole machine, so they run
# last, alone. Fails if any of the three fails.
set -uo pipefail
cd "$(dirname "$0")/.."
url=${1:?usage: scripts/test-passes.sh POSTGRES_URL}
python=.venv/bin/python
log=test-artifacts/postgres-pass.log
mkdir -p test-artifacts

TASKPULSE_TEST_DATABASE_URL="$url" "$python" -m pytest -p no:cacheprovider --durations=25 \
    tests/e2e tests/browser >"$log" 2>&1 &
postgres_pass=$!
trap 'kill "$postgres_pass" 2>/dev/null' INT TERM

"$python" -m pytest --durations=25 -m "not own_cluster"
first=$?
wait "$postgres_pass"
second=$?
echo "===== the PostgreSQL pass (tests/e2e and tests/browser on $url), as it printed ====="
cat "$log"
echo "===== the tests with a PostgreSQL cluster of their own ====="
"$python" -m pytest --durations=5 -m own_cluster
own=$?

echo "first pass: exit $first; PostgreSQL pass: exit $second; own-cluster tests: exit $own"
[ "$first" -eq 0 ] && [ "$second" -eq 0 ] && [ "$own" -eq 0 ]
