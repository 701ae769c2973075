/* colo-internal.h - the context and logging, shared by the engine's files. */
#ifndef COLO_INTERNAL_H
#define COLO_INTERNAL_H

#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "colo-time.h"
#include "libxlcolo.h"
#include "macro.h"

/* What runs in a context (ctx->running). A protection goes IDLE ->
 * STARTING -> UP (its loops run and watch stop_fd) -> IDLE;
 * libxlcolo_request_stop() moves UP to STOPPING, which the loops take as a
 * clean stop. */
enum {
    COLO_RUN_IDLE = 0,
    COLO_RUN_STARTING,
    COLO_RUN_UP,
    COLO_RUN_STOPPING,
};

struct libxlcolo_ctx {
    xentoollog_logger *lg;
    libxlcolo_event_cb *event_cb;
    void *event_opaque;
    int trigger_fd;          /* eventfd: libxlcolo_request_checkpoint() */
    int stop_fd;             /* eventfd: libxlcolo_request_stop() wakes the loops */
    atomic_int running;      /* COLO_RUN_*: a protection runs in this context */
    char last_error[256];    /* from a control peer */
    /* The last line logged at ERROR or worse (colo_log, LOG_ERRNO), for a
     * control reply that must carry its cause (set-replication, a failed
     * checkpoint). Only the protection's thread reads it. */
    char last_logged[1024];
    pthread_t run_thread;    /* the protection's (colo_run_begin) */
};

/* 1..max characters of [A-Za-z0-9_.-]: a domain's or a disk's name, safe
 * in a file name and in a control request. */
static inline bool colo_name_valid(const char *s, size_t max)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++)
        if (n >= max || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                          (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '.' ||
                          s[n] == '-'))
            return false;
    return n >= 1;
}

/* The life of a protection in its context. begin: false if one already
 * runs; up: its loops now watch for a stop; end: it has finished. */
bool colo_run_begin(libxlcolo_ctx *ctx);
void colo_run_up(libxlcolo_ctx *ctx);
void colo_run_end(libxlcolo_ctx *ctx);
/* A stop was asked in this process (libxlcolo_request_stop). woken: the
 * caller polled stop_fd readable; its count is taken then whatever the
 * state, so that a late wakeup (from a request that raced the end of an
 * earlier protection) cannot make the poll spin. */
bool colo_stop_requested(libxlcolo_ctx *ctx, bool woken);

void colo_log(libxlcolo_ctx *ctx, xentoollog_level lvl, int errnoval,
              const char *fmt, ...) _printf_(4, 5);

/* Log at the point of failure and return the negative errno: r < 0. */
int colo_log_errno(libxlcolo_ctx *ctx, int r, const char *fmt, ...) _printf_(3, 4);

#define LOG(ctx, lvl, ...) colo_log((ctx), XTL_##lvl, -1, __VA_ARGS__)
#define LOG_ERRNO(ctx, r, ...) colo_log_errno((ctx), (r), __VA_ARGS__)

void colo_emit(libxlcolo_ctx *ctx, const libxlcolo_event *ev);
void colo_emit_state(libxlcolo_ctx *ctx, libxlcolo_role role, libxlcolo_state state,
                     uint64_t epoch);

#endif
