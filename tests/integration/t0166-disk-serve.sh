#!/bin/bash
# xl-colo disk-serve: the replication sidecars launched and supervised by
# xl-colo itself, one per host, the replication link between them over TCP
# under the protection's key (the memory link's handshake, every record
# under its HMAC); the primary's disk, full of data, synced whole to the
# secondary's empty copy before the replication starts. A sim guest on the primary's export, protected with
# --disk xvda (the sockets found in the run directory); a disk-serve with
# the wrong key is refused and the replication goes on; the primary host is
# SIGKILLed after 20 checkpoints: the secondary fails its disk over and the
# guest's memory agrees with its disk; a SIGKILLed disk-serve leaves no
# QEMU behind, and a disk-serve whose QEMU dies says so and exits 1.
. "$(dirname "$0")/lib.sh"
cd "$T"   # the files the tests write

A=$(new_host a); B=$(new_host b); C=$(new_host c); key=$(new_key key); bad=$(new_key bad)
port=$(free_port); dport=$(free_port)
truncate -s 8M "$T/s.raw" "$T/q.raw"
# The primary's disk holds data from before (the secondary's copy is all
# zeros): the initial sync makes them one.
head -c 8M /dev/urandom > "$T/p.raw"

# serve_up HOST ROLE-ARGS...: disk-serve on HOST, until it says ready; its
# pid in $ds, its line in HOST/ds.out.
serve_up() {
    local h=$1; shift
    xl-colo -vv --rundir "$h" disk-serve "$@" > "$h/ds.out" 2> "$h/ds.err" &
    ds=$!; track $ds
    local end=$((SECONDS + 30))
    until grep -qs ' sidecar ready: ' "$h/ds.out"; do
        alive "$ds" || die "disk-serve on $h exited: $(cat "$h/ds.err")"
        [ $SECONDS -lt $end ] || die "disk-serve on $h not ready in 30 s"
        sleep 0.05
    done
}
guest_uri() { sed -n 's/.*, guest \(.*\)$/\1/p' "$1/ds.out"; }

test_expect_success 'disk-serve misuses: one usage line each' '
	test_expect_code 2 xl-colo disk-serve --key "$key" xvda "$T/p.raw" 2>err &&
	head -n 1 err >first && echo "xl-colo: disk-serve: one of --primary and --secondary is required" >expect &&
	test_cmp expect first &&
	test_expect_code 2 xl-colo disk-serve --primary --key "$key" xvda "$T/p.raw" 2>err &&
	head -n 1 err >first &&
	echo "xl-colo: disk-serve: --primary needs --peer HOST[:PORT], the secondary'\''s disk-serve" >expect &&
	test_cmp expect first &&
	test_expect_code 2 xl-colo disk-serve --secondary xvda "$T/s.raw" 2>err &&
	grep -q "^xl-colo: disk-serve: " err &&
	test_expect_code 2 xl-colo disk-serve --primary --secondary --insecure xvda "$T/s.raw" 2>err &&
	head -n 1 err >first && echo "xl-colo: disk-serve: --primary and --secondary are exclusive" >expect &&
	test_cmp expect first
'

serve_up "$B" --secondary --listen "127.0.0.1:$dport" --key "$key" xvda "$T/s.raw"; sds=$ds
serve_up "$A" --primary --peer "127.0.0.1:$dport" --key "$key" xvda "$T/p.raw"; pds=$ds
test_expect_success 'the initial sync: the secondary'\''s copy is the primary'\''s disk, said in one line' '
	cmp "$T/p.raw" "$T/s.raw" &&
	grep -Eq "^xl-colo: info: disk xvda: initial sync done: 8.0 MiB in [0-9]+[.][0-9] s$" "$A/ds.err" &&
	test "$(grep -c "initial sync done" "$A/ds.err")" = 1
'
# The sim guest checks that what it never wrote reads as zeros: zero the
# disk through the primary's export, before the protection, as a guest
# would. The replication carries that too.
qemu-io -f raw -c "write -z 0 8M" "$(guest_uri "$A")" >/dev/null
test_expect_success 'a write before the protection reaches the secondary'\''s copy' '
	cmp "$T/p.raw" "$T/s.raw" && cmp -n 8388608 "$T/p.raw" /dev/zero
'
test_expect_success 'both sidecars ready, their files private in the run directory' '
	grep -qx "disk xvda: secondary sidecar ready: qmp $B/disk/xvda/qmp.sock, guest nbd+unix:///guest?socket=$B/disk/xvda/nbd.sock" "$B/ds.out" &&
	grep -qx "disk xvda: primary sidecar ready: qmp $A/disk/xvda/qmp.sock, guest nbd+unix:///guest?socket=$A/disk/xvda/nbd.sock" "$A/ds.out" &&
	test "$(stat -c %a "$A/disk/xvda")" = 700 && test "$(stat -c %a "$B/disk/xvda")" = 700
'

gpid=$(start_guest "$A" g --mem 64M --workload custom --rate 200000 --hot-set 8192 --seed 7 \
    --disk "$(guest_uri "$A")" --disk-rate 400)
track "$gpid"
start_secondary "$B" "$port" --key "$key" --timeout 3000 --disk "xvda,guest=$(guest_uri "$B")"
start_primary "$A" g "$port" --key "$key" --timeout 3000 -i 20 --disk xvda
wait_protected "$A" || die "not protected: $(cat "$A/pri.err" "$B/sec.err")"

test_expect_success 'a disk-serve with the wrong key is refused; the replication goes on' '
	test_expect_code 1 xl-colo --rundir "$C" disk-serve --primary --peer "127.0.0.1:$dport" \
		--key "$bad" xvda "$T/q.raw" 2>err &&
	grep -q "disk xvda: .*blockdev-add failed" err &&
	grep -q "disk xvda: replication link ended: Permission denied" "$B/ds.err" &&
	test ! -e "$C/disk/xvda" &&
	e=$(python3 -c "import json,sys; print(max([json.loads(l)[\"epoch\"] for l in open(sys.argv[1]) if \"\\\"checkpoint\\\"\" in l] or [0]))" "$A/pri.json") &&
	wait_json "$A/pri.json" "event == '\''checkpoint'\'' and epoch >= $e + 5" 30 "$pri" &&
	xl-colo --rundir "$A" status g | grep -qx "  disk xvda: replicating"
'

wait_json "$B/sec.json" "event == 'checkpoint' and epoch >= 20" 60 "$sec" ||
    die "no checkpoint 20: $(cat "$A/pri.err" "$B/sec.err")"
pq=$(cat "$A/disk/xvda/qemu.pid")
kill -9 "$pri" "$gpid" "$pds" || true
wait "$pri" "$pds" 2>/dev/null || true
sec_rc=0; wait_pid "$sec" 60 || sec_rc=$?
test_expect_success 'the primary host killed: the secondary fails over, its disk agrees with its memory' '
	test "$sec_rc" = 0 &&
	jq_has "$B/sec.json" "event == '\''state'\'' and state == '\''failed-over'\''" &&
	grep -q "disk xvda: failed over" "$B/sec.err" &&
	colo-simguest disk-verify --rundir "$B" --name g
'
test_expect_success 'a SIGKILLed disk-serve took its QEMU with it' '
	end=$((SECONDS + 10)) &&
	while alive "$pq"; do [ $SECONDS -lt $end ] || break; sleep 0.05; done &&
	! alive "$pq"
'
colo-simguest destroy --rundir "$B" --name g >/dev/null

# The sidecar's QEMU dies under a disk-serve: one line, exit 1.
serve_up "$C" --secondary --listen "127.0.0.1:$(free_port)" --insecure xvda "$T/q.raw"; cds=$ds
cq=$(cat "$C/disk/xvda/qemu.pid")
kill -9 "$cq"
crc=0; wait_pid "$cds" 30 || crc=$?
test_expect_success 'its QEMU killed, disk-serve says so in one line and exits 1' '
	test "$crc" = 1 &&
	grep -q "^xl-colo: error: disk xvda: sidecar (pid $cq) died: killed by signal 9" "$C/ds.err" &&
	test "$(grep -c error "$C/ds.err")" = 1 &&
	test ! -e "$C/disk/xvda"
'
# A copy of another size: the primary's sync fails in one line, exit 1.
D=$(new_host d); E=$(new_host e); eport=$(free_port)
truncate -s 16M "$T/big.raw"; truncate -s 8M "$T/small.raw"
serve_up "$D" --secondary --listen "127.0.0.1:$eport" --key "$key" xvda "$T/big.raw"; bds=$ds
test_expect_success 'a secondary copy of another size: the initial sync fails in one line' '
	test_expect_code 1 xl-colo --rundir "$E" disk-serve --primary --peer "127.0.0.1:$eport" \
		--key "$key" xvda "$T/small.raw" >out 2>err &&
	test "$(grep -c "error" err)" = 1 &&
	grep -q "^xl-colo: error: disk xvda: qmp $E/disk/xvda/qmp.sock: the initial sync failed: Source and target image have different sizes" err &&
	test ! -s out && test ! -e "$E/disk/xvda"
'
kill -TERM "$bds"; wait "$bds" || true
kill -TERM "$sds"; rc=0; wait "$sds" || rc=$?
test_expect_success 'the secondary disk-serve stops cleanly on SIGTERM, its files gone' '
	test "$rc" = 0 && test ! -e "$B/disk/xvda"
'
test_done
