#!/bin/bash
# By hand: `checkpoint` and `status` answer through the control socket;
# `failover` on the secondary and `stop` on the primary each end cleanly,
# leaving no process, socket or temporary file behind; a new `start` after
# a SIGKILL of both sides protects the same guest again; a `start` restarts
# a guest left stopped mid-checkpoint, even with no secondary to reach;
# SIGINT to `start` ends both sides as `stop` does, SIGTERM to `receive` as
# `stop` on the secondary does, and a signal before the protection is up
# ends the command at once with 128 plus its number.
. "$(dirname "$0")/lib.sh"
key=$(new_key key)

protect() { # HOSTA HOSTB PORT
    start_guest "$1" m --mem 32M --vcpus 1 --workload web --seed 5 >/dev/null
    start_pair "$1" "$2" m "$3" --key "$key" --verify --timeout 10000 -- -i 200
}

# 1. checkpoint on demand, status, then failover on the secondary.
A=$(new_host a1); B=$(new_host b1); port=$(free_port)
protect "$A" "$B" "$port"
out=$(xl-colo --rundir "$A" checkpoint m) || die "checkpoint failed"
[[ "$out" =~ ^checkpoint\ ([0-9]+)\ committed$ ]] || die "checkpoint said: $out"
epoch=${BASH_REMATCH[1]}
jq_has "$A/pri.json" "event == 'checkpoint' and epoch == $epoch" || fail "checkpoint $epoch not reported"
xl-colo --rundir "$B" -j status m > "$T/st.json" || die "status failed"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["role"]=="secondary" and s["state"]=="protected", s' "$T/st.json" \
    || fail "secondary status: $(cat "$T/st.json")"
out=$(xl-colo --rundir "$B" checkpoint m 2>&1) && fail "checkpoint on the secondary succeeded"
[ "$out" = "xl-colo: checkpoint: checkpoints are taken on the primary" ] || fail "checkpoint on secondary said: $out"

xl-colo --rundir "$B" failover m > /dev/null || die "failover failed"
wait_pid $sec 30 || fail "secondary exited $? after failover: $(cat "$B/sec.err")"
jq_has "$B/sec.json" "event == 'state' and state == 'failed-over'" || fail "no failed-over state"
colo-simguest info --rundir "$B" --name m | grep -q "paused: no" || fail "secondary guest not running after failover"
# The primary sees its secondary go and carries on alone.
wait_pid $pri 30 && fail "primary exited 0 after losing its secondary"
grep -q "continues unprotected" "$A/pri.err" || fail "primary did not say it runs alone: $(cat "$A/pri.err")"
colo-simguest info --rundir "$A" --name m | grep -q "logdirty: off" || fail "primary left log-dirty on"
colo-simguest destroy --rundir "$A" --name m >/dev/null
colo-simguest destroy --rundir "$B" --name m >/dev/null

# 2. stop on the primary: both sides end, the primary guest runs on.
A=$(new_host a2); B=$(new_host b2); port=$(free_port)
protect "$A" "$B" "$port"
xl-colo --rundir "$A" stop m > /dev/null || die "stop failed"
wait_pid $pri 30 || fail "primary exited $? after stop: $(cat "$A/pri.err")"
wait_pid $sec 30 || fail "secondary exited $? after stop: $(cat "$B/sec.err")"
gpid=$(guest_pid "$A" m)
colo-simguest info --rundir "$A" --name m > "$T/info"
grep -q "paused: no" "$T/info" && grep -q "logdirty: off" "$T/info" || fail "primary guest after stop: $(cat "$T/info")"
colo-simguest destroy --rundir "$A" --name m >/dev/null
! alive "$gpid" || fail "guest $gpid survived destroy"

# 3. SIGKILL of xl-colo on both sides (the secondary first stopped, so that
# it does not fail over): the guest runs on, log-dirty left on; a new start
# on the same guest says so, turns it off and on again, and protects it.
A=$(new_host a3); B=$(new_host b3); port=$(free_port)
protect "$A" "$B" "$port"
kill -STOP $sec; kill -9 $pri; kill -9 $sec
wait_pid $pri 10 2>/dev/null || true; wait_pid $sec 10 2>/dev/null || true
colo-simguest info --rundir "$A" --name m > "$T/info"
# The SIGKILL may land while a checkpoint has the guest stopped (the
# operator guide's "stopped in the middle of a checkpoint"): the new start
# must then restart it too, and say so.
left_stopped=
if grep -q "paused: yes" "$T/info" && grep -q "checkpoint stop: yes" "$T/info"; then
    left_stopped=t
fi
{ grep -q "paused: no" "$T/info" || [ -n "$left_stopped" ]; } && grep -q "logdirty: on" "$T/info" ||
    fail "guest after the SIGKILL: $(cat "$T/info")"
# The killed receive's half-built secondary is the operator's to remove.
colo-simguest destroy --rundir "$B" --name m >/dev/null || fail "no secondary guest left to destroy"
rm -f "$A/pri.json" "$B/sec.json"
port=$(free_port)
start_pair --no-wait "$A" "$B" m "$port" --key "$key" --verify --timeout 10000 -- -i 200
wait_json "$A/pri.json" "event == 'checkpoint' and epoch == 2" 60 || fail "no checkpoint 2 after the restart: $(tail -n 3 "$A/pri.err" "$B/sec.err")"
grep -q "xl-colo: warning: sim m: log-dirty was left on; turning it off and on again" "$A/pri.err" \
    || fail "the new start did not meet log-dirty left on: $(head -n 3 "$A/pri.err")"
if [ -n "$left_stopped" ]; then
    grep -qx "xl-colo: warning: sim m: was left stopped (pause) by an xl-colo that did not finish its checkpoint; restarting it" "$A/pri.err" \
        || fail "the new start did not restart the guest left stopped: $(head -n 3 "$A/pri.err")"
fi
xl-colo --rundir "$A" stop m > /dev/null || die "stop after the restart failed"
wait_pid $pri 30 || fail "primary exited $? after stop: $(cat "$A/pri.err")"
wait_pid $sec 30 || fail "secondary exited $? after stop: $(cat "$B/sec.err")"
colo-simguest destroy --rundir "$A" --name m >/dev/null

# 4. A guest left stopped for a checkpoint by a killed protection: the next
# start restarts it at once, even when it cannot reach a secondary.
A=$(new_host a4); port=$(free_port)
start_guest "$A" m --mem 32M --vcpus 1 --workload web --seed 5 >/dev/null
colo-simguest pause --checkpoint --rundir "$A" --name m || die "pause --checkpoint failed"
colo-simguest info --rundir "$A" --name m > "$T/info"
grep -q "paused: yes" "$T/info" && grep -q "checkpoint stop: yes" "$T/info" || fail "guest not stopped: $(cat "$T/info")"
xl-colo --rundir "$A" start -i 200 --key "$key" m "127.0.0.1:$port" > /dev/null 2> "$A/pri.err" \
    && fail "start without a secondary succeeded"
grep -qx "xl-colo: warning: sim m: was left stopped (pause) by an xl-colo that did not finish its checkpoint; restarting it" "$A/pri.err" \
    || fail "start did not restart the guest: $(cat "$A/pri.err")"
grep -q "cannot connect to 127.0.0.1 port $port" "$A/pri.err" || fail "start failed otherwise: $(cat "$A/pri.err")"
colo-simguest info --rundir "$A" --name m > "$T/info"
grep -q "paused: no" "$T/info" && grep -q "checkpoint stop: no" "$T/info" || fail "guest after start: $(cat "$T/info")"
colo-simguest destroy --rundir "$A" --name m >/dev/null

# 5. SIGINT to start: what `stop` on the primary does (case 2). Both sides
# end with 0 and say "stopped", the secondary's guest goes, the primary's
# runs on with log-dirty off.
A=$(new_host a5); B=$(new_host b5); port=$(free_port)
protect "$A" "$B" "$port"
kill -INT $pri
wait_pid $pri 30 || fail "primary exited $? after SIGINT: $(cat "$A/pri.err")"
wait_pid $sec 30 || fail "secondary exited $? after the primary's SIGINT: $(cat "$B/sec.err")"
jq_has "$A/pri.json" "event == 'state' and state == 'stopped'" || fail "primary did not stop on SIGINT: $(tail -n 3 "$A/pri.json")"
jq_has "$B/sec.json" "event == 'state' and state == 'stopped'" || fail "secondary did not stop: $(tail -n 3 "$B/sec.json")"
! grep -q "interrupted" "$A/pri.err" || fail "start was cut short, not stopped: $(cat "$A/pri.err")"
[ ! -e "$B/sim/m.sock" ] || fail "the secondary's guest survived the stop"
colo-simguest info --rundir "$A" --name m > "$T/info"
grep -q "paused: no" "$T/info" && grep -q "logdirty: off" "$T/info" || fail "primary guest after SIGINT: $(cat "$T/info")"
colo-simguest destroy --rundir "$A" --name m >/dev/null

# 6. SIGTERM to receive: what `stop` on the secondary does. It ends with 0
# and its guest goes; the primary carries on alone.
A=$(new_host a6); B=$(new_host b6); port=$(free_port)
protect "$A" "$B" "$port"
kill -TERM $sec
wait_pid $sec 30 || fail "secondary exited $? after SIGTERM: $(cat "$B/sec.err")"
jq_has "$B/sec.json" "event == 'state' and state == 'stopped'" || fail "secondary did not stop on SIGTERM: $(tail -n 3 "$B/sec.json")"
[ ! -e "$B/sim/m.sock" ] || fail "the secondary's guest survived SIGTERM"
wait_pid $pri 30 && fail "primary exited 0 after losing its secondary"
grep -q "continues unprotected" "$A/pri.err" || fail "primary did not say it runs alone: $(cat "$A/pri.err")"
colo-simguest info --rundir "$A" --name m > "$T/info"
grep -q "paused: no" "$T/info" && grep -q "logdirty: off" "$T/info" || fail "primary guest after the secondary's SIGTERM: $(cat "$T/info")"
colo-simguest destroy --rundir "$A" --name m >/dev/null

# 7. SIGINT to a receive still waiting for its primary: 130 at once.
B=$(new_host b7); port=$(free_port)
xl-colo --rundir "$B" receive --listen "127.0.0.1:$port" --key "$key" > /dev/null 2> "$B/sec.err" &
sec=$!; track $sec
end=$((SECONDS + 30))
until [ -n "$(ss -Hltn "sport = :$port")" ]; do
    [ $SECONDS -lt $end ] || die "receive does not listen on $port: $(cat "$B/sec.err")"
    sleep 0.05
done
kill -INT $sec
rc=0; wait_pid $sec 10 || rc=$?
[ $rc -eq 130 ] || fail "receive exited $rc on SIGINT before the protection was up: $(cat "$B/sec.err")"
grep -qx "xl-colo: receive: interrupted by SIGINT before the protection was up" "$B/sec.err" \
    || fail "receive said: $(cat "$B/sec.err")"

# Nothing left behind: no control or guest sockets, no pid files, no processes.
left=$(find "$T" \( -name '*.ctl' -o -name '*.sock' -o -name '*.pid' \) | head)
[ -z "$left" ] || fail "left behind: $left"
for p in "${_pids[@]}"; do ! alive "$p" || fail "process $p still running"; done
finish
