/* cmd_start.c - `xl-colo start`: protect a domain (the primary side). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

#define MAX_MS 3600000u          /* an hour */
#define MAX_PAGES (1ull << 40)   /* 4 PiB of 4 KiB pages */

enum {
    OPT_COLO = 256, OPT_REMUS, OPT_KEY, OPT_INSECURE, OPT_VERIFY,
    OPT_MAX_CHECKPOINTS, OPT_HEARTBEAT, OPT_TIMEOUT, OPT_PRECOPY_THRESHOLD,
    OPT_DIRTY_BOUND,
};

static const struct option start_options[] = {
    { "interval", required_argument, NULL, 'i' },
    { "colo", no_argument, NULL, OPT_COLO },
    { "remus", no_argument, NULL, OPT_REMUS },
    { "key", required_argument, NULL, OPT_KEY },
    { "insecure", no_argument, NULL, OPT_INSECURE },
    { "verify", no_argument, NULL, OPT_VERIFY },
    { "max-checkpoints", required_argument, NULL, OPT_MAX_CHECKPOINTS },
    { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "precopy-threshold", required_argument, NULL, OPT_PRECOPY_THRESHOLD },
    { "dirty-bound", required_argument, NULL, OPT_DIRTY_BOUND },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    {}
};

/* 1 to go on, 0 to exit with *status. */
static int parse_start(struct xlcolo *xc, int argc, char **argv,
                       libxlcolo_options *opt, int *status)
{
    bool colo = false, remus = false;
    uint64_t v = 0;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:jh", start_options, NULL)) != -1) {
        int r = 0;
        switch (c) {
        case 'i':
            r = option_u64("start", "-i", optarg, 1, MAX_MS, &v);
            opt->interval_ms = (uint32_t)v;
            break;
        case OPT_COLO:
            colo = true;
            opt->mode = LIBXLCOLO_MODE_COLO;
            break;
        case OPT_REMUS:
            remus = true;
            opt->mode = LIBXLCOLO_MODE_REMUS;
            break;
        case OPT_KEY:
            opt->key_file = optarg;
            break;
        case OPT_INSECURE:
            opt->insecure = true;
            break;
        case OPT_VERIFY:
            opt->verify = true;
            break;
        case OPT_MAX_CHECKPOINTS:
            r = option_u64("start", "--max-checkpoints", optarg, 0, UINT64_MAX,
                           &opt->max_checkpoints);
            break;
        case OPT_HEARTBEAT:
            r = option_u64("start", "--heartbeat", optarg, 1, 60000, &v);
            opt->heartbeat_ms = (uint32_t)v;
            break;
        case OPT_TIMEOUT:
            r = option_u64("start", "--timeout", optarg, 1, MAX_MS, &v);
            opt->timeout_ms = (uint32_t)v;
            break;
        case OPT_PRECOPY_THRESHOLD:
            r = option_u64("start", "--precopy-threshold", optarg, 0, MAX_PAGES,
                           &opt->precopy_threshold);
            break;
        case OPT_DIRTY_BOUND:
            r = option_u64("start", "--dirty-bound", optarg, 0, MAX_PAGES,
                           &opt->dirty_bound);
            break;
        case 'j':
            xc->json = true;
            break;
        case 'h':
            *status = xlcolo_print_cmd_help("start");
            return 0;
        default:
            r = bad_option("start", c, argv);
            break;
        }
        if (r) {
            *status = r;
            return 0;
        }
    }

    if (colo && remus)
        *status = usage_error("start", "--colo and --remus are exclusive");
    else if (argc - optind < 2)
        *status = usage_error("start", "DOMAIN and HOST[:PORT] are required");
    else if (argc - optind > 2)
        *status = usage_error("start", "unexpected argument '%s'", argv[optind + 2]);
    else if ((*status = check_auth("start", opt)) != 0)
        ;
    else if (opt->timeout_ms <= opt->heartbeat_ms)
        *status = usage_error("start", "--timeout (%u ms) must be longer than "
                              "--heartbeat (%u ms)", opt->timeout_ms,
                              opt->heartbeat_ms);
    else
        return 1;
    return 0;
}

int cmd_start(struct xlcolo *xc, int argc, char **argv)
{
    libxlcolo_options opt;
    struct stop_watch *watch = NULL;
    char host[256];
    uint16_t port;
    int status = EXIT_SUCCESS;

    libxlcolo_options_init(&opt);
    if (parse_start(xc, argc, argv, &opt, &status) <= 0)
        return status;

    const char *domain = argv[optind], *dest = argv[optind + 1];
    if (parse_host_port(dest, host, sizeof(host), &port,
                        XLCOLO_DEFAULT_PORT) < 0)
        return usage_error("start", "'%s' is not HOST[:PORT] (IPv6: "
                           "[ADDR]:PORT)", dest);

    fill_options(xc, &opt);
    announce_backend(xc);
    libxlcolo_set_event_callback(xc->ctx, print_event, xc);

    int r = stop_watch_start(xc, "start", &watch);
    if (r < 0)
        return fail("start", "cannot watch for signals: %s", strerror(-r));
    r = libxlcolo_start(xc->ctx, domain, host, port, &opt);
    stop_watch_end(watch);
    if (r < 0)
        return fail_errno(xc, "start", r);
    return EXIT_SUCCESS;
}
