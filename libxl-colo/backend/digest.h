/*
 * digest.h - one digest of a guest's memory and context, the same wherever
 * it is computed (the engine, the sim guest's own `hash`, tests).
 *
 *   SHA-256( for each pfn, ascending, whose page is not all zero:
 *                le64 pfn | 4096 page bytes
 *            then le64 context length | context bytes )
 *
 * All-zero pages are skipped so that a sparse guest and a fully written copy
 * of it agree.
 */
#ifndef COLO_DIGEST_H
#define COLO_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLO_DIGEST_LEN 32

typedef struct colo_digest colo_digest;

int colo_digest_new(colo_digest **out);
void colo_digest_free(colo_digest *d);
/* Pages in ascending pfn order; an all-zero page is skipped. */
void colo_digest_page(colo_digest *d, uint64_t pfn, const void *page);
void colo_digest_context(colo_digest *d, const void *ctx, size_t len);
void colo_digest_final(colo_digest *d, uint8_t out[COLO_DIGEST_LEN]);

bool colo_page_is_zero(const void *page);
/* out: 65 bytes, lowercase hex and NUL. */
void colo_digest_hex(const uint8_t digest[COLO_DIGEST_LEN], char *out);

#endif
