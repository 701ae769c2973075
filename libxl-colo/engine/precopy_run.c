/*
 * precopy_run.c - the initial live sync: copy the running guest, iterate on
 * what it dirties, then stop-and-copy as checkpoint epoch 0.
 */
#include "config.h"

#include <string.h>

#include "bitmap.h"
#include "backend/digest.h"
#include "engine/pages_copy.h"
#include "engine/precopy.h"
#include "engine/primary.h"

#define PRECOPY_CHUNK 16384 /* pages sent between two looks at the estimate */

/* Send up to PRECOPY_CHUNK queued pages from the running guest, zero pages
 * as markers, frames that cannot be mapped not at all. Returns the pages
 * taken from the queue. */
static int64_t precopy_send_chunk(colo_primary *p, uint64_t *cursor, uint64_t *queued)
{
    struct colo_capture_buf *c = &p->buf; /* scratch until the next capture */
    uint64_t taken = colo_bitmap_take(p->queue, p->info.nr_pages, cursor, c->pfns,
                                      (unsigned)MIN(c->cap, PRECOPY_CHUNK));
    if (taken == 0)
        return 0;
    uint64_t n = taken, skipped = 0; /* n: less the frames that cannot be mapped */
    int r = colo_pages_read(p->be, p->dom, c->pfns, &n, c->data, &skipped, NULL);
    if (r < 0)
        return r;

    /* Drop the data of zero pages: the pfn keeps a marker. */
    uint64_t out = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *src = c->data + i * COLO_PAGE_SIZE;
        if (colo_page_is_zero(src)) {
            c->pfns[i] |= COLO_PFN_ZERO;
            continue;
        }
        if (out != i)
            memcpy(c->data + out * COLO_PAGE_SIZE, src, COLO_PAGE_SIZE);
        out++;
    }
    int64_t sent = n ? colo_pages_send(p->s, COLO_REC_F_PRECOPY, c->pfns, c->data, n) : 0;
    if (sent < 0)
        return sent;
    *queued -= taken;
    return (int64_t)taken;
}

int colo_primary_initial_sync(colo_primary *p)
{
    uint64_t n = p->info.nr_pages, queued, cursor = 0, sent_round = 0, peek = 0;
    unsigned round = 1;
    colo_precopy pc;
    int r;

    colo_precopy_init(&pc, p->opt->precopy_threshold, p->opt->precopy_max_rounds);
    colo_primary_set_state(p, LIBXLCOLO_STATE_PRECOPY);

    /* Round 1 is every populated pfn; log-dirty is already on. */
    r = colo_be_populated(p->be, p->dom, p->queue, n, 0);
    if (r < 0)
        return r;
    queued = colo_bitmap_weight(p->queue, n);
    r = colo_capture_buf_reserve(p->ctx, &p->buf, PRECOPY_CHUNK);
    if (r < 0)
        return r;

    for (;;) {
        r = colo_be_logdirty_peek(p->be, p->dom, NULL, n, &peek, 0);
        if (r < 0)
            return r;
        colo_precopy_action a = colo_precopy_step(&pc, queued, peek);

        if (a == COLO_PRECOPY_SEND) {
            int64_t k = precopy_send_chunk(p, &cursor, &queued);
            if (k < 0)
                return (int)k;
            sent_round += (uint64_t)k;
            colo_primary_poll_control(p);
            if (p->stop || p->failover_asked)
                return -ECANCELED;
            continue;
        }
        /* A round ends: report it. */
        libxlcolo_event ev = {
            .type = LIBXLCOLO_EVENT_PRECOPY_ROUND,
            .role = LIBXLCOLO_ROLE_PRIMARY,
            .state = LIBXLCOLO_STATE_PRECOPY,
            .round = round,
            .pages = sent_round,
            .estimate = pc.estimate,
        };
        colo_emit(p->ctx, &ev);
        if (a == COLO_PRECOPY_STOP)
            break;

        /* SYNC or EXACT: pay for the CLEAN, queue what it returns. */
        uint64_t count;
        r = colo_be_logdirty_clean(p->be, p->dom, p->buf.dirty, n, &count, 0);
        if (r < 0)
            return r;
        queued = colo_bitmap_or(p->queue, p->buf.dirty, n);
        cursor = 0;
        sent_round = 0;
        round++;
        if (colo_precopy_synced(&pc, a, queued) == COLO_PRECOPY_STOP)
            break;
    }

    /* Stop-and-copy: what is still queued plus what the stop's CLEAN finds. */
    r = colo_primary_checkpoint(p, p->queue);
    colo_bitmap_clear_all(p->queue, n);
    return r;
}
