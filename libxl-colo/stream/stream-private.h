/* stream-private.h - the stream's state, shared by stream.c (framing) and
 * stream-handshake.c (HELLO/AUTH). Not for the rest of the engine. */
#ifndef COLO_STREAM_PRIVATE_H
#define COLO_STREAM_PRIVATE_H

#include "stream/hmac.h"
#include "stream/stream.h"

struct colo_stream {
    libxlcolo_ctx *ctx;
    int fd;
    bool ready;         /* handshake done: records other than HELLO/AUTH flow */
    bool secure;        /* a key was used: records carry tags once tagged */
    unsigned version;
    int send_timeout_ms;

    /* Sending. One thread at a time. */
    bool tx_tagged;     /* records we send carry a tag */
    colo_hmac *tx_mac;  /* keyed with the session key of our direction */
    uint64_t tx_seq;
    int tx_err;         /* a send failed part-way: the direction is dead */
    struct iovec *tx_iov;
    int tx_iov_cap;
    uint64_t bytes_sent;

    /* Receiving. One thread at a time (may differ from the sender). */
    bool rx_tagged;
    colo_hmac *rx_mac;
    uint64_t rx_seq;
    int rx_err;         /* framing or integrity lost: the direction is dead */
    uint64_t rx_deadline; /* the handshake's: no wait for data goes past it (0: none) */
    bool rx_pending;    /* a header was handed out, its body is due */
    struct colo_rec_hdr rx_hdr;
    uint8_t rx_raw[COLO_REC_HDR_LEN];
    uint64_t bytes_received;

    int peer_errno;     /* from the last ERROR record, 0 if none */
    char peer_error[COLO_MAX_ERROR_BODY + 1];
};

/* Only these records may cross before the handshake is done. */
static inline bool colo_rec_is_handshake(uint16_t type)
{
    return type == COLO_REC_HELLO || type == COLO_REC_AUTH || type == COLO_REC_ERROR;
}

/* Framing without the "handshake done" checks, for the handshake. */
int colo_stream_send_raw(colo_stream *s, uint16_t type, uint16_t flags,
                         const struct iovec *iov, int iovcnt);
int colo_stream_recv_raw(colo_stream *s, struct colo_rec_hdr *h, void *body,
                         size_t cap, int timeout_ms);

#endif
