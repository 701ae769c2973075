#!/usr/bin/env python3
"""failover-check.py PRI_JSON SEC_JSON - a secondary's failover against what
its primary saw, from both sides' -j event logs (t0110, t0190):
  - it ran from the last checkpoint it applied;
  - no acknowledged checkpoint was lost, and it is at most one past the
    last the primary saw acknowledged (a primary killed between the
    acknowledgement and its reading of it);
  - that checkpoint was applied as the primary sent it (its digest is the
    primary's that came with it, --verify), equal to the primary's own
    where the primary logged it, and the guest did not change between the
    apply and the failover.
Exit 0 with "failed over at checkpoint N (primary acked M), digest D";
exit 1 with the broken rule on stderr."""
import json, sys

pri = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sec = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
acked = {e["epoch"]: e["digest"] for e in pri if e["event"] == "checkpoint"}
applied = {e["epoch"]: e for e in sec if e["event"] == "checkpoint"}
fo = [e for e in sec if e["event"] == "state" and e["state"] == "failed-over"]
assert fo, "no failover"
n = fo[-1]["epoch"]
assert n == max(applied), "failed over to %d, last applied %d" % (n, max(applied))
assert max(acked) <= n <= max(acked) + 1, "failed over to %d, the primary acknowledged %d" % (n, max(acked))
assert applied[n]["digest"] == applied[n]["peer_digest"], "checkpoint %d applied wrong" % n
assert n not in acked or acked[n] == fo[-1]["digest"], "digest differs from the primary's for %d" % n
assert fo[-1]["digest"] == applied[n]["digest"], "the guest changed between apply and failover"
print("failed over at checkpoint %d (primary acked %d), digest %s" % (n, max(acked), fo[-1]["digest"][:16]))
