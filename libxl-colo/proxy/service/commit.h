/*
 * commit.h - Remus output commit: the proxy service as the guest's output
 * buffer. Every frame the primary guest sends during epoch N is held
 * until the secondary has acknowledged checkpoint N, then released in
 * order; what an epoch that was never acknowledged sent is never
 * released (it goes with the primary).
 *
 * The epoch's end is a barrier, set while the guest is stopped for its
 * checkpoint (proxy_epoch_end() waits until the service has set it), so
 * that nothing the guest sends after its restart can fall before it. A
 * frame of epoch N still on its way when the barrier is set falls after
 * it and waits for N + 1: held longer, never released early. The
 * acknowledgement (proxy_checkpoint_complete()) releases what is before
 * the barrier.
 *
 * Bounded: past half its limit the buffer asks for a checkpoint, once
 * per epoch; at its limit a frame is dropped and counted.
 */
#ifndef COLO_PROXY_SERVICE_COMMIT_H
#define COLO_PROXY_SERVICE_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/service/outq.h"

struct proxy_commit {
    struct proxy_outq held;     /* the frames not yet released, framed as outdev takes them */
    uint64_t before_barrier;    /* of held's frames, those of an epoch that has ended */
    bool barrier_set;           /* an epoch ended, its acknowledgement awaited */
    bool asked;                 /* a checkpoint asked for room, this epoch */
    uint64_t barriers, commits; /* epochs ended, acknowledgements taken */
    uint64_t released;          /* frames handed on by acknowledgements */
};

void proxy_commit_init(struct proxy_commit *c, bool vnet, size_t limit);
void proxy_commit_fini(struct proxy_commit *c);

/* A frame of the running epoch: held. true when the buffer is past half
 * its limit and asks, once this epoch, for a checkpoint. */
bool proxy_commit_put(struct proxy_commit *c, const uint8_t *frame, size_t len);
/* The running epoch ends: what is held now is its (and earlier ones'). */
void proxy_commit_barrier(struct proxy_commit *c);
/* The epoch that ended is acknowledged: its frames go to out, in order. */
void proxy_commit_release(struct proxy_commit *c, struct proxy_outq *out);
/* No more commit (the secondary is gone): everything held goes to out. */
void proxy_commit_flush(struct proxy_commit *c, struct proxy_outq *out);

#endif
