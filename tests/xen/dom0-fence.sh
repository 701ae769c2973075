# dom0-fence.sh - the fence-pvh step: ownership through a real etcd on real
# Xen (issue 12 §1), the fence watchdog's path through the xen backend. A
# one-member etcd in dom0 on loopback (the host's Debian etcd, copied into
# the image); tinypvh protected with --arbiter etcd://127.0.0.1:2379 from
# "hostA" to "hostB" (both sides in this dom0). Then xl-colo start is
# SIGSTOPped, as a stalled toolstack would be:
#   - its fence watchdog pauses the primary domain before the lease can
#     end, and says so in one line;
#   - the receive wins ownership at generation 2 once the lease has
#     expired, and only then goes live (as tinypvh--colo: the fenced
#     primary still holds the name), from the last checkpoint the primary
#     saw acknowledged;
#   - no sample of the two domains' states (one `xl list` each, as often
#     as it answers) ever has both running;
#   - on SIGCONT, xl-colo start learns that ownership moved, destroys the
#     primary domain and exits 1.
# Sourced by dom0-test.sh: it uses its helpers and dom0-colo.sh's.

ETCD_DIR=/tmp/etcd-fence

etcd_stop() {
    pid_ok $ETCD_DIR.pid && { kill -9 "$(cat $ETCD_DIR.pid)"; wait_gone $ETCD_DIR.pid 10; }
    rm -rf $ETCD_DIR
}

# run_state NAME: run, paused, down (shut down, crashed, dying) or none,
# from xl's state column (as dom0-test.sh's running(): a domain neither
# paused nor down runs, whether xl shows it r, b or neither)
run_state() { states_of "$1" | cut -d' ' -f1; }
# states_of A B: "STATE_A STATE_B" from one `xl list` (a call takes some
# hundred ms under TCG: one per sample, not one per domain)
states_of() {
    xl list 2>/dev/null | awk -v a="$1" -v b="$2" '
        function st(s) { return s ~ /p/ ? "paused" : s ~ /[scd]/ ? "down" : "run" }
        NR > 1 && $1 == a { sa = st($5) } NR > 1 && $1 == b { sb = st($5) }
        END { print (sa == "" ? "none" : sa), (sb == "" ? "none" : sb) }'
}

step_fence() {
    g=tinypvh; t=fence-$g; port=$1
    command -v etcd >/dev/null || { fail $t "no etcd in this image"; return; }
    [ -x $TS/ts-colo-start ] || { fail $t "no osstest steps in this image"; return; }
    colo_key
    etcd_stop; mkdir -p $ETCD_DIR
    etcd --name arb --data-dir $ETCD_DIR/data --listen-client-urls http://127.0.0.1:2379 \
        --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 \
        --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster arb=http://127.0.0.1:2380 \
        > $ETCD_DIR.log 2>&1 &
    echo $! > $ETCD_DIR.pid
    i=0
    until wget -q -O - http://127.0.0.1:2379/health 2>/dev/null | grep -q '"health":"true"'; do
        if [ $i -ge 300 ] || ! pid_ok $ETCD_DIR.pid; then
            fail $t "etcd did not come up: $(tail -n 2 $ETCD_DIR.log | tr '\n' ' ')"; etcd_stop; return
        fi
        sleep 0.1; i=$((i + 1))
    done
    boot_guest $g $CFG/tinypvh.cfg asm || { fail $t "$g did not boot"; cleanup; etcd_stop; return; }

    # The harness's --timeout (30000: under TCG the initial sync with
    # --verify leaves the secondary silent for more than 3 s, seen), and a
    # TTL as long, as the operator guide advises: a renewal every 10 s, the
    # fence 6 s (a fifth) before the lease ends.
    export XLCOLO_LOGDIR=$XLOG/$g-fence XLCOLO_VERIFY=1 XLCOLO_INTERVAL=${XINT:-300}
    export XLCOLO_ARBITER=etcd://127.0.0.1:2379
    export XLCOLO_START_OPTS="--lease-ttl 30000 --arbiter-host hostA"
    export XLCOLO_RECEIVE_OPTS="--lease-ttl 30000 --arbiter-host hostB"
    L=$XLCOLO_LOGDIR
    ok=1
    ts $t-start ts-colo-start $g localhost localhost $port || ok=0
    unset XLCOLO_START_OPTS XLCOLO_RECEIVE_OPTS
    export XLCOLO_ARBITER=none
    if [ $ok = 0 ] || ! wait_epoch $L/$g.primary.json 3 120 $L/$g.primary.pid; then
        [ $ok = 0 ] || fail $t "not 3 checkpoints: last epoch $(last_epoch $L/$g.primary.json)"
        tail -n 5 $L/$g.primary.err $L/$g.secondary.err
        for f in $L/$g.*.pid; do pid_ok $f && kill -9 "$(cat $f)"; done 2>/dev/null
        cleanup; etcd_stop; return
    fi

    pp=$(cat $L/$g.primary.pid)
    kill -STOP $pp
    t0=$(up)
    # Both domains' states, as often as xl list answers, until the receive
    # has gone live and exited (bounded by 120 s: the lease ends at most
    # 30 s on).
    : > /tmp/fence.samples
    while pid_ok $L/$g.secondary.pid &&
          [ "$(echo "$(up) $t0" | awk '{ print ($1 - $2 < 120) }')" = 1 ]; do
        echo "$(states_of $g $g--colo) $(up)" >> /tmp/fence.samples
    done
    echo "$(states_of $g $g--colo) $(up)" >> /tmp/fence.samples
    period=$(awk 'NR == 1 { a = $3 } { b = $3; n = NR } END { if (n > 1) printf "%d", (b - a) * 1000 / (n - 1) }' /tmp/fence.samples)
    both=$(awk '$1 == "run" && $2 == "run"' /tmp/fence.samples | wc -l)
    fenced_at=$(awk '$1 == "paused" { print $3; exit }' /tmp/fence.samples)
    live_at=$(awk '$2 == "run" { print $3; exit }' /tmp/fence.samples)
    fline=$(grep -m1 'fence: the lease on' $L/$g.primary.err)
    wline=$(grep -m1 'ownership won here (hostB) at generation 2: going live' $L/$g.secondary.err)
    if [ -n "$fline" ] && [ -n "$fenced_at" ]; then
        pass $t-fenced "the stalled primary's watchdog paused $g $(echo "$fenced_at $t0" | awk '{ printf "%.1f", $1 - $2 }') s after the SIGSTOP: $(echo "$fline" | sed 's/^xl-colo: [a-z]*: //')"
    else
        fail $t-fenced "no fence: samples $(head -n 3 /tmp/fence.samples | tr '\n' ' ') ...; $(tail -n 2 $L/$g.primary.err | tr '\n' ' ')"
    fi
    if [ -n "$wline" ] && [ -n "$live_at" ] && [ "$both" = 0 ] && [ -n "$fenced_at" ] &&
       [ "$(echo "$live_at $fenced_at" | awk '{ print ($1 >= $2) }')" = 1 ]; then
        pass $t-won "the secondary went live $(echo "$live_at $fenced_at" | awk '{ printf "%.1f", $1 - $2 }') s after the fence, at generation 2; $(wc -l < /tmp/fence.samples) samples (one every $period ms), none with both running"
    else
        fail $t-won "won: '$wline'; live at '$live_at', fenced at '$fenced_at', $both samples with both running; $(tail -n 2 $L/$g.secondary.err | tr '\n' ' ')"
    fi
    fe=$(sed -n 's/.*"state":"failed-over","epoch":\([0-9]*\).*/\1/p' $L/$g.secondary.json | tail -n 1)
    fd=$(awk "$JSON_AWK"' /"state":"failed-over"/ { print str("digest") }' $L/$g.secondary.json | tail -n 1)
    pe=$(last_epoch $L/$g.primary.json)
    pd=$(ckpts $L/$g.primary.json | awk -v e="$fe" '$1 == e { print $4 }')
    if [ -n "$fe" ] && [ "$fe" = "$pe" ] && [ -n "$fd" ] && [ "$fd" = "$pd" ]; then
        pass $t-digest "the secondary went live from checkpoint $fe, the last the primary saw acknowledged, digest equal"
    else
        fail $t-digest "went live from epoch '$fe' (digest '$fd'); the primary's last was '$pe' (digest '$pd')"
    fi
    kill -CONT $pp
    wait_gone $L/$g.primary.pid 60
    moved=$(grep -m1 "ownership of $g moved to hostB at generation 2; destroying the copy here" $L/$g.primary.err)
    if [ -n "$moved" ] && [ "$(run_state $g)" = none ] && [ "$(run_state $g--colo)" = run ]; then
        pass $t-stale "on SIGCONT the stale primary destroyed its copy: $(echo "$moved" | sed 's/^xl-colo: [a-z]*: //'); $g--colo runs alone"
    else
        fail $t-stale "after SIGCONT: '$moved'; $g is '$(run_state $g)', $g--colo '$(run_state $g--colo)'"
        tail -n 3 $L/$g.primary.err
    fi
    ts $t-one-copy ts-colo-check $g localhost
    for f in $L/$g.*.pid; do pid_ok $f && kill -9 "$(cat $f)"; done 2>/dev/null
    cleanup; etcd_stop
}
