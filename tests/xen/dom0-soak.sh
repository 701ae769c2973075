# dom0-soak.sh - the guest stays alive: start -> checkpoints -> stop cycles
# (cycles-pvh, cycles-hvm, cycles-linux: make soak-xen, or XSTEPS) and the soak
# (soak-pvh, soak-hvm, soak-linux: make soak-xen). Sourced by dom0-test.sh
# after dom0-colo.sh: it uses their helpers (ts, boot_guest, wait_epoch, ...).
#
# cycles-G: one boot of G, then XCYCLES times (20): ts-colo-start, XCYCLE_N
#   acknowledged checkpoints, `xl-colo stop`, and the guest must stay alive
#   for XCYCLE_ALIVE s (2; 5 after the last cycle; alive_over: its own
#   progress counter moves, the same domain id throughout, never crashed).
#   A crash is reported with its cycle number.
# soak-G: at least XSOAK (500) checkpoints of xl-colo at -i XSOAK_INT (100),
#   then as many of `xl remus -F -b -n -d` at the same interval on a fresh
#   boot of the same guest, where remus can run. Reports the checkpoints and
#   the crashes of each, and crashes per 1000 checkpoints.
# platform: the hypervisor under the harness, with no xl-colo at all: three
#   asm PVH guests and one asm HVM guest, each taken XPLATFORM (1500) times
#   through a checkpoint's shape by raw libxenctrl calls (pause, log-dirty
#   CLEAN, map and read 1024 frames, unpause: xen-backend-check stress
#   cleanmap-early, what libxc's save does for xl remus), pinned as every
#   test guest is (boot.sh). Unpinned, under QEMU's TCG, this kills about
#   one guest in a thousand such stops (a triple fault at a bogus RIP,
#   docs/xen.md); pinned apart, none.

# progress G KIND [CONSOLE]: the guest's own progress: the asm guests' pass
# counter, the Linux guest's last KTICK on its console (CONSOLE, default G's).
progress() {
    case $2 in
        linux) last_ktick "${3:-$(conlog "$1")}" ;;
        *) counter_of "$1" ;;
    esac
}

# alive_over G KIND DOMID SECONDS [CONSOLE]: G keeps DOMID, never crashes
# and its progress moves on over SECONDS (looked at about once a second: xl
# itself takes a good part of a second under TCG). Sets why.
alive_over() {
    local p0 p1 t0 n l el
    why=""
    p0=$(progress "$1" "$2" "${5:-}"); t0=$(up); n=0
    while :; do
        l=$(xl list 2>/dev/null | awk -v g="$1" 'NR > 1 && $1 == g { print $2, $5 }')
        set -- "$1" "$2" "$3" "$4" "${5:-}" $l
        [ "${6:-}" = "$3" ] || { why="domain id '${6:-}', was $3 (after $n looks)"; return 1; }
        case ${7:-} in *c*|*s*) why="state '${7:-}' (crashed or shut down)"; return 1 ;; esac
        n=$((n + 1))
        [ "$(echo "$(up) $t0 $4" | awk '{ print ($1 - $2 >= $3) }')" = 1 ] && [ $n -ge 2 ] && break
        sleep 1
    done
    p1=$(progress "$1" "$2" "${5:-}")
    el=$(echo "$(up) $t0" | awk '{ printf "%.1f", $1 - $2 }')
    if [ -z "$p0" ] || [ -z "$p1" ] || [ "$p1" -le "$p0" ]; then
        why="progress '$p0' -> '$p1' in $el s (state ${7:-})"
        return 1
    fi
    why="progress $p0 -> $p1 in $el s, domain $3 in all $n looks"
    return 0
}

# stop_protection G L: xl-colo stop; both sides gone
stop_protection() {
    xl-colo --rundir /run/xen-colo stop "$1" > /tmp/stop.out 2>&1 &&
        wait_gone "$2/$1.primary.pid" 60 && wait_gone "$2/$1.secondary.pid" 60
}

kill_protection() {
    for f in "$1"/*.pid; do pid_ok "$f" && kill -9 "$(cat "$f")"; done 2>/dev/null
    xl destroy "$2--colo" 2>/dev/null
}

step_cycles() {
    local g=$1 cfgf=$2 kind=$3 port=$4 t=cycles-$1 want=${XCYCLES:-20} k=${XCYCLE_N:-3}
    local id c bad t0 e L out ta tb tc td aw
    colo_key
    boot_guest $g $cfgf $kind || { fail $t "$g did not boot"; cleanup; return; }
    id=$(xl domid $g)
    export XLCOLO_INTERVAL=${XCYCLE_INT:-100} XLCOLO_VERIFY=0
    c=1; bad=""; t0=$(up)
    while [ $c -le $want ]; do
        export XLCOLO_LOGDIR=$XLOG/$g-cycle; L=$XLCOLO_LOGDIR
        ta=$(up)
        if ! out=$($TS/ts-colo-start $g localhost localhost $port 2>/tmp/ts.err); then
            bad="cycle $c: ts-colo-start: $(echo "$out" | tail -n 1)"; sed 's/^/XCOLO: INFO   /' /tmp/ts.err; break
        fi
        if ! wait_epoch $L/$g.primary.json $k 120 $L/$g.primary.pid; then
            bad="cycle $c: not $k checkpoints (last epoch $(last_epoch $L/$g.primary.json))"
            tail -n 5 $L/$g.primary.err $L/$g.secondary.err; break
        fi
        e=$(last_epoch $L/$g.primary.json); tb=$(up)
        if ! stop_protection $g $L; then
            bad="cycle $c: xl-colo stop did not end the protection: $(cat /tmp/stop.out)"; break
        fi
        if xl list 2>/dev/null | awk -v n="$g--colo" '$1 == n' | grep -q .; then
            bad="cycle $c: the secondary domain is left after xl-colo stop"; break
        fi
        tc=$(up)
        # Alive over 2 s after each stop, 5 s after the last: the next
        # cycle's start looks at the same domain again (its id, its state),
        # and 60 windows of 5 s did not fit CI's hour on a slow machine.
        aw=${XCYCLE_ALIVE:-2}; [ $c -eq "$want" ] && aw=5
        if ! alive_over $g $kind $id $aw; then
            bad="cycle $c (after checkpoint $e and xl-colo stop): $g $why"; break
        fi
        td=$(up)
        info "$t: cycle $c: checkpoints 0..$e, stopped; $why; $(echo "$ta $tb $tc $td" | awk '{ printf "start+checkpoints %.1f s, stop %.1f s, alive %.1f s", $2 - $1, $3 - $2, $4 - $3 }')"
        crash_scan "$t cycle $c" || { bad="cycle $c: a domain crashed"; break; }
        c=$((c + 1))
        port=$((port + 1))
    done
    kill_protection $XLOG/$g-cycle $g
    if [ -z "$bad" ] && [ $((c - 1)) -eq "$want" ]; then
        pass $t "$want start -> $k+ checkpoints -> stop cycles in $(echo "$(up) $t0" | awk '{ printf "%.0f", $1 - $2 }') s: after each, $g (domain $id) alive, its progress moving, for ${XCYCLE_ALIVE:-2} s (5 s after the last)"
    else
        fail $t "${bad:-only $((c - 1)) of $want cycles ran}"
    fi
    cleanup; sleep 1
}

# soak_colo G CFG KIND PORT: XSOAK checkpoints of xl-colo; a guest that
# crashes is counted, booted again and protected again, until the count is
# reached. Leaves "checkpoints crashes" in /tmp/soak.res.
soak_colo() {
    g=$1; want=${XSOAK:-500}; done_n=0; crashes=0; tries=0
    export XLCOLO_INTERVAL=${XSOAK_INT:-100} XLCOLO_VERIFY=0 XLCOLO_LOGDIR=$XLOG/$g-soak
    L=$XLCOLO_LOGDIR
    while [ $done_n -lt $want ] && [ $tries -lt 10 ]; do
        tries=$((tries + 1))
        xl domid $g >/dev/null 2>&1 || boot_guest $g $2 $3 || break
        id=$(xl domid $g)
        $TS/ts-colo-start $g localhost localhost $(($4 + tries)) >/dev/null 2>/tmp/ts.err || { cat /tmp/ts.err >&2; break; }
        # until enough checkpoints, or the protection ends (a crash)
        while pid_ok $L/$g.primary.pid && [ $((done_n + $(last_epoch $L/$g.primary.json) + 1)) -lt $want ]; do
            case $(domstate $g) in *c*) break ;; esac
            sleep 1
        done
        e=$(last_epoch $L/$g.primary.json)
        crashed=0
        case $(domstate $g) in *c*) crashed=1 ;; esac
        [ "$(xl domid $g 2>/dev/null)" = "$id" ] || crashed=1
        if [ $crashed = 0 ] && pid_ok $L/$g.primary.pid; then
            stop_protection $g $L
            alive_over $g $3 $id 5 || crashed=1
        fi
        done_n=$((done_n + e + 1))
        if [ $crashed = 1 ]; then
            crashes=$((crashes + 1))
            info "soak-$g: xl-colo: $g (domain $id) died after checkpoint $e ($done_n in all): $why"
            crash_scan "soak-$g xl-colo, after checkpoint $e"
        fi
        kill_protection $L $g
        [ $crashed = 1 ] && { xl destroy $g 2>/dev/null; newlog $g; }
    done
    echo "$done_n $crashes" > /tmp/soak.res
}

# soak_remus G CFG KIND: the same count of xl remus checkpoints (seen by
# the 1 ms sampler, 30 s at a time). Leaves "checkpoints crashes" in
# /tmp/soak.res.
soak_remus() {
    g=$1; want=${XSOAK:-500}; done_n=0; crashes=0; tries=0
    while [ $done_n -lt $want ] && [ $tries -lt 10 ]; do
        tries=$((tries + 1))
        xl domid $g >/dev/null 2>&1 || boot_guest $g $2 $3 || break
        id=$(xl domid $g)
        timeout 3600 xl remus -F -b -n -d -i ${XSOAK_INT:-100} $g dummyhost > /tmp/remus-soak.log 2>&1 &
        rpid=$!
        first=1
        while [ $done_n -lt $want ] && kill -0 $rpid 2>/dev/null; do
            # the first window waits for the end of remus's initial sync
            $CHECK watch $g 30 soak-remus-$g $first > /tmp/soak-watch.txt 2>&1
            first=0
            n=$(awk '/soak-remus-'$g'.checkpoints /{ print $4 }' /tmp/soak-watch.txt)
            done_n=$((done_n + ${n:-0}))
            case $(domstate $g) in *c*) break ;; esac
            [ "$(xl domid $g 2>/dev/null)" = "$id" ] || break
        done
        kill $rpid 2>/dev/null; wait $rpid 2>/dev/null
        crashed=0
        case $(domstate $g) in *c*) crashed=1 ;; esac
        [ "$(xl domid $g 2>/dev/null)" = "$id" ] || crashed=1
        [ $crashed = 0 ] && { alive_over $g $3 $id 5 || crashed=1; }
        if [ $crashed = 1 ]; then
            crashes=$((crashes + 1))
            info "soak-$g: xl remus: $g (domain $id) died after $done_n checkpoints: $why"
            tail -n 3 /tmp/remus-soak.log
            crash_scan "soak-$g xl remus, after $done_n checkpoints"
            xl destroy $g 2>/dev/null; newlog $g
        fi
    done
    echo "$done_n $crashes" > /tmp/soak.res
}

per1000() { echo "$1 $2" | awk '{ printf "%.2f", ($1 > 0 ? 1000 * $2 / $1 : 0) }'; }

step_soak() {
    g=$1; cfgf=$2; kind=$3; port=$4; remus=$5; t=soak-$g
    colo_key
    soak_colo $g $cfgf $kind $port; set -- $(cat /tmp/soak.res)
    cn=${1:-0}; cc=${2:-0}
    echo "XCOLO: FIGURE $t.xcolo.checkpoints $cn count"
    echo "XCOLO: FIGURE $t.xcolo.crashes $cc count"
    echo "XCOLO: FIGURE $t.xcolo.crashes_per_1000 $(per1000 $cn $cc) 1/1000"
    cleanup; sleep 1
    if [ "$remus" = remus ]; then
        soak_remus $g $cfgf $kind; set -- $(cat /tmp/soak.res)
        rn=${1:-0}; rc=${2:-0}
        echo "XCOLO: FIGURE $t.remus.checkpoints $rn count"
        echo "XCOLO: FIGURE $t.remus.crashes $rc count"
        echo "XCOLO: FIGURE $t.remus.crashes_per_1000 $(per1000 $rn $rc) 1/1000"
        cleanup; sleep 1
        base="xl remus $rn checkpoints, $rc crashes ($(per1000 $rn $rc) per 1000)"
    else
        rc=$cc; base="no xl remus baseline: $remus"
    fi
    if [ "$cn" -ge "${XSOAK:-500}" ] && [ "$cc" = 0 ]; then
        pass $t "xl-colo $cn checkpoints, 0 crashes; $base"
    else
        fail $t "xl-colo $cn checkpoints, $cc crashes ($(per1000 $cn $cc) per 1000); $base"
    fi
}

step_platform() {
    t=platform; n=${XPLATFORM:-1500}; gs="tp1 tp2 tp3 th1"
    for g in tp1 tp2 tp3; do sed "s/^name = .*/name = \"$g\"/" $CFG/tinypvh.cfg > /tmp/$g.cfg; done
    sed "s/^name = .*/name = \"th1\"/" $CFG/tinyhvm-mb.cfg > /tmp/th1.cfg
    for g in $gs; do
        xl create /tmp/$g.cfg >/dev/null 2>&1 || { fail $t "xl create $g failed"; cleanup; return; }
    done
    for g in $gs; do # running: the asm guests' counter moves
        i=0; until [ "$(counter_of $g)" -gt 0 ] 2>/dev/null; do
            [ $i -ge 60 ] && { fail $t "$g did not start"; cleanup; return; }
            sleep 1; i=$((i + 1))
        done
    done
    t0=$(up); pids=""
    for g in $gs; do $CHECK stress $g cleanmap-early $n 20 > /tmp/stress-$g.txt 2>&1 & pids="$pids $!"; done
    wait $pids
    dead=$(cat /tmp/stress-*.txt | grep -c DIED)
    cat /tmp/stress-*.txt | sed 's/^XCOLO: INFO /XCOLO: INFO   /'
    echo "XCOLO: FIGURE platform.stops $((4 * n)) count"
    echo "XCOLO: FIGURE platform.guests_died $dead count"
    if [ "$dead" = 0 ] && crash_scan "step platform"; then
        pass $t "4 guests x $n checkpoint-shaped stops (pause, CLEAN, map+read 1024 frames, unpause) by raw libxenctrl, no xl-colo: none died ($(echo "$(up) $t0" | awk '{ printf "%.0f", $1 - $2 }') s)"
    else
        fail $t "$dead of 4 guests died under $n raw checkpoint-shaped stops each, with no xl-colo running: the hypervisor under the harness is not sound"
    fi
    cleanup; sleep 1
}
