#!/bin/bash
# A running COLO secondary (sim): between checkpoints the secondary guest
# runs, and at every checkpoint it becomes an exact copy of the primary
# again (the pages it wrote itself put back from its cache, then the
# primary's applied): --verify's digests are equal at every checkpoint
# although it ran. A SIGKILL of the primary: the secondary takes over from
# the last checkpoint, its own writes since put back (failover-check.py).
# Remus on the same guest: the secondary stays paused, nothing put back.
. "$(dirname "$0")/lib.sh"

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
# --jitter: 1% of the touches on a random page, not the context's: the two
# guests diverge, as real ones do.
start_guest "$A" c1 --mem 64M --vcpus 2 --workload web --seed 16 --jitter 10000 > /dev/null
start_pair "$A" "$B" c1 "$port" --key "$key" --verify --timeout 10000 -- --colo -i 100
wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 10" 60 "$sec" ||
	die "no checkpoints: $(cat "$B/sec.err")"
# The secondary's guest runs between checkpoints (it is stopped only for
# one): seen running within 10 s.
end=$((SECONDS + 10))
until colo-simguest info --rundir "$B" --name c1 | grep -q "paused: no"; do
	[ $SECONDS -lt $end ] || { fail "the secondary guest never ran"; break; }
	sleep 0.02
done
python3 - "$B/sec.json" <<'PY' || fail "digests or the secondary's own pages"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ck = [e for e in ev if e['event'] == 'checkpoint']
bad = [e['epoch'] for e in ck if e['digest'] != e['peer_digest']]
assert not bad, 'digests differ at %s' % bad
own = sum(e.get('restored', 0) for e in ck)
assert own > 0, 'the secondary put back none of its own pages: it did not run'
print('# %d checkpoints, digests equal at each; %d pages of the secondary\'s own put back'
      % (len(ck), own))
PY
! grep -q "secondary digest differs" "$B/sec.err" || fail "a digest differed: $(cat "$B/sec.err")"

kill -9 "$pri"
wait_json "$B/sec.json" "event == 'state' and state == 'failed-over'" 60 "$sec" ||
	die "no failover: $(cat "$B/sec.err")"
out=$(python3 "$(dirname "$0")/failover-check.py" "$A/pri.json" "$B/sec.json" 2>&1) &&
	say "$out" || fail "failover: $out"
colo-simguest info --rundir "$B" --name c1 | grep -q "paused: no" || fail "the secondary guest is not running"
wait_pid "$sec" 30 || fail "receive exited $?: $(cat "$B/sec.err")"
colo-simguest destroy --rundir "$B" --name c1 > /dev/null
colo-simguest destroy --rundir "$A" --name c1 > /dev/null

# Remus: the secondary stays paused; nothing of its own is put back.
A2=$(new_host a2); B2=$(new_host b2); port2=$(free_port)
start_guest "$A2" r1 --mem 64M --vcpus 2 --workload web --seed 17 > /dev/null
start_pair "$A2" "$B2" r1 "$port2" --key "$key" --verify --timeout 10000 -- -i 100 --max-checkpoints 10
wait_pid "$pri" 60 || fail "Remus primary exited $?: $(cat "$A2/pri.err")"
wait_pid "$sec" 60 || fail "Remus secondary exited $?: $(cat "$B2/sec.err")"
python3 - "$B2/sec.json" <<'PY' || fail "Remus: the secondary ran"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ck = [e for e in ev if e['event'] == 'checkpoint']
assert len(ck) >= 10 and not any(e.get('restored') for e in ck), ck
PY
colo-simguest destroy --rundir "$A2" --name r1 > /dev/null
finish
