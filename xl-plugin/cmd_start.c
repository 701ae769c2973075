/* cmd_start.c - `xl-colo start`: protect a domain (the primary side). Its
 * options (xl_colo_cmdtable.c) are in xc->opt; the dispatcher has checked
 * --key/--insecure and the two operands. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

int cmd_start(struct xlcolo *xc, int nargs, char **args)
{
    struct stop_watch *watch = NULL;
    char host[256];
    uint16_t port;

    if (xc->opt.timeout_ms <= xc->opt.heartbeat_ms)
        return usage_error("start", "--timeout (%u ms) must be longer than "
                           "--heartbeat (%u ms)", xc->opt.timeout_ms,
                           xc->opt.heartbeat_ms);

    const libxlcolo_proxy *px = xc->opt.proxy;
    if (px && xc->opt.mode == LIBXLCOLO_MODE_COLO && (!px->primary_in || !px->secondary_in ||
                                                      !px->outdev))
        return usage_error("start", "--proxy: primary-in, secondary-in and outdev are required "
                           "with --colo");
    if (px && xc->opt.mode == LIBXLCOLO_MODE_COLO && px->client_if)
        return usage_error("start", "--proxy: client-if runs the datapath in Remus mode only: "
                           "with --colo, run colo-datapath beside the protection");
    if (px && px->guest_if && !px->client_if)
        return usage_error("start", "--proxy: guest-if needs client-if");
    if (px && xc->opt.mode == LIBXLCOLO_MODE_REMUS && !px->client_if &&
        (!px->primary_in || !px->outdev))
        return usage_error("start", "--proxy: primary-in and outdev are required (or client-if)");
    if (px && xc->opt.mode == LIBXLCOLO_MODE_REMUS && px->secondary_in)
        return usage_error("start", "--proxy: secondary-in is for --colo: Remus compares "
                           "nothing");

    const char *domain = args[0], *dest = args[1];
    if (parse_host_port(dest, host, sizeof(host), &port,
                        XLCOLO_DEFAULT_PORT) < 0)
        return usage_error("start", "'%s' is not HOST[:PORT] (IPv6: "
                           "[ADDR]:PORT)", dest);

    announce_backend(xc, "start");
    libxlcolo_set_event_callback(xc->ctx, print_event, xc);

    int r = stop_watch_start(xc, "start", &watch);
    if (r < 0)
        return fail("start", "cannot watch for signals: %s", strerror(-r));
    r = libxlcolo_start(xc->ctx, domain, host, port, &xc->opt);
    stop_watch_end(watch);
    if (r < 0)
        return fail_errno(xc, "start", r);
    return EXIT_SUCCESS;
}
