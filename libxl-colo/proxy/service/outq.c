/* outq.c - the queue to the client (outq.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "proxy/service/outq.h"

/* Its buffer shrinks back to this once drained. */
#define OUTQ_KEEP ((size_t)4 << 20)

void proxy_outq_init(struct proxy_outq *q, bool vnet, size_t limit)
{
    memset(q, 0, sizeof(*q));
    q->vnet = vnet;
    q->limit = limit;
}

void proxy_outq_fini(struct proxy_outq *q)
{
    free(q->buf);
    q->buf = NULL;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Room for n more bytes at the end. */
static int reserve(struct proxy_outq *q, size_t n)
{
    if (q->cap - q->end >= n)
        return 0;
    if (q->head) {
        memmove(q->buf, q->buf + q->head, q->end - q->head);
        q->end -= q->head;
        q->start -= q->head;
        q->head = 0;
        if (q->cap - q->end >= n)
            return 0;
    }
    size_t cap = q->cap ? q->cap : (size_t)256 << 10;
    while (cap - q->end < n)
        cap *= 2;
    uint8_t *b = realloc(q->buf, cap);
    if (!b)
        return -ENOMEM;
    q->buf = b;
    q->cap = cap;
    return 0;
}

int proxy_outq_put(struct proxy_outq *q, const uint8_t *frame, size_t len)
{
    size_t h = q->vnet ? 8 : 4;

    if (proxy_outq_len(q) + h + len > q->limit) {
        q->overflow++;
        return -ENOSPC;
    }
    if (reserve(q, h + len) < 0) {
        q->overflow++;
        return -ENOMEM;
    }
    uint8_t *p = q->buf + q->end;
    put_be32(p, (uint32_t)len);
    if (q->vnet)
        put_be32(p + 4, 0);
    memcpy(p + h, frame, len);
    q->end += h + len;
    q->queued++;
    return 0;
}

int proxy_outq_flush(struct proxy_outq *q, int fd)
{
    while (q->start < q->end) {
        ssize_t n = send(fd, q->buf + q->start, q->end - q->start, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return negative_errno();
        }
        q->start += (size_t)n;
        /* Count the frames now wholly written. */
        size_t h = q->vnet ? 8 : 4;
        while (q->head + h <= q->start) {
            size_t len = be32(q->buf + q->head);
            if (q->head + h + len > q->start)
                break;
            q->head += h + len;
            q->queued--;
            q->frames++;
            q->bytes += len;
        }
    }
    q->start = q->end = q->head = 0;
    if (q->cap > OUTQ_KEEP) {
        free(q->buf);
        q->buf = NULL;
        q->cap = 0;
    }
    return 0;
}

void proxy_outq_move(struct proxy_outq *from, uint64_t n, struct proxy_outq *to)
{
    size_t h = from->vnet ? 8 : 4;

    for (; n && from->queued; n--) {
        size_t len = be32(from->buf + from->start);
        proxy_outq_put(to, from->buf + from->start + h, len);
        from->start += h + len;
        from->head = from->start;
        from->queued--;
        from->frames++;
        from->bytes += len;
    }
    if (from->start == from->end) {
        from->start = from->end = from->head = 0;
        if (from->cap > OUTQ_KEEP) {
            free(from->buf);
            from->buf = NULL;
            from->cap = 0;
        }
    }
}

uint64_t proxy_outq_clear(struct proxy_outq *q)
{
    uint64_t n = q->queued;

    q->start = q->end = q->head = 0;
    q->queued = 0;
    return n;
}
