/*
 * capture.h - take one checkpoint out of a guest, on the primary.
 *
 * In go the backend, the domain and a capture buffer; out comes a capture:
 * the dirty pages (in the buffer), the context, the device state, the
 * digest and the pause's timings. A capture neither sends nor knows the
 * primary: checkpoint.c sends it.
 */
#ifndef COLO_CAPTURE_H
#define COLO_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "engine/pages_copy.h"

/* What a capture writes into, kept from one checkpoint to the next so that
 * nothing is allocated while the guest is stopped. Its owner (the primary)
 * may use dirty, pfns and data as scratch between captures (the pre-copy
 * does). */
struct colo_capture_buf {
    uint64_t nr_pages;          /* the guest's size: dirty has as many bits */
    unsigned long *dirty;       /* the log-dirty CLEAN lands here */
    uint64_t *pfns;
    uint8_t *data;              /* cap pages */
    uint64_t cap;               /* capacity of pfns and data, in pages */
    struct colo_held_maps held; /* the stop's mappings, unmapped after it */
};

/* For a guest of nr_pages: the dirty bitmap; pfns and data come with
 * colo_capture_buf_reserve(). -ENOMEM. */
int colo_capture_buf_init(struct colo_capture_buf *b, uint64_t nr_pages);
/* Room for pages pages at least (it grows by doubling, and never shrinks). */
int colo_capture_buf_reserve(libxlcolo_ctx *ctx, struct colo_capture_buf *b, uint64_t pages);
void colo_capture_buf_free(struct colo_capture_buf *b);

/* One checkpoint as captured while the guest was stopped. */
struct colo_capture {
    const uint64_t *pfns;   /* count pfns, in the buffer: valid until its next use */
    const uint8_t *data;    /* count pages, in pfns order, in the buffer */
    uint64_t count;
    uint8_t *context;       /* owned, freed by the next capture or colo_capture_free() */
    size_t context_len;
    uint8_t *devstate;      /* owned, likewise */
    size_t devstate_len;
    bool has_digest;
    uint8_t digest[LIBXLCOLO_DIGEST_LEN];
    uint64_t pause_ns;
    uint64_t verify_ns;
    uint64_t stop_ns, copy_ns, state_ns; /* of pause_ns: see libxlcolo_event */
    uint64_t skipped;       /* frames the backend could not map */
    bool paused;            /* the guest is still stopped: its restart failed */
};

/* Stop the guest, pull its dirty log (ORed with extra, if not NULL), copy
 * the dirty pages into buf, read the context, the device state and (with
 * verify) the digest, restart the guest, and only then release the
 * mappings. The buffer is grown, from the log-dirty estimate, before the
 * stop. Whatever fails, c->paused tells whether the guest was left stopped
 * by COLO_PAUSE_CHECKPOINT: then its owner must restart it. With hold, the
 * guest is left stopped on success too (c->paused), for its owner to
 * restart: a guest with replicated disks stays stopped until the secondary
 * has checkpointed them, as no write of the next epoch may reach the
 * secondary's disk before its checkpoint. */
int colo_capture_take(colo_backend *be, colo_dom *dom, const unsigned long *extra,
                      bool verify, bool hold, struct colo_capture_buf *buf,
                      struct colo_capture *c);
void colo_capture_free(struct colo_capture *c);

#endif
