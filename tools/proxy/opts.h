/* opts.h - colo-proxy's command line: what it asks for, and the helpers
 * that parse it.
 *
 * Exit status: 0 success, 1 failure (a socket that cannot be set up),
 * 2 usage (an unknown option, a missing or bad value). Every error is one
 * line on stderr, "colo-proxy: ..."; a usage error adds the usage line. */
#ifndef COLO_PROXY_OPTS_H
#define COLO_PROXY_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define PROG "colo-proxy"
#define EXIT_USAGE 2

enum proxy_endpoint {
    EP_PRIMARY = 0,     /* --primary-in: the primary guest's frames */
    EP_SECONDARY,       /* --secondary-in: the secondary guest's */
    EP_OUTDEV,          /* --outdev: the primary's frames, to the client */
    EP_NOTIFY,          /* --notify: QEMU's notify_dev protocol, the Xen side */
    EP_STATUS,          /* --status: one JSON line of counters per client */
    EP__MAX
};

struct proxy_opts {
    const char *path[EP__MAX];  /* NULL: not asked for (notify, status) */
    bool vnet_hdr;
    uint32_t timeout_ms;        /* 0: the engine's default (3000) */
    uint32_t max_flows;         /* 0: the engine's default */
    uint64_t max_mem;           /* 0: the engine's default */
};

/* The option that names each endpoint ("--primary-in"). */
const char *proxy_endpoint_option(enum proxy_endpoint e);

/* Parse argv into *o: 0, or the exit status to return (the error said),
 * -1 for --help (printed). */
int proxy_opts_parse(int argc, char **argv, struct proxy_opts *o);

/* Print "colo-proxy: ...", and return status. */
int fail(int status, const char *fmt, ...) _printf_(2, 3);

#endif
