/* xen_domain.c - the secondary's domain, built with libxl.
 *
 * The route (docs: "How the secondary is built"):
 *  - primary, domain_config: libxl_retrieve_domain_configuration, as JSON,
 *    the same description `xl migrate` sends ahead of its stream;
 *  - secondary, domain_create: libxl_domain_create_new from that JSON,
 *    left paused, under the primary's name or, when that name is taken on
 *    this host, NAME--colo (xl's "--incoming" convention);
 *  - the engine's initial sync then copies every page, the HVM context
 *    (with TSC info and hvmloader's params) and the device-model state into
 *    it; map() populates any pfn the primary has and the new domain lacks,
 *    as libxc's restore does;
 *  - failover, the secondary's first unpause: for HVM, restart its device
 *    model from the newest device state (xen_dm.c); libxl_domain_unpause;
 *    then take the primary's name once it is free (a primary destroyed on
 *    the same host is waited for while it dies, up to RENAME_WAIT_MS).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "backend/xen/xen_priv.h"

#define RENAME_WAIT_MS 15000

/* libxl errors are ERROR_*, not errno. */
static int libxl_errno(int rc)
{
    switch (rc) {
    case ERROR_NOMEM: return -ENOMEM;
    case ERROR_INVAL: return -EINVAL;
    case ERROR_NOTFOUND: return -ENOENT;
    case ERROR_DOMAIN_NOTFOUND: return -ESRCH;
    default: return -EIO;
    }
}

int xen_libxl(colo_backend *be, libxl_ctx **out)
{
    struct xen_be *x = xen_be(be);
    if (!x->lctx) {
        int rc = libxl_ctx_alloc(&x->lctx, LIBXL_VERSION, 0, be->ctx->lg);
        if (rc) {
            x->lctx = NULL;
            return LOG_ERRNO(be->ctx, libxl_errno(rc), "xen backend: libxl_ctx_alloc");
        }
    }
    *out = x->lctx;
    return 0;
}

int xen_domain_config(colo_backend *be, colo_dom *d, struct colo_domain_config *cfg,
                      void **extra_owned, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "domain_config");
    struct xen_be *x = xen_be(be);
    libxl_ctx *lctx;
    libxl_domain_config dc;
    xen_pfn_t max = 0;
    int r = xen_libxl(be, &lctx);
    if (r < 0)
        return r;
    if (xc_domain_maximum_gpfn(x->xch, d->domid, &max) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: config: maximum_gpfn", d->domid);
    libxl_domain_config_init(&dc);
    int rc = libxl_retrieve_domain_configuration(lctx, d->domid, &dc, NULL);
    if (rc) {
        libxl_domain_config_dispose(&dc);
        return LOG_ERRNO(be->ctx, libxl_errno(rc), "domain %u: config: "
                         "libxl_retrieve_domain_configuration", d->domid);
    }
    char *json = libxl_domain_config_to_json(lctx, &dc);
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "%s", d->name);
    cfg->type = d->type;
    cfg->nr_pages = (uint64_t)max + 1;
    cfg->mem_bytes = dc.b_info.max_memkb * 1024;
    cfg->nr_vcpus = dc.b_info.max_vcpus;
    libxl_domain_config_dispose(&dc);
    if (!json)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: config: to JSON", d->domid);
    cfg->extra = json;
    cfg->extra_len = strlen(json) + 1;
    *extra_owned = json;
    return 0;
}

/* The secondary domain's replicated disks: each vdev NAME of the primary's
 * configuration gets this host's target for it (--disk NAME=..,guest=PATH,
 * the secondary sidecar's export in dom0), raw, on blkback; the primary's
 * path means nothing here. */
static int remap_disks(colo_backend *be, libxl_domain_config *dc, const char *dom)
{
    for (unsigned i = 0; i < be->nr_disks; i++) {
        const libxlcolo_disk *k = &be->disks[i];
        libxl_device_disk *dd = NULL;
        for (int j = 0; j < dc->num_disks; j++)
            if (dc->disks[j].vdev && strcmp(dc->disks[j].vdev, k->name) == 0)
                dd = &dc->disks[j];
        if (!dd)
            return LOG_ERRNO(be->ctx, -ENOENT, "domain %s: create: it has no disk %s", dom,
                             k->name);
        if (!k->guest_uri || !k->guest_uri[0])
            return LOG_ERRNO(be->ctx, -EINVAL, "domain %s: create: disk %s needs guest=PATH, "
                             "its target on this host (the secondary sidecar's export)",
                             dom, k->name);
        char *path = strdup(k->guest_uri);
        if (!path)
            return LOG_ERRNO(be->ctx, -ENOMEM, "domain %s: create: out of memory", dom);
        free(dd->pdev_path);
        dd->pdev_path = path;
        dd->format = LIBXL_DISK_FORMAT_RAW;
        dd->backend = LIBXL_DISK_BACKEND_PHY;
        LOG(be->ctx, DETAIL, "domain %s: disk %s on %s", dom, k->name, path);
    }
    return 0;
}

static bool name_taken(libxl_ctx *lctx, const char *name)
{
    uint32_t id;
    return libxl_name_to_domid(lctx, name, &id) == 0;
}

int xen_domain_create(colo_backend *be, const struct colo_domain_config *cfg, colo_dom **out,
                      unsigned flags)
{
    libxl_ctx *lctx;
    libxl_domain_config dc;
    uint32_t domid = 0;
    char name[64 + 8];
    const char *json = cfg->extra;

    COLO_CHECK_FLAGS(be, flags, COLO_CREATE_PAUSED, "domain_create");
    if (cfg->type == COLO_DOM_PV)
        return LOG_ERRNO(be->ctx, -EOPNOTSUPP, "domain %s is PV: xen-colo needs HVM or PVH "
                         "(no log-dirty without shadow paging)", cfg->name);
    if (!json || cfg->extra_len < 2 || json[cfg->extra_len - 1] != '\0' ||
        strlen(json) != cfg->extra_len - 1)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %s: create: the configuration is not a "
                         "libxl JSON text", cfg->name);
    int r = xen_libxl(be, &lctx);
    if (r < 0)
        return r;
    libxl_domain_config_init(&dc);
    int rc = libxl_domain_config_from_json(lctx, &dc, json);
    if (rc) {
        libxl_domain_config_dispose(&dc);
        return LOG_ERRNO(be->ctx, libxl_errno(rc), "domain %s: create: bad libxl JSON", cfg->name);
    }
    const char *want = cfg->name[0] ? cfg->name : dc.c_info.name;
    if (!want || !*want) {
        libxl_domain_config_dispose(&dc);
        return LOG_ERRNO(be->ctx, -EINVAL, "create: the configuration has no name");
    }
    snprintf(name, sizeof(name), name_taken(lctx, want) ? "%s--colo" : "%s", want);
    r = remap_disks(be, &dc, name);
    if (r < 0) {
        libxl_domain_config_dispose(&dc);
        return r;
    }
    free(dc.c_info.name);
    dc.c_info.name = strdup(name);
    /* Always paused: the guest runs here only after failover. */
    rc = dc.c_info.name ? libxl_domain_create_new(lctx, &dc, &domid, NULL, NULL) : ERROR_NOMEM;
    libxl_domain_config_dispose(&dc);
    if (rc)
        return LOG_ERRNO(be->ctx, libxl_errno(rc), "domain %s: create: libxl_domain_create_new",
                         name);
    colo_dom *d;
    r = xen_dom_new(be, domid, &d);
    if (r < 0) {
        libxl_domain_destroy(lctx, domid, NULL);
        return r;
    }
    d->created = true;
    d->pv_drivers = false;
    snprintf(d->want_name, sizeof(d->want_name), "%s", want);
    LOG(be->ctx, INFO, "domain %s: created as %u (paused)", name, domid);
    *out = d;
    return 0;
}

int xen_domain_destroy(colo_backend *be, colo_dom *d, unsigned flags)
{
    libxl_ctx *lctx;
    COLO_CHECK_FLAGS(be, flags, 0, "domain_destroy");
    int r = xen_libxl(be, &lctx);
    if (r < 0)
        return r;
    xen_qmp_close(d->qmp);
    d->qmp = NULL;
    int rc = libxl_domain_destroy(lctx, d->domid, NULL);
    if (rc)
        return LOG_ERRNO(be->ctx, libxl_errno(rc), "domain %u: destroy", d->domid);
    d->gone = true;
    d->logdirty = false;
    d->stop = XEN_RUNNING;
    d->dm_stopped = false;
    return 0;
}

/* Wait (bounded) until no live domain holds name. A primary destroyed on
 * this host is still dying under its name when its xl-colo start has seen it
 * gone (xl destroy stops the device model before it removes the domain), so
 * that a failover would otherwise keep NAME--colo. A domain that runs under
 * the name is not waited for. */
static bool name_free(colo_backend *be, libxl_ctx *lctx, const char *name)
{
    uint64_t deadline = colo_deadline_ms(RENAME_WAIT_MS);
    for (;;) {
        uint32_t id;
        struct xen_rawinfo ri;
        if (libxl_name_to_domid(lctx, name, &id) != 0)
            return true;
        int r = xen_getinfo(xen_be(be), id, &ri);
        if (r == 0 && !ri.dying && !ri.shutdown)
            return false;
        if (colo_deadline_passed(deadline))
            return false;
        usleep(50000);
    }
}

/* A secondary made under NAME--colo takes the guest's own name. */
static void take_name(colo_backend *be, libxl_ctx *lctx, colo_dom *d)
{
    if (!d->want_name[0] || strcmp(d->want_name, d->name) == 0)
        return;
    if (!name_free(be, lctx, d->want_name))
        LOG(be->ctx, WARN, "domain %u: keeping the name %s: %s still exists", d->domid,
            d->name, d->want_name);
    else if (libxl_domain_rename(lctx, d->domid, d->name, d->want_name) == 0)
        snprintf(d->name, sizeof(d->name), "%s", d->want_name);
    else
        LOG(be->ctx, WARN, "domain %u: could not rename %s to %s", d->domid, d->name,
            d->want_name);
}

/* The secondary becomes the guest: its first run, then its name (which may
 * wait for a dying primary: the guest runs meanwhile). */
int xen_domain_activate(colo_backend *be, colo_dom *d)
{
    libxl_ctx *lctx;
    int r = xen_libxl(be, &lctx);
    if (r < 0)
        return r;
    /* The device model takes the primary's device state now. */
    if (d->dm_pending[0]) {
        r = xen_dm_restart_incoming(be, d, d->dm_pending);
        if (r < 0)
            return r;
        unlink(d->dm_pending);
        d->dm_pending[0] = '\0';
    }
    int rc = libxl_domain_unpause(lctx, d->domid, NULL);
    if (rc)
        return LOG_ERRNO(be->ctx, libxl_errno(rc), "domain %u: activate: libxl_domain_unpause",
                         d->domid);
    d->activated = true;
    take_name(be, lctx, d);
    return 0;
}
