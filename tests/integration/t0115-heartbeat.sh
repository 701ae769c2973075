#!/bin/bash
# A primary host that hangs (xl-colo and guest stopped, the TCP link still
# open) is noticed by the heartbeat: the secondary fails over once the
# primary has been silent for --timeout, not before, and runs the guest
# from the last checkpoint.
. "$(dirname "$0")/lib.sh"

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
gpid=$(start_guest "$A" h --mem 32M --vcpus 1 --workload web --seed 8)
start_pair "$A" "$B" h "$port" --key "$key" --verify --timeout 1500 -- -i 100 --heartbeat 100
wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 3" 60 || die "no checkpoints: $(cat "$B/sec.err")"

kill -STOP "$pri" "$gpid"
hung=$(date +%s%N)
wait_pid $sec 30 || fail "secondary exited $? after the primary hung: $(cat "$B/sec.err")"
waited_ms=$(( ($(date +%s%N) - hung) / 1000000 ))
grep -q "failover (primary silent)" "$B/sec.err" || fail "failover reason: $(cat "$B/sec.err")"
jq_has "$B/sec.json" "event == 'state' and state == 'failed-over'" || fail "no failover"
[ "$waited_ms" -ge 1000 ] || fail "failed over after $waited_ms ms, before the 1500 ms timeout"
say "failover $waited_ms ms after the primary hung (timeout 1500 ms)"
kill -9 "$pri" "$gpid" 2>/dev/null || true
colo-simguest destroy --rundir "$B" --name h >/dev/null
finish
