# dom0-colo.sh - the harness's xen-colo steps (colo-pvh, colo-hvm,
# colo-linux): the real `xl-colo --backend xen`, started, checked and failed
# over by the osstest steps (tools/osstest/ts-colo-*), on one Xen host with
# the primary and the secondary domain side by side and replication over
# loopback. Sourced by dom0-test.sh: it uses its pass/fail/info helpers.
#
# Per guest G, one step does, in this order:
#   1. perf + stop: ts-colo-start without --verify; the 1 ms sampler
#      (xen-backend-check watch) for XPERF s; ts-colo-check; `xl-colo stop`:
#      both sides end, the secondary domain is gone, the primary runs with
#      log-dirty off. Figures from the engine's events and from the sampler.
#   2. SIGKILL: ts-colo-start, two checkpoints, then SIGKILL of xl-colo start
#      (the receive is stopped first, so that it does not fail over): the
#      guest runs, log-dirty is left on.
#      2b. the backend's checkpoint stop, then SIGKILL before the restart
#      (xen-backend-check stop-and-die): the guest is left stopped.
#   3. verify + failover: a new ts-colo-start --verify on the same guest
#      restarts the stopped guest and recovers the log-dirty left on; >= XN checkpoints; for every epoch the
#      primary's digest (taken while paused) equals the secondary's (after
#      applying); ts-colo-check; ts-colo-failover (xl destroy the primary);
#      the secondary runs from the last checkpoint and its counter (asm
#      guests) or KTICK (Linux) moves on; ts-colo-check: one copy, no crash.
#   4. baseline: a fresh boot of the same guest under
#      `xl remus -F -b -n -d -i XINT`, seen by the same sampler for XPERF s.

TS=/usr/local/share/xen-colo/osstest
XLOG=/var/log/xen-colo
export XLCOLO_KEY=/var/lib/xen-colo/key
# Long enough for the secondary to build its domain and for a digest of the
# whole guest under TCG; a destroyed primary is seen at once (EOF), not by it.
export XLCOLO_TIMEOUT=30000 XLCOLO_WAIT=300
XPERF=${XPERF:-30}

colo_key() {
    [ -s $XLCOLO_KEY ] || { head -c 32 /dev/urandom > $XLCOLO_KEY; chmod 600 $XLCOLO_KEY; }
}

# ts NAME STEP ARGS...: run an osstest step, its verdict as our result.
ts() {
    n=$1; s=$2; shift 2
    out=$($TS/$s "$@" 2>/tmp/ts.err); rc=$?
    sed 's/^/XCOLO: INFO   /' /tmp/ts.err
    v=$(echo "$out" | tail -n 1 | sed "s/^$s: //")
    case $rc in
        0) pass "$n" "$s: ${v#PASS }" ;;
        1) fail "$n" "$s: ${v#FAIL }" ;;
        *) fail "$n" "$s broken (exit $rc): $v" ;;
    esac
    return $rc
}

# num/str KEY: a JSON number or string field of the line in awk's $0.
JSON_AWK='
function num(k,   i, s) { i = index($0, "\"" k "\":"); if (!i) return 0; s = substr($0, i + length(k) + 3); return s + 0 }
function str(k,   i, s) { i = index($0, "\"" k "\":\""); if (!i) return ""; s = substr($0, i + length(k) + 4); sub(/".*/, "", s); return s }'

# ckpts FILE: "epoch pause_ns verify_ns digest peer_digest" per checkpoint event
ckpts() {
    awk "$JSON_AWK"'
        /"event":"checkpoint"/ { print num("epoch"), num("pause_ns"), num("verify_ns"), str("digest"), str("peer_digest") }' "$1" 2>/dev/null
}
last_epoch() { ckpts "$1" | awk 'BEGIN { m = -1 } $1 > m { m = $1 } END { print m }'; }

# pct: values on stdin -> "n p50 p99" (nearest rank, as the sampler does)
pct() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (!NR) { print 0, 0, 0; exit }
        a = int(0.5 * NR + 0.999999); b = int(0.99 * NR + 0.999999)
        printf "%d %.1f %.1f\n", NR, v[a], v[b] }'
}

# wait_epoch FILE N SECONDS PIDFILE: until the primary acknowledged epoch N
wait_epoch() {
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        [ "$(last_epoch "$1")" -ge "$2" ] && return 0
        [ -n "$4" ] && ! pid_ok "$4" && return 1
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# pid_ok PIDFILE: that process runs (an orphan may be left a zombie: our
# /init does not reap)
pid_ok() {
    p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status
}

# runs_between_checkpoints NAME: seen running within 3 s (each checkpoint
# stops it for a while)
runs_between_checkpoints() {
    i=0
    until running "$1"; do
        [ $i -ge 30 ] && return 1
        sleep 0.1; i=$((i + 1))
    done
}

# wait_gone PIDFILE SECONDS
wait_gone() {
    i=0
    while pid_ok "$1"; do
        [ $i -ge $(($2 * 10)) ] && return 1
        sleep 0.1; i=$((i + 1))
    done
    return 0
}

# counter_of NAME: the asm guest's pass counter (pfn 0x300), '' if none
counter_of() { $CHECK counter "$1" 2>/dev/null; }
last_ktick() { grep -a KTICK "$1" 2>/dev/null | tail -n 1 | awk '{ print $2 }'; }
first_ktick() { grep -a KTICK "$1" 2>/dev/null | head -n 1 | awk '{ print $2 }'; }

# boot_guest NAME CFG KIND: start a fresh guest and wait until it works
boot_guest() {
    newlog "$1"; rm -f "$(conlog "$1--colo")"
    xl create "$2" >/dev/null 2>&1 || return 1
    case $3 in
        linux) waitlog "$(conlog "$1")" "KTICK 3 " 300 ;;
        *)  i=0 # hvmloader and SeaBIOS come first for HVM
            while [ $i -lt 60 ]; do
                c=$(counter_of "$1"); [ -n "$c" ] && [ "$c" -gt 0 ] && return 0
                sleep 1; i=$((i + 1))
            done
            return 1 ;;
    esac
}

# phases FILE FROM TO: "stop copy state restart" in ms, per primary
# checkpoint event of epochs FROM+1..TO (restart: the rest of the pause)
phases() {
    awk "$JSON_AWK"' /"event":"checkpoint"/ && /"stop_ns"/ {
        e = num("epoch"); if (e <= a || e > b) next
        s = num("stop_ns"); c = num("copy_ns"); t = num("state_ns")
        printf "%.3f %.3f %.3f %.3f\n", s / 1e6, c / 1e6, t / 1e6,
               (num("pause_ns") - num("verify_ns") - s - c - t) / 1e6 }' a="$2" b="$3" "$1" 2>/dev/null
}

# figures NAME FILE FROM TO SECONDS: the engine's own pause (pause_ns less
# verify_ns) over epochs FROM+1..TO, and the rate of checkpoints
figures() {
    r=$(ckpts "$2" | awk -v a="$3" -v b="$4" '$1 > a && $1 <= b { printf "%.3f\n", ($2 - $3) / 1e6 }' | pct)
    set -- "$1" "$2" "$3" "$4" "$5" $r
    echo "XCOLO: FIGURE $1.checkpoints $6 count"
    echo "XCOLO: FIGURE $1.pause_p50 $7 ms"
    echo "XCOLO: FIGURE $1.pause_p99 $8 ms"
    echo "XCOLO: FIGURE $1.checkpoints_per_s $(echo "$6 $5" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }') 1/s"
    # Where the pause goes, phase by phase (p50 of each).
    n=1
    for ph in stop copy state restart; do
        v=$(phases "$2" "$3" "$4" | awk -v k=$n '{ print $k }' | pct | awk '{ print $2 }')
        echo "XCOLO: FIGURE $1.${ph}_p50 $v ms"
        n=$((n + 1))
    done
}

step_colo() {
    g=$1; cfgf=$2; kind=$3; port=$4; remus=$5; t=colo-$g
    [ -x $TS/ts-colo-start ] || { skip $t "no osstest steps in this image"; return; }
    command -v xl-colo >/dev/null || { skip $t "no xl-colo in this image"; return; }
    colo_key
    export XLCOLO_INTERVAL=${XINT:-300}
    boot_guest $g $cfgf $kind || { fail $t "$g did not boot"; cleanup; return; }
    id=$(xl domid $g)

    # --- 1. perf + stop ------------------------------------------------
    export XLCOLO_LOGDIR=$XLOG/$g-perf XLCOLO_VERIFY=0; L=$XLCOLO_LOGDIR
    if ts $t-start ts-colo-start $g localhost localhost $port; then
        e0=$(last_epoch $L/$g.primary.json); t0=$(up)
        $CHECK watch $g $XPERF xcolo-$g.watch > /tmp/watch.txt 2>&1
        e1=$(last_epoch $L/$g.primary.json); t1=$(up)
        grep 'XCOLO: FIGURE' /tmp/watch.txt
        info "$g: xen-colo, -i $XLCOLO_INTERVAL, no --verify: epochs $e0..$e1 in $(echo "$t1 $t0" | awk '{ printf "%.1f", $1 - $2 }') s;" \
             "xcolo-$g.* is the engine's pause_ns less verify_ns (the stop request included), xcolo-$g.watch.* the 1 ms sampler's"
        figures xcolo-$g $L/$g.primary.json $e0 $e1 "$(echo "$t1 $t0" | awk '{ print $1 - $2 }')"
        ts $t-protected ts-colo-check $g localhost
        if xl-colo --rundir /run/xen-colo stop $g > /tmp/stop.out 2>&1 &&
           wait_gone $L/$g.primary.pid 60 && wait_gone $L/$g.secondary.pid 60; then
            alive=0; alive_over $g $kind $id 5 && alive=1
            ld=$($CHECK logdirty $g 2>&1)
            sec=$(xl list 2>/dev/null | awk -v n="$g--colo" '$1 == n' | wc -l)
            st_p=$(grep -c '"state":"stopped"' $L/$g.primary.json)
            st_s=$(grep -c '"state":"stopped"' $L/$g.secondary.json)
            if [ $alive = 1 ] && [ "$ld" = off ] && [ "$sec" = 0 ] && [ "$st_p" -ge 1 ] && [ "$st_s" -ge 1 ]; then
                pass $t-stop "xl-colo stop: both sides ended (state stopped), the secondary domain is gone, log-dirty off; $g alive: $why"
            else
                fail $t-stop "after xl-colo stop: $g: $why; log-dirty '$ld', $sec secondary domains, stopped events $st_p/$st_s"
            fi
        else
            fail $t-stop "xl-colo stop did not end the protection: $(cat /tmp/stop.out)"
            tail -n 5 $L/$g.primary.err $L/$g.secondary.err
        fi
    fi
    for f in $L/$g.*.pid; do pid_ok $f && kill -9 "$(cat $f)"; done 2>/dev/null
    xl destroy $g--colo 2>/dev/null

    # --- 2. SIGKILL of xl-colo start -------------------------------------
    export XLCOLO_LOGDIR=$XLOG/$g-kill XLCOLO_INTERVAL=1000; L=$XLCOLO_LOGDIR
    if ts $t-kill-start ts-colo-start $g localhost localhost $((port + 1)) >/dev/null &&
       wait_epoch $L/$g.primary.json 2 120 $L/$g.primary.pid; then
        # Right after an acknowledged checkpoint: the next is a second away.
        e=$(last_epoch $L/$g.primary.json)
        wait_epoch $L/$g.primary.json $((e + 1)) 60
        sp=$(cat $L/$g.secondary.pid); pp=$(cat $L/$g.primary.pid)
        kill -STOP $sp; kill -9 $pp; wait_gone $L/$g.primary.pid 10; kill -9 $sp
        if alive_over $g $kind $id 5; then
            ld=$($CHECK logdirty $g 2>&1)
            pass $t-kill "SIGKILL of xl-colo start after checkpoint $(last_epoch $L/$g.primary.json): log-dirty left $ld; $g alive: $why"
        else
            fail $t-kill "after SIGKILL of xl-colo start: $g: $why"
            xl unpause $g 2>/dev/null
        fi
    else
        fail $t-kill "no protection to kill"; tail -n 5 $L/$g.primary.err $L/$g.secondary.err
    fi
    xl destroy $g--colo 2>/dev/null
    export XLCOLO_INTERVAL=${XINT:-300}

    # --- 2b. a toolstack killed while the guest is stopped -----------------
    # The backend's own checkpoint stop, then SIGKILL before the restart:
    # the guest stays stopped until the next start restarts it.
    $CHECK stop-and-die $g > /tmp/sad.out 2>&1
    st=$(domstate $g)
    if grep -q '^stopped$' /tmp/sad.out && ! running $g; then
        pass $t-kill-stopped "SIGKILL of a toolstack mid-checkpoint left $g stopped ($st)"
        stopped=1
    else
        fail $t-kill-stopped "the mid-checkpoint stop did not take: $g is '$st': $(tail -n 2 /tmp/sad.out)"
        stopped=0
    fi

    # --- 3. a new start, --verify, >= XN checkpoints, failover ----------
    export XLCOLO_LOGDIR=$XLOG/$g XLCOLO_VERIFY=1; L=$XLCOLO_LOGDIR
    ts $t-restart ts-colo-start $g localhost localhost $((port + 2)) >/dev/null ||
        { fail $t "no protection after the SIGKILL"; tail -n 8 $L/$g.primary.err; cleanup; return; }
    if [ $stopped = 1 ]; then
        if grep -q 'was left stopped' $L/$g.primary.err && runs_between_checkpoints $g; then
            pass $t-restart-stopped "the new start restarted the stopped guest first: $(grep -m1 'left stopped' $L/$g.primary.err | sed 's/.*: domain/domain/'); $g is '$(domstate $g)'"
        else
            fail $t-restart-stopped "after the new start $g is '$(domstate $g)'"; tail -n 5 $L/$g.primary.err
        fi
    fi
    if grep -q 'log-dirty was left on' $L/$g.primary.err; then
        pass $t-restart "a new xl-colo start after the SIGKILL recovered the log-dirty left on: $(grep -m1 'left on' $L/$g.primary.err | sed 's/.*: domain/domain/')"
    else
        fail $t-restart "the new start did not meet log-dirty left on (log-dirty was '$ld' after the SIGKILL)"
    fi
    if ! wait_epoch $L/$g.primary.json ${XN:-20} 600 $L/$g.primary.pid; then
        fail $t "not ${XN:-20} checkpoints: last epoch $(last_epoch $L/$g.primary.json)"
        tail -n 8 $L/$g.primary.err $L/$g.secondary.err; cleanup; return
    fi
    ts $t-check-protected ts-colo-check $g localhost
    case $kind in
        linux) before=$(last_ktick "$(conlog $g)") ;;
        *)     before=$(counter_of $g--colo) ;; # the secondary: the last applied checkpoint
    esac
    ts $t-failover ts-colo-failover $g localhost localhost
    sleep 1
    wait_gone $L/$g.secondary.pid 60

    # Every epoch the primary acknowledged: its digest (paused) = the
    # secondary's (after applying); and the failed-over state's digest is
    # that of the epoch it ran from.
    ckpts $L/$g.primary.json > /tmp/pd.txt; ckpts $L/$g.secondary.json > /tmp/sd.txt
    cmp=$(awk 'NR == FNR { if ($4 != "") p[$1] = $4; next }
               { s[$1] = $4; q[$1] = $5 }
               END { for (e in p) { n++; if (!(e in s)) miss++; else if (s[e] != p[e] || q[e] != p[e]) bad++ }
                     printf "%d %d %d\n", n, miss + 0, bad + 0 }' /tmp/pd.txt /tmp/sd.txt)
    set -- $cmp
    if [ "$1" -gt "${XN:-20}" ] && [ "$2" = 0 ] && [ "$3" = 0 ]; then
        pass $t-digests "$1 checkpoints (epochs 0..$(last_epoch $L/$g.primary.json)): for every one the secondary's digest after applying equals the primary's while paused"
    else
        fail $t-digests "$1 checkpoints acknowledged, $2 not applied, $3 digests differ"
    fi
    fe=$(sed -n 's/.*"state":"failed-over","epoch":\([0-9]*\).*/\1/p' $L/$g.secondary.json | tail -n 1)
    fd=$(awk "$JSON_AWK"' /"state":"failed-over"/ { print str("digest") }' $L/$g.secondary.json | tail -n 1)
    pd=$(awk -v e="$fe" '$1 == e { print $4 }' /tmp/pd.txt)
    if [ -n "$fe" ] && [ -n "$fd" ] && [ "$fd" = "$pd" ]; then
        pass $t-failover-digest "the secondary started from checkpoint $fe: its digest at failover is the primary's of that epoch"
    else
        fail $t-failover-digest "failed over from epoch '$fe' with digest '$fd', the primary's was '$pd'"
    fi
    ts $t-one-copy ts-colo-check $g localhost
    name=$g; xl domid $g >/dev/null 2>&1 || name=$g--colo
    sid=$(xl domid $name 2>/dev/null)
    # The secondary goes on from the checkpoint, and stays alive: its own
    # progress moves over 5 s under one domain id.
    f=""
    if [ $kind = linux ]; then f=$(conlog $g--colo); [ -e "$f" ] || f=$(conlog $g); fi
    a=$(progress $name $kind "$f")
    if alive_over $name $kind "$sid" 5 "$f"; then
        case $kind in
            linux) a=$(first_ktick "$f"); b=$(last_ktick "$f"); slack=5 ;;  # KTICKs printed after the checkpoint come again
            *) b=$(progress $name $kind); slack=0 ;;
        esac
        if [ -n "$before" ] && [ -n "$a" ] && [ "$a" -ge $((before - slack)) ] && [ "$b" -gt "$before" ]; then
            pass $t-moves-on "the secondary goes on from the checkpoint: $before at the last applied checkpoint, then $a .. $b; alive: $why"
        else
            fail $t-moves-on "progress '$before' at the checkpoint, then '$a' .. '$b'"
        fi
    else
        fail $t-moves-on "after failover $name: $why"; [ -n "$f" ] && tail -n 5 "$f"
    fi
    info "$g after failover: $(xl list | awk -v g=$g 'NR > 1 && index($1, g) == 1 { printf "%s(%s) %s  ", $1, $2, $5 }')"
    figures xcolo-$g.verified $L/$g.primary.json 0 "$(last_epoch $L/$g.primary.json)" 0 | grep -E 'pause_p|checkpoints '
    v=$(ckpts $L/$g.primary.json | awk '$1 > 0 { printf "%.3f\n", $3 / 1e6 }' | pct)
    echo "XCOLO: FIGURE xcolo-$g.verified.digest_p50 $(echo $v | cut -d' ' -f2) ms"
    cleanup; sleep 1

    # --- 4. the baseline: xl remus on a fresh boot of the same guest -----
    if [ "$remus" = remus ]; then
        step_remus $g $cfgf $kind
    else
        skip remus-$g "$remus"
    fi
}

# xl remus -F -b -n -d on the same guest and interval, seen by the same
# sampler as xen-colo from its first stop on (the end of its initial sync).
step_remus() {
    g=$1; t=remus-$g
    boot_guest $g $2 $3 || { fail $t "$g did not boot"; cleanup; return; }
    $CHECK watch $g $XPERF remus-$g.watch 1 > /tmp/remus-watch.txt 2>&1 &
    wpid=$!
    timeout $((XPERF + 120)) xl remus -F -b -n -d -i ${XINT:-300} $g dummyhost > /tmp/remus-$g.log 2>&1 &
    rpid=$!
    # until the sampler is done; an xl remus that gives up ends it too
    while kill -0 $wpid 2>/dev/null; do
        kill -0 $rpid 2>/dev/null || { sleep 2; kill $wpid 2>/dev/null; break; }
        sleep 1
    done
    wait $wpid; wrc=$?
    kill $rpid 2>/dev/null; wait $rpid 2>/dev/null
    grep 'XCOLO: FIGURE' /tmp/remus-watch.txt
    n=$(awk '/remus-'$g'.watch.checkpoints /{ print $4 }' /tmp/remus-watch.txt)
    if [ $wrc = 0 ] && [ -n "$n" ] && [ "$n" -gt 0 ]; then
        pass $t "xl remus -F -b -n -d -i ${XINT:-300}: $n checkpoints seen in $XPERF s after its initial sync"
    elif grep -q 'libxl: error' /tmp/remus-$g.log; then
        # Xen's own remus broke in this boot: no baseline, and not ours to fail.
        skip $t "xl remus itself failed, no baseline this boot: $(grep -m1 'libxl: error' /tmp/remus-$g.log | sed 's/.*: error: //')"
        tail -n 5 /tmp/remus-$g.log
    else
        fail $t "no xl remus checkpoint seen"; tail -n 5 /tmp/remus-$g.log
    fi
    cleanup; sleep 1
}
