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
#   4. etcd over TLS with client certificates, behind a dead first
#      endpoint: a wrong CA or no client certificate is refused with each
#      endpoint's cause; a protection runs over it; A, losing its
#      secondary and the arbiter at once, is fenced, and resumes (at
#      generation 2) once the arbiter is back.
. "$(dirname "$0")/lib.sh"

command -v etcd >/dev/null || die "no etcd (tools/install-deps.sh installs etcd-server)"

# etcd_run DIR PROTO CPORT PPORT [FLAG...]: a one-member etcd on loopback,
# its data in DIR (the same DIR again: the same member, restarted)
etcd_run() {
    local dir=$1 proto=$2 cport=$3 pport=$4; shift 4
    etcd --name arb --data-dir "$dir" --listen-client-urls "$proto://127.0.0.1:$cport" \
        --advertise-client-urls "$proto://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "arb=http://127.0.0.1:$pport" \
        "$@" >> "$dir.log" 2>&1 &
    etcd_pid=$!; track $etcd_pid
}
# etcd_healthy URL [CURL OPTION...]: until etcd says so (30 s at most)
etcd_healthy() {
    local url=$1 end=$((SECONDS + 30)); shift
    until [ "$(curl -s "$@" "$url/health" | grep -c '"health":"true"')" -gt 0 ]; do
        alive $etcd_pid || die "etcd exited: $(tail -n 3 "$T"/etcd*.log)"
        [ $SECONDS -lt $end ] || die "etcd not healthy in 30 s: $(tail -n 3 "$T"/etcd*.log)"
        sleep 0.1
    done
}
etcd_up() {
    ecp=$(free_port); epp=$(free_port)
    etcd_run "$T/etcd" http "$ecp" "$epp"
    etcd_healthy "http://127.0.0.1:$ecp"
}
etcd_restart() { etcd_run "$T/etcd" http "$ecp" "$epp"; }
# etcd_get KEY: its value, "" when absent
etcd_get() { ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ecp" get --print-value-only "$1"; }

# running DIR: "run" when DIR's guest g runs, "paused", or "none"
running() {
    local out
    out=$(colo-simguest info --rundir "$1" --name g 2>/dev/null) || { echo none; return; }
    case $out in *"paused: no"*) echo run ;; *) echo paused ;; esac
}
# sampler OUT: every 10 ms, "A B ns" (the run states of A's and B's guest:
# run, paused or none; then the time), until SIGTERM (bounded: 120 s). One
# process with a connection to each guest (colo-simguest sample).
sampler() { exec colo-simguest sample --every 10 --for 120 "$A/g" "$B/g" > "$1"; }
# states FILE: the samples' states alone; seen FILE "A B": how many samples
# were so (grep -c, not -q: pipefail and an early exit do not mix)
states() { cut -d' ' -f1,2 "$1"; }
seen() { states "$1" | grep -c "^$2\$" || true; }
sampler_stop() { kill -TERM "$2"; wait "$2" || fail "the sampler of $1 exited $?"; }
# sampler_seen FILE "A B" SECS: wait (bounded) until a sample was so. The
# secondary's receive exits just after it unpaused its guest; on a loaded
# machine the sampler may not have looked since.
sampler_seen() {
    local end=$((SECONDS + $3))
    until [ "$(seen "$1" "$2")" -gt 0 ]; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.05
    done
}

# The sampler's misuses: one line each, exit 2. A guest not there is none.
sample_usage() { # WANT ARGS...
    local want=$1 rc=0; shift
    colo-simguest sample "$@" > /dev/null 2> "$T/smp.err" || rc=$?
    [ "$rc" = 2 ] && [ "$(cat "$T/smp.err")" = "colo-simguest sample: $want" ] ||
        fail "sample $*: exit $rc, said: $(cat "$T/smp.err")"
}
sample_usage "no guest to sample (RUNDIR/NAME...)"
sample_usage "--every needs a number from 1 to 3600000" --every 0 "$T/g"
sample_usage "'x' is not RUNDIR/NAME" x
sample_usage "unknown option '--bogus'" --bogus "$T/g"
colo-simguest sample --every 200 --for 1 "$T/g" "$T/h" > "$T/none" || fail "sample of no guests exited $?"
[ "$(grep -c '^none none [0-9]*$' "$T/none")" -ge 5 ] && [ "$(grep -vc '^none none [0-9]*$' "$T/none")" = 0 ] ||
    fail "a sample of guests not there: $(head -n 3 "$T/none")"

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
sampler_seen "$T/s2" "paused run" 10 || true # judged below, with the samples
sampler_stop "$T/s2" $smp
[ "$(running "$A")" = paused ] || fail "A's guest is $(running "$A") after B went live"
info=$(colo-simguest info --rundir "$A" --name g)
grep -qx "fenced: yes" <<< "$info" || fail "A's guest is not fenced: $info"
grep -q "fence: the lease on g was not renewed in time: g is paused (its output held) before the lease can expire" "$A/pri.err" ||
    fail "no fence line: $(cat "$A/pri.err")"
grep -q "g: ownership won here (hostB) at generation 2: going live" "$B/sec.err" || fail "B's claim: $(cat "$B/sec.err")"
[ "$(etcd_get "/xen-colo/$uuid/generation")" = "2 hostB" ] || fail "etcd's generation after B won: '$(etcd_get "/xen-colo/$uuid/generation")'"
both=$(seen "$T/s2" "run run")
[ "$both" = 0 ] || fail "$both samples saw the guest running on A and on B"
[ "$(seen "$T/s2" "paused run")" -gt 0 ] || fail "the sampler never saw B running with A fenced: $(states "$T/s2" | sort | uniq -c)"
# The fence's margin: B can go live only once A's lease has ended, which is
# at least the margin (a fifth of the 3000 ms TTL) after A's fence.
# The samples see the fence up to one sampling period late (the period
# before the first paused sample): the gap is held to the margin less it.
fenced_at=$(awk '$1 == "paused" { print $3; exit }' "$T/s2")
period=$(awk -v f="$fenced_at" '$3 == f { print int((f - prev) / 1000000); exit } { prev = $3 }' "$T/s2")
live_at=$(awk '$2 == "run" { print $3; exit }' "$T/s2")
gap=$(( (live_at - fenced_at) / 1000000 ))
[ $((gap + period)) -ge 600 ] ||
    fail "B live $gap ms after A's fence was seen (sampled every $period ms): less than the fence's margin of 600 ms"
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
say "2. A stalled: A fenced, B live at generation 2 $gap ms later ($took ms after the stall); $(wc -l < "$T/s2") samples (median period $(awk 'NR > 1 { print int(($3 - prev) / 100000) / 10 } { prev = $3 }' "$T/s2" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') ms), none with both running; A destroyed its copy on SIGCONT"
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
both=$(seen "$T/s3" "run run")
[ "$both" = 0 ] || fail "3: $both samples saw the guest running on A and on B"
[ "$(seen "$T/s3" "paused paused")" -gt 0 ] || fail "3: no sample saw the guest held on both sides"
[ "$(running "$B")" = run ] || fail "3: B's guest is $(running "$B") after it won"
kill -CONT "$pri"
rc=0; wait_pid $pri 30 || rc=$?
[ $rc = 1 ] || fail "3: A exited $rc, not 1: $(cat "$A/pri.err")"
[ "$(running "$A")" = none ] || fail "3: A's copy is $(running "$A")"
say "3. arbiter down: B said it waits $n times, both held ($(seen "$T/s3" "paused paused") samples); etcd back: B live, A destroyed its copy"
colo-simguest destroy --rundir "$B" --name g > /dev/null
kill -9 "$gpid" 2>/dev/null || true

# --- 4. TLS with client certificates, a dead first endpoint; the primary
#        fenced when it loses the secondary and the arbiter, resumed when
#        it reaches the arbiter again -------------------------------------
cert() { # NAME CN USAGE: NAME.pem and NAME.key, signed by ca
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/$1.key" \
        -out "$T/$1.csr" -subj "/CN=$2" 2>/dev/null &&
    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 1 \
        -out "$T/$1.pem" -extfile <(printf "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\n" "$3") 2>/dev/null
}
for c in ca other; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/$c.key" \
        -out "$T/$c.pem" -days 1 -subj "/CN=xen-colo test $c" 2>/dev/null || die "openssl: no CA"
done
# etcd 3.4's JSON gateway dials its own gRPC port with the server's
# certificate: it must serve as a client's too.
cert srv 127.0.0.1 serverAuth,clientAuth && cert cli xen-colo clientAuth || die "openssl: no certificates"
chmod 600 "$T"/*.key
tcp=$(free_port); tpp=$(free_port); dead=$(free_port)
tls=(--cert-file "$T/srv.pem" --key-file "$T/srv.key" --client-cert-auth --trusted-ca-file "$T/ca.pem")
etcd_run "$T/etcd-tls" https "$tcp" "$tpp" "${tls[@]}"
cc=(--cacert "$T/ca.pem" --cert "$T/cli.pem" --key "$T/cli.key")
etcd_healthy "https://127.0.0.1:$tcp" "${cc[@]}"
tarb=(--arbiter "etcd://127.0.0.1:$dead,127.0.0.1:$tcp" --lease-ttl 3000
      --arbiter-cacert "$T/ca.pem" --arbiter-cert "$T/cli.pem" --arbiter-key "$T/cli.key")

C=$(new_host c4); uuid4=5f0c2a8e-31d4-4b9e-8f7a-2c6d1e9b4a70
start_guest "$C" g --mem 32M --vcpus 1 --seed 6 --uuid $uuid4 > /dev/null
for bad in "--arbiter-cacert $T/other.pem --arbiter-cert $T/cli.pem --arbiter-key $T/cli.key|SSL certificate problem" \
           "--arbiter-cacert $T/ca.pem|127.0.0.1:$tcp: "; do
    test_expect_code 1 xl-colo --rundir "$C" start --insecure --arbiter "etcd://127.0.0.1:$dead,127.0.0.1:$tcp" \
        --lease-ttl 3000 ${bad%%|*} --arbiter-host hostC g "127.0.0.1:$(free_port)" 2> "$T/c4.err" ||
        fail "4: a start with ${bad%%|*} did not exit 1: $(cat "$T/c4.err")"
    grep -q "arbiter unreachable: 127.0.0.1:$dead: .*; 127.0.0.1:$tcp: " "$T/c4.err" && grep -q "${bad#*|}" "$T/c4.err" ||
        fail "4: with ${bad%%|*}, the line names no endpoint's cause: $(cat "$T/c4.err")"
done
say "4. a wrong CA, then no client certificate: refused, each endpoint's cause said: $(grep -o "arbiter unreachable: .*" "$T/c4.err")"
colo-simguest destroy --rundir "$C" --name g > /dev/null

A=$(new_host a4); B=$(new_host b4); port=$(free_port)
gpid=$(start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 7 --uuid $uuid4)
start_secondary "$B" "$port" --key "$key" --timeout 1500 "${tarb[@]}" --arbiter-host hostB
start_primary "$A" g "$port" -i 100 --key "$key" --timeout 1500 "${tarb[@]}" --arbiter-host hostA
wait_protected "$A" || die "4: not protected over TLS: $(cat "$A/pri.err" "$B/sec.err")"
wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 3" 60 || die "4: no checkpoints: $(cat "$B/sec.err")"
xl-colo --rundir "$A" -j status g > "$T/st4.json" || fail "4: status: $(cat "$T/st4.json")"
jq_has "$T/st4.json" "ownership['owner'] == 'hostA' and ownership['generation'] == 1" ||
    fail "4: the primary's status over TLS: $(cat "$T/st4.json")"
# The secondary and the arbiter lost at once: A goes on only as the owner,
# and the arbiter cannot say so: the fence holds the guest.
sampler "$T/s4" & smp=$!; track $smp
kill -STOP $etcd_pid
kill -9 "$sec"; wait "$sec" 2>/dev/null || true
colo-simguest destroy --rundir "$B" --name g > /dev/null 2>&1 || true
wait_json "$A/pri.json" "event == 'state' and state == 'fenced'" 30 "$pri" || fail "4: A was not fenced: $(cat "$A/pri.err")"
[ "$(running "$A")" = paused ] || fail "4: A's guest is $(running "$A") while fenced"
kill -9 $etcd_pid; wait $etcd_pid 2>/dev/null || true
etcd_run "$T/etcd-tls" https "$tcp" "$tpp" "${tls[@]}"
wait_json "$A/pri.json" "event == 'state' and state == 'unprotected'" 60 "$pri" ||
    fail "4: A did not resume once the arbiter was back: $(cat "$A/pri.err")"
sampler_stop "$T/s4" $smp
[ "$(running "$A")" = run ] || fail "4: A's guest is $(running "$A") after it resumed"
grep -q "g continues unprotected at generation 2" "$A/pri.err" || fail "4: A's line on resuming: $(cat "$A/pri.err")"
[ "$(ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$tcp" "${cc[@]}" get --print-value-only "/xen-colo/$uuid4/generation")" = "2 hostA" ] ||
    fail "4: etcd's generation after A resumed"
held=$(( $(seen "$T/s4" "paused paused") + $(seen "$T/s4" "paused none") ))
[ "$held" -ge 1 ] || fail "4: no sample saw A's guest held"
say "4. over TLS (a dead first endpoint): A fenced while it had neither secondary nor arbiter ($held samples held), resumed at generation 2 once etcd was back"
rc=0; wait_pid $pri 30 || rc=$?
[ $rc -ne 0 ] || fail "4: A's xl-colo exited 0 after losing its secondary"
kill -9 "$gpid" 2>/dev/null || true
finish
