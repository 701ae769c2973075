/*
 * proxy.h - the proxy service: the compare engine (proxy/compare.h) between
 * colo-compare's sockets, in one thread around epoll(7). colo-proxy runs
 * it as a daemon; a protection runs it in a thread of its own
 * (engine/nic.c), its checkpoint asked and completed by calls, not over
 * --notify.
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
 * - A checkpoint request: the queue flushed, then the caller's checkpoint
 *   function if it gave one, and DO_CHECKPOINT on --notify if it asked
 *   for one; COLO_CHECKPOINT or proxy_checkpoint_complete() completes it.
 *   With neither, the request is counted and nothing completes it.
 * - Buffered (opts.buffer, Remus): nothing is compared; the primary's
 *   frames are held until their epoch is acknowledged (commit.h), the
 *   epoch's end set by proxy_epoch_end() and its acknowledgement given by
 *   proxy_checkpoint_complete(). No secondary input.
 * - Alone (proxy_go_alone(): the secondary is gone for good), every
 *   frame held is released and the primary's frames pass straight
 *   through; the secondary's are dropped, counted ("dropped_alone").
 * - The engine's timeouts are checked every PROXY_TICK_MS while it holds
 *   frames.
 * - Busy polling (opts.busy_poll_us): after a wait that found work, the
 *   loop polls without sleeping for up to that long before it sleeps
 *   again. A sleeping thread's wakeup (on a VM, the idle vCPU's) is most
 *   of a frame's time through the proxy; the price is up to that much CPU
 *   per burst of frames. PROXY_BUSY_POLL_MAX_US at most.
 */
#ifndef COLO_PROXY_PROXY_H
#define COLO_PROXY_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proxy/compare.h"
#include "proxy/service/commit.h"
#include "proxy/service/log.h"
#include "proxy/service/notify.h"
#include "proxy/service/outq.h"
#include "proxy/service/reader.h"

#define PROXY_TICK_MS 10
#define PROXY_IDLE_TICK_MS 1000
/* The in-process status (proxy_status_copy) is at most this old while
 * frames flow. */
#define PROXY_SNAPSHOT_MS 100
/* The longest status line. */
#define PROXY_STATUS_MAX 4096
#define PROXY_BUSY_POLL_MAX_US 10000

enum proxy_endpoint {
    EP_PRIMARY = 0,     /* --primary-in: the primary guest's frames */
    EP_SECONDARY,       /* --secondary-in: the secondary guest's */
    EP_OUTDEV,          /* --outdev: the primary's frames, to the client */
    EP_NOTIFY,          /* --notify: QEMU's notify_dev protocol, the Xen side */
    EP_STATUS,          /* --status: one JSON line of counters per client */
    EP__MAX
};

/* The option that names each endpoint ("--primary-in"). */
const char *proxy_endpoint_option(enum proxy_endpoint e);

/* Called in the service's thread when the engine asks for a checkpoint. */
typedef void proxy_checkpoint_cb(void *opaque);

struct proxy_opts {
    const char *path[EP__MAX];  /* NULL: not asked for (notify, status) */
    bool vnet_hdr;
    uint32_t timeout_ms;        /* 0: the engine's default (3000) */
    uint32_t max_flows;         /* 0: the engine's default */
    uint64_t max_mem;           /* 0: the engine's default */
    uint32_t busy_poll_us;      /* 0: off (see proxy_run) */
    bool buffer;                /* Remus output commit instead of the compare */
    struct proxy_log log;
    proxy_checkpoint_cb *checkpoint;    /* NULL: --notify only */
    void *checkpoint_opaque;
};

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
    struct proxy_commit commit;         /* opts.buffer */
    uint64_t now;                       /* CLOCK_MONOTONIC, ns */
    uint64_t last_tick;
    uint64_t out_no_peer;               /* released with no outdev peer */
    uint64_t out_lost;                  /* queued for a peer that went */
    uint64_t status_queries;
    bool alone;                         /* passing the primary's frames through */
    uint64_t passed_alone;              /* primary frames passed through alone */
    uint64_t dropped_alone;             /* secondary frames dropped alone */
    /* From other threads: an eventfd that wakes the loop, and what it is
     * woken for, under req_lock (read together: an acknowledgement asked
     * before an epoch's end is always taken before it). */
    int wake_fd;
    pthread_mutex_t req_lock;
    pthread_cond_t req_cond;            /* barrier_done moved */
    unsigned done_asked;                /* proxy_checkpoint_complete() calls */
    uint64_t barrier_asked, barrier_done; /* proxy_epoch_end() calls, and those taken */
    uint64_t snap_asked, snap_done;     /* proxy_status_fresh() calls, and those taken */
    atomic_bool alone_asked;
    /* The status line as of the last snapshot, for other threads. */
    pthread_mutex_t snap_lock;
    char snap[PROXY_STATUS_MAX];
    uint64_t snap_ns;
    bool snap_dirty;                    /* counters moved since the snapshot */
    bool busy;                          /* the last wait found work */
    uint64_t busy_hits;                 /* waits that busy polling answered */
};

/* Set up the engine and listen on every socket asked for: 0, or 1 (the
 * error said through o->log). */
int proxy_open(const struct proxy_opts *o, struct proxy **out);
/* Run until stop_fd (a signalfd or an eventfd) is readable: 0, or 1 on an
 * error (said). */
int proxy_run(struct proxy *p, int stop_fd);
/* Close every socket and remove the paths listened on. */
void proxy_free(struct proxy *p);

/* From any thread, while proxy_run runs: the checkpoint the engine asked
 * for is done (the held frames go, the secondary's queue is reset); the
 * secondary is gone for good (pass through). */
void proxy_checkpoint_complete(struct proxy *p);
void proxy_go_alone(struct proxy *p);
/* Buffered: the running epoch ends (the guest is stopped). Returns once
 * the service has set the barrier: 0, or -ETIMEDOUT after timeout_ms
 * (the service is not running). */
int proxy_epoch_end(struct proxy *p, int timeout_ms);
/* From any thread: the last status line (at most PROXY_SNAPSHOT_MS old
 * while frames flow) in buf: its length, or -ENOBUFS. */
int proxy_status_copy(struct proxy *p, char *buf, size_t size);
/* ... taken by the service now, waiting for it at most timeout_ms (then
 * the last one). */
int proxy_status_fresh(struct proxy *p, char *buf, size_t size, int timeout_ms);

/* p's counters as one JSON object, no newline (status.c): its length, or
 * -errno. Only in the service's thread. */
int proxy_status_text(const struct proxy *p, char *buf, size_t size);
/* That line and a newline on fd: 0 or -errno. */
int proxy_status_send(const struct proxy *p, int fd);

#endif
