#!/usr/bin/env bash
# bench/fuzz.sh N — runs every libFuzzer target of tests/fuzz for N executions (default 100000)
# from its seed corpus and prints executions per second, one line per target. The preset is the
# ASan + UBSan `fuzz` build unless SC_FUZZ_PRESET=fuzz-fast (no sanitizers). Findings fail it.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100000}
preset=${SC_FUZZ_PRESET:-fuzz}
tools/fuzz build "$preset"
work=$(mktemp -d /tmp/sc-fuzz-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
printf '%-20s %12s %10s %10s\n' target execs seconds execs/s
for target in $(tools/fuzz list); do
  started=$(date +%s.%N)
  SC_FUZZ_PRESET=$preset SC_FUZZ_DIR="$work" tools/fuzz run "$target" -runs="$runs" >"$work/$target.log" 2>&1 || {
    echo "$target: finding; log:" >&2
    tail -n 40 "$work/$target.log" >&2
    exit 1
  }
  elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$' | tail -1)
  awk -v t="$target" -v n="$done_runs" -v s="$elapsed" 'BEGIN { printf "%-20s %12d %10.1f %10.0f\n", t, n, s, n / s }'
done
