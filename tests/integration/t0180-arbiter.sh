#!/bin/bash
# Ownership through a real etcd (Debian's etcd-server, one member on
# loopback, started here): sim guests, two "hosts" A and B.
#   1. start claims the guest: status -j and etcd both say A at generation
#      1, with a lease; a third host's start for the same guest (its UUID)
#      is refused while A holds it.
#   2. A's xl-colo stalls (SIGSTOP) past --timeout: its fence watchdog
#      pauses A's guest before the lease can end; B goes live only after,
#      at generation 2, from the last checkpoint A saw acknowledged; a
#      sampler never sees both guests running. On SIGCONT, A learns that
#      ownership moved, destroys its copy and exits 1.
#   3. The arbiter down, then A stalls: B does not go live, and says so
#      once per retry; A's guest is fenced. Nobody runs the guest until
#      etcd is back; then B wins, and only B runs it.
. "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || die "no etcd (tools/install-deps.sh installs etcd-server)"

# etcd_up: a one-member etcd on two free loopback ports, its data in $T.
etcd_up() {
    ecp=$(free_port); epp=$(free_port)
    etcd --name arb --data-dir "$T/etcd" --listen-client-urls "http://127.0.0.1:$ecp" \
        --advertise-client-urls "http://127.0.0.1:$ecp" --listen-peer-urls "http://127.0.0.1:$epp" \
        --initial-advertise-peer-urls "http://127.0.0.1:$epp" --initial-cluster "arb=http://127.0.0.1:$epp" \
        > "$T/etcd.log" 2>&1 &
    etcd_pid=$!; track $etcd_pid
    local end=$((SECONDS + 30))
    until curl -s "http://127.0.0.1:$ecp/health" | grep -q '"health":"true"'; do
        alive $etcd_pid || die "etcd exited: $(tail -n 3 "$T/etcd.log")"
        [ $SECONDS -lt $end ] || die "etcd not healthy in 30 s: $(tail -n 3 "$T/etcd.log")"
        sleep 0.1
    done
}
# etcd_restart: the same member on the same ports and data
etcd_restart() {
    etcd --name arb --data-dir "$T/etcd" --listen-client-urls "http://127.0.0.1:$ecp" \
        --advertise-client-urls "http://127.0.0.1:$ecp" --listen-peer-urls "http://127.0.0.1:$epp" \
        --initial-advertise-peer-urls "http://127.0.0.1:$epp" --initial-cluster "arb=http://127.0.0.1:$epp" \
        >> "$T/etcd.log" 2>&1 &
    etcd_pid=$!; track $etcd_pid
}
# etcd_get KEY: its value, "" when absent
etcd_get() { ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ecp" get --print-value-only "$1"; }

# running DIR: "run" when DIR's guest g runs, "paused", or "none"
running() {
    local out
    out=$(colo-simguest info --rundir "$1" --name g 2>/dev/null) || { echo none; return; }
    case $out in *"paused: no"*) echo run ;; *) echo paused ;; esac
}
# sampler OUT: every 10 ms, "A B" run states, until OUT.stop exists (bounded: 120 s)
sampler() {
    local end=$((SECONDS + 120))
    while [ ! -e "$1.stop" ] && [ $SECONDS -lt $end ]; do
        echo "$(running "$A") $(running "$B")" >> "$1"
        sleep 0.01
    done
}
sampler_stop() { touch "$1.stop"; wait "$2" 2>/dev/null || true; }

etcd_up
arb="etcd://127.0.0.1:$ecp"
key=$(new_key key)
uuid=7d444840-9dc0-11d1-b245-5ffdce74fad2
own=(--arbiter "$arb" --lease-ttl 3000)

# --- 1. the claim at start ------------------------------------------------
A=$(new_host a); B=$(new_host b); C=$(new_host c); port=$(free_port)
gpid=$(start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 3 --uuid $uuid)
start_secondary "$B" "$port" --key "$key" --verify --timeout 1500 "${own[@]}" --arbiter-host hostB
start_primary "$A" g "$port" -i 100 --key "$key" --verify --timeout 1500 "${own[@]}" --arbiter-host hostA
wait_protected "$A" || die "not protected: $(cat "$A/pri.err" "$B/sec.err")"
wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 3" 60 || die "no checkpoints: $(cat "$B/sec.err")"

xl-colo --rundir "$A" -j status g > "$T/st.json" || fail "status: $(cat "$T/st.json")"
jq_has "$T/st.json" "ownership['owner'] == 'hostA' and ownership['generation'] == 1 and 0 < ownership['lease_left_ms'] <= 3000" ||
    fail "primary's status: $(cat "$T/st.json")"
[ "$(etcd_get "/xen-colo/$uuid/owner")" = "hostA 1" ] || fail "etcd's owner key: '$(etcd_get "/xen-colo/$uuid/owner")'"
[ "$(etcd_get "/xen-colo/$uuid/generation")" = "1 hostA" ] || fail "etcd's generation key: '$(etcd_get "/xen-colo/$uuid/generation")'"

start_guest "$C" g --mem 32M --vcpus 1 --seed 4 --uuid $uuid > /dev/null
test_expect_code 1 xl-colo --rundir "$C" start --insecure "${own[@]}" --arbiter-host hostC g "127.0.0.1:$(free_port)" 2> "$T/c.err" ||
    fail "a second owner's start did not exit 1: $(cat "$T/c.err")"
grep -q "g is owned by hostA at generation 1 (lease [0-9]* ms left): not protecting it here" "$T/c.err" ||
    fail "the refused start's line: $(cat "$T/c.err")"
colo-simguest destroy --rundir "$C" --name g > /dev/null
say "1. A owns g at generation 1; a start from hostC: $(grep -o 'g is owned.*' "$T/c.err")"

# --- 2. A stalls past --timeout ----------------------------------------------
sampler "$T/s2" & smp=$!; track $smp
kill -STOP "$pri"
stalled=$(date +%s%N)
wait_pid $sec 30 || fail "the secondary exited $? after A stalled: $(cat "$B/sec.err")"
took=$(( ($(date +%s%N) - stalled) / 1000000 ))
sampler_stop "$T/s2" $smp
[ "$(running "$A")" = paused ] || fail "A's guest is $(running "$A") after B went live"
colo-simguest info --rundir "$A" --name g | grep -qx "fenced: yes" || fail "A's guest is not fenced"
grep -q "fence: the lease on g was not renewed in time: g is paused (its output held) before the lease can expire" "$A/pri.err" ||
    fail "no fence line: $(cat "$A/pri.err")"
grep -q "g: ownership won here (hostB) at generation 2: going live" "$B/sec.err" || fail "B's claim: $(cat "$B/sec.err")"
[ "$(etcd_get "/xen-colo/$uuid/generation")" = "2 hostB" ] || fail "etcd's generation after B won: '$(etcd_get "/xen-colo/$uuid/generation")'"
both=$(grep -c '^run run$' "$T/s2" || true)
[ "$both" = 0 ] || fail "$both samples saw the guest running on A and on B"
grep -q '^paused run$' "$T/s2" || fail "the sampler never saw B running with A fenced: $(sort "$T/s2" | uniq -c)"
python3 - "$A/pri.json" "$B/sec.json" <<'PY' || fail "B did not go live from the last checkpoint A saw acknowledged"
import json, sys
pri = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
acked = {e["epoch"]: e["digest"] for e in pri if e["event"] == "checkpoint"}
fo = [e for e in sec if e["event"] == "state" and e["state"] == "failed-over"]
assert fo, "no failover"
n = fo[-1]["epoch"]
assert n == max(acked), "failed over to %d, A acknowledged %d" % (n, max(acked))
assert acked[n] == fo[-1]["digest"], "digest differs from A's for %d" % n
PY
kill -CONT "$pri"
rc=0; wait_pid $pri 30 || rc=$?
[ $rc = 1 ] || fail "A's xl-colo exited $rc after SIGCONT, not 1: $(cat "$A/pri.err")"
grep -q "ownership of g moved to hostB at generation 2; destroying the copy here" "$A/pri.err" ||
    fail "A's line on SIGCONT: $(cat "$A/pri.err")"
[ "$(running "$A")" = none ] || fail "A's copy is $(running "$A") after it lost ownership"
[ "$(running "$B")" = run ] || fail "B's guest is $(running "$B")"
say "2. A stalled: B live at generation 2 after $took ms; $(wc -l < "$T/s2") samples, none with both running; A destroyed its copy on SIGCONT"
colo-simguest destroy --rundir "$B" --name g > /dev/null
kill -9 "$gpid" 2>/dev/null || true

# --- 3. the arbiter down, then A stalls ----------------------------------------
A=$(new_host a3); B=$(new_host b3); port=$(free_port)
uuid3=0b5d7a3e-0c52-4a53-9a51-6d1f9b1a3c11
gpid=$(start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 5 --uuid $uuid3)
start_secondary "$B" "$port" --key "$key" --verify --timeout 1500 "${own[@]}" --arbiter-host hostB
start_primary "$A" g "$port" -i 100 --key "$key" --verify --timeout 1500 "${own[@]}" --arbiter-host hostA
wait_protected "$A" || die "3: not protected: $(cat "$A/pri.err" "$B/sec.err")"
wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 3" 60 || die "3: no checkpoints: $(cat "$B/sec.err")"
sampler "$T/s3" & smp=$!; track $smp
kill -STOP $etcd_pid
kill -STOP "$pri"
# B waits for the arbiter: at least three of its lines, one per retry.
end=$((SECONDS + 30))
while [ "$(grep -c "g does not go live here while the arbiter cannot be reached" "$B/sec.err")" -lt 3 ]; do
    [ $SECONDS -lt $end ] || break
    alive $sec || break
    sleep 0.1
done
n=$(grep -c "g does not go live here while the arbiter cannot be reached" "$B/sec.err" || true)
[ "$n" -ge 3 ] || fail "3: B said $n times that it waits for the arbiter: $(cat "$B/sec.err")"
[ "$(running "$B")" = paused ] || fail "3: B's guest is $(running "$B") without the arbiter"
[ "$(running "$A")" = paused ] || fail "3: A's guest is $(running "$A"): not fenced"
# The arbiter back (its leases run again from their TTL): B wins once A's ends.
kill -9 $etcd_pid; wait $etcd_pid 2>/dev/null || true
etcd_restart
wait_pid $sec 60 || fail "3: the secondary exited $? once the arbiter was back: $(cat "$B/sec.err")"
sampler_stop "$T/s3" $smp
grep -q "g: ownership won here (hostB) at generation 2: going live" "$B/sec.err" || fail "3: B's claim: $(cat "$B/sec.err")"
both=$(grep -c '^run run$' "$T/s3" || true)
[ "$both" = 0 ] || fail "3: $both samples saw the guest running on A and on B"
grep -q '^paused paused$' "$T/s3" || fail "3: no sample saw the guest held on both sides"
[ "$(running "$B")" = run ] || fail "3: B's guest is $(running "$B") after it won"
kill -CONT "$pri"
rc=0; wait_pid $pri 30 || rc=$?
[ $rc = 1 ] || fail "3: A exited $rc, not 1: $(cat "$A/pri.err")"
[ "$(running "$A")" = none ] || fail "3: A's copy is $(running "$A")"
say "3. arbiter down: B said it waits $n times, both held ($(grep -c '^paused paused$' "$T/s3") samples); etcd back: B live, A destroyed its copy"
colo-simguest destroy --rundir "$B" --name g > /dev/null
kill -9 "$gpid" 2>/dev/null || true
finish
