#!/usr/bin/env bash
# `make bench`: entitled alone, GET, consume and PATCH of one row over 10,000 seeded
# rows, wrk -t2 -c64, a 3 s warm-up then 3 runs of 10 s; prints each run and
# the median. Not a test: nothing here asserts on timing.
set -euo pipefail
BIN=${1:-build/entitled}
HERE=$(cd "$(dirname "$0")" && pwd)
DUR=${DUR:-10}
RUNS=${RUNS:-3}
T=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# BENCH_DB, BENCH_ORG, BENCH_KEY: a database seeded elsewhere (bench/pg.py);
# otherwise a fresh SQLite file seeded here.
if [ -n "${BENCH_DB:-}" ]; then
  DB=$BENCH_DB ORG=$BENCH_ORG KEY=$BENCH_KEY
else
  DB=$T/bench.db
  read -r ORG KEY < <(python3 "$HERE/seed.py" "$BIN" "$DB" 10000)
fi
export ENTITLED_ORG=$ORG ENTITLED_KEY=$KEY ROWS=10000
echo "backend: $( [ -n "${BENCH_DB:-}" ] && echo PostgreSQL || echo SQLite )"
"$BIN" serve --listen "127.0.0.1:$PORT" --db "$DB" 2>"$T/server.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# consume before patch: patch.lua exhausts the rows consume draws from
for op in get consume patch; do
  wrk -t2 -c64 -d3s -s "$HERE/$op.lua" "http://127.0.0.1:$PORT" >/dev/null
  rates=()
  for r in $(seq 1 "$RUNS"); do
    out=$(wrk -t2 -c64 -d"${DUR}s" --latency -s "$HERE/$op.lua" "http://127.0.0.1:$PORT")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    echo "$op run $r: ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${non2xx:-0}"
    rates+=("$rps")
  done
  printf '%s\n' "${rates[@]}" | sort -n | awk -v op="$op" '{a[NR]=$1} END {print op " median: " a[int((NR+1)/2)] " req/s (min " a[1] ", max " a[NR] ")"}'
done
echo "peak RSS of the server: $(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
