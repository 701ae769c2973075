/*
 * capture.c - take one checkpoint on the primary.
 *
 * The guest is stopped only for what must be consistent: pulling the dirty
 * log, copying the dirty pages into our buffer, and reading its context and
 * device state. Unmapping the copied frames and sending happen after it runs
 * again (Remus sends so too), and the epoch only counts once the secondary
 * says it holds the whole of it.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "bitmap.h"
#include "backend/digest.h"
#include "engine/pages_copy.h"
#include "engine/primary.h"

int colo_capture_reserve(libxlcolo_ctx *ctx, struct colo_capture *c, uint64_t pages)
{
    if (pages <= c->cap)
        return 0;
    uint64_t cap = MAX(pages, c->cap * 2);
    uint64_t *pfns = realloc(c->pfns, cap * sizeof(*pfns));
    if (!pfns)
        return LOG_ERRNO(ctx, -ENOMEM, "no memory for %" PRIu64 " checkpoint pfns", cap);
    c->pfns = pfns;
    int r = colo_held_maps_reserve(ctx, &c->held, cap);
    if (r < 0)
        return r;
    if (c->data)
        munmap(c->data, c->cap * COLO_PAGE_SIZE);
    c->data = mmap(NULL, cap * COLO_PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (c->data == MAP_FAILED) {
        c->data = NULL;
        c->cap = 0;
        return LOG_ERRNO(ctx, negative_errno(), "no memory for a %" PRIu64 "-page checkpoint buffer", cap);
    }
    c->cap = cap;
    return 0;
}

void colo_capture_free(struct colo_capture *c)
{
    free(c->pfns);
    if (c->data)
        munmap(c->data, c->cap * COLO_PAGE_SIZE);
    free(c->context);
    free(c->devstate);
    colo_held_maps_free(&c->held);
    *c = (struct colo_capture){ 0 };
}

/* Everything done while the guest is stopped. */
static int capture_stopped(colo_primary *p, unsigned long *extra)
{
    struct colo_capture *c = &p->cap;
    uint64_t n = p->info.nr_pages, count = 0, cursor = 0, t0 = colo_now_ns();

    int r = colo_be_logdirty_clean(p->be, p->dom, p->dirty, n, &count, 0);
    if (r < 0)
        return r;
    if (extra)
        count = colo_bitmap_or(p->dirty, extra, n);
    r = colo_capture_reserve(p->ctx, c, count);
    if (r < 0)
        return r;
    c->count = colo_bitmap_take(p->dirty, n, &cursor, c->pfns, (unsigned)MIN(count, UINT32_MAX));
    r = colo_pages_read(p->be, p->dom, c->pfns, &c->count, c->data, &c->skipped, &c->held);
    if (r < 0)
        return r;
    uint64_t t1 = colo_now_ns();
    c->copy_ns = t1 - t0;

    free(c->context);
    c->context = NULL;
    ssize_t len = colo_be_context_get(p->be, p->dom, &c->context, 0);
    if (len < 0)
        return (int)len;
    c->context_len = (size_t)len;

    free(c->devstate);
    c->devstate = NULL;
    len = colo_be_devstate_save(p->be, p->dom, &c->devstate, 0);
    if (len < 0)
        return (int)len;
    c->devstate_len = (size_t)len;
    c->state_ns = colo_now_ns() - t1;

    c->has_digest = p->opt->verify;
    c->verify_ns = 0;
    if (c->has_digest) {
        uint64_t t2 = colo_now_ns();
        r = colo_be_digest(p->be, p->dom, c->digest, 0);
        c->verify_ns = colo_now_ns() - t2;
    }
    return r;
}

int colo_capture_checkpoint(colo_primary *p, unsigned long *extra)
{
    /* Grow the buffer while the guest still runs, with headroom for what it
     * dirties before the stop: a reservation inside the pause costs more
     * than the copy. */
    uint64_t expect = 0;
    int r = colo_be_logdirty_peek(p->be, p->dom, NULL, p->info.nr_pages, &expect, 0);
    if (r < 0)
        return r;
    if (extra)
        expect += colo_bitmap_weight(extra, p->info.nr_pages);
    r = colo_capture_reserve(p->ctx, &p->cap, MIN(expect + expect / 4 + 1024, p->info.nr_pages));
    if (r < 0)
        return r;

    uint64_t t0 = colo_now_ns();
    r = colo_be_pause(p->be, p->dom, COLO_PAUSE_CHECKPOINT);
    if (r < 0)
        return r;
    p->paused_by_us = true;
    p->cap.stop_ns = colo_now_ns() - t0;
    p->cap.skipped = 0;
    r = capture_stopped(p, extra);
    int r2 = colo_be_unpause(p->be, p->dom, COLO_PAUSE_CHECKPOINT);
    if (r2 == 0)
        p->paused_by_us = false;
    p->cap.pause_ns = colo_now_ns() - t0;
    colo_held_maps_release(p->be, p->dom, &p->cap.held);
    return r < 0 ? r : r2;
}

int colo_capture_send(colo_primary *p, uint64_t epoch, uint64_t *bytes)
{
    struct colo_capture *c = &p->cap;
    int r = colo_link_send_epoch(p->s, COLO_REC_VMSTATE_SEND, epoch);
    if (r < 0)
        return r;
    int64_t sent = colo_pages_send(p->s, COLO_REC_F_NONE, c->pfns, c->data, c->count);
    if (sent < 0)
        return (int)sent;
    r = colo_stream_send_buf(p->s, COLO_REC_CONTEXT, 0, c->context, c->context_len);
    if (r < 0)
        return r;
    r = colo_stream_send_buf(p->s, COLO_REC_DEVSTATE, 0, c->devstate, c->devstate_len);
    if (r < 0)
        return r;
    uint64_t total = (uint64_t)sent + c->context_len + c->devstate_len;
    struct colo_wire_vmstate_size sz = {
        .epoch = epoch,
        .pages = c->count,
        .bytes = total,
        .flags = c->has_digest ? COLO_VMSTATE_F_DIGEST : 0,
    };
    if (c->has_digest)
        memcpy(sz.digest, c->digest, sizeof(sz.digest));
    r = colo_stream_send_buf(p->s, COLO_REC_VMSTATE_SIZE, 0, &sz, sizeof(sz));
    if (r < 0)
        return r;
    *bytes = total;
    return 0;
}
