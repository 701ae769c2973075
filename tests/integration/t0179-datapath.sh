#!/bin/bash
# The datapath on real interfaces (colo-datapath with colo-proxy), in
# network namespaces made here:
#     client C 10.0.0.1 --- D (the primary's host: colo-datapath) --- P 10.0.0.2
#                                                                 \-- S 10.0.0.2
# P and S are the primary and the secondary guest: the same address and
# MAC, each a real UDP and TCP server on its own kernel stack
# (datapath-peer.py).
# The client's frames are mirrored to both; what each sends goes to
# colo-proxy; only what colo-proxy releases reaches the client. The Xen
# side of notify_dev answers each DO_CHECKPOINT (datapath-peer.py notify).
#   - 1000 requests from the client, one at a time: every answer right
#     and in order, nothing else reaching it; identical answers, no
#     checkpoint;
#   - the secondary answering request 500 otherwise: exactly one
#     checkpoint, and the client still gets the primary's answer;
#   - the checksums the guests' stacks left to the veth filled in;
#   - bad command lines, and an interface that does not exist: one line.
#   - the same over TCP, two real stacks: the secondary's sequence numbers
#     and timestamps renumbered as the primary's (identical answers, no
#     checkpoint; one divergence, one);
#   - a failover (SIGUSR1 to colo-datapath, then the primary's server
#     killed): the client's open TCP connection goes on against the
#     secondary, 200 more answers right;
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/datapath-lib.sh"

# Bad input first: it needs no namespace.
all=(--client-if a --primary-if b --secondary-if c --primary-in x --secondary-in y --outdev z)
dp_usage_is "colo-datapath: --outdev is required" "${all[@]:0:10}" || fail "--outdev missing"
dp_usage_is "colo-datapath: unknown option '--bogus'" "${all[@]}" --bogus || fail "unknown option"
dp_usage_is "colo-datapath: --client-if and --secondary-if are the same interface a" \
	--client-if a --primary-if b --secondary-if a "${all[@]:6}" || fail "same interface"

dp_netns c d p s
for n in c p s; do dp_veth $n ${n}0 d d$n || die "veth $n"; done
ip -n ${NS}c addr add 10.0.0.1/24 dev c0 || die "client address"
dp_guests p s
dp_proxy
dp_start d dp --client-if dc --primary-if dp --secondary-if ds $(dp_proxy_opts)
dp_runs
# The failover: the primary gone, the client's open connection goes on
# against the secondary.
dp_failover $dpp "$T/dp.err" true

kill -TERM $dpp
wait_pid $dpp 10 || fail "colo-datapath exited $? at SIGTERM: $(cat "$T/dp.err")"
python3 - "$T/dp.json" <<'PY' || fail "the datapath's counters: $(cat "$T/dp.json")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
# Each request mirrored, each answer redirected from both and released once.
assert d['mirrored'] >= 4000 and d['released'] >= 4000, d
assert d['redirected_primary'] >= 4000 and d['redirected_secondary'] >= 4000, d
assert d['redirect_drops'] == 0 and d['dc']['rx_too_big'] == 0, d
# The guests' checksums, left to the veth, were filled in on the way.
assert d['dp']['checksums_filled'] >= 4000 and d['ds']['checksums_filled'] >= 4000, d
# Three TCP connections renumbered; after the failover, the secondary's
# answers went straight to the client.
rw = d['rewrite']
assert rw['connections'] == 3 and rw['from_secondary'] >= 2500 and rw['to_secondary'] >= 2500, d
assert d['failover'] and d['direct'] >= 200, d
print('# datapath: %d mirrored, %d released, %d checksums filled, %d TCP connections '
      'renumbered (%d frames), %d straight to the client after the failover'
      % (d['mirrored'], d['released'], d['dp']['checksums_filled'] + d['ds']['checksums_filled'],
         rw['connections'], rw['from_secondary'] + rw['to_secondary'], d['direct']))
PY

# An interface that does not exist: one line, exit 1.
rc=0
ip netns exec ${NS}d "$dp" --client-if nosuch --primary-if dp --secondary-if ds \
	--primary-in "$N/pin.sock" --secondary-in "$N/sin.sock" --outdev "$N/out.sock" \
	> /dev/null 2> "$T/err" || rc=$?
[ $rc = 1 ] && [ "$(cat "$T/err")" = "colo-datapath: --client-if interface nosuch: no such interface" ] ||
	fail "a missing interface: exit $rc: $(cat "$T/err")"
kill -TERM $pp $np
wait_pid $pp 10 || fail "colo-proxy exited $?"
finish
