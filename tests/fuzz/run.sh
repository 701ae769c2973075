#!/bin/bash
# Run the fuzz targets `make fuzz` built in BUILDDIR (tests/fuzz/local.am).
#   run.sh BUILDDIR NAME [libFuzzer options...]   one target, e.g. -runs=N
#   run.sh --all BUILDDIR SECONDS                 every target for SECONDS,
#                                                 two at a time (CI)
# A target reads its seeds in tests/fuzz/corpus/NAME and keeps what it
# finds in a temporary directory, removed at the end: the committed corpus
# never changes by a run. A crash's input is kept in
# BUILDDIR/tests/fuzz/crash-NAME/. FUZZ_TIMEOUT (s, default the time asked
# plus 60, or 3600 with -runs) bounds a run. One line per target:
#   PASS|FAIL NAME runs R crashes C cov X ft Y seconds S
# then, with --all, "N passed, N failed".
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

targets() {
    for b in "$1"/tests/fuzz/fuzz-*; do
        n=${b##*/fuzz-}
        case $n in *.*|seeds) continue;; esac
        [ -x "$b" ] && echo "$n"
    done
}

if [ "${1:-}" = "--all" ]; then
    build=${2:?usage: run.sh --all BUILDDIR SECONDS} secs=${3:?usage: run.sh --all BUILDDIR SECONDS}
    names=$(targets "$build")
    [ -n "$names" ] || { echo "fuzz: no target in $build/tests/fuzz (make fuzz)"; echo "0 passed, 1 failed"; exit 1; }
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    # Two at a time: the machines have two cores.
    echo "$names" | xargs -P2 -I{} "$0" "$build" {} -max_total_time="$secs" | tee "$out"
    pass=$(grep -c '^PASS ' "$out") fail=$(grep -c '^FAIL ' "$out")
    # A target that printed no line at all failed too.
    fail=$((fail + $(echo "$names" | wc -l) - pass - fail))
    echo "${pass} passed, ${fail} failed"
    [ "$fail" = 0 ]
    exit
fi

build=${1:?usage: run.sh BUILDDIR NAME [libFuzzer options]} name=${2:?usage: run.sh BUILDDIR NAME [libFuzzer options]}
shift 2
bin=$build/tests/fuzz/fuzz-$name
[ -x "$bin" ] || { echo "FAIL $name: no $bin (make fuzz)"; exit 1; }
limit=3600
for o in "$@"; do
    case $o in -max_total_time=*) limit=$((${o#-max_total_time=} + 60));; esac
done
limit=${FUZZ_TIMEOUT:-$limit}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/new" "$tmp/art"
start=$(date +%s.%N)
# -max_len: the largest frame (65553 bytes) and a record of 16 pages fit.
timeout -k 10 "$limit" "$bin" -max_len=70000 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$tmp/art/" "$@" "$tmp/new" "$src/tests/fuzz/corpus/$name" > "$tmp/log" 2>&1
rc=$?
secs=$(echo "$start $(date +%s.%N)" | awk '{printf "%.0f", $2 - $1}')
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log" | tail -n 1)
last=$(grep -E '^#[0-9]+.*cov: ' "$tmp/log" | tail -n 1)
cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
crashes=$(find "$tmp/art" -type f | wc -l)
# A run cut by timeout (rc 124) or a signal fails with crashes 0: only an
# input libFuzzer kept is a crash.
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    verdict=FAIL
    mkdir -p "$build/tests/fuzz/crash-$name"
    cp "$tmp/log" "$build/tests/fuzz/crash-$name/log"
    cp "$tmp"/art/* "$build/tests/fuzz/crash-$name/" 2>/dev/null
    grep -E -m 5 'ERROR|check failed|SUMMARY' "$tmp/log" | sed "s/^/  $name: /"
else
    verdict=PASS
fi
echo "$verdict $name runs ${runs:-0} crashes $crashes cov ${cov:-?} ft ${ft:-?} seconds $secs rc $rc"
[ "$verdict" = PASS ]
