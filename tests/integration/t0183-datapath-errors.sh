#!/bin/bash
# colo-datapath's error paths, in network namespaces made here (t0179's):
#     client C 10.0.0.1 --- D (colo-datapath) --- P 10.0.0.2
#                                             \-- S 10.0.0.2
#   - a frame over the bound (1518 bytes; a guest's TSO segment) is
#     dropped and counted, not forwarded: the veths at MTU 9000, one UDP
#     datagram of 4000 bytes (4042 on the wire, DF: one frame) from the
#     client, then 10 requests: D's client side counts it too big once,
#     takes and mirrors exactly the 10 requests, the guests get 10 frames
#     each, and the proxy 10 from each (the guests' answers), nothing more;
#   - the proxy killed while colo-datapath runs: exit 1, its counters,
#     and its last line on stderr says which socket the proxy closed:
#     with colo-datapath stopped until the proxy is gone (all three
#     sockets closed), exactly "--outdev PATH: the proxy closed it"; run
#     freely, that line or the same of --primary-in or --secondary-in;
#   - the secondary's host (--listen) reached by a peer that sends a
#     record of another kind (xl-colo start, the engine's primary, with
#     the link's key: its DOMAIN_CONFIG): refused in one line, the link
#     lost, colo-datapath goes on waiting for a failover; exit 0 at
#     SIGTERM, nothing counted as received.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/datapath-lib.sh"

dp_netns c d p s
for n in c p s; do dp_veth $n ${n}0 d d$n || die "veth $n"; done
ip -n ${NS}c addr add 10.0.0.1/24 dev c0 || die "client address"
dp_guests p s
# Every veth at MTU 9000: nothing but colo-datapath's bound stops a big
# frame on its way to the guests.
for l in c:c0 d:dc p:p0 d:dp s:s0 d:ds; do
	ip -n $NS${l%%:*} link set dev ${l#*:} mtu 9000 || die "mtu 9000 on ${l#*:}"
done
# No ARP: the frames counted below are the requests and the answers alone.
cmac=$(ip -n ${NS}c -o link show c0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
ip -n ${NS}c neigh replace 10.0.0.2 lladdr 52:54:00:12:34:56 dev c0 nud permanent || die "C's neighbour"
for n in p s; do
	ip -n $NS$n neigh replace 10.0.0.1 lladdr "$cmac" dev ${n}0 nud permanent || die "$n's neighbour"
done

# proxy_up N: until colo-proxy has taken colo-datapath's three sockets,
# its Nth connection on each (it takes one peer at a time).
proxy_up() {
	local end=$((SECONDS + 10))
	until status | python3 -c "
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if all(s[k]['connected'] and s[k]['connections'] == $1
                  for k in ('primary_in', 'secondary_in', 'outdev')) else 1)"; do
		[ $SECONDS -lt $end ] || die "colo-proxy did not take colo-datapath's sockets in 10 s: $(status)"
		sleep 0.05
	done
}
txstat() { # NS DEV: the kernel's packets and bytes sent by DEV
	ip -n $NS$1 -s -j link show dev $2 |
		python3 -c "import json, sys; t = json.load(sys.stdin)[0]['stats64']['tx']; print(t['packets'], t['bytes'])"
}

# --- A frame too big ---------------------------------------------------
dp_proxy
dp_start d big --client-if dc --primary-if dp --secondary-if ds $(dp_proxy_opts)
proxy_up 1
servers big server
read -r p0 b0 <<< "$(txstat c c0)"
ip netns exec ${NS}c python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)   # IP_MTU_DISCOVER, IP_PMTUDISC_DO: DF, never fragmented
assert s.sendto(b"x" * 4000, ("10.0.0.2", 7009)) == 4000' || die "the big datagram not sent"
read -r p1 b1 <<< "$(txstat c c0)"
[ $((p1 - p0)) = 1 ] && [ $((b1 - b0)) = 4042 ] ||
	die "the big datagram did not leave C as one frame of 4042 bytes: $((p1 - p0)) frames, $((b1 - b0)) bytes"
# After it, on the same interface: 10 requests, each answered (so D read
# the big frame before them).
ip netns exec ${NS}c $peer client 10.0.0.2 10 > "$T/big.c" 2>&1 ||
	fail "the 10 requests after the big frame: $(tail -n 3 "$T/big.c")"
kill $sp $ss; wait $sp $ss 2>/dev/null || true
say "10 requests after a frame of 4042 bytes: $(tail -n 1 "$T/big.c")"
python3 - "$(status)" <<'PY' || fail "what reached colo-proxy: $(status)"
import json, sys
s = json.loads(sys.argv[1])
# The guests' 10 answers each: the big frame never reached them (no ICMP
# port unreachable from them either).
for k in ('primary_in', 'secondary_in'):
    i = s[k]
    assert i['records'] == 10 and i['frames'] == 10 and i['drops']['too-big'] == 0, (k, i)
    assert i['bytes'] < 10 * (4 + 1518), (k, i)
assert s['outdev']['frames'] == 10 and s['checkpoints'] == 0, s
print('# colo-proxy: 10 frames from each guest (%d and %d bytes with their lengths), 10 released'
      % (s['primary_in']['bytes'], s['secondary_in']['bytes']))
PY
kill -TERM $dpp
wait_pid $dpp 10 || fail "colo-datapath exited $? at SIGTERM: $(cat "$T/big.err")"
python3 - "$T/big.json" <<'PY' || fail "the datapath's counters: $(cat "$T/big.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
c, p, s = d['dc'], d['dp'], d['ds']
# Too big once, and not taken: the 10 requests alone, mirrored to each guest.
assert c['rx_too_big'] == 1 and c['rx'] == 10 and d['mirrored'] == 10, d
assert p['tx'] == 10 and s['tx'] == 10 and p['tx_errors'] == 0 and s['tx_errors'] == 0, d
assert p['rx_too_big'] == 0 and s['rx_too_big'] == 0, d
# Each guest's 10 answers to the proxy, its 10 releases to the client.
assert p['rx'] == 10 and s['rx'] == 10, d
assert d['redirected_primary'] == 10 and d['redirected_secondary'] == 10 and d['redirect_drops'] == 0, d
assert d['released'] == 10 and c['tx'] == 10, d
print('# datapath: %d too big on dc, %d client frames taken, %d mirrored to each guest'
      % (c['rx_too_big'], c['rx'], p['tx']))
PY

# --- The proxy gone ----------------------------------------------------
# exits_closed TAG WANT...: colo-datapath ($dpp, its output in $T/TAG.*)
# exits 1 (bounded), its last line one of WANT, its counters on stdout.
exits_closed() {
	local tag=$1 rc=0 last
	shift
	wait_pid $dpp 10 || rc=$?
	last=$(tail -n 1 "$T/$tag.err")
	[ $rc = 1 ] || { fail "$tag: colo-datapath exited $rc, not 1: $(cat "$T/$tag.err")"; return; }
	local w found=
	for w in "$@"; do
		if [ "$last" = "$w" ]; then found=t; fi
	done
	[ -n "$found" ] || fail "$tag: the last line: '$last', not one of: $(printf "'%s' " "$@")"
	python3 -c "import json, sys; d = json.loads(open(sys.argv[1]).read()); assert d['mirrored'] == 0, d" \
		"$T/$tag.json" || fail "$tag: no counters at the exit: $(cat "$T/$tag.json")"
	say "$tag: exit $rc: $last"
}
closed() { echo "colo-datapath: $1 $2: the proxy closed it"; }
# kill_proxy: SIGKILL to colo-proxy ($pp), until it is gone (bounded):
# all its sockets closed. Disowned first: bash says nothing of it.
kill_proxy() {
	disown $pp
	kill -9 $pp
	local end=$((SECONDS + 10))
	while alive $pp; do
		[ $SECONDS -lt $end ] || die "colo-proxy still there 10 s after SIGKILL"
		sleep 0.05
	done
}
# colo-datapath stopped while the proxy dies: when it goes on, all three
# sockets are closed, and --outdev is read first.
dp_start d stopped --client-if dc --primary-if dp --secondary-if ds $(dp_proxy_opts)
proxy_up 2
kill -STOP $dpp
kill_proxy
kill -CONT $dpp
exits_closed stopped "$(closed --outdev "$N/out.sock")"
kill $np 2>/dev/null || true; wait $np 2>/dev/null || true

# A new proxy, killed while colo-datapath runs.
rm -rf "$N"
dp_proxy
dp_start d running --client-if dc --primary-if dp --secondary-if ds $(dp_proxy_opts)
proxy_up 1
kill_proxy
exits_closed running "$(closed --outdev "$N/out.sock")" "$(closed --primary-in "$N/pin.sock")" \
	"$(closed --secondary-in "$N/sin.sock")"
kill $np 2>/dev/null || true; wait $np 2>/dev/null || true

# --- A record of the wrong kind on the link ----------------------------
# The secondary's host in D, at its door on D's loopback; xl-colo start,
# also in D, the link's peer with its key: its first record, the guest's
# DOMAIN_CONFIG, is not one of the datapath's.
key=$(new_key key); port=$(free_port)
dp_door d link 127.0.0.1:$port --secondary-if ds --client-if dc --key "$key"
A=$(new_host a)
start_guest "$A" g --mem 32M --vcpus 1 > /dev/null
printf '#!/bin/sh\nexec ip netns exec %s xl-colo "$@"\n' "${NS}d" > "$T/xl-colo-d"
chmod +x "$T/xl-colo-d"
start_primary --run "$T/xl-colo-d" "$A" g "$port" --key "$key" --timeout 5000
lost="colo-datapath: the link from the primary's host is lost: waiting for a failover"
end=$((SECONDS + 30))
until grep -qsFx "$lost" "$T/link.err"; do
	alive $ep || die "the secondary's host exited: $(cat "$T/link.err")"
	[ $SECONDS -lt $end ] || die "the secondary's host did not lose its link in 30 s: $(cat "$T/link.err" "$A/pri.err")"
	sleep 0.05
done
# After its forwarding line: the refusal, then the link lost; nothing else.
sed -n '/^colo-datapath: forwarding:/,$p' "$T/link.err" | tail -n +2 > "$T/link.after"
printf '%s\n' "colo-datapath: the link: a DOMAIN_CONFIG record is not for the secondary's host" "$lost" |
	diff -u - "$T/link.after" > "$T/link.diff" || fail "the wrong record: $(cat "$T/link.diff")"
say "the wrong record: $(head -n 1 "$T/link.after")"
wait_pid $pri 60 || true   # xl-colo start: its secondary lost
alive $ep || fail "the secondary's host exited after the wrong record: $(cat "$T/link.err")"
kill -TERM $ep
wait_pid $ep 10 || fail "the secondary's host exited $? at SIGTERM: $(cat "$T/link.err")"
python3 - "$T/link.json" <<'PY' || fail "the secondary's host's counters: $(cat "$T/link.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
l = d['link']
assert l['lost'] and not any(l['received'].values()) and not any(l['sent'].values()), d
print('# the secondary\'s host: link lost, nothing received: %s' % json.dumps(l['received']))
PY
colo-simguest destroy --rundir "$A" --name g > /dev/null 2>&1 || true
finish
