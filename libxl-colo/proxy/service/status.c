/* status.c - the --status answer: one JSON line of counters (proxy.h),
 * made with the project's JSON helpers, for `xl-colo status -j` (through
 * proxy_status_copy() in a protection) and the tests. Each input's "drops" has a member per cause, the engine's
 * (counters.h: "runt", "bad-ihl", ...) and the framing's (reader.h:
 * "empty", "too-big", "bad-vnet-length", "cut-header", "cut-frame"),
 * every one present, 0 or not. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "json.h"
#include "proxy/service/proxy.h"

static void put_input(colo_json *j, const char *key, const struct proxy *p, enum colo_side side,
                      const struct colo_compare_counters *n)
{
    const struct proxy_reader *r = &p->in[side];
    const struct proxy_ep *ep = &p->ep[side == COLO_PRIMARY ? EP_PRIMARY : EP_SECONDARY];

    colo_json_open(j, key);
    colo_json_put_bool(j, "connected", ep->fd >= 0);
    colo_json_put_u64(j, "connections", ep->connections);
    colo_json_put_u64(j, "bytes", r->bytes);
    colo_json_put_u64(j, "records", r->records);
    colo_json_put_u64(j, "frames", n->frames_in[side]);
    colo_json_put_u64(j, "held", n->frames_held[side]);
    colo_json_put_u64(j, "held_bytes", n->bytes_held[side]);
    colo_json_open(j, "drops");
    for (int c = COLO_DROP_NONE + 1; c < COLO_DROP__MAX; c++) {
        const char *name = colo_drop_cause_name((enum colo_drop_cause)c);
        uint64_t v = n->drops[side][c];
        for (int d = 0; d < PROXY_DROP__MAX; d++)
            if (strcmp(proxy_drop_name((enum proxy_drop)d), name) == 0)
                v += r->drops[d];
        colo_json_put_u64(j, name, v);
    }
    for (int d = 0; d < PROXY_DROP__MAX; d++) {
        const char *name = proxy_drop_name((enum proxy_drop)d);
        bool shared = false;
        for (int c = COLO_DROP_NONE + 1; c < COLO_DROP__MAX; c++)
            shared |= strcmp(colo_drop_cause_name((enum colo_drop_cause)c), name) == 0;
        if (!shared)
            colo_json_put_u64(j, name, r->drops[d]);
    }
    colo_json_close(j);
    colo_json_close(j);
}

int proxy_status_text(const struct proxy *p, char *buf, size_t size)
{
    _cleanup_json_ colo_json *j = colo_json_new();
    struct colo_compare_counters n;
    const struct proxy_notify *nt = &p->notify;
    const char *text;
    size_t len;

    colo_compare_get_counters(p->cmp, &n);
    put_input(j, "primary_in", p, COLO_PRIMARY, &n);
    put_input(j, "secondary_in", p, COLO_SECONDARY, &n);

    colo_json_open(j, "outdev");
    colo_json_put_bool(j, "connected", p->ep[EP_OUTDEV].fd >= 0);
    colo_json_put_u64(j, "connections", p->ep[EP_OUTDEV].connections);
    colo_json_put_u64(j, "frames", p->out.frames);
    colo_json_put_u64(j, "bytes", p->out.bytes);
    colo_json_put_u64(j, "queued", p->out.queued);
    colo_json_put_u64(j, "queued_bytes", proxy_outq_len(&p->out));
    colo_json_put_u64(j, "dropped_no_peer", p->out_no_peer);
    colo_json_put_u64(j, "dropped_disconnect", p->out_lost);
    colo_json_put_u64(j, "dropped_overflow", p->out.overflow);
    colo_json_close(j);

    colo_json_open(j, "notify");
    colo_json_put_bool(j, "enabled", p->ep[EP_NOTIFY].lfd >= 0);
    colo_json_put_bool(j, "connected", nt->fd >= 0);
    colo_json_put_u64(j, "connections", nt->connections);
    colo_json_put_u64(j, "inits", nt->inits);
    colo_json_put_u64(j, "do_checkpoint", nt->do_checkpoints);
    colo_json_put_u64(j, "colo_checkpoint", nt->checkpoints_done);
    colo_json_put_u64(j, "unknown", nt->unknown);
    uint64_t refused = 0;
    for (int d = 0; d < PROXY_DROP__MAX; d++)
        refused += nt->rd.drops[d];
    colo_json_put_u64(j, "refused", refused);
    colo_json_put_u64(j, "dropped", nt->out_dropped);
    colo_json_close(j);

    colo_json_put_u64(j, "flows", n.flows);
    colo_json_put_u64(j, "flows_created", n.flows_created);
    colo_json_put_u64(j, "released", n.released);
    colo_json_put_u64(j, "compared", n.compared);
    colo_json_put_u64(j, "secondary_done", n.secondary_done);
    colo_json_put_u64(j, "checkpoints", n.checkpoints);
    colo_json_put_bool(j, "checkpoint_pending", colo_compare_checkpoint_pending(p->cmp));
    colo_json_open(j, "checkpoint_reasons");
    for (int c = COLO_CKPT_NONE + 1; c < COLO_CKPT__MAX; c++)
        colo_json_put_u64(j, colo_checkpoint_reason_name((enum colo_checkpoint_reason)c),
                          n.checkpoint_reasons[c]);
    colo_json_close(j);
    colo_json_put_u64(j, "checkpoints_done", n.checkpoints_done);
    colo_json_put_u64(j, "mem_used", n.mem_used);
    colo_json_put_u64(j, "mem_peak", n.mem_peak);
    colo_json_put_u64(j, "mem_limit", n.mem_limit);
    colo_json_put_u64(j, "status_queries", p->status_queries);
    const struct proxy_commit *c = &p->commit;
    colo_json_open(j, "commit");
    colo_json_put_bool(j, "enabled", p->opts.buffer);
    colo_json_put_u64(j, "held", c->held.queued);
    colo_json_put_u64(j, "held_bytes", proxy_outq_len(&c->held));
    colo_json_put_u64(j, "before_barrier", c->before_barrier);
    colo_json_put_u64(j, "barriers", c->barriers);
    colo_json_put_u64(j, "commits", c->commits);
    colo_json_put_u64(j, "released", c->released);
    colo_json_put_u64(j, "dropped_overflow", c->held.overflow);
    colo_json_close(j);
    colo_json_put_bool(j, "alone", p->alone);
    colo_json_put_u64(j, "passed_alone", p->passed_alone);
    colo_json_put_u64(j, "dropped_alone", p->dropped_alone);
    colo_json_open(j, "busy_poll");
    colo_json_put_u64(j, "us", p->opts.busy_poll_us);
    colo_json_put_u64(j, "hits", p->busy_hits);
    colo_json_close(j);

    int r = colo_json_finish(j, &text, &len);
    if (r < 0)
        return r;
    if (len >= size)
        return -ENOBUFS;
    memcpy(buf, text, len + 1);
    return (int)len;
}

int proxy_status_send(const struct proxy *p, int fd)
{
    char text[PROXY_STATUS_MAX];
    int r = proxy_status_text(p, text, sizeof(text));

    if (r < 0)
        return r;
    size_t len = (size_t)r;
    struct iovec iov[2] = { { (void *)text, len }, { "\n", 1 } };
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
    ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0)
        return negative_errno();
    return (size_t)w == len + 1 ? 0 : -EAGAIN;
}
