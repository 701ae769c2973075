/*
 * colo_cache.h - a running COLO secondary's way back to its last
 * checkpoint: a copy of the guest's memory, context and device state as of
 * that checkpoint (QEMU's colo_cache). Between checkpoints the secondary
 * guest runs, and log-dirty records what it writes.
 *
 * At each checkpoint, the guest stopped: the pages it dirtied itself are
 * put back from the cache (colo_cache_revert), the primary's checkpoint is
 * applied as on a paused secondary, and the cache takes the primary's
 * pages, context and device state (colo_cache_take). The guest is then an
 * exact copy of the primary, although it ran. At failover the guest is
 * put back the same way, context and device state too
 * (colo_cache_rewind): it runs from the last checkpoint, as a paused
 * secondary would.
 *
 * Why a cache and not libxl's union (the secondary's bitmap sent to the
 * primary, which sends the union back): the cache costs memory, the
 * guest's size again, and a local copy of the secondary's own dirty pages
 * inside the pause; the union costs the network and the primary a read of
 * those pages in its pause, and a round trip more per checkpoint.
 * docs/operator-guide.md has the figures.
 */
#ifndef COLO_ENGINE_COLO_CACHE_H
#define COLO_ENGINE_COLO_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "engine/staging.h"

typedef struct {
    libxlcolo_ctx *ctx;
    uint64_t nr_pages;
    uint8_t *mem;               /* nr_pages pages: the last checkpoint's memory */
    unsigned long *own;         /* the secondary's dirty pages, taken at a revert */
    uint8_t *context, *devstate;
    size_t context_len, devstate_len;
    uint64_t restored;          /* pages put back at the last revert */
    uint64_t restored_total;
} colo_cache;

/* After epoch 0 is applied, the guest stopped: copy its memory, keep the
 * epoch's context and device state (from st), turn log-dirty on. 0 or
 * -errno (said). */
int colo_cache_init(colo_cache *c, libxlcolo_ctx *ctx, colo_backend *be, colo_dom *d,
                    uint64_t nr_pages, const colo_staging *st);
void colo_cache_free(colo_cache *c);

/* The guest stopped: put back every page it dirtied since the last
 * checkpoint. */
int colo_cache_revert(colo_cache *c, colo_backend *be, colo_dom *d);
/* After a checkpoint was applied: the cache becomes it (st's pages,
 * context and device state). */
int colo_cache_take(colo_cache *c, const colo_staging *st);
/* Failover: the guest stopped, put back as of the last checkpoint,
 * memory, context and device state. */
int colo_cache_rewind(colo_cache *c, colo_backend *be, colo_dom *d);

#endif
