/*
 * frame.h - an Ethernet frame parsed with every length checked against
 * the bytes present: an optional 802.1Q (or 802.1ad) tag, then IPv4
 * (options, fragments), IPv6 (extension headers, the fragment header), and
 * TCP, UDP, ICMP or ICMPv6 headers; anything else is a non-IP frame. The
 * result is offsets into the caller's bytes, never a copy.
 */
#ifndef COLO_PROXY_FRAME_H
#define COLO_PROXY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/counters.h"

/* The largest frame taken by default: 64 KiB of IP with its Ethernet
 * header and one tag (a GSO frame from a virtio guest is that big). */
#define COLO_FRAME_MAX (65535u + 18u)

#define COLO_ETH_HLEN 14u
#define COLO_ETH_IPV4 0x0800
#define COLO_ETH_IPV6 0x86dd
#define COLO_ETH_ARP 0x0806

#define COLO_IPPROTO_ICMP 1
#define COLO_IPPROTO_TCP 6
#define COLO_IPPROTO_UDP 17
#define COLO_IPPROTO_ICMPV6 58

#define COLO_TCP_FIN 0x01
#define COLO_TCP_SYN 0x02
#define COLO_TCP_RST 0x04
#define COLO_TCP_PSH 0x08
#define COLO_TCP_ACK 0x10

enum colo_l3 {
    COLO_L3_NONE = 0,   /* not IP: ARP and the rest, compared whole */
    COLO_L3_IPV4 = 4,
    COLO_L3_IPV6 = 6,
};

struct colo_frame {
    uint32_t len;        /* the frame's bytes */
    bool tagged;         /* an 802.1Q/802.1ad tag */
    uint16_t vlan;       /* its VLAN id (12 bits) */
    uint16_t ethertype;  /* after the tag */
    uint32_t l3;         /* offset of what follows the Ethernet header */
    enum colo_l3 ip;
    uint32_t ip_hlen;    /* IPv4: IHL * 4; IPv6: 40 and the extension headers */
    uint32_t ip_end;     /* offset just past the IP packet (its lengths say where) */
    uint8_t src[16], dst[16];  /* IPv4 in the first 4 bytes */
    uint8_t proto;       /* the upper-layer protocol */
    /* Fragments (then nothing past the IP headers is parsed). */
    bool frag;
    bool frag_more;      /* more fragments follow */
    uint32_t frag_off;   /* in bytes */
    uint32_t frag_id;
    uint32_t frag_data;  /* offset of the fragment's data */
    uint32_t frag_hdr;   /* IPv6: offset of the fragment header */
    uint32_t frag_nh;    /* IPv6: offset of the byte that names the fragment header */
    /* The upper layer, when not a fragment. */
    uint32_t l4;         /* offset of the TCP/UDP/ICMP header, or of the payload */
    uint32_t l4_hlen;    /* that header's length (TCP: the data offset) */
    uint16_t sport, dport;
    uint32_t seq, ack;   /* TCP */
    uint8_t tcp_flags;
    uint32_t payload;    /* offset of the upper layer's payload */
    uint32_t payload_len;
};

/* Parse frame[len] into *f: COLO_DROP_NONE or the cause that makes it
 * malformed. len is at most COLO_FRAME_MAX. */
enum colo_drop_cause colo_frame_parse(const uint8_t *frame, size_t len, struct colo_frame *f);

static inline uint16_t colo_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t colo_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void colo_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#endif
