/*
 * nbd_relay.h - a disk's replication link across hosts: the one NBD
 * connection of the primary sidecar's replication client to the secondary
 * sidecar's export, carried over the authenticated record stream of the
 * memory link (stream/: the same key, the same handshake, every record
 * under its HMAC), so that a peer without the key writes nothing to the
 * secondary's disk. QEMU's NBD speaks to a unix socket on each side; the
 * relay moves its bytes, in DISK_DATA records of at most 64 KiB, and ends
 * with STOP when either side closes.
 */
#ifndef COLO_BLOCK_NBD_RELAY_H
#define COLO_BLOCK_NBD_RELAY_H

#include "stream/stream.h"

/* Relay between the connected unix socket ufd and the stream s (after its
 * handshake) until one side closes (0) or fails (-errno, logged once with
 * LABEL), or quit_fd becomes readable (0). Neither is closed here. */
int colo_nbd_relay(libxlcolo_ctx *ctx, const char *label, int ufd, colo_stream *s,
                   int quit_fd);

#endif
