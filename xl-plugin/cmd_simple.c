/* cmd_simple.c - `xl-colo checkpoint|failover|stop|set-replication
 * DOMAIN`: one request to the protection's control socket each. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "json.h"
#include "xl_colo.h"

static void print_done(const struct xlcolo *xc, const char *domain,
                       const char *human)
{
    if (xc->json) {
        _cleanup_json_ colo_json *j = colo_json_new();
        colo_json_put_str(j, "domain", domain);
        colo_json_put_bool(j, "ok", true);
        (void)colo_json_print(j, stdout);
    } else {
        printf("%s of %s requested\n", human, domain);
    }
}

int cmd_checkpoint(struct xlcolo *xc, int nargs, char **args)
{
    uint64_t epoch = 0;

    const char *domain = args[0];
    int r = libxlcolo_checkpoint(xc->ctx, xc->run_dir, domain, &epoch);
    if (r < 0)
        return fail_errno(xc, "checkpoint", r);
    if (xc->json) {
        _cleanup_json_ colo_json *j = colo_json_new();
        colo_json_put_str(j, "domain", domain);
        colo_json_put_u64(j, "epoch", epoch);
        (void)colo_json_print(j, stdout);
    } else {
        printf("checkpoint %" PRIu64 " committed\n", epoch);
    }
    return EXIT_SUCCESS;
}

int cmd_failover(struct xlcolo *xc, int nargs, char **args)
{
    int r = libxlcolo_failover(xc->ctx, xc->run_dir, args[0]);
    if (r < 0)
        return fail_errno(xc, "failover", r);
    print_done(xc, args[0], "failover");
    return EXIT_SUCCESS;
}

int cmd_stop(struct xlcolo *xc, int nargs, char **args)
{
    int r = libxlcolo_stop(xc->ctx, xc->run_dir, args[0]);
    if (r < 0)
        return fail_errno(xc, "stop", r);
    print_done(xc, args[0], "stop");
    return EXIT_SUCCESS;
}

int cmd_set_replication(struct xlcolo *xc, int nargs, char **args)
{
    if (!xc->rep_enable && !xc->rep_disable)
        return usage_error("set-replication", "one of --enable and --disable is required");
    if (!xc->role_primary && !xc->role_secondary)
        return usage_error("set-replication", "one of --primary and --secondary is required");
    if (xc->rep_failover && xc->rep_enable)
        return usage_error("set-replication", "--failover goes with --disable only (QEMU: "
                           "Parameter 'failover' is only for stopping replication)");
    int r = libxlcolo_set_replication(xc->ctx, xc->run_dir, args[0], xc->rep_disk,
                                      xc->rep_enable, xc->role_primary, xc->rep_failover);
    if (r < 0)
        return fail_errno(xc, "set-replication", r);
    if (xc->json) {
        print_done(xc, args[0], NULL);
    } else {
        char which[64];
        snprintf(which, sizeof(which), "%s%s", xc->rep_disk ? "disk " : "every disk",
                 xc->rep_disk ? xc->rep_disk : "");
        printf("%s of %s: replication %s (%s%s)\n", which, args[0],
               xc->rep_enable ? "enabled" : "disabled", xc->role_primary ? "primary" : "secondary",
               xc->rep_failover ? ", failover" : "");
    }
    return EXIT_SUCCESS;
}
