/*
 * staging.h - the secondary's buffer for one checkpoint.
 *
 * Records of an epoch land here, straight from the socket, and are applied
 * only once VMSTATE_SIZE has arrived and matches: a torn checkpoint is never
 * applied. The buffer never grows past a bound fixed by the guest's size.
 * Each body is checked once, when it is committed; the apply writes what
 * that check found.
 *
 * The initial sync's pre-copy pages (PAGES records flagged
 * COLO_REC_F_PRECOPY, sent while the guest runs, before epoch 0) take the
 * same check and the same write, one record at a time
 * (colo_staging_apply_now): the pre-copy can be the whole guest, and
 * staging it would hold a second copy of the guest in memory. Writing them
 * at once leaves no torn state that could run: each record is whole (CRC,
 * HMAC, then the check) before a byte of it is written; the secondary's
 * guest is built paused and runs only from a consistent state, which is
 * epoch 0, the stop-and-copy of all the pre-copy missed, staged whole and
 * applied only once its VMSTATE_SIZE matches. A primary lost before that
 * leaves no consistent state, and the secondary is destroyed, never run.
 */
#ifndef COLO_STAGING_H
#define COLO_STAGING_H

#include "backend/backend.h"
#include "engine/pages_copy.h"

struct colo_staged_rec {
    uint16_t type;
    uint32_t count, data_pages; /* PAGES: what the check found */
    uint64_t off, len;
};

typedef struct {
    libxlcolo_ctx *ctx;
    uint64_t nr_pages;
    uint64_t limit;           /* bytes */
    uint8_t *buf;
    uint64_t used, cap;
    struct colo_staged_rec *recs;
    size_t nrecs, recs_cap;
    uint64_t epoch;
    uint64_t pages;           /* data + zero pages staged */
    uint64_t body_bytes;
    bool open;                /* between VMSTATE_SEND and VMSTATE_SIZE */
} colo_staging;

void colo_staging_init(colo_staging *st, libxlcolo_ctx *ctx, uint64_t nr_pages);
void colo_staging_free(colo_staging *st);
void colo_staging_begin(colo_staging *st, uint64_t epoch);
void colo_staging_discard(colo_staging *st);
/* Room for a record body of len bytes: returns where to receive it, or
 * NULL (logged, *err set) past the bound. commit() keeps it once verified. */
uint8_t *colo_staging_reserve(colo_staging *st, uint64_t len, int *err);
/* Check the body just received where reserve() said (a PAGES body against
 * the guest's size, and the checkpoint's page count against it too) and
 * keep it: -EBADMSG or -EMSGSIZE, logged, when it does not hold. */
int colo_staging_commit(colo_staging *st, uint16_t type, uint64_t len);
/* Write the whole checkpoint into the domain, as committed. */
int colo_staging_apply(colo_staging *st, colo_backend *be, colo_dom *d,
                       bool (*interrupt)(void *), void *opaque);
/* A record outside any checkpoint (a pre-copy PAGES record), received
 * where reserve() said: checked as commit() checks, then written into the
 * domain at once by the apply's own code, and not kept. Nothing is
 * written if the check fails. */
int colo_staging_apply_now(colo_staging *st, colo_backend *be, colo_dom *d,
                           uint16_t type, uint64_t len);

/* What the last applied checkpoint holds, until the next begin(), for a
 * running COLO secondary's cache (colo_cache.h): the body of its last
 * record of type (true), and its pages written into mem (nr_pages pages,
 * indexed by pfn). */
bool colo_staging_find(const colo_staging *st, uint16_t type, const uint8_t **body, size_t *len);
void colo_staging_copy_pages(const colo_staging *st, uint8_t *mem);

#endif
