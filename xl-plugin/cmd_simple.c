/* cmd_simple.c - `xl-colo checkpoint|failover|stop DOMAIN`: one request
 * to the protection's control socket each. */
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
