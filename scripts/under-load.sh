#!/usr/bin/env bash
# Runs `npm test` RUNS times (default 5) beside a CPU hog on every core (stress-ng --cpu 0), each on a fresh
# PostgreSQL database, and prints each run's result and wall time: a test that needs an idle machine fails here.
# Needs stress-ng (Debian: apt-get install stress-ng) and PostgreSQL at 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"

stress-ng --cpu 0 --quiet &
hog=$!
databases=()
cleanup() {
  kill "$hog" 2>/dev/null || true
  for database in "${databases[@]}"; do
    psql -h 127.0.0.1 -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS ${database} WITH (FORCE)" || true
  done
}
trap cleanup EXIT

failed=0
results=()
for run in $(seq 1 "$runs"); do
  database="codex_pooler_load_$(date +%s)_${run}"
  psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE ${database}"
  databases+=("$database")
  started=$SECONDS
  if TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${database}" npm test >"/tmp/under-load-${run}.log" 2>&1; then
    results+=("run ${run}: passed in $((SECONDS - started)) s")
  else
    results+=("run ${run}: FAILED in $((SECONDS - started)) s (/tmp/under-load-${run}.log)")
    failed=1
  fi
  echo "${results[-1]}"
done
printf '%s\n' "${results[@]}"
exit "$failed"
