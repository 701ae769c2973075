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
#include "proxy/service/proxy.h"

#define PROG "colo-proxy"
#define EXIT_USAGE 2

/* Parse argv into *o: 0, or the exit status to return (the error said),
 * -1 for --help (printed). */
int proxy_opts_parse(int argc, char **argv, struct proxy_opts *o);

/* Print "colo-proxy: ...", and return status. */
int fail(int status, const char *fmt, ...) _printf_(2, 3);

/* The service's lines, the same way (proxy_log_cb). */
void proxy_print_line(void *opaque, enum proxy_level lvl, const char *line);

#endif
