/* xl_colo_util.c - error lines, strict number and address parsing. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

static void vline(const char *cmd, const char *fmt, va_list ap)
{
    fputs("xl-colo: ", stderr);
    if (cmd)
        fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(cmd, fmt, ap);
    va_end(ap);

    const struct cmd_spec *spec = cmd ? xlcolo_cmd_lookup(cmd) : NULL;
    if (spec)
        fprintf(stderr, "usage: xl-colo %s %s\n", spec->name, spec->usage);
    else
        fputs("usage: xl-colo [--backend sim|xen] [--rundir DIR] [-v] [-j] "
              "COMMAND [ARGS]\n", stderr);
    return XLCOLO_EXIT_USAGE;
}

int fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(cmd, fmt, ap);
    va_end(ap);
    return EXIT_FAILURE;
}

int fail_errno(struct xlcolo *xc, const char *cmd, int r)
{
    const char *why = libxlcolo_last_error(xc->ctx);
    if (atomic_load(&xc->errors_logged) > 0)
        return EXIT_FAILURE;
    return fail(cmd, "%s", why && *why ? why : strerror(r < 0 ? -r : r));
}

int bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return usage_error(cmd, "option '%s' needs a value", arg);
    if (strncmp(arg, "--", 2) == 0 && optopt) /* glibc: known, but "=value" */
        return usage_error(cmd, "option '%.*s' takes no value",
                           (int)strcspn(arg, "="), arg);
    if (strncmp(arg, "--", 2) == 0)
        return usage_error(cmd, "unknown option '%s'", arg);
    return usage_error(cmd, "unknown option '-%c'", optopt);
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)s[0])) /* strtoull takes " -1" */
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int option_u64(const char *cmd, const char *opt, const char *s,
               uint64_t min, uint64_t max, uint64_t *out)
{
    if (parse_u64(s, min, max, out) == 0)
        return 0;
    return usage_error(cmd, "%s: '%s' is not a number in %llu..%llu", opt, s,
                       (unsigned long long)min, (unsigned long long)max);
}

int parse_host_port(const char *s, char *host, size_t size, uint16_t *port,
                    uint16_t default_port)
{
    const char *h = s, *p = NULL;
    size_t hlen;
    uint64_t v;

    if (s[0] == '[') {                  /* [V6] or [V6]:PORT */
        const char *close = strchr(s, ']');
        if (!close)
            return -EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        if (close[1] == ':')
            p = close + 2;
        else if (close[1])
            return -EINVAL;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL;               /* a bare V6 address: all host */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon)
            p = colon + 1;
    }
    if (hlen == 0 || hlen >= size)
        return -EINVAL;
    for (size_t i = 0; i < hlen; i++)
        if (!isgraph((unsigned char)h[i]) || h[i] == '[' || h[i] == ']')
            return -EINVAL;
    if (p) {
        if (parse_u64(p, 1, 65535, &v) < 0)
            return -EINVAL;
        *port = (uint16_t)v;
    } else {
        *port = default_port;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return 0;
}

static int ctl_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".ctl") == 0;
}

void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

int list_protections(const char *run_dir, char ***out)
{
    struct dirent **ents = NULL;
    int n = scandir(run_dir, &ents, ctl_filter, alphasort);
    if (n < 0 && errno != ENOENT)
        return negative_errno();
    if (n < 0)
        n = 0;

    char **v = calloc((size_t)n + 1, sizeof(*v));
    int r = v ? 0 : -ENOMEM;
    for (int i = 0; i < n; i++) {
        if (r == 0) {
            v[i] = strndup(ents[i]->d_name, strlen(ents[i]->d_name) - 4);
            if (!v[i])
                r = -ENOMEM;
        }
        free(ents[i]);
    }
    free(ents);
    if (r < 0) {
        strv_free(v);
        return r;
    }
    *out = v;
    return 0;
}
