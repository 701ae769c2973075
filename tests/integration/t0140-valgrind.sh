#!/bin/bash
# Both sides under valgrind (memcheck) for a short protection and a clean
# stop, Remus, then COLO with the NIC comparison and a running secondary:
# no invalid access, no uninitialised use, no definite leak.
# Skipped in the sanitizer build, which valgrind cannot run.
. "$(dirname "$0")/lib.sh"
[ -z "${ASAN_OPTIONS:-}" ] || { say "sanitizer build: skipped"; exit 77; }
command -v valgrind >/dev/null || { say "no valgrind: skipped"; exit 77; }

A=$(new_host a); B=$(new_host b); key=$(new_key key); port=$(free_port)
start_guest "$A" v --mem 32M --vcpus 1 --workload web --seed 4 >/dev/null
vg=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite)
# libtool wrappers: run valgrind on the real binary.
run_vg() { "$abs_top_builddir/libtool" --mode=execute "${vg[@]}" "$abs_top_builddir/xl-plugin/xl-colo" "$@"; }

# Its end, after 5 checkpoints, is what the test waits for.
start_pair --run run_vg --no-wait "$A" "$B" v "$port" --key "$key" --verify --timeout 30000 -- -i 50 --max-checkpoints 5
wait_pid $pri 240 || { rc=$?; cat "$A/pri.err" >&2; die "primary under valgrind exited $rc"; }
wait_pid $sec 60 || { rc=$?; cat "$B/sec.err" >&2; die "secondary under valgrind exited $rc"; }
jq_has "$B/sec.json" "event == 'checkpoint' and epoch == 5 and digest == peer_digest" || fail "checkpoint 5 not applied intact"
if grep -v -e "backend sim" -e "warning: --arbiter none" -e "unhandled amd64-linux syscall" -e "You may be able" -e "README_MISSING" \
        -e "Nevertheless we consider" -e "valgrind.org/support" "$A/pri.err" "$B/sec.err" | grep -q .; then
    fail "valgrind reported: $(cat "$A/pri.err" "$B/sec.err")"
fi
colo-simguest destroy --rundir "$A" --name v >/dev/null

# COLO with the NIC comparison in-process (its thread, its sockets) and a
# running secondary (its cache): the same, under valgrind.
A=$(new_host a2); B=$(new_host b2); port=$(free_port)
mkdir -m 700 "$A/nic"
start_guest "$A" v --mem 32M --vcpus 1 --workload web --seed 5 --jitter 10000 >/dev/null
start_pair --run run_vg --no-wait "$A" "$B" v "$port" --key "$key" --verify --timeout 30000 -- \
	--colo -i 50 --max-checkpoints 5 \
	--proxy "primary-in=$A/nic/pin.sock,secondary-in=$A/nic/sin.sock,outdev=$A/nic/out.sock"
wait_pid $pri 240 || { rc=$?; cat "$A/pri.err" >&2; die "COLO primary under valgrind exited $rc"; }
wait_pid $sec 60 || { rc=$?; cat "$B/sec.err" >&2; die "COLO secondary under valgrind exited $rc"; }
jq_has "$B/sec.json" "event == 'checkpoint' and epoch == 5 and digest == peer_digest" ||
	fail "COLO: checkpoint 5 not applied intact"
if grep -v -e "backend sim" -e "warning: --arbiter none" -e "unhandled amd64-linux syscall" -e "You may be able" -e "README_MISSING" \
        -e "Nevertheless we consider" -e "valgrind.org/support" "$A/pri.err" "$B/sec.err" | grep -q .; then
    fail "COLO: valgrind reported: $(cat "$A/pri.err" "$B/sec.err")"
fi
[ -z "$(ls "$A/nic")" ] || fail "COLO: sockets left: $(ls "$A/nic")"
colo-simguest destroy --rundir "$A" --name v >/dev/null
finish
