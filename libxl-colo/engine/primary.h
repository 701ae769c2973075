/* primary.h - state of the primary side, shared by its files. */
#ifndef COLO_PRIMARY_H
#define COLO_PRIMARY_H

#include "backend/backend.h"
#include "control/control.h"
#include "engine/failover.h"
#include "engine/link.h"
#include "engine/pages_copy.h"
#include "stream/stream.h"

/* One checkpoint as captured while the guest was stopped. */
struct colo_capture {
    uint64_t *pfns;
    uint8_t *data;      /* count pages, in pfns order */
    uint64_t cap;       /* capacity, pages */
    uint64_t count;
    uint8_t *context;
    size_t context_len;
    uint8_t *devstate;
    size_t devstate_len;
    bool has_digest;
    uint8_t digest[LIBXLCOLO_DIGEST_LEN];
    uint64_t pause_ns;
    uint64_t verify_ns;
    uint64_t stop_ns, copy_ns, state_ns; /* of pause_ns: see libxlcolo_event */
    uint64_t skipped;   /* frames the backend could not map */
    struct colo_held_maps held; /* the stop's mappings, unmapped after it */
};

typedef struct {
    libxlcolo_ctx *ctx;
    const libxlcolo_options *opt;
    colo_backend *be;
    colo_dom *dom;
    struct colo_domain_info info;
    colo_stream *s;
    colo_control *ctl;
    colo_failover fo;
    unsigned long *dirty;      /* CLEAN lands here */
    unsigned long *queue;      /* pre-copy: still to send */
    struct colo_capture cap;
    libxlcolo_status st;
    bool logdirty_on;
    bool paused_by_us;
    bool stop;                 /* a clean stop was asked */
    bool want_ckpt;            /* a checkpoint was asked (control socket) */
    bool failover_asked;       /* go on without the secondary */
    int waiting_client;        /* control client waiting for a commit, or -1 */
    uint64_t next_ckpt_ns, next_hb_ns, last_rx_ns;
} colo_primary;

/* capture.c: stop the guest, pull the dirty log (ORed with extra, if any),
 * copy the dirty pages, context and device state, restart the guest. */
int colo_capture_checkpoint(colo_primary *p, unsigned long *extra);
void colo_capture_free(struct colo_capture *c);
int colo_capture_reserve(libxlcolo_ctx *ctx, struct colo_capture *c, uint64_t pages);
/* Send a capture as checkpoint epoch: VMSTATE_SEND ... VMSTATE_SIZE. */
int colo_capture_send(colo_primary *p, uint64_t epoch, uint64_t *bytes);

/* The wait for any one answer of the secondary. */
static inline int colo_primary_timeout_ms(const colo_primary *p)
{
    return (int)p->opt->timeout_ms;
}

/* The primary's files call one way: primary.c (libxlcolo_start, its loop)
 * -> precopy_run.c -> checkpoint.c -> capture.c, and each of them may call
 * primary_control.c. */

/* precopy_run.c: the initial live sync, ending with epoch 0. */
int colo_primary_initial_sync(colo_primary *p);
/* checkpoint.c: one checkpoint (with extra: epoch 0, the stop-and-copy). */
int colo_primary_checkpoint(colo_primary *p, unsigned long *extra);
/* primary_control.c */
void colo_primary_set_state(colo_primary *p, libxlcolo_state state);
/* Answer one control request (the socket is readable). */
void colo_primary_control(colo_primary *p);
/* Answer a pending control request, if any, without waiting. */
void colo_primary_poll_control(colo_primary *p);

#endif
