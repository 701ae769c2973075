/*
 * normalise.h - what two identical guests may legitimately send
 * differently, masked before a compare: the IPv4 ID and header checksum,
 * the IPv6 flow label, the UDP, ICMP and TCP checksums, the TCP timestamp
 * values. Everything else must be equal.
 */
#ifndef COLO_PROXY_NORMALISE_H
#define COLO_PROXY_NORMALISE_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/frame.h"

/* The TCP options at most (data offset 15 words less the fixed 20 bytes). */
#define COLO_TCP_OPT_MAX 40

/* Two frames of a packet-compared flow (UDP, ICMP, other IP, non-IP),
 * each parsed and not a fragment: equal once normalised. IP packets are
 * compared from the Ethernet header to the end of the IP packet (the
 * padding after it is zeros, frame.c checked); non-IP frames byte for
 * byte, lengths too. */
bool colo_packet_equal(const uint8_t *a, const struct colo_frame *fa,
                       const uint8_t *b, const struct colo_frame *fb);

/* TCP options opt[n] copied to out[n] with the timestamp option's values
 * zeroed. Options that do not parse are copied as they are: they then
 * compare raw. */
void colo_tcp_options_normalise(const uint8_t *opt, uint32_t n, uint8_t *out);

#endif
