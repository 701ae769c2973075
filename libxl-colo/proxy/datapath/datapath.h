/*
 * datapath.h - a COLO guest's network around the proxy, on real
 * interfaces (QEMU's filter-mirror and filter-redirector on colo-compare's
 * sockets, in one process): what the client side sends is mirrored to
 * the primary guest's interface and to the secondary's; what each guest
 * sends goes to the proxy's --primary-in or --secondary-in (colo-compare's
 * records); what the proxy releases on --outdev goes out on the client
 * side. Only released frames reach the client. One thread around poll(2),
 * until stop_fd is readable.
 *
 * The secondary's TCP is renumbered as the primary's (rewrite.h): what it
 * sends, and what the client sends it. When failover_fd is readable the
 * primary is gone: from then on the client's frames go to the secondary
 * alone, and the secondary's straight to the client, renumbered, so that
 * the client's connections go on.
 *
 * Four roles:
 *   - one host: the secondary guest is an interface here too (as in the
 *     tests' namespaces);
 *   - Remus (no secondary_if, no secondary-in, no link): the client's
 *     frames go to the primary alone, its frames to the proxy's
 *     --primary-in, which holds them until their checkpoint is
 *     acknowledged (the output commit), its releases to the client;
 *   - the primary's host (link_to): the secondary's side is the link, an
 *     authenticated stream (stream/link.h) to the secondary's host. The
 *     client's frames go over it (NET_CLIENT), and so do the primary
 *     guest's SYN-ACKs (NET_PRIMARY), which the rewriter learns from; the
 *     secondary's frames come back on it (NET_SECONDARY) for the proxy;
 *   - the secondary's host (link_listen): the secondary guest's interface
 *     and the rewriter, which survive the primary's host. It waits at the
 *     link's door for the primary's host, and then forwards between the
 *     link and the guest. After a failover its own client_if is the
 *     client side. No proxy here.
 * A lost link is not mended: the primary's host goes on without the
 * secondary (its proxy sees it silent), the secondary's host waits for a
 * failover or a stop.
 */
#ifndef COLO_PROXY_DATAPATH_DATAPATH_H
#define COLO_PROXY_DATAPATH_DATAPATH_H

#include <stdint.h>

#include "libxlcolo.h"
#include "proxy/datapath/ifsock.h"
#include "proxy/service/log.h"

enum colo_dp_if { DP_CLIENT = 0, DP_PRIMARY, DP_SECONDARY, DP_IF__MAX };
enum colo_dp_sock { DP_PIN = 0, DP_SIN, DP_OUT, DP_SOCK__MAX };

/* The link's port when HOST:PORT gives none. */
#define COLO_DP_LINK_PORT 7880

struct colo_datapath_opts {
    const char *ifname[DP_IF__MAX];     /* --client-if, --primary-if, --secondary-if */
    const char *path[DP_SOCK__MAX];     /* the proxy's --primary-in, --secondary-in, --outdev */
    /* Two hosts: one of these, and the link's context and options. */
    const char *link_to;                /* the primary's host: the secondary's HOST[:PORT] */
    const char *link_listen;            /* the secondary's host: ADDR[:PORT] to listen on */
    libxlcolo_ctx *ctx;                 /* the link's stream logs through it */
    const libxlcolo_options *link_opt;  /* key_file or insecure; timeout_ms */
    struct proxy_log log;
};

/* Open the interfaces, the link and the proxy's sockets that the role
 * has, then forward until stop_fd is readable or the proxy closes a
 * socket (before a failover): 0 after stop, 1 on an error (said through
 * the log, or by the link's stream through ctx). Its
 * counters, one JSON line, go to counters_fd at the end (-1: none). */
int colo_datapath_run(const struct colo_datapath_opts *o, int stop_fd, int failover_fd,
                      int counters_fd);

#endif
