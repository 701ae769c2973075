#!/bin/bash
# The datapath across two hosts, in network namespaces made here:
#
#   client C 10.0.0.1 (a hub: bridge br0, ageing 0) --- D (the primary's host) --- P 10.0.0.2
#                                                   \-- E (the secondary's host) --- S 10.0.0.2
#                                    D 10.9.0.1 ---- the link ---- E 10.9.0.2
#
# D's colo-datapath mirrors the client's frames to P and, over the link
# (an authenticated stream), to E's, which renumbers them for S; S's frames
# come back over the link, renumbered as P's, to colo-proxy on D. The
# rewriter is on E, where it outlives D: it learns P's numbers from the
# SYN-ACKs D sends it.
#   - misused command lines of the two roles: one line each, exit 2;
#   - at E's door, random bytes and a peer with the wrong key are refused,
#     one line each, and the door stays open; the peer with the wrong key
#     exits 1 without touching the proxy;
#   - UDP and TCP, 1000 requests each: every answer right and in order;
#     identical answers, no checkpoint; one divergence, exactly one;
#   - the primary's host dies (D's datapath SIGKILLed, its link to C cut,
#     P's server killed) after SIGUSR1 to E's: the client's open TCP
#     connection goes on against S through E, 200 answers more;
#   - E's counters: what crossed the link each way, the connections
#     renumbered, the frames to the client after the failover.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/datapath-lib.sh"

px=(--primary-in x --secondary-in y --outdev z)
dp_usage_is "colo-datapath: --secondary-if has no place with --secondary-link" --client-if a \
	--primary-if b --secondary-if c --secondary-link h --insecure "${px[@]}" || fail "primary's host, secondary-if"
dp_usage_is "colo-datapath: --primary-in has no place with --listen" --client-if a --secondary-if c \
	--listen 7880 --insecure --primary-in x || fail "secondary's host, a proxy socket"
dp_usage_is "colo-datapath: --client-if is required with --listen" --secondary-if c --listen 7880 \
	--insecure || fail "secondary's host, no client-if"
dp_usage_is "colo-datapath: the link needs --key FILE (or --insecure)" --client-if a --primary-if b \
	--secondary-link h "${px[@]}" || fail "no key"
dp_usage_is "colo-datapath: --key is the link's: it needs --secondary-link or --listen" --client-if a \
	--primary-if b --secondary-if c "${px[@]}" --key k || fail "key on one host"
dp_usage_is "colo-datapath: --secondary-link and --listen are the two hosts' roles: one of them" \
	--secondary-link h --listen 7880 || fail "both roles"
dp_usage_is "colo-datapath: --key and --insecure: one of them" --client-if a --secondary-if c \
	--listen 7880 --key k --insecure || fail "key and insecure"

dp_netns c d e p s
ip -n ${NS}c link add br0 type bridge ageing_time 0 && ip -n ${NS}c link set br0 up || die "the client's hub"
dp_veth c c1 d dc && dp_veth c c2 e ec || die "the client's veths"
ip -n ${NS}c link set c1 master br0 && ip -n ${NS}c link set c2 master br0 || die "the hub's ports"
ip -n ${NS}c addr add 10.0.0.1/24 dev br0 || die "client address"
dp_veth p p0 d dp && dp_veth s s0 e es || die "the guests' veths"
dp_veth d dl e el || die "the link's veth"
ip -n ${NS}d addr add 10.9.0.1/24 dev dl && ip -n ${NS}e addr add 10.9.0.2/24 dev el || die "the link's addresses"
dp_guests p s
key=$(new_key key)
wrong=$(new_key wrong)

# E first: it waits at its door.
dp_door e e 10.9.0.2:7880 --secondary-if es --client-if ec --key "$key"
# Knocks that fail: random bytes, then the wrong key (which gives up
# before its proxy: none runs yet).
ip netns exec ${NS}d python3 -c "
import os, socket, time
s = socket.create_connection(('10.9.0.2', 7880), timeout=5)
s.sendall(os.urandom(4096))
try:
    s.recv(1)
except OSError:
    pass" || fail "the random peer could not connect"
rc=0
ip netns exec ${NS}d "$dp" --client-if dc --primary-if dp --secondary-link 10.9.0.2 --key "$wrong" \
	--primary-in "$T/no.sock" --secondary-in "$T/no.sock" --outdev "$T/no.sock" > /dev/null 2> "$T/wrong.err" || rc=$?
[ $rc = 1 ] && grep -q "^colo-datapath: .*wrong key" "$T/wrong.err" && ! grep -q "no.sock" "$T/wrong.err" ||
	fail "the wrong key's datapath: exit $rc: $(cat "$T/wrong.err")"
end=$((SECONDS + 10))
until [ "$(grep -c "refused (" "$T/e.err")" -ge 2 ]; do
	[ $SECONDS -lt $end ] || fail "E did not refuse both knocks: $(cat "$T/e.err")"
	alive $ep || die "E's datapath exited at a bad knock: $(cat "$T/e.err")"
	sleep 0.05
done
say "E's door: $(grep -c "refused (" "$T/e.err") refused: $(grep -o "refused (.*" "$T/e.err" | tr '\n' ' ')"

dp_proxy
dp_start d d --client-if dc --primary-if dp --secondary-link 10.9.0.2 --key "$key" $(dp_proxy_opts)
dpd=$dpp
end=$((SECONDS + 10))
until grep -qs "forwarding:" "$T/e.err"; do
	alive $ep || die "E's datapath exited: $(cat "$T/e.err")"
	[ $SECONDS -lt $end ] || die "E's datapath did not take the link in 10 s: $(cat "$T/e.err")"
	sleep 0.05
done
dp_runs

# The primary's host dies: its datapath, its port on the client's hub.
host_d_dies() {
	kill -9 $dpd; wait $dpd 2>/dev/null || true
	ip -n ${NS}c link del c1
}
dp_failover $ep "$T/e.err" host_d_dies

kill -TERM $ep
wait_pid $ep 10 || fail "E's colo-datapath exited $? at SIGTERM: $(cat "$T/e.err")"
python3 - "$T/e.json" <<'PY' || fail "E's counters: $(cat "$T/e.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
l = d['link']
# The client's frames came over the link and went to S; S's went back,
# renumbered; P's SYN-ACKs taught the rewriter three connections.
assert not l['lost'] and l['received']['client'] >= 4000 and l['sent']['secondary'] >= 4000, d
assert l['received']['primary'] >= 3 and l['received']['secondary'] == 0, d
assert d['es']['tx'] >= 4000 and d['es']['checksums_filled'] >= 4000, d
rw = d['rewrite']
assert rw['connections'] == 3 and rw['from_secondary'] >= 2500 and rw['to_secondary'] >= 2500, d
assert d['failover'] and d['direct'] >= 200 and d['ec']['tx'] == d['direct'], d
print('# E: over the link %d client frames in, %d SYN-ACKs of P, %d of S\'s frames out; '
      '%d TCP connections renumbered (%d frames); %d to the client after the failover'
      % (l['received']['client'], l['received']['primary'], l['sent']['secondary'],
         rw['connections'], rw['from_secondary'] + rw['to_secondary'], d['direct']))
PY
grep -q "the link from the primary's host is lost" "$T/e.err" &&
	fail "E lost its link before the failover: $(cat "$T/e.err")"
kill -TERM $pp $np
wait_pid $pp 10 || fail "colo-proxy exited $?"
finish
