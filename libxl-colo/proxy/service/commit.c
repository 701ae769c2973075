/* commit.c - Remus output commit (commit.h). */
#include "config.h"

#include "proxy/service/commit.h"

void proxy_commit_init(struct proxy_commit *c, bool vnet, size_t limit)
{
    *c = (struct proxy_commit){ 0 };
    proxy_outq_init(&c->held, vnet, limit);
}

void proxy_commit_fini(struct proxy_commit *c)
{
    proxy_outq_fini(&c->held);
}

bool proxy_commit_put(struct proxy_commit *c, const uint8_t *frame, size_t len)
{
    proxy_outq_put(&c->held, frame, len);     /* at the limit: dropped, counted */
    if (c->asked || proxy_outq_len(&c->held) <= c->held.limit / 2)
        return false;
    c->asked = true;
    return true;
}

void proxy_commit_barrier(struct proxy_commit *c)
{
    c->before_barrier = c->held.queued;
    c->barrier_set = true;
    c->barriers++;
}

void proxy_commit_release(struct proxy_commit *c, struct proxy_outq *out)
{
    if (!c->barrier_set)
        return;         /* an acknowledgement with no epoch ended here: nothing is its */
    proxy_outq_move(&c->held, c->before_barrier, out);
    c->released += c->before_barrier;
    c->before_barrier = 0;
    c->barrier_set = false;
    c->asked = false;
    c->commits++;
}

void proxy_commit_flush(struct proxy_commit *c, struct proxy_outq *out)
{
    uint64_t n = c->held.queued;

    proxy_outq_move(&c->held, n, out);
    c->released += n;
    c->before_barrier = 0;
    c->barrier_set = false;
}
