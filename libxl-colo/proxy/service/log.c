/* log.c - the proxy service's lines (log.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "proxy/service/log.h"

static void say(const struct proxy_log *l, enum proxy_level lvl, const char *fmt, va_list ap)
{
    char line[512];

    if (!l || !l->cb)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    l->cb(l->opaque, lvl, line);
}

void proxy_say(const struct proxy_log *l, enum proxy_level lvl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    say(l, lvl, fmt, ap);
    va_end(ap);
}

int proxy_fail(const struct proxy_log *l, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    say(l, status ? PROXY_LOG_ERROR : PROXY_LOG_WARN, fmt, ap);
    va_end(ap);
    return status;
}
