# lib.sh - the one library of the shell tests, sourced first by each of
# tests/integration/t*.sh (and tests/unit/test_unit_run.sh). They run the
# real binaries (xl-colo, colo-simguest) from the build tree, each "host"
# with its own run directory, over loopback TCP. Every wait is bounded;
# every process started is killed by PID at exit; the temp dir $T is removed.
#
# Two ways to write a test, both failing the script when a check fails:
#   - a script of commands, `fail MSG` noting a failure and `finish` last
#     (`die MSG` when nothing after it can run);
#   - git's t/ manner (t0010): `test_expect_success TITLE BODY` for each
#     test, `test_done` last, printing TAP ("ok N - TITLE"); -v shows each
#     passing test's output.
set -euo pipefail
# Ownership: start and receive need an arbiter or "none". The tests run
# without one (a warning line) unless they give theirs (t0180).
export XLCOLO_ARBITER=none

# /tmp, not $TMPDIR: the sockets under $T must fit a sun_path.
T=$(mktemp -d "/tmp/xen-colo-$(basename "$0" .sh).XXXXXX")
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

finish() {
    if [ $_fail -ne 0 ]; then exit 1; fi
    exit 0
}

# --- git's t/ manner ---------------------------------------------------

verbose=
test "${1:-}" = -v && verbose=t
test_count=0
test_failures=0

test_cmp() {
    diff -u "$@"
}

# test_expect_code N cmd args...: cmd must exit with status N.
test_expect_code() {
    local want=$1 got
    shift
    "$@"
    got=$?
    if test "$got" = "$want"; then
        return 0
    fi
    echo "test_expect_code: command exited $got, wanted $want: $*" >&2
    return 1
}

# test_must_be_empty FILE
test_must_be_empty() {
    if test -s "$1"; then
        echo "'$1' is not empty, it contains:" >&2
        cat "$1" >&2
        return 1
    fi
}

# test_expect_success TITLE BODY: BODY, a && chain, runs in a subshell
# without errexit; its status alone decides.
test_expect_success() {
    local title=$1 body=$2 out
    test_count=$((test_count + 1))
    if out=$( (set +e; eval "$body") 2>&1 ); then
        echo "ok $test_count - $title"
        test -n "$verbose" && test -n "$out" && printf '%s\n' "$out" | sed 's/^/# /'
    else
        test_failures=$((test_failures + 1))
        echo "not ok $test_count - $title"
        printf '%s\n' "$body" | sed 's/^/#\t/'
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
    return 0
}

test_done() {
    echo "1..$test_count"
    if test "$test_failures" -gt 0; then
        echo "# failed $test_failures among $test_count test(s)"
        exit 1
    fi
    echo "# passed all $test_count test(s)"
    exit 0
}

# --- hosts, guests, waits ----------------------------------------------

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

# wait_json FILE PYCOND SECONDS [PID]: until a JSON line of FILE satisfies
# PYCOND; with PID (a process that writes FILE), no longer than it lives.
wait_json() {
    local end=$((SECONDS + $3))
    until jq_has "$1" "$2"; do
        if [ -n "${4:-}" ] && ! alive "$4"; then
            jq_has "$1" "$2" && return 0
            echo "process $4 exited before: $2 in $1" >&2
            return 1
        fi
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

# alive PID: running, and not a zombie left unreaped by a foreign init.
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# --- a primary and a secondary -----------------------------------------
# Each side runs in the background with -j: its events go to HOST/pri.json
# or HOST/sec.json, its stderr to HOST/pri.err or HOST/sec.err, and its pid
# (tracked) is in $pri or $sec. --run CMD runs the side as `CMD ARGS...`
# instead of `xl-colo ARGS...` (CMD takes xl-colo's arguments: valgrind in
# t0140, a peak-RSS meter in t0120).

# start_secondary [--run CMD] HOSTB PORT [RECEIVE OPTION...]:
#   xl-colo --rundir HOSTB -j receive --listen 127.0.0.1:PORT OPTION...
start_secondary() {
    local run=xl-colo
    if [ "$1" = --run ]; then run=$2; shift 2; fi
    local dir=$1 port=$2; shift 2
    "$run" --rundir "$dir" -j receive --listen "127.0.0.1:$port" "$@" \
        > "$dir/sec.json" 2> "$dir/sec.err" &
    sec=$!; track $sec
}

# start_primary [--run CMD] HOSTA DOMAIN PORT [START OPTION...]:
#   xl-colo --rundir HOSTA -j start OPTION... DOMAIN 127.0.0.1:PORT
start_primary() {
    local run=xl-colo
    if [ "$1" = --run ]; then run=$2; shift 2; fi
    local dir=$1 dom=$2 port=$3; shift 3
    "$run" --rundir "$dir" -j start "$@" "$dom" "127.0.0.1:$port" \
        > "$dir/pri.json" 2> "$dir/pri.err" &
    pri=$!; track $pri
}

# wait_protected HOSTA [SECONDS]: until the primary says it protects its
# guest (60 s at most, and no longer than the primary runs).
wait_protected() {
    wait_json "$1/pri.json" "event == 'state' and state == 'protected'" "${2:-60}" "$pri"
}

# disk_pair_up DIR: tests/integration/disk-pair's two replication
# sidecars in DIR, until it says ready (bounded, and no longer than it
# lives); its pid in $dp, its values (primary-qmp, secondary-guest...)
# through `get KEY`, from the pair in $D.
disk_pair_up() {
    "$abs_top_builddir/tests/integration/disk-pair" "$1" 8 > "$1/pair.out" 2> "$1/pair.err" &
    dp=$!; track $dp
    local end=$((SECONDS + 30))
    until grep -q '^ready$' "$1/pair.out"; do
        alive "$dp" || die "disk-pair exited: $(cat "$1/pair.err")"
        [ $SECONDS -lt $end ] || die "disk-pair not ready in 30 s"
        sleep 0.05
    done
}
get() { awk -v k="$1" '$1 == k { print $2 }' "$D/pair.out"; }

# start_pair [--run CMD] [--no-wait] HOSTA HOSTB DOMAIN PORT [OPTION...] [-- START OPTION...]
#   The guest DOMAIN, already running on HOSTA, protected by HOSTB over
#   127.0.0.1:PORT: start_secondary, start_primary, then wait_protected
#   (dies, with both sides' stderr, if protection does not come), unless
#   --no-wait. The OPTIONs go to both sides (receive takes --key, --insecure,
#   --verify and --timeout), the START OPTIONs to the primary only.
start_pair() {
    local run=xl-colo wait=t
    while :; do
        case $1 in
        --run) run=$2; shift 2 ;;
        --no-wait) wait=; shift ;;
        *) break ;;
        esac
    done
    local a=$1 b=$2 dom=$3 port=$4 both=()
    shift 4
    while [ $# -gt 0 ] && [ "$1" != -- ]; do both+=("$1"); shift; done
    [ $# -eq 0 ] || shift
    start_secondary --run "$run" "$b" "$port" "${both[@]}"
    start_primary --run "$run" "$a" "$dom" "$port" "${both[@]}" "$@"
    [ -z "$wait" ] || wait_protected "$a" \
        || die "$dom not protected: $(cat "$a/pri.err" "$b/sec.err")"
}
