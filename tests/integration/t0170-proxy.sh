#!/bin/bash
# colo-proxy through its own sockets, each scenario on a fresh daemon in
# its own folder of $T, driven by proxy-feed (which checks what comes out
# on outdev and notify byte for byte and in order); the counters checked
# exactly on the daemon's status line. Then its command line, its
# sockets (a live listener refused, a stale one replaced, every path
# removed at SIGTERM and SIGINT), and one run under valgrind.
. "$(dirname "$0")/lib.sh"
proxy=$abs_top_builddir/tools/proxy/colo-proxy
feed=$abs_top_builddir/tests/integration/proxy-feed
cd "$T"   # the files the tests write

# start_proxy NAME [--valgrind] [OPTION...]: colo-proxy on NAME/{pin,sin,
# out,ntf,st}.sock, its stderr in NAME/err, its pid in $pp; returns once
# its status socket answers (every socket listens then). colo-proxy is a
# program of its own (libcolo is a convenience library): no libtool
# wrapper stands between valgrind and it, and $pp is the daemon itself.
start_proxy() {
	local name=$1 run=()
	shift
	if [ "${1:-}" = --valgrind ]; then
		run=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite)
		shift
	fi
	mkdir -p "$T/$name"
	D=$T/$name
	"${run[@]}" "$proxy" --primary-in "$D/pin.sock" --secondary-in "$D/sin.sock" --outdev "$D/out.sock" \
		--notify "$D/ntf.sock" --status "$D/st.sock" "$@" 2> "$D/err" &
	pp=$!; track $pp
	"$feed" "$D" status > /dev/null || die "colo-proxy did not start: $(cat "$D/err")"
}

# stop_proxy [SIGNAL]: it ends with status 0 and leaves no socket behind.
stop_proxy() {
	kill -"${1:-TERM}" "$pp"
	wait_pid "$pp" 30; local rc=$?
	test "$rc" = 0 || { echo "colo-proxy exited $rc: $(cat "$D/err")" >&2; return 1; }
	if ls "$D"/*.sock >/dev/null 2>&1; then
		echo "sockets left behind: $(ls "$D"/*.sock)" >&2
		return 1
	fi
}

# stopped TITLE [SIGNAL]: stop_proxy (here: wait needs our own child, not
# a test's subshell), then a test of how it went.
stopped() {
	local rc=0
	stop_proxy "${2:-TERM}" 2> "$D/stop.err" || rc=1
	test_expect_success "$1" "cat \"$D/stop.err\" >&2; test $rc = 0"
}

# status_check DIR EXPR...: each Python EXPR holds of the status line, as
# d (drops(SIDE): its non-zero drops by cause).
status_check() {
	local dir=$1
	shift
	"$feed" "$dir" status > "$dir/status.json" || return 1
	python3 - "$dir/status.json" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def drops(side):
    return {k: v for k, v in d[side]['drops'].items() if v}
bad = [e for e in sys.argv[2:] if not eval(e)]
for e in bad:
    print('status check failed:', e, file=sys.stderr)
if bad:
    print(json.dumps(d), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# wait_status DIR EXPR SECONDS: until EXPR holds of the status line (for
# what no released frame orders: the last records of an input that only
# fills), no longer than SECONDS.
wait_status() {
	local end=$((SECONDS + $3))
	until status_check "$1" "$2" 2>/dev/null; do
		[ $SECONDS -lt $end ] || { status_check "$1" "$2"; return 1; }
		sleep 0.05
	done
}

feed_run() { timeout 120 "$feed" "$@"; }

# --- the scenarios -----------------------------------------------------------

start_proxy inorder
test_expect_success '(1) a TCP backlog and a UDP backlog are released in order' '
	feed_run "$D" inorder &&
	status_check "$D" "d[\"released\"] == 129" "d[\"compared\"] == 129" \
		"d[\"outdev\"][\"frames\"] == 129" "d[\"checkpoints\"] == 0" \
		"drops(\"primary_in\") == {}" "drops(\"secondary_in\") == {}" \
		"d[\"primary_in\"][\"held\"] == 0" "d[\"notify\"][\"inits\"] == 1"
'
stopped 'SIGTERM: exit 0, the sockets removed' TERM

start_proxy busy --busy-poll 1000
test_expect_success '--busy-poll: the same frames released, in order; polling took some' '
	feed_run "$D" inorder &&
	status_check "$D" "d[\"released\"] == 129" "d[\"compared\"] == 129" \
		"d[\"busy_poll\"][\"us\"] == 1000" "d[\"busy_poll\"][\"hits\"] > 0"
'
stopped 'busy: SIGTERM ends it cleanly'

start_proxy nospurious
test_expect_success '(2) other ISNs, IP IDs, timestamps, an identical UDP burst: no checkpoint' '
	feed_run "$D" nospurious &&
	status_check "$D" "d[\"released\"] == 201" "d[\"checkpoints\"] == 0" \
		"d[\"notify\"][\"do_checkpoint\"] == 0" "d[\"flows\"] == 2" \
		"drops(\"primary_in\") == {}" "drops(\"secondary_in\") == {}"
'
stopped 'SIGINT: exit 0, the sockets removed' INT

start_proxy divergence
test_expect_success '(3) payload, FIN against RST, IPv6, VLAN: one DO_CHECKPOINT each' '
	feed_run "$D" divergence &&
	status_check "$D" "d[\"checkpoints\"] == 4" "d[\"notify\"][\"do_checkpoint\"] == 4" \
		"d[\"notify\"][\"colo_checkpoint\"] == 4" "d[\"checkpoints_done\"] == 4" \
		"d[\"checkpoint_reasons\"] == {\"tcp-payload\": 1, \"tcp-flags\": 1, \"tcp-syn\": 0, \"packet\": 2, \"timeout\": 0, \"flow-limit\": 0, \"memory-limit\": 0}" \
		"d[\"released\"] == 22" "drops(\"primary_in\") == {}" \
		"drops(\"secondary_in\") == {\"checkpoint-pending\": 4}" &&
	test $(grep -c "checkpoint requested" "$D/err") = 4
'
stopped 'divergence: SIGTERM ends it cleanly'

start_proxy stream
test_expect_success '(4) segments and fragments cut differently compare equal' '
	feed_run "$D" stream &&
	status_check "$D" "d[\"released\"] == 10" "d[\"checkpoints\"] == 0" \
		"d[\"primary_in\"][\"frames\"] == 10" "d[\"secondary_in\"][\"frames\"] == 14" \
		"drops(\"primary_in\") == {}" "drops(\"secondary_in\") == {}"
'
stopped 'stream: SIGTERM ends it cleanly'

malformed_counts=(
	"drops(\"primary_in\") == {\"empty\": 1, \"too-big\": 1, \"runt\": 1, \"truncated\": 1, \"bad-ihl\": 1, \"bad-tcp-offset\": 1, \"bad-ip-length\": 1, \"cut-frame\": 1}"
	"drops(\"secondary_in\") == {\"empty\": 1, \"too-big\": 1, \"runt\": 1, \"truncated\": 1, \"bad-ihl\": 1, \"bad-tcp-offset\": 1, \"bad-ip-length\": 1, \"cut-header\": 1}"
	"d[\"primary_in\"][\"records\"] == 11" "d[\"primary_in\"][\"frames\"] == 8"
	"d[\"primary_in\"][\"connections\"] == 2" "d[\"secondary_in\"][\"connections\"] == 2"
	"d[\"released\"] == 3" "d[\"checkpoints\"] == 0"
)
start_proxy malformed
test_expect_success '(5) malformed frames: each counted by its cause, the next exchange released' '
	feed_run "$D" malformed &&
	status_check "$D" "${malformed_counts[@]}" &&
	alive $pp
'
stopped 'malformed: SIGTERM ends it cleanly'

start_proxy vnet --vnet-hdr
test_expect_success '--vnet-hdr: vnet headers stripped, a bad vnet length counted' '
	feed_run --vnet "$D" vnet &&
	status_check "$D" "drops(\"primary_in\") == {\"bad-vnet-length\": 1}" \
		"drops(\"secondary_in\") == {\"bad-vnet-length\": 1}" "d[\"released\"] == 2"
'
stopped 'vnet: SIGTERM ends it cleanly'

start_proxy bounds --max-mem 32M --compare-timeout 60000
test_expect_success '(6) 100,000 flows, a secondary that never answers: bounded, one checkpoint' '
	feed_run "$D" bounds-fill &&
	wait_status "$D" "d[\"primary_in\"][\"records\"] == 100000" 30 &&
	status_check "$D" "d[\"primary_in\"][\"frames\"] == 100000" "d[\"checkpoints\"] == 1" \
		"d[\"notify\"][\"do_checkpoint\"] == 1" \
		"d[\"checkpoint_reasons\"][\"flow-limit\"] + d[\"checkpoint_reasons\"][\"memory-limit\"] == 1" \
		"d[\"mem_peak\"] <= d[\"mem_limit\"] == 32 << 20" \
		"d[\"primary_in\"][\"held\"] + d[\"primary_in\"][\"drops\"][\"flow-limit\"] + d[\"primary_in\"][\"drops\"][\"memory-limit\"] == 100000" \
		"d[\"primary_in\"][\"held\"] >= 1000" &&
	rss=$(awk "/^VmRSS:/ { print \$2 }" /proc/$pp/status) &&
	echo "VmRSS ${rss} kB with --max-mem 32M" &&
	if test -n "${ASAN_OPTIONS:-}"; then
		echo "sanitizer build: its shadow memory makes RSS no measure; not compared"
	else
		test "$rss" -lt $((48 * 1024))
	fi
'
test_expect_success '(6) a new notify peer gets the DO_CHECKPOINT, its COLO_CHECKPOINT releases all held' '
	held=$(python3 -c "import json; print(json.load(open(\"$D/status.json\"))[\"primary_in\"][\"held\"])") &&
	feed_run "$D" bounds-drain "$held" &&
	status_check "$D" "d[\"checkpoints\"] == 1" "d[\"notify\"][\"do_checkpoint\"] == 2" \
		"d[\"checkpoints_done\"] == 1" "d[\"released\"] == $held + 1" \
		"d[\"primary_in\"][\"held\"] == 0"
'
stopped 'bounds: SIGTERM ends it cleanly'

start_proxy notify --compare-timeout 1000
test_expect_success '(7) notify_dev: handshake, refusals, one DO_CHECKPOINT per episode' '
	feed_run "$D" notify &&
	status_check "$D" "d[\"notify\"][\"inits\"] == 1" "d[\"notify\"][\"unknown\"] == 1" \
		"d[\"notify\"][\"refused\"] == 1" "d[\"notify\"][\"do_checkpoint\"] == 2" \
		"d[\"notify\"][\"colo_checkpoint\"] == 2" "d[\"checkpoints\"] == 2" \
		"d[\"checkpoint_reasons\"][\"packet\"] == 1" "d[\"checkpoint_reasons\"][\"timeout\"] == 1" \
		"d[\"released\"] == 3" &&
	grep -qx "colo-proxy: --notify: unknown message \"HELLO\" (5 bytes) refused" "$D/err" &&
	grep -qx "colo-proxy: --notify: a message refused: too-big (at most 64 bytes)" "$D/err"
'
stopped 'notify: SIGTERM ends it cleanly'

# --- the command line and the sockets ----------------------------------------

usage_is() { # WANT ARGS...: exit 2, WANT first, then the usage line
	local want=$1; shift
	test_expect_code 2 "$proxy" "$@" 2>err &&
	echo "$want" >expect && head -n 1 err >first && test_cmp expect first &&
	sed -n 2p err | grep -q "^usage: colo-proxy --primary-in PATH --secondary-in PATH --outdev PATH" &&
	test $(wc -l <err) = 2
}
test_expect_success 'usage errors: one line each and the usage line, exit 2' '
	usage_is "colo-proxy: unknown option '\''--bogus'\''" --bogus &&
	usage_is "colo-proxy: --outdev is required" --primary-in a --secondary-in b &&
	usage_is "colo-proxy: option '\''--outdev'\'' needs a value" --primary-in a --outdev &&
	usage_is "colo-proxy: --compare-timeout 0: must be 1..3600000 ms" \
		--primary-in a --secondary-in b --outdev c --compare-timeout 0 &&
	usage_is "colo-proxy: --max-mem 12Q: must be 1M..64G (K, M or G suffix)" \
		--primary-in a --secondary-in b --outdev c --max-mem 12Q &&
	usage_is "colo-proxy: --busy-poll 10001: must be 0..10000 us" \
		--primary-in a --secondary-in b --outdev c --busy-poll 10001 &&
	usage_is "colo-proxy: --primary-in and --outdev are the same path a" \
		--primary-in a --secondary-in b --outdev a &&
	usage_is "colo-proxy: unexpected argument '\''x'\''" --primary-in a --secondary-in b --outdev c x &&
	"$proxy" --help >out && grep -q "^  --notify PATH" out
'

start_proxy live
test_expect_success 'a live listener is refused, and what the refused one made is removed' '
	test_expect_code 1 "$proxy" --primary-in "$D/pin.sock" --secondary-in "$D/x.sock" \
		--outdev "$D/y.sock" 2>err &&
	echo "colo-proxy: --primary-in $D/pin.sock: another program is listening there" >expect &&
	test_cmp expect err &&
	test_expect_code 1 "$proxy" --primary-in "$D/x.sock" --secondary-in "$D/y.sock" \
		--outdev "$D/out.sock" 2>err &&
	echo "colo-proxy: --outdev $D/out.sock: another program is listening there" >expect &&
	test_cmp expect err &&
	! test -e "$D/x.sock" && ! test -e "$D/y.sock" &&
	test -S "$D/pin.sock" && test -S "$D/out.sock" && alive $pp &&
	feed_run "$D" inorder
'
stopped 'live: SIGTERM ends it cleanly'

test_expect_success 'a stale socket is replaced; a path that is not a socket is refused' '
	mkdir -p stale &&
	python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind(\"stale/pin.sock\")" &&
	test -S stale/pin.sock &&
	: >stale/file &&
	test_expect_code 1 "$proxy" --primary-in stale/pin.sock --secondary-in stale/sin.sock \
		--outdev stale/file 2>err &&
	echo "colo-proxy: --outdev stale/file: exists and is not a socket" >expect && test_cmp expect err &&
	! test -e stale/sin.sock
'
start_proxy stale
test_expect_success 'the stale socket gone, the daemon works there' 'feed_run "$D" stream'
stopped 'stale: SIGTERM ends it cleanly'

# --- valgrind --------------------------------------------------------------------

if [ -n "${ASAN_OPTIONS:-}" ]; then
	say "sanitizer build: the valgrind run skipped"
elif ! command -v valgrind >/dev/null; then
	say "no valgrind: the valgrind run skipped"
else
	start_proxy valgrind --valgrind
	test_expect_success 'under valgrind: malformed frames and divergences, exact counts' '
		feed_run "$D" malformed &&
		status_check "$D" "${malformed_counts[@]}" &&
		feed_run "$D" divergence &&
		status_check "$D" "d[\"checkpoints\"] == 4" "d[\"released\"] == 25"
	'
	stopped 'under valgrind: a clean exit (no error, no definite leak: status 0)'
	test_expect_success 'under valgrind: nothing reported' '! grep "^==[0-9]*==" "$D/err"'
fi

test_done
