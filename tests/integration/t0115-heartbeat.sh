#!/bin/bash
# A primary host that hangs (xl-colo and guest stopped, the TCP link still
# open) is noticed by the heartbeat: the secondary fails over once the
# primary has been silent for --timeout, not before, and runs the guest
# from the last checkpoint.
. "$(dirname "$0")/lib.sh"

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
gpid=$(start_guest "$A" h --mem 32M --vcpus 1 --workload web --seed 8)
xl-colo --rundir "$B" -j receive --listen "127.0.0.1:$port" --key "$key" --verify \
    --timeout 1500 > "$T/sec.json" 2> "$T/sec.err" &
sec=$!; track $sec
xl-colo --rundir "$A" -j start -i 100 --heartbeat 100 --timeout 1500 --key "$key" --verify h "127.0.0.1:$port" \
    > "$T/pri.json" 2> "$T/pri.err" &
pri=$!; track $pri
wait_json "$T/sec.json" "event == 'checkpoint' and epoch >= 3" 60 || die "no checkpoints: $(cat "$T/sec.err")"

kill -STOP "$pri" "$gpid"
hung=$(date +%s%N)
wait_pid $sec 30 || fail "secondary exited $? after the primary hung: $(cat "$T/sec.err")"
waited_ms=$(( ($(date +%s%N) - hung) / 1000000 ))
grep -q "failover (primary silent)" "$T/sec.err" || fail "failover reason: $(cat "$T/sec.err")"
jq_has "$T/sec.json" "event == 'state' and state == 'failed-over'" || fail "no failover"
[ "$waited_ms" -ge 1000 ] || fail "failed over after $waited_ms ms, before the 1500 ms timeout"
say "failover $waited_ms ms after the primary hung (timeout 1500 ms)"
kill -9 "$pri" "$gpid" 2>/dev/null || true
colo-simguest destroy --rundir "$B" --name h >/dev/null
finish
