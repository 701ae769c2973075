/*
 * budget.h - memory counted against a limit. A flow's budget has the
 * context's as its parent: a charge fits only when it fits in both, so
 * one flow cannot take all, and all flows together cannot pass the total.
 * What does not fit is refused (the caller drops and asks a checkpoint),
 * never allocated.
 *
 * A budget may have a pool (its tree's, set at the root and copied to
 * each child): a frame-sized allocation (COLO_POOL_MIN..COLO_POOL_BLOCK
 * bytes) takes a block the pool kept, and its free keeps the block, up to
 * COLO_POOL_KEEP of them. Without it, each held frame is a malloc of a
 * size glibc's tcache does not keep, and glibc merges its fast bins
 * before each one: a quarter of the proxy's time at 1400 B frames. What
 * is charged is the bytes asked for, as without the pool; the blocks kept
 * (COLO_POOL_KEEP * COLO_POOL_BLOCK bytes at most) are not charged. Under
 * ASan there is no pool: every block is malloc's, of its exact size, so
 * that an overrun or a use after free is caught.
 */
#ifndef COLO_PROXY_BUDGET_H
#define COLO_PROXY_BUDGET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define COLO_POOL_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COLO_POOL_ON 0
#endif
#endif
#ifndef COLO_POOL_ON
#define COLO_POOL_ON 1
#endif

#define COLO_POOL_MIN 1024u     /* smaller: glibc's tcache keeps them */
#define COLO_POOL_BLOCK 2048u   /* an Ethernet frame and a packet's header */
#define COLO_POOL_KEEP 512u

struct colo_pool {
    void *free;                 /* kept blocks, each's first word the next */
    unsigned n;
};

struct colo_budget {
    size_t used;                /* bytes charged now */
    size_t limit;               /* never more than this */
    size_t peak;                /* the most used since creation */
    unsigned long refused;      /* charges this level refused */
    struct colo_budget *parent; /* also charged; NULL at the top */
    struct colo_pool *pool;     /* NULL: malloc only */
};

static inline bool colo_pool_fits(const struct colo_budget *b, size_t n)
{
    return COLO_POOL_ON && b->pool && n >= COLO_POOL_MIN && n <= COLO_POOL_BLOCK;
}

/* Free every block the pool kept. */
static inline void colo_pool_drain(struct colo_pool *pool)
{
    while (pool->free) {
        void *p = pool->free;
        pool->free = *(void **)p;
        free(p);
    }
    pool->n = 0;
}

/* Charge n bytes to b and its parents: false, and nothing charged, if
 * any of them would pass its limit. */
static inline bool colo_budget_take(struct colo_budget *b, size_t n)
{
    for (struct colo_budget *x = b; x; x = x->parent)
        if (n > x->limit || x->used > x->limit - n) {
            x->refused++;
            return false;
        }
    for (struct colo_budget *x = b; x; x = x->parent) {
        x->used += n;
        if (x->used > x->peak)
            x->peak = x->used;
    }
    return true;
}

static inline void colo_budget_give(struct colo_budget *b, size_t n)
{
    for (struct colo_budget *x = b; x; x = x->parent)
        x->used -= n;
}

/* malloc(n) charged to b: NULL with *r = -ENOSPC when it does not fit,
 * -ENOMEM when malloc fails. Free with colo_budget_free(b, p, n). */
static inline void *colo_budget_alloc(struct colo_budget *b, size_t n, int *r)
{
    if (!colo_budget_take(b, n)) {
        *r = -ENOSPC;
        return NULL;
    }
    void *p;
    if (colo_pool_fits(b, n) && b->pool->free) {
        p = b->pool->free;
        b->pool->free = *(void **)p;
        b->pool->n--;
        return p;
    }
    p = malloc(colo_pool_fits(b, n) ? COLO_POOL_BLOCK : n);
    if (!p) {
        colo_budget_give(b, n);
        *r = -ENOMEM;
    }
    return p;
}

static inline void colo_budget_free(struct colo_budget *b, void *p, size_t n)
{
    if (!p)
        return;
    colo_budget_give(b, n);
    if (colo_pool_fits(b, n) && b->pool->n < COLO_POOL_KEEP) {
        *(void **)p = b->pool->free;
        b->pool->free = p;
        b->pool->n++;
        return;
    }
    free(p);
}

#endif
