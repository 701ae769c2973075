#!/bin/bash
# test_unit_run.sh - no CUnit program here passes without running its tests.
# UNIT_FAIL, read only by unit_run (tests/unit/unit-util.h), breaks a suite on
# purpose: with UNIT_FAIL=init the suite's init fails, and every program must
# exit 99 having run no test, after one line naming the suite and the cause.
# A failed cleanup (UNIT_FAIL=clean: 99) and a failed assert (UNIT_FAIL=test:
# 1) fail a program too; they run every test, so they are checked on the
# quickest program only.
#
# `make check` passes the programs in $check_programs. Run by hand:
#   tests/unit/test_unit_run.sh BUILDDIR/tests/unit/test_crc32c ...
. "$(dirname "$0")/../integration/lib.sh"

progs=("$@")
if [ $# -eq 0 ]; then
    for p in ${check_programs:-}; do
        case $p in tests/unit/test_*) progs+=("$abs_top_builddir/$p") ;; esac
    done
fi
[ ${#progs[@]} -gt 0 ] || die "no CUnit programs (run from 'make check', or name them)"

# run_broken MODE PROG: PROG with UNIT_FAIL=MODE; its status in $rc, its
# stdout in $T/out, its stderr in $T/err.
run_broken() {
    rc=0
    UNIT_FAIL=$1 "$2" > "$T/out" 2> "$T/err" || rc=$?
}

# The CUnit run summary's count: summary ROW COLUMN (Total 2, Ran 3, Failed 5).
summary() { awk -v row="$1" -v col="$2" '$1 == row { print $col }' "$T/out"; }

for prog in "${progs[@]}"; do
    name=${prog##*/}
    run_broken init "$prog"
    suite=$(sed -n "s/^WARNING - Suite initialization failed for '\(.*\)'\.$/\1/p" "$T/out")
    [ -n "$suite" ] || { fail "$name: CUnit did not see its suite init fail: $(cat "$T/out")"; continue; }
    [ "$rc" -eq 99 ] || fail "$name: exit status $rc, not 99, when its suite init failed"
    [ "$(summary tests 3)" = 0 ] || fail "$name: tests ran after its suite init failed"
    lines=$(grep -c "^suite " "$T/err" || true)
    grep -qx "suite $suite: init failed: UNIT_FAIL=init is set" "$T/err" && [ "$lines" -eq 1 ] \
        || fail "$name: not the one line naming suite $suite and the cause: $(cat "$T/err")"
    say "$name: suite $suite init failed, exit status $rc, $(summary tests 2) tests not run"
done

prog=${progs[0]}
for p in "${progs[@]}"; do
    case $p in */test_crc32c) prog=$p ;; esac
done
name=${prog##*/}

run_broken clean "$prog"
[ "$rc" -eq 99 ] || fail "$name: exit status $rc, not 99, when its suite cleanup failed"
[ "$(summary suites 5)" = 1 ] || fail "$name: CUnit did not count the failed cleanup: $(cat "$T/out")"
[ "$(summary tests 2)" = "$(summary tests 3)" ] || fail "$name: not every test ran before the cleanup"
grep -qx "suite [a-z0-9_]*: cleanup failed: UNIT_FAIL=clean is set" "$T/err" \
    || fail "$name: no line for the failed cleanup: $(cat "$T/err")"
say "$name: suite cleanup failed, exit status $rc"

run_broken test "$prog"
[ "$rc" -eq 1 ] || fail "$name: exit status $rc, not 1, when an assert failed"
[ "$(summary asserts 5)" = 1 ] && [ "$(summary tests 5)" = 1 ] \
    || fail "$name: CUnit did not count the failed test: $(cat "$T/out")"
say "$name: a failed assert, exit status $rc"
finish
