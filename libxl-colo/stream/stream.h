/*
 * stream.h - one authenticated record stream over a connected socket.
 *
 * Sending takes the body straight from the caller's iovecs (no copy) and
 * writes header, body and tag with one sendmsg; a long tagged body goes in
 * slices of 256 KiB, each hashed just before it is written, so that both
 * ends hash at once. Receiving is two steps so that a large body can land where
 * it is needed (the secondary's checkpoint buffer) with one copy:
 * colo_stream_recv_hdr() reads and checks the header (known type, known
 * flags, length within the type's bound), then colo_stream_recv_body()
 * reads the body into the caller's buffer and verifies CRC32C and HMAC.
 * Nothing may use the body before recv_body returns 0 (on a failed check
 * the buffer is zeroed). recv_body must follow every successful recv_hdr,
 * even for an empty body: the tag still has to be read and checked.
 *
 * The stream never reads ahead, so poll() on colo_stream_fd() for POLLIN
 * says truly whether a record is waiting. One thread may send while another
 * receives; two threads must not use the same direction at once.
 *
 * Errors, each logged once with the cause:
 *   -EPIPE        peer closed: at a record boundary (a notice), or inside
 *                 a record ("truncated record", an error: a dead peer
 *                 looks like this; the partial record is never handed out)
 *   -ETIMEDOUT    no data within timeout_ms
 *   -EBADMSG      CRC or HMAC mismatch (replayed, reordered or dropped
 *                 records fail the HMAC)
 *   -EMSGSIZE     length above the type's bound or the caller's buffer
 *   -EPROTO       unknown type, bad flags, bad handshake, wrong version
 *   -EACCES       authentication refused
 *   -ECONNABORTED the peer sent an ERROR record (logged as "peer reported:
 *                 TEXT"; see colo_stream_peer_error)
 *   -ENOTCONN     used before the handshake
 *   -EINVAL       (send) a record a receiver would refuse: unknown type,
 *                 bad flags; HELLO or AUTH after the handshake
 * After an error other than -ETIMEDOUT at a record boundary, the direction
 * is dead: later calls return the same error without logging again.
 * A timeout bounds each wait for data (or, when sending, for room): a peer
 * that makes no progress for that long fails the call.
 */
#ifndef COLO_STREAM_H
#define COLO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "colo-internal.h"
#include "stream/proto.h"

typedef struct colo_stream colo_stream;

struct colo_rec_hdr {
    uint16_t type;
    uint16_t flags;
    uint32_t crc;
    uint64_t length;
};

/* Takes ownership of fd, also on failure. */
int colo_stream_new(libxlcolo_ctx *ctx, int fd, colo_stream **out);
void colo_stream_free(colo_stream *s);
int colo_stream_fd(const colo_stream *s);

/* key NULL means --insecure. Both sides must agree; a side with a key
 * refuses a peer without one, and a side without refuses a peer with one.
 * On success the negotiated version is in *version (may be NULL).
 * Nothing but HELLO/AUTH/ERROR is accepted before this returns 0; on
 * failure the stream is unusable. timeout_ms bounds the whole handshake.
 * A refusal by the peer (its ERROR record) fails with -EACCES or -EPROTO
 * when that is the peer's reason. */
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

/* Bound on each wait for the peer to take data while sending; default
 * -1 (forever). */
void colo_stream_set_send_timeout(colo_stream *s, int timeout_ms);

/* timeout_ms < 0 waits forever. A timeout with nothing read leaves the
 * stream usable. An ERROR record is never handed out: it fails the call
 * with -ECONNABORTED. */
int colo_stream_recv_hdr(colo_stream *s, struct colo_rec_hdr *h, int timeout_ms);
/* dst holds h->length bytes. */
int colo_stream_recv_body(colo_stream *s, const struct colo_rec_hdr *h,
                          void *dst, int timeout_ms);
/* Both, for a record whose body is at most cap bytes (else -EMSGSIZE). */
int colo_stream_recv(colo_stream *s, struct colo_rec_hdr *h, void *body,
                     size_t cap, int timeout_ms);

/* Send an ERROR record {le32 err, text} to tell the peer why we give up;
 * best effort. Returns err. */
int colo_stream_send_error(colo_stream *s, int err, const char *text);

/* Bytes moved (headers, bodies and tags), for status and the bench. Safe
 * to read from any thread. */
uint64_t colo_stream_bytes_sent(const colo_stream *s);
uint64_t colo_stream_bytes_received(const colo_stream *s);

/* The text of the last ERROR record received (printable ASCII), and in
 * *err (may be NULL) the errno it carried; NULL if none came. Valid until
 * the stream is freed. */
const char *colo_stream_peer_error(const colo_stream *s, int *err);

/* Read a key file: 16..4096 bytes of secret, used as they are (a trailing
 * newline is part of the key); refuses a file that is not a regular file
 * or that group or others may read or write (-EPERM). *key is freed (and
 * wiped) by colo_key_free. (key.c) */
int colo_key_load(libxlcolo_ctx *ctx, const char *path, uint8_t **key,
                  size_t *keylen);
void colo_key_free(uint8_t *key, size_t keylen);

#endif
