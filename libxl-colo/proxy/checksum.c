/* checksum.c - a TCP or UDP checksum, filled in (checksum.h). */
#include "config.h"

#include "proxy/checksum.h"

static uint32_t sum16(uint32_t s, const uint8_t *p, uint32_t n)
{
    for (; n > 1; p += 2, n -= 2)
        s += (uint32_t)(p[0] << 8 | p[1]);
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

bool colo_l4_checksum_fill(uint8_t *frame, const struct colo_frame *f)
{
    if (f->frag || (f->proto != COLO_IPPROTO_TCP && f->proto != COLO_IPPROTO_UDP) ||
        (f->ip != COLO_L3_IPV4 && f->ip != COLO_L3_IPV6) || f->ip_end <= f->l4)
        return false;
    uint32_t len = f->ip_end - f->l4, at = f->proto == COLO_IPPROTO_TCP ? 16 : 6;
    if (len < at + 2)
        return false;
    uint8_t *l4 = frame + f->l4;
    l4[at] = l4[at + 1] = 0;
    /* The pseudo-header: the addresses, the protocol, the length. */
    unsigned alen = f->ip == COLO_L3_IPV4 ? 4 : 16;
    uint32_t s = sum16(0, f->src, alen);
    s = sum16(s, f->dst, alen);
    s += f->proto;
    s += len >> 16;
    s += len & 0xffff;
    s = sum16(s, l4, len);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    uint16_t c = (uint16_t)~s;
    if (c == 0 && f->proto == COLO_IPPROTO_UDP)
        c = 0xffff;     /* UDP's zero means "no checksum" */
    l4[at] = (uint8_t)(c >> 8);
    l4[at + 1] = (uint8_t)c;
    return true;
}
