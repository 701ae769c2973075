#!/bin/bash
# Bad input reaching the secondary once the session runs: each case gets
# one clear error line and a non-zero exit; the secondary stays within a
# memory bound, never applies anything torn, and its guest is left exactly
# at the last good checkpoint (or never built, when the damage comes before
# the first). Peers refused at the handshake: t0125.
. "$(dirname "$0")/lib.sh"

key=$(new_key key); other=$(new_key other)
bound_kb=$((200 * 1024))
[ -n "${ASAN_OPTIONS:-}" ] && bound_kb=$((1024 * 1024))
n=0

# peak_rss ARGS...: xl-colo ARGS..., its peak RSS (KiB) written to $T/rss$n.
# xl-colo dies with the wrapper (PR_SET_PDEATHSIG): a wrapper that a
# timeout kills leaves nothing behind.
peak_rss() {
    exec python3 -c 'import ctypes,resource,signal,subprocess,sys
die = lambda: ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
r = subprocess.call(sys.argv[2:], preexec_fn=die)
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(r)' "$T/rss$n" xl-colo "$@"
}

# run_case NAME EXPECT MITM_MODE PRIMARY_AUTH SECONDARY_AUTH
#   MITM_MODE "-" for a direct connection; AUTH is "--key FILE" or "--insecure".
#   The two halves of start_pair, as each side has its own AUTH and the
#   relay sits between them; no wait for protection, which is refused.
run_case() {
    local name=$1 expect=$2 mode=$3 pauth=$4 sauth=$5
    n=$((n + 1))
    local A B port mport
    A=$(new_host "a$n"); B=$(new_host "b$n"); port=$(free_port)
    start_guest "$A" g --mem 32M --vcpus 1 --workload kernel-build --seed "$n" >/dev/null
    start_secondary --run peak_rss "$B" "$port" $sauth --verify --timeout 10000
    local target=$port
    if [ "$mode" != "-" ]; then
        mport=$(free_port)
        local auth_flag=""
        case "$pauth" in --key*) auth_flag=--auth ;; esac
        python3 "$(dirname "$0")/mitm.py" "$mport" "$port" $mode $auth_flag &
        track $!
        target=$mport
    fi
    start_primary "$A" g "$target" -i 30 --timeout 10000 $pauth --verify
    local rc=0
    wait_pid $sec 60 || rc=$?
    kill -9 $pri 2>/dev/null || true
    wait $pri 2>/dev/null || true
    colo-simguest destroy --rundir "$A" --name g >/dev/null 2>&1 || true

    [ $rc -ne 0 ] && [ $rc -ne 124 ] || { fail "$name: secondary exit status $rc"; return; }
    grep -q -F -- "$expect" "$B/sec.err" || { fail "$name: no line '$expect' in: $(cat "$B/sec.err")"; return; }
    local errors
    errors=$(grep -c "error" "$B/sec.err" || true)
    [ "$errors" -eq 1 ] || fail "$name: $errors error lines: $(cat "$B/sec.err")"
    [ "$(cat "$T/rss$n")" -le $bound_kb ] || fail "$name: secondary peak RSS $(cat "$T/rss$n") KiB > $bound_kb KiB"
    [ ! -e "$B/sim/g.sock" ] || fail "$name: secondary guest left behind"
    # The guest as it stood when the stream was refused: the last good checkpoint.
    python3 - "$B/sec.json" "$name" <<'PY' || fail "$name: secondary guest touched"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
applied = {e["epoch"]: e for e in ev if e["event"] == "checkpoint"}
end = [e for e in ev if e["event"] == "state" and e["state"] == "stopped" and "digest" in e]
if not applied:
    assert not end, "a guest was built"
    print("# %s: refused before any guest memory was written" % sys.argv[2])
    sys.exit(0)
last = applied[max(applied)]
assert end, "no final digest"
assert end[-1]["epoch"] == last["epoch"]
assert end[-1]["digest"] == last["peer_digest"] == last["digest"], "guest differs from checkpoint %d" % last["epoch"]
print("# %s: guest intact at checkpoint %d" % (sys.argv[2], last["epoch"]))
PY
    say "$name: $(grep error "$B/sec.err")"
}

# (A peer refused at the handshake, a wrong key, no key, another version
# or a HELLO cut short, leaves receive listening: t0125.)
run_case "flipped bit in a page record" "record PAGES failed" flip "--key $key" "--key $key"
run_case "length 2^40" "record PAGES length 1099511627776 exceeds bound" len40 "--key $key" "--key $key"
run_case "unknown record type" "unknown record type 0x7777" type "--key $key" "--key $key"
run_case "record out of protocol order" "record VMSTATE_LOADED out of protocol order" order "--insecure" "--insecure"
finish
