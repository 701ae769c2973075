/*
 * pages_copy.h - the copies of guest pages in and out of a domain, through
 * the backend's map(): reading a checkpoint's or the pre-copy's pages, and
 * writing a checked PAGES batch (pages_codec.h) into the secondary.
 */
#ifndef COLO_PAGES_COPY_H
#define COLO_PAGES_COPY_H

#include <stdint.h>

#include "backend/backend.h"
#include "stream/pages_codec.h"

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
