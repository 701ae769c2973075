/* ownership.c - the protection's side of the arbiter (ownership.h). */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colo-internal.h"
#include "control/control.h"
#include "engine/ownership.h"

/* This host's name in the arbiter: opt's, or the kernel's. */
static void host_name_of(const libxlcolo_options *opt, char *host, size_t n)
{
    host[0] = '\0';
    if (opt->host_name)
        snprintf(host, n, "%s", opt->host_name);
    else if (gethostname(host, n - 1) < 0)
        host[0] = '\0';
    host[n - 1] = '\0';
}

static struct colo_arbiter_params params_of(const libxlcolo_options *opt, const char *uuid,
                                            const char *host)
{
    return (struct colo_arbiter_params){
        .url = opt->arbiter,
        .prefix = opt->arbiter_prefix,
        .ttl_ms = opt->lease_ttl_ms,
        .ca_file = opt->arbiter_ca,
        .cert_file = opt->arbiter_cert,
        .key_file = opt->arbiter_key,
        .uuid = uuid,
        .host = host,
    };
}

int libxlcolo_arbiter_check(const libxlcolo_options *opt, char *err, size_t errsize)
{
    char host[256];
    if (!opt->arbiter || strcmp(opt->arbiter, "none") == 0)
        return 0;
    host_name_of(opt, host, sizeof(host));
    struct colo_arbiter_params ap = params_of(opt, NULL, host);
    return colo_arbiter_check(&ap, err, errsize);
}

int colo_own_open(libxlcolo_ctx *ctx, const libxlcolo_options *opt, const char *uuid,
                  const char *name, colo_ownership *o)
{
    memset(o, 0, sizeof(*o));
    o->ctx = ctx;
    snprintf(o->name, sizeof(o->name), "%s", name);
    atomic_init(&o->lost, false);
    atomic_init(&o->armed, false);
    if (!opt->arbiter || strcmp(opt->arbiter, "none") == 0)
        return 0;

    char host[256];
    host_name_of(opt, host, sizeof(host));
    struct colo_arbiter_params ap = params_of(opt, uuid, host);
    int r = colo_arbiter_open(ctx, &ap, &o->arb);
    if (r < 0)
        return r;
    uint32_t ttl = o->arb->ttl_ms;
    o->margin_ms = MAX(250u, ttl / 5);
    o->retry_ms = MAX(100u, MIN(1000u, ttl / 5));
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->wake, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

uint64_t colo_own_generation(const colo_ownership *o)
{
    return o->arb ? o->arb->generation : 0;
}

void colo_own_status(colo_ownership *o, libxlcolo_status *st)
{
    if (!o->arb)
        return;
    st->has_arbiter = true;
    uint64_t deadline = colo_arbiter_deadline(o->arb), now = colo_now_ns();
    if (deadline) {
        snprintf(st->owner, sizeof(st->owner), "%s", o->arb->host);
        st->generation = o->arb->generation;
        st->lease_left_ms = deadline > now ? (deadline - now) / 1000000u : 0;
    } else {
        snprintf(st->owner, sizeof(st->owner), "%s", o->seen.host);
        st->generation = MAX(o->seen.generation, o->arb->generation);
        st->lease_left_ms = 0;
    }
}

/* --- the primary's lease keeper --- */

/* The fence goes margin_ms before the lease's end, or at once. */
static void arm_fence(colo_ownership *o)
{
    atomic_store(&o->armed, true);
    uint64_t deadline = colo_arbiter_deadline(o->arb), margin = colo_ms_to_ns(o->margin_ms);
    uint64_t now = colo_now_ns();
    colo_fence_arm(o->fence, deadline > now + margin ? deadline - margin : now);
}

static void *keeper_main(void *arg)
{
    colo_ownership *o = arg;
    uint64_t next = colo_now_ns() + colo_ms_to_ns((uint32_t)(o->arb->granted_ms / 3));

    pthread_mutex_lock(&o->lock);
    while (!o->keeper_quit) {
        struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
        pthread_cond_timedwait(&o->wake, &o->lock, &ts);
        if (o->keeper_quit || colo_now_ns() < next)
            continue;
        pthread_mutex_unlock(&o->lock);
        int64_t granted = 0;
        int r = atomic_load(&o->lost) ? -ENOLCK : colo_arbiter_renew(o->arb, &granted);
        uint64_t now = colo_now_ns();
        if (r == 0) {
            if (atomic_load(&o->armed))
                arm_fence(o);
            next = now + colo_ms_to_ns((uint32_t)(granted / 3));
        } else if (r == -ENOLCK) {
            /* Gone: another side may hold the guest already. */
            if (!atomic_exchange(&o->lost, true) && atomic_load(&o->armed))
                colo_fence_arm(o->fence, now);
            next = UINT64_MAX / 2;
        } else {
            next = now + colo_ms_to_ns(o->retry_ms); /* the fence stays where it is */
        }
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

static void keeper_stop(colo_ownership *o)
{
    if (!o->keeper_on)
        return;
    pthread_mutex_lock(&o->lock);
    o->keeper_quit = true;
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    pthread_join(o->keeper, NULL);
    o->keeper_on = false;
}

void colo_own_close(colo_ownership *o, bool release)
{
    if (!o->arb)
        return;
    keeper_stop(o);
    colo_fence_stop(o->fence); /* disarmed: the guest is not fenced by a stop */
    o->fence = NULL;
    if (release)
        colo_arbiter_release(o->arb);
    colo_arbiter_close(o->arb);
    o->arb = NULL;
    pthread_cond_destroy(&o->wake);
    pthread_mutex_destroy(&o->lock);
}

/* --- decisions --- */

static int moved(colo_ownership *o, const struct colo_owner *ow)
{
    o->seen = *ow;
    return LOG_ERRNO(o->ctx, -ESTALE, "ownership of %s moved to %s at generation %" PRIu64
                     "; destroying the copy here", o->name, ow->host[0] ? ow->host : "nobody",
                     ow->generation);
}

static int lift_fence(colo_ownership *o, colo_backend *be, colo_dom *d, const char *why)
{
    int r = colo_be_unpause(be, d, COLO_PAUSE_FENCE);
    if (r < 0)
        return r;
    colo_fence_clear(o->fence);
    LOG(o->ctx, WARN, "%s; ownership of %s confirmed at generation %" PRIu64 ": it runs again",
        why, o->name, o->arb->generation);
    return 0;
}

int colo_own_primary_begin(colo_ownership *o, const struct colo_backend_params *bp,
                           const char *domain, colo_backend *be, colo_dom *d)
{
    if (!o->arb)
        return 0;
    /* The watchdog first: no moment with a lease and no fence. */
    int r = colo_fence_start(o->ctx, bp, domain, &o->fence);
    if (r < 0)
        return r;
    struct colo_owner ow;
    r = colo_arbiter_query(o->arb, &ow);
    if (r < 0)
        return r;
    o->seen = ow;
    bool ours = ow.live && strcmp(ow.host, o->arb->host) == 0;
    if (ow.live && !ours)
        return LOG_ERRNO(o->ctx, -EBUSY, "%s is owned by %s at generation %" PRIu64 " (lease %" PRId64
                         " ms left): not protecting it here", o->name, ow.host, ow.generation,
                         ow.lease_left_ms);
    r = colo_arbiter_claim(o->arb, ow.generation, ours, &ow);
    if (r == -EBUSY || r == -ESTALE)
        return LOG_ERRNO(o->ctx, -EBUSY, "%s was claimed by %s at generation %" PRIu64 " meanwhile: "
                         "not protecting it here", o->name, ow.host, ow.generation);
    if (r < 0)
        return r;
    struct colo_domain_info info;
    r = colo_be_domain_info(be, d, &info, 0);
    if (r < 0)
        return r;
    if (info.fenced && (r = lift_fence(o, be, d, "the guest was left fenced by an earlier protection")) < 0)
        return r;
    if (pthread_create(&o->keeper, NULL, keeper_main, o) != 0)
        return LOG_ERRNO(o->ctx, -EAGAIN, "arbiter: cannot start the lease keeper");
    o->keeper_on = true;
    LOG(o->ctx, NOTICE, "%s is owned here (%s) at generation %" PRIu64 ": lease of %" PRId64 " ms, "
        "the fence %u ms before its end", o->name, o->arb->host, o->arb->generation,
        o->arb->granted_ms, o->margin_ms);
    return 0;
}

void colo_own_primary_arm(colo_ownership *o)
{
    if (o->arb)
        arm_fence(o);
}

int colo_own_fence_fd(const colo_ownership *o)
{
    return o->fence ? colo_fence_fd(o->fence) : -1;
}

bool colo_own_primary_at_risk(colo_ownership *o)
{
    return o->arb && (atomic_load(&o->lost) || colo_fence_fired(o->fence));
}

int colo_own_primary_alone(colo_ownership *o, colo_backend *be, colo_dom *d,
                           colo_own_idle_fn *idle, void *opaque,
                           void (*on_fenced)(void *opaque))
{
    if (!o->arb)
        return 0;
    uint64_t gen = o->arb->generation;
    bool said = false;
    for (;;) {
        struct colo_owner ow;
        int r = colo_arbiter_claim(o->arb, gen, true, &ow);
        /* Our lease has ended, but nobody took the guest: it is still ours. */
        if (r == -ESTALE && !ow.live && ow.generation == gen)
            r = colo_arbiter_claim(o->arb, gen, false, &ow);
        if (r == 0) {
            o->seen = ow;
            atomic_store(&o->lost, false);
            arm_fence(o);
            struct colo_domain_info info;
            r = colo_be_domain_info(be, d, &info, 0);
            if (r == 0 && info.fenced)
                r = lift_fence(o, be, d, "the arbiter answers again");
            return r;
        }
        if (r == -ESTALE || r == -EBUSY)
            return moved(o, &ow);
        if (colo_own_primary_at_risk(o)) {
            if (atomic_load(&o->lost))
                colo_fence_arm(o->fence, colo_now_ns());
            if (!said && colo_fence_fired(o->fence)) {
                on_fenced(opaque);
                said = true;
            }
        }
        if (!idle(opaque, (int)o->retry_ms))
            return -ECANCELED;
    }
}

int colo_own_secondary_claim(colo_ownership *o, uint64_t gen, colo_own_idle_fn *idle,
                             void *opaque)
{
    if (!o->arb)
        return 0;
    bool said_wait = false, said_silent = false;
    for (;;) {
        struct colo_owner ow;
        int r = colo_arbiter_claim(o->arb, gen, false, &ow);
        int wait_ms = (int)o->retry_ms;
        if (r == 0) {
            o->seen = ow;
            LOG(o->ctx, WARN, "%s: ownership won here (%s) at generation %" PRIu64 ": going live",
                o->name, o->arb->host, o->arb->generation);
            return 0;
        }
        if (r == -EBUSY && ow.generation == gen) {
            o->seen = ow;
            if (!said_wait)
                LOG(o->ctx, NOTICE, "%s: waiting for the lease of %s at generation %" PRIu64
                    " to expire (%" PRId64 " ms left)", o->name, ow.host, ow.generation,
                    ow.lease_left_ms);
            said_wait = true;
            wait_ms = (int)MIN((int64_t)o->retry_ms, MAX(10, ow.lease_left_ms));
        } else if (r == -ESTALE || r == -EBUSY) {
            return moved(o, &ow);
        } else {
            /* Once per retry: the line is the operator's only sign. */
            LOG(o->ctx, WARN, "%s does not go live here while the arbiter cannot be reached "
                "(%s; retrying every %u ms)", o->name, said_silent ? "still" : "first try",
                o->retry_ms);
            said_silent = true;
        }
        if (!idle(opaque, wait_ms))
            return -ECANCELED;
    }
}

bool colo_own_idle_poll(libxlcolo_ctx *ctx, struct colo_control *ctl, int ms,
                        void (*on_control)(void *opaque), void *opaque)
{
    struct pollfd fds[2] = {
        { .fd = colo_control_fd(ctl), .events = POLLIN },
        { .fd = ctx->stop_fd, .events = POLLIN },
    };
    int n = poll(fds, 2, ms);
    if (n > 0 && fds[0].revents)
        on_control(opaque);
    return colo_stop_requested(ctx, n > 0 && fds[1].revents);
}
