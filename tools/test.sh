#!/bin/bash
# Set up and run every test: tools/test.sh [--sanitize]
#   (default)   build in build/ and run `make check`
#   --sanitize  the same tests in build-asan/, under AddressSanitizer and
#               UndefinedBehaviorSanitizer
# Prints the summary line "N passed, N failed" last.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/tools/install-deps.sh" || exit 1

build="$src/build"
cfg=()
if [ "${1:-}" = "--sanitize" ]; then
    build="$src/build-asan"
    san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    cfg=(CFLAGS="-O1 -g $san" LDFLAGS="$san")
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
"$src/tools/build.sh" "$build" "${cfg[@]}" || { echo "0 passed, 1 failed"; exit 1; }
cd "$build"
make -s -j"$(nproc)" check >/dev/null 2>&1
rc=$?
# Show what failed, with its log.
for log in $(find . -name '*.log' -newer Makefile 2>/dev/null | grep -v -e config.log -e test-suite.log); do
    trs=${log%.log}.trs
    if [ -f "$trs" ] && grep -q -E '^:test-result: (FAIL|ERROR)' "$trs"; then
        echo "==== FAILED: ${log%.log}"; tail -n 40 "$log"
    fi
done
pass=$(grep -h '^# PASS:' test-suite.log 2>/dev/null | awk '{print $3}')
fail=$(grep -h -E '^# (FAIL|ERROR|XPASS):' test-suite.log 2>/dev/null | awk '{s+=$3} END {print s+0}')
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' test-suite.log >/dev/null 2>&1 || true
sed -n '/^# TOTAL/,/^# ERROR/p' test-suite.log 2>/dev/null
[ -n "$pass" ] || pass=0
[ "$rc" -eq 0 ] || [ "$fail" -gt 0 ] || fail=1
echo "${pass} passed, ${fail} failed"
exit $rc
