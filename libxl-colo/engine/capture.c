/*
 * capture.c - take one checkpoint out of a guest (see capture.h).
 *
 * The guest is stopped only for what must be consistent: pulling the dirty
 * log, copying the dirty pages into the buffer, and reading its context and
 * device state. Unmapping the copied frames happens after it runs again,
 * and so does the sending, by the caller (Remus sends so too).
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "bitmap.h"
#include "backend/digest.h"
#include "engine/capture.h"

int colo_capture_buf_init(struct colo_capture_buf *b, uint64_t nr_pages)
{
    *b = (struct colo_capture_buf){ .nr_pages = nr_pages };
    b->dirty = colo_bitmap_alloc(nr_pages);
    return b->dirty ? 0 : -ENOMEM;
}

int colo_capture_buf_reserve(libxlcolo_ctx *ctx, struct colo_capture_buf *b, uint64_t pages)
{
    if (pages <= b->cap)
        return 0;
    uint64_t cap = MAX(pages, b->cap * 2);
    uint64_t *pfns = realloc(b->pfns, cap * sizeof(*pfns));
    if (!pfns)
        return LOG_ERRNO(ctx, -ENOMEM, "no memory for %" PRIu64 " checkpoint pfns", cap);
    b->pfns = pfns;
    int r = colo_held_maps_reserve(ctx, &b->held, cap);
    if (r < 0)
        return r;
    if (b->data)
        munmap(b->data, b->cap * COLO_PAGE_SIZE);
    b->data = mmap(NULL, cap * COLO_PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (b->data == MAP_FAILED) {
        b->data = NULL;
        b->cap = 0;
        return LOG_ERRNO(ctx, negative_errno(), "no memory for a %" PRIu64 "-page checkpoint buffer", cap);
    }
    b->cap = cap;
    return 0;
}

void colo_capture_buf_free(struct colo_capture_buf *b)
{
    free(b->dirty);
    free(b->pfns);
    if (b->data)
        munmap(b->data, b->cap * COLO_PAGE_SIZE);
    colo_held_maps_free(&b->held);
    *b = (struct colo_capture_buf){ 0 };
}

void colo_capture_free(struct colo_capture *c)
{
    free(c->context);
    free(c->devstate);
    *c = (struct colo_capture){ 0 };
}

/* Everything done while the guest is stopped. */
static int capture_stopped(colo_backend *be, colo_dom *dom, const unsigned long *extra,
                           bool verify, struct colo_capture_buf *b, struct colo_capture *c)
{
    uint64_t n = b->nr_pages, count = 0, cursor = 0, t0 = colo_now_ns();

    int r = colo_be_logdirty_clean(be, dom, b->dirty, n, &count, 0);
    if (r < 0)
        return r;
    if (extra)
        count = colo_bitmap_or(b->dirty, extra, n);
    r = colo_capture_buf_reserve(be->ctx, b, count);
    if (r < 0)
        return r;
    c->count = colo_bitmap_take(b->dirty, n, &cursor, b->pfns, (unsigned)MIN(count, UINT32_MAX));
    c->pfns = b->pfns;
    c->data = b->data;
    r = colo_pages_read(be, dom, b->pfns, &c->count, b->data, &c->skipped, &b->held);
    if (r < 0)
        return r;
    uint64_t t1 = colo_now_ns();
    c->copy_ns = t1 - t0;

    free(c->context);
    c->context = NULL;
    ssize_t len = colo_be_context_get(be, dom, &c->context, 0);
    if (len < 0)
        return (int)len;
    c->context_len = (size_t)len;

    free(c->devstate);
    c->devstate = NULL;
    len = colo_be_devstate_save(be, dom, &c->devstate, 0);
    if (len < 0)
        return (int)len;
    c->devstate_len = (size_t)len;
    c->state_ns = colo_now_ns() - t1;

    c->has_digest = verify;
    c->verify_ns = 0;
    if (c->has_digest) {
        uint64_t t2 = colo_now_ns();
        r = colo_be_digest(be, dom, c->digest, 0);
        c->verify_ns = colo_now_ns() - t2;
    }
    return r;
}

int colo_capture_take(colo_backend *be, colo_dom *dom, const unsigned long *extra,
                      bool verify, bool hold, struct colo_capture_buf *buf,
                      struct colo_capture *c)
{
    /* Grow the buffer while the guest still runs, with headroom for what it
     * dirties before the stop: a reservation inside the pause costs more
     * than the copy. */
    uint64_t expect = 0;
    c->paused = false;
    c->pfns = NULL;
    c->data = NULL;
    c->count = 0;
    int r = colo_be_logdirty_peek(be, dom, NULL, buf->nr_pages, &expect, 0);
    if (r < 0)
        return r;
    if (extra)
        expect += colo_bitmap_weight(extra, buf->nr_pages);
    r = colo_capture_buf_reserve(be->ctx, buf, MIN(expect + expect / 4 + 1024, buf->nr_pages));
    if (r < 0)
        return r;

    uint64_t t0 = colo_now_ns();
    r = colo_be_pause(be, dom, COLO_PAUSE_CHECKPOINT);
    if (r < 0)
        return r;
    c->paused = true;
    c->stop_ns = colo_now_ns() - t0;
    c->skipped = 0;
    r = capture_stopped(be, dom, extra, verify, buf, c);
    int r2 = 0;
    if (!hold) {
        r2 = colo_be_unpause(be, dom, COLO_PAUSE_CHECKPOINT);
        if (r2 == 0)
            c->paused = false;
    }
    c->pause_ns = colo_now_ns() - t0;
    colo_held_maps_release(be, dom, &buf->held);
    return r < 0 ? r : r2;
}
