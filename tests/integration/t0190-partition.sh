#!/bin/bash
# Partitions in network namespaces (issue 12 §2). Three namespaces made
# here - host A, host B and the arbiter E, a one-member etcd listening on
# E's two links - joined by veth pairs:
#     A 10.77.1.1 --- 10.77.1.2 B      (the replication link)
#     A 10.77.2.1 --- 10.77.2.2 E      (A's arbiter)
#     B 10.77.3.1 --- 10.77.3.2 E      (B's arbiter)
# A sim guest on A, protected by xl-colo start in A and receive in B (their
# fence watchdogs with them), --timeout 1500, --lease-ttl 3000. A link is
# cut by setting its end down. Each scenario runs PARTITION_RUNS times (3;
# 1 in the sanitizer build, which runs the same code under ASan):
#   1 cut A-B            2 cut A-E            3 cut B-E
#   4 isolate A          5 isolate B          6 SIGSTOP A's xl-colo 3 s
#   7 SIGKILL A (host)   8 etcd killed, then A-B cut (both back after)
#   9 500 ms each way on A-B (a delaying relay in A: no sch_netem here)
#  10 the A-B link flaps every 200 ms for 10 s
# colo-simguest sample reads both guests' run state every 10 ms. Each run
# asserts: no sample sees both guests running; where a side can still
# reach the arbiter, no stretch without a running guest is longer than
# --timeout plus the lease TTL; when the guest ends up on B, B failed over
# to the last checkpoint A saw acknowledged, digest equal; at the end
# exactly one copy runs and every process of the run is gone. Then a table:
# scenario, runs, outcomes, worst unavailability. PARTITION_ONLY="6 7"
# runs only those scenarios (by hand).
. "$(dirname "$0")/lib.sh"

skip() { say "skipped: $*"; exit 77; }
command -v etcd >/dev/null || die "no etcd (tools/install-deps.sh installs etcd-server)"
command -v ip >/dev/null || skip "no ip(8) (iproute2)"
[ "$(id -u)" = 0 ] || skip "network namespaces need root"

TO=1500 TTL=3000 WINDOW=5
RUNS=${PARTITION_RUNS:-3}
[ -z "${ASAN_OPTIONS:-}" ] || RUNS=${PARTITION_RUNS:-1}
NS=xc$$
key=$(new_key key)
here=$(cd "$(dirname "$0")" && pwd)

ns_down() {
    local n
    for n in a b e; do ip netns del $NS$n 2>/dev/null || true; done
}
trap 'cleanup; ns_down' EXIT
ip netns add ${NS}a 2> "$T/ns.err" || skip "cannot make a network namespace: $(cat "$T/ns.err")"
ip netns add ${NS}b && ip netns add ${NS}e || die "ip netns add"
# in_ns N CMD...: CMD in namespace N, in the foreground. (What runs in
# the background is started as `ip netns exec` itself, so that $! is its
# pid: ip execs the command, where a function would be a subshell.)
in_ns() { local n=$1; shift; ip netns exec $NS$n "$@"; }
# veth X Y N: X's end "XY" at 10.77.N.1, Y's end "YX" at 10.77.N.2
veth() {
    ip link add $1$2 netns $NS$1 type veth peer name $2$1 netns $NS$2 &&
    ip -n $NS$1 addr add 10.77.$3.1/24 dev $1$2 && ip -n $NS$2 addr add 10.77.$3.2/24 dev $2$1 &&
    ip -n $NS$1 link set $1$2 up && ip -n $NS$2 link set $2$1 up
}
for n in a b e; do ip -n $NS$n link set lo up || die "lo up in $n"; done
veth a b 1 && veth a e 2 && veth b e 3 || die "veth pairs"
cut() { ip -n $NS$1 link set $1$2 down; }
heal() { ip -n $NS$1 link set $1$2 up; }

# The arbiter: etcd in E, on both of E's links.
etcd_start() {
    ip netns exec ${NS}e etcd --name arb --data-dir "$T/etcd" \
        --listen-client-urls http://10.77.2.2:2379,http://10.77.3.2:2379 \
        --advertise-client-urls http://10.77.2.2:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster arb=http://127.0.0.1:2380 >> "$T/etcd.log" 2>&1 &
    etcd_pid=$!; track $etcd_pid
    local end=$((SECONDS + 30))
    until [ "$(in_ns e curl -s http://10.77.2.2:2379/health | grep -c '"health":"true"')" -gt 0 ]; do
        alive $etcd_pid || die "etcd exited: $(tail -n 3 "$T/etcd.log")"
        [ $SECONDS -lt $end ] || die "etcd not healthy in 30 s: $(tail -n 3 "$T/etcd.log")"
        sleep 0.1
    done
}
etcd_start

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
state() { # DIR: run, paused or none (the sampler's words)
    local out
    out=$(colo-simguest info --rundir "$1" --name g 2>/dev/null) || { echo none; return; }
    case $out in *"paused: no"*) echo run ;; *) echo paused ;; esac
}
# children PID: the pids of PID's children (A's fence watchdog)
children() { cat /proc/$1/task/*/children 2>/dev/null || true; }

# run_up TAG: a guest on A, protected; A, B, pri, sec, gpid, port set.
# B's receive listens on 10.77.1.2:PORT; A's start connects to TARGET
# (default the same; scenario 9 puts its relay there).
run_up() {
    A=$(new_host a$1); B=$(new_host b$1); port=$((7800 + ${1//[^0-9]/}))
    local uuid target=${2:-10.77.1.2:$port}
    uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    gpid=$(start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 7 --uuid "$uuid"); track $gpid
    ip netns exec ${NS}b xl-colo --rundir "$B" -j receive --listen 10.77.1.2:$port --key "$key" --verify \
        --timeout $TO --arbiter etcd://10.77.3.2:2379 --lease-ttl $TTL --arbiter-host hostB \
        > "$B/sec.json" 2> "$B/sec.err" &
    sec=$!; track $sec
    ip netns exec ${NS}a xl-colo --rundir "$A" -j start -i 100 --key "$key" --verify --timeout $TO \
        --arbiter etcd://10.77.2.2:2379 --lease-ttl $TTL --arbiter-host hostA g "$target" \
        > "$A/pri.json" 2> "$A/pri.err" &
    pri=$!; track $pri
    wait_protected "$A" 30 && wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 3" 30 "$sec"
}

# gone PID SECONDS: until the process is gone (reaped if ours); 1 if not
gone() {
    local end=$((SECONDS + $2))
    while alive "$1"; do [ $SECONDS -lt $end ] || return 1; sleep 0.05; done
    wait "$1" 2>/dev/null || true
}

# B_from_A: B failed over to the last checkpoint A saw acknowledged
# (failover-check.py, t0110's rules).
B_from_A() { python3 "$here/failover-check.py" "$A/pri.json" "$B/sec.json"; }

# worst SAMPLES FROM_NS: the longest stretch, in ms, from FROM_NS on, in
# which no sample sees the guest running anywhere.
worst() {
    awk -v from="$2" '$3 >= from {
        if ($1 == "run" || $2 == "run") { if (start) { d = $3 - start; if (d > w) w = d }; start = 0 }
        else if (!start) start = $3
    } END { if (start) { d = last - start; if (d > w) w = d }; printf "%d\n", w / 1000000 }
    { last = $3 }' "$1"
}

declare -A OUT WORST
# scenario N TAG: one run of scenario N
scenario() {
    local n=$1 tag=$2 smp s0 arb_reachable=t outcome t0 failed_before=$_fail
    _fail=0
    if ! run_up "$tag" $([ "$n" = 9 ] && echo "127.0.0.1:$((17800 + ${tag//[^0-9]/}))"); then
        fail "$tag: not protected: $(tail -n 3 "$A/pri.err" "$B/sec.err")"; return
    fi
    colo-simguest sample --every 10 --for 120 "$A/g" "$B/g" > "$T/s.$tag" & smp=$!; track $smp
    t0=$(date +%s%N)
    local wd
    wd=$(children "$pri")
    # The fault, for as long as the timeout, the lease and a retry or two
    # need to decide (WINDOW), or as the scenario says; then healed.
    case $n in
    1) cut a b; sleep $WINDOW; heal a b ;;
    2) cut a e; sleep $WINDOW; heal a e ;;
    3) cut b e; sleep $WINDOW; heal b e ;;
    4) cut a b; cut a e; sleep $WINDOW; heal a b; heal a e ;;
    5) cut a b; cut b e; sleep $WINDOW; heal a b; heal b e ;;
    6) kill -STOP "$pri"; sleep $((2 * TO / 1000)); kill -CONT "$pri" ;;
    7) kill -9 "$pri" $wd "$gpid" 2>/dev/null ;;
    8) kill -9 $etcd_pid; wait $etcd_pid 2>/dev/null || true; arb_reachable=; cut a b; sleep $WINDOW
       etcd_start; heal a b ;;
    9) echo 500 > "$T/delay.$tag"; sleep $WINDOW; echo 0 > "$T/delay.$tag" ;;
    10) local flap=$((SECONDS + 10))
        while [ $SECONDS -lt $flap ]; do cut a b; sleep 0.2; heal a b; sleep 0.2; done ;;
    esac
    # The end: the loser's xl-colo exits (its copy destroyed) or, where
    # nothing had to move, A still protects: B applies two more
    # checkpoints after the heal. Bounded.
    local end=$((SECONDS + 30)) a b e
    e=$(python3 -c 'import json,sys; print(max([json.loads(l)["epoch"] for l in open(sys.argv[1]) if "\"checkpoint\"" in l] or [0]))' "$B/sec.json")
    while :; do
        a=$(state "$A"); b=$(state "$B")
        if [ "$a$b" = runnone ] || [ "$a$b" = nonerun ]; then break; fi
        if [ "$a" = run ] && alive "$pri" && alive "$sec" &&
           jq_has "$B/sec.json" "event == 'checkpoint' and epoch >= $((e + 2))"; then break; fi
        [ $SECONDS -lt $end ] || break
        sleep 0.1
    done
    if [ "$a" = run ] && alive "$pri" && alive "$sec"; then
        outcome="A protected"
        jq_has "$A/pri.json" "event == 'state' and state in ('unprotected', 'fenced')" &&
            fail "$tag: A was unprotected or fenced, yet B still applies its checkpoints"
        xl-colo --rundir "$A" stop g > /dev/null 2> "$T/stop.$tag" || fail "$tag: stop failed: $(cat "$T/stop.$tag")"
        gone "$sec" 30 || fail "$tag: receive still runs after stop"
        gone "$pri" 30 || fail "$tag: start still runs after stop"
    elif [ "$a" = run ]; then
        outcome="A alone"
        gone "$sec" 30 || fail "$tag: B's receive still runs with A alone (B's guest $b): $(tail -n 4 "$B/sec.err")"
        xl-colo --rundir "$A" stop g > /dev/null 2>&1 || true
        gone "$pri" 30 || fail "$tag: A's start still runs: $(tail -n 2 "$A/pri.err")"
    elif [ "$b" = run ]; then
        outcome="B live"
        B_from_A > "$T/fo.$tag" 2>&1 || fail "$tag: B did not go live from A's last acknowledged checkpoint: $(tail -n 1 "$T/fo.$tag")"
        gone "$sec" 30 || fail "$tag: B's receive still runs after going live"
        gone "$pri" 30 || fail "$tag: A's start still runs with B live: $(tail -n 2 "$A/pri.err")"
    else
        outcome="none"
        fail "$tag: no copy runs at the end (A $a, B $b): $(tail -n 2 "$A/pri.err" "$B/sec.err")"
    fi
    kill -TERM $smp; wait $smp || fail "$tag: the sampler exited $?"
    for p in $wd; do gone "$p" 10 || fail "$tag: A's fence watchdog ($p) outlived its xl-colo"; done
    local both w
    both=$(awk '$1 == "run" && $2 == "run"' "$T/s.$tag" | wc -l)
    [ "$both" = 0 ] || fail "$tag: $both samples saw the guest running on A and on B"
    w=$(worst "$T/s.$tag" "$t0")
    if [ -n "$arb_reachable" ] && [ "$w" -gt $((TO + TTL)) ]; then
        fail "$tag: no copy ran for $w ms, more than --timeout plus the lease TTL ($((TO + TTL)) ms)"
    fi
    local slow=""
    if [ $n = 9 ]; then
        slow=$(python3 -c 'import json,sys; print(max(json.loads(l)["total_ns"] for l in open(sys.argv[1]) if "\"checkpoint\"" in l) // 1000000)' "$A/pri.json")
        [ "$slow" -ge 1000 ] || fail "$tag: the relay's delay did not show: the longest checkpoint took $slow ms"
        slow=" (the longest checkpoint $slow ms)"
    fi
    say "$tag: $outcome$slow; worst unavailability $w ms; $(wc -l < "$T/s.$tag") samples, none with both running"
    # A failed run shows what both sides said last.
    if [ $_fail -ne 0 ]; then
        sed "s/^/# $tag A: /" "$A/pri.err" | tail -n 12
        sed "s/^/# $tag B: /" "$B/sec.err" | tail -n 12
    fi
    [ $failed_before = 0 ] || _fail=1
    OUT[$n]="${OUT[$n]:+${OUT[$n]}, }$outcome"
    [ -n "${WORST[$n]:-}" ] && [ "${WORST[$n]}" -ge "$w" ] || WORST[$n]=$w
    colo-simguest destroy --rundir "$A" --name g > /dev/null 2>&1 || true
    colo-simguest destroy --rundir "$B" --name g > /dev/null 2>&1 || true
}

names=("" "cut A-B" "cut A-E" "cut B-E" "isolate A" "isolate B" "SIGSTOP A 3 s" "SIGKILL A"
       "etcd down, cut A-B" "500 ms on A-B" "A-B flaps 200 ms")
for n in ${PARTITION_ONLY:-$(seq 1 10)}; do
    for r in $(seq 1 $RUNS); do
        tag="s${n}r$r"
        if [ $n = 9 ]; then
            echo 0 > "$T/delay.$tag"
            ip netns exec ${NS}a python3 "$here/delay-relay.py" "127.0.0.1:$((17800 + ${tag//[^0-9]/}))" \
                "10.77.1.2:$((7800 + ${tag//[^0-9]/}))" "$T/delay.$tag" 120 & relay=$!; track $relay
        fi
        scenario $n "$tag"
        if [ $n = 9 ]; then kill -TERM $relay; wait $relay 2>/dev/null || true; fi
    done
done

say "scenario | runs | outcomes | worst unavailability (ms)"
for n in $(seq 1 10); do
    say "$n ${names[$n]} | $RUNS | ${OUT[$n]:-} | ${WORST[$n]:-}"
done
finish
