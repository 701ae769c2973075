/*
 * checksum.h - the Internet checksum of a parsed frame's TCP or UDP
 * segment, written in place: a frame taken off a veth or a vif before
 * its checksum was computed (the sender left it to an offload) is
 * completed before it goes out on another interface, where the stack
 * that receives it checks it.
 */
#ifndef COLO_PROXY_CHECKSUM_H
#define COLO_PROXY_CHECKSUM_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/frame.h"

/* Fill the TCP or UDP checksum of frame (parsed as f): true, or false
 * when f is not a whole TCP or UDP segment over IPv4 or IPv6 (a
 * fragment, another protocol: then nothing is written). */
bool colo_l4_checksum_fill(uint8_t *frame, const struct colo_frame *f);

#endif
