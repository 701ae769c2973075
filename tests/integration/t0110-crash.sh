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

    python3 - "$A/pri.json" "$B/sec.json" "$i" <<'PY' || fail "run $i: state lost or torn"
import json, sys
pri = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
acked = {e["epoch"]: e["digest"] for e in pri if e["event"] == "checkpoint"}
applied = {e["epoch"]: e for e in sec if e["event"] == "checkpoint"}
fo = [e for e in sec if e["event"] == "state" and e["state"] == "failed-over"]
assert fo, "no failover"
n = fo[-1]["epoch"]
assert n == max(applied), "failed over to %d, last applied %d" % (n, max(applied))
assert n >= max(acked), "acknowledged checkpoint %d lost (secondary at %d)" % (max(acked), n)
assert applied[n]["digest"] == applied[n]["peer_digest"], "checkpoint %d applied wrong" % n
if n in acked:
    assert acked[n] == fo[-1]["digest"], "digest differs from the primary's for %d" % n
assert fo[-1]["digest"] == applied[n]["digest"], "guest changed between apply and failover"
print("# run %s: failed over at checkpoint %d (primary acked %d), digest %s" % (sys.argv[3], n, max(acked), fo[-1]["digest"][:16]))
PY
    # The secondary's guest now runs: it is the guest. Make sure it does.
    colo-simguest info --rundir "$B" --name g | grep -q "paused: no" || fail "run $i: secondary guest not running"
    colo-simguest destroy --rundir "$B" --name g >/dev/null
done
say "$runs kills, $mid of them in the middle of a checkpoint"
[ "$mid" -ge 1 ] || fail "no kill landed mid-checkpoint"
finish
