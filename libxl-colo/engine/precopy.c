/* precopy.c - the estimate/exact convergence policy (see precopy.h). */
#include "config.h"

#include "engine/precopy.h"

void colo_precopy_init(colo_precopy *p, uint64_t threshold, unsigned max_syncs)
{
    *p = (colo_precopy){ .threshold = threshold, .max_syncs = max_syncs, .best = UINT64_MAX };
}

colo_precopy_action colo_precopy_step(colo_precopy *p, uint64_t queued,
                                      uint64_t peek)
{
    p->estimate = queued + peek;
    if (p->estimate <= p->threshold)
        return COLO_PRECOPY_EXACT;
    if (queued > 0)
        return COLO_PRECOPY_SEND;
    /* Not converging: stop-and-copy whatever is dirty now. */
    if (p->syncs >= p->max_syncs)
        return COLO_PRECOPY_STOP;
    return COLO_PRECOPY_SYNC;
}

colo_precopy_action colo_precopy_synced(colo_precopy *p, colo_precopy_action why,
                                        uint64_t exact)
{
    p->syncs++;
    if (why == COLO_PRECOPY_EXACT) {
        p->exacts++;
        if (exact <= p->threshold)
            return COLO_PRECOPY_STOP;
    }
    if (exact < p->best) {
        p->best = exact;
        p->stalled = 0;
    } else if (++p->stalled >= COLO_PRECOPY_STALL_ROUNDS) {
        return COLO_PRECOPY_STOP; /* not converging: stop and copy what is queued */
    }
    return COLO_PRECOPY_SEND;
}
