#!/bin/bash
# Remus output commit on real interfaces: colo-datapath's Remus role (no
# secondary) between a client and a guest with a real UDP and TCP server
# on its own kernel stack, feeding xl-colo's output buffer (Remus mode) of
# a protection of a sim guest at -i 50, in network namespaces made here:
#     client C 10.0.0.1 --- D (the datapath) --- P 10.0.0.2
# Twice: colo-datapath beside the protection (start --proxy
# primary-in=..,outdev=..), then the datapath in the protection itself
# (start --proxy client-if=dc,guest-if=dp, xl-colo in D: its sockets in
# its run folder, its counters in its log at the stop). Each time:
#   - misused command lines of the role: one line each, exit 2;
#   - 100 UDP and 100 TCP requests: every answer right and in order, each
#     released by a checkpoint's acknowledgement (commits counted);
#   - with the secondary stopped (SIGSTOP), an answer is held: the client
#     has none, the buffer holds it, nothing more is released; once the
#     secondary goes on and acknowledges, it reaches the client;
#   - the datapath's counters: nothing but the primary's frames to the
#     proxy, and what the proxy released to the client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/datapath-lib.sh"

dp_usage_is "colo-datapath: --outdev is required (Remus: no secondary)" --client-if a --primary-if b \
	--primary-in x || fail "Remus, no outdev"
dp_usage_is "colo-datapath: --insecure is the link's: it needs --secondary-link or --listen" \
	--client-if a --primary-if b --primary-in x --outdev y --insecure || fail "Remus, --insecure"

dp_netns c d p
dp_veth c c0 d dc && dp_veth p p0 d dp || die "veth pairs"
ip -n ${NS}c addr add 10.0.0.1/24 dev c0 || die "client address"
dp_guests p
# ARP's answers are output too, held as the rest: the neighbours are set.
cmac=$(ip -n ${NS}c -o link show c0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
ip -n ${NS}c neigh replace 10.0.0.2 lladdr 52:54:00:12:34:56 dev c0 nud permanent &&
	ip -n ${NS}p neigh replace 10.0.0.1 lladdr "$cmac" dev p0 nud permanent || die "neighbours"

# protect WAY: a protection of a sim guest g at -i 50, its output buffer
# fed by a colo-datapath of its own (WAY beside) or by its own datapath
# (WAY inside: xl-colo start and receive in D, through $T/in-d).
protect() {
	A=$(new_host a$1); B=$(new_host b$1); key=$(new_key key$1); port=$(free_port)
	N=$A/nic; [ -d "$N" ] || mkdir -m 700 "$N"
	start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 21 > /dev/null
	if [ "$1" = beside ]; then
		start_secondary "$B" "$port" --key "$key" --timeout 30000
		start_primary "$A" g "$port" --key "$key" --timeout 30000 -i 50 \
			--proxy "primary-in=$N/pin.sock,outdev=$N/out.sock,status=$N/st.sock"
		wait_protected "$A" 120 || die "g not protected: $(cat "$A/pri.err" "$B/sec.err")"
		dp_start d d --client-if dc --primary-if dp --primary-in "$N/pin.sock" --outdev "$N/out.sock"
	else
		printf '#!/bin/sh\nexec ip netns exec %s xl-colo -vv "$@"\n' ${NS}d > "$T/in-d"
		chmod 755 "$T/in-d"
		start_secondary --run "$T/in-d" "$B" "$port" --key "$key" --timeout 30000
		start_primary --run "$T/in-d" "$A" g "$port" --key "$key" --timeout 30000 -i 50 \
			--proxy "client-if=dc,guest-if=dp,status=$N/st.sock"
		wait_protected "$A" 120 || die "g not protected: $(cat "$A/pri.err" "$B/sec.err")"
		grep -q "NIC of g: forwarding: dc to dp; dp to the proxy (Remus: no secondary); its releases to dc" "$A/pri.err" ||
			die "no datapath in the protection: $(cat "$A/pri.err")"
	fi
}
commit() { # FIELD: the output buffer's counter, from the proxy's own status
	# socket (xl-colo status waits on the primary, which waits on the
	# secondary's acknowledgement while it is stopped)
	status | python3 -c "import json, sys; print(json.load(sys.stdin)['commit'][sys.argv[1]])" "$1"
}
one() { # TAG KIND CLIENT COUNT: the server in P, COUNT requests, the server stopped
	# (the first way's "ready" is gone before the server starts: the
	# background job's redirection truncates the file only when it runs)
	rm -f "$T/$1.p"
	ip netns exec ${NS}p $peer $2 0 > "$T/$1.p" 2>&1 & sp=$!; track $sp
	local end=$((SECONDS + 10))
	until grep -qs '^ready$' "$T/$1.p"; do
		alive $sp || die "$1: the server exited: $(cat "$T/$1.p")"
		[ $SECONDS -lt $end ] || die "$1: the server did not listen in 10 s"
		sleep 0.05
	done
	ip netns exec ${NS}c $peer "$3" 10.0.0.2 "$4" > "$T/$1.c" 2>&1 ||
		fail "$1: the client: $(tail -n 3 "$T/$1.c")"
	kill $sp; wait $sp 2>/dev/null || true
}
# counters FILE WAY: the datapath's, its JSON in FILE
counters() {
	python3 - "$1" "$2" <<'PY' || fail "$2: the datapath's counters: $(cat "$1")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d['mirrored'] >= 200 and d['redirected_primary'] >= 200 and d['released'] >= 200, d
assert d['redirected_secondary'] == 0 and d['redirect_drops'] == 0 and 'link' not in d, d
assert d['rewrite']['connections'] == 0 and not d['failover'], d
print('# %s: the datapath (Remus): %d client frames to P, %d of P\'s to the buffer, %d released'
      % (sys.argv[2], d['mirrored'], d['redirected_primary'], d['released']))
PY
}

for way in beside inside; do
	protect $way
	c0=$(commit commits)
	one udp server client 100
	say "$way: UDP through the output commit at -i 50: $(tail -n 1 "$T/udp.c")"
	one tcp tcpserver tcpclient 100
	say "$way: TCP through the output commit at -i 50: $(tail -n 1 "$T/tcp.c")"
	c1=$(commit commits)
	[ $((c1 - c0)) -ge 10 ] || fail "$way: only $((c1 - c0)) commits for 200 answers"

	# The secondary stopped: its acknowledgement does not come, the answer
	# stays in the buffer; then it comes, and so does the answer.
	rm -f "$T/held.p"
	ip netns exec ${NS}p $peer server 0 > "$T/held.p" 2>&1 & sp=$!; track $sp
	end=$((SECONDS + 10))
	until grep -qs '^ready$' "$T/held.p"; do
		alive $sp || die "held: the server exited: $(cat "$T/held.p")"
		[ $SECONDS -lt $end ] || die "held: the server did not listen in 10 s"
		sleep 0.05
	done
	kill -STOP $sec
	ip netns exec ${NS}c $peer client 10.0.0.2 1 > "$T/held.c" 2>&1 & cp=$!; track $cp
	end=$((SECONDS + 4))
	until [ "$(commit held)" -ge 1 ]; do
		[ $SECONDS -lt $end ] || { kill -CONT $sec; die "$way: no answer held with the secondary stopped"; }
		sleep 0.05
	done
	r0=$(commit released)
	alive $cp || fail "$way: the client ended while its answer was held: $(cat "$T/held.c")"
	grep -q '"answered": 1' "$T/held.c" && fail "$way: the client has its answer before the acknowledgement"
	kill -CONT $sec
	wait_pid $cp 10 || fail "$way: the held answer did not come after the acknowledgement: $(cat "$T/held.c")"
	[ "$(commit released)" -gt "$r0" ] || fail "$way: nothing released after the acknowledgement"
	say "$way: held: the answer was in the buffer while the secondary was stopped, and came after its acknowledgement: $(tail -n 1 "$T/held.c")"
	kill $sp; wait $sp 2>/dev/null || true

	if [ $way = beside ]; then
		kill -TERM $dpp
		wait_pid $dpp 10 || fail "colo-datapath exited $? at SIGTERM: $(cat "$T/d.err")"
		counters "$T/d.json" $way
	fi
	xl-colo --rundir "$A" stop g > /dev/null || fail "$way: stop"
	wait_pid "$pri" 30 || fail "$way: xl-colo start did not end after stop: $(tail -n 3 "$A/pri.err")"
	if [ $way = inside ]; then
		sed -n 's/.*NIC of g: the datapath.s counters: //p' "$A/pri.err" > "$T/in.json"
		counters "$T/in.json" $way
		[ -z "$(ls -A "$A/nic" 2>/dev/null | grep -v '^st.sock$')" ] ||
			fail "$way: sockets left in the run folder: $(ls "$A/nic")"
	fi
	wait_pid "$sec" 30 || true
	colo-simguest destroy --rundir "$A" --name g > /dev/null 2>&1 || true
	colo-simguest destroy --rundir "$B" --name g > /dev/null 2>&1 || true
done
finish
