/* normalise.c - packet equality with what legitimately differs masked
 * (normalise.h). */
#include "config.h"

#include <string.h>

#include "proxy/normalise.h"

static bool same(const uint8_t *a, const uint8_t *b, uint32_t from, uint32_t to)
{
    return to <= from || memcmp(a + from, b + from, to - from) == 0;
}

/* The IP headers: IPv4 without its ID (4-5) and checksum (10-11), IPv6
 * without its flow label (the low nibble of byte 1, bytes 2-3) and with
 * its extension headers. */
static bool ip_header_equal(const uint8_t *a, const uint8_t *b, const struct colo_frame *f)
{
    const uint8_t *x = a + f->l3, *y = b + f->l3;

    if (f->ip == COLO_L3_IPV4)
        return same(x, y, 0, 4) && same(x, y, 6, 10) && same(x, y, 12, f->ip_hlen);
    return x[0] == y[0] && (x[1] & 0xf0) == (y[1] & 0xf0) && same(x, y, 4, f->ip_hlen);
}

/* The upper layer's header without its checksum. */
static bool l4_header_equal(const uint8_t *a, const uint8_t *b, const struct colo_frame *f)
{
    const uint8_t *x = a + f->l4, *y = b + f->l4;

    switch (f->proto) {
    case COLO_IPPROTO_UDP:
        return same(x, y, 0, 6);
    case COLO_IPPROTO_ICMP:
    case COLO_IPPROTO_ICMPV6:
        return same(x, y, 0, 2);
    default:
        return same(x, y, 0, f->l4_hlen);
    }
}

bool colo_packet_equal(const uint8_t *a, const struct colo_frame *fa,
                       const uint8_t *b, const struct colo_frame *fb)
{
    if (fa->ip != fb->ip || fa->l3 != fb->l3)
        return false;
    if (fa->ip == COLO_L3_NONE)
        return fa->len == fb->len && memcmp(a, b, fa->len) == 0;
    /* Equal offsets throughout: then one frame's offsets serve both. */
    if (fa->ip_end != fb->ip_end || fa->ip_hlen != fb->ip_hlen || fa->l4 != fb->l4 ||
        fa->l4_hlen != fb->l4_hlen || fa->proto != fb->proto)
        return false;
    return same(a, b, 0, fa->l3) && ip_header_equal(a, b, fa) && l4_header_equal(a, b, fa) &&
           same(a, b, fa->payload, fa->ip_end);
}

void colo_tcp_options_normalise(const uint8_t *opt, uint32_t n, uint8_t *out)
{
    memcpy(out, opt, n);
    for (uint32_t i = 0; i < n;) {
        uint8_t kind = opt[i];
        if (kind == 0)
            break;                  /* end of options */
        if (kind == 1) {
            i++;                    /* no-op */
            continue;
        }
        if (n - i < 2 || opt[i + 1] < 2 || opt[i + 1] > n - i)
            break;                  /* malformed: the rest compares raw */
        if (kind == 8 && opt[i + 1] == 10)
            memset(out + i + 2, 0, 8);  /* TSval and TSecr */
        i += opt[i + 1];
    }
}
