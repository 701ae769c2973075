#!/bin/bash
# The secondary's door: no one bad connection keeps the genuine primary
# out. Against a keyed `receive`, one after another: 64 KiB of random
# bytes, a peer with the wrong key, one without a key, a HELLO offering
# another stream version, a HELLO trickled one byte every 0.5 s, and idle
# connections held open while the genuine primary comes. Each is refused in its own lines while
# receive goes on listening, the trickle within the handshake's 10 s
# deadline; then a genuine primary is protected at once. A bad key file is
# said before anything listens or connects.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
cd "$T"   # the files the tests write

key=$(new_key key); other=$(new_key other)
A=$(new_host a); B=$(new_host b); port=$(free_port)
start_guest "$A" g --mem 32M >/dev/null
start_secondary "$B" "$port" --key "$key" --timeout 10000
end=$((SECONDS + 20))
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$port" 2>/dev/null; do
    alive "$sec" || die "receive exited: $(cat "$B/sec.err")"
    [ $SECONDS -lt $end ] || die "receive does not listen"
    sleep 0.05
done
# (that probe was an idle peer too: refused when it hung up)

test_expect_success '64 KiB of random bytes: refused, the door stays open' '
	head -c 65536 /dev/urandom | python3 -c "
import socket, sys
s = socket.create_connection((\"127.0.0.1\", int(sys.argv[1])))
try:
    s.sendall(sys.stdin.buffer.read()); s.recv(1024)
except OSError:
    pass" "$port" &&
	alive "$sec"
'
test_expect_success 'a primary with the wrong key, one with no key: refused' '
	test_expect_code 1 xl-colo --rundir "$A" start --key "$other" --timeout 3000 g "127.0.0.1:$port" 2>err1 &&
	grep -q "failed authentication: wrong key" err1 &&
	test_expect_code 1 xl-colo --rundir "$A" start --insecure --timeout 3000 g "127.0.0.1:$port" 2>err2 &&
	alive "$sec" &&
	grep -q "failed authentication: wrong key" "$B/sec.err" &&
	grep -q "peer offers no authentication" "$B/sec.err"
'
# A relay that makes the genuine primary offer stream version 7 only.
mport=$(free_port)
python3 "$here/mitm.py" "$mport" "$port" version --auth &
mitm=$!; track $mitm
test_expect_success 'a HELLO offering another stream version: refused' '
	test_expect_code 1 xl-colo --rundir "$A" start --key "$key" --timeout 3000 g "127.0.0.1:$mport" 2>err3 &&
	alive "$sec" &&
	grep -q "peer speaks stream versions 7..7, we speak 2..2" "$B/sec.err"
'
kill "$mitm" 2>/dev/null || true; wait "$mitm" 2>/dev/null || true

test_expect_success 'a HELLO trickled a byte every 0.5 s is cut at the 10 s deadline' '
	t0=$SECONDS &&
	python3 -c "
import socket, sys, time
s = socket.create_connection((\"127.0.0.1\", int(sys.argv[1])))
s.settimeout(30)
try:
    for b in b\"XLCOLO\\r\\n\" + bytes(72):
        s.send(bytes([b])); time.sleep(0.5)
except OSError:
    pass
" "$port" &&
	t=$((SECONDS - t0)) && echo "cut after $t s" &&
	test "$t" -le 13 && alive "$sec"
'
# Idle peers hold their connections while the genuine primary comes.
python3 -c "
import socket, sys, time
idle = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(3)]
print('connected', flush=True)
time.sleep(30)" "$port" > idlers.out &
idlers=$!; track $idlers
end=$((SECONDS + 10))
until grep -q connected idlers.out; do
    alive "$idlers" || die "the idle peers could not connect"
    [ $SECONDS -lt $end ] || die "the idle peers did not connect in 10 s"
    sleep 0.05
done
t0=$SECONDS
start_primary "$A" g "$port" --key "$key" --timeout 10000 -i 50 --max-checkpoints 5
prot=0; wait_protected "$A" 20 || prot=$?; t=$((SECONDS - t0))
test_expect_success 'idle peers at the door do not delay a genuine primary' '
	test "$prot" = 0 && echo "protected after $t s" && test "$t" -lt 8
'
wait_pid "$pri" 60 || true
sec_rc=0; wait_pid "$sec" 60 || sec_rc=$?
kill "$idlers" 2>/dev/null || true; wait "$idlers" 2>/dev/null || true
test_expect_success 'the protection ran and ended cleanly; each refusal said so' '
	test "$sec_rc" = 0 &&
	test "$(grep -c "refused (.*); still waiting for the primary" "$B/sec.err")" -ge 4
'
colo-simguest destroy --rundir "$A" --name g >/dev/null 2>&1 || true

test_expect_success 'a bad key file is said before anything listens' '
	chmod 644 "$other" &&
	test_expect_code 1 timeout 20 xl-colo --rundir "$B" receive --key "$other" --listen "127.0.0.1:$port" 2>err &&
	grep -q "$other" err &&
	: > empty && chmod 600 empty &&
	test_expect_code 1 timeout 20 xl-colo --rundir "$B" receive --key empty --listen "127.0.0.1:$port" 2>err &&
	test_expect_code 1 timeout 20 xl-colo --rundir "$B" receive --key nosuch --listen "127.0.0.1:$port" 2>err &&
	grep -q nosuch err
'
test_done
