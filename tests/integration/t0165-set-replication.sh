#!/bin/bash
# xl-colo set-replication and checkpoint on a protection with a disk, on
# the sim backend and real QEMU sidecars (disk-pair): checkpoint commits
# memory and disk together; each misuse of set-replication is one usage
# line (exit 2); QEMU's refusals come back in QEMU's words and leave the
# protection unharmed; a disk stopped on the primary fails the next
# checkpoint with its cause, the secondary is told to stop (no second
# live copy), and the primary's guest goes on alone on a disk that agrees
# with its memory.
. "$(dirname "$0")/lib.sh"

# protect SUFFIX: a fresh disk pair, a guest on it and its protection, a
# minute between checkpoints: every checkpoint here is asked for.
protect() {
    A=$(new_host "a$1"); B=$(new_host "b$1"); D=$(new_host "d$1"); port=$(free_port)
    disk_pair_up "$D"
    gpid=$(start_guest "$A" g --mem 32M --disk "$(get primary-guest)" --disk-rate 400)
    track "$gpid"
    start_secondary "$B" "$port" --insecure --timeout 3000 \
        --disk "xvda=$(get secondary-qmp),guest=$(get secondary-guest)"
    start_primary "$A" g "$port" --insecure --timeout 3000 -i 60000 --disk "xvda=$(get primary-qmp)"
    wait_protected "$A" || die "not protected: $(cat "$A/pri.err" "$B/sec.err")"
}
unprotect() {
    colo-simguest destroy --rundir "$A" --name g >/dev/null 2>&1 || true
    kill -TERM "$dp"; wait "$dp" || fail "disk-pair's stop failed: $(cat "$D/pair.err")"
}

protect 1
cd "$T"   # the files the tests write
xa() { xl-colo --rundir "$A" "$@"; }
xb() { xl-colo --rundir "$B" "$@"; }

test_expect_success 'checkpoint commits memory and disk, on both sides' '
	xa checkpoint g >out &&
	n=$(sed -n "s/^checkpoint \([0-9]*\) committed$/\1/p" out) && test -n "$n" &&
	wait_json "$B/sec.json" "event == '\''checkpoint'\'' and epoch == $n" 10 "$sec"
'

usage_line() { # the first line of a usage error, and its exit status 2
	local want=$1; shift
	test_expect_code 2 xa set-replication "$@" 2>err &&
	head -n 1 err >first && echo "$want" >expect && test_cmp expect first
}
test_expect_success 'set-replication misuses: one usage line each' '
	usage_line "xl-colo: set-replication: one of --enable and --disable is required" --primary g &&
	usage_line "xl-colo: set-replication: one of --primary and --secondary is required" --disable g &&
	usage_line "xl-colo: set-replication: --enable and --disable are exclusive" \
		--enable --disable --primary g &&
	usage_line "xl-colo: set-replication: --primary and --secondary are exclusive" \
		--disable --primary --secondary g &&
	usage_line "xl-colo: set-replication: --failover goes with --disable only (QEMU: Parameter '\''failover'\'' is only for stopping replication)" \
		--enable --primary --failover g &&
	usage_line "xl-colo: set-replication: DOMAIN is required" --disable --primary
'

test_expect_success 'an unknown disk, a bad disk name, no protection' '
	test_expect_code 1 xa set-replication --disk xvdz --disable --primary g 2>err &&
	echo "xl-colo: set-replication: no disk xvdz in this protection" >expect && test_cmp expect err &&
	test_expect_code 1 xa set-replication --disk "x/y" --disable --primary g 2>err &&
	echo "xl-colo: set-replication: invalid disk name '\''x/y'\'' (1..31 of A-Z a-z 0-9 _ . -)" >expect &&
	test_cmp expect err &&
	test_expect_code 1 xa set-replication --disable --primary nosuch 2>err &&
	grep -q "^xl-colo: set-replication: no protection running for nosuch" err
'

test_expect_success 'QEMU refuses a second start, in its words; the protection goes on' '
	test_expect_code 1 xa set-replication --enable --primary g 2>err &&
	test $(wc -l <err) = 1 &&
	grep -q "^xl-colo: set-replication: disk xvda: qmp .*: xen-set-replication failed: GenericError: Block replication is running or done$" err &&
	test_expect_code 1 xb set-replication --disk xvda --enable --secondary g 2>err &&
	grep -q "^xl-colo: set-replication: disk xvda: .*Block replication is running or done$" err &&
	xa status g | grep -qx "  disk xvda: replicating" &&
	xa checkpoint g >out && grep -q "^checkpoint [0-9]* committed$" out
'

test_expect_success 'a disk stopped on the primary: the checkpoint fails with its cause' '
	xa set-replication --disable --primary g >out &&
	echo "every disk of g: replication disabled (primary)" >expect && test_cmp expect out &&
	xa status g | grep -qx "  disk xvda: error: replication stopped by set-replication" &&
	test_expect_code 1 xa checkpoint g 2>err &&
	echo "xl-colo: checkpoint: the checkpoint failed: disk xvda: its replication was stopped (set-replication --disable): the checkpoint cannot include it" >expect &&
	test_cmp expect err &&
	wait_json "$A/pri.json" "event == '\''state'\'' and state == '\''unprotected'\''" 30 "$pri" &&
	grep -q "disk xvda: failed over (the primary'\''s disk goes on alone)" "$A/pri.err"
'
sec_rc=0; wait_pid "$sec" 30 || sec_rc=$?
test_expect_success 'the secondary was told to stop: it ended cleanly, without taking over' '
	test "$sec_rc" = 0 &&
	grep -q "the disks of g cannot be checkpointed: the secondary is told to stop" "$A/pri.err" &&
	! jq_has "$B/sec.json" "event == '\''state'\'' and state == '\''failed-over'\''"
'
test_expect_success 'the primary guest goes on writing, its disk agreeing with its memory' '
	out1=$(colo-simguest disk-verify --rundir "$A" --name g) &&
	end=$((SECONDS + 20)) &&
	until out2=$(colo-simguest disk-verify --rundir "$A" --name g) &&
	      [ "$(echo "$out2" | sed -n "s/.*last write \([0-9]*\).*/\1/p")" -gt \
	        "$(echo "$out1" | sed -n "s/.*last write \([0-9]*\).*/\1/p")" ]; do
		[ $SECONDS -lt $end ] || { echo "the guest does not write on: $out2"; false; } || break
		sleep 0.05
	done &&
	[ $SECONDS -lt $end ]
'

wait_pid "$pri" 10 || true
unprotect

# QEMU half-stops a secondary's replication it refuses to stop cleanly:
# its status reads an error, the secondary refuses the next checkpoint,
# and the primary's checkpoint client hears why.
protect 2
test_expect_success 'the secondary stopped without failover: QEMU refuses, the next checkpoint fails with the cause' '
	test_expect_code 1 xb set-replication --disable --secondary g 2>err &&
	grep -q "^xl-colo: set-replication: disk xvda: qmp .*: xen-set-replication failed: GenericError: Backup job was cancelled unexpectedly$" err &&
	xb status g | grep -qx "  disk xvda: error: I/O error occurred" &&
	test_expect_code 1 xa checkpoint g 2>err &&
	echo "xl-colo: checkpoint: the checkpoint failed: peer reported: secondary refused the stream: Input/output error" >expect &&
	test_cmp expect err
'
sec_rc=0; wait_pid "$sec" 30 || sec_rc=$?
test_expect_success 'and the secondary, refusing, did not take over' '
	test "$sec_rc" != 0 && test "$sec_rc" != 124 &&
	! jq_has "$B/sec.json" "event == '\''state'\'' and state == '\''failed-over'\''"
'
wait_pid "$pri" 10 || true
unprotect

# The secondary's replication stopped for a failover by hand, and then the
# primary host dies: the disk took the primary's writes past the last
# checkpoint, so the secondary refuses to start the guest on it.
protect 3
test_expect_success 'set-replication --disable --secondary --failover' '
	xb set-replication --disable --secondary --failover g >out &&
	echo "every disk of g: replication disabled (secondary, failover)" >expect && test_cmp expect out
'
kill -9 "$pri" "$gpid" || true
wait "$pri" 2>/dev/null || true
sec_rc=0; wait_pid "$sec" 30 || sec_rc=$?
test_expect_success 'then the primary host dies: the secondary refuses to take over on that disk' '
	test "$sec_rc" != 0 && test "$sec_rc" != 124 &&
	grep -q "disk xvda: its replication was stopped (set-replication --disable): it holds no checkpoint" "$B/sec.err" &&
	grep -q "failover: the disks of g did not fail over: the secondary guest is not started" "$B/sec.err" &&
	! jq_has "$B/sec.json" "event == '\''state'\'' and state == '\''failed-over'\''"
'
unprotect
test_done
