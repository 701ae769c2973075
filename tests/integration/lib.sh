# lib.sh - shared by the integration tests: they run the real binaries
# (xl-colo, colo-simguest) from the build tree, each "host" with its own run
# directory, over loopback TCP. Every wait is bounded; every process started
# is killed by PID at exit; the temp dir is removed.
set -euo pipefail

T=$(mktemp -d /tmp/xen-colo-test.XXXXXX)
_pids=()
_fail=0
cleanup() {
    local f
    for p in "${_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for f in "$T"/*/sim/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

say() { echo "# $*"; }
fail() { echo "FAIL: $*" >&2; _fail=1; }
die() { echo "FAIL: $*" >&2; exit 1; }
track() { _pids+=("$1"); }

new_host() { mkdir -p -m 700 "$T/$1"; echo "$T/$1"; }
new_key() { head -c 32 /dev/urandom > "$T/$1"; chmod 600 "$T/$1"; echo "$T/$1"; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_guest HOSTDIR NAME [colo-simguest options]: prints the guest's pid
start_guest() {
    local dir=$1 name=$2; shift 2
    colo-simguest run --daemon --rundir "$dir" --name "$name" "$@"
}
guest_pid() { cat "$1/sim/$2.pid"; }

# wait_json FILE PYCOND SECONDS: until a JSON line of FILE satisfies PYCOND
wait_json() {
    local end=$((SECONDS + $3))
    until jq_has "$1" "$2"; do
        [ $SECONDS -lt $end ] || { echo "timed out after $3 s waiting for: $2 in $1" >&2; return 1; }
        sleep 0.05
    done
}
jq_has() {
    [ -f "$1" ] || return 1
    python3 - "$1" "$2" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if eval(sys.argv[2], {}, e): sys.exit(0)
sys.exit(1)
PY
}

# wait_pid PID SECONDS: wait for our child to exit (bounded); its status in $?
wait_pid() {
    local pid=$1 end=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $end ]; then
            echo "process $pid still running after $2 s" >&2
            kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            return 124
        fi
        sleep 0.05
    done
    wait "$pid"
}

finish() {
    if [ $_fail -ne 0 ]; then exit 1; fi
    exit 0
}

# alive PID: running, and not a zombie left unreaped by a foreign init.
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
