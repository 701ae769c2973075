/* opts.c - parsing helpers for colo-simguest's command line. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "backend/sim/sim-proto.h"

int fail(int status, const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG "%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 20;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case '\0': break;
    default: return -EINVAL;
    }
    if (*end || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

int rundir_resolve(const char *given, char *out, size_t cap)
{
    const char *d = given;
    char cwd[PATH_MAX];
    size_t n;

    if (!d || !*d)
        d = getenv("XLCOLO_RUNDIR");
    if (!d || !*d)
        d = "/run/xen-colo";
    if (d[0] == '/') {
        n = (size_t)snprintf(out, cap, "%s", d);
    } else {
        if (!getcwd(cwd, sizeof(cwd)))
            return -errno;
        n = (size_t)snprintf(out, cap, "%s/%s", cwd, d);
    }
    if (n >= cap)
        return -ENAMETOOLONG;
    while (n > 1 && out[n - 1] == '/') /* "dir/" and "dir" are one guest */
        out[--n] = '\0';
    return 0;
}

int client_opts_parse(const char *cmd, int argc, char **argv, struct client_opts *o)
{
    static const struct option longopts[] = {
        { "name", required_argument, NULL, 'n' },
        { "rundir", required_argument, NULL, 'd' },
        { "checkpoint", no_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    const char *rundir = NULL;
    int c, r;

    o->name = NULL;
    o->checkpoint = false;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': o->name = optarg; break;
        case 'd': rundir = optarg; break;
        case 'c':
            if (strcmp(cmd, "pause") != 0)
                return fail(EXIT_USAGE, cmd, "unknown option '--checkpoint' (try '" PROG " help')");
            o->checkpoint = true;
            break;
        case ':':
            return fail(EXIT_USAGE, cmd, "option '%s' needs a value", argv[optind - 1]);
        default:
            return fail(EXIT_USAGE, cmd, "unknown option '%s' (try '" PROG " help')",
                        argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(EXIT_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->name)
        return fail(EXIT_USAGE, cmd, "--name is required");
    if (!sim_name_valid(o->name))
        return fail(1, cmd, "invalid guest name '%s' (1-%d of A-Z a-z 0-9 _ . -)",
                    o->name, SIM_NAME_MAX);
    r = rundir_resolve(rundir, o->rundir, sizeof(o->rundir));
    if (r < 0)
        return fail(1, cmd, "cannot resolve the run directory: %s", strerror(-r));
    return 0;
}
