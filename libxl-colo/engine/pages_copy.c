/* pages_copy.c - the copies of pages out of a domain (capture, pre-copy)
 * and into it (apply), and the mappings a copy may hold (see pages_copy.h). */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/pages_copy.h"

/* A PAGES record is applied with one map() call. */
_Static_assert(COLO_MAP_BATCH == COLO_BATCH_PAGES, "a map batch is a PAGES record");

int colo_pages_apply(colo_backend *be, colo_dom *d,
                     const struct colo_pages_view *v, uint64_t *skipped)
{
    uint64_t pfns[COLO_BATCH_PAGES];
    void *addr[COLO_BATCH_PAGES];
    int err[COLO_BATCH_PAGES];
    colo_mapping *m = NULL;

    for (uint32_t i = 0; i < v->count; i++)
        pfns[i] = v->pfns[i] & ~COLO_PFN_ZERO;
    int r = colo_be_map(be, d, pfns, v->count, PROT_READ | PROT_WRITE, addr, err, &m, 0);
    if (r < 0)
        return r;
    const uint8_t *src = v->data;
    for (uint32_t i = 0; i < v->count; i++) {
        bool zero = v->pfns[i] & COLO_PFN_ZERO;
        if (!addr[i])
            (*skipped)++;
        else if (zero)
            memset(addr[i], 0, COLO_PAGE_SIZE);
        else
            memcpy(addr[i], src, COLO_PAGE_SIZE);
        if (!zero)
            src += COLO_PAGE_SIZE;
    }
    colo_be_unmap(be, d, m);
    return 0;
}

int colo_held_maps_reserve(libxlcolo_ctx *ctx, struct colo_held_maps *h, uint64_t pages)
{
    uint64_t want = pages / COLO_MAP_BATCH + 2;

    if (want <= h->cap)
        return 0;
    if (want > UINT_MAX / 2)
        return LOG_ERRNO(ctx, -E2BIG, "%" PRIu64 " pages: too many mappings to hold", pages);
    colo_mapping **m = realloc(h->m, want * sizeof(*m));
    if (!m)
        return LOG_ERRNO(ctx, -ENOMEM, "no memory to hold %" PRIu64 " mappings", want);
    h->m = m;
    h->cap = (unsigned)want;
    return 0;
}

void colo_held_maps_release(colo_backend *be, colo_dom *d, struct colo_held_maps *h)
{
    for (unsigned i = 0; i < h->n; i++)
        colo_be_unmap(be, d, h->m[i]);
    h->n = 0;
}

void colo_held_maps_free(struct colo_held_maps *h)
{
    free(h->m);
    *h = (struct colo_held_maps){ 0 };
}

int colo_pages_read(colo_backend *be, colo_dom *d, uint64_t *pfns, uint64_t *n,
                    uint8_t *dst, uint64_t *skipped, struct colo_held_maps *hold)
{
    void *addr[COLO_MAP_BATCH];
    int err[COLO_MAP_BATCH];
    uint64_t in = 0, out = 0;

    while (in < *n) {
        unsigned k = *n - in > COLO_MAP_BATCH ? COLO_MAP_BATCH : (unsigned)(*n - in);
        colo_mapping *m = NULL;
        int r = colo_be_map(be, d, pfns + in, k, PROT_READ, addr, err, &m, 0);
        if (r < 0)
            return r;
        /* out <= in + i: each slot is written after it was read. */
        for (unsigned i = 0; i < k; i++) {
            if (!addr[i]) {
                (*skipped)++;
                continue;
            }
            memcpy(dst + out * COLO_PAGE_SIZE, addr[i], COLO_PAGE_SIZE);
            pfns[out++] = pfns[in + i];
        }
        if (hold && hold->n < hold->cap)
            hold->m[hold->n++] = m;
        else
            colo_be_unmap(be, d, m);
        in += k;
    }
    *n = out;
    return 0;
}
