/*
 * precopy.h - when the initial live sync stops iterating.
 *
 * QEMU splits save_live_pending into a cheap state_pending_estimate and a
 * costly state_pending_exact. Here the estimate is what is still queued to
 * send plus the hypervisor's dirty count (PEEK, no bitmap, nothing cleared);
 * the exact figure needs a CLEAN that pulls the log into the queue. The
 * policy pays for the exact figure only when the estimate is under the
 * threshold, and otherwise keeps sending what is queued, syncing only when
 * the queue is empty.
 *
 * It gives up converging (stop and copy) after max_syncs rounds, or sooner
 * when COLO_PRECOPY_STALL_ROUNDS rounds in a row found no fewer dirty pages
 * than the best round so far: a guest that dirties a steady set faster than
 * a round takes will not converge, and each more round costs a full copy of
 * that set (libxc's own policy stops after 5 rounds).
 */
#ifndef COLO_PRECOPY_H
#define COLO_PRECOPY_H

#include <stdint.h>

typedef enum {
    COLO_PRECOPY_SEND,  /* send the next chunk of the queue */
    COLO_PRECOPY_SYNC,  /* queue empty, estimate high: CLEAN into the queue */
    COLO_PRECOPY_EXACT, /* estimate low: CLEAN, then colo_precopy_exact() */
    COLO_PRECOPY_STOP,  /* stop and copy */
} colo_precopy_action;

#define COLO_PRECOPY_STALL_ROUNDS 3

typedef struct {
    uint64_t threshold;  /* pages: stop-and-copy at or below this */
    unsigned max_syncs;  /* give up converging after this many syncs */
    unsigned syncs;      /* CLEANs paid so far (rounds) */
    unsigned exacts;     /* of them, exact-figure checks */
    uint64_t estimate;   /* last estimate */
    uint64_t best;       /* fewest pages queued after a sync so far */
    unsigned stalled;    /* syncs in a row that did not beat best */
} colo_precopy;

void colo_precopy_init(colo_precopy *p, uint64_t threshold, unsigned max_syncs);
/* queued: pages still queued; peek: the hypervisor's dirty count. */
colo_precopy_action colo_precopy_step(colo_precopy *p, uint64_t queued,
                                      uint64_t peek);
/* After the CLEAN of a SYNC or EXACT; exact is the queue size now. Returns
 * STOP or SEND. */
colo_precopy_action colo_precopy_synced(colo_precopy *p, colo_precopy_action why,
                                        uint64_t exact);

#endif
