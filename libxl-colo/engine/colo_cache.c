/* colo_cache.c - a running COLO secondary's last checkpoint (colo_cache.h). */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bitmap.h"
#include "colo-internal.h"
#include "engine/colo_cache.h"
#include "page.h"

/* Keep a copy of the last CONTEXT and DEVSTATE bodies of st. */
static int keep_state(colo_cache *c, const colo_staging *st)
{
    const uint8_t *body;
    size_t len;

    for (int k = 0; k < 2; k++) {
        uint16_t type = k == 0 ? COLO_REC_CONTEXT : COLO_REC_DEVSTATE;
        uint8_t **dst = k == 0 ? &c->context : &c->devstate;
        size_t *dlen = k == 0 ? &c->context_len : &c->devstate_len;
        if (!colo_staging_find(st, type, &body, &len))
            continue;                   /* none in this checkpoint: the last one stands */
        uint8_t *b = malloc(len ? len : 1);
        if (!b)
            return LOG_ERRNO(c->ctx, -ENOMEM, "the COLO cache: no memory for %zu bytes of "
                             "state", len);
        memcpy(b, body, len);
        free(*dst);
        *dst = b;
        *dlen = len;
    }
    return 0;
}

int colo_cache_init(colo_cache *c, libxlcolo_ctx *ctx, colo_backend *be, colo_dom *d,
                    uint64_t nr_pages, const colo_staging *st)
{
    *c = (colo_cache){ .ctx = ctx, .nr_pages = nr_pages };
    size_t size = (size_t)nr_pages * COLO_PAGE_SIZE;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return LOG_ERRNO(ctx, negative_errno(), "the COLO cache: no memory for %" PRIu64
                         " pages", nr_pages);
    c->mem = m;
    c->own = colo_bitmap_alloc(nr_pages);
    if (!c->own)
        return LOG_ERRNO(ctx, -ENOMEM, "the COLO cache: no memory for its bitmap");
    /* The whole guest, one map batch at a time. */
    uint64_t pfns[COLO_MAP_BATCH];
    void *addr[COLO_MAP_BATCH];
    int err[COLO_MAP_BATCH];
    for (uint64_t base = 0; base < nr_pages; base += COLO_MAP_BATCH) {
        unsigned n = nr_pages - base > COLO_MAP_BATCH ? COLO_MAP_BATCH : (unsigned)(nr_pages - base);
        colo_mapping *mp = NULL;
        for (unsigned i = 0; i < n; i++)
            pfns[i] = base + i;
        int r = colo_be_map(be, d, pfns, n, PROT_READ, addr, err, &mp, 0);
        if (r < 0)
            return r;
        for (unsigned i = 0; i < n; i++)
            if (addr[i])
                memcpy(c->mem + (base + i) * COLO_PAGE_SIZE, addr[i], COLO_PAGE_SIZE);
        colo_be_unmap(be, d, mp);
    }
    int r = keep_state(c, st);
    if (r < 0)
        return r;
    /* From here, what the guest writes is recorded. */
    r = colo_be_logdirty_enable(be, d, 0);
    if (r < 0)
        return r;
    uint64_t count;
    return colo_be_logdirty_clean(be, d, c->own, nr_pages, &count, 0);
}

void colo_cache_free(colo_cache *c)
{
    if (c->mem)
        munmap(c->mem, (size_t)c->nr_pages * COLO_PAGE_SIZE);
    free(c->own);
    free(c->context);
    free(c->devstate);
    *c = (colo_cache){ 0 };
}

int colo_cache_revert(colo_cache *c, colo_backend *be, colo_dom *d)
{
    uint64_t count = 0, cursor = 0, pfns[COLO_MAP_BATCH];
    void *addr[COLO_MAP_BATCH];
    int err[COLO_MAP_BATCH];

    int r = colo_be_logdirty_clean(be, d, c->own, c->nr_pages, &count, 0);
    if (r < 0)
        return r;
    c->restored = 0;
    for (;;) {
        unsigned n = colo_bitmap_take(c->own, c->nr_pages, &cursor, pfns, COLO_MAP_BATCH);
        if (n == 0)
            break;
        colo_mapping *mp = NULL;
        r = colo_be_map(be, d, pfns, n, PROT_READ | PROT_WRITE, addr, err, &mp, 0);
        if (r < 0)
            return r;
        for (unsigned i = 0; i < n; i++)
            if (addr[i]) {
                memcpy(addr[i], c->mem + pfns[i] * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
                c->restored++;
            }
        colo_be_unmap(be, d, mp);
    }
    c->restored_total += c->restored;
    return 0;
}

int colo_cache_take(colo_cache *c, const colo_staging *st)
{
    colo_staging_copy_pages(st, c->mem);
    return keep_state(c, st);
}

int colo_cache_rewind(colo_cache *c, colo_backend *be, colo_dom *d)
{
    int r = colo_cache_revert(c, be, d);
    if (r == 0 && c->context)
        r = colo_be_context_set(be, d, c->context, c->context_len, 0);
    if (r == 0 && c->devstate && c->devstate_len)
        r = colo_be_devstate_load(be, d, c->devstate, c->devstate_len, 0);
    if (r < 0)
        return LOG_ERRNO(c->ctx, r, "failover: the secondary guest could not be put back to "
                         "its last checkpoint");
    LOG(c->ctx, INFO, "failover: %" PRIu64 " pages the secondary guest wrote since its last "
        "checkpoint put back", c->restored);
    return 0;
}
