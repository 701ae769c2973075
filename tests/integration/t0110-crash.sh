#!/bin/bash
# SIGKILL the primary host (xl-colo and its guest) 20 times at random
# moments, mid-checkpoint included. Each time the secondary fails over, and
# its guest's digest equals the last checkpoint it acknowledged, which is the
# primary's digest for that epoch; no acknowledged checkpoint is ever lost.
. "$(dirname "$0")/lib.sh"

runs=${CRASH_RUNS:-20}
key=$(new_key key)
mid=0
for i in $(seq 1 "$runs"); do
    A=$(new_host "a$i"); B=$(new_host "b$i"); port=$(free_port)
    gpid=$(start_guest "$A" g --mem 64M --vcpus 1 --workload custom --rate 100000 --hot-set 8192 --seed "$i")
    start_pair "$A" "$B" g "$port" --key "$key" --verify --timeout 10000 -- -i 20
    want=$((1 + RANDOM % 4))
    wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= $want" 60 || { cat "$B/sec.err" >&2; die "run $i: no checkpoint $want"; }
    # A random moment within the next checkpoint period or two.
    sleep "0.0$((RANDOM % 40))"
    kill -9 "$pri" "$gpid"
    wait "$pri" 2>/dev/null || true
    wait_pid "$sec" 30 || { rc=$?; cat "$B/sec.err" >&2; fail "run $i: secondary exited $rc"; continue; }
    grep -q "was incomplete when the primary was lost" "$B/sec.err" && mid=$((mid + 1))

    out=$(python3 "$(dirname "$0")/failover-check.py" "$A/pri.json" "$B/sec.json" 2>&1) &&
        say "run $i: $out" || fail "run $i: state lost or torn: $(tail -n 1 <<< "$out")"
    # The secondary's guest now runs: it is the guest. Make sure it does.
    colo-simguest info --rundir "$B" --name g | grep -q "paused: no" || fail "run $i: secondary guest not running"
    colo-simguest destroy --rundir "$B" --name g >/dev/null
done
say "$runs kills, $mid of them in the middle of a checkpoint"
[ "$mid" -ge 1 ] || fail "no kill landed mid-checkpoint"
finish
