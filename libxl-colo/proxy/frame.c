/* frame.c - Ethernet, 802.1Q, IPv4, IPv6, TCP, UDP and ICMP headers,
 * parsed with bounds (frame.h). */
#include "config.h"

#include <string.h>

#include "proxy/frame.h"

/* The most IPv6 extension headers walked before the frame is refused: a
 * legitimate packet has a handful. */
#define EXT_HEADERS_MAX 8

/* Short frames are padded to the Ethernet minimum (60 bytes, 64 with a
 * tag). Bytes past the IP packet are allowed only as that padding and
 * only as zeros: anything else would reach the client uncompared. */
#define ETH_MIN_TAGGED 64u

static enum colo_drop_cause check_trailer(const uint8_t *d, const struct colo_frame *f)
{
    if (f->ip_end == f->len)
        return COLO_DROP_NONE;
    if (f->len > ETH_MIN_TAGGED)
        return COLO_DROP_BAD_PADDING;
    for (uint32_t i = f->ip_end; i < f->len; i++)
        if (d[i])
            return COLO_DROP_BAD_PADDING;
    return COLO_DROP_NONE;
}

static enum colo_drop_cause parse_ipv4(const uint8_t *d, struct colo_frame *f)
{
    const uint8_t *ip = d + f->l3;
    uint32_t room = f->len - f->l3;

    if (room < 20)
        return COLO_DROP_TRUNCATED;
    if (ip[0] >> 4 != 4)
        return COLO_DROP_BAD_IP_VERSION;
    uint32_t ihl = (ip[0] & 0x0fu) * 4;
    if (ihl < 20 || ihl > room)
        return COLO_DROP_BAD_IHL;
    uint32_t total = colo_be16(ip + 2);
    if (total < ihl || total > room)
        return COLO_DROP_BAD_IP_LENGTH;
    f->ip = COLO_L3_IPV4;
    f->ip_hlen = ihl;
    f->ip_end = f->l3 + total;
    f->proto = ip[9];
    memcpy(f->src, ip + 12, 4);
    memcpy(f->dst, ip + 16, 4);
    uint16_t fl = colo_be16(ip + 6);
    f->frag_more = fl & 0x2000;
    f->frag_off = (fl & 0x1fffu) * 8;
    f->frag = f->frag_more || f->frag_off;
    f->l4 = f->l3 + ihl;
    if (f->frag) {
        uint32_t n = total - ihl;
        f->frag_id = colo_be16(ip + 4);
        f->frag_data = f->l4;
        /* Every piece but the last carries a multiple of 8 bytes, and the
         * whole datagram stays within 64 KiB. */
        if ((f->frag_more && (n == 0 || n % 8)) || ihl + f->frag_off + n > 65535)
            return COLO_DROP_BAD_FRAG;
    }
    return check_trailer(d, f);
}

static enum colo_drop_cause parse_ipv6(const uint8_t *d, struct colo_frame *f)
{
    const uint8_t *ip = d + f->l3;
    uint32_t room = f->len - f->l3;

    if (room < 40)
        return COLO_DROP_TRUNCATED;
    if (ip[0] >> 4 != 6)
        return COLO_DROP_BAD_IP_VERSION;
    uint32_t plen = colo_be16(ip + 4);
    if (40 + plen > room)
        return COLO_DROP_BAD_IPV6_LENGTH;
    f->ip = COLO_L3_IPV6;
    f->ip_end = f->l3 + 40 + plen;
    memcpy(f->src, ip + 8, 16);
    memcpy(f->dst, ip + 24, 16);

    uint8_t nh = ip[6];
    uint32_t nh_at = f->l3 + 6;     /* the byte that names the next header */
    uint32_t off = f->l3 + 40;
    for (unsigned n = 0;; n++) {
        if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60 && nh != 135)
            break;                  /* an upper layer (or 59, no next header) */
        if (n == EXT_HEADERS_MAX || f->ip_end - off < 8)
            return COLO_DROP_BAD_EXT_HEADER;
        const uint8_t *h = d + off;
        uint32_t hlen;
        if (nh == 44) {
            if (f->frag)
                return COLO_DROP_BAD_EXT_HEADER;    /* two fragment headers */
            hlen = 8;
            f->frag = true;
            f->frag_hdr = off;
            f->frag_nh = nh_at;
            f->frag_off = colo_be16(h + 2) & ~7u;
            f->frag_more = h[3] & 1;
            f->frag_id = colo_be32(h + 4);
        } else if (nh == 51) {
            hlen = ((uint32_t)h[1] + 2) * 4;
        } else {
            hlen = ((uint32_t)h[1] + 1) * 8;
        }
        if (hlen > f->ip_end - off)
            return COLO_DROP_BAD_EXT_HEADER;
        nh_at = off;
        nh = h[0];
        off += hlen;
        if (f->frag)
            break;                  /* what follows is the fragment's data */
    }
    f->proto = nh;
    f->ip_hlen = off - f->l3;
    f->l4 = off;
    if (f->frag) {
        uint32_t n = f->ip_end - off;
        f->frag_data = off;
        /* A lone fragment header (offset 0, no more) is an atomic
         * fragment: the whole datagram, still reassembled as one piece. */
        if ((f->frag_more && (n == 0 || n % 8)) || f->frag_off + n > 65535)
            return COLO_DROP_BAD_FRAG;
    }
    return check_trailer(d, f);
}

static enum colo_drop_cause parse_l4(const uint8_t *d, struct colo_frame *f)
{
    const uint8_t *h = d + f->l4;
    uint32_t room = f->ip_end - f->l4;

    switch (f->proto) {
    case COLO_IPPROTO_TCP: {
        if (room < 20)
            return COLO_DROP_TRUNCATED;
        uint32_t doff = (uint32_t)(h[12] >> 4) * 4;
        if (doff < 20 || doff > room)
            return COLO_DROP_BAD_TCP_OFFSET;
        f->sport = colo_be16(h);
        f->dport = colo_be16(h + 2);
        f->seq = colo_be32(h + 4);
        f->ack = colo_be32(h + 8);
        f->tcp_flags = h[13];
        f->l4_hlen = doff;
        break;
    }
    case COLO_IPPROTO_UDP:
        if (room < 8)
            return COLO_DROP_TRUNCATED;
        if (colo_be16(h + 4) != room)
            return COLO_DROP_BAD_UDP_LENGTH;
        f->sport = colo_be16(h);
        f->dport = colo_be16(h + 2);
        f->l4_hlen = 8;
        break;
    case COLO_IPPROTO_ICMP:
    case COLO_IPPROTO_ICMPV6:
        if (room < 4)
            return COLO_DROP_TRUNCATED;
        f->l4_hlen = 4;
        break;
    default:
        f->l4_hlen = 0;
        break;
    }
    f->payload = f->l4 + f->l4_hlen;
    f->payload_len = f->ip_end - f->payload;
    return COLO_DROP_NONE;
}

enum colo_drop_cause colo_frame_parse(const uint8_t *d, size_t len, struct colo_frame *f)
{
    memset(f, 0, sizeof(*f));
    if (len == 0)
        return COLO_DROP_EMPTY;
    if (len > COLO_FRAME_MAX)
        return COLO_DROP_TOO_BIG;
    f->len = (uint32_t)len;
    if (len < COLO_ETH_HLEN)
        return COLO_DROP_RUNT;
    f->ethertype = colo_be16(d + 12);
    f->l3 = COLO_ETH_HLEN;
    if (f->ethertype == 0x8100 || f->ethertype == 0x88a8) {
        if (len < COLO_ETH_HLEN + 4)
            return COLO_DROP_RUNT;
        f->tagged = true;
        f->vlan = colo_be16(d + 14) & 0x0fff;
        f->ethertype = colo_be16(d + 16);
        f->l3 += 4;
    }
    f->ip_end = f->len;
    enum colo_drop_cause r;
    if (f->ethertype == COLO_ETH_IPV4)
        r = parse_ipv4(d, f);
    else if (f->ethertype == COLO_ETH_IPV6)
        r = parse_ipv6(d, f);
    else
        return COLO_DROP_NONE;      /* non-IP: compared whole */
    if (r != COLO_DROP_NONE || f->frag)
        return r;
    return parse_l4(d, f);
}
