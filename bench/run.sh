#!/usr/bin/env bash
# entitled alone on SQLite: GET one row, a page of 50 of a customer's list,
# consume and PATCH of one row, over 10,000 seeded rows; wrk -t2 -c64, a 3 s
# warm-up then 3 runs of 10 s (DUR, RUNS), median and min-max. The `entitled`
# section of bench/bench.py, which `make bench` runs with the alternatives.
# Not a test: nothing here asserts on timing.
# Usage: bench/run.sh [BIN]   (default build/entitled)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec python3 "$HERE/bench.py" "${1:-build/entitled}" --only entitled
