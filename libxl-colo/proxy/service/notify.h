/*
 * notify.h - the Xen side of QEMU colo-compare's notify_dev protocol, on
 * the --notify socket. Messages are framed as the frames are (be32
 * length, with --vnet-hdr a be32 vnet header length, then the text),
 * and colo-proxy's as colo-compare writes its own (be32 length, then the
 * text, no vnet field):
 *   in  "COLO_USERSPACE_PROXY_INIT"  ->  out "COLO_COMPARE_GET_XEN_INIT"
 *   out "DO_CHECKPOINT"              a checkpoint is needed (one per episode)
 *   in  "COLO_CHECKPOINT"            the checkpoint is done
 * A message is at most PROXY_NOTIFY_MAX bytes, compared whole; any other
 * is counted and refused with one line on stderr, and the peer may go
 * on.
 */
#ifndef COLO_PROXY_NOTIFY_H
#define COLO_PROXY_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/service/log.h"
#include "proxy/service/reader.h"

#define PROXY_NOTIFY_MAX 64u
#define PROXY_NOTIFY_OUT_MAX 4096u

#define NOTIFY_INIT "COLO_USERSPACE_PROXY_INIT"
#define NOTIFY_INIT_REPLY "COLO_COMPARE_GET_XEN_INIT"
#define NOTIFY_DO_CHECKPOINT "DO_CHECKPOINT"
#define NOTIFY_CHECKPOINT_DONE "COLO_CHECKPOINT"

/* COLO_CHECKPOINT came. */
typedef void proxy_notify_done_cb(void *opaque);

struct proxy_notify {
    int fd;                             /* the peer, or -1 */
    struct proxy_reader rd;             /* its framing, and its drops */
    proxy_notify_done_cb *done;
    const struct proxy_log *log;        /* where a refused message is said */
    void *opaque;
    uint8_t out[PROXY_NOTIFY_OUT_MAX];  /* what the socket has not taken yet */
    uint32_t out_len;
    uint64_t connections;
    uint64_t inits;                     /* COLO_USERSPACE_PROXY_INIT answered */
    uint64_t do_checkpoints;            /* DO_CHECKPOINT sent */
    uint64_t checkpoints_done;          /* COLO_CHECKPOINT received */
    uint64_t unknown;                   /* other messages, refused */
    uint64_t out_dropped;               /* messages the peer never took */
};

int proxy_notify_init(struct proxy_notify *n, bool vnet, proxy_notify_done_cb *done,
                      void *opaque, const struct proxy_log *log);
void proxy_notify_fini(struct proxy_notify *n);

/* A new peer, fd taken. pending: a checkpoint asked and not done, whose
 * DO_CHECKPOINT this peer has not had: it is sent now. */
void proxy_notify_attach(struct proxy_notify *n, int fd, bool pending);
/* The peer goes (closed). */
void proxy_notify_detach(struct proxy_notify *n);

/* What the peer sent: 1 when it closed (detached then), 0, or -errno. */
int proxy_notify_read(struct proxy_notify *n);
/* Send what waits: 0, or -errno (the peer is gone). */
int proxy_notify_flush(struct proxy_notify *n);

/* Ask for a checkpoint: DO_CHECKPOINT to the peer if there is one (else
 * it goes to the next peer, through attach's pending). */
void proxy_notify_checkpoint(struct proxy_notify *n);

#endif
