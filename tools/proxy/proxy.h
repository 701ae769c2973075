/*
 * proxy.h - the daemon: the engine (proxy/compare.h) between colo-compare's
 * sockets, in one thread around epoll(7).
 *
 * - Each socket takes one peer at a time; while it has one, the next
 *   waits in the listen backlog. A peer gone, the socket takes the next;
 *   a new connection of an input starts with fresh framing (reader.h).
 *   When every peer has gone the daemon goes on with whatever peers come,
 *   the engine's state kept (as colo-compare's).
 * - Frames read go to the engine; what it releases goes to the outdev
 *   peer, in order (outq.h). With no outdev peer, a released frame is
 *   dropped and counted ("dropped_no_peer"), as a NIC with its cable out;
 *   the frames queued for a peer that goes are counted too
 *   ("dropped_disconnect"). While the queue holds more than
 *   PROXY_OUTQ_HIGH bytes the primary is not read: back-pressure.
 * - A checkpoint request: the queue flushed, then DO_CHECKPOINT on
 *   --notify; COLO_CHECKPOINT completes it. With no --notify, the request
 *   is counted and nothing completes it.
 * - The engine's timeouts are checked every PROXY_TICK_MS while it holds
 *   frames.
 */
#ifndef COLO_PROXY_PROXY_H
#define COLO_PROXY_PROXY_H

#include <stdint.h>

#include "notify.h"
#include "opts.h"
#include "outq.h"
#include "proxy/compare.h"
#include "reader.h"

#define PROXY_TICK_MS 10
#define PROXY_IDLE_TICK_MS 1000

struct proxy_ep {
    const char *path;
    int lfd;                    /* listening, or -1 */
    int fd;                     /* the peer (inputs, outdev), or -1 */
    uint64_t connections;
};

struct proxy {
    struct proxy_opts opts;
    colo_compare *cmp;
    struct proxy_ep ep[EP__MAX];
    struct proxy_reader in[2];          /* COLO_PRIMARY, COLO_SECONDARY */
    struct proxy_outq out;
    struct proxy_notify notify;
    uint64_t now;                       /* CLOCK_MONOTONIC, ns */
    uint64_t last_tick;
    uint64_t out_no_peer;               /* released with no outdev peer */
    uint64_t out_lost;                  /* queued for a peer that went */
    uint64_t status_queries;
};

/* Set up the engine and listen on every socket asked for: 0, or the exit
 * status (the error said on stderr). */
int proxy_open(const struct proxy_opts *o, struct proxy **out);
/* Run until a signal arrives on sigfd (a signalfd): 0, or 1 on an error. */
int proxy_run(struct proxy *p, int sigfd);
/* Close every socket and remove the paths listened on. */
void proxy_free(struct proxy *p);

/* One JSON line of p's counters on fd (status.c): 0 or -errno. */
int proxy_status_send(const struct proxy *p, int fd);

#endif
