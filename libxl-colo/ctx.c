/* ctx.c - the context: logger, event callback, checkpoint trigger, stop
 * request. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "colo-internal.h"

int libxlcolo_ctx_alloc(libxlcolo_ctx **pctx, int version, unsigned flags,
                        xentoollog_logger *lg)
{
    if (!pctx || !lg || version != LIBXLCOLO_VERSION || flags)
        return -EINVAL;
    libxlcolo_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->lg = lg;
    ctx->trigger_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ctx->stop_fd = ctx->trigger_fd < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->stop_fd < 0) {
        int r = negative_errno();
        libxlcolo_ctx_free(ctx);
        return r;
    }
    *pctx = ctx;
    return 0;
}

void libxlcolo_ctx_free(libxlcolo_ctx *ctx)
{
    if (!ctx)
        return;
    closep(&ctx->trigger_fd);
    closep(&ctx->stop_fd);
    free(ctx);
}

void libxlcolo_set_event_callback(libxlcolo_ctx *ctx, libxlcolo_event_cb *cb,
                                  void *opaque)
{
    ctx->event_cb = cb;
    ctx->event_opaque = opaque;
}

void colo_emit(libxlcolo_ctx *ctx, const libxlcolo_event *ev)
{
    if (ctx->event_cb)
        ctx->event_cb(ctx->event_opaque, ev);
}

void colo_emit_state(libxlcolo_ctx *ctx, libxlcolo_role role, libxlcolo_state state,
                     uint64_t epoch)
{
    libxlcolo_event ev = {
        .type = LIBXLCOLO_EVENT_STATE,
        .role = role,
        .state = state,
        .epoch = epoch,
    };
    colo_emit(ctx, &ev);
}

/* An error line is kept as ctx->last_logged too, for a control reply
 * that must carry its cause; the rest goes straight to the logger. */
static void colo_vlog(libxlcolo_ctx *ctx, xentoollog_level lvl, int errnoval,
                      const char *fmt, va_list ap)
{
    if (lvl < XTL_ERROR) {
        xtl_logv(ctx->lg, lvl, errnoval, "xl-colo", fmt, ap);
        return;
    }
    char line[sizeof(ctx->last_logged)];
    vsnprintf(line, sizeof(line), fmt, ap);
    xtl_log(ctx->lg, lvl, errnoval, "xl-colo", "%s", line);
    /* The protection's own lines only: its helper threads (the lease
     * keeper) log too, and last_logged is the protection thread's. */
    if (atomic_load(&ctx->running) == COLO_RUN_IDLE || pthread_equal(pthread_self(), ctx->run_thread))
        memcpy(ctx->last_logged, line, sizeof(line));
}

void colo_log(libxlcolo_ctx *ctx, xentoollog_level lvl, int errnoval,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    colo_vlog(ctx, lvl, errnoval, fmt, ap);
    va_end(ap);
}

int colo_log_errno(libxlcolo_ctx *ctx, int r, const char *fmt, ...)
{
    va_list ap;
    if (r >= 0)
        r = -EIO;
    va_start(ap, fmt);
    colo_vlog(ctx, XTL_ERROR, -r, fmt, ap);
    va_end(ap);
    return r;
}

int libxlcolo_request_checkpoint(libxlcolo_ctx *ctx)
{
    uint64_t one = 1;
    if (!atomic_load(&ctx->running))
        return -ESRCH;
    if (write(ctx->trigger_fd, &one, sizeof(one)) != sizeof(one))
        return negative_errno();
    return 0;
}

/* A signal handler may use lock-free atomics and write(2), nothing more. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "libxlcolo_request_stop() needs a lock-free atomic_int");

int libxlcolo_request_stop(libxlcolo_ctx *ctx)
{
    int was = COLO_RUN_UP;
    uint64_t one = 1;

    if (!atomic_compare_exchange_strong(&ctx->running, &was, COLO_RUN_STOPPING))
        return was == COLO_RUN_STOPPING ? 0 : was == COLO_RUN_STARTING ? -EAGAIN : -ESRCH;
    /* Only a wakeup: the loops also look at the state whenever their poll
     * times out (at least once a heartbeat), so a failed write loses no
     * stop. errno is the caller's: a signal handler's must not change. */
    int saved = errno;
    _unused_ ssize_t n = write(ctx->stop_fd, &one, sizeof(one));
    errno = saved;
    return 0;
}

/* Take an eventfd's count, if any, leaving errno as it was. */
static void eventfd_drain(int fd)
{
    uint64_t v;
    int saved = errno;
    _unused_ ssize_t n = read(fd, &v, sizeof(v));
    errno = saved;
}

bool colo_run_begin(libxlcolo_ctx *ctx)
{
    int idle = COLO_RUN_IDLE;

    if (!atomic_compare_exchange_strong(&ctx->running, &idle, COLO_RUN_STARTING))
        return false;
    eventfd_drain(ctx->stop_fd); /* left by a request that raced the last end */
    ctx->run_thread = pthread_self();
    return true;
}

void colo_run_up(libxlcolo_ctx *ctx)
{
    int starting = COLO_RUN_STARTING;
    atomic_compare_exchange_strong(&ctx->running, &starting, COLO_RUN_UP);
}

void colo_run_end(libxlcolo_ctx *ctx)
{
    atomic_store(&ctx->running, COLO_RUN_IDLE);
}

bool colo_stop_requested(libxlcolo_ctx *ctx, bool woken)
{
    bool stop = atomic_load(&ctx->running) == COLO_RUN_STOPPING;
    if (stop || woken)
        eventfd_drain(ctx->stop_fd);
    return stop;
}

const char *libxlcolo_default_run_dir(void)
{
    return "/run/xen-colo";
}

const char *libxlcolo_last_error(libxlcolo_ctx *ctx)
{
    return ctx->last_error;
}

const char *libxlcolo_state_name(libxlcolo_state s)
{
    static const char *const names[] = {
        [LIBXLCOLO_STATE_CONNECTING] = "connecting",
        [LIBXLCOLO_STATE_PRECOPY] = "precopy",
        [LIBXLCOLO_STATE_PROTECTED] = "protected",
        [LIBXLCOLO_STATE_UNPROTECTED] = "unprotected",
        [LIBXLCOLO_STATE_FAILED_OVER] = "failed-over",
        [LIBXLCOLO_STATE_STOPPED] = "stopped",
        [LIBXLCOLO_STATE_FENCED] = "fenced",
        [LIBXLCOLO_STATE_AWAITING_OWNERSHIP] = "awaiting-ownership",
    };
    return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

const char *libxlcolo_failover_name(libxlcolo_failover_state s)
{
    static const char *const names[] = {
        [LIBXLCOLO_FAILOVER_NONE] = "none",
        [LIBXLCOLO_FAILOVER_REQUIRE] = "require",
        [LIBXLCOLO_FAILOVER_ACTIVE] = "active",
        [LIBXLCOLO_FAILOVER_COMPLETED] = "completed",
        [LIBXLCOLO_FAILOVER_RELAUNCH] = "relaunch",
    };
    return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

const char *libxlcolo_mode_name(libxlcolo_mode m)
{
    return m == LIBXLCOLO_MODE_COLO ? "colo" : "remus";
}

const char *libxlcolo_role_name(libxlcolo_role r)
{
    return r == LIBXLCOLO_ROLE_SECONDARY ? "secondary" : "primary";
}

void libxlcolo_options_init(libxlcolo_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->mode = LIBXLCOLO_MODE_REMUS;
    opt->interval_ms = 100;
    opt->precopy_threshold = 256;
    opt->precopy_max_rounds = 30;
    opt->heartbeat_ms = 200;
    opt->timeout_ms = 3000;
    opt->lease_ttl_ms = 5000;
}
