/*
 * ownership.h - a protection's side of the arbiter (arbiter/arbiter.h):
 * the decisions at start, at the loss of the peer and before a secondary
 * goes live, the lease keeper thread, and the fence (fence.h).
 *
 * Without an arbiter (--arbiter none) every call is a no-op that lets the
 * engine behave as it always has.
 *
 * The primary: it claims the guest at start (refused when another host
 * holds a live lease), forks the fence watchdog, and starts the keeper,
 * which renews the lease every third of its TTL and moves the fence to
 * margin_ms before each new deadline. The margin covers the fence's own
 * latency (a pause and a log line) and a renewal answered late: the guest
 * is paused before etcd can end the lease, however xl-colo is scheduled.
 *
 * The secondary goes live only from a claim it wins at the generation its
 * last checkpoint carried.
 */
#ifndef COLO_OWNERSHIP_H
#define COLO_OWNERSHIP_H

#include <pthread.h>
#include <stdatomic.h>

#include "arbiter/arbiter.h"
#include "backend/backend.h"
#include "engine/fence.h"

typedef struct {
    libxlcolo_ctx *ctx;
    colo_arbiter *arb;        /* NULL: --arbiter none */
    colo_fence *fence;        /* the primary's watchdog */
    char name[64];            /* the guest's, for the lines we log */
    uint32_t margin_ms;       /* the fence fires this long before the lease ends */
    uint32_t retry_ms;        /* retries while the arbiter is silent or the owner live */
    struct colo_owner seen;   /* the owner as last read (status) */
    pthread_t keeper;
    bool keeper_on;
    bool keeper_quit;
    pthread_mutex_t lock;     /* keeper_quit, and the keeper's sleep */
    pthread_cond_t wake;
    atomic_bool lost;         /* the arbiter said our lease is gone */
    atomic_bool armed;        /* the fence follows the lease (colo_own_primary_arm) */
} colo_ownership;

/* Between two tries: wait up to ms for anything else (control requests, a
 * stop). Returns false when the caller must give up (a stop). */
typedef bool colo_own_idle_fn(void *opaque, int ms);

struct colo_control;
/* The idle of both sides: up to ms for a request on ctl (answered by
 * on_control) or a stop. Returns true when a stop was asked. */
bool colo_own_idle_poll(libxlcolo_ctx *ctx, struct colo_control *ctl, int ms,
                        void (*on_control)(void *opaque), void *opaque);

/* Open the arbiter of opt for the guest uuid (no request yet). opt's
 * arbiter NULL or "none": o works without one. */
int colo_own_open(libxlcolo_ctx *ctx, const libxlcolo_options *opt, const char *uuid,
                  const char *name, colo_ownership *o);
/* Stop the keeper, disarm the fence, release the lease when asked, close. */
void colo_own_close(colo_ownership *o, bool release);
static inline bool colo_own_enabled(const colo_ownership *o) { return o->arb != NULL; }
uint64_t colo_own_generation(const colo_ownership *o);
/* The status's ownership fields. */
void colo_own_status(colo_ownership *o, libxlcolo_status *st);

/* Primary, at start, with no thread of the protection running yet: claim
 * the guest, fork the fence, lift a fence left on d by an earlier
 * protection, start the keeper (the fence is armed later). -EBUSY: another host owns it (one line). */
int colo_own_primary_begin(colo_ownership *o, const struct colo_backend_params *bp,
                           const char *domain, colo_backend *be, colo_dom *d);
/* Primary, once a stop is heard (colo_run_up): from now on the fence
 * follows the lease. Before, no secondary can hold a checkpoint it could
 * claim from, and an xl-colo interrupted while connecting leaves its guest
 * running. */
void colo_own_primary_arm(colo_ownership *o);
/* Primary: the fence fired or the lease was lost; poll with the fence's fd. */
bool colo_own_primary_at_risk(colo_ownership *o);
int colo_own_fence_fd(const colo_ownership *o);
/* Primary, the secondary lost: 0 when the guest may go on alone here
 * (the generation has moved past the secondary's, and a fence is lifted);
 * -ESTALE when ownership moved (one line; the caller destroys the copy);
 * another -errno when idle said stop (a fenced guest stays paused). While
 * the arbiter is silent the guest runs until the fence pauses it, and the
 * claim is tried again every retry_ms; *fenced tells the caller to say so. */
int colo_own_primary_alone(colo_ownership *o, colo_backend *be, colo_dom *d,
                           colo_own_idle_fn *idle, void *opaque,
                           void (*on_fenced)(void *opaque));
/* Secondary, before it goes live: claim at gen. 0: won; -ESTALE:
 * ownership moved (one line); another -errno when idle said stop. */
int colo_own_secondary_claim(colo_ownership *o, uint64_t gen, colo_own_idle_fn *idle,
                             void *opaque);

#endif
