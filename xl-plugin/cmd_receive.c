/* cmd_receive.c - `xl-colo receive`: run the secondary side. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

enum { OPT_LISTEN = 256, OPT_KEY, OPT_INSECURE, OPT_VERIFY, OPT_TIMEOUT };

static const struct option receive_options[] = {
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "key", required_argument, NULL, OPT_KEY },
    { "insecure", no_argument, NULL, OPT_INSECURE },
    { "verify", no_argument, NULL, OPT_VERIFY },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    {}
};

int cmd_receive(struct xlcolo *xc, int argc, char **argv)
{
    libxlcolo_options opt;
    struct stop_watch *watch = NULL;
    const char *listen_at = "0.0.0.0";
    char addr[256];
    uint16_t port = XLCOLO_DEFAULT_PORT;
    uint64_t v = 0;
    int c, r;

    libxlcolo_options_init(&opt);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":jh", receive_options, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            listen_at = optarg;
            break;
        case OPT_KEY:
            opt.key_file = optarg;
            break;
        case OPT_INSECURE:
            opt.insecure = true;
            break;
        case OPT_VERIFY:
            opt.verify = true;
            break;
        case OPT_TIMEOUT:
            r = option_u64("receive", "--timeout", optarg, 1, 3600000, &v);
            if (r)
                return r;
            opt.timeout_ms = (uint32_t)v;
            break;
        case 'j':
            xc->json = true;
            break;
        case 'h':
            return xlcolo_print_cmd_help("receive");
        default:
            return bad_option("receive", c, argv);
        }
    }
    if (optind < argc)
        return usage_error("receive", "unexpected argument '%s'", argv[optind]);
    r = check_auth("receive", &opt);
    if (r)
        return r;
    if (parse_host_port(listen_at, addr, sizeof(addr), &port,
                        XLCOLO_DEFAULT_PORT) < 0)
        return usage_error("receive", "--listen: '%s' is not ADDR[:PORT] "
                           "(IPv6: [ADDR]:PORT)", listen_at);

    fill_options(xc, &opt);
    announce_backend(xc);
    libxlcolo_set_event_callback(xc->ctx, print_event, xc);

    r = stop_watch_start(xc, "receive", &watch);
    if (r < 0)
        return fail("receive", "cannot watch for signals: %s", strerror(-r));
    r = libxlcolo_receive(xc->ctx, addr, port, &opt);
    stop_watch_end(watch);
    if (r < 0)
        return fail_errno(xc, "receive", r);
    return EXIT_SUCCESS;
}
