#!/bin/bash
# t0010-cli.sh - the xl-colo command line, where no protection runs: help,
# usage errors and their exit codes (2), runtime failures (1), each with
# its exact line on stderr. In the manner of git's t/ (lib.sh): every test
# is a title and a shell snippet chained with &&; `test_expect_code N cmd`
# checks an exit status, `test_cmp expect actual` an output.
#
# `make check` puts the build's xl-plugin/ first on PATH. Run by hand:
#   PATH=$BUILD/xl-plugin:$PATH tests/integration/t0010-cli.sh [-v]

. "$(dirname "$0")/lib.sh"

if ! command -v xl-colo >/dev/null 2>&1; then
	echo "error: no xl-colo on PATH (run from 'make check')" >&2
	exit 99
fi

src=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$T"
# Never touch a real /run/xen-colo.
XLCOLO_RUNDIR=$T/run
export XLCOLO_RUNDIR
unset XLCOLO_BACKEND

echo "# xl-colo is $(command -v xl-colo)"

start_usage="usage: xl-colo start [options] --key FILE|--insecure --arbiter URL|none DOMAIN HOST[:PORT]"
receive_usage="usage: xl-colo receive [options] --key FILE|--insecure --arbiter URL|none"
global_usage="usage: xl-colo [--backend sim|xen] [--rundir DIR] [-v] [-j] COMMAND [ARGS]"

# --- help ----------------------------------------------------------------

test_expect_success 'help lists every command, in table order' '
	xl-colo help >out &&
	sed -n "s/^  \([a-z-]*\)  .*/\1/p" out >actual &&
	printf "%s\n" start receive status checkpoint failover stop set-replication disk-serve help >expect &&
	test_cmp expect actual &&
	head -n 1 out >actual &&
	echo "$global_usage" >expect &&
	test_cmp expect actual
'

test_expect_success '--help and -h are help' '
	xl-colo help >expect &&
	xl-colo --help >actual &&
	test_cmp expect actual &&
	xl-colo -h >actual &&
	test_cmp expect actual
'

test_expect_success 'help CMD prints the usage line and the options' '
	xl-colo help start >out 2>err &&
	test_must_be_empty err &&
	head -n 1 out >actual &&
	echo "$start_usage" >expect &&
	test_cmp expect actual &&
	grep -q "^  --precopy-threshold PAGES " out &&
	grep -q "^  --key FILE " out &&
	xl-colo help receive >out &&
	grep -q "^  --listen ADDR:PORT " out
'

test_expect_success 'help start and help receive print the defaults the code uses' '
	xl-colo help start >out &&
	grep -x "  -i, --interval MS          checkpoint period (Remus; COLO fallback), default 100" out &&
	grep -x "  --heartbeat MS             heartbeat period on the link, default 200" out &&
	grep -x "  --timeout MS               peer silent this long is lost, default 3000" out &&
	grep -x "  --precopy-threshold PAGES  stop and copy below this many dirty pages, default 256" out &&
	xl-colo help receive >out &&
	grep -x "  --timeout MS               primary silent this long is lost, default 3000" out &&
	grep -x "  --listen ADDR:PORT         where to wait for the primary, default 0.0.0.0:7878" out
'

test_expect_success 'every option getopt takes is in the help and in docs/xl-colo.1, defaults alike' '
	python3 "$src/tests/integration/cli-options.py" "$src"
'

test_expect_success 'CMD -h and CMD --help are help CMD' '
	for cmd in start receive status checkpoint failover stop; do
		xl-colo help $cmd >expect &&
		xl-colo $cmd -h >actual &&
		test_cmp expect actual &&
		xl-colo $cmd --help >actual &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'unknown command exits 2' '
	test_expect_code 2 xl-colo foo >out 2>actual &&
	test_must_be_empty out &&
	echo "xl-colo: unknown command '\''foo'\'' (see '\''xl-colo help'\'')" >expect &&
	test_cmp expect actual
'

test_expect_success 'help for an unknown command exits 2' '
	test_expect_code 2 xl-colo help foo 2>actual &&
	echo "xl-colo: unknown command '\''foo'\'' (see '\''xl-colo help'\'')" >expect &&
	test_cmp expect actual
'

test_expect_success 'commands are looked up by exact name only' '
	test_expect_code 2 xl-colo stat 2>actual &&
	echo "xl-colo: unknown command '\''stat'\'' (see '\''xl-colo help'\'')" >expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo STATUS 2>/dev/null
'

test_expect_success 'no command exits 2' '
	test_expect_code 2 xl-colo 2>actual &&
	echo "xl-colo: no command given (see '\''xl-colo help'\'')" >expect &&
	test_cmp expect actual
'

# --- usage errors: one line, the usage line, exit 2 ---------------------

test_expect_success 'bad global option exits 2 with the global usage' '
	test_expect_code 2 xl-colo --bogus status 2>actual &&
	echo "xl-colo: unknown option '\''--bogus'\''" >expect &&
	echo "$global_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo --backend kvm status 2>actual &&
	echo "xl-colo: --backend: '\''kvm'\'' is not one of sim, xen" >expect &&
	echo "$global_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: unknown option exits 2 with its usage' '
	test_expect_code 2 xl-colo start --bogus web1 host 2>actual &&
	echo "xl-colo: start: unknown option '\''--bogus'\''" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo start -x web1 host 2>actual &&
	echo "xl-colo: start: unknown option '\''-x'\''" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: an option without its value exits 2' '
	test_expect_code 2 xl-colo start --insecure web1 host -i 2>actual &&
	echo "xl-colo: start: option '\''-i'\'' needs a value" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo start --insecure --verify=yes web1 host 2>actual &&
	echo "xl-colo: start: option '\''--verify'\'' takes no value" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

# option value range: each must be refused, naming the option
for case in \
	"-i|10ms|1..3600000" \
	"-i|0|1..3600000" \
	"-i| 5|1..3600000" \
	"--max-checkpoints|-1|0..18446744073709551615" \
	"--max-checkpoints|18446744073709551616|0..18446744073709551615" \
	"--heartbeat|0x10|1..60000" \
	"--timeout||1..3600000" \
	"--precopy-threshold|1e3|0..1099511627776" \
	"--dirty-bound|+5|0..1099511627776"
do
	IFS='|' read -r opt val range <<-EOF
	$case
	EOF
	test_expect_success "start: $opt '$val' exits 2 naming the option" '
		test_expect_code 2 xl-colo start --insecure "$opt" "$val" web1 host 2>actual &&
		echo "xl-colo: start: $opt: '\''$val'\'' is not a number in $range" >expect &&
		echo "$start_usage" >>expect &&
		test_cmp expect actual
	'
done

test_expect_success 'start: neither --key nor --insecure exits 2' '
	test_expect_code 2 xl-colo start web1 host 2>actual &&
	echo "xl-colo: start: --key FILE is required (or --insecure to run unauthenticated)" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: both --key and --insecure exit 2' '
	test_expect_code 2 xl-colo start --key k --insecure web1 host 2>actual &&
	echo "xl-colo: start: --key and --insecure are exclusive" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: --colo and --remus exit 2' '
	test_expect_code 2 xl-colo start --insecure --colo --remus web1 host 2>actual &&
	echo "xl-colo: start: --colo and --remus are exclusive" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: --timeout not above --heartbeat exits 2' '
	test_expect_code 2 xl-colo start --insecure --heartbeat 500 --timeout 500 web1 host 2>actual &&
	echo "xl-colo: start: --timeout (500 ms) must be longer than --heartbeat (500 ms)" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: wrong arity exits 2' '
	test_expect_code 2 xl-colo start --insecure web1 2>actual &&
	echo "xl-colo: start: DOMAIN and HOST[:PORT] are required" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo start --insecure web1 host extra 2>actual &&
	echo "xl-colo: start: unexpected argument '\''extra'\''" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'start: a bad HOST[:PORT] exits 2' '
	for dest in host:0 host:65536 host:http "[::1" "[::1]x" ":7878" "[]:7878"; do
		test_expect_code 2 xl-colo start --insecure web1 "$dest" 2>actual &&
		echo "xl-colo: start: '\''$dest'\'' is not HOST[:PORT] (IPv6: [ADDR]:PORT)" >expect &&
		echo "$start_usage" >>expect &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'receive: usage errors exit 2' '
	test_expect_code 2 xl-colo receive 2>actual &&
	echo "xl-colo: receive: --key FILE is required (or --insecure to run unauthenticated)" >expect &&
	echo "$receive_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo receive --insecure --listen 0.0.0.0:99999 2>actual &&
	echo "xl-colo: receive: --listen: '\''0.0.0.0:99999'\'' is not ADDR[:PORT] (IPv6: [ADDR]:PORT)" >expect &&
	echo "$receive_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo receive --insecure web1 2>actual &&
	echo "xl-colo: receive: unexpected argument '\''web1'\''" >expect &&
	echo "$receive_usage" >>expect &&
	test_cmp expect actual
'

test_expect_success 'checkpoint, failover, stop: wrong arity exits 2' '
	for cmd in checkpoint failover stop; do
		test_expect_code 2 xl-colo $cmd 2>actual &&
		echo "xl-colo: $cmd: DOMAIN is required" >expect &&
		echo "usage: xl-colo $cmd [-j] DOMAIN" >>expect &&
		test_cmp expect actual &&
		test_expect_code 2 xl-colo $cmd web1 web2 2>actual &&
		echo "xl-colo: $cmd: unexpected argument '\''web2'\''" >expect &&
		echo "usage: xl-colo $cmd [-j] DOMAIN" >>expect &&
		test_cmp expect actual || return 1
	done
'

# --- runtime failures: one line, exit 1 ---------------------------------

test_expect_success 'status with no protection running exits 1' '
	test_expect_code 1 xl-colo status web1 >out 2>actual &&
	test_must_be_empty out &&
	echo "xl-colo: status: no protection running for web1 (no $XLCOLO_RUNDIR/web1.ctl)" >expect &&
	test_cmp expect actual
'

test_expect_success '--rundir is where the control sockets are looked for' '
	test_expect_code 1 xl-colo --rundir "$T/elsewhere" status web1 2>actual &&
	echo "xl-colo: status: no protection running for web1 (no $T/elsewhere/web1.ctl)" >expect &&
	test_cmp expect actual
'

test_expect_success 'checkpoint, failover, stop with no protection running exit 1' '
	for cmd in checkpoint failover stop; do
		test_expect_code 1 xl-colo $cmd web1 >out 2>actual &&
		test_must_be_empty out &&
		echo "xl-colo: $cmd: no protection running for web1 (no $XLCOLO_RUNDIR/web1.ctl)" >expect &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'an invalid domain name exits 1' '
	test_expect_code 1 xl-colo status ../web1 2>actual &&
	echo "xl-colo: status: invalid domain name '\''../web1'\''" >expect &&
	test_cmp expect actual
'

test_expect_success 'status of every protection, with none running' '
	xl-colo status >actual 2>err &&
	test_must_be_empty err &&
	echo "no protection running (no $XLCOLO_RUNDIR/*.ctl)" >expect &&
	test_cmp expect actual &&
	xl-colo -j status >actual &&
	test_must_be_empty actual &&
	xl-colo status -j >actual &&
	test_must_be_empty actual
'

# --- the environment ----------------------------------------------------

test_expect_success 'the old LIBXLCOLO_XEN_STOP still works, with one warning naming the new' '
	LIBXLCOLO_XEN_STOP=pause test_expect_code 1 xl-colo --backend sim start --insecure web1 127.0.0.1:1 2>actual &&
	grep -x "xl-colo: warning: LIBXLCOLO_XEN_STOP is deprecated and will be removed; use XLCOLO_XEN_STOP" actual &&
	test "$(grep -c LIBXLCOLO_XEN_STOP actual)" = 1 &&
	XLCOLO_XEN_STOP=pause test_expect_code 1 xl-colo --backend sim start --insecure web1 127.0.0.1:1 2>actual &&
	! grep -q XEN_STOP actual
'

# --- ownership: --arbiter -------------------------------------------------

test_expect_success 'start, receive: no --arbiter (nor XLCOLO_ARBITER) exits 2 saying so' '
	for cmd in "start --insecure web1 host" "receive --insecure"; do
		env -u XLCOLO_ARBITER xl-colo $cmd >out 2>actual; rc=$? &&
		test $rc = 2 &&
		grep -x "xl-colo: ${cmd%% *}: --arbiter etcd://HOST:PORT\[,HOST:PORT...\] is required (or --arbiter none, where the timeout alone decides which copy runs)" actual ||
		return 1
	done
'

test_expect_success '--arbiter none: one warning line, then the protection runs as before' '
	test_expect_code 1 xl-colo --backend sim start --insecure --arbiter none web1 127.0.0.1:1 2>actual &&
	test "$(grep -c "warning: --arbiter none" actual)" = 1 &&
	grep -x "xl-colo: start: warning: --arbiter none: a partition or a stalled primary can leave two live copies of the guest" actual
'

while IFS='|' read -r opts why; do
	test_expect_success "start: $opts exits 2 naming the problem" '
		test_expect_code 2 xl-colo start --insecure $opts web1 host 2>actual &&
		head -n 1 actual >first &&
		echo "xl-colo: start: $why" >expect &&
		test_cmp expect first
	'
done <<'EOT'
--arbiter=http://e:2379|arbiter "http://e:2379": not etcd://HOST:PORT[,HOST:PORT...]
--arbiter=etcd://e|arbiter endpoint "e" is not HOST:PORT
--arbiter=etcd://e:0|arbiter endpoint "e:0": the port is not 1..65535
--arbiter=etcd://e:2379,,f:1|an empty arbiter endpoint in "e:2379,,f:1"
--arbiter=etcd://e;x:2379|arbiter endpoint "e;x:2379": a host may hold only letters, digits, '.', '-', '_' and an [IPv6] address
--arbiter=etcd://e:2379 --arbiter-prefix=x/|arbiter prefix "x/": must start with '/', at most 100 bytes, no quote or backslash
--arbiter=etcd://e:2379 --lease-ttl=1999|--lease-ttl: '1999' is not a number in 2000..3600000
--arbiter=etcd://e:2379 --arbiter-cert=c.pem|an arbiter client certificate needs --arbiter-cacert (TLS)
--arbiter=etcd://e:2379 --arbiter-host=a/b|this host's name "a/b" cannot name an owner: 1..63 of [A-Za-z0-9_.-]
--arbiter=none --arbiter-prefix=/x/|--arbiter none takes no other --arbiter option
EOT

test_expect_success 'XLCOLO_ARBITER stands for --arbiter, and --arbiter wins over it' '
	XLCOLO_ARBITER=etcd://e test_expect_code 2 xl-colo start --insecure web1 host 2>actual &&
	grep -x "xl-colo: start: arbiter endpoint \"e\" is not HOST:PORT" actual &&
	XLCOLO_ARBITER=etcd://e test_expect_code 1 xl-colo --backend sim start --insecure --arbiter none web1 127.0.0.1:1 2>actual &&
	grep -q "warning: --arbiter none" actual
'

test_expect_success 'start, receive: a bad --disk exits 2 naming it' '
	test_expect_code 2 xl-colo start --insecure --disk xvda= web1 host 2>actual &&
	echo "xl-colo: start: --disk xvda=: not NAME[=QMP_SOCKET][,guest=URI]" >expect &&
	echo "$start_usage" >>expect &&
	test_cmp expect actual &&
	test_expect_code 2 xl-colo start --insecure --disk "xvda=/q.sock,nbd=x" web1 host 2>actual &&
	head -n 1 actual >first &&
	echo "xl-colo: start: --disk xvda=/q.sock,nbd=x: after the name or the socket, only guest=URI" >expect &&
	test_cmp expect first &&
	disks= && for n in $(seq 1 17); do disks="$disks --disk d$n=/q$n.sock"; done &&
	test_expect_code 2 xl-colo receive --insecure $disks 2>actual &&
	grep -q "^xl-colo: receive: --disk: at most 16 disks$" actual
'

test_expect_success 'receive: a disk whose QEMU is not there fails before listening' '
	test_expect_code 1 xl-colo --backend sim --rundir "$T" receive --insecure \
		--listen 127.0.0.1:1 --disk "xvda=$T/nonexistent.sock" 2>actual &&
	grep -q "^xl-colo: error: disk xvda: qmp $T/nonexistent.sock: connect: " actual
'

test_done
