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
 * The secondary's side is an interface here (a secondary guest on this
 * host, as in the tests' namespaces). Its TCP is renumbered as the
 * primary's (rewrite.h): what it sends, and what the client sends it.
 * When failover_fd is readable the primary is gone: from then on the
 * client's frames go to the secondary alone, and the secondary's straight
 * to the client, renumbered, so that the client's connections go on.
 */
#ifndef COLO_PROXY_DATAPATH_DATAPATH_H
#define COLO_PROXY_DATAPATH_DATAPATH_H

#include <stdint.h>

#include "proxy/datapath/ifsock.h"
#include "proxy/service/log.h"

enum colo_dp_if { DP_CLIENT = 0, DP_PRIMARY, DP_SECONDARY, DP_IF__MAX };
enum colo_dp_sock { DP_PIN = 0, DP_SIN, DP_OUT, DP_SOCK__MAX };

struct colo_datapath_opts {
    const char *ifname[DP_IF__MAX];     /* --client-if, --primary-if, --secondary-if */
    const char *path[DP_SOCK__MAX];     /* the proxy's --primary-in, --secondary-in, --outdev */
    struct proxy_log log;
};

/* Open the interfaces and connect to the proxy's sockets, then forward
 * until stop_fd is readable or the proxy closes a socket (before a
 * failover): 0 after stop, 1 on an error (said through the log). Its
 * counters, one JSON line, go to counters_fd at the end (-1: none). */
int colo_datapath_run(const struct colo_datapath_opts *o, int stop_fd, int failover_fd,
                      int counters_fd);

#endif
