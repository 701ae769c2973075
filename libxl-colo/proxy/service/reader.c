/* reader.c - colo-compare's framing, bounded (reader.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "proxy/service/reader.h"

static const char *const drop_names[PROXY_DROP__MAX] = {
    [PROXY_DROP_EMPTY] = "empty",
    [PROXY_DROP_TOO_BIG] = "too-big",
    [PROXY_DROP_BAD_VNET] = "bad-vnet-length",
    [PROXY_DROP_CUT_HEADER] = "cut-header",
    [PROXY_DROP_CUT_FRAME] = "cut-frame",
};

const char *proxy_drop_name(enum proxy_drop d)
{
    return d < PROXY_DROP__MAX ? drop_names[d] : "?";
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t hdr_len(const struct proxy_reader *r)
{
    return r->vnet ? 8 : 4;
}

int proxy_reader_init(struct proxy_reader *r, bool vnet, uint32_t max_frame)
{
    memset(r, 0, sizeof(*r));
    r->vnet = vnet;
    r->max_frame = max_frame;
    /* Room for a whole record, and for many small ones per read. */
    r->cap = MAX((size_t)256 << 10, 2 * ((size_t)max_frame + PROXY_VNET_HDR_MAX + 8));
    r->buf = malloc(r->cap);
    return r->buf ? 0 : -ENOMEM;
}

void proxy_reader_fini(struct proxy_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

void proxy_reader_reset(struct proxy_reader *r)
{
    r->start = r->end = 0;
    r->skip = 0;
}

void proxy_reader_eof(struct proxy_reader *r)
{
    size_t have = r->end - r->start;

    if (r->skip == 0 && have > 0) {
        r->records++;
        r->drops[have < hdr_len(r) ? PROXY_DROP_CUT_HEADER : PROXY_DROP_CUT_FRAME]++;
    }
    proxy_reader_reset(r);
}

/* The records in buf[start, end), as far as they are whole. */
static void parse(struct proxy_reader *r, proxy_frame_cb *cb, void *opaque)
{
    size_t h = hdr_len(r);

    for (;;) {
        size_t have = r->end - r->start;
        if (r->skip) {
            size_t n = r->skip < have ? (size_t)r->skip : have;
            r->start += n;
            r->skip -= n;
            if (r->skip)
                break;
            continue;
        }
        if (have < h)
            break;
        const uint8_t *p = r->buf + r->start;
        uint32_t len = be32(p), vlen = r->vnet ? be32(p + 4) : 0;
        int cause = -1;
        if (vlen > PROXY_VNET_HDR_MAX || vlen > len)
            cause = PROXY_DROP_BAD_VNET;
        else if (len == vlen)
            cause = PROXY_DROP_EMPTY;
        else if (len - vlen > r->max_frame)
            cause = PROXY_DROP_TOO_BIG;
        if (cause >= 0) {
            r->records++;
            r->drops[cause]++;
            r->start += h;
            r->skip = len;
            continue;
        }
        if (have < h + len)
            break;
        r->records++;
        r->frames++;
        r->start += h + len;
        cb(opaque, p + h + vlen, len - vlen);
    }
    if (r->start == r->end)
        r->start = r->end = 0;
}

int proxy_reader_read(struct proxy_reader *r, int fd, proxy_frame_cb *cb, void *opaque)
{
    /* Keep room for a whole record after what is buffered. */
    if (r->start && r->cap - r->end < (size_t)r->max_frame + PROXY_VNET_HDR_MAX + 8) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    ssize_t n = read(fd, r->buf + r->end, r->cap - r->end);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : negative_errno();
    if (n == 0) {
        proxy_reader_eof(r);
        return 1;
    }
    r->bytes += (uint64_t)n;
    r->end += (size_t)n;
    parse(r, cb, opaque);
    return 0;
}
