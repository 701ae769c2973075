#!/bin/bash
# The primary's guest disappears (destroyed, crashed) while xl-colo lives
# on: xl-colo says so and lets the link go without STOP, and the secondary
# takes over from the last checkpoint, as `xl destroy` of a protected
# primary does on real Xen.
. "$(dirname "$0")/lib.sh"

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
gpid=$(start_guest "$A" gone --mem 32M --vcpus 1 --workload web --seed 12)
start_pair "$A" "$B" gone "$port" --key "$key" --verify --timeout 10000 -- -i 50
wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 3" 60 || die "no checkpoints: $(cat "$B/sec.err")"

kill -9 "$gpid"
wait_pid $pri 30 && fail "primary exited 0 after its guest vanished"
grep -q "domain gone is gone: the secondary takes over from checkpoint" "$A/pri.err" || fail "primary said: $(cat "$A/pri.err")"
wait_pid $sec 30 || fail "secondary exited $?: $(cat "$B/sec.err")"
python3 - "$A/pri.json" "$B/sec.json" <<'PY' || fail "secondary did not take over intact"
import json, sys
pri = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
acked = {e["epoch"]: e["digest"] for e in pri if e["event"] == "checkpoint"}
fo = [e for e in sec if e["event"] == "state" and e["state"] == "failed-over"][-1]
assert fo["epoch"] >= max(acked)
if fo["epoch"] in acked:
    assert fo["digest"] == acked[fo["epoch"]]
print("# took over at checkpoint %d" % fo["epoch"])
PY
colo-simguest info --rundir "$B" --name gone | grep -q "paused: no" || fail "secondary guest not running"
colo-simguest destroy --rundir "$B" --name gone >/dev/null
finish
