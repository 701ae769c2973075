/*
 * net.h - TCP for the replication link: connect, listen, accept, and the
 * "HOST[:PORT]" syntax.
 *
 * Every call returns a file descriptor (>= 0) or 0, or a negative errno
 * after one log line naming the address. Sockets are close-on-exec, in
 * blocking mode, with TCP_NODELAY (records are written whole, so Nagle only
 * adds latency to the small acknowledgements) and, where allowed (root),
 * large kernel buffers set before the handshake; where not, the kernel's
 * autotuning is left alone, as a smaller fixed SO_RCVBUF would cap it.
 */
#ifndef COLO_NET_H
#define COLO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "colo-internal.h"

#define COLO_NET_DEFAULT_PORT 7878 /* as xl-colo's XLCOLO_DEFAULT_PORT */
/* Socket buffers asked for (SO_SNDBUFFORCE/SO_RCVBUFFORCE). */
#define COLO_NET_SOCKBUF (8u << 20)

/* Parse "HOST", "HOST:PORT", "[V6]", "[V6]:PORT", or a bare IPv6 address
 * (two colons or more: no port). *host is malloc()ed. Port 1..65535. */
int colo_net_parse_hostport(libxlcolo_ctx *ctx, const char *spec,
                            uint16_t default_port, char **host, uint16_t *port);

/* Connect to host:port (a name or address), trying each address until the
 * deadline of timeout_ms (< 0: the kernel's own). Returns the socket. */
int colo_net_connect(libxlcolo_ctx *ctx, const char *host, uint16_t port,
                     int timeout_ms);

/* Listen on addr:port with SO_REUSEADDR; addr NULL, "" or "*" means every
 * address, IPv6 and IPv4 together where the host has IPv6. port 0 picks a
 * free port (see colo_net_local_port). Returns the listening socket. */
int colo_net_listen(libxlcolo_ctx *ctx, const char *addr, uint16_t port);

/* Accept one connection within timeout_ms (< 0: forever). The peer's
 * address is written to peer ("host:port" or "[v6]:port") if peer is not
 * NULL. Returns the connected socket. */
int colo_net_accept(libxlcolo_ctx *ctx, int lfd, int timeout_ms, char *peer,
                    size_t peerlen);

/* The local port a socket is bound to, or a negative errno. */
int colo_net_local_port(int fd);

#endif
