#!/bin/bash
# run.sh - the real-Xen harness (`make check-xen`): Xen 4.17 with a Debian
# dom0, booted inside QEMU under TCG, running xen-colo's freshly built
# programs against real guests.
#
# usage: tests/xen/run.sh [BUILD_DIR]     (default: the current folder)
# env:
#   XEN_COLO_CACHE  downloaded and extracted packages (default /var/tmp/xen-colo-cache)
#   XSTEPS          steps run in dom0, ':'-separated (see dom0-test.sh)
#   XN, XINT        checkpoints per backend and colo step and their interval in ms (20, 300)
#   XPERF           seconds the pause sampler watches xen-colo and xl remus (30)
#   XEN_COLO_SHELL  a script run by the "shell" step (investigation)
#   BOOT_TIMEOUT    seconds until dom0 is ready (default 300)
#   RUN_TIMEOUT     seconds for the whole QEMU run (default 1500)
#   XEN_COLO_OUT    images and logs (default BUILD_DIR/tests/xen/out)
#
# Needs on the host: apt-get, dpkg-deb, gcc, binutils, cpio, qemu-system-x86.
# The Xen, kernel, toolstack and device-model packages are only downloaded and
# unpacked into the cache, never installed. Prints one line per result, then
# "N passed, N failed" (skips on stderr); exit status 0 only when every
# result passed. Also
# writes OUT/results.txt and, when tests/xen/xcolo-junit is built, JUnit XML
# in OUT/check-xen.xml.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-.}" && pwd)
OUT=${XEN_COLO_OUT:-$BUILD/tests/xen/out}
# perf-linux and remus-linux (the backend alone against xl remus) are left out
# by default: colo-linux measures the same through the real xl-colo.
XSTEPS=${XSTEPS:-smoke-pvh:smoke-linux:smoke-hvm:refuse-pv:backend-pvh:backend-hvm:backend-linux:colo-pvh:colo-hvm:colo-linux}
mkdir -p "$OUT"
LOG=$OUT/serial.log

ROOT=$("$HERE/fetch.sh" | tail -1) || { echo "check-xen: fetching the Debian packages failed" >&2; exit 1; }
"$HERE/mkimages.sh" "$ROOT" "$BUILD" "$OUT" || { echo "check-xen: building the images failed" >&2; exit 1; }
echo "check-xen: booting Xen (steps $XSTEPS); serial log: $LOG" >&2
"$HERE/boot.sh" "$ROOT" "$OUT/dom0-initrd.gz" "$LOG" "$XSTEPS" "xn=${XN:-20} xint=${XINT:-300} xperf=${XPERF:-30} ${XEN_COLO_DOM0_ARGS:-}"
brc=$?

# The results: lines "XCOLO: KIND ..." on the serial console.
tr -d '\r' < "$LOG" | grep -a -o 'XCOLO: .*' > "$OUT/results.txt" || true
grep -E '^XCOLO: (PASS|FAIL|SKIP|FIGURE)' "$OUT/results.txt" | sed 's/^XCOLO: //'
[ -s "$LOG.times" ] && sed 's/^/check-xen: time /' "$LOG.times"
npass=$(grep -c '^XCOLO: PASS' "$OUT/results.txt")
nfail=$(grep -c '^XCOLO: FAIL' "$OUT/results.txt")
nskip=$(grep -c '^XCOLO: SKIP' "$OUT/results.txt")
if [ $brc != 0 ]; then # 2 boot lost, 3 timed out, 4 Xen or dom0 died
    echo "FAIL xen-boot boot.sh exit $brc (see $LOG)"
    echo "XCOLO: FAIL xen-boot boot.sh exit $brc" >> "$OUT/results.txt"
    nfail=$((nfail + 1))
fi
if [ -x "$BUILD/tests/xen/xcolo-junit" ]; then
    "$BUILD/tests/xen/xcolo-junit" "$OUT/results.txt" "$OUT/check-xen.xml" check-xen &&
        echo "check-xen: JUnit XML: $OUT/check-xen.xml" >&2
fi
[ "$nskip" -gt 0 ] && echo "check-xen: $nskip skipped" >&2
echo "$npass passed, $nfail failed"   # .ci/run reads this very line
[ $nfail = 0 ] && [ $npass -gt 0 ]
