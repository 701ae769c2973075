/*
 * budget.h - memory counted against a limit. A flow's budget has the
 * context's as its parent: a charge fits only when it fits in both, so
 * one flow cannot take all, and all flows together cannot pass the total.
 * What does not fit is refused (the caller drops and asks a checkpoint),
 * never allocated.
 */
#ifndef COLO_PROXY_BUDGET_H
#define COLO_PROXY_BUDGET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

struct colo_budget {
    size_t used;                /* bytes charged now */
    size_t limit;               /* never more than this */
    size_t peak;                /* the most used since creation */
    unsigned long refused;      /* charges this level refused */
    struct colo_budget *parent; /* also charged; NULL at the top */
};

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
    void *p = malloc(n);
    if (!p) {
        colo_budget_give(b, n);
        *r = -ENOMEM;
    }
    return p;
}

static inline void colo_budget_free(struct colo_budget *b, void *p, size_t n)
{
    if (p) {
        free(p);
        colo_budget_give(b, n);
    }
}

#endif
