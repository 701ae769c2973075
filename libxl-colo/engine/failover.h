/*
 * failover.h - QEMU COLO's failover state machine.
 *
 *   NONE -> REQUIRE -> ACTIVE -> COMPLETED
 *   NONE -> RELAUNCH -> REQUIRE        (asked while a checkpoint loads: the
 *                                       load finishes, then failover runs)
 *
 * Every transition is a compare-and-swap, so a request racing the engine
 * (stream loss and a manual failover at once) takes effect exactly once, and
 * every successful transition is reported as a LIBXLCOLO_EVENT_FAILOVER.
 */
#ifndef COLO_FAILOVER_H
#define COLO_FAILOVER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "colo-internal.h"

typedef struct {
    _Atomic int state; /* libxlcolo_failover_state */
    libxlcolo_ctx *ctx;
    libxlcolo_role role;
} colo_failover;

void colo_failover_init(colo_failover *f, libxlcolo_ctx *ctx, libxlcolo_role role);
libxlcolo_failover_state colo_failover_get(colo_failover *f);
/* True if the machine was in from and is now in to. Illegal edges are
 * refused (false) whatever the current state. */
bool colo_failover_cas(colo_failover *f, libxlcolo_failover_state from,
                       libxlcolo_failover_state to);
/* A request: NONE -> REQUIRE, or NONE -> RELAUNCH when loading. False if a
 * failover is already under way. */
bool colo_failover_request(colo_failover *f, bool loading);

#endif
