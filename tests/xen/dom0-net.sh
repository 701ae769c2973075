# dom0-net.sh - the net-linux step: Remus output commit on real Xen. The
# Linux PVH guest gets a vif (netback in dom0, netfront in the guest) and
# runs a TCP server on its own stack (guest-init: each line L answered
# "L N", N counted in guest memory). In dom0:
#   - a client in a network namespace made here, 10.0.0.1 on a veth whose
#     dom0 end is dc;
#   - xl-colo start in Remus mode with its output buffer (--proxy
#     primary-in=,outdev=,status=), the receive beside it (ts-colo-start);
#   - the datapath (colo-datapath's Remus role) inside xl-colo start
#     (--proxy client-if=dc): between dc and the vif the xen backend names
#     for the primary domain, the client's frames to the guest, the
#     guest's to the buffer, what each acknowledged checkpoint releases to
#     the client.
# One TCP connection of the client, for the whole step:
#   1. NREQ requests, each answered "req i i": every answer through the
#      buffer, in order, none lost or repeated;
#   2. the secondary's xl-colo receive stopped (SIGSTOP): an answer is
#      held in the buffer, the client has none; after SIGCONT and the
#      acknowledgement it comes;
#   3. the primary dies once the guest has answered one more request:
#      ts-colo-failover destroys the primary domain, xl-colo start ends
#      (its datapath's counters in its log); the secondary's network is a bridge of dc and the secondary
#      domain's vif (as on its own host); the request in flight and NREQ
#      more are answered on the same connection, the numbers going on from
#      the last released answer: nothing the client saw was lost.
# Sourced by dom0-test.sh: it uses its helpers and dom0-colo.sh's.

NETDIR=/run/xen-colo-net
# iproute2's (mkimages.sh): busybox's sh runs its own ip applet for "ip",
# which has no netns.
IP=/sbin/ip
NETNS=xcolo-client
CMAC=02:c0:10:00:00:01   # the client's; guest-init has it in its ARP table
GMAC=00:16:3e:c0:10:02   # the guest's, from linnet.cfg

# net_commit FIELD: the output buffer's commit.FIELD, from the proxy's own
# status socket (xl-colo status waits on the primary while it waits for an
# acknowledgement).
net_commit() {
    $CHECK unix-get $NETDIR/st.sock 2>/dev/null |
        sed -n "s/.*\"commit\":{[^}]*\"$1\":\([0-9]*\).*/\1/p"
}
# guest_answered N SECONDS: the guest's console says it answered request N
# (count-lines), polled every 0.1 s: waitlog's 1 s would let a checkpoint
# pass in between.
guest_answered() {
    i=0
    until tr -d '\r' < "$(conlog $g)" | grep -q "NET ANSWER $1\$"; do
        [ $i -ge $(($2 * 10)) ] && return 1
        sleep 0.1; i=$((i + 1))
    done
}
# answered LINE: the client has LINE's answer
answered() { tr -d '\r' < $NETDIR/client.out 2>/dev/null | grep -q "^$1 [0-9]*\$"; }
# ask LINE SECONDS: send LINE on the client's connection, wait for its
# answer. Sets why.
ask() {
    echo "$1" >&3 || { why="the client's connection is closed"; return 1; }
    i=0
    until answered "$1"; do
        [ $i -ge $(($2 * 10)) ] && { why="no answer to '$1' in $2 s"; return 1; }
        pid_ok $NETDIR/client.pid || { why="the client exited: $(tail -n 2 $NETDIR/client.err)"; return 1; }
        sleep 0.1; i=$((i + 1))
    done
}
# answers_in_order FIRST LAST: the client's answers are "req i i" for i in
# FIRST..LAST, one each, in this order (the server's count is the request's).
answers_in_order() {
    tr -d '\r' < $NETDIR/client.out | awk -v a="$1" -v b="$2" '
        { n++; want = a + n - 1 }
        $0 != "req " want " " want { print "answer " n " is \"" $0 "\", not \"req " want " " want "\""; bad = 1; exit }
        END { if (!bad && n != b - a + 1) print n " answers for " b - a + 1 " requests" }'
}

net_teardown() {
    exec 3>&- 2>/dev/null
    for p in client; do
        pid_ok $NETDIR/$p.pid && { kill -TERM "$(cat $NETDIR/$p.pid)"; wait_gone $NETDIR/$p.pid 10 || kill -9 "$(cat $NETDIR/$p.pid)"; }
    done
    cleanup
    $IP link del br-xcolo 2>/dev/null
    $IP link del dc 2>/dev/null
    $IP netns del $NETNS 2>/dev/null
}

step_net() {
    g=linnet; t=net-linux; port=$1; nreq=${XNREQ:-20}
    for k in xen-netback veth llc stp bridge; do
        grep -q "^$(echo $k | tr - _) " /proc/modules && continue
        insmod /lib/modules/$k.ko 2>/tmp/insmod.err || { fail $t "insmod $k: $(cat /tmp/insmod.err)"; return; }
    done
    colo_key
    rm -rf $NETDIR; mkdir -p -m 700 $NETDIR
    if ! { $IP netns add $NETNS && $IP link add cl0 address $CMAC type veth peer name dc &&
           $IP link set cl0 netns $NETNS && $IP -n $NETNS link set lo up &&
           $IP -n $NETNS addr add 10.0.0.1/24 dev cl0 && $IP -n $NETNS link set cl0 up &&
           $IP -n $NETNS neigh replace 10.0.0.2 lladdr $GMAC dev cl0 nud permanent &&
           $IP link set dc up; } 2>/tmp/ip.err; then
        fail $t "the client's namespace: $(cat /tmp/ip.err)"; net_teardown; return
    fi
    newlog $g; rm -f "$(conlog $g--colo)"
    if ! xl create $CFG/linnet.cfg > /tmp/xlc.log 2>&1; then
        fail $t "xl create $g: $(grep -v "^Parsing" /tmp/xlc.log | head -n 6 | tr '\n' ' ')"; net_teardown; return
    fi
    waitlog "$(conlog $g)" "NET READY\|NET ERROR" 300
    if ! grep -q "NET READY" "$(conlog $g)"; then
        fail $t "$g did not serve on its vif: $(grep -a 'NET\|KTICK' "$(conlog $g)" | tail -n 2 | tr '\n' ' ')"; net_teardown; return
    fi
    domid=$(xl domid $g)

    export XLCOLO_LOGDIR=$XLOG/$g XLCOLO_VERIFY=0 XLCOLO_INTERVAL=${XINT:-300}; L=$XLCOLO_LOGDIR
    # The datapath runs in xl-colo start, on the vif the xen backend names
    # (vifDOMID.0). Its lines are INFO: xl-colo -vv, through a wrapper
    # (XLCOLO is one word).
    printf '#!/bin/sh\nexec xl-colo -vv "$@"\n' > $NETDIR/xl-colo-vv; chmod 755 $NETDIR/xl-colo-vv
    export XLCOLO_START_OPTS="--proxy client-if=dc,status=$NETDIR/st.sock" XLCOLO=$NETDIR/xl-colo-vv
    if ! ts $t-start ts-colo-start $g localhost localhost $port; then
        unset XLCOLO_START_OPTS XLCOLO; net_teardown; return
    fi
    unset XLCOLO_START_OPTS XLCOLO
    fwd="NIC of $g: forwarding: dc to vif$domid.0; vif$domid.0 to the proxy (Remus: no secondary); its releases to dc"
    if grep -q "$fwd" $L/$g.primary.err; then
        info "$t: $fwd"
    else
        fail $t "no datapath in xl-colo start on vif$domid.0: $(grep 'NIC of' $L/$g.primary.err | tail -n 3)"; net_teardown; return
    fi

    # The client: one connection, its input a FIFO held open on fd 3.
    mkfifo $NETDIR/client.in
    $IP netns exec $NETNS nc 10.0.0.2 7 < $NETDIR/client.in > $NETDIR/client.out 2> $NETDIR/client.err &
    echo $! > $NETDIR/client.pid
    exec 3> $NETDIR/client.in
    c0=$(net_commit commits); t0=$(up)
    rq=1
    while [ $rq -le $nreq ]; do
        ask "req $rq" 60 || { fail $t-answers "request $rq: $why"; tail -n 3 $L/$g.primary.err; net_teardown; return; }
        rq=$((rq + 1))
    done
    t1=$(up); c1=$(net_commit commits)
    bad=$(answers_in_order 1 $nreq)
    if [ -n "$bad" ]; then
        fail $t-answers "$bad"; net_teardown; return
    fi
    rate=$(echo "$t1 $t0 $nreq" | awk '{ printf "%.1f", $3 / ($1 - $2) }')
    echo "XCOLO: FIGURE $t.requests_per_s $rate 1/s"
    if [ "$((${c1:-0} - ${c0:-0}))" -ge 1 ]; then
        pass $t-answers "$nreq requests on one TCP connection through the output buffer of $g (-i ${XINT:-300}), each answer right and in order: $rate per second, $((c1 - c0)) commits"
    else
        fail $t-answers "the buffer's commits did not move: '$c0' .. '$c1' ($(net_commit held) held)"; net_teardown; return
    fi

    # 2. The secondary stopped: the answer is held until its acknowledgement.
    spid=$(cat $L/$g.secondary.pid)
    r0=$(net_commit released)
    kill -STOP "$spid"
    echo "req $rq" >&3
    # The guest says on its console when it has answered (count-lines);
    # then its answer is in the buffer or on its way to it.
    guest_answered $rq 10
    i=0
    while h=$(net_commit held); [ "${h:-0}" -lt 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    r1=$(net_commit released)
    early=$(answered "req $rq" && echo yes)
    kill -CONT "$spid"
    if ! guest_answered $rq 0 || [ "${h:-0}" -lt 1 ]; then
        fail $t-held "with the secondary stopped: the guest did not answer request $rq in 10 s, or nothing was held ('$h' frames)"; net_teardown; return
    elif [ -n "$early" ] || [ "$r1" != "$r0" ]; then
        fail $t-held "with the secondary stopped, the answer reached the client ('$early') or the buffer released ($r0 -> $r1)"; net_teardown; return
    fi
    i=0
    until answered "req $rq" || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
    if answered "req $rq"; then
        pass $t-held "with the secondary stopped, the guest answered request $rq and the answer stayed in the buffer ($h frames held, nothing released); after the acknowledgement it reached the client"
    else
        fail $t-held "the held answer to request $rq did not come after the acknowledgement: $(tail -n 2 $L/$g.primary.err)"; net_teardown; return
    fi
    rq=$((rq + 1))

    # 3. The primary dies once the guest has answered request n. The
    # answer may be in an epoch the secondary never acknowledged: then it
    # is never released (the guest gone, xl-colo start ends, dropping what
    # it held), and the client's retransmission brings it from the
    # secondary.
    echo "req $rq" >&3
    guest_answered $rq 30 || info "$t: the guest did not say it answered request $rq in 30 s"
    before=$(answered "req $rq" && echo "reached the client before" || echo "was held at")
    if ! ts $t-failover ts-colo-failover $g localhost localhost; then
        net_teardown; return
    fi
    wait_gone $L/$g.primary.pid 30 || fail $t-primary-ends "xl-colo start did not end after its guest was destroyed"
    info "$t: $(sed -n 's/.*\(NIC of [^ ]*: the datapath.s counters: \)/\1/p' $L/$g.primary.err)"
    info "$t: xl-colo start ended: $(grep -v 'counters:' $L/$g.primary.err | tail -n 3 | tr '\n' '|')"
    sid=$(xl domid $g 2>/dev/null)
    if [ -z "$sid" ] || [ "$sid" = "$domid" ] ||
       ! { $IP link add br-xcolo type bridge && $IP link set dc master br-xcolo &&
           $IP link set vif$sid.0 master br-xcolo && $IP link set br-xcolo up; } 2>/tmp/ip.err; then
        fail $t-goes-on "the secondary's network (domain '$sid', vif$sid.0): $(cat /tmp/ip.err)"; net_teardown; return
    fi
    first=$rq
    while [ $rq -le $((first + nreq)) ]; do
        if [ $rq = $first ]; then
            # in flight at the failover: TCP's retransmission brings it
            i=0; until answered "req $rq" || [ $i -ge 1200 ]; do sleep 0.1; i=$((i + 1)); done
            answered "req $rq" || { why="no answer to 'req $rq' in 120 s"; false; }
        else
            ask "req $rq" 60
        fi || { fail $t-goes-on "after the failover, request $rq: $why"; tail -n 3 $L/$g.secondary.err; net_teardown; return; }
        rq=$((rq + 1))
    done
    bad=$(answers_in_order 1 $((rq - 1)))
    if [ -n "$bad" ]; then
        fail $t-goes-on "after the failover: $bad"
    else
        pass $t-goes-on "after xl destroy of the primary, the client's connection goes on against the secondary (domain $sid): request $first, answered by the primary (the answer $before the failover), and $nreq more answered right, the count going on from the last answer released ($((rq - 1)) answers, none lost or repeated)"
    fi
    ts $t-one-copy ts-colo-check $g localhost
    net_teardown
}
