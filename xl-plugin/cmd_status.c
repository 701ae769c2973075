/* cmd_status.c - `xl-colo status [-j] [DOMAIN]`. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control/status_codec.h"
#include "json.h"
#include "xl_colo.h"

/* One line of the NIC comparison's counters (the "proxy" object). */
static void print_proxy(const char *text)
{
    _cleanup_tree_ yajl_val v = NULL;
    uint64_t n[6] = { 0 };
    static const char *const keys[6] = { "released", "compared", "flows", "checkpoints",
                                         "mem_used", "mem_limit" };
    char err[96] = "";

    if (colo_json_parse(text, &v, err, sizeof(err)) < 0)
        return;
    for (int i = 0; i < 6; i++)
        if (colo_json_get_u64(v, keys[i], UINT64_MAX, &n[i], err, sizeof(err)) < 0)
            return;
    yajl_val o = NULL;
    bool alone = colo_json_get(v, "alone", &o, err, sizeof(err)) == 0 && YAJL_IS_TRUE(o);
    printf("  NIC: released %" PRIu64 " (%" PRIu64 " compared)  flows %" PRIu64
           "  checkpoints asked %" PRIu64 "  memory %" PRIu64 " of %" PRIu64 " bytes%s\n",
           n[0], n[1], n[2], n[3], n[4], n[5], alone ? "  alone: passing through" : "");
}

static void print_status(const struct xlcolo *xc, const libxlcolo_status *st)
{
    if (xc->json) {
        _cleanup_json_ colo_json *j = colo_json_new();
        colo_status_to_json(j, st);
        (void)colo_json_print(j, stdout);
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
    for (unsigned i = 0; i < st->nr_disks && i < LIBXLCOLO_DISKS_MAX; i++)
        printf("  disk %s: %s%s\n", st->disks[i].name,
               st->disks[i].error ? "error: " : "replicating",
               st->disks[i].error ? st->disks[i].desc : "");
    if (st->has_arbiter)
        printf("  owner %s  generation %" PRIu64 "  lease %" PRIu64 " ms left\n",
               *st->owner ? st->owner : "-", st->generation, st->lease_left_ms);
    if (st->proxy[0])
        print_proxy(st->proxy);
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
