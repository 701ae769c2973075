/* staging.c - buffer a checkpoint whole, then apply it (see staging.h). */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "engine/staging.h"

void colo_staging_init(colo_staging *st, libxlcolo_ctx *ctx, uint64_t nr_pages)
{
    *st = (colo_staging){ .ctx = ctx, .nr_pages = nr_pages };
    /* Every page once with its pfn, per-batch headers, context, devstate. */
    st->limit = nr_pages * (COLO_PAGE_SIZE + 8) +
                DIV_ROUND_UP(nr_pages, COLO_BATCH_PAGES) * 16 +
                COLO_MAX_CONTEXT_BODY + COLO_MAX_DEVSTATE_BODY;
}

void colo_staging_free(colo_staging *st)
{
    if (st->buf)
        munmap(st->buf, st->cap);
    free(st->recs);
    *st = (colo_staging){ 0 };
}

void colo_staging_begin(colo_staging *st, uint64_t epoch)
{
    st->used = 0;
    st->nrecs = 0;
    st->pages = 0;
    st->body_bytes = 0;
    st->epoch = epoch;
    st->open = true;
}

void colo_staging_discard(colo_staging *st)
{
    st->open = false;
    st->used = 0;
    st->nrecs = 0;
}

uint8_t *colo_staging_reserve(colo_staging *st, uint64_t len, int *err)
{
    uint64_t need = ((st->used + 7) & ~7ull) + len;
    if (need > st->limit) {
        *err = LOG_ERRNO(st->ctx, -EMSGSIZE, "checkpoint %" PRIu64 " exceeds %" PRIu64
                         " bytes, more than the guest's %" PRIu64 " pages can need",
                         st->epoch, st->limit, st->nr_pages);
        return NULL;
    }
    if (need > st->cap) {
        uint64_t cap = MAX(need, MIN(st->cap * 2, st->limit));
        cap = (cap + 0xfffff) & ~0xfffffull;
        void *nb = st->buf ? mremap(st->buf, st->cap, cap, MREMAP_MAYMOVE)
                           : mmap(NULL, cap, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (nb == MAP_FAILED) {
            *err = LOG_ERRNO(st->ctx, negative_errno(), "no memory to stage %" PRIu64 " bytes", cap);
            return NULL;
        }
        st->buf = nb;
        st->cap = cap;
    }
    st->used = (st->used + 7) & ~7ull;
    return st->buf + st->used;
}

/* The one check of a received body, at st->buf + st->used: a PAGES body is
 * parsed here and only here, and rec keeps what the parse found. */
static int staging_check(colo_staging *st, uint16_t type, uint64_t len,
                         struct colo_staged_rec *rec)
{
    *rec = (struct colo_staged_rec){ .type = type, .off = st->used, .len = len };
    if (type != COLO_REC_PAGES)
        return 0;
    struct colo_pages_view v;
    int r = colo_pages_parse(st->ctx, st->buf + st->used, len, st->nr_pages, &v);
    if (r < 0)
        return r;
    rec->count = v.count;
    rec->data_pages = v.data_pages;
    return 0;
}

/* Write one checked record into the domain: checkpoints and pre-copy alike. */
static int staging_write(colo_staging *st, colo_backend *be, colo_dom *d,
                         const struct colo_staged_rec *rec, uint64_t *skipped)
{
    const uint8_t *body = st->buf + rec->off;

    switch (rec->type) {
    case COLO_REC_PAGES: {
        struct colo_pages_view v = colo_pages_view_at(body, rec->count, rec->data_pages);
        return colo_pages_apply(be, d, &v, skipped);
    }
    case COLO_REC_CONTEXT:
        return colo_be_context_set(be, d, body, rec->len, 0);
    case COLO_REC_DEVSTATE:
        return rec->len ? colo_be_devstate_load(be, d, body, rec->len, 0) : 0;
    }
    return 0;
}

int colo_staging_commit(colo_staging *st, uint16_t type, uint64_t len)
{
    if (st->nrecs == st->recs_cap) {
        size_t cap = st->recs_cap ? st->recs_cap * 2 : 64;
        struct colo_staged_rec *r = realloc(st->recs, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        st->recs = r;
        st->recs_cap = cap;
    }
    struct colo_staged_rec rec;
    int r = staging_check(st, type, len, &rec);
    if (r < 0)
        return r;
    if (type == COLO_REC_PAGES) {
        st->pages += rec.count;
        if (st->pages > st->nr_pages)
            return LOG_ERRNO(st->ctx, -EMSGSIZE, "checkpoint %" PRIu64 " carries more pages than the guest has",
                             st->epoch);
    }
    st->recs[st->nrecs++] = rec;
    st->used += len;
    st->body_bytes += len;
    return 0;
}

int colo_staging_apply(colo_staging *st, colo_backend *be, colo_dom *d,
                       bool (*interrupt)(void *), void *opaque)
{
    uint64_t skipped = 0;
    int r = 0;

    for (size_t i = 0; i < st->nrecs && r == 0; i++) {
        if (interrupt)
            interrupt(opaque);
        r = staging_write(st, be, d, &st->recs[i], &skipped);
    }
    if (skipped)
        LOG(st->ctx, DETAIL, "checkpoint %" PRIu64 ": %" PRIu64 " frames not mappable, skipped",
            st->epoch, skipped);
    st->open = false;
    return r;
}

int colo_staging_apply_now(colo_staging *st, colo_backend *be, colo_dom *d,
                           uint16_t type, uint64_t len)
{
    struct colo_staged_rec rec;
    uint64_t skipped = 0; /* pre-copy: frames not mappable are no page of the guest */
    int r = staging_check(st, type, len, &rec);
    return r < 0 ? r : staging_write(st, be, d, &rec, &skipped);
}

bool colo_staging_find(const colo_staging *st, uint16_t type, const uint8_t **body, size_t *len)
{
    for (size_t i = st->nrecs; i-- > 0;)
        if (st->recs[i].type == type) {
            *body = st->buf + st->recs[i].off;
            *len = st->recs[i].len;
            return true;
        }
    return false;
}

void colo_staging_copy_pages(const colo_staging *st, uint8_t *mem)
{
    for (size_t i = 0; i < st->nrecs; i++) {
        const struct colo_staged_rec *rec = &st->recs[i];
        if (rec->type != COLO_REC_PAGES)
            continue;
        struct colo_pages_view v = colo_pages_view_at(st->buf + rec->off, rec->count,
                                                      rec->data_pages);
        const uint8_t *src = v.data;
        for (uint32_t k = 0; k < v.count; k++) {
            uint64_t pfn;
            memcpy(&pfn, &v.pfns[k], sizeof(pfn));
            bool zero = pfn & COLO_PFN_ZERO;
            uint8_t *dst = mem + (pfn & ~COLO_PFN_ZERO) * COLO_PAGE_SIZE;
            if (zero) {
                memset(dst, 0, COLO_PAGE_SIZE);
            } else {
                memcpy(dst, src, COLO_PAGE_SIZE);
                src += COLO_PAGE_SIZE;
            }
        }
    }
}
