/*
 * pages.h - PAGES records: building them from a capture, checking them, and
 * writing them into a domain.
 *
 * Body: le32 count | le32 pad | le64 pfn[count] | page data. A pfn with
 * COLO_PFN_ZERO set is an all-zero page and has no data; every other pfn
 * has 4096 bytes, in order.
 */
#ifndef COLO_PAGES_H
#define COLO_PAGES_H

#include <stdint.h>

#include "backend.h"
#include "stream.h"

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

/* Write a checked batch into the domain (map writable, copy, unmap).
 * Frames the backend cannot map are counted in *skipped. */
int colo_pages_apply(colo_backend *be, colo_dom *d,
                     const struct colo_pages_view *v, uint64_t *skipped);

/* Mappings kept past a copy. A checkpoint unmaps only once the guest runs
 * again: on Xen each unmap costs hypercalls, which need not stop the guest. */
struct colo_held_maps {
    colo_mapping **m;
    unsigned n, cap;
};
/* Room to hold the mappings of a copy of pages pages, made beforehand. */
int colo_held_maps_reserve(libxlcolo_ctx *ctx, struct colo_held_maps *h, uint64_t pages);
void colo_held_maps_release(colo_backend *be, colo_dom *d, struct colo_held_maps *h);
void colo_held_maps_free(struct colo_held_maps *h);

/* Copy *n pages of a paused or running domain into dst (*n * 4096 bytes),
 * mapping read-only in batches. A frame the backend cannot map is dropped:
 * pfns and dst are compacted in place, *n becomes the number kept, and the
 * dropped are counted in *skipped. What a domain cannot map (a hole in its
 * pfn space, xen's xenstore and console rings, shared_info) is no page of
 * the guest: sent as zeros, it would make the secondary populate a frame
 * the primary lacks, or overwrite one the secondary owns.
 * With hold, mappings go there while it has room (release them later);
 * without, each batch is unmapped at once. */
int colo_pages_read(colo_backend *be, colo_dom *d, uint64_t *pfns, uint64_t *n,
                    uint8_t *dst, uint64_t *skipped, struct colo_held_maps *hold);

#endif
