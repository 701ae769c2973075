/*
 * staging.h - the secondary's buffer for one checkpoint.
 *
 * Records of an epoch land here, straight from the socket, and are applied
 * only once VMSTATE_SIZE has arrived and matches: a torn checkpoint is never
 * applied. The buffer never grows past a bound fixed by the guest's size.
 */
#ifndef COLO_STAGING_H
#define COLO_STAGING_H

#include "backend/backend.h"
#include "engine/pages_copy.h"

struct colo_staged_rec {
    uint16_t type;
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
int colo_staging_commit(colo_staging *st, uint16_t type, uint64_t len);
/* Write the whole checkpoint into the domain. */
int colo_staging_apply(colo_staging *st, colo_backend *be, colo_dom *d,
                       bool (*interrupt)(void *), void *opaque);

#endif
