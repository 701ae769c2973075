#!/bin/bash
# colo-bench-simnic.sh: COLO end to end on sim guests with a NIC (t0178's
# setting, colo-simguest --nic): the service's requests per second and
# the checkpoints per second at 0, 1% and 10% random replies, through the
# protection's NIC comparison, against the same service unprotected (the
# client straight to the guest's NIC) in the same run. One request at a
# time, simnet.py the client and the network.
#   tools/bench/colo-bench-simnic.sh [BUILDDIR] [REQUESTS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
count=${2:-2000}
export PATH="$build/xl-plugin:$build/tools/simguest:$PATH"
export abs_top_builddir=$build abs_top_srcdir=$src
. "$src/tests/integration/lib.sh"
simnet="python3 $src/tests/integration/simnet.py"
key=$(new_key key)

rate() { python3 -c "import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])['requests_per_s'])"; }

A=$(new_host base)
start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 21 --nic > /dev/null
base=$($simnet --a "$A" --direct --seed 21 --count "$count" | rate)
colo-simguest destroy --rundir "$A" --name g > /dev/null
printf '# %d requests, one at a time\n' "$count"
printf '%-22s %12s %10s %14s\n' "random replies" "requests/s" "of bare" "checkpoints/s"
printf '%-22s %12.0f %10s %14s\n' "unprotected" "$base" "1.00x" "-"
for ppm in 0 10000 100000; do
	A=$(new_host a$ppm); B=$(new_host b$ppm); port=$(free_port); N=$A/nic; mkdir -m 700 "$N"
	start_guest "$A" g --mem 32M --vcpus 1 --workload web --seed 21 --nic --nic-random $ppm > /dev/null
	start_pair "$A" "$B" g "$port" --key "$key" --timeout 10000 -- --colo -i 3600000 \
		--proxy "primary-in=$N/pin.sock,secondary-in=$N/sin.sock,outdev=$N/out.sock"
	out=$($simnet --a "$A" --b "$B" --seed 21 --pin "$N/pin.sock" --sin "$N/sin.sock" \
		--out "$N/out.sock" --count "$count")
	r=$(echo "$out" | rate)
	secs=$(echo "$out" | python3 -c "import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])['seconds'])")
	ck=$(python3 -c "import json, sys; print(sum(1 for l in open(sys.argv[1]) if '\"checkpoint\"' in l and json.loads(l)['epoch'] > 0))" "$A/pri.json")
	printf '%-22s %12.0f %9.2fx %14.1f\n' "$((ppm / 10000))% ($ppm ppm)" "$r" \
		"$(python3 -c "print($r / $base)")" "$(python3 -c "print($ck / $secs)")"
	xl-colo --rundir "$A" stop g > /dev/null 2>&1 || true
	wait_pid "$pri" 30 || true
	wait_pid "$sec" 30 || true
	colo-simguest destroy --rundir "$A" --name g > /dev/null 2>&1 || true
done
finish
