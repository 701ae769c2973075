#!/bin/bash
# The fuzz figures for the record: every target `make fuzz` built in
# BUILDDIR (default build/) run until RUNS executions (default 10^7), one
# at a time and at nice 19 (the machine is shared), each from the
# committed seeds. One line per target (tests/fuzz/run.sh):
#   PASS|FAIL NAME runs R crashes C cov X ft Y seconds S rc N
#   tools/fuzz-report.sh [BUILDDIR [RUNS [NAME...]]]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build} runs=${2:-10000000}
shift $(($# < 2 ? $# : 2))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for b in "$build"/tests/fuzz/fuzz-*; do
        n=${b##*/fuzz-}
        case $n in *.*|seeds) continue;; esac
        [ -x "$b" ] && names+=("$n")
    done
fi
# The compare engine, the slowest, took over an hour to 10^7 on a busy
# 2-core machine.
export FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10800}
rc=0
for n in "${names[@]}"; do
    nice -n 19 "$src/tests/fuzz/run.sh" "$build" "$n" -runs="$runs" || rc=1
done
exit $rc
