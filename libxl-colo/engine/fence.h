/*
 * fence.h - the fence watchdog: a small process of its own that pauses
 * the guest when the primary's lease is about to end, unless it is told
 * a later time first. It is what wdmd is to sanlock: a stalled xl-colo
 * (SIGSTOP, swapped out, hung) cannot renew the lease, and cannot pause
 * anything either, so the pause must not depend on it being scheduled.
 *
 * The watchdog is forked once, before the protection's threads, and
 * opens the domain on its own backend connection. It is told one time at
 * a time (colo_fence_arm); when that time passes it pauses the guest, says
 * so in one line, and tells the parent (colo_fence_fd turns readable). If
 * the parent dies, the last time still holds: the guest is paused then,
 * and the watchdog exits. Disarmed and closed, it exits at once. Its pid
 * is in RUN_DIR/DOMAIN.fence.pid while it runs.
 */
#ifndef COLO_FENCE_H
#define COLO_FENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/backend.h"

typedef struct colo_fence colo_fence;

int colo_fence_start(libxlcolo_ctx *ctx, const struct colo_backend_params *bp,
                     const char *domain, colo_fence **out);
/* Pause the guest at fence_at_ns (CLOCK_MONOTONIC) unless told again; 0
 * disarms. Safe from any thread. */
int colo_fence_arm(colo_fence *f, uint64_t fence_at_ns);
/* Readable once the watchdog has paused the guest. */
int colo_fence_fd(const colo_fence *f);
/* Take the watchdog's word: true when it has paused the guest. */
bool colo_fence_fired(colo_fence *f);
/* The fence has been lifted (the caller unpaused with COLO_PAUSE_FENCE). */
void colo_fence_clear(colo_fence *f);
/* Disarm, and wait (bounded) for the watchdog to exit; NULL is nothing. */
void colo_fence_stop(colo_fence *f);

#endif
