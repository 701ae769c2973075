/* cmd_status.c - `xl-colo status [-j] [DOMAIN]`. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

static void print_status(const struct xlcolo *xc, const libxlcolo_status *st)
{
    if (xc->json) {
        struct json_line *j = json_begin();
        json_str(j, "domain", st->domain);
        json_str(j, "role", libxlcolo_role_name(st->role));
        json_str(j, "state", libxlcolo_state_name(st->state));
        json_str(j, "mode", libxlcolo_mode_name(st->mode));
        json_str(j, "failover", libxlcolo_failover_name(st->failover));
        json_str(j, "backend", st->backend);
        json_u64(j, "epoch", st->epoch);
        json_u64(j, "checkpoints", st->checkpoints);
        json_u64(j, "last_pause_ns", st->last_pause_ns);
        json_u64(j, "last_pages", st->last_pages);
        json_str(j, "peer", st->peer);
        json_u64(j, "pid", st->pid > 0 ? (uint64_t)st->pid : 0);
        json_end(j);
        return;
    }
    printf("%s  %s  %s  %s  epoch %" PRIu64 "  checkpoints %" PRIu64
           "  last pause %" PRIu64 ".%03" PRIu64 " ms  peer %s  failover %s"
           "  backend %s\n",
           st->domain, libxlcolo_role_name(st->role),
           libxlcolo_state_name(st->state), libxlcolo_mode_name(st->mode),
           st->epoch, st->checkpoints, st->last_pause_ns / 1000000u,
           (st->last_pause_ns / 1000u) % 1000u, *st->peer ? st->peer : "-",
           libxlcolo_failover_name(st->failover), st->backend);
    fflush(stdout);
}

/* Every protection in the run directory. A stale socket (its process
 * died) is skipped; any other failure is reported and makes it exit 1. */
static int status_all(struct xlcolo *xc)
{
    _cleanup_(strv_freep) char **names = NULL;
    libxlcolo_status st;
    int ret = EXIT_SUCCESS;

    int r = list_protections(xc->run_dir, &names);
    if (r < 0)
        return fail("status", "cannot read %s: %s", xc->run_dir, strerror(-r));
    if (!names[0] && !xc->json)
        printf("no protection running (no %s/*.ctl)\n", xc->run_dir);
    for (size_t i = 0; names[i]; i++) {
        r = libxlcolo_status_get(xc->ctx, xc->run_dir, names[i], &st);
        if (r == -ESRCH) {
            xtl_log(xc->lg, XTL_INFO, -1, "xl-colo", "status: %s",
                    libxlcolo_last_error(xc->ctx));
            continue;
        }
        if (r < 0)
            ret = fail_errno(xc, "status", r);
        else
            print_status(xc, &st);
    }
    return ret;
}

int cmd_status(struct xlcolo *xc, int nargs, char **args)
{
    libxlcolo_status st;

    if (nargs == 0)
        return status_all(xc);
    int r = libxlcolo_status_get(xc->ctx, xc->run_dir, args[0], &st);
    if (r < 0)
        return fail_errno(xc, "status", r);
    print_status(xc, &st);
    return EXIT_SUCCESS;
}
