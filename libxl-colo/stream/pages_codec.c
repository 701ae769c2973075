/* pages_codec.c - PAGES records on the wire: send and check (see pages_codec.h). */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "stream/pages_codec.h"

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
        if (data_pages) /* data may be NULL when every page is zero: NULL + 0 is UB */
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
    *v = colo_pages_view_at(body, h.count, data_pages);
    return 0;
}
