/*
 * pages_codec.h - PAGES records on the wire: sending a batch of pages and
 * checking a received body. The copies in and out of a domain are the
 * engine's (pages_copy.h).
 *
 * Body: le32 count | le32 pad | le64 pfn[count] | page data. A pfn with
 * COLO_PFN_ZERO set is an all-zero page and has no data; every other pfn
 * has 4096 bytes, in order.
 */
#ifndef COLO_PAGES_CODEC_H
#define COLO_PAGES_CODEC_H

#include <stdint.h>

#include "page.h"
#include "stream/stream.h"

#define COLO_PFN_ZERO (1ull << 63)

/* Send count pages as PAGES records of at most COLO_BATCH_PAGES each.
 * pfns[i] (may carry COLO_PFN_ZERO) pairs with the next data page in data
 * (zero pages take no data). Returns body bytes sent or -errno. */
int64_t colo_pages_send(colo_stream *s, uint16_t flags, const uint64_t *pfns,
                        const uint8_t *data, uint64_t count);

/* A checked view of one PAGES body. */
struct colo_pages_view {
    uint32_t count;
    uint32_t data_pages;
    const uint64_t *pfns;  /* unaligned-safe: the body is 8-aligned */
    const uint8_t *data;
};

/* Check a received body against the domain's size. -EBADMSG with one log
 * line on any inconsistency; nothing is written. */
int colo_pages_parse(libxlcolo_ctx *ctx, const uint8_t *body, uint64_t len,
                     uint64_t nr_pages, struct colo_pages_view *v);

/* The view of a body that colo_pages_parse() has checked, from the count
 * and data_pages it found, at the body's place now (a buffer may have
 * moved since): nothing is checked again. */
static inline struct colo_pages_view colo_pages_view_at(const uint8_t *body, uint32_t count,
                                                        uint32_t data_pages)
{
    const uint8_t *pfns = body + sizeof(struct colo_wire_pages_hdr);
    return (struct colo_pages_view){
        .count = count,
        .data_pages = data_pages,
        .pfns = (const uint64_t *)pfns,
        .data = pfns + (uint64_t)count * sizeof(uint64_t),
    };
}

#endif
