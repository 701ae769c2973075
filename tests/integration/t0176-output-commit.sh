#!/bin/bash
# Remus output commit (xl-colo start --proxy, Remus mode): the guest's
# frames are held until the checkpoint of the epoch they were sent in is
# acknowledged, and released in order; a frame sent after an epoch has
# ended waits for the next acknowledgement (test_proxy_commit shows that
# part; proxy-feed's remus scenario the rest). The counters in
# status -j; alone, what is held goes and the rest passes through; with
# acknowledgements delayed, nothing leaves before its acknowledgement, and
# a primary killed before one never releases that epoch.
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

# Acknowledgements that come late: the link delayed 300 ms each way by a
# relay. No frame leaves before its epoch's acknowledgement can have come
# back (two delays after its send), and a SIGKILL of the primary while an
# acknowledgement is on its way releases nothing more: that epoch's frames
# are never seen. The secondary takes over.
A2=$(new_host a2); B2=$(new_host b2); p2=$(free_port); q2=$(free_port)
echo 300 > "$T/delay"
python3 "$(dirname "$0")/delay-relay.py" "127.0.0.1:$q2" "127.0.0.1:$p2" "$T/delay" 300 &
relay=$!; track $relay
N2=$A2/nic; mkdir -m 700 "$N2"
start_guest "$A2" web2 --mem 32M --vcpus 1 --workload web --seed 15 > /dev/null
start_secondary "$B2" "$p2" --key "$key" --timeout 10000
start_primary "$A2" web2 "$q2" --key "$key" --timeout 10000 -i 100 \
	--proxy "primary-in=$N2/pin.sock,outdev=$N2/out.sock,status=$N2/st.sock"
wait_protected "$A2" 120 || die "web2 not protected: $(cat "$A2/pri.err" "$B2/sec.err")"
"$feed" "$N2" remus-delay "$pri" 300 > "$T/delay.out" || fail "remus-delay: $(cat "$T/delay.out")"
say "$(cat "$T/delay.out")"
wait_json "$B2/sec.json" "event == 'state' and state == 'failed-over'" 60 "$sec" ||
	fail "the secondary did not take over: $(cat "$B2/sec.err")"
kill "$relay"
colo-simguest destroy --rundir "$B2" --name web2 > /dev/null || true
colo-simguest destroy --rundir "$A2" --name web2 > /dev/null 2>&1 || true

# refused RC WANT ARGS...: xl-colo start ARGS web1 exits RC with the line
# WANT (for a usage error, exit 2, its first line).
refused() {
	local want_rc=$1 want=$2 rc=0
	shift 2
	xl-colo --rundir "$A" start --key "$key" "$@" web1 127.0.0.1:1 > /dev/null 2> "$T/err" || rc=$?
	if [ $rc = 2 ]; then [ "$(head -1 "$T/err")" = "$want" ]; else grep -qxF -- "$want" "$T/err"; fi &&
		[ $rc = "$want_rc" ] || { echo "exit $rc: $(cat "$T/err")" >&2; return 1; }
}
# Bad input: Remus compares nothing.
refused 2 "xl-colo: start: --proxy: secondary-in is for --colo: Remus compares nothing" \
	--proxy "primary-in=$N/a,secondary-in=$N/b,outdev=$N/c" || fail "secondary-in in Remus"
refused 2 "xl-colo: start: --proxy: primary-in and outdev are required (or client-if)" \
	--proxy "primary-in=$N/a" || fail "no outdev"
# The datapath in the protection (client-if): Remus only, and a guest
# interface it can name.
refused 2 "xl-colo: start: --proxy: client-if runs the datapath in Remus mode only: with --colo, run colo-datapath beside the protection" \
	--colo --proxy "client-if=lo,primary-in=$N/a,secondary-in=$N/b,outdev=$N/c" || fail "client-if with --colo"
refused 2 "xl-colo: start: --proxy: guest-if needs client-if" \
	--proxy "guest-if=lo,primary-in=$N/a,outdev=$N/c" || fail "guest-if alone"
refused 1 "xl-colo: error: NIC of web1: no guest-if, and the backend knows no vif of the domain: Invalid argument" \
	--proxy "client-if=lo" || fail "client-if on sim without guest-if"
[ -z "$(ls "$A/nic" 2>/dev/null)" ] || fail "client-if refused, yet sockets in $A/nic: $(ls "$A/nic")"
colo-simguest destroy --rundir "$A" --name web1 > /dev/null
finish
