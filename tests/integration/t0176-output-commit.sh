#!/bin/bash
# Remus output commit (xl-colo start --proxy, Remus mode): the guest's
# frames are held until the checkpoint of the epoch they were sent in is
# acknowledged, and released in order; a frame sent after an epoch has
# ended waits for the next acknowledgement (test_proxy_commit shows that
# part; proxy-feed's remus scenario the rest). The counters in
# status -j; alone, what is held goes and the rest passes through.
. "$(dirname "$0")/lib.sh"
feed=$abs_top_builddir/tests/integration/proxy-feed

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
N=$A/nic; mkdir -m 700 "$N"
# Checkpoints only when asked (-i): each one is the scenario's.
start_guest "$A" web1 --mem 32M --vcpus 1 --workload web --seed 14 > /dev/null
start_pair "$A" "$B" web1 "$port" --key "$key" --timeout 30000 -- -i 3600000 \
	--proxy "primary-in=$N/pin.sock,outdev=$N/out.sock,status=$N/st.sock"

"$feed" "$N" remus "$A" web1 || fail "remus: $(cat "$A/pri.err")"
# status -j's counters are the service's own when asked; until they hold,
# 5 s at most.
end=$((SECONDS + 5))
until xl-colo --rundir "$A" status -j web1 > "$T/st.json" && python3 - "$T/st.json" 2> "$T/check.err" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s['proxy']['commit']
# Epoch 0 (the end of the initial sync) and the scenario's two.
assert c['enabled'] and c['barriers'] == 3 and c['commits'] == 3, c
assert c['released'] == 3 and c['held'] == 0 and c['dropped_overflow'] == 0, c
assert s['proxy']['compared'] == 0 and s['checkpoints'] == 3, s
PY
do
	[ $SECONDS -lt $end ] || { fail "status -j: $(cat "$T/check.err")"; break; }
	sleep 0.05
done

# A frame held when the secondary goes (SIGKILLed by the feeder): released
# once the primary is alone, as what follows.
"$feed" "$N" remus-alone "$sec" || fail "remus-alone: $(cat "$A/pri.err")"
wait_json "$A/pri.json" "event == 'state' and state == 'unprotected'" 60 "$pri" ||
	fail "primary not alone: $(cat "$A/pri.err")"
xl-colo --rundir "$A" stop web1 > /dev/null || fail "stop"
rc=0; wait_pid "$pri" 30 || rc=$?
[ $rc = 1 ] || fail "primary exited $rc: $(cat "$A/pri.err")"
[ -z "$(ls "$N")" ] || fail "left in $N: $(ls "$N")"

# Bad input: Remus compares nothing.
rc=0
xl-colo --rundir "$A" start --key "$key" --proxy "primary-in=$N/a,secondary-in=$N/b,outdev=$N/c" \
	web1 127.0.0.1:1 > /dev/null 2> "$T/err" || rc=$?
[ $rc = 2 ] && [ "$(head -1 "$T/err")" = "xl-colo: start: --proxy: secondary-in is for --colo: Remus compares nothing" ] ||
	fail "secondary-in in Remus: exit $rc: $(cat "$T/err")"
rc=0
xl-colo --rundir "$A" start --key "$key" --proxy "primary-in=$N/a" web1 127.0.0.1:1 \
	> /dev/null 2> "$T/err" || rc=$?
[ $rc = 2 ] && [ "$(head -1 "$T/err")" = "xl-colo: start: --proxy: primary-in and outdev are required" ] ||
	fail "no outdev: exit $rc: $(cat "$T/err")"
colo-simguest destroy --rundir "$A" --name web1 > /dev/null
finish
