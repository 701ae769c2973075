#!/bin/sh
# dom0-test.sh - the harness's steps, run inside the test dom0 by /init.
# Steps come from the kernel command line: xsteps=step1:step2:...
# Every result is one line on the serial console with the fixed prefix
# "XCOLO: " (see run.sh, which reads them back):
#   XCOLO: PASS name [detail]     XCOLO: FAIL name reason
#   XCOLO: SKIP name reason       XCOLO: FIGURE name value unit
#   XCOLO: INFO text
# Steps: smoke-pvh smoke-linux smoke-hvm (the guests run), refuse-pv,
# backend-pvh backend-hvm backend-linux (xen-backend-check drives the backend
# alone), perf-linux remus-linux (the backend alone against xl remus),
# colo-pvh colo-hvm colo-linux (the real xl-colo through tools/osstest's
# ts-colo-* steps, see dom0-colo.sh), disk-linux (the Linux guest with a
# replicated disk, see dom0-disk.sh), fence-pvh (ownership through an etcd
# in dom0: a stalled xl-colo start fenced, see dom0-fence.sh), net-linux (the
# Linux guest with a vif, its output held until each checkpoint's
# acknowledgement, see dom0-net.sh), cycles-pvh cycles-hvm cycles-linux
# (start -> checkpoints -> stop, again and again, the guest alive after each),
# soak-pvh soak-hvm soak-linux (xl-colo against xl remus, crashes per 1000
# checkpoints), platform (the hypervisor alone, under checkpoint-shaped
# stops): see dom0-soak.sh; shell (XEN_COLO_SHELL). After every step, a guest
# that crashed is a FAIL naming it and the step, and the guests' consoles go
# to the serial log ("XCOLO: CONSOLE").
CFG=/usr/local/share/xen-colo
CHECK=/usr/local/bin/xen-backend-check
up() { cut -d' ' -f1 /proc/uptime; }
info() { echo "XCOLO: INFO [dom0 $(up)] $*"; }
pass() { n=$1; shift; echo "XCOLO: PASS $n $*"; }
fail() { n=$1; shift; echo "XCOLO: FAIL $n $*"; }
skip() { n=$1; shift; echo "XCOLO: SKIP $n $*"; }
arg() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
conlog() { echo /var/log/xen/console/guest-$1.log; }
# waitlog FILE PATTERN SECONDS
waitlog() {
    i=0
    while [ $i -lt $3 ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 1; i=$((i+1))
    done
    return 1
}
# domstate NAME: the state column of xl list (r, b, p, s, c, d or -)
domstate() { xl list "$1" 2>/dev/null | awk 'NR==2{print $5}'; }
# running: not paused, shut down, crashed or dying ("------" is runnable)
running() { st=$(domstate "$1"); [ -n "$st" ] && case "$st" in *p*|*s*|*c*|*d*) return 1;; *) return 0;; esac; }
cleanup() { for d in $(xl list | awk 'NR>2{print $1}'); do xl destroy "$d" 2>/dev/null; done; }
newlog() { consoles "$1"; rm -f /var/log/xen/console/guest-$1*.log; }

# consoles [NAME]: the guests' consoles (all, or NAME's) and device-model
# logs into the harness's log, each line once: a guest's own last words are
# part of the record of the run.
consoles() {
    local f n seen a b
    for f in /var/log/xen/console/guest-${1:-}*.log /var/log/xen/qemu-dm-${1:-}*.log; do
        [ -s "$f" ] || continue
        n=$(basename "$f" .log); seen=/tmp/console-seen.$n
        a=$(cat "$seen" 2>/dev/null || echo 0); b=$(wc -l < "$f")
        [ "$b" -lt "$a" ] && a=0
        [ "$b" -gt "$a" ] && tail -n +$((a + 1)) "$f" | head -n $((b - a)) | tr -d '\r' | sed "s/^/XCOLO: CONSOLE $n: /"
        echo "$b" > "$seen"
    done
}

# crash_scan CONTEXT: a guest that crashed since the last scan, by Xen's
# log (a triple fault, domain_crash) or by its state in xl list, is a FAIL
# naming it and CONTEXT (a step, a cycle). Returns 1 when one is found.
DMESG=/var/log/xen/hypervisor.log
crash_scan() {
    local d name line found
    xl list 2>/dev/null | awk 'NR > 1 { print $2, $1 }' >> /tmp/domnames
    xl dmesg -c 2>/dev/null | tr -d '\r' > /tmp/dmesg.new
    cat /tmp/dmesg.new >> $DMESG
    found=0
    for d in $( (grep -a -o -E 'd[0-9]+v[0-9]+ Triple fault|domain_crash called from .*|d[0-9]+v[0-9]+ .*[Cc]rash' /tmp/dmesg.new |
                 grep -o -E '^d[0-9]+' | tr -d d
               xl list 2>/dev/null | awk 'NR > 1 && $5 ~ /c/ { print $2 }') | sort -u); do
        grep -qx "$d" /tmp/crash-reported 2>/dev/null && continue
        echo "$d" >> /tmp/crash-reported
        name=$(awk -v d="$d" '$1 == d { n = $2 } END { print n }' /tmp/domnames)
        line=$(grep -a -E "d${d}v[0-9]+ " /tmp/dmesg.new | grep -a -i -E 'triple|crash|failed' | head -n 3 | tr '\n' ';')
        fail crash-${name:-d$d} "$1: domain $d (${name:-?}) crashed: state '$(xl list 2>/dev/null | awk -v d="$d" 'NR > 1 && $2 == d { print $5 }')'; Xen: ${line:-no line}"
        consoles "$name"
        # the crashed vCPU, for the record (on_crash = "preserve" keeps it)
        xenctx -a "$d" 2>&1 | head -n 40 | sed "s/^/XCOLO: INFO   xenctx d$d: /"
        xen-hvmctx "$d" 2>&1 | head -n 80 | sed "s/^/XCOLO: INFO   hvmctx d$d: /"
        found=1
    done
    return $found
}

step_smoke_pvh() {
    newlog tinypvh
    xl create $CFG/tinypvh.cfg >/dev/null 2>&1 || { fail smoke-pvh "xl create tinypvh failed"; return; }
    sleep 2
    if running tinypvh; then pass smoke-pvh "state $(domstate tinypvh)"; else fail smoke-pvh "state '$(domstate tinypvh)'"; fi
    if [ -x $CHECK ]; then
        a=$($CHECK counter tinypvh); sleep 1; b=$($CHECK counter tinypvh)
        if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]; then pass smoke-pvh-counter "$a -> $b"
        else fail smoke-pvh-counter "counter did not move: '$a' -> '$b'"; fi
    fi
    xl destroy tinypvh
}

step_smoke_linux() {
    newlog linpvh
    t0=$(up)
    xl create $CFG/linpvh.cfg >/dev/null 2>&1 || { fail smoke-linux "xl create linpvh failed"; return; }
    if waitlog $(conlog linpvh) "KTICK 3 " 300; then
        pass smoke-linux "KTICK 3 after $(echo "$(up) $t0" | awk '{printf "%.1f", $1-$2}') s"
    else
        fail smoke-linux "no KTICK 3 within 300 s"; tail -5 $(conlog linpvh)
    fi
    xl destroy linpvh
}

step_smoke_hvm() {
    cp $CFG/hvmdisk.img /var/lib/xen-colo/hvmdisk.img
    t0=$(up)
    xl create $CFG/tinyhvm.cfg >/dev/null 2>&1 || { fail smoke-hvm "xl create tinyhvm failed"; tail -20 /var/log/xen/qemu-dm-tinyhvm.log; return; }
    sleep 5
    if running tinyhvm; then pass smoke-hvm "state $(domstate tinyhvm) after $(echo "$(up) $t0" | awk '{printf "%.1f", $1-$2}') s"
    else fail smoke-hvm "state '$(domstate tinyhvm)'"; fi
    if [ -x $CHECK ]; then
        i=0  # hvmloader and SeaBIOS come first: wait for the boot sector to run
        while [ $i -lt 60 ] && [ "$($CHECK counter tinyhvm 0x90 2>/dev/null || echo 0)" = 0 ]; do
            sleep 1; i=$((i+1))
        done
        a=$($CHECK counter tinyhvm 0x90); sleep 1; b=$($CHECK counter tinyhvm 0x90)
        if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]; then pass smoke-hvm-counter "$a -> $b"
        else fail smoke-hvm-counter "counter did not move: '$a' -> '$b'"; fi
    fi
    xl destroy tinyhvm
}

# backend NAME CFG: xen-backend-check drives colo_backend_xen_ops on a guest
step_backend() {
    name=$1; cfgf=$2; shift 2
    [ -x $CHECK ] || { skip backend-$name "no $CHECK in this image"; return; }
    newlog $name
    xl create $cfgf >/dev/null 2>&1 || { fail backend-$name "xl create $name failed"; return; }
    "$@"
    $CHECK run $name ${XN:-20} ${XINT:-300} 2>&1
    rc=$?
    if [ $rc != 0 ]; then
        fail backend-$name "xen-backend-check exit $rc"
        for f in /var/log/xen/qemu-dm-$name*.log; do
            [ -e "$f" ] && { info "--- $f"; tail -15 "$f"; }
        done
    fi
    xl list
    if [ "$name" = linpvh ]; then # the secondary's console goes on ticking
        f=$(conlog $name--colo); [ -e "$f" ] || f=$(conlog $name)
        k1=$(grep -a KTICK "$f" | tail -1 | awk '{print $2}'); sleep 10
        k2=$(grep -a KTICK "$f" | tail -1 | awk '{print $2}')
        if [ -n "$k1" ] && [ -n "$k2" ] && [ "$k2" -gt "$k1" ]; then
            pass backend-$name-ticks "the secondary's KTICK goes on after failover: $k1 -> $k2"
        else
            fail backend-$name-ticks "no new KTICK on the secondary after failover: '$k1' -> '$k2'"; tail -5 "$f"
        fi
    fi
    if [ "$name" = tinyhvm ]; then # the restarted device model serves QMP
        if $CHECK qmp $name query-status; then
            pass backend-$name-dm "the secondary's device model (restarted with the primary's state) answers QMP"
        else
            fail backend-$name-dm "the secondary's device model does not answer QMP"
        fi
    fi
    # osstest's guest_check_remus_ok, on one host: one copy runs, none crashed
    copies=$(xl list | awk -v n="$name" 'NR>1 && ($1 == n || $1 == n"--colo")' | wc -l)
    crashed=$(xl list | awk -v n="$name" 'NR>1 && ($1 == n || $1 == n"--colo") && $5 ~ /c/' | wc -l)
    if [ "$copies" = 1 ] && [ "$crashed" = 0 ] && running $name; then
        pass backend-$name-one-copy "one copy of $name runs, none crashed"
    else
        fail backend-$name-one-copy "$copies copies, $crashed crashed, state '$(domstate $name)'"
    fi
    cleanup; sleep 1
    left=$(for p in /proc/[0-9]*; do grep -q xen-domid $p/cmdline 2>/dev/null && echo ${p#/proc/}; done)
    if [ -z "$left" ]; then pass backend-$name-clean "no device model left after xl destroy"
    else fail backend-$name-clean "device models left after xl destroy: $left"; fi
}

# The baseline: xl remus on the same Linux PVH guest and interval, its
# stops seen from outside (xen-backend-check watch).
step_remus_linux() {
    [ -x $CHECK ] || { skip remus-linpvh "no $CHECK in this image"; return; }
    newlog linpvh
    xl create $CFG/linpvh.cfg >/dev/null 2>&1 || { fail remus-linpvh "xl create linpvh failed"; return; }
    waitlog $(conlog linpvh) "KTICK 3 " 300 || { fail remus-linpvh "linpvh did not boot"; xl destroy linpvh; return; }
    secs=$(( ${XN:-20} * ${XINT:-300} / 1000 + 30 ))
    $CHECK watch linpvh $((secs - 5)) remus-linpvh > /tmp/remus-watch.txt 2>&1 &
    wpid=$!
    timeout $secs xl remus -F -b -n -d -i ${XINT:-300} linpvh dummyhost > /tmp/remus.log 2>&1
    wait $wpid; wrc=$?
    cat /tmp/remus-watch.txt
    n=$(awk '/remus-linpvh.checkpoints /{print $4}' /tmp/remus-watch.txt)
    if [ $wrc = 0 ] && [ -n "$n" ] && [ "$n" -gt 0 ]; then
        pass remus-linpvh "xl remus -F -b -n -d -i ${XINT:-300}: $n checkpoints seen in $((secs - 5)) s"
    else
        fail remus-linpvh "no xl remus checkpoint seen"; tail -5 /tmp/remus.log
    fi
    xl destroy linpvh
}

# The same measure on xen-colo's backend: the same guest and interval, the
# digests left out but for the last checkpoint, its stops seen from outside.
step_perf_linux() {
    [ -x $CHECK ] || { skip colo-linpvh "no $CHECK in this image"; return; }
    newlog linpvh
    xl create $CFG/linpvh.cfg >/dev/null 2>&1 || { fail colo-linpvh "xl create linpvh failed"; return; }
    waitlog $(conlog linpvh) "KTICK 3 " 300 || { fail colo-linpvh "linpvh did not boot"; cleanup; return; }
    secs=$(( ${XN:-20} * ${XINT:-300} / 1000 + 60 ))
    XCOLO_NO_DIGEST=1 timeout $secs $CHECK run linpvh ${XN:-20} ${XINT:-300} > /tmp/colo-run.txt 2>&1 &
    cpid=$!
    # watch from the end of the initial copy (stopped here, live in the engine)
    waitlog /tmp/colo-run.txt "XCOLO: .* initial:" 120
    $CHECK watch linpvh $(( ${XN:-20} * ${XINT:-300} / 1000 + 10 )) colo-linpvh > /tmp/colo-watch.txt 2>&1 &
    wpid=$!
    wait $cpid; rc=$?
    wait $wpid
    cat /tmp/colo-watch.txt
    grep -E 'XCOLO: (FAIL|FIGURE)' /tmp/colo-run.txt | sed 's/backend-linpvh\./colo-linpvh-inside./'
    if [ $rc = 0 ]; then pass colo-linpvh "xen-colo backend, -i ${XINT:-300}: $(awk '/colo-linpvh.checkpoints /{print $4}' /tmp/colo-watch.txt) stops seen"
    else fail colo-linpvh "xen-backend-check exit $rc"; fi
    cleanup
}

# A PV guest is refused with one clear line (the guest need not even run).
step_refuse_pv() {
    [ -x $CHECK ] || { skip refuse-pv "no $CHECK in this image"; return; }
    xl create -p $CFG/linpv.cfg >/dev/null 2>&1 || { fail refuse-pv "xl create -p linpv failed"; return; }
    msg=$($CHECK refuse linpv 2>&1); rc=$?
    if [ $rc = 0 ] && echo "$msg" | grep -q "is PV: xen-colo needs HVM or PVH"; then
        pass refuse-pv "$(echo "$msg" | grep 'is PV' | head -1 | sed 's/^xl-colo: error: //')"
    else
        fail refuse-pv "rc=$rc: $msg"
    fi
    # the same refusal through the command line, before any connection
    if command -v xl-colo >/dev/null; then
        colo_key
        msg=$(xl-colo --rundir /tmp/pv start --key $XLCOLO_KEY --arbiter none linpv 127.0.0.1:7999 2>&1); rc=$?
        if [ $rc != 0 ] && echo "$msg" | grep -q "is PV: xen-colo needs HVM or PVH"; then
            pass refuse-pv-cli "xl-colo start exits $rc: $(echo "$msg" | grep 'is PV' | head -1)"
        else
            fail refuse-pv-cli "rc=$rc: $msg"
        fi
    fi
    xl destroy linpv
}

# The xen-colo steps (the real xl-colo through tools/osstest's ts-colo-*).
. /xen-colo/dom0-colo.sh
. /xen-colo/dom0-soak.sh
. /xen-colo/dom0-disk.sh
. /xen-colo/dom0-fence.sh
. /xen-colo/dom0-net.sh

XN=$(arg xn); XINT=$(arg xint); XPERF=$(arg xperf); XPERF=${XPERF:-30}
XCYCLES=$(arg xcycles); XSOAK=$(arg xsoak); XPLATFORM=$(arg xplatform)
info "xl info: $(xl info | awk '/^xen_version|^free_memory/{printf "%s=%s ", $1, $3}')"
for step in $(arg xsteps | tr ':' ' '); do
    info "=== step $step"; step_t0=$(up)
    case $step in
        smoke-pvh)   step_smoke_pvh ;;
        smoke-linux) step_smoke_linux ;;
        smoke-hvm)   step_smoke_hvm ;;
        backend-pvh) step_backend tinypvh $CFG/tinypvh.cfg sleep 1 ;;
        backend-hvm) step_backend tinyhvm $CFG/tinyhvm-mb.cfg sleep 5 ;;
        backend-linux) step_backend linpvh $CFG/linpvh.cfg waitlog $(conlog linpvh) "KTICK 3 " 300 ;;
        refuse-pv)   step_refuse_pv ;;
        remus-linux) step_remus_linux ;;
        perf-linux)  step_perf_linux ;;
        # xl remus asks a PVH guest to suspend through xenstore: the asm guest
        # has no PV drivers to answer ("domain did not respond to suspend request")
        colo-pvh)    step_colo tinypvh $CFG/tinypvh.cfg asm 7901 \
                         "xl remus cannot checkpoint a PVH guest without PV drivers (libxl's suspend goes through xenstore)" ;;
        colo-hvm)    step_colo tinyhvm $CFG/tinyhvm-mb.cfg asm 7911 remus ;;
        colo-linux)  step_colo linpvh $CFG/linpvh.cfg linux 7921 remus ;;
        disk-linux)  step_disk 8101 ;;
        fence-pvh)   step_fence 8111 ;;
        net-linux)   step_net 8121 ;;
        cycles-pvh)  step_cycles tinypvh $CFG/tinypvh.cfg asm 7931 ;;
        cycles-hvm)  step_cycles tinyhvm $CFG/tinyhvm-mb.cfg asm 7961 ;;
        cycles-linux) step_cycles linpvh $CFG/linpvh.cfg linux 7991 ;;
        soak-pvh)    step_soak tinypvh $CFG/tinypvh.cfg asm 8031 "xl remus cannot suspend a guest without PV drivers" ;;
        soak-hvm)    step_soak tinyhvm $CFG/tinyhvm-mb.cfg asm 8061 remus ;;
        soak-linux)  step_soak linpvh $CFG/linpvh.cfg linux 8091 remus ;;
        platform)    step_platform ;;
        shell)       [ -e /xen-colo/shell.sh ] && sh /xen-colo/shell.sh 2>&1 ;;
        *)           fail step-$step "unknown step" ;;
    esac
    crash_scan "step $step"
    consoles
    echo "XCOLO: TIME step $step $(echo "$(up) $step_t0" | awk '{ printf "%.0f", $1 - $2 }') s"
done
cleanup
crash_scan "the end of the run"
consoles
info "xl dmesg tail:"; grep -vE '\(d[0-9]+\) \.+$' $DMESG | tail -8
