#!/bin/bash
# The xen-colo story on the sim backend, in under a minute:
# protect a simulated guest, checkpoint it, kill the primary, fail over,
# and show that the secondary holds exactly the last acknowledged state.
#   tools/demo.sh [--mem 256M] [--workload kernel-build] [--checkpoints 50]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mem=256M workload=kernel-build checkpoints=50 interval=100
while [ $# -gt 0 ]; do
    case "$1" in
    --mem) mem=$2; shift 2 ;;
    --workload) workload=$2; shift 2 ;;
    --checkpoints) checkpoints=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    *) echo "demo: unknown option $1" >&2; exit 2 ;;
    esac
done

"$src/tools/install-deps.sh"
echo "Building xen-colo (build/) ..."
"$src/tools/build.sh" "$src/build"
export PATH="$src/build/xl-plugin:$src/build/tools/simguest:$PATH"

work=$(mktemp -d /tmp/xen-colo-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for f in "$work"/hostA/sim/*.pid "$work"/hostB/sim/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 700 "$work/hostA" "$work/hostB"
head -c 32 /dev/urandom > "$work/key"; chmod 600 "$work/key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
json() { python3 -c "import json,sys; [print(eval(sys.argv[1], {}, json.loads(l))) for l in open(sys.argv[2]) if l.strip() and eval(sys.argv[3], {}, json.loads(l))]" "$@"; }
# wait_for FILE PYCOND SECONDS: until a JSON line of FILE satisfies PYCOND
wait_for() {
    local end=$((SECONDS + $3))
    until python3 - "$1" "$2" <<'PY'
import json, sys
ok = False
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if eval(sys.argv[2], {}, e): ok = True
sys.exit(0 if ok else 1)
PY
    do
        [ $SECONDS -lt $end ] || { echo "demo: timed out waiting for: $2" >&2; exit 1; }
        sleep 0.1
    done
}

echo
echo "== Host A runs guest 'demo': $mem of memory, 2 vCPUs, workload '$workload'."
guest_pid=$(colo-simguest run --daemon --rundir "$work/hostA" --name demo --mem "$mem" \
            --vcpus 2 --workload "$workload" --seed 42)
echo "   (simulated guest, pid $guest_pid)"

echo "== Host B waits for a primary on 127.0.0.1:$port, key-authenticated (no arbiter: one host, one demo)."
xl-colo --rundir "$work/hostB" -j receive --listen "127.0.0.1:$port" --key "$work/key" --verify --arbiter none \
    > "$work/secondary.json" 2> "$work/secondary.err" &
sec_pid=$!; pids+=("$sec_pid")

echo "== Host A protects 'demo': Remus mode, a checkpoint every $interval ms."
xl-colo --rundir "$work/hostA" -j start -i "$interval" --key "$work/key" --verify --arbiter none demo "127.0.0.1:$port" \
    > "$work/primary.json" 2> "$work/primary.err" &
pri_pid=$!; pids+=("$pri_pid")

wait_for "$work/primary.json" "event == 'state' and state == 'protected'" 60
json '"   initial sync, round %d: %d pages sent" % (round, pages)' "$work/primary.json" "event == 'precopy'"
wait_for "$work/primary.json" "event == 'checkpoint' and epoch >= $checkpoints" 120
echo "== $checkpoints checkpoints acknowledged by host B (every 10th shown):"
json '"   checkpoint %3d: %6d dirty pages, guest paused %7.3f ms to copy them (+%.3f ms hashing for this demo), acknowledged after %.3f ms" % (epoch, pages, (pause_ns-verify_ns)/1e6, verify_ns/1e6, total_ns/1e6)' \
    "$work/primary.json" "event == 'checkpoint' and epoch % 10 == 0"

echo
echo "== Host A dies: kill -9 of xl-colo (pid $pri_pid) and of the guest (pid $guest_pid)."
kill -9 "$pri_pid" "$guest_pid"
wait "$pri_pid" 2>/dev/null || true
if ! wait "$sec_pid"; then
    echo "demo: the secondary failed:" >&2; cat "$work/secondary.err" >&2; exit 1
fi
python3 - "$work/secondary.json" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "failover":
        print("   failover: %s -> %s" % (e["from"], e["to"]))
PY
python3 - "$work/primary.json" "$work/secondary.json" <<'PY'
import json, sys
pri = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
acked = {e["epoch"]: e.get("digest") for e in pri if e["event"] == "checkpoint"}
applied = {e["epoch"]: e for e in sec if e["event"] == "checkpoint"}
fo = [e for e in sec if e["event"] == "state" and e["state"] == "failed-over"][-1]
n = fo["epoch"]
want = acked.get(n) or applied[n]["peer_digest"]
print("== Host B took over at checkpoint %d (the last host A saw acknowledged: %d)." % (n, max(acked)))
if fo["digest"] != want:
    print("secondary state != last acknowledged checkpoint: %s vs %s" % (fo["digest"], want))
    sys.exit(1)
print("   secondary state == last acknowledged checkpoint (hash %s)" % fo["digest"])
PY
c1=$(colo-simguest info --rundir "$work/hostB" --name demo | sed -n 's/^vcpu0 counter: //p')
sleep 0.3
c2=$(colo-simguest info --rundir "$work/hostB" --name demo | sed -n 's/^vcpu0 counter: //p')
echo "== The guest now runs on host B: its vCPU 0 counter went from $c1 to $c2."
colo-simguest destroy --rundir "$work/hostB" --name demo >/dev/null
echo "== Done."
