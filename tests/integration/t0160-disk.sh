#!/bin/bash
# Block replication end to end, on the sim backend: a sim guest whose disk
# is a replication sidecar's NBD export (tests/integration/disk-pair: real
# QEMU sidecars) writes blocks and records each write in its own memory;
# xl-colo checkpoints memory and disk together. The primary host (xl-colo,
# the guest, the primary sidecar) is SIGKILLed 10 times at random
# moments, mid-checkpoint included, after at least 20 checkpoints. Each
# time the secondary fails over its disk and its guest, and what the
# guest's memory records as written is exactly what its disk holds
# (colo-simguest disk-verify); then the guest goes on writing.
. "$(dirname "$0")/lib.sh"

runs=${DISK_RUNS:-10}
mid=0
for i in $(seq 1 "$runs"); do
    A=$(new_host "a$i"); B=$(new_host "b$i"); D=$(new_host "d$i"); port=$(free_port)
    disk_pair_up "$D"
    gpid=$(start_guest "$A" g --mem 64M --workload custom --rate 200000 --hot-set 8192 \
        --seed "$i" --disk "$(get primary-guest)" --disk-rate 400)
    track "$gpid"
    start_secondary "$B" "$port" --insecure --timeout 3000 \
        --disk "xvda=$(get secondary-qmp),guest=$(get secondary-guest)"
    # Odd runs checkpoint back to back, so that their kills land inside a
    # checkpoint; even runs leave room between checkpoints.
    start_primary "$A" g "$port" --insecure --timeout 3000 -i $((i % 2 ? 1 : 20)) \
        --disk "xvda=$(get primary-qmp)"
    wait_protected "$A" || die "run $i: not protected: $(cat "$A/pri.err" "$B/sec.err")"
    if [ "$i" = 1 ]; then
        # status shows each disk's replication, on both sides.
        xl-colo --rundir "$A" status -j g | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())["disks"]
assert d == [{"name": "xvda", "error": False, "desc": ""}], d' ||
            fail "primary status -j: disks wrong"
        xl-colo --rundir "$B" status g | grep -qx "  disk xvda: replicating" ||
            fail "secondary status: no 'disk xvda: replicating' line"
    fi
    want=$((20 + RANDOM % 5))
    wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= $want" 60 "$sec" ||
        die "run $i: no checkpoint $want: $(cat "$A/pri.err" "$B/sec.err")"
    sleep "0.0$((RANDOM % 30))"   # a random moment, not a synchronisation
    kill -9 "$pri" "$gpid" "$(get primary-pid)"
    wait "$pri" 2>/dev/null || true
    wait_pid "$sec" 60 || { rc=$?; cat "$B/sec.err" >&2; fail "run $i: secondary exited $rc"; continue; }
    # Mid-checkpoint: the secondary held a checkpoint still arriving, or
    # had committed one the primary never heard acknowledged.
    if grep -q "was incomplete when the primary was lost" "$B/sec.err" ||
        python3 - "$A/pri.json" "$B/sec.json" <<'PY'
import json, sys
acked = [json.loads(l)["epoch"] for l in open(sys.argv[1])
         if l.strip() and json.loads(l)["event"] == "checkpoint"]
fo = [json.loads(l)["epoch"] for l in open(sys.argv[2])
      if l.strip() and json.loads(l)["event"] == "state" and json.loads(l)["state"] == "failed-over"]
sys.exit(0 if fo and acked and fo[-1] > max(acked) else 1)
PY
    then mid=$((mid + 1)); fi
    jq_has "$B/sec.json" "event == 'state' and state == 'failed-over'" ||
        { fail "run $i: no failover: $(cat "$B/sec.err")"; continue; }
    grep -q "disk xvda: failed over" "$B/sec.err" || fail "run $i: the disk did not fail over"

    out=$(colo-simguest disk-verify --rundir "$B" --name g) ||
        fail "run $i: the secondary's disk disagrees with its memory: $out"
    say "run $i: $out"
    # The guest goes on: later writes, still agreeing.
    first=$(echo "$out" | sed -n 's/.*last write \([0-9]*\).*/\1/p')
    end=$((SECONDS + 20))
    while :; do
        out=$(colo-simguest disk-verify --rundir "$B" --name g) ||
            { fail "run $i: after failover: $out"; break; }
        last=$(echo "$out" | sed -n 's/.*last write \([0-9]*\).*/\1/p')
        [ "$last" -gt "$((first + 20))" ] && break
        [ $SECONDS -lt $end ] || { fail "run $i: the guest does not write after failover"; break; }
        sleep 0.05
    done
    colo-simguest destroy --rundir "$B" --name g >/dev/null
    kill -TERM "$dp"; wait "$dp" || fail "run $i: disk-pair's stop failed: $(cat "$D/pair.err")"
done
say "$runs kills, $mid of them in the middle of a checkpoint"

# The secondary's sidecar dies: the next checkpoint fails on its disk (the
# secondary's QMP breaks, or the primary's status reads the error), the
# secondary does not take over, the primary goes on alone and fails its
# disk over,
# and its guest goes on writing to a disk that agrees with its memory.
A=$(new_host a0); B=$(new_host b0); D=$(new_host d0); port=$(free_port)
disk_pair_up "$D"
gpid=$(start_guest "$A" g --mem 32M --disk "$(get primary-guest)" --disk-rate 400)
track "$gpid"
start_secondary "$B" "$port" --insecure --timeout 3000 \
    --disk "xvda=$(get secondary-qmp),guest=$(get secondary-guest)"
start_primary "$A" g "$port" --insecure --timeout 3000 -i 20 --disk "xvda=$(get primary-qmp)"
wait_protected "$A" || die "not protected: $(cat "$A/pri.err" "$B/sec.err")"
wait_json "$A/pri.json" "event == 'checkpoint' and epoch >= 5" 60 "$pri" || die "no checkpoint 5"
kill -9 "$(get secondary-pid)"
wait_json "$A/pri.json" "event == 'state' and state == 'unprotected'" 30 "$pri" ||
    die "the primary did not go on alone: $(cat "$A/pri.err")"
# Whichever side's checkpoint met it first says so, naming the disk.
grep -q "error: disk xvda: qmp " "$A/pri.err" "$B/sec.err" ||
    fail "no line for the disk's error: $(cat "$A/pri.err" "$B/sec.err")"
wait_pid "$sec" 10 || true
jq_has "$B/sec.json" "event == 'state' and state == 'failed-over'" &&
    fail "the secondary failed over with its disk gone"
grep -q "disk xvda: failed over (the primary's disk goes on alone)" "$A/pri.err" ||
    fail "the primary's disk did not fail over: $(cat "$A/pri.err")"
out1=$(colo-simguest disk-verify --rundir "$A" --name g) || fail "primary after: $out1"
end=$((SECONDS + 20))
until out2=$(colo-simguest disk-verify --rundir "$A" --name g) &&
      [ "$(echo "$out2" | sed -n 's/.*last write \([0-9]*\).*/\1/p')" -gt \
        "$(echo "$out1" | sed -n 's/.*last write \([0-9]*\).*/\1/p')" ]; do
    [ $SECONDS -lt $end ] || { fail "the primary's guest does not write on: $out2"; break; }
    sleep 0.05
done
say "secondary's sidecar killed: primary alone, $out2"
# (xl-colo start has ended: a primary that loses its secondary goes on
# alone, unprotected; test_block checks the disk's clean status after.)
wait_pid "$pri" 10 || true
colo-simguest destroy --rundir "$A" --name g >/dev/null
kill -TERM "$dp"; wait "$dp" || fail "disk-pair's stop failed: $(cat "$D/pair.err")"
[ "$mid" -ge 1 ] || fail "no kill landed mid-checkpoint"
finish
