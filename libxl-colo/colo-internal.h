/* colo-internal.h - the context and logging, shared by the engine's files. */
#ifndef COLO_INTERNAL_H
#define COLO_INTERNAL_H

#include <stdarg.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "colo-time.h"
#include "libxlcolo.h"
#include "macro.h"

struct libxlcolo_ctx {
    xentoollog_logger *lg;
    libxlcolo_event_cb *event_cb;
    void *event_opaque;
    int trigger_fd;          /* eventfd: libxlcolo_request_checkpoint() */
    atomic_int running;      /* a protection runs in this context */
    char last_error[256];    /* from a control peer */
};

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
