/*
 * link.h - the replication link: a TCP connection, authenticated, carrying
 * the stream; plus the small record exchanges both sides share. The
 * engine opens one for the checkpoints; colo-datapath one between the two
 * hosts' datapaths (proxy/datapath/datapath.h).
 */
#ifndef COLO_LINK_H
#define COLO_LINK_H

#include "stream/stream.h"

/* Connect to host:port and authenticate as the primary (key from
 * opt->key_file, or none with opt->insecure). */
int colo_link_connect(libxlcolo_ctx *ctx, const char *host, uint16_t port,
                      const libxlcolo_options *opt, colo_stream **out);
/* Listen on addr:port until one primary has connected and authenticated
 * (link_accept.c). The key file is read first: a bad one fails before
 * anything listens. A peer that fails the handshake (a wrong key, garbage,
 * silence) is refused alone, in one line, and the listening goes on; the
 * handshakes run side by side, so a peer that stalls delays no other. */
int colo_link_accept(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                     const libxlcolo_options *opt, colo_stream **out);
/* The same, given up with -ECANCELED (nothing said) once stop_fd is
 * readable (-1: never). */
int colo_link_accept_until(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                           const libxlcolo_options *opt, int stop_fd, colo_stream **out);

/* The handshake's whole bound, as docs/protocol.md 4.2 says. */
#define HANDSHAKE_TIMEOUT_MS 10000

/* For link_accept.c: the key of opt (NULL for insecure; free with
 * colo_key_free), and one handshake on the connected fd (taken). */
int colo_link_key(libxlcolo_ctx *ctx, const libxlcolo_options *opt, uint8_t **key,
                  size_t *keylen);
int colo_link_handshake(libxlcolo_ctx *ctx, int fd, const libxlcolo_options *opt,
                        const uint8_t *key, size_t keylen, bool server, colo_stream **out);

/* Send a record whose body is one le64 epoch. */
int colo_link_send_epoch(colo_stream *s, uint16_t type, uint64_t epoch);
/* Wait for a record of type with body epoch; HEARTBEATs are absorbed. Any
 * other record is a protocol error (-EPROTO, logged). */
int colo_link_expect_epoch(libxlcolo_ctx *ctx, colo_stream *s, uint16_t type, uint64_t epoch,
                           int timeout_ms);

#endif
