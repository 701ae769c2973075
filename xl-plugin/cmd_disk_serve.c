/* cmd_disk_serve.c - `xl-colo disk-serve`: one disk's replication sidecar,
 * in the foreground until SIGINT/SIGTERM (libxlcolo_disk_serve). It prints
 * one line when the sidecar serves: the QMP socket that start and receive
 * --disk NAME use, and the NBD URI of the guest's disk. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "xl_colo.h"

struct serve_print {
    struct xlcolo *xc;
    const char *name;
};

static void print_ready(void *opaque, const libxlcolo_event *ev)
{
    const struct serve_print *sp = opaque;
    if (ev->type != LIBXLCOLO_EVENT_DISK_READY)
        return;
    char qmp[512];
    snprintf(qmp, sizeof(qmp), "%s/" LIBXLCOLO_DISK_DIR "/%s/qmp.sock", sp->xc->run_dir,
             sp->name);
    if (sp->xc->json) {
        _cleanup_json_ colo_json *j = colo_json_new();
        colo_json_put_str(j, "event", "disk-ready");
        colo_json_put_str(j, "disk", sp->name);
        colo_json_put_str(j, "role", libxlcolo_role_name(ev->role));
        colo_json_put_str(j, "qmp", qmp);
        colo_json_put_str(j, "guest", ev->message);
        (void)colo_json_print(j, stdout);
    } else {
        printf("disk %s: %s sidecar ready: qmp %s, guest %s\n", sp->name,
               libxlcolo_role_name(ev->role), qmp, ev->message);
    }
    fflush(stdout);
}

int cmd_disk_serve(struct xlcolo *xc, int nargs, char **args)
{
    libxlcolo_disk_serve_options o = {
        .name = args[0],
        .image = args[1],
        .run_dir = xc->run_dir,
        .key_file = xc->opt.key_file,
        .insecure = xc->opt.insecure,
    };
    char host[256];
    uint16_t port = XLCOLO_DISK_PORT;
    struct stop_watch *watch = NULL;

    (void)nargs;
    if (xc->role_primary == xc->role_secondary)
        return usage_error("disk-serve", "one of --primary and --secondary is required");
    if (xc->role_primary) {
        if (!xc->serve_peer)
            return usage_error("disk-serve", "--primary needs --peer HOST[:PORT], the "
                               "secondary's disk-serve");
        if (parse_host_port(xc->serve_peer, host, sizeof(host), &port, XLCOLO_DISK_PORT) < 0)
            return usage_error("disk-serve", "--peer: '%s' is not HOST[:PORT] (IPv6: "
                               "[ADDR]:PORT)", xc->serve_peer);
        o.role = LIBXLCOLO_ROLE_PRIMARY;
        o.peer_host = host;
        o.peer_port = port;
    } else {
        if (parse_host_port(xc->serve_listen, host, sizeof(host), &port, XLCOLO_DISK_PORT) < 0)
            return usage_error("disk-serve", "--listen: '%s' is not ADDR[:PORT] (IPv6: "
                               "[ADDR]:PORT)", xc->serve_listen);
        o.role = LIBXLCOLO_ROLE_SECONDARY;
        o.listen_addr = host;
        o.listen_port = port;
    }
    struct serve_print sp = { .xc = xc, .name = args[0] };
    libxlcolo_set_event_callback(xc->ctx, print_ready, &sp);
    int r = stop_watch_start(xc, "disk-serve", &watch);
    if (r < 0)
        return fail("disk-serve", "cannot watch for signals: %s", strerror(-r));
    r = libxlcolo_disk_serve(xc->ctx, &o);
    stop_watch_end(watch);
    if (r < 0)
        return fail_errno(xc, "disk-serve", r);
    return EXIT_SUCCESS;
}
