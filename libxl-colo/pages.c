/* pages.c - PAGES record codec and the copies in and out of a domain. */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pages.h"

int64_t colo_pages_send(colo_stream *s, uint16_t flags, const uint64_t *pfns,
                        const uint8_t *data, uint64_t count)
{
    int64_t sent = 0;

    while (count > 0) {
        uint32_t n = count > COLO_BATCH_PAGES ? COLO_BATCH_PAGES : (uint32_t)count;
        uint64_t data_pages = 0;
        for (uint32_t i = 0; i < n; i++)
            data_pages += !(pfns[i] & COLO_PFN_ZERO);

        struct colo_wire_pages_hdr h = { .count = n };
        struct iovec iov[3] = {
            { &h, sizeof(h) },
            { (void *)pfns, n * sizeof(uint64_t) },
            { (void *)data, data_pages * COLO_PAGE_SIZE },
        };
        int r = colo_stream_send(s, COLO_REC_PAGES, flags, iov, data_pages ? 3 : 2);
        if (r < 0)
            return r;
        sent += (int64_t)(iov[0].iov_len + iov[1].iov_len + iov[2].iov_len);
        pfns += n;
        data += data_pages * COLO_PAGE_SIZE;
        count -= n;
    }
    return sent;
}

int colo_pages_parse(libxlcolo_ctx *ctx, const uint8_t *body, uint64_t len,
                     uint64_t nr_pages, struct colo_pages_view *v)
{
    struct colo_wire_pages_hdr h;

    if (len < sizeof(h))
        return LOG_ERRNO(ctx, -EBADMSG, "PAGES record of %" PRIu64 " bytes is shorter than its header", len);
    memcpy(&h, body, sizeof(h));
    if (h.count == 0 || h.count > COLO_BATCH_PAGES || h.pad != 0)
        return LOG_ERRNO(ctx, -EBADMSG, "PAGES record with a bad page count %u (1..%u)",
                         h.count, COLO_BATCH_PAGES);
    uint64_t index_end = sizeof(h) + (uint64_t)h.count * sizeof(uint64_t);
    if (index_end > len)
        return LOG_ERRNO(ctx, -EBADMSG, "PAGES record truncated in its pfn list");

    const uint64_t *pfns = (const uint64_t *)(body + sizeof(h));
    uint32_t data_pages = 0;
    for (uint32_t i = 0; i < h.count; i++) {
        uint64_t pfn = pfns[i] & ~COLO_PFN_ZERO;
        if (pfn >= nr_pages)
            return LOG_ERRNO(ctx, -EBADMSG, "PAGES record names pfn 0x%" PRIx64
                             " beyond the guest's %" PRIu64 " pages", pfn, nr_pages);
        data_pages += !(pfns[i] & COLO_PFN_ZERO);
    }
    if (len != index_end + (uint64_t)data_pages * COLO_PAGE_SIZE)
        return LOG_ERRNO(ctx, -EBADMSG, "PAGES record length %" PRIu64
                         " does not match its %u data pages", len, data_pages);
    *v = (struct colo_pages_view){
        .count = h.count,
        .data_pages = data_pages,
        .pfns = pfns,
        .data = body + index_end,
    };
    return 0;
}

int colo_pages_apply(colo_backend *be, colo_dom *d,
                     const struct colo_pages_view *v, uint64_t *skipped)
{
    uint64_t pfns[COLO_BATCH_PAGES];
    void *addr[COLO_BATCH_PAGES];
    int err[COLO_BATCH_PAGES];
    colo_mapping *m = NULL;

    for (uint32_t i = 0; i < v->count; i++)
        pfns[i] = v->pfns[i] & ~COLO_PFN_ZERO;
    int r = colo_be_map(be, d, pfns, v->count, PROT_READ | PROT_WRITE, addr, err, &m);
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
    uint64_t want = pages / COLO_BATCH_PAGES + 2;

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
    void *addr[COLO_BATCH_PAGES];
    int err[COLO_BATCH_PAGES];
    uint64_t in = 0, out = 0;

    while (in < *n) {
        unsigned k = *n - in > COLO_BATCH_PAGES ? COLO_BATCH_PAGES : (unsigned)(*n - in);
        colo_mapping *m = NULL;
        int r = colo_be_map(be, d, pfns + in, k, PROT_READ, addr, err, &m);
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
