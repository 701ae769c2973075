#!/bin/bash
# The datapath on real interfaces (colo-datapath with colo-proxy), in
# network namespaces made here:
#     client C 10.0.0.1 --- D (the primary's host: colo-datapath) --- P 10.0.0.2
#                                                                 \-- S 10.0.0.2
# P and S are the primary and the secondary guest: the same address and
# MAC, each a real UDP server on its own kernel stack (datapath-peer.py).
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
# TCP needs the rewrite of the secondary's sequence numbers (not yet).
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

# run TAG [DIVERGE_AT]: the two servers, 1000 requests, the servers stopped.
run() {
	ip netns exec ${NS}p $peer server 0 > "$T/$1.p" 2>&1 & local sp=$!; track $sp
	ip netns exec ${NS}s $peer server "${2:-0}" > "$T/$1.s" 2>&1 & local ss=$!; track $ss
	local end=$((SECONDS + 10))
	until grep -qs '^ready$' "$T/$1.p" && grep -qs '^ready$' "$T/$1.s"; do
		alive $sp && alive $ss || die "$1: a server exited: $(cat "$T/$1.p" "$T/$1.s")"
		[ $SECONDS -lt $end ] || die "$1: the servers did not listen in 10 s"
		sleep 0.05
	done
	ip netns exec ${NS}c $peer client 10.0.0.2 1000 > "$T/$1.c" 2>&1 ||
		fail "$1: the client: $(tail -n 3 "$T/$1.c")"
	kill $sp $ss; wait $sp $ss 2>/dev/null || true
}
ck() { status | python3 -c "import json, sys; print(json.load(sys.stdin)['checkpoints'])"; }

run same
say "identical answers: $(tail -n 1 "$T/same.c")"
[ "$(ck)" = 0 ] || fail "identical answers: $(ck) checkpoints"
run diverge 500
say "the secondary's answer 500 otherwise: $(tail -n 1 "$T/diverge.c")"
[ "$(ck)" = 1 ] || fail "one divergence: $(ck) checkpoints, not 1: $(cat "$T/proxy.err")"
grep -q "^DO_CHECKPOINT 1$" "$T/notify.out" || fail "notify saw no DO_CHECKPOINT: $(cat "$T/notify.out")"

kill -TERM $dpp
wait_pid $dpp 10 || fail "colo-datapath exited $? at SIGTERM: $(cat "$T/dp.err")"
python3 - "$T/dp.json" <<'PY' || fail "the datapath's counters: $(cat "$T/dp.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
# Each request mirrored, each answer redirected from both and released once.
assert d['mirrored'] >= 2000 and d['released'] >= 2000, d
assert d['redirected_primary'] >= 2000 and d['redirected_secondary'] >= 2000, d
assert d['redirect_drops'] == 0 and d['dc']['rx_too_big'] == 0, d
# The guests' UDP checksums, left to the veth, were filled in on the way.
assert d['dp']['checksums_filled'] >= 2000 and d['ds']['checksums_filled'] >= 2000, d
print('# datapath: %d mirrored, %d released, %d checksums filled'
      % (d['mirrored'], d['released'], d['dp']['checksums_filled'] + d['ds']['checksums_filled']))
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
