#!/bin/bash
# boot.sh - boot Xen 4.17 + the test dom0 in QEMU (TCG) under `timeout`, and
# watch the serial console until the dom0 test script finishes.
#
# usage: boot.sh ROOT INITRD LOG XSTEPS [EXTRA_DOM0_ARGS]
# env:   BOOT_TIMEOUT  seconds until "dom0 ready" (default 300)
#        RUN_TIMEOUT   seconds for the whole run (default 2700)
#        XEN_ARGS      extra Xen command line
#        QEMU_CPU      default qemu64,+svm,+npt,+rdrand
#        QEMU          the QEMU binary (default qemu-system-x86_64)
#        QEMU_ACCEL    the accelerator (default tcg)
# Writes the raw serial log to LOG and LOG.times (host seconds of the
# milestones). Exit 0 when the test script ran to its end; 2 when the boot
# never reached dom0 (not ready in time, or QEMU ended first): nothing was
# tested, the only case a caller may retry; 3 when the run timed out; 4 when
# Xen or dom0 died after dom0 was ready.
set -uo pipefail
ROOT=$1; INITRD=$2; LOG=$3; XSTEPS=$4; EXTRA=${5:-}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}; RUN_TIMEOUT=${RUN_TIMEOUT:-2700}
QEMU=${QEMU:-qemu-system-x86_64}
CPU=${QEMU_CPU:-qemu64,+svm,+npt,+rdrand}
# dom0's vCPU is pinned to pCPU 0 (dom0_vcpus_pin) and every test guest's to
# pCPU 1 (cpus = "1" in tests/xen/*.cfg). Unpinned, under QEMU 7.2's TCG, a
# guest that is stopped, log-dirty CLEANed, has frames mapped by dom0 and is
# restarted - what every checkpoint does, xl remus's as much as xl-colo's -
# dies about once in a thousand such stops, with a triple fault at a bogus
# RIP. Raw libxenctrl calls with no xl-colo at all do it (the harness's
# "platform" step; docs/xen.md has the runs). Pinned apart, or under one TCG
# thread (QEMU_ACCEL=tcg,thread=single, many times slower), none.
ACCEL=${QEMU_ACCEL:-tcg}
KV=$(cat "$ROOT/.kernel-version")
command -v "$QEMU" >/dev/null || { echo "boot: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 2; }
XENCMD="console=com1 com1=115200,8n1 dom0_mem=1G,max:1G dom0_max_vcpus=1 dom0_vcpus_pin loglvl=warning guest_loglvl=all ${XEN_ARGS:-}"
DOM0CMD="console=hvc0 earlyprintk=xen loglevel=4 xcolo=auto xsteps=$XSTEPS $EXTRA"
case "$ROOT$INITRD" in *,*) echo "boot: paths must not contain ',' (QEMU's -initrd separator)" >&2; exit 2;; esac

rm -f "$LOG" "$LOG.times"
echo "$QEMU -accel $ACCEL -cpu $CPU -m 2G -smp 2 -nographic -no-reboot -kernel $ROOT/xen.elf -append \"$XENCMD\" -initrd \"$ROOT/boot/vmlinuz-$KV $DOM0CMD,$INITRD\"" > "$LOG.cmd"
t0=$(date +%s.%N)
el() { echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1-$2}'; }
timeout "$RUN_TIMEOUT" "$QEMU" -accel $ACCEL -cpu "$CPU" -m 2G -smp 2 -nographic -no-reboot \
    -kernel "$ROOT/xen.elf" -append "$XENCMD" \
    -initrd "$ROOT/boot/vmlinuz-$KV $DOM0CMD,$INITRD" </dev/null >"$LOG" 2>&1 &
TPID=$!   # the `timeout` process; it passes our TERM on to QEMU
stop_qemu() { kill -TERM $TPID 2>/dev/null; wait $TPID 2>/dev/null; }
trap 'stop_qemu; exit 130' INT TERM

ready=""; finished=""; rc=0
while kill -0 $TPID 2>/dev/null; do
    if [ -z "$ready" ]; then
        if grep -aq 'XCOLO: DOM0 READY' "$LOG"; then
            ready=$(el); echo "dom0_ready $ready" >> "$LOG.times"
            echo "boot: dom0 ready after $ready s" >&2
        elif awk -v e="$(el)" -v b="$BOOT_TIMEOUT" 'BEGIN{exit !(e > b)}'; then
            echo "xen boot: dom0 not ready within $BOOT_TIMEOUT s" >&2
            stop_qemu; rc=2; break
        fi
    fi
    if grep -aq 'XCOLO: TEST SCRIPT FINISHED' "$LOG"; then
        finished=$(el); echo "finished $finished" >> "$LOG.times"
        # dom0 reboots, which ends QEMU (-no-reboot); give it a moment
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $TPID 2>/dev/null || break; sleep 1; done
        stop_qemu; break
    fi
    sleep 0.5
done
wait $TPID 2>/dev/null; qrc=$?
[ $rc = 0 ] || exit $rc
[ -n "$finished" ] && exit 0
if [ $qrc = 124 ]; then
    echo "xen run: timed out after $RUN_TIMEOUT s (last lines below)" >&2; tail -15 "$LOG" | tr -d '\r' >&2; exit 3
fi
if [ -z "$ready" ]; then
    echo "xen boot: QEMU exited (status $qrc) before dom0 was ready (last lines below)" >&2
    tail -15 "$LOG" | tr -d '\r' >&2
    exit 2
else
    echo "xen run: QEMU exited (status $qrc) before the test script finished (last lines below)" >&2
fi
grep -a -m3 -A8 -E 'Panic on CPU|Kernel panic' "$LOG" | tr -d '\r' >&2 || tail -15 "$LOG" | tr -d '\r' >&2
exit 4
