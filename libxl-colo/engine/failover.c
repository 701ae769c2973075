/* failover.c - the failover state machine (see failover.h). */
#include "config.h"

#include "engine/failover.h"

static bool edge_allowed(libxlcolo_failover_state from, libxlcolo_failover_state to)
{
    switch (from) {
    case LIBXLCOLO_FAILOVER_NONE:
        return to == LIBXLCOLO_FAILOVER_REQUIRE || to == LIBXLCOLO_FAILOVER_RELAUNCH;
    case LIBXLCOLO_FAILOVER_RELAUNCH:
        return to == LIBXLCOLO_FAILOVER_REQUIRE;
    case LIBXLCOLO_FAILOVER_REQUIRE:
        return to == LIBXLCOLO_FAILOVER_ACTIVE;
    case LIBXLCOLO_FAILOVER_ACTIVE:
        return to == LIBXLCOLO_FAILOVER_COMPLETED;
    case LIBXLCOLO_FAILOVER_COMPLETED:
        return false;
    }
    return false;
}

void colo_failover_init(colo_failover *f, libxlcolo_ctx *ctx, libxlcolo_role role)
{
    atomic_init(&f->state, LIBXLCOLO_FAILOVER_NONE);
    f->ctx = ctx;
    f->role = role;
}

libxlcolo_failover_state colo_failover_get(colo_failover *f)
{
    return atomic_load(&f->state);
}

bool colo_failover_cas(colo_failover *f, libxlcolo_failover_state from,
                       libxlcolo_failover_state to)
{
    int expected = from;

    if (!edge_allowed(from, to))
        return false;
    if (!atomic_compare_exchange_strong(&f->state, &expected, (int)to))
        return false;
    LOG(f->ctx, INFO, "failover: %s -> %s", libxlcolo_failover_name(from),
        libxlcolo_failover_name(to));
    libxlcolo_event ev = {
        .type = LIBXLCOLO_EVENT_FAILOVER,
        .role = f->role,
        .failover_from = from,
        .failover_to = to,
    };
    colo_emit(f->ctx, &ev);
    return true;
}

bool colo_failover_request(colo_failover *f, bool loading)
{
    return colo_failover_cas(f, LIBXLCOLO_FAILOVER_NONE,
                             loading ? LIBXLCOLO_FAILOVER_RELAUNCH
                                     : LIBXLCOLO_FAILOVER_REQUIRE);
}
