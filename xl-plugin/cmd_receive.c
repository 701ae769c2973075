/* cmd_receive.c - `xl-colo receive`: run the secondary side. Its options
 * (xl_colo_cmdtable.c) are in xc->opt and xc->listen; the dispatcher has
 * checked --key/--insecure and that there is no operand. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

int cmd_receive(struct xlcolo *xc, int nargs, char **args)
{
    struct stop_watch *watch = NULL;
    char addr[256];
    uint16_t port = XLCOLO_DEFAULT_PORT;

    if (parse_host_port(xc->listen, addr, sizeof(addr), &port,
                        XLCOLO_DEFAULT_PORT) < 0)
        return usage_error("receive", "--listen: '%s' is not ADDR[:PORT] "
                           "(IPv6: [ADDR]:PORT)", xc->listen);

    announce_backend(xc, "receive");
    libxlcolo_set_event_callback(xc->ctx, print_event, xc);

    int r = stop_watch_start(xc, "receive", &watch);
    if (r < 0)
        return fail("receive", "cannot watch for signals: %s", strerror(-r));
    r = libxlcolo_receive(xc->ctx, addr, port, &xc->opt);
    stop_watch_end(watch);
    if (r < 0)
        return fail_errno(xc, "receive", r);
    return EXIT_SUCCESS;
}
