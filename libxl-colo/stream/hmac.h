/*
 * hmac.h - HMAC-SHA256 over OpenSSL 3's EVP_MAC, for the stream's tags.
 *
 * A colo_hmac is keyed once (colo_hmac_new) and then computes any number
 * of tags: colo_hmac_reset() starts a message from the keyed state kept
 * inside (the inner and outer pads hashed once, at key time), so per-record
 * setup costs a copy of two SHA-256 states, with no allocation and no key
 * schedule. colo_hmac_dup() makes an independent copy, for a second thread.
 *
 * Every call returns 0 or a negative errno (-ENOMEM, -EIO when OpenSSL
 * refuses); none logs: the caller knows what the tag was for.
 */
#ifndef COLO_HMAC_H
#define COLO_HMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define COLO_HMAC_LEN 32

typedef struct colo_hmac colo_hmac;

/* keylen may be 0. The key bytes are not kept by us (OpenSSL keeps the
 * pads, and wipes them when freed). */
int colo_hmac_new(const void *key, size_t keylen, colo_hmac **out);
int colo_hmac_dup(const colo_hmac *h, colo_hmac **out);
void colo_hmac_free(colo_hmac *h);

/* Start a new message with the same key. A new colo_hmac is already reset. */
int colo_hmac_reset(colo_hmac *h);
int colo_hmac_update(colo_hmac *h, const void *data, size_t len);
int colo_hmac_updatev(colo_hmac *h, const struct iovec *iov, int iovcnt);
/* Writes COLO_HMAC_LEN bytes; reset before the next message. */
int colo_hmac_final(colo_hmac *h, uint8_t tag[COLO_HMAC_LEN]);

/* One shot: tag = HMAC-SHA256(key, iov...). */
int colo_hmac_sha256(const void *key, size_t keylen, const struct iovec *iov,
                     int iovcnt, uint8_t tag[COLO_HMAC_LEN]);

/* Constant-time comparison of two tags. */
bool colo_hmac_equal(const uint8_t a[COLO_HMAC_LEN], const uint8_t b[COLO_HMAC_LEN]);

static inline void colo_hmac_freep(colo_hmac **h) { colo_hmac_free(*h); }
#define _cleanup_hmac_ __attribute__((__cleanup__(colo_hmac_freep)))

#endif
