/*
 * link.h - the replication link: a TCP connection, authenticated, carrying
 * the stream; plus the small record exchanges both sides share.
 */
#ifndef COLO_LINK_H
#define COLO_LINK_H

#include "stream/stream.h"

/* Connect to host:port and authenticate as the primary (key from
 * opt->key_file, or none with opt->insecure). */
int colo_link_connect(libxlcolo_ctx *ctx, const char *host, uint16_t port,
                      const libxlcolo_options *opt, colo_stream **out);
/* Listen on addr:port, accept one primary and authenticate it. A peer that
 * fails authentication is refused and the call returns its error. */
int colo_link_accept(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                     const libxlcolo_options *opt, colo_stream **out);

/* Send a record whose body is one le64 epoch. */
int colo_link_send_epoch(colo_stream *s, uint16_t type, uint64_t epoch);
/* Wait for a record of type with body epoch; HEARTBEATs are absorbed. Any
 * other record is a protocol error (-EPROTO, logged). */
int colo_link_expect_epoch(libxlcolo_ctx *ctx, colo_stream *s, uint16_t type, uint64_t epoch,
                           int timeout_ms);

#endif
