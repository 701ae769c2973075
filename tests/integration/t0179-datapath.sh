#!/bin/bash
# The datapath on real interfaces (colo-datapath with colo-proxy), in
# network namespaces made here:
#     client C 10.0.0.1 --- D (the primary's host: colo-datapath) --- P 10.0.0.2
#                                                                 \-- S 10.0.0.2
# P and S are the primary and the secondary guest: the same address and
# MAC, each a real UDP and TCP server on its own kernel stack
# (datapath-peer.py).
# The client's frames are mirrored to both; what each sends goes to
# colo-proxy; only what colo-proxy releases reaches the client. The Xen
# side of notify_dev answers each DO_CHECKPOINT (datapath-peer.py notify).
#   - 1000 requests from the client, one at a time: every answer right
#     and in order, nothing else reaching it; identical answers, no
#     checkpoint;
#   - the secondary answering request 500 otherwise: exactly one
#     checkpoint, and the client still gets the primary's answer;
#   - the checksums the guests' stacks left to the veth filled in;
#   - bad command lines, and an interface that does not exist: one line.
#   - the same over TCP, two real stacks: the secondary's sequence numbers
#     and timestamps renumbered as the primary's (identical answers, no
#     checkpoint; one divergence, one);
#   - a failover (SIGUSR1 to colo-datapath, then the primary's server
#     killed): the client's open TCP connection goes on against the
#     secondary, 200 more answers right;
. "$(dirname "$0")/lib.sh"
dp=$abs_top_builddir/tools/datapath/colo-datapath
proxy=$abs_top_builddir/tools/proxy/colo-proxy
peer="python3 $(dirname "$0")/datapath-peer.py"

# Bad input first: it needs no namespace.
usage_is() { # WANT ARGS...: exit 2, WANT first, then the usage line
	local want=$1 rc=0
	shift
	"$dp" "$@" > /dev/null 2> "$T/err" || rc=$?
	[ $rc = 2 ] && [ "$(head -n 1 "$T/err")" = "$want" ] &&
		sed -n 2p "$T/err" | grep -q "^usage: colo-datapath --client-if IF" ||
		{ echo "exit $rc: $(cat "$T/err")" >&2; return 1; }
}
all=(--client-if a --primary-if b --secondary-if c --primary-in x --secondary-in y --outdev z)
usage_is "colo-datapath: --outdev is required" "${all[@]:0:10}" || fail "--outdev missing"
usage_is "colo-datapath: unknown option '--bogus'" "${all[@]}" --bogus || fail "unknown option"
usage_is "colo-datapath: --client-if and --secondary-if are the same interface a" \
	--client-if a --primary-if b --secondary-if a "${all[@]:6}" || fail "same interface"

skip() { say "skipped: $*"; exit 77; }
command -v ip > /dev/null || skip "no ip(8) (iproute2)"
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
NS=xd$$
ns_down() { local n; for n in c d p s; do ip netns del $NS$n 2>/dev/null || true; done; }
trap 'cleanup; ns_down' EXIT
ip netns add ${NS}c 2> "$T/ns.err" || skip "cannot make a network namespace: $(cat "$T/ns.err")"
for n in d p s; do ip netns add $NS$n || die "ip netns add $n"; done
for n in c d p s; do
	ip netns exec $NS$n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 ||
		die "IPv6 off in $n"
	ip -n $NS$n link set lo up || die "lo up in $n"
done
# veth X Y: X's end "x0" in namespace X, Y's end "yx" in D; both up.
veth() {
	ip link add ${1}0 netns $NS$1 type veth peer name d$1 netns ${NS}d &&
	ip -n ${NS}d link set d$1 up && ip -n $NS$1 link set ${1}0 up
}
veth c && veth p && veth s || die "veth pairs"
ip -n ${NS}c addr add 10.0.0.1/24 dev c0 || die "client address"
for n in p s; do
	ip -n $NS$n link set ${n}0 address 52:54:00:12:34:56 &&
	ip -n $NS$n addr add 10.0.0.2/24 dev ${n}0 || die "guest $n address"
done

N=$T/nic; mkdir -m 700 "$N"
"$proxy" --primary-in "$N/pin.sock" --secondary-in "$N/sin.sock" --outdev "$N/out.sock" \
	--notify "$N/ntf.sock" --status "$N/st.sock" 2> "$T/proxy.err" &
pp=$!; track $pp
end=$((SECONDS + 10))
until [ -S "$N/st.sock" ]; do
	alive $pp || die "colo-proxy exited: $(cat "$T/proxy.err")"
	[ $SECONDS -lt $end ] || die "colo-proxy did not listen in 10 s"
	sleep 0.05
done
$peer notify "$N/ntf.sock" > "$T/notify.out" 2> "$T/notify.err" &
np=$!; track $np
ip netns exec ${NS}d "$dp" --client-if dc --primary-if dp --secondary-if ds --primary-in "$N/pin.sock" \
	--secondary-in "$N/sin.sock" --outdev "$N/out.sock" > "$T/dp.json" 2> "$T/dp.err" &
dpp=$!; track $dpp
end=$((SECONDS + 10))
until grep -qs "forwarding:" "$T/dp.err"; do
	alive $dpp || die "colo-datapath exited: $(cat "$T/dp.err")"
	[ $SECONDS -lt $end ] || die "colo-datapath did not start in 10 s: $(cat "$T/dp.err")"
	sleep 0.05
done

status() { python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); b = b''
while True:
    d = s.recv(65536)
    if not d: break
    b += d
print(b.decode())" "$N/st.sock"; }

# servers TAG KIND [DIVERGE_AT]: a KIND (server, tcpserver) in P and in S,
# until each says it listens; their pids in $sp $ss.
servers() {
	ip netns exec ${NS}p $peer $2 0 > "$T/$1.p" 2>&1 & sp=$!; track $sp
	ip netns exec ${NS}s $peer $2 "${3:-0}" > "$T/$1.s" 2>&1 & ss=$!; track $ss
	local end=$((SECONDS + 10))
	until grep -qs '^ready$' "$T/$1.p" && grep -qs '^ready$' "$T/$1.s"; do
		alive $sp && alive $ss || die "$1: a server exited: $(cat "$T/$1.p" "$T/$1.s")"
		[ $SECONDS -lt $end ] || die "$1: the servers did not listen in 10 s"
		sleep 0.05
	done
}
# run TAG KIND CLIENT [DIVERGE_AT]: the servers, 1000 requests, the servers stopped.
run() {
	servers "$1" "$2" "${4:-0}"
	ip netns exec ${NS}c $peer "$3" 10.0.0.2 1000 > "$T/$1.c" 2>&1 ||
		fail "$1: the client: $(tail -n 3 "$T/$1.c")"
	kill $sp $ss; wait $sp $ss 2>/dev/null || true
}
ck() { status | python3 -c "import json, sys; print(json.load(sys.stdin)['checkpoints'])"; }

run same server client
say "UDP, identical answers: $(tail -n 1 "$T/same.c")"
[ "$(ck)" = 0 ] || fail "UDP, identical answers: $(ck) checkpoints"
run diverge server client 500
say "UDP, the secondary's answer 500 otherwise: $(tail -n 1 "$T/diverge.c")"
[ "$(ck)" = 1 ] || fail "UDP, one divergence: $(ck) checkpoints, not 1: $(cat "$T/proxy.err")"
grep -q "^DO_CHECKPOINT 1$" "$T/notify.out" || fail "notify saw no DO_CHECKPOINT: $(cat "$T/notify.out")"

# TCP: two real stacks, their own sequence numbers and timestamp clocks;
# the secondary's renumbered as the primary's.
run tsame tcpserver tcpclient
say "TCP, identical answers: $(tail -n 1 "$T/tsame.c")"
[ "$(ck)" = 1 ] || fail "TCP, identical answers: $(($(ck) - 1)) checkpoints: $(cat "$T/proxy.err")"
run tdiverge tcpserver tcpclient 500
say "TCP, the secondary's answer 500 otherwise: $(tail -n 1 "$T/tdiverge.c")"
[ "$(ck)" = 2 ] || fail "TCP, one divergence: $(($(ck) - 1)) checkpoints, not 1: $(cat "$T/proxy.err")"

# The failover: the primary gone, the client's open connection goes on
# against the secondary (the client waits on a FIFO this shell holds).
servers tfail tcpserver
mkfifo "$T/go"
exec 7<> "$T/go"
ip netns exec ${NS}c $peer tcpclient 10.0.0.2 300 200 < "$T/go" > "$T/tfail.c" 2>&1 &
cp=$!; track $cp
end=$((SECONDS + 60))
until grep -qs '^ready$' "$T/tfail.c"; do
	alive $cp || die "the client ended before its first 300 answers: $(cat "$T/tfail.c")"
	[ $SECONDS -lt $end ] || die "the client did not get its first 300 answers in 60 s"
	sleep 0.05
done
kill -USR1 $dpp
end=$((SECONDS + 10))
until grep -q "failover:" "$T/dp.err"; do
	[ $SECONDS -lt $end ] || die "colo-datapath did not take the failover: $(cat "$T/dp.err")"
	sleep 0.05
done
kill -9 $sp; wait $sp 2>/dev/null || true   # the primary guest, gone
echo go >&7
wait_pid $cp 120 || fail "after the failover, the client exited $?: $(cat "$T/tfail.c")"
exec 7>&-
say "TCP failover: $(tail -n 1 "$T/tfail.c")"
python3 -c "import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if r['answered'] == 500 and not r['errors'] else 1)" \
	"$(tail -n 1 "$T/tfail.c")" || fail "the connection did not go on against the secondary"
kill $ss; wait $ss 2>/dev/null || true

kill -TERM $dpp
wait_pid $dpp 10 || fail "colo-datapath exited $? at SIGTERM: $(cat "$T/dp.err")"
python3 - "$T/dp.json" <<'PY' || fail "the datapath's counters: $(cat "$T/dp.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
# Each request mirrored, each answer redirected from both and released once.
assert d['mirrored'] >= 4000 and d['released'] >= 4000, d
assert d['redirected_primary'] >= 4000 and d['redirected_secondary'] >= 4000, d
assert d['redirect_drops'] == 0 and d['dc']['rx_too_big'] == 0, d
# The guests' checksums, left to the veth, were filled in on the way.
assert d['dp']['checksums_filled'] >= 4000 and d['ds']['checksums_filled'] >= 4000, d
# Three TCP connections renumbered; after the failover, the secondary's
# answers went straight to the client.
rw = d['rewrite']
assert rw['connections'] == 3 and rw['from_secondary'] >= 2500 and rw['to_secondary'] >= 2500, d
assert d['failover'] and d['direct'] >= 200, d
print('# datapath: %d mirrored, %d released, %d checksums filled, %d TCP connections '
      'renumbered (%d frames), %d straight to the client after the failover'
      % (d['mirrored'], d['released'], d['dp']['checksums_filled'] + d['ds']['checksums_filled'],
         rw['connections'], rw['from_secondary'] + rw['to_secondary'], d['direct']))
PY

# An interface that does not exist: one line, exit 1.
rc=0
ip netns exec ${NS}d "$dp" --client-if nosuch --primary-if dp --secondary-if ds \
	--primary-in "$N/pin.sock" --secondary-in "$N/sin.sock" --outdev "$N/out.sock" \
	> /dev/null 2> "$T/err" || rc=$?
[ $rc = 1 ] && [ "$(cat "$T/err")" = "colo-datapath: --client-if interface nosuch: no such interface" ] ||
	fail "a missing interface: exit $rc: $(cat "$T/err")"
kill -TERM $pp $np
wait_pid $pp 10 || fail "colo-proxy exited $?"
finish
