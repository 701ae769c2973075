#!/bin/bash
# A 256 MiB sim guest under kernel-build is protected over loopback TCP for
# 50 checkpoints. After each acknowledged checkpoint, the secondary's digest
# (computed by its own guest process after applying) equals the primary's
# digest taken while paused at that checkpoint. Then a clean stop.
. "$(dirname "$0")/lib.sh"

A=$(new_host hostA); B=$(new_host hostB); key=$(new_key key); port=$(free_port)
gpid=$(start_guest "$A" web1 --mem 256M --vcpus 2 --workload kernel-build --seed 11)
say "guest pid $gpid"

# Its end, after 50 checkpoints, is what the test waits for.
start_pair --no-wait "$A" "$B" web1 "$port" --key "$key" --verify --timeout 10000 -- -i 30 --max-checkpoints 50

wait_pid $pri 240 || { rc=$?; cat "$A/pri.err" "$B/sec.err" >&2; die "primary exited with $rc"; }
wait_pid $sec 30 || { rc=$?; cat "$B/sec.err" >&2; die "secondary exited with $rc"; }

python3 - "$A/pri.json" "$B/sec.json" <<'PY' || fail "digests differ"
import json, sys
pri = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
acked = {e["epoch"]: e for e in pri if e["event"] == "checkpoint"}
applied = {e["epoch"]: e for e in sec if e["event"] == "checkpoint"}
assert len(acked) >= 51, "only %d checkpoints acknowledged" % len(acked)
bad = 0
for n, e in sorted(acked.items()):
    s = applied.get(n)
    if s is None:
        print("checkpoint %d acknowledged but not applied" % n); bad += 1; continue
    if s["digest"] != e["digest"]:
        print("checkpoint %d: secondary %s != primary %s" % (n, s["digest"], e["digest"])); bad += 1
pages = sum(e["pages"] for e in acked.values() if e["epoch"] > 0)
print("# %d checkpoints, digests equal for every one; %d dirty pages in all" % (len(acked), pages))
assert pages > 0, "the workload dirtied nothing"
assert len(set(e["digest"] for e in acked.values())) > 40, "the guest did not change between checkpoints"
# The pause splits into its phases, and they add up to no more than it.
for n, e in acked.items():
    parts = e["stop_ns"] + e["copy_ns"] + e["state_ns"] + e.get("verify_ns", 0)
    if not (e["copy_ns"] > 0 and e["state_ns"] > 0 and parts <= e["pause_ns"]):
        print("checkpoint %d: phases %s do not fit its pause" % (n, e)); bad += 1
sys.exit(1 if bad else 0)
PY

# A clean stop leaves the primary guest running, log-dirty off, and the
# secondary's guest destroyed.
jq_has "$B/sec.json" "event == 'state' and state == 'stopped'" || fail "secondary did not see the stop"
[ ! -e "$B/sim/web1.sock" ] || fail "secondary guest left behind"
[ ! -e "$A/web1.ctl" ] && [ ! -e "$B/web1.ctl" ] || fail "control socket left behind"
kill -0 "$gpid" || fail "primary guest is gone"
colo-simguest info --rundir "$A" --name web1 > "$T/info"
grep -q "paused: no" "$T/info" || fail "primary guest left paused: $(cat "$T/info")"
grep -q "logdirty: off" "$T/info" || fail "log-dirty left on: $(cat "$T/info")"
finish
