/*
 * outq.h - the frames released to the client, framed as colo-compare
 * writes them (be32 length, with --vnet-hdr a be32 vnet header length of
 * 0, then the frame), queued in one buffer and written in as few write()s
 * as the socket takes.
 *
 * The queue grows as the engine releases; the daemon stops reading the
 * primary while more than PROXY_OUTQ_HIGH bytes wait (the socket's
 * back-pressure, passed on), so what it holds past that is at most what
 * the engine held, and the engine's memory is bounded. A frame that
 * would pass the queue's hard limit is dropped, and counted.
 */
#ifndef COLO_PROXY_OUTQ_H
#define COLO_PROXY_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_OUTQ_HIGH ((size_t)1 << 20)

struct proxy_outq {
    bool vnet;
    uint8_t *buf;
    size_t cap, start, end;     /* queued bytes at buf[start, end) */
    size_t head;                /* where the first frame not wholly written starts */
    size_t limit;               /* never more queued than this */
    uint64_t queued;            /* frames in the queue (the first maybe half written) */
    uint64_t frames, bytes;     /* frames written whole, and their frame bytes */
    uint64_t overflow;          /* frames dropped: the queue at its limit */
};

void proxy_outq_init(struct proxy_outq *q, bool vnet, size_t limit);
void proxy_outq_fini(struct proxy_outq *q);

static inline size_t proxy_outq_len(const struct proxy_outq *q)
{
    return q->end - q->start;
}

/* Queue frame[len]: 0, or -ENOSPC/-ENOMEM (dropped, counted). */
int proxy_outq_put(struct proxy_outq *q, const uint8_t *frame, size_t len);

/* Write what the socket takes: 0 (all written, or the socket is full:
 * poll for POLLOUT), or -errno (the peer is gone). */
int proxy_outq_flush(struct proxy_outq *q, int fd);

/* Forget what is queued (the peer went): the frames it held. */
uint64_t proxy_outq_clear(struct proxy_outq *q);

/* Move the first frames of from (a queue never flushed to a socket) to
 * the end of to, in order: n of them. What to cannot take is dropped
 * and counted there. */
void proxy_outq_move(struct proxy_outq *from, uint64_t n, struct proxy_outq *to);

#endif
