/* opts.c - colo-proxy's command line (opts.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

#define USAGE "usage: " PROG " --primary-in PATH --secondary-in PATH --outdev PATH " \
              "[--notify PATH] [--status PATH] [--vnet-hdr] [--compare-timeout MS] " \
              "[--max-flows N] [--max-mem BYTES] [--busy-poll US]"

int fail(int status, const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

void proxy_print_line(void *opaque, enum proxy_level lvl, const char *line)
{
    (void)opaque;
    (void)lvl;
    fprintf(stderr, PROG ": %s\n", line);
}

/* The problem, then the usage line: exit status 2. */
static int usage(const char *fmt, ...) _printf_(1, 2);
static int usage(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n" USAGE "\n", stderr);
    return EXIT_USAGE;
}

static void help(void)
{
    printf(USAGE "\n\n"
           "Compare the frames of a COLO primary and secondary guest, as QEMU's\n"
           "colo-compare does, on Unix sockets it listens on:\n"
           "  --primary-in PATH     the primary guest's frames\n"
           "  --secondary-in PATH   the secondary guest's frames\n"
           "  --outdev PATH         the primary's frames, released to the client\n"
           "  --notify PATH         notify_dev: DO_CHECKPOINT out, COLO_CHECKPOINT in\n"
           "  --status PATH         one JSON line of counters to each client\n"
           "  --vnet-hdr            records carry a vnet header length (vnet_hdr_support)\n"
           "  --compare-timeout MS  a primary frame unmatched this long diverges (3000)\n"
           "  --max-flows N         flows at once (65536)\n"
           "  --max-mem BYTES       bytes held in all, K, M or G suffix (128M)\n"
           "  --busy-poll US        after work, poll this long before sleeping (0: off)\n"
           "Frames: be32 length [be32 vnet header length] frame. See colo-proxy(8).\n");
}

/* A whole decimal number in [min, max], no sign. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* A number of bytes, with an optional K, M or G (binary) suffix. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

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
    default: break;
    }
    if (*end || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/* The smallest --max-mem the engine can start with: its flow table. */
#define MAX_MEM_MIN (1u << 20)
#define MAX_MEM_MAX (64ull << 30)
#define MAX_FLOWS_MAX (1u << 24)

int proxy_opts_parse(int argc, char **argv, struct proxy_opts *o)
{
    enum { O_PRI = 256, O_SEC, O_OUT, O_NOTIFY, O_STATUS, O_VNET, O_TIMEOUT, O_FLOWS, O_MEM,
           O_BUSY, O_HELP };
    static const struct option longopts[] = {
        { "primary-in", required_argument, NULL, O_PRI },
        { "secondary-in", required_argument, NULL, O_SEC },
        { "outdev", required_argument, NULL, O_OUT },
        { "notify", required_argument, NULL, O_NOTIFY },
        { "status", required_argument, NULL, O_STATUS },
        { "vnet-hdr", no_argument, NULL, O_VNET },
        { "compare-timeout", required_argument, NULL, O_TIMEOUT },
        { "max-flows", required_argument, NULL, O_FLOWS },
        { "max-mem", required_argument, NULL, O_MEM },
        { "busy-poll", required_argument, NULL, O_BUSY },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int c;

    memset(o, 0, sizeof(*o));
    o->log.cb = proxy_print_line;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case O_PRI: case O_SEC: case O_OUT: case O_NOTIFY: case O_STATUS:
            if (!*optarg)
                return usage("%s needs a path", proxy_endpoint_option((enum proxy_endpoint)(c - O_PRI)));
            o->path[c - O_PRI] = optarg;
            break;
        case O_VNET: o->vnet_hdr = true; break;
        case O_TIMEOUT:
            if (parse_u64(optarg, 1, 3600000, &v) < 0)
                return usage("--compare-timeout %s: must be 1..3600000 ms", optarg);
            o->timeout_ms = (uint32_t)v;
            break;
        case O_FLOWS:
            if (parse_u64(optarg, 1, MAX_FLOWS_MAX, &v) < 0)
                return usage("--max-flows %s: must be 1..16777216", optarg);
            o->max_flows = (uint32_t)v;
            break;
        case O_MEM:
            if (parse_size(optarg, &v) < 0 || v < MAX_MEM_MIN || v > MAX_MEM_MAX)
                return usage("--max-mem %s: must be 1M..64G (K, M or G suffix)", optarg);
            o->max_mem = v;
            break;
        case O_BUSY:
            if (parse_u64(optarg, 0, PROXY_BUSY_POLL_MAX_US, &v) < 0)
                return usage("--busy-poll %s: must be 0..%u us", optarg, PROXY_BUSY_POLL_MAX_US);
            o->busy_poll_us = (uint32_t)v;
            break;
        case O_HELP:
            help();
            return -1;
        case ':':
            return usage("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage("unexpected argument '%s'", argv[optind]);
    for (int e = EP_PRIMARY; e <= EP_OUTDEV; e++)
        if (!o->path[e])
            return usage("%s is required", proxy_endpoint_option((enum proxy_endpoint)e));
    for (int a = 0; a < EP__MAX; a++)
        for (int b = a + 1; b < EP__MAX; b++)
            if (o->path[a] && o->path[b] && strcmp(o->path[a], o->path[b]) == 0) {
                return usage("%s and %s are the same path %s", proxy_endpoint_option((enum proxy_endpoint)a),
                             proxy_endpoint_option((enum proxy_endpoint)b), o->path[a]);
            }
    return 0;
}
