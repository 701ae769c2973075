/* primary.h - state of the primary side, shared by its files. */
#ifndef COLO_PRIMARY_H
#define COLO_PRIMARY_H

#include "backend/backend.h"
#include "block/disks.h"
#include "control/control.h"
#include "engine/capture.h"
#include "engine/failover.h"
#include "stream/link.h"
#include "engine/nic.h"
#include "engine/ownership.h"
#include "engine/pages_copy.h"
#include "stream/stream.h"

typedef struct {
    libxlcolo_ctx *ctx;
    const libxlcolo_options *opt;
    colo_backend *be;
    colo_dom *dom;
    struct colo_domain_info info;
    colo_stream *s;
    colo_control *ctl;
    colo_failover fo;
    colo_ownership own;        /* the arbiter's side: lease, fence */
    colo_disks *disks;         /* the replicated disks, NULL for none */
    colo_nic *nic;             /* the NIC comparison, NULL for none */
    unsigned long *queue;      /* pre-copy: still to send */
    struct colo_capture_buf buf; /* the captures', lent to the pre-copy */
    struct colo_capture cap;   /* the last checkpoint's */
    libxlcolo_status st;
    bool logdirty_on;
    bool paused_by_us;         /* a capture could not restart the guest */
    bool stop;                 /* a clean stop was asked (socket or in-process) */
    bool disks_failed;         /* a checkpoint failed on this side's disks */
    bool nic_failed;           /* the NIC comparison stopped */
    bool want_ckpt;            /* a checkpoint was asked (control socket) */
    bool failover_asked;       /* go on without the secondary */
    int waiting_client;        /* control client waiting for a commit, or -1 */
    uint64_t next_ckpt_ns, next_hb_ns, last_rx_ns;
} colo_primary;

/* The wait for any one answer of the secondary. */
static inline int colo_primary_timeout_ms(const colo_primary *p)
{
    return (int)p->opt->timeout_ms;
}

/* The primary's files call one way: primary.c (libxlcolo_start, its loop)
 * -> precopy_run.c -> checkpoint.c -> capture.c (capture.h), and each of
 * them may call primary_control.c. */

/* precopy_run.c: the initial live sync, ending with epoch 0. */
int colo_primary_initial_sync(colo_primary *p);
/* checkpoint.c: one checkpoint (with extra: epoch 0, the stop-and-copy). */
int colo_primary_checkpoint(colo_primary *p, unsigned long *extra);
/* primary_control.c */
void colo_primary_set_state(colo_primary *p, libxlcolo_state state);
/* Answer one control request (the socket is readable). */
void colo_primary_control(colo_primary *p);
/* Answer a pending control request, if any, without waiting; take a stop
 * asked with libxlcolo_request_stop(). */
void colo_primary_poll_control(colo_primary *p);

#endif
