#!/bin/bash
# The NIC comparison in a protection's own process (xl-colo start --colo
# --proxy ...): the same service as colo-proxy, its divergence a
# checkpoint of the protection (libxlcolo_request_checkpoint, no socket
# hop) and the checkpoint's commit its release; its counters in
# `xl-colo status` and `status -j`; the primary alone passes frames
# through; its sockets go with the protection. Then --proxy's bad input.
. "$(dirname "$0")/lib.sh"
feed=$abs_top_builddir/tests/integration/proxy-feed

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
N=$A/nic; mkdir -m 700 "$N"
spec="primary-in=$N/pin.sock,secondary-in=$N/sin.sock,outdev=$N/out.sock,status=$N/st.sock"
# No periodic checkpoint in the test's time (-i), and no compare timeout
# either: every checkpoint after the initial sync is the comparison's.
start_guest "$A" web1 --mem 32M --vcpus 1 --workload web --seed 13 > /dev/null
start_pair "$A" "$B" web1 "$port" --key "$key" --timeout 30000 -- --colo -i 3600000 \
	--proxy "$spec,compare-timeout=60000,busy-poll=200"

# proxy_check EXPR...: each Python EXPR holds, within 5 s, of `xl-colo
# status -j web1` as s (its "proxy" object as p). The counters there are
# the service's own, taken when asked.
proxy_check() {
	local end=$((SECONDS + 5))
	until xl-colo --rundir "$A" status -j web1 > "$T/st.json" 2> "$T/st.err" &&
		python3 - "$T/st.json" "$@" 2> "$T/check.err" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = s['proxy']
bad = [e for e in sys.argv[2:] if not eval(e)]
for e in bad:
    print('status check failed:', e, file=sys.stderr)
if bad:
    print(json.dumps(p), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
	do
		[ $SECONDS -lt $end ] || { cat "$T/st.err" "$T/check.err" >&2; return 1; }
		sleep 0.05
	done
}

"$feed" "$N" engine-hold "$sec" || fail "engine-hold: $(cat "$A/pri.err")"
proxy_check "p['checkpoints'] == 1" "p['checkpoint_reasons']['packet'] == 1" \
	"p['checkpoints_done'] >= 1" "p['released'] == 3" "p['compared'] == 2" \
	"not p['alone']" "s['state'] == 'protected'" "p['busy_poll']['us'] == 200" ||
	fail "status -j after the divergence"
python3 - "$A/pri.json" <<'PY' || fail "not one checkpoint for the one divergence"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = [e['epoch'] for e in ev if e['event'] == 'checkpoint' and e['epoch'] > 0]
assert n == [1], n
PY
xl-colo --rundir "$A" status web1 > "$T/human" || fail "status"
grep -q "^  NIC: released 3 (2 compared)  flows [0-9]*  checkpoints asked 1  memory [0-9]* of [0-9]* bytes$" \
	"$T/human" || fail "status: $(cat "$T/human")"

# The secondary gone: the primary goes on alone, its frames uncompared.
kill -9 "$sec"
wait_json "$A/pri.json" "event == 'state' and state == 'unprotected'" 60 "$pri" ||
	die "primary not alone: $(cat "$A/pri.err")"
"$feed" "$N" engine-alone || fail "engine-alone: $(cat "$A/pri.err")"
proxy_check "p['alone']" "p['passed_alone'] == 1" "p['dropped_alone'] == 1" \
	"p['checkpoints'] == 1" || fail "status -j alone"
grep -q "NIC of web1: the secondary is gone: the primary's frames pass through uncompared" \
	"$A/pri.err" || fail "no line for alone"

grep -q "web1 runs alone: its NIC is served until \`xl-colo stop web1\`" "$A/pri.err" ||
	fail "no line for serving alone"
rc=0
xl-colo --rundir "$A" checkpoint web1 > /dev/null 2> "$T/err" || rc=$?
[ $rc = 1 ] && grep -q "no checkpoint: the secondary is lost" "$T/err" || fail "checkpoint alone: exit $rc: $(cat "$T/err")"

# The stop takes the sockets with it. The protection was lost: exit 1.
xl-colo --rundir "$A" stop web1 > /dev/null || fail "stop"
rc=0; wait_pid "$pri" 30 || rc=$?
[ $rc = 1 ] || fail "primary exited $rc: $(cat "$A/pri.err")"
left=$(ls "$N")
[ -z "$left" ] || fail "left in $N: $left"

# Bad input: one line naming the problem, exit 2 (usage) or 1, nothing listening.
# usage_is LINE START-ARGS...: `xl-colo start` says LINE first and exits 2.
usage_is() {
	local want=$1 rc=0
	shift
	xl-colo --rundir "$A" start --key "$key" "$@" web1 127.0.0.1:1 > /dev/null 2> "$T/err" || rc=$?
	[ $rc = 2 ] && [ "$(head -1 "$T/err")" = "$want" ] ||
		{ echo "exit $rc: $(cat "$T/err")" >&2; return 1; }
}
usage_is "xl-colo: start: --proxy: 'junk' is not KEY=VALUE" --colo --proxy "$spec,junk" ||
	fail "--proxy junk"
usage_is "xl-colo: start: --proxy: unknown key 'colour' (primary-in, secondary-in, outdev, status, client-if, guest-if, compare-timeout, busy-poll, vnet-hdr)" \
	--colo --proxy "$spec,colour=red" || fail "--proxy unknown key"
usage_is "xl-colo: start: --proxy busy-poll: '10001' is not a number in 0..10000" \
	--colo --proxy "$spec,busy-poll=10001" || fail "--proxy busy-poll too long"
usage_is "xl-colo: start: --proxy: primary-in, secondary-in and outdev are required with --colo" \
	--colo --proxy "primary-in=$N/a,outdev=$N/b" || fail "--proxy missing"
usage_is "xl-colo: start: --proxy: outdev given twice" --colo --proxy "$spec,outdev=$N/c" ||
	fail "--proxy twice"
usage_is "xl-colo: start: --proxy: given twice" --colo --proxy "$spec" --proxy "$spec" ||
	fail "two --proxy"
# A path another program listens on: the start fails, naming it.
python3 -c "
import signal, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print('ready', flush=True); signal.pause()" "$N/pin.sock" > "$T/holder" &
holder=$!; track $holder
end=$((SECONDS + 10))
until grep -q ready "$T/holder"; do
	[ $SECONDS -lt $end ] && alive "$holder" || die "no listener on $N/pin.sock"
	sleep 0.05
done
rc=0
xl-colo --rundir "$A" start --key "$key" --colo --proxy "$spec" web1 127.0.0.1:1 \
	> /dev/null 2> "$T/err" || rc=$?
[ $rc = 1 ] && grep -qx "xl-colo: error: NIC of web1: --primary-in $N/pin.sock: another program is listening there" "$T/err" ||
	fail "a path in use: exit $rc: $(cat "$T/err")"
[ ! -e "$N/out.sock" ] || fail "a socket left after the failed start"
kill "$holder"
colo-simguest destroy --rundir "$A" --name web1 > /dev/null
finish
