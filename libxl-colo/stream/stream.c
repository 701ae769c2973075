/* stream.c - record framing: header, bounds, CRC32C, tags (stream.h).
 * The handshake that sets the keys is in stream-handshake.c.
 *
 * Nothing is read ahead: a record's header is read on its own, and its
 * body and tag land in the caller's buffer, so poll() on the socket tells
 * the truth about what is waiting. Long bodies are checked as they arrive
 * (CRC and HMAC over each chunk while it is still in cache); the verdict is
 * given once the whole record is in. */
#include "config.h"

#include <endian.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "colo-time.h"
#include "stream/crc32c.h"
#include "stream/stream-private.h"

/* Long bodies are hashed in slices of this size, each just before it is
 * written or just after it is read, so that the two ends hash at the same
 * time and the data is still in cache. */
#define CHUNK (256u << 10)

/* Log, and mark a direction dead: its framing or integrity is lost. */
#define RX_FAIL(s, r, ...) ((s)->rx_err = LOG_ERRNO((s)->ctx, (r), __VA_ARGS__))
#define TX_FAIL(s, r, ...) ((s)->tx_err = LOG_ERRNO((s)->ctx, (r), __VA_ARGS__))

static void hdr_pack(uint8_t b[COLO_REC_HDR_LEN], const struct colo_rec_hdr *h)
{
    uint16_t type = htole16(h->type), flags = htole16(h->flags);
    uint32_t crc = htole32(h->crc);
    uint64_t len = htole64(h->length);

    memcpy(b, &type, 2);
    memcpy(b + 2, &flags, 2);
    memcpy(b + 4, &crc, 4);
    memcpy(b + 8, &len, 8);
}

static void hdr_unpack(const uint8_t b[COLO_REC_HDR_LEN], struct colo_rec_hdr *h)
{
    uint16_t type, flags;
    uint32_t crc;
    uint64_t len;

    memcpy(&type, b, 2);
    memcpy(&flags, b + 2, 2);
    memcpy(&crc, b + 4, 4);
    memcpy(&len, b + 8, 8);
    *h = (struct colo_rec_hdr){ le16toh(type), le16toh(flags), le32toh(crc), le64toh(len) };
}

/* CRC of a packed header with its crc field taken as zero. */
static uint32_t hdr_crc(const uint8_t raw[COLO_REC_HDR_LEN])
{
    uint8_t z[COLO_REC_HDR_LEN];

    memcpy(z, raw, sizeof(z));
    memset(z + 4, 0, 4);
    return colo_crc32c(0, z, sizeof(z));
}

/* Start a tag: HMAC(k, le64 seq | header | ...). */
static int tag_begin(colo_hmac *mac, uint64_t seq, const uint8_t raw[COLO_REC_HDR_LEN])
{
    uint64_t le = htole64(seq);
    int r = colo_hmac_reset(mac);

    if (r >= 0)
        r = colo_hmac_update(mac, &le, sizeof(le));
    if (r >= 0)
        r = colo_hmac_update(mac, raw, COLO_REC_HDR_LEN);
    return r;
}

/* The counters are read by other threads (status); one thread writes each. */
static void counter_add(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Wait until fd is ready for events, at most timeout_ms (< 0: forever):
 * 0 also on POLLHUP/POLLERR (the next call says what), or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    return colo_wait_fd(fd, events, colo_deadline_ms(timeout_ms));
}

int colo_stream_new(libxlcolo_ctx *ctx, int fd, colo_stream **out)
{
    _cleanup_close_ int owned = fd;

    if (fd < 0)
        return LOG_ERRNO(ctx, -EBADF, "colo_stream_new: no socket");
    colo_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return LOG_ERRNO(ctx, -ENOMEM, "cannot allocate a stream");
    s->ctx = ctx;
    s->fd = TAKE_FD(owned);
    s->send_timeout_ms = -1;
    *out = s;
    return 0;
}

void colo_stream_free(colo_stream *s)
{
    if (!s)
        return;
    colo_hmac_free(s->tx_mac);
    colo_hmac_free(s->rx_mac);
    free(s->tx_iov);
    closep(&s->fd);
    free(s);
}

int colo_stream_fd(const colo_stream *s)
{
    return s->fd;
}

void colo_stream_set_send_timeout(colo_stream *s, int timeout_ms)
{
    s->send_timeout_ms = timeout_ms;
}

uint64_t colo_stream_bytes_sent(const colo_stream *s)
{
    return __atomic_load_n(&s->bytes_sent, __ATOMIC_RELAXED);
}

uint64_t colo_stream_bytes_received(const colo_stream *s)
{
    return __atomic_load_n(&s->bytes_received, __ATOMIC_RELAXED);
}

const char *colo_stream_peer_error(const colo_stream *s, int *err)
{
    if (err)
        *err = s->peer_errno;
    return s->peer_errno || s->peer_error[0] ? s->peer_error : NULL;
}

/* ---- sending ---- */

/* Write all of iov (our scratch copy, consumed as it goes). */
static int tx_write(colo_stream *s, struct iovec *iov, int iovcnt, const char *name)
{
    while (iovcnt > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)MIN(iovcnt, IOV_MAX) };
        ssize_t n = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return TX_FAIL(s, negative_errno(), "sending record %s failed", name);
            int r = wait_fd(s->fd, POLLOUT, s->send_timeout_ms);
            if (r == -ETIMEDOUT)
                return TX_FAIL(s, r, "sending record %s: the peer took no data for %d ms",
                               name, s->send_timeout_ms);
            if (r < 0)
                return TX_FAIL(s, r, "sending record %s: poll failed", name);
            continue;
        }
        counter_add(&s->bytes_sent, (uint64_t)n);
        size_t left = (size_t)n;
        while (left > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (left) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* A tagged record with a long body: the header, then slices of the body,
 * each hashed just before it is written, then the tag. */
static int tx_sliced(colo_stream *s, uint8_t *raw, const struct iovec *iov, int iovcnt,
                     const char *name)
{
    struct iovec win[64];
    uint8_t tag[COLO_TAG_LEN];
    size_t off = 0;
    int i = 0, r = tag_begin(s->tx_mac, s->tx_seq, raw);

    if (r < 0)
        return LOG_ERRNO(s->ctx, r, "record %s: cannot compute its tag", name);
    win[0] = (struct iovec){ raw, COLO_REC_HDR_LEN }; /* already hashed */
    for (int first = 1; i < iovcnt; first = 0) {
        int n = first;
        size_t bytes = 0;
        while (i < iovcnt && n < (int)ARRAY_SIZE(win) && bytes < CHUNK) {
            size_t take = MIN(iov[i].iov_len - off, CHUNK - bytes);
            if (take)
                win[n++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, take };
            bytes += take;
            off += take;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        r = colo_hmac_updatev(s->tx_mac, win + first, n - first);
        if (r < 0)
            return TX_FAIL(s, r, "record %s: cannot compute its tag", name);
        r = tx_write(s, win, n, name); /* consumes win */
        if (r < 0)
            return r;
    }
    r = colo_hmac_final(s->tx_mac, tag);
    if (r < 0)
        return TX_FAIL(s, r, "record %s: cannot compute its tag", name);
    return tx_write(s, &(struct iovec){ tag, sizeof(tag) }, 1, name);
}

int colo_stream_send_raw(colo_stream *s, uint16_t type, uint16_t flags,
                         const struct iovec *iov, int iovcnt)
{
    const char *name = colo_rec_type_name(type);
    uint64_t max = colo_rec_max_length(type), len = 0;
    uint8_t raw[COLO_REC_HDR_LEN], tag[COLO_TAG_LEN];
    int r;

    if (s->tx_err)
        return s->tx_err;
    if (!max)
        return LOG_ERRNO(s->ctx, -EINVAL, "cannot send unknown record type 0x%04x", type);
    if (flags & ~colo_rec_valid_flags(type))
        return LOG_ERRNO(s->ctx, -EINVAL, "bad flags 0x%x on record %s", flags, name);
    if (iovcnt < 0 || (iovcnt > 0 && !iov) || iovcnt > INT_MAX - 2)
        return LOG_ERRNO(s->ctx, -EINVAL, "record %s: bad iovec", name);
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len > max)
        return LOG_ERRNO(s->ctx, -EMSGSIZE, "record %s length %" PRIu64 " exceeds bound %" PRIu64,
                         name, len, max);

    struct colo_rec_hdr h = { .type = type, .flags = flags, .length = len };
    hdr_pack(raw, &h);
    h.crc = colo_crc32c(0, raw, sizeof(raw));
    for (int i = 0; i < iovcnt; i++)
        h.crc = colo_crc32c(h.crc, iov[i].iov_base, iov[i].iov_len);
    hdr_pack(raw, &h);

    if (s->tx_tagged && len > CHUNK) {
        r = tx_sliced(s, raw, iov, iovcnt, name);
    } else {
        /* One sendmsg: header, the caller's iovecs, tag. */
        if (s->tx_iov_cap < iovcnt + 2) {
            struct iovec *v = reallocarray(s->tx_iov, (size_t)iovcnt + 2, sizeof(*v));
            if (!v)
                return LOG_ERRNO(s->ctx, -ENOMEM, "record %s: cannot allocate its iovec", name);
            s->tx_iov = v;
            s->tx_iov_cap = iovcnt + 2;
        }
        int n = 0;
        s->tx_iov[n++] = (struct iovec){ raw, sizeof(raw) };
        if (iovcnt)
            memcpy(&s->tx_iov[n], iov, (size_t)iovcnt * sizeof(*iov));
        n += iovcnt;
        if (s->tx_tagged) {
            r = tag_begin(s->tx_mac, s->tx_seq, raw);
            if (r >= 0)
                r = colo_hmac_updatev(s->tx_mac, iov, iovcnt);
            if (r >= 0)
                r = colo_hmac_final(s->tx_mac, tag);
            if (r < 0)
                return LOG_ERRNO(s->ctx, r, "record %s: cannot compute its tag", name);
            s->tx_iov[n++] = (struct iovec){ tag, sizeof(tag) };
        }
        r = tx_write(s, s->tx_iov, n, name);
    }
    if (r < 0)
        return r;
    if (s->tx_tagged)
        s->tx_seq++;
    return 0;
}

int colo_stream_send(colo_stream *s, uint16_t type, uint16_t flags,
                     const struct iovec *iov, int iovcnt)
{
    if (!s->ready)
        return LOG_ERRNO(s->ctx, -ENOTCONN, "record %s sent before the handshake",
                         colo_rec_type_name(type));
    if (type == COLO_REC_HELLO || type == COLO_REC_AUTH)
        return LOG_ERRNO(s->ctx, -EINVAL, "record %s belongs to the handshake",
                         colo_rec_type_name(type));
    return colo_stream_send_raw(s, type, flags, iov, iovcnt);
}

int colo_stream_send_buf(colo_stream *s, uint16_t type, uint16_t flags,
                         const void *body, size_t len)
{
    struct iovec iov = { (void *)body, len };
    return colo_stream_send(s, type, flags, &iov, len ? 1 : 0);
}

int colo_stream_send_error(colo_stream *s, int err, const char *text)
{
    uint32_t le = htole32((uint32_t)(err < 0 ? -err : err));
    size_t n = MIN(strlen(text), COLO_MAX_ERROR_BODY - sizeof(le));
    struct iovec iov[] = { { &le, sizeof(le) }, { (void *)text, n } };

    return colo_stream_send_raw(s, COLO_REC_ERROR, 0, iov, 2);
}

/* ---- receiving ---- */

/* One read into iov, waiting up to timeout_ms for data: the byte count,
 * 0 at EOF, or a negative errno (-ETIMEDOUT). */
static ssize_t rx_some(colo_stream *s, struct iovec *iov, int iovcnt, int timeout_ms)
{
    for (;;) {
        struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
        ssize_t n = recvmsg(s->fd, &m, MSG_DONTWAIT);
        if (n >= 0) {
            counter_add(&s->bytes_received, (uint64_t)n);
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return negative_errno();
        /* The handshake's deadline is for all of it, however the peer
         * trickles its bytes. */
        uint64_t deadline = colo_deadline_ms(timeout_ms);
        if (s->rx_deadline && (timeout_ms < 0 || s->rx_deadline < deadline))
            deadline = s->rx_deadline;
        int r = colo_wait_fd(s->fd, POLLIN, deadline);
        if (r < 0)
            return r;
    }
}

/* Read and check a header: known type, flags valid for it, length within
 * its bound, and allowed in this phase. Nothing of the body is read. */
static int rx_header(colo_stream *s, struct colo_rec_hdr *h, int timeout_ms)
{
    size_t got = 0;

    if (s->rx_err)
        return s->rx_err;
    if (s->rx_pending)
        return RX_FAIL(s, -EINVAL, "record header read before the body of %s",
                       colo_rec_type_name(s->rx_hdr.type));
    while (got < COLO_REC_HDR_LEN) {
        struct iovec iov = { s->rx_raw + got, COLO_REC_HDR_LEN - got };
        ssize_t n = rx_some(s, &iov, 1, timeout_ms);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0 && got == 0) {
            colo_log(s->ctx, XTL_NOTICE, -1, "peer closed the connection");
            return s->rx_err = -EPIPE;
        } else if (n == 0) {
            return RX_FAIL(s, -EPIPE, "truncated record");
        } else if (n == -ETIMEDOUT && got == 0) {
            /* Nothing consumed: the stream is still in step. */
            return LOG_ERRNO(s->ctx, -ETIMEDOUT, "no record from the peer within %d ms", timeout_ms);
        } else {
            return RX_FAIL(s, (int)n, "receiving a record header failed");
        }
    }

    hdr_unpack(s->rx_raw, h);
    const char *name = colo_rec_type_name(h->type);
    uint64_t max = colo_rec_max_length(h->type);
    if (!max)
        return RX_FAIL(s, -EPROTO, "unknown record type 0x%04x", h->type);
    if (h->flags & ~colo_rec_valid_flags(h->type))
        return RX_FAIL(s, -EPROTO, "bad flags 0x%x on record %s", h->flags, name);
    if (h->length > max)
        return RX_FAIL(s, -EMSGSIZE, "record %s length %" PRIu64 " exceeds bound %" PRIu64,
                       name, h->length, max);
    if (!s->ready && !colo_rec_is_handshake(h->type))
        return RX_FAIL(s, -EPROTO, "record %s before the end of the handshake", name);
    if (s->ready && (h->type == COLO_REC_HELLO || h->type == COLO_REC_AUTH))
        return RX_FAIL(s, -EPROTO, "record %s after the handshake", name);
    s->rx_hdr = *h;
    s->rx_pending = true;
    return 0;
}

/* Read the pending record's body into dst and its tag, and verify both. */
static int rx_body(colo_stream *s, uint8_t *dst, int timeout_ms)
{
    const struct colo_rec_hdr *h = &s->rx_hdr;
    const char *name = colo_rec_type_name(h->type);
    uint8_t tag[COLO_TAG_LEN], want[COLO_TAG_LEN];
    size_t taglen = s->rx_tagged ? sizeof(tag) : 0, tgot = 0;
    uint64_t got = 0, done = 0;
    uint32_t crc = hdr_crc(s->rx_raw);
    int r = 0;

    s->rx_pending = false;
    if (s->rx_tagged) {
        r = tag_begin(s->rx_mac, s->rx_seq, s->rx_raw);
        if (r < 0)
            return RX_FAIL(s, r, "record %s: cannot compute its tag", name);
    }
    while (got < h->length || tgot < taglen) {
        struct iovec iov[2];
        int n = 0;
        if (got < h->length)
            iov[n++] = (struct iovec){ dst + got, h->length - got };
        if (tgot < taglen)
            iov[n++] = (struct iovec){ tag + tgot, taglen - tgot };
        ssize_t k = rx_some(s, iov, n, timeout_ms);
        if (k == 0) {
            r = RX_FAIL(s, -EPIPE, "truncated record %s (%" PRIu64 " of %" PRIu64 " bytes)",
                        name, got + tgot, h->length + taglen);
            goto fail;
        }
        if (k < 0) {
            r = RX_FAIL(s, (int)k, "receiving the body of record %s failed", name);
            goto fail;
        }
        uint64_t b = MIN((uint64_t)k, h->length - got);
        got += b;
        tgot += (size_t)k - b;
        if (got > done && (got - done >= CHUNK || got == h->length)) {
            crc = colo_crc32c(crc, dst + done, got - done);
            if (s->rx_tagged && (r = colo_hmac_update(s->rx_mac, dst + done, got - done)) < 0) {
                RX_FAIL(s, r, "record %s: cannot compute its tag", name);
                goto fail;
            }
            done = got;
        }
    }

    if (crc != h->crc) {
        r = RX_FAIL(s, -EBADMSG, "record %s failed its CRC32C check", name);
        goto fail;
    }
    if (s->rx_tagged) {
        r = colo_hmac_final(s->rx_mac, want);
        if (r < 0) {
            RX_FAIL(s, r, "record %s: cannot compute its tag", name);
            goto fail;
        }
        if (!colo_hmac_equal(tag, want)) {
            r = RX_FAIL(s, -EBADMSG, "record %s failed authentication", name);
            goto fail;
        }
        s->rx_seq++;
    }
    return 0;

fail:
    if (h->length) /* nobody may use what did not verify */
        memset(dst, 0, h->length);
    return r;
}

/* An ERROR record: take it in, log it and keep it for the caller. */
static int rx_peer_error(colo_stream *s, int timeout_ms)
{
    uint8_t body[COLO_MAX_ERROR_BODY];
    uint32_t le = 0;
    size_t len = s->rx_hdr.length, i = 0;
    int r = rx_body(s, body, timeout_ms);

    if (r < 0)
        return r;
    if (len >= sizeof(le))
        memcpy(&le, body, sizeof(le));
    s->peer_errno = (int)MIN(le32toh(le), 4095u);
    for (size_t j = MIN(len, sizeof(le)); j < len; j++) /* printable only */
        s->peer_error[i++] = body[j] >= 0x20 && body[j] < 0x7f ? (char)body[j] : '?';
    s->peer_error[i] = '\0';
    if (i == 0)
        snprintf(s->peer_error, sizeof(s->peer_error), "error %d", s->peer_errno);
    colo_log(s->ctx, XTL_ERROR, -1, "peer reported: %s", s->peer_error);
    return s->rx_err = -ECONNABORTED;
}

int colo_stream_recv_raw(colo_stream *s, struct colo_rec_hdr *h, void *body,
                         size_t cap, int timeout_ms)
{
    int r = rx_header(s, h, timeout_ms);

    if (r < 0)
        return r;
    if (h->type == COLO_REC_ERROR)
        return rx_peer_error(s, timeout_ms);
    if (h->length > cap)
        return RX_FAIL(s, -EMSGSIZE, "record %s of %" PRIu64 " bytes exceeds the %zu-byte buffer",
                       colo_rec_type_name(h->type), h->length, cap);
    return rx_body(s, body, timeout_ms);
}

int colo_stream_recv_hdr(colo_stream *s, struct colo_rec_hdr *h, int timeout_ms)
{
    if (!s->ready)
        return LOG_ERRNO(s->ctx, -ENOTCONN, "record received before the handshake");
    int r = rx_header(s, h, timeout_ms);
    if (r >= 0 && h->type == COLO_REC_ERROR)
        return rx_peer_error(s, timeout_ms);
    return r;
}

int colo_stream_recv_body(colo_stream *s, const struct colo_rec_hdr *h,
                          void *dst, int timeout_ms)
{
    if (s->rx_err)
        return s->rx_err;
    if (!s->rx_pending || h->type != s->rx_hdr.type || h->length != s->rx_hdr.length ||
        h->flags != s->rx_hdr.flags || h->crc != s->rx_hdr.crc)
        return RX_FAIL(s, -EINVAL, "body of record %s asked without its header",
                       colo_rec_type_name(h->type));
    if (!dst && h->length)
        return RX_FAIL(s, -EINVAL, "no buffer for the body of record %s",
                       colo_rec_type_name(h->type));
    return rx_body(s, dst, timeout_ms);
}

int colo_stream_recv(colo_stream *s, struct colo_rec_hdr *h, void *body,
                     size_t cap, int timeout_ms)
{
    if (!s->ready)
        return LOG_ERRNO(s->ctx, -ENOTCONN, "record received before the handshake");
    return colo_stream_recv_raw(s, h, body, cap, timeout_ms);
}
