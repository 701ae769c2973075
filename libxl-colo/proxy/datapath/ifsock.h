/*
 * ifsock.h - one network interface as frames: an AF_PACKET socket bound
 * to it, every frame it receives (in promiscuous mode, not the ones sent
 * through this socket), and frames sent out on it. A frame whose TCP or
 * UDP checksum its sender left to an offload (a veth, a vif) is completed
 * as it is taken (checksum.h), so that it can go out elsewhere.
 */
#ifndef COLO_PROXY_DATAPATH_IFSOCK_H
#define COLO_PROXY_DATAPATH_IFSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/frame.h"

/* The largest frame taken: an Ethernet frame with one tag. Bigger ones
 * (a GSO segment the sender did not cut) are dropped and counted. */
#define COLO_IF_FRAME_MAX 1518u

struct colo_ifsock {
    int fd;
    char name[16];
    uint64_t rx, tx, rx_big, tx_err, csum_filled;
};

/* Open name: 0, or -errno with why. */
int colo_ifsock_open(struct colo_ifsock *s, const char *name, char *why, size_t whylen);
void colo_ifsock_close(struct colo_ifsock *s);
/* One frame into buf (COLO_IF_FRAME_MAX): its length, 0 when none waits
 * (or it was too big: counted), -errno on an error. */
ssize_t colo_ifsock_recv(struct colo_ifsock *s, uint8_t *buf);
/* Send one frame: 0, or -errno (counted). */
int colo_ifsock_send(struct colo_ifsock *s, const uint8_t *frame, size_t len);

#endif
