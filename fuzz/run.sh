#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ (see fuzz/README.md): `make fuzz` and,
# for a short smoke, `make test`.
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# For each target (all fuzz/fuzz_*.c by default): first its regression cases
# (fuzz/regressions/<target>/, each run once), then SECONDS of fuzzing from a
# copy of its seed corpus (fuzz/corpus/<target>/) in a scratch directory, so
# the repository's seeds stay as they are. Prints each target's executions
# and final corpus size (libFuzzer's count of inputs kept, and their bytes),
# and fails when any target crashed, leaked, hung or broke a check; the input
# that did it is kept under BUILD_DIR/fuzz-artifacts/ and its path printed.
# The full log of each run is BUILD_DIR/fuzz-logs/<target>.log.
set -uo pipefail
BUILD=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
SECONDS_EACH=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in "$ROOT"/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    targets+=("${name#fuzz_}")
  done
fi

ARTIFACTS="$BUILD/fuzz-artifacts"
LOGS="$BUILD/fuzz-logs"
mkdir -p "$ARTIFACTS" "$LOGS"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/entitled-fuzz.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$BUILD/fuzz_$t"
  log="$LOGS/$t.log"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing (cmake -DENTITLED_FUZZ=ON, or make fuzz)" >&2
    failed+=("$t")
    continue
  fi
  : > "$log"
  mkdir -p "$ARTIFACTS/$t"

  # 1. the regression cases, each run once
  nreg=0
  if [ -d "$ROOT/fuzz/regressions/$t" ]; then
    mapfile -t regs < <(find "$ROOT/fuzz/regressions/$t" -type f ! -name '*.md' | sort)
    nreg=${#regs[@]}
    if [ "$nreg" -gt 0 ] &&
       ! "$bin" -artifact_prefix="$ARTIFACTS/$t/" "${regs[@]}" >>"$log" 2>&1; then
      echo "fuzz: $t: a regression case fails again (fuzz/regressions/$t/); log: $log" >&2
      grep -E 'CHECK failed|ERROR:|runtime error|^Running:' "$log" | tail -n 6 >&2
      failed+=("$t")
      summary+=("$(printf '%-8s regressions FAILED' "$t")")
      continue
    fi
  fi

  # 2. fuzzing from a scratch copy of the seeds
  work="$SCRATCH/$t"
  mkdir -p "$work"
  nseed=0
  if [ -d "$ROOT/fuzz/corpus/$t" ]; then
    cp -R "$ROOT/fuzz/corpus/$t/." "$work/"
    nseed=$(find "$work" -type f | wc -l)
  fi
  echo "fuzz: $t: $nreg regression case(s), $nseed seed(s), ${SECONDS_EACH}s ..."
  before=$(ls "$ARTIFACTS/$t" | wc -l)
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=25 -print_final_stats=1 \
         -artifact_prefix="$ARTIFACTS/$t/" "$work" >>"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # libFuzzer's last "corp: <units>/<bytes>" (the scratch directory also
  # keeps inputs it replaced with smaller ones)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1)
  corp=${corp#corp: }
  line=$(printf '%-8s %4ss  %12s executions  corpus %5s inputs, %-7s (%s seeds)' \
         "$t" "$SECONDS_EACH" "${execs:-?}" "${corp%%/*}" "${corp#*/}" "$nseed")
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); log: $log" >&2
    grep -E 'CHECK failed|ERROR:|runtime error|SUMMARY' "$log" | head -n 6 >&2
    if [ "$(ls "$ARTIFACTS/$t" | wc -l)" -gt "$before" ]; then
      for f in $(ls -t "$ARTIFACTS/$t" | head -n $(( $(ls "$ARTIFACTS/$t" | wc -l) - before ))); do
        echo "fuzz: $t: the input: $ARTIFACTS/$t/$f" >&2
        echo "      (fix the bug, then keep it: cp it to fuzz/regressions/$t/<a name>)" >&2
      done
    fi
    failed+=("$t")
    summary+=("$line  FAILED")
  else
    summary+=("$line  ok")
  fi
done

echo "fuzz: summary"
for s in "${summary[@]}"; do echo "  $s"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
