# colo-lib.sh - shared by the ts-colo-* steps (sourced, POSIX sh: it runs
# under busybox ash in the real-Xen harness's dom0 as well as under dash).
#
# osstest's conventions: one step per script; the guest and the hosts are
# arguments; exit 0 = pass, 1 = fail (the thing under test misbehaved),
# 2 = broken (the harness or a host is not fit to run the step); one clear
# verdict line on stdout: "PROG: PASS|FAIL|BROKEN text". Progress goes to
# stderr as "PROG: text".
#
# A host is "localhost" (also 127.0.0.1, ::1 or this machine's name) or a
# name that `ssh -o BatchMode=yes -l root HOST` reaches, as osstest's
# target_cmd_root does. Override the ssh command with XLCOLO_SSH.
#
# Environment (every one optional):
#   XLCOLO             the xl-colo program            (xl-colo)
#   XLCOLO_KEY         pre-shared key, on both hosts  (/etc/xen-colo/key)
#   XLCOLO_INTERVAL    checkpoint interval in ms      (200)
#   XLCOLO_TIMEOUT     peer-lost timeout in ms        (10000)
#   XLCOLO_VERIFY      1: digests on both sides, --verify (0)
#   XLCOLO_ARBITER     --arbiter of both sides: etcd://HOST:PORT, or none
#                      (none: the timeout alone decides, as in one-host tests)
#   XLCOLO_START_OPTS  more options for `xl-colo start`
#   XLCOLO_RECEIVE_OPTS  more options for `xl-colo receive` (e.g. its --disk)
#   XLCOLO_LOGDIR      event logs and pid files       (/var/log/xen-colo)
#   XLCOLO_RUNDIR      control sockets                (/run/xen-colo; the
#                      secondary uses DIR-secondary when both sides share a host)
#   XLCOLO_WAIT        seconds a step waits for a state (300)
#
# Files in XLCOLO_LOGDIR (per guest G, on the host of each side):
#   G.primary.json G.primary.err G.primary.pid G.primary.domid
#   G.secondary.json G.secondary.err G.secondary.pid
# The .json files hold xl-colo's -j events, one JSON object a line.

PROG=${0##*/}
XLCOLO=${XLCOLO:-xl-colo}
XLCOLO_KEY=${XLCOLO_KEY:-/etc/xen-colo/key}
XLCOLO_INTERVAL=${XLCOLO_INTERVAL:-200}
XLCOLO_TIMEOUT=${XLCOLO_TIMEOUT:-10000}
XLCOLO_VERIFY=${XLCOLO_VERIFY:-0}
XLCOLO_ARBITER=${XLCOLO_ARBITER:-none}
XLCOLO_START_OPTS=${XLCOLO_START_OPTS:-}
XLCOLO_RECEIVE_OPTS=${XLCOLO_RECEIVE_OPTS:-}
XLCOLO_LOGDIR=${XLCOLO_LOGDIR:-/var/log/xen-colo}
XLCOLO_RUNDIR=${XLCOLO_RUNDIR:-/run/xen-colo}
XLCOLO_WAIT=${XLCOLO_WAIT:-300}
XLCOLO_SSH=${XLCOLO_SSH:-ssh -o BatchMode=yes -o ConnectTimeout=20 -l root}

pass()   { echo "$PROG: PASS $*"; exit 0; }
fail()   { echo "$PROG: FAIL $*"; exit 1; }
broken() { echo "$PROG: BROKEN $*"; exit 2; }
note()   { echo "$PROG: $*" >&2; }

# Names and paths go into remote command lines unquoted: keep them plain.
plain() {
    case $2 in
        ''|*[!A-Za-z0-9_.:/@+-]*) broken "$1 '$2' has characters this step does not pass on" ;;
    esac
}

is_local() {
    case $1 in
        localhost|127.0.0.1|::1) return 0 ;;
    esac
    [ "$1" = "$(hostname 2>/dev/null)" ]
}

# The same machine, by either name?
same_host() {
    [ "$1" = "$2" ] && return 0
    is_local "$1" && is_local "$2"
}

# on HOST COMMAND...: run a shell command line on HOST, as root.
on() {
    _h=$1; shift
    if is_local "$_h"; then
        sh -c "$*"
    else
        $XLCOLO_SSH "$_h" "$*"
    fi
}

# The address the primary connects to: loopback for a local secondary.
addr_of() {
    if is_local "$1"; then echo 127.0.0.1; else echo "$1"; fi
}

# secondary_rundir PRIMARY SECONDARY: control sockets of the secondary side
# (apart from the primary's when both share a host: both are named after
# the guest).
secondary_rundir() {
    if same_host "$1" "$2"; then echo "$XLCOLO_RUNDIR-secondary"; else echo "$XLCOLO_RUNDIR"; fi
}

# need_tools HOST: xl and xl-colo exist there, or the step is broken.
need_tools() {
    on "$1" "command -v xl >/dev/null && command -v $XLCOLO >/dev/null" ||
        broken "host $1: xl or $XLCOLO not found (or the host is unreachable)"
}

# xl_states HOST GUEST: "NAME DOMID STATE" for each copy of GUEST on HOST:
# the domain named GUEST, and GUEST--colo, xen-colo's name for a secondary
# built while GUEST exists on the same host. STATE is osstest's
# guest_get_state: xl's state column without the dashes, "-" when empty.
xl_states() {
    on "$1" "xl list" 2>/dev/null | awk -v g="$2" '
        NR > 1 && ($1 == g || $1 == g "--colo") {
            st = $5; gsub(/-/, "", st); if (st == "") st = "-"
            print $1, $2, st
        }'
}

# pid_alive HOST PIDFILE: the process in PIDFILE runs (and is no zombie).
pid_alive() {
    on "$1" "p=\$(cat $2 2>/dev/null) && [ -n \"\$p\" ] && [ -d /proc/\$p ] &&
             ! grep -q '^State:.*Z' /proc/\$p/status 2>/dev/null"
}

# json_has HOST FILE PATTERN: a line of FILE matches the grep -E PATTERN.
json_has() {
    on "$1" "grep -Eq '$3' $2 2>/dev/null"
}

# last_epoch HOST FILE: the highest checkpoint epoch in an event log, or -1.
last_epoch() {
    on "$1" "cat $2 2>/dev/null" |
        sed -n 's/.*"event":"checkpoint".*"epoch":\([0-9]*\).*/\1/p' |
        awk 'BEGIN { m = -1 } $1 > m { m = $1 } END { print m }'
}

# tail_of HOST FILE: the last lines of a log, indented, on stderr.
tail_of() {
    on "$1" "tail -n ${3:-8} $2 2>/dev/null" | sed 's/^/    /' >&2
}
# last_line HOST FILE: FILE's last line (a program's error says its cause last)
last_line() { on "$1" "tail -n 1 $2 2>/dev/null"; }

now_s() { cut -d' ' -f1 /proc/uptime 2>/dev/null || date +%s; }
since() { echo "$(now_s) $1" | awk '{ printf "%.1f", $1 - $2 }'; }
