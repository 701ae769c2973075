/*
 * stream.h - one authenticated record stream over a connected socket.
 *
 * Sending gathers the body from iovecs and writes header, body and tag in
 * one writev. Receiving is two steps so that a large body can land where
 * it is needed (the secondary's checkpoint buffer) with one copy:
 * colo_stream_recv_hdr() reads and checks the header (known type, known
 * flags, length within the type's bound), then colo_stream_recv_body()
 * reads the body into the caller's buffer and verifies CRC32C and HMAC.
 * Nothing may use the body before recv_body returns 0.
 *
 * Errors, each logged once with the cause:
 *   -EPIPE      peer closed (EOF at a record boundary)
 *   -ETIMEDOUT  no data within timeout_ms
 *   -EBADMSG    CRC or HMAC mismatch, truncated record
 *   -EMSGSIZE   length above the type's bound
 *   -EPROTO     unknown type, bad flags, bad handshake, wrong version
 *   -EACCES     authentication refused
 */
#ifndef COLO_STREAM_H
#define COLO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "colo-internal.h"
#include "proto.h"

typedef struct colo_stream colo_stream;

struct colo_rec_hdr {
    uint16_t type;
    uint16_t flags;
    uint32_t crc;
    uint64_t length;
};

/* Takes ownership of fd. */
int colo_stream_new(libxlcolo_ctx *ctx, int fd, colo_stream **out);
void colo_stream_free(colo_stream *s);
int colo_stream_fd(const colo_stream *s);

/* key NULL means --insecure. Both sides must agree; a side with a key
 * refuses a peer without one. On success the negotiated version is in
 * *version. Nothing but HELLO/AUTH is accepted before this returns 0. */
int colo_stream_handshake_client(colo_stream *s, const uint8_t *key,
                                 size_t keylen, int timeout_ms,
                                 unsigned *version);
int colo_stream_handshake_server(colo_stream *s, const uint8_t *key,
                                 size_t keylen, int timeout_ms,
                                 unsigned *version);

int colo_stream_send(colo_stream *s, uint16_t type, uint16_t flags,
                     const struct iovec *iov, int iovcnt);
/* A record with a small body. */
int colo_stream_send_buf(colo_stream *s, uint16_t type, uint16_t flags,
                         const void *body, size_t len);

/* timeout_ms < 0 waits forever. */
int colo_stream_recv_hdr(colo_stream *s, struct colo_rec_hdr *h, int timeout_ms);
/* dst holds h->length bytes. */
int colo_stream_recv_body(colo_stream *s, const struct colo_rec_hdr *h,
                          void *dst, int timeout_ms);
/* Both, for a record whose body is at most cap bytes (else -EMSGSIZE). */
int colo_stream_recv(colo_stream *s, struct colo_rec_hdr *h, void *body,
                     size_t cap, int timeout_ms);

/* Records/bytes moved, for status and the bench. */
uint64_t colo_stream_bytes_sent(const colo_stream *s);
uint64_t colo_stream_bytes_received(const colo_stream *s);

/* Read a key file: 16..4096 bytes of secret; refuses a file readable by
 * group or others. *key is freed (and wiped) by colo_key_free. */
int colo_key_load(libxlcolo_ctx *ctx, const char *path, uint8_t **key,
                  size_t *keylen);
void colo_key_free(uint8_t *key, size_t keylen);

#endif
