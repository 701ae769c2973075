/* xen_stop.c - stopping a guest at a checkpoint and restarting it.
 *
 * - no PV drivers: xc_domain_pause / xc_domain_unpause;
 * - PV drivers (control/feature-suspend = 1): control/shutdown = "suspend",
 *   wait for SHUTDOWN_suspend, and restart with xc_domain_resume(dom, 1), the
 *   fast "suspend cancelled" path (DESIGN.md §4.1). A plain pause leaves a
 *   secondary whose PV state is bound to the primary: it hangs after failover.
 *   libxlcolo_options.xen_stop overrides the choice (xen_dom.c); xl-colo
 *   sets it from $XLCOLO_XEN_STOP=pause|suspend.
 * - HVM guests also have their device model stopped (QMP stop/cont), as
 *   libxl's own suspend does.
 *
 * A toolstack killed between the stop and the restart would leave the guest
 * stopped for good. So before each stop of a protected guest we record what
 * we are about to do in xenstore, at /local/domain/DOMID/xen-colo-stopped
 * (a node the guest may read but not write, removed with the domain), and
 * remove the record once the guest runs again. The next protection of the
 * domain, once it holds the domain's control socket, finds a record left
 * behind and restarts the guest first (xen_recover_stopped, the backend's
 * recover op).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/xen/xen_priv.h"

#include <xenguest.h>

#define STOP_MARK "/local/domain/%u/xen-colo-stopped"
/* A fence (COLO_PAUSE_FENCE) is one more count of Xen's controller pause,
 * which no checkpoint's unpause can undo; its mark says it is there. */
#define FENCE_MARK "/local/domain/%u/xen-colo-fenced"

static int coop_suspend(colo_backend *be, colo_dom *d)
{
    struct xen_be *x = xen_be(be);
    char path[96];
    struct xen_rawinfo ri;
    uint64_t deadline = colo_deadline_ms(x->suspend_timeout_ms);
    int r;

    snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d->domid);
    if (!xs_write(x->xsh, XBT_NULL, path, "suspend", 7))
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: suspend: write %s", d->domid, path);
    for (;;) {
        r = xen_getinfo(x, d->domid, &ri);
        if (r < 0)
            return LOG_ERRNO(be->ctx, r, "domain %u: suspend: getinfo", d->domid);
        if (ri.shutdown) {
            if (ri.shutdown_reason == SHUTDOWN_suspend)
                return 0;
            return LOG_ERRNO(be->ctx, -ESRCH, "domain %u: suspend: the guest shut down "
                             "with reason %u instead", d->domid, ri.shutdown_reason);
        }
        if (colo_deadline_passed(deadline))
            break;
        usleep(100);
    }
    /* Withdraw the request, then look once more: the guest may have just made it. */
    xs_write(x->xsh, XBT_NULL, path, "", 0);
    if (xen_getinfo(x, d->domid, &ri) == 0 && ri.shutdown && ri.shutdown_reason == SHUTDOWN_suspend)
        return 0;
    return LOG_ERRNO(be->ctx, -ETIMEDOUT, "domain %u: suspend: no answer within %u ms",
                     d->domid, x->suspend_timeout_ms);
}

static int stop_mark(colo_backend *be, colo_dom *d, const char *how)
{
    struct xen_be *x = xen_be(be);
    char path[64];

    snprintf(path, sizeof(path), STOP_MARK, d->domid);
    if (!xs_write(x->xsh, XBT_NULL, path, how, strlen(how)))
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: stop: record the stop in %s",
                         d->domid, path);
    return 0;
}

static void stop_unmark(colo_backend *be, colo_dom *d)
{
    struct xen_be *x = xen_be(be);
    char path[64];

    snprintf(path, sizeof(path), STOP_MARK, d->domid);
    if (!xs_rm(x->xsh, XBT_NULL, path) && errno != ENOENT)
        LOG(be->ctx, WARN, "domain %u: restart: remove %s: %s", d->domid, path, strerror(errno));
}

bool xen_fenced(colo_backend *be, colo_dom *d)
{
    struct xen_be *x = xen_be(be);
    char path[64];
    unsigned len = 0;

    snprintf(path, sizeof(path), FENCE_MARK, d->domid);
    _cleanup_free_ char *v = xs_read(x->xsh, XBT_NULL, path, &len);
    return v != NULL;
}

static int fence_pause(colo_backend *be, colo_dom *d)
{
    struct xen_be *x = xen_be(be);
    char path[64];

    if (xen_fenced(be, d))
        return 0;
    snprintf(path, sizeof(path), FENCE_MARK, d->domid);
    if (!xs_write(x->xsh, XBT_NULL, path, "1", 1))
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: fence: record it in %s",
                         d->domid, path);
    if (xc_domain_pause(x->xch, d->domid) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: fence: pause", d->domid);
    return 0;
}

static int fence_lift(colo_backend *be, colo_dom *d)
{
    struct xen_be *x = xen_be(be);
    char path[64];

    if (!xen_fenced(be, d))
        return 0;
    if (xc_domain_unpause(x->xch, d->domid) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: lift the fence: unpause", d->domid);
    snprintf(path, sizeof(path), FENCE_MARK, d->domid);
    if (!xs_rm(x->xsh, XBT_NULL, path) && errno != ENOENT)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: lift the fence: remove %s",
                         d->domid, path);
    return 0;
}

int xen_recover_stopped(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "recover");
    struct xen_be *x = xen_be(be);
    struct xen_rawinfo ri;
    char path[96];
    unsigned len = 0;
    int r;

    if (d->created || d->stop != XEN_RUNNING || d->dm_stopped)
        return 0; /* a secondary, or a stop of our own under way */
    snprintf(path, sizeof(path), STOP_MARK, d->domid);
    _cleanup_free_ char *how = xs_read(x->xsh, XBT_NULL, path, &len);
    if (!how)
        return 0;
    LOG(be->ctx, WARN, "domain %u: was left stopped (%s) by an xl-colo that did not finish "
        "its checkpoint; restarting it", d->domid, how);
    /* A suspend request still pending would stop the guest again later. */
    snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d->domid);
    _cleanup_free_ char *req = xs_read(x->xsh, XBT_NULL, path, &len);
    if (req && strcmp(req, "suspend") == 0)
        xs_write(x->xsh, XBT_NULL, path, "", 0);
    /* libxl's order: the device model, then the vCPUs. */
    if (strstr(how, " dm") && (r = xen_qmp(be, d->domid, "cont", NULL)) < 0)
        return r;
    r = xen_getinfo(x, d->domid, &ri);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: recover: getinfo", d->domid);
    if (ri.shutdown && ri.shutdown_reason == SHUTDOWN_suspend) {
        if (xc_domain_resume(x->xch, d->domid, 1) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: recover: fast resume",
                             d->domid);
    } else if (strncmp(how, "pause", 5) == 0 && ri.paused) {
        if (xc_domain_unpause(x->xch, d->domid) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: recover: unpause", d->domid);
    }
    stop_unmark(be, d);
    return 0;
}

int xen_pause(colo_backend *be, colo_dom *d, unsigned flags)
{
    struct xen_be *x = xen_be(be);
    int r;

    COLO_CHECK_FLAGS(be, flags, COLO_PAUSE_CHECKPOINT | COLO_PAUSE_FENCE, "pause");
    if (flags & COLO_PAUSE_FENCE)
        return fence_pause(be, d);
    if (d->stop != XEN_RUNNING)
        return 0;
    if (!d->pv_drivers && (flags & COLO_PAUSE_CHECKPOINT))
        d->pv_drivers = xen_detect_pv_drivers(x, d);
    bool suspend = (flags & COLO_PAUSE_CHECKPOINT) && d->pv_drivers && !d->created;
    bool dm = (flags & COLO_PAUSE_CHECKPOINT) && d->has_dm && !d->created;
    if (!d->created) {
        r = stop_mark(be, d, suspend ? (dm ? "suspend dm" : "suspend") : (dm ? "pause dm" : "pause"));
        if (r < 0)
            return r;
    }
    if (suspend) {
        r = coop_suspend(be, d);
        if (r < 0)
            return r;
        d->stop = XEN_SUSPENDED;
    } else {
        if (xc_domain_pause(x->xch, d->domid) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: pause", d->domid);
        d->stop = XEN_PAUSED;
    }
    if (dm) {
        /* One QMP connection for the stop, the device state and the cont. */
        r = xen_qmp_open(be, d->domid, &d->qmp);
        if (r >= 0)
            r = xen_qmp_cmd(be, d->qmp, "stop", NULL);
        if (r < 0) {
            xen_qmp_close(d->qmp);
            d->qmp = NULL;
            return r; /* the domain stays stopped: unpause undoes it */
        }
        d->dm_stopped = true;
    }
    return 0;
}

/* Restart what pause stopped: the device model first, then the vCPUs
 * (libxl's order). */
int xen_restart(colo_backend *be, colo_dom *d)
{
    struct xen_be *x = xen_be(be);
    int r;

    if (d->dm_stopped) {
        r = xen_dm_qmp(be, d, "cont", NULL);
        xen_qmp_close(d->qmp);
        d->qmp = NULL;
        if (r < 0)
            r = xen_qmp(be, d->domid, "cont", NULL); /* once more, on a new connection */
        if (r < 0)
            return r;
        d->dm_stopped = false;
    }
    switch (d->stop) {
    case XEN_SUSPENDED:
        if (xc_domain_resume(x->xch, d->domid, 1) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: unpause: fast resume", d->domid);
        break;
    case XEN_PAUSED:
        if (xc_domain_unpause(x->xch, d->domid) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: unpause", d->domid);
        break;
    case XEN_RUNNING:
        break;
    }
    d->stop = XEN_RUNNING;
    if (!d->created)
        stop_unmark(be, d);
    return 0;
}

int xen_unpause(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, COLO_PAUSE_CHECKPOINT | COLO_PAUSE_FENCE, "unpause");
    if (flags & COLO_PAUSE_FENCE)
        return fence_lift(be, d);
    if (d->created && !d->activated && d->stop == XEN_RUNNING)
        return xen_domain_activate(be, d); /* a secondary's first run: failover */
    return xen_restart(be, d);
}

