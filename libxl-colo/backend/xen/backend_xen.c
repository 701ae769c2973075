/* backend_xen.c - the "xen" backend: a real HVM or PVH guest on Xen.
 *
 * This file holds the ops table, open and close, finding a domain, and
 * log-dirty. The other files, none of which calls back into this one:
 *   xen_dom.c     domain info, name, PV drivers, a new colo_dom
 *   xen_map.c     map and unmap guest frames (libxenforeignmemory)
 *   xen_stop.c    stopping and restarting a guest at a checkpoint
 *   xen_state.c   context, device state and digest
 *   xen_domain.c  the secondary's domain, built and torn down with libxl
 *   xen_dm.c      the secondary's device model at failover
 *   xen_qmp.c     QMP to the qemu-xen device model
 *
 * HVM guests have their device model's global dirty log on while log-dirty
 * is (QMP xen-set-global-dirty-log), so that its DMA writes are logged.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/xen/xen_priv.h"

#include <xenguest.h>
#include <xen/hvm/params.h>

#define SUSPEND_TIMEOUT_MS 10000
#define BITS_PER_WORD (8 * sizeof(unsigned long))

/* ---------------------------------------------------------- domains */

static int parse_domid(const char *s, uint32_t *domid)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    *domid = (uint32_t)v;
    return 0;
}

static int find_by_name(struct xen_be *x, const char *name, uint32_t *domid)
{
    unsigned n = 0;
    _cleanup_free_ char **ents = xs_directory(x->xsh, XBT_NULL, "/local/domain", &n);
    if (!ents)
        return negative_errno();
    for (unsigned i = 0; i < n; i++) {
        char got[64];
        uint32_t id;
        if (parse_domid(ents[i], &id) < 0)
            continue;
        xen_dom_name(x, id, got, sizeof(got));
        if (strcmp(got, name) == 0) {
            *domid = id;
            return 0;
        }
    }
    return -ESRCH;
}

static int xen_domain_open(colo_backend *be, const char *name_or_id, colo_dom **out,
                           unsigned flags)
{
    uint32_t domid;
    COLO_CHECK_FLAGS(be, flags, 0, "domain_open");
    if (parse_domid(name_or_id, &domid) < 0) {
        int r = find_by_name(xen_be(be), name_or_id, &domid);
        if (r < 0)
            return LOG_ERRNO(be->ctx, r, "domain %s: no such domain", name_or_id);
    }
    if (domid == 0)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain 0 cannot be protected");
    return xen_dom_new(be, domid, out);
}

static int xen_domain_info(colo_backend *be, colo_dom *d, struct colo_domain_info *info,
                           unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "domain_info");
    struct xen_be *x = xen_be(be);
    struct xen_rawinfo ri;
    xen_pfn_t max = 0;
    int r = xen_getinfo(x, d->domid, &ri);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: info", d->domid);
    /* A dying domain (xl destroy under way) may have no p2m left to ask:
     * report it shut down, which is what the engine needs to know. */
    if (xc_domain_maximum_gpfn(x->xch, d->domid, &max) < 0 && !ri.dying)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: info: maximum_gpfn", d->domid);
    if (!d->pv_drivers)
        d->pv_drivers = xen_detect_pv_drivers(x, d);
    memset(info, 0, sizeof(*info));
    info->domid = d->domid;
    snprintf(info->name, sizeof(info->name), "%s", d->name);
    info->type = d->type;
    info->nr_pages = (uint64_t)max + 1;
    info->mem_bytes = ri.max_memkb * 1024;
    info->nr_vcpus = ri.max_vcpu_id + 1;
    info->paused = ri.paused || d->stop != XEN_RUNNING;
    /* Suspended is not gone, whoever asked for it: a guest's own late or
     * repeated answer to a suspend request leaves it so, and the next stop
     * finds it already suspended. */
    info->shutdown = ri.dying || (ri.shutdown && ri.shutdown_reason != SHUTDOWN_suspend);
    info->pv_drivers = d->pv_drivers;
    info->fenced = xen_fenced(be, d);
    colo_uuid_format(ri.uuid, info->uuid);
    /* netback's name for devid 0 (the PV one; an HVM guest's emulated NIC is vifDOMID.0-emu). */
    snprintf(info->vif, sizeof(info->vif), "vif%u.0", d->domid);
    return 0;
}

/* ------------------------------------------------------------- log-dirty */

static int shadow_op(struct xen_be *x, colo_dom *d, unsigned sop)
{
#ifdef HAVE_XC_LOGDIRTY_CONTROL
    return xc_shadow_control(x->xch, d->domid, sop, NULL, 0);
#else
    return xc_shadow_control(x->xch, d->domid, sop, NULL, 0, NULL, 0, NULL);
#endif
}

static long long logdirty_op(struct xen_be *x, colo_dom *d, unsigned sop, bool bitmap,
                             uint64_t pages, unsigned mode, xc_shadow_op_stats_t *st)
{
#ifdef HAVE_XC_LOGDIRTY_CONTROL
    return xc_logdirty_control(x->xch, d->domid, sop, bitmap ? &d->bm : NULL, pages, mode, st);
#else
    return xc_shadow_control(x->xch, d->domid, sop, bitmap ? &d->bm : NULL, pages, NULL, mode, st);
#endif
}

static void bitmap_free(struct xen_be *x, colo_dom *d)
{
    if (d->bm.hbuf)
        xc__hypercall_buffer_free_pages(x->xch, &d->bm, d->bm_pages);
    d->bm.hbuf = NULL;
    d->bm_pages = 0;
}

/* A hypercall-safe bitmap of at least nr_pages bits. */
static int bitmap_reserve(colo_backend *be, colo_dom *d, uint64_t nr_pages)
{
    struct xen_be *x = xen_be(be);
    uint64_t bytes = DIV_ROUND_UP(nr_pages, BITS_PER_WORD) * sizeof(unsigned long);
    int need = (int)DIV_ROUND_UP(bytes, XC_PAGE_SIZE);
    if (need <= d->bm_pages)
        return 0;
    bitmap_free(x, d);
    if (!xc__hypercall_buffer_alloc_pages(x->xch, &d->bm, need))
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: log-dirty bitmap of %" PRIu64 " pages",
                         d->domid, nr_pages);
    d->bm_pages = need;
    return 0;
}

static int xen_logdirty_enable(colo_backend *be, colo_dom *d, unsigned flags)
{
    struct xen_be *x = xen_be(be);
    xen_pfn_t max = 0;
    int r;

    COLO_CHECK_FLAGS(be, flags, 0, "logdirty_enable");
    if (xc_domain_maximum_gpfn(x->xch, d->domid, &max) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: log-dirty enable: maximum_gpfn",
                         d->domid);
    r = bitmap_reserve(be, d, (uint64_t)max + 1);
    if (r < 0)
        return r;
    if (shadow_op(x, d, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY) < 0) {
        if (errno != EINVAL)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: log-dirty enable", d->domid);
        /* Left on by a toolstack that was killed: off, then on again. */
        LOG(be->ctx, WARN, "domain %u: log-dirty was left on; turning it off and on again",
            d->domid);
        if (shadow_op(x, d, XEN_DOMCTL_SHADOW_OP_OFF) < 0 ||
            shadow_op(x, d, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: log-dirty enable "
                             "(after turning a stale log-dirty off)", d->domid);
    }
    /* The device model writes guest memory too (emulated DMA) through its
     * own mappings, which Xen's log-dirty does not see: with the global
     * dirty log on, QEMU reports those pages to Xen (libxl's save does the
     * same). */
    if (d->has_dm && !d->created) {
        r = xen_dm_qmp(be, d, "xen-set-global-dirty-log", "{\"enable\":true}");
        if (r < 0) {
            shadow_op(x, d, XEN_DOMCTL_SHADOW_OP_OFF);
            return r;
        }
    }
    d->logdirty = true;
    return 0;
}

static int xen_logdirty_off(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "logdirty_off");
    if (d->has_dm && !d->created)
        xen_dm_qmp(be, d, "xen-set-global-dirty-log", "{\"enable\":false}");
    if (shadow_op(xen_be(be), d, XEN_DOMCTL_SHADOW_OP_OFF) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: log-dirty off", d->domid);
    d->logdirty = false;
    return 0;
}

static int logdirty_read(colo_backend *be, colo_dom *d, bool clean, unsigned long *bitmap,
                         uint64_t nr_pages, uint64_t *dirty_count, unsigned flags)
{
    struct xen_be *x = xen_be(be);
    const char *op = clean ? "clean" : "peek";
    xc_shadow_op_stats_t st;
    unsigned sop = clean ? XEN_DOMCTL_SHADOW_OP_CLEAN : XEN_DOMCTL_SHADOW_OP_PEEK;
    /* FINAL: the domain is stopped, so Xen may flush what it still caches. */
    unsigned mode = d->stop != XEN_RUNNING ? XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL : 0;
    int r;

    COLO_CHECK_FLAGS(be, flags, 0, clean ? "logdirty_clean" : "logdirty_peek");
    if (!d->logdirty)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: log-dirty %s: not enabled", d->domid, op);
    memset(&st, 0, sizeof(st));
    if (!bitmap) {
        /* The cheap estimate: Xen's count of pfns dirtied since the last CLEAN. */
        if (logdirty_op(x, d, sop, false, 0, mode, &st) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: log-dirty %s", d->domid, op);
        *dirty_count = st.dirty_count;
        return 0;
    }
    r = bitmap_reserve(be, d, nr_pages);
    if (r < 0)
        return r;
    size_t words = DIV_ROUND_UP(nr_pages, BITS_PER_WORD);
    memset(d->bm.hbuf, 0, words * sizeof(unsigned long));
    if (logdirty_op(x, d, sop, true, nr_pages, mode, &st) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: log-dirty %s", d->domid, op);
    memcpy(bitmap, d->bm.hbuf, words * sizeof(unsigned long));
    if (nr_pages % BITS_PER_WORD)
        bitmap[words - 1] &= (1UL << (nr_pages % BITS_PER_WORD)) - 1;
    uint64_t n = 0;
    for (size_t i = 0; i < words; i++)
        n += (uint64_t)__builtin_popcountl(bitmap[i]);
    *dirty_count = n;
    return 0;
}

static int xen_logdirty_peek(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                             uint64_t nr_pages, uint64_t *dirty_count, unsigned flags)
{
    return logdirty_read(be, d, false, bitmap, nr_pages, dirty_count, flags);
}

static int xen_logdirty_clean(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                              uint64_t nr_pages, uint64_t *dirty_count, unsigned flags)
{
    return logdirty_read(be, d, true, bitmap, nr_pages, dirty_count, flags);
}

/* ------------------------------------------------------- open and close */

static void xen_dom_free(colo_backend *be, colo_dom *d)
{
    bitmap_free(xen_be(be), d);
    xen_qmp_close(d->qmp);
    if (d->dm_pending[0])
        unlink(d->dm_pending);
    free(d->last_ctx);
    free(d->pop);
    free(d);
}

/* Leave a primary as we found it: log-dirty off, running. A secondary that
 * was never activated stays paused: it is the engine's to destroy. A domain
 * destroyed behind our back (xl destroy) is left alone. */
static void xen_domain_close(colo_backend *be, colo_dom *d)
{
    struct xen_rawinfo ri;
    if (!d->gone && (xen_getinfo(xen_be(be), d->domid, &ri) < 0 || ri.dying))
        d->gone = true;
    if (!d->gone) {
        if (d->logdirty)
            xen_logdirty_off(be, d, 0);
        if (!(d->created && !d->activated))
            xen_restart(be, d);
    }
    xen_dom_free(be, d);
}

static int xen_open(colo_backend *be, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "open");
    struct xen_be *x = calloc(1, sizeof(*x));
    if (!x)
        return LOG_ERRNO(be->ctx, -ENOMEM, "xen backend: open");
    x->suspend_timeout_ms = SUSPEND_TIMEOUT_MS;
    x->stop_mode = be->xen_stop;
    x->xch = xc_interface_open(be->ctx->lg, be->ctx->lg, 0);
    if (!x->xch) {
        int r = negative_errno();
        free(x);
        return LOG_ERRNO(be->ctx, r, "xen backend: xc_interface_open (is this dom0 of a Xen host?)");
    }
    x->fmem = xenforeignmemory_open(be->ctx->lg, 0);
    x->xsh = x->fmem ? xs_open(0) : NULL;
    if (!x->fmem || !x->xsh) {
        int r = negative_errno();
        const char *what = x->fmem ? "xs_open (is xenstored running?)" : "xenforeignmemory_open";
        if (x->fmem)
            xenforeignmemory_close(x->fmem);
        xc_interface_close(x->xch);
        free(x);
        return LOG_ERRNO(be->ctx, r, "xen backend: %s", what);
    }
    be->priv = x;
    return 0;
}

static void xen_close(colo_backend *be)
{
    struct xen_be *x = xen_be(be);
    if (!x)
        return;
    if (x->lctx)
        libxl_ctx_free(x->lctx);
    xs_close(x->xsh);
    xenforeignmemory_close(x->fmem);
    xc_interface_close(x->xch);
    free(x);
    be->priv = NULL;
}

const colo_backend_ops colo_backend_xen_ops = {
    .name = "xen",
    .open = xen_open,
    .close = xen_close,
    .domain_open = xen_domain_open,
    .domain_close = xen_domain_close,
    .domain_create = xen_domain_create,
    .domain_config = xen_domain_config,
    .domain_destroy = xen_domain_destroy,
    .domain_info = xen_domain_info,
    .pause = xen_pause,
    .unpause = xen_unpause,
    .recover = xen_recover_stopped,
    .logdirty_enable = xen_logdirty_enable,
    .logdirty_off = xen_logdirty_off,
    .logdirty_peek = xen_logdirty_peek,
    .logdirty_clean = xen_logdirty_clean,
    .map = xen_map,
    .unmap = xen_unmap,
    .context_get = xen_context_get,
    .context_set = xen_context_set,
    .devstate_save = xen_devstate_save,
    .devstate_load = xen_devstate_load,
    .digest = xen_digest,
    .populated = xen_populated,
};
