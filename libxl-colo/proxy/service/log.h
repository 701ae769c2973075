/* log.h - how the proxy service says what happened: through its caller's
 * function, one line at a time. colo-proxy prints "colo-proxy: LINE" on
 * stderr; a protection logs through its context's logger. */
#ifndef COLO_PROXY_SERVICE_LOG_H
#define COLO_PROXY_SERVICE_LOG_H

#include "macro.h"

enum proxy_level {
    PROXY_LOG_INFO = 0,     /* what an operator may want to know: a checkpoint asked */
    PROXY_LOG_WARN,         /* a peer refused, a frame dropped: the service goes on */
    PROXY_LOG_ERROR,        /* the service cannot start or go on */
};

typedef void proxy_log_cb(void *opaque, enum proxy_level lvl, const char *line);

struct proxy_log {
    proxy_log_cb *cb;       /* NULL: nothing is said */
    void *opaque;
};

/* Say one line at lvl. */
void proxy_say(const struct proxy_log *l, enum proxy_level lvl, const char *fmt, ...)
    _printf_(3, 4);
/* Say one line, at ERROR when status is not 0, else at WARN; return status. */
int proxy_fail(const struct proxy_log *l, int status, const char *fmt, ...) _printf_(3, 4);

#endif
