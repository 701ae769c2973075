/*
 * frame-build.h - Ethernet frames for the proxy's tests, built from a
 * spec: IPv4 or IPv6, tagged or not, TCP (with MSS and timestamp options),
 * UDP, ICMP, or any ethertype; with correct checksums; and cut into IP
 * fragments. Shared by the compare engine's unit tests (proxy-util.h) and
 * colo-proxy's feeder (tests/integration/proxy-feed.c); nothing here
 * calls the code under test.
 */
#ifndef FRAME_BUILD_H
#define FRAME_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/frame.h"   /* COLO_IPPROTO_*, COLO_ETH_*: constants only */

#define FRAME_BUF 70000

/* --- building frames ------------------------------------------------------- */

struct spec {
    int ip;                     /* 4, 6, or 0: not IP (ethertype below) */
    bool tagged;
    uint16_t vlan;
    uint16_t ethertype;         /* not IP */
    uint8_t proto;              /* COLO_IPPROTO_* */
    uint8_t src_host, dst_host; /* the last byte of each address */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;              /* TCP */
    uint16_t window;
    bool ts;                    /* a TCP timestamp option */
    uint32_t tsval, tsecr;
    uint16_t mss;               /* a TCP MSS option when not 0 */
    uint16_t ip_id;
    uint32_t flow_label;
    uint8_t ttl;
    bool no_df;                 /* IPv4 without Don't Fragment */
    const void *payload;
    size_t len;
};

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static inline uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static inline size_t eth_header(uint8_t *b, const struct spec *s, uint16_t type)
{
    static const uint8_t dst[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 };
    static const uint8_t src[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
    size_t o = 12;

    memcpy(b, dst, 6);
    memcpy(b + 6, src, 6);
    if (s->tagged) {
        put16(b + 12, 0x8100);
        put16(b + 14, s->vlan);
        o = 16;
    }
    put16(b + o, type);
    return o + 2;
}

static inline void addr(uint8_t *p, int ip, uint8_t host)
{
    if (ip == 4) {
        p[0] = 10; p[1] = 0; p[2] = 0; p[3] = host;
    } else {
        memset(p, 0, 16);
        p[0] = 0xfd; p[15] = host;
    }
}

/* The upper layer at b (its checksum over the pseudo-header); its length. */
static inline size_t l4(uint8_t *b, const struct spec *s, const uint8_t *src, const uint8_t *dst,
                        size_t alen)
{
    size_t h = 0;

    if (s->proto == COLO_IPPROTO_TCP) {
        h = 20;
        uint8_t *o = b + 20;
        if (s->mss) {
            o[0] = 2; o[1] = 4; put16(o + 2, s->mss);
            o += 4; h += 4;
        }
        if (s->ts) {
            o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
            put32(o + 4, s->tsval);
            put32(o + 8, s->tsecr);
            h += 12;
        }
        put16(b, s->sport);
        put16(b + 2, s->dport);
        put32(b + 4, s->seq);
        put32(b + 8, s->ack);
        b[12] = (uint8_t)(h / 4) << 4;
        b[13] = s->flags;
        put16(b + 14, s->window ? s->window : 65535);
        put16(b + 16, 0);
        put16(b + 18, 0);
    } else if (s->proto == COLO_IPPROTO_UDP) {
        h = 8;
        put16(b, s->sport);
        put16(b + 2, s->dport);
        put16(b + 4, (uint16_t)(8 + s->len));
        put16(b + 6, 0);
    } else if (s->proto == COLO_IPPROTO_ICMP || s->proto == COLO_IPPROTO_ICMPV6) {
        h = 8;
        b[0] = s->proto == COLO_IPPROTO_ICMP ? 8 : 128;    /* echo request */
        b[1] = 0;
        put16(b + 2, 0);
        put16(b + 4, s->sport);                           /* id */
        put16(b + 6, s->dport);                           /* sequence */
    }
    if (s->len)
        memcpy(b + h, s->payload, s->len);
    size_t n = h + s->len;
    uint32_t sum = 0;
    if (s->proto != COLO_IPPROTO_ICMP) {                  /* the pseudo-header */
        sum = csum_add(sum, src, alen);
        sum = csum_add(sum, dst, alen);
        sum += s->proto + (uint32_t)n;
    }
    sum = csum_add(sum, b, n);
    if (s->proto == COLO_IPPROTO_TCP)
        put16(b + 16, csum_fold(sum));
    else if (s->proto == COLO_IPPROTO_UDP)
        put16(b + 6, csum_fold(sum));
    else if (s->proto == COLO_IPPROTO_ICMP || s->proto == COLO_IPPROTO_ICMPV6)
        put16(b + 2, csum_fold(sum));
    return n;
}

/* The frame s describes, into b[FRAME_BUF]; its length. */
static inline size_t build(uint8_t *b, const struct spec *s)
{
    if (s->ip == 0) {
        size_t o = eth_header(b, s, s->ethertype);
        if (s->len)
            memcpy(b + o, s->payload, s->len);
        return o + s->len;
    }
    size_t o = eth_header(b, s, s->ip == 4 ? COLO_ETH_IPV4 : COLO_ETH_IPV6);
    uint8_t *ip = b + o;
    if (s->ip == 4) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        put16(ip + 4, s->ip_id);
        put16(ip + 6, s->no_df ? 0 : 0x4000);
        ip[8] = s->ttl ? s->ttl : 64;
        ip[9] = s->proto;
        addr(ip + 12, 4, s->src_host ? s->src_host : 1);
        addr(ip + 16, 4, s->dst_host ? s->dst_host : 2);
        size_t n = l4(ip + 20, s, ip + 12, ip + 16, 4);
        put16(ip + 2, (uint16_t)(20 + n));
        put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
        return o + 20 + n;
    }
    put32(ip, 6u << 28 | (s->flow_label & 0xfffff));
    ip[6] = s->proto;
    ip[7] = s->ttl ? s->ttl : 64;
    addr(ip + 8, 6, s->src_host ? s->src_host : 1);
    addr(ip + 24, 6, s->dst_host ? s->dst_host : 2);
    size_t n = l4(ip + 40, s, ip + 8, ip + 24, 16);
    put16(ip + 4, (uint16_t)n);
    return o + 40 + n;
}

/* A frame, on the heap. */
struct frame {
    uint8_t *d;
    size_t len;
};

static inline struct frame mk(const struct spec *s)
{
    struct frame f = { malloc(FRAME_BUF), 0 };
    if (!f.d)
        abort();
    f.len = build(f.d, s);
    return f;
}

static inline struct frame mk_raw(const uint8_t *d, size_t len)
{
    struct frame f = { malloc(len ? len : 1), len };
    if (!f.d)
        abort();
    memcpy(f.d, d, len);
    return f;
}

/* The IP datagram of frame `whole` (as build() makes it: tagged or not,
 * IPv4 or IPv6 without extension headers) cut into fragments at the data
 * offsets cuts[0..n) (multiples of 8, increasing, none 0), each fragment
 * with IP ID (IPv4) or identification (IPv6) id; out gets n + 1 frames. */
static inline void fragment(const struct frame *whole, const uint32_t *cuts, unsigned n,
                            uint32_t id, struct frame *out)
{
    uint32_t l3 = whole->d[12] == 0x81 && whole->d[13] == 0x00 ? 18 : 14;
    bool v4 = whole->d[l3] >> 4 == 4;
    uint32_t ihl = v4 ? (whole->d[l3] & 0x0fu) * 4 : 40;
    uint32_t hdr = l3 + ihl;
    uint32_t total = (uint32_t)whole->len - hdr;
    for (unsigned i = 0; i <= n; i++) {
        uint32_t from = i ? cuts[i - 1] : 0, to = i < n ? cuts[i] : total;
        uint8_t *b = malloc(FRAME_BUF);
        if (!b)
            abort();
        memcpy(b, whole->d, hdr);
        uint8_t *ip = b + l3;
        size_t len;
        if (v4) {
            put16(ip + 2, (uint16_t)(ihl + to - from));
            put16(ip + 4, (uint16_t)id);
            put16(ip + 6, (uint16_t)((i < n ? 0x2000 : 0) | from / 8));
            put16(ip + 10, 0);
            put16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
            memcpy(b + hdr, whole->d + hdr + from, to - from);
            len = hdr + to - from;
        } else {
            uint8_t *fh = b + hdr;
            fh[0] = ip[6];                                /* what it carries */
            fh[1] = 0;
            put16(fh + 2, (uint16_t)(from | (i < n ? 1 : 0)));
            put32(fh + 4, id);
            ip[6] = 44;
            put16(ip + 4, (uint16_t)(8 + to - from));
            memcpy(b + hdr + 8, whole->d + hdr + from, to - from);
            len = hdr + 8 + to - from;
        }
        out[i] = (struct frame){ b, len };
    }
}

static inline void frame_free(struct frame *f)
{
    free(f->d);
    f->d = NULL;
}

#endif
