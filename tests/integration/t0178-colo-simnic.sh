#!/bin/bash
# COLO end to end on sim guests with a NIC (colo-simguest --nic): both
# guests run the same request/response service, its state in guest memory;
# simnet.py is the network (the client, the mirror of its requests to both
# guests, the redirect of each guest's replies to the protection's NIC
# comparison, xl-colo start --colo --proxy). No periodic checkpoint (-i):
# every checkpoint after the initial sync is the comparison's. At each
# rate of nondeterministic replies (--nic-random: 0, 1%, 10%):
#   - 1000 requests, each answered in order with the service's value (or
#     a random one that a checkpoint covered);
#   - with 0%, no checkpoint; else at least one checkpoint per random
#     reply released, and no more than the two guests sent random replies;
#   - --verify: the digests equal after every checkpoint, though the
#     secondary ran between them.
# Then a SIGKILL of the primary (its xl-colo and its guest) under 1%: the
# client's next 200 requests are answered by the secondary, in order and
# right. First, bad input on a guest's wire: refused and counted, the
# guest serving on.
. "$(dirname "$0")/lib.sh"
simnet="python3 $(dirname "$0")/simnet.py"
key=$(new_key key)

# colo_pair TAG PPM: guest g on fresh hosts A and B, --nic-random PPM,
# protected with the comparison on A's sockets in $N.
colo_pair() {
	A=$(new_host a$1); B=$(new_host b$1); port=$(free_port)
	N=$A/nic; mkdir -m 700 "$N"
	start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 21 --nic --nic-random "$2" > /dev/null
	start_pair "$A" "$B" g "$port" --key "$key" --verify --timeout 10000 -- --colo -i 3600000 \
		--proxy "primary-in=$N/pin.sock,secondary-in=$N/sin.sock,outdev=$N/out.sock"
}
net() { $simnet --a "$A" --b "$B" --seed 21 --pin "$N/pin.sock" --sin "$N/sin.sock" --out "$N/out.sock" "$@"; }
randoms() { colo-simguest info --rundir "$1" --name g | sed -n 's/^nic replies: .*(\([0-9]*\) random)$/\1/p'; }

# check TAG PPM: the run's figures against the rules above; a table line.
check() {
	local tag=$1 ppm=$2 ra rb
	ra=$(randoms "$A"); rb=$(randoms "$B")
	python3 - "$T/$tag.json" "$A/pri.json" "$B/sec.json" "$ppm" "$ra" "$rb" <<'PY'
import json, sys
net = json.loads(open(sys.argv[1]).read().splitlines()[-1])
pri = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
ppm, ra, rb = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
ck = [e for e in pri if e['event'] == 'checkpoint' and e['epoch'] > 0]
sck = [e for e in sec if e['event'] == 'checkpoint']
bad = []
if net['errors']:
    bad.append('the client: %s' % net['errors'])
if net['replies'] != 1000:
    bad.append('%d replies of 1000' % net['replies'])
if ppm == 0 and ck:
    bad.append('%d checkpoints with no random reply' % len(ck))
if ppm and not net['randoms'] <= len(ck) <= ra + rb:
    bad.append('%d checkpoints for %d random replies released, %d sent by A and %d by B'
               % (len(ck), net['randoms'], ra, rb))
differ = [e['epoch'] for e in sck if e['digest'] != e['peer_digest']]
if differ:
    bad.append('digests differ at checkpoints %s' % differ)
for b in bad:
    print(b, file=sys.stderr)
print('# %7d ppm | %5d | %3d (A %d, B %d) | %5d | %7.0f | %5.1f'
      % (ppm, net['replies'], net['randoms'], ra, rb, len(ck), net['requests_per_s'],
         len(ck) / net['seconds']))
sys.exit(1 if bad else 0)
PY
}

# Bad input on the wire: a record of length 0 (the peer dropped), a frame
# that is not a request (counted, the peer kept), then a request answered.
G=$(new_host g)
start_guest "$G" g --mem 32M --nic > /dev/null
python3 - "$G/sim/g.nic" <<'PY' || fail "the NIC after bad input"
import socket, struct, sys
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); s.settimeout(10); return s
s = conn()
s.sendall(b'\0\0\0\0')
assert s.recv(100) == b'', 'a zero-length record: the peer is dropped'
s = conn()
junk = b'\xff' * 60
req_eth = bytes.fromhex('5254005e00025254000000c10800')
pl = b'SNRQ' + struct.pack('>QQ', 1, 3)
udp = struct.pack('>HHHH', 40000, 7007, 8 + len(pl), 0)
ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + 8 + len(pl), 1, 0x4000, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
req = req_eth + ip + udp + pl
s.sendall(struct.pack('>I', len(junk)) + junk + struct.pack('>I', len(req)) + req)
got = s.recv(4096)
assert len(got) >= 4 + 66 and got[4 + 42:4 + 46] == b'SNRP', got
PY
colo-simguest info --rundir "$G" --name g | grep -qx "nic refused: 2 (peers 2)" ||
	fail "the NIC's refusals: $(colo-simguest info --rundir "$G" --name g | grep nic)"
colo-simguest destroy --rundir "$G" --name g > /dev/null

say "random replies | requests answered | random released (sent by A, B) | checkpoints | requests/s | checkpoints/s"
for ppm in 0 10000 100000; do
	colo_pair "$ppm" "$ppm"
	net --count 1000 > "$T/r$ppm.json" 2> "$T/r$ppm.err" ||
		fail "$ppm ppm: the client: $(tail -n 1 "$T/r$ppm.json") $(cat "$T/r$ppm.err")"
	check "r$ppm" "$ppm" || fail "$ppm ppm: $(cat "$A/pri.err" | tail -n 3)"
	! grep -q "secondary digest differs" "$B/sec.err" || fail "$ppm ppm: a digest differed"
	xl-colo --rundir "$A" stop g > /dev/null 2>&1 || fail "$ppm ppm: stop"
	wait_pid "$pri" 30 || fail "$ppm ppm: start exited $?: $(tail -n 2 "$A/pri.err")"
	wait_pid "$sec" 30 || fail "$ppm ppm: receive exited $?: $(tail -n 2 "$B/sec.err")"
	colo-simguest destroy --rundir "$A" --name g > /dev/null
done

# The primary killed: the client goes on against the secondary.
colo_pair kill 10000
gpid=$(guest_pid "$A" g)
# The client waits on a FIFO for its go (this shell holds it open for
# writing first, so that neither side blocks opening it).
mkfifo "$T/go"
exec 7<> "$T/go"
net --count 300 --then 200 < "$T/go" > "$T/kill.json" 2> "$T/kill.err" &
netpid=$!; track $netpid
end=$((SECONDS + 60))
until grep -q '^ready$' "$T/kill.json"; do
	alive $netpid || die "the client ended before its first 300 answers: $(cat "$T/kill.json" "$T/kill.err")"
	[ $SECONDS -lt $end ] || die "the client did not get its first 300 answers in 60 s"
	sleep 0.05
done
kill -9 "$pri" "$gpid"
echo go >&7
wait_pid $netpid 120 || fail "after the failover, the client exited $?: $(cat "$T/kill.json" "$T/kill.err")"
exec 7>&-
result=$(tail -n 1 "$T/kill.json")
python3 - "$result" <<'PY' || fail "after the failover: $result"
import json, sys
r = json.loads(sys.argv[1])
assert r['failover'] and r['replies'] == 500 and not r['errors'], r
print('# failover: the secondary answered requests 301..500 in order (%d answers seen again)'
      % r['duplicates'])
PY
wait_json "$B/sec.json" "event == 'state' and state == 'failed-over'" 30 "$sec" ||
	fail "the secondary did not fail over: $(tail -n 3 "$B/sec.err")"
xl-colo --rundir "$B" stop g > /dev/null 2>&1 || true
wait_pid "$sec" 30 || fail "receive exited $? after the failover: $(tail -n 2 "$B/sec.err")"
colo-simguest destroy --rundir "$B" --name g > /dev/null
finish
