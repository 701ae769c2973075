# datapath-lib.sh - what t0179 (one host) and t0181 (two hosts) share:
# their namespaces, colo-proxy and its notify peer, the guests' servers, a
# run of 1000 requests, the failover's client. Sourced after lib.sh.
# Namespaces are $NS<letter>, made by dp_netns, deleted at exit.
dp=$abs_top_builddir/tools/datapath/colo-datapath
proxy=$abs_top_builddir/tools/proxy/colo-proxy
peer="python3 $(dirname "$0")/datapath-peer.py"
NS=xd$$
DP_NS=""

skip() { say "skipped: $*"; exit 77; }
ns_down() { local n; for n in $DP_NS; do ip netns del $NS$n 2>/dev/null || true; done; }

# dp_netns LETTER...: the namespaces, IPv6 off, lo up (skipped without
# ip(8) or root, or where no namespace can be made).
dp_netns() {
	command -v ip > /dev/null || skip "no ip(8) (iproute2)"
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	trap 'cleanup; ns_down' EXIT
	ip netns add $NS$1 2> "$T/ns.err" || skip "cannot make a network namespace: $(cat "$T/ns.err")"
	DP_NS=$1
	local n
	for n in "${@:2}"; do ip netns add $NS$n || die "ip netns add $n"; DP_NS="$DP_NS $n"; done
	for n in "$@"; do
		ip netns exec $NS$n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 ||
			die "IPv6 off in $n"
		ip -n $NS$n link set lo up || die "lo up in $n"
	done
}
# dp_veth A NAME_A B NAME_B: a veth pair between namespaces A and B, both up.
dp_veth() {
	ip link add $2 netns $NS$1 type veth peer name $4 netns $NS$3 &&
	ip -n $NS$1 link set $2 up && ip -n $NS$3 link set $4 up
}
# dp_guests LETTER...: the guests (P and S): the same address and MAC,
# on their interfaces p0, s0.
dp_guests() {
	local n
	for n in "$@"; do
		ip -n $NS$n link set ${n}0 address 52:54:00:12:34:56 &&
		ip -n $NS$n addr add 10.0.0.2/24 dev ${n}0 || die "guest $n address"
	done
}

# dp_usage_is WANT ARGS...: colo-datapath ARGS exits 2, WANT its first
# line, then its usage line.
dp_usage_is() {
	local want=$1 rc=0
	shift
	"$dp" "$@" > /dev/null 2> "$T/err" || rc=$?
	[ $rc = 2 ] && [ "$(head -n 1 "$T/err")" = "$want" ] &&
		sed -n 2p "$T/err" | grep -q "^usage: colo-datapath --client-if IF" ||
		{ echo "exit $rc: $(cat "$T/err")" >&2; return 1; }
}

# dp_door NS TAG ADDR:PORT ARGS...: colo-datapath --listen ADDR:PORT ARGS
# in namespace NS (the secondary's host), stdout in $T/TAG.json, stderr in
# $T/TAG.err, its pid in $ep; until it waits at its door.
dp_door() {
	local ns=$1 tag=$2 at=$3
	shift 3
	ip netns exec $NS$ns "$dp" "$@" --listen "$at" > "$T/$tag.json" 2> "$T/$tag.err" &
	ep=$!; track $ep
	dp_until_said $ep "$tag" "waiting for the primary's host on $at" 10 "wait at its door"
}

# dp_until_said PID TAG PATTERN SECONDS WHAT: until colo-datapath PID's
# $T/TAG.err has PATTERN; a datapath that exits first, or takes longer,
# fails the setup ("did not WHAT").
dp_until_said() {
	local end=$((SECONDS + $4))
	until grep -qs "$3" "$T/$2.err"; do
		alive $1 || die "colo-datapath $2 exited: $(cat "$T/$2.err")"
		[ $SECONDS -lt $end ] || die "colo-datapath $2 did not $5 in $4 s: $(cat "$T/$2.err")"
		sleep 0.05
	done
}

# colo-proxy on $N, and the Xen side of its notify_dev; pids $pp $np.
dp_proxy() {
	N=$T/nic; mkdir -m 700 "$N"
	"$proxy" --primary-in "$N/pin.sock" --secondary-in "$N/sin.sock" --outdev "$N/out.sock" \
		--notify "$N/ntf.sock" --status "$N/st.sock" 2> "$T/proxy.err" &
	pp=$!; track $pp
	local end=$((SECONDS + 10))
	until [ -S "$N/st.sock" ]; do
		alive $pp || die "colo-proxy exited: $(cat "$T/proxy.err")"
		[ $SECONDS -lt $end ] || die "colo-proxy did not listen in 10 s"
		sleep 0.05
	done
	$peer notify "$N/ntf.sock" > "$T/notify.out" 2> "$T/notify.err" &
	np=$!; track $np
}
# The proxy's three sockets, as colo-datapath's options.
dp_proxy_opts() { echo --primary-in "$N/pin.sock" --secondary-in "$N/sin.sock" --outdev "$N/out.sock"; }

# dp_start NS TAG ARGS...: colo-datapath in namespace NS, stdout (its
# counters) in $T/TAG.json, stderr in $T/TAG.err, its pid in $dpp; until
# it says it forwards.
dp_start() {
	local ns=$1 tag=$2
	shift 2
	ip netns exec $NS$ns "$dp" "$@" > "$T/$tag.json" 2> "$T/$tag.err" &
	dpp=$!; track $dpp
	dp_until_said $dpp "$tag" "forwarding:" 20 start
}

status() { python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); b = b''
while True:
    d = s.recv(65536)
    if not d: break
    b += d
print(b.decode())" "$N/st.sock"; }
ck() { status | python3 -c "import json, sys; print(json.load(sys.stdin)['checkpoints'])"; }

# servers TAG KIND [DIVERGE_AT]: a KIND (server, tcpserver) in P and in S,
# until each says it listens; their pids in $sp $ss.
servers() {
	rm -f "$T/$1.p" "$T/$1.s"   # an earlier "ready" must not pass for this one
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

# The four runs: UDP and TCP, identical answers (no checkpoint) and the
# secondary's answer 500 otherwise (exactly one).
dp_runs() {
	run same server client
	say "UDP, identical answers: $(tail -n 1 "$T/same.c")"
	[ "$(ck)" = 0 ] || fail "UDP, identical answers: $(ck) checkpoints"
	run diverge server client 500
	say "UDP, the secondary's answer 500 otherwise: $(tail -n 1 "$T/diverge.c")"
	[ "$(ck)" = 1 ] || fail "UDP, one divergence: $(ck) checkpoints, not 1: $(cat "$T/proxy.err")"
	grep -q "^DO_CHECKPOINT 1$" "$T/notify.out" || fail "notify saw no DO_CHECKPOINT: $(cat "$T/notify.out")"
	# TCP: two real stacks, their own sequence numbers and timestamp
	# clocks; the secondary's renumbered as the primary's.
	run tsame tcpserver tcpclient
	say "TCP, identical answers: $(tail -n 1 "$T/tsame.c")"
	[ "$(ck)" = 1 ] || fail "TCP, identical answers: $(($(ck) - 1)) checkpoints: $(cat "$T/proxy.err")"
	run tdiverge tcpserver tcpclient 500
	say "TCP, the secondary's answer 500 otherwise: $(tail -n 1 "$T/tdiverge.c")"
	[ "$(ck)" = 2 ] || fail "TCP, one divergence: $(($(ck) - 1)) checkpoints, not 1: $(cat "$T/proxy.err")"
}

# dp_failover DP_PID DP_ERR PRIMARY_GONE: a client's open TCP connection,
# 300 answers; SIGUSR1 to DP_PID (the datapath that serves the secondary),
# then PRIMARY_GONE (a command: the primary's end killed); 200 answers
# more, against the secondary. The client waits on a FIFO this shell holds.
dp_failover() {
	servers tfail tcpserver
	mkfifo "$T/go"
	exec 7<> "$T/go"
	ip netns exec ${NS}c $peer tcpclient 10.0.0.2 300 200 < "$T/go" > "$T/tfail.c" 2>&1 &
	cp=$!; track $cp
	local end=$((SECONDS + 60))
	until grep -qs '^ready$' "$T/tfail.c"; do
		alive $cp || die "the client ended before its first 300 answers: $(cat "$T/tfail.c")"
		[ $SECONDS -lt $end ] || die "the client did not get its first 300 answers in 60 s"
		sleep 0.05
	done
	kill -USR1 $1
	end=$((SECONDS + 10))
	until grep -q "failover:" "$2"; do
		[ $SECONDS -lt $end ] || die "colo-datapath did not take the failover: $(cat "$2")"
		sleep 0.05
	done
	$3
	kill -9 $sp; wait $sp 2>/dev/null || true   # the primary guest, gone
	echo go >&7
	wait_pid $cp 120 || fail "after the failover, the client exited $?: $(cat "$T/tfail.c")"
	exec 7>&-
	say "TCP failover: $(tail -n 1 "$T/tfail.c")"
	python3 -c "import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if r['answered'] == 500 and not r['errors'] else 1)" \
		"$(tail -n 1 "$T/tfail.c")" || fail "the connection did not go on against the secondary"
	kill $ss; wait $ss 2>/dev/null || true
}
