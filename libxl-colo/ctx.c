/* ctx.c - the context: logger, event callback, checkpoint trigger. */
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
    if (ctx->trigger_fd < 0) {
        int r = negative_errno();
        free(ctx);
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

static void colo_vlog(libxlcolo_ctx *ctx, xentoollog_level lvl, int errnoval,
                      const char *fmt, va_list ap)
{
    xtl_logv(ctx->lg, lvl, errnoval, "xl-colo", fmt, ap);
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
}
