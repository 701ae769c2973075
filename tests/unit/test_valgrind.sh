#!/bin/bash
# test_valgrind.sh - the tests of what speaks to QEMU (test_qmp
# against QEMU, test_qmp_peer against the fake peer, test_block on real
# sidecars) and of what reads frames from a network (the proxy's compare
# engine and its service, test_proxy_*) again under valgrind (memcheck): no
# invalid access, no uninitialised use, no definite leak, every test
# passed. Skipped in the sanitizer build, which valgrind cannot run.
# Run by hand: tests/unit/test_valgrind.sh BUILDDIR
. "$(dirname "$0")/../integration/lib.sh"
[ -z "${ASAN_OPTIONS:-}" ] || { say "sanitizer build: skipped"; exit 77; }
command -v valgrind >/dev/null || die "valgrind is needed (tools/install-deps.sh)"
build=${abs_top_builddir:-${1:?usage: test_valgrind.sh BUILDDIR}}

vg=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite)
for prog in test_qmp test_qmp_peer test_block test_proxy_frames test_proxy_tcp test_proxy_bounds \
        test_proxy_commit test_proxy_rewrite; do
    rc=0
    "$build/libtool" --mode=execute "${vg[@]}" "$build/tests/unit/$prog" \
        > "$T/$prog.out" 2> "$T/$prog.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        # The cause in the FAIL line itself: CI shows only part of a log.
        fail "$prog under valgrind: exit status $rc: $(grep -v '^==' "$T/$prog.err" | tail -n 1)"
        tail -n 30 "$T/$prog.out" >&2
        cat "$T/$prog.err" >&2
        continue
    fi
    if grep -q '^==[0-9]*==' "$T/$prog.err"; then
        fail "$prog: valgrind reported: $(cat "$T/$prog.err")"
        continue
    fi
    say "$prog under valgrind: $(awk '$1 == "tests" { print $3 " of " $2 " tests ran, " $5 " failed" }' "$T/$prog.out")"
done
finish
