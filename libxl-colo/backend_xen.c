/* backend_xen.c - the "xen" backend: a real HVM or PVH guest on Xen.
 *
 * libxenctrl for domain info, pause, log-dirty and HVM context;
 * libxenforeignmemory to map guest frames; xenstore for the cooperative
 * suspend of guests with PV drivers; QMP for the qemu-xen device model
 * (xen_qmp.c); libxl to build and tear down domains (xen_domain.c); the
 * secondary's device model at failover (xen_dm.c).
 *
 * Stopping and restarting a guest at a checkpoint is in xen_stop.c.
 * HVM guests have their device model's global dirty log on while log-dirty
 * is (QMP xen-set-global-dirty-log), so that its DMA writes are logged.
 *
 * Context, device state and digest are in xen_state.c.
 *
 * The rings at HVM_PARAM_STORE_PFN and HVM_PARAM_CONSOLE_PFN belong to each
 * side's own xenstored and xenconsoled: map() reports them as -EPERM on both
 * sides, so they are neither copied nor digested.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "xen_priv.h"

#include <xenguest.h>
#include <xen/hvm/params.h>

_Static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t), "xen_pfn_t is 64-bit");

#define SUSPEND_TIMEOUT_MS 10000
#define BITS_PER_WORD (8 * sizeof(unsigned long))

/* ------------------------------------------------------------------ info */

int xen_getinfo(struct xen_be *x, uint32_t domid, struct xen_rawinfo *ri)
{
    uint32_t emu;
#ifdef HAVE_XC_DOMAIN_GETINFO_SINGLE
    xc_domaininfo_t di;
    if (xc_domain_getinfo_single(x->xch, domid, &di) < 0)
        return negative_errno();
    ri->hvm = di.flags & XEN_DOMINF_hvm_guest;
    ri->dying = di.flags & XEN_DOMINF_dying;
    ri->shutdown = di.flags & XEN_DOMINF_shutdown;
    ri->paused = di.flags & XEN_DOMINF_paused;
    ri->shutdown_reason = (di.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
    ri->max_memkb = (uint64_t)di.max_pages * (XC_PAGE_SIZE / 1024);
    ri->tot_pages = di.tot_pages;
    ri->max_vcpu_id = di.max_vcpu_id;
    emu = di.arch_config.emulation_flags;
#else
    xc_dominfo_t in;
    int r = xc_domain_getinfo(x->xch, domid, 1, &in);
    if (r < 0)
        return negative_errno();
    if (r != 1 || in.domid != domid)
        return -ESRCH;
    ri->hvm = in.hvm;
    ri->dying = in.dying;
    ri->shutdown = in.shutdown;
    ri->paused = in.paused;
    ri->shutdown_reason = in.shutdown_reason;
    ri->max_memkb = in.max_memkb;
    ri->tot_pages = in.nr_pages;
    ri->max_vcpu_id = in.max_vcpu_id;
    emu = in.arch_config.emulation_flags;
#endif
    /* PVH emulates the local APIC alone; HVM has the PIC and the rest. */
    ri->pvh = ri->hvm && !(emu & XEN_X86_EMU_PIC);
    return 0;
}

static void read_name(struct xen_be *x, uint32_t domid, char *name, size_t len)
{
    char path[64];
    unsigned n = 0;
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    _cleanup_free_ char *v = xs_read(x->xsh, XBT_NULL, path, &n);
    snprintf(name, len, "%s", v ? v : "");
}

int xen_dom_new(colo_backend *be, uint32_t domid, colo_dom **out)
{
    struct xen_be *x = xen_be(be);
    struct xen_rawinfo ri;
    int r = xen_getinfo(x, domid, &ri);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: no such domain (getinfo)", domid);
    if (!ri.hvm)
        return LOG_ERRNO(be->ctx, -EOPNOTSUPP,
                         "domain %u is PV: xen-colo needs HVM or PVH "
                         "(no log-dirty without shadow paging)", domid);
    colo_dom *d = calloc(1, sizeof(*d));
    if (!d)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: open", domid);
    d->domid = domid;
    d->type = ri.pvh ? COLO_DOM_PVH : COLO_DOM_HVM;
    d->bm = (xc_hypercall_buffer_t){ .hbuf = NULL, .param_shadow = NULL,
                                     HYPERCALL_BUFFER_INIT_NO_BOUNCE };
    read_name(x, domid, d->name, sizeof(d->name));
    xc_hvm_param_get(x->xch, domid, HVM_PARAM_STORE_PFN, &d->store_pfn);
    xc_hvm_param_get(x->xch, domid, HVM_PARAM_CONSOLE_PFN, &d->console_pfn);
    if (d->type == COLO_DOM_HVM) {
        char qmp[64];
        snprintf(qmp, sizeof(qmp), "/var/run/xen/qmp-libxl-%u", domid);
        d->has_dm = access(qmp, F_OK) == 0;
    }
    d->pv_drivers = xen_detect_pv_drivers(x, d);
    *out = d;
    return 0;
}

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
        read_name(x, id, got, sizeof(got));
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
    if (flags)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %s: open: unknown flags %#x", name_or_id, flags);
    if (parse_domid(name_or_id, &domid) < 0) {
        int r = find_by_name(xen_be(be), name_or_id, &domid);
        if (r < 0)
            return LOG_ERRNO(be->ctx, r, "domain %s: no such domain", name_or_id);
    }
    if (domid == 0)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain 0 cannot be protected");
    return xen_dom_new(be, domid, out);
}

static int xen_domain_info(colo_backend *be, colo_dom *d, struct colo_domain_info *info)
{
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

    if (flags)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: log-dirty enable: unknown flags %#x",
                         d->domid, flags);
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
    if (flags)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: log-dirty off: unknown flags %#x",
                         d->domid, flags);
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

    if (flags)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: log-dirty %s: unknown flags %#x",
                         d->domid, op, flags);
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

/* ------------------------------------------------------------------- map */

static bool is_ring_pfn(const colo_dom *d, uint64_t pfn)
{
    return (d->store_pfn && pfn == d->store_pfn) || (d->console_pfn && pfn == d->console_pfn);
}

/* Map n frames. Frames that hold no memory (XTAB) are not mapped at all:
 * asking privcmd for them costs as much as mapping them, and the hole below
 * 4 GiB of an HVM guest is most of its pfn space. On a secondary we made,
 * a frame the primary has and we lack (hvmloader's, a grant table's) is
 * populated first, as libxc's restore does. */
int xen_map(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n, int prot,
                   void **pages, int *err, colo_mapping **m)
{
    struct xen_be *x = xen_be(be);
    _cleanup_free_ xen_pfn_t *type = malloc(n * sizeof(*type));
    _cleanup_free_ xen_pfn_t *want = malloc(n * sizeof(*want));
    _cleanup_free_ unsigned *idx = malloc(n * sizeof(*idx));
    _cleanup_free_ int *merr = malloc(n * sizeof(*merr));
    bool populate = d->created && (prot & PROT_WRITE);
    unsigned k = 0, populated = 0;

    if (!type || !want || !idx || !merr)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: map %u pages", d->domid, n);
    memcpy(type, pfns, n * sizeof(*type));
    if (xc_get_pfn_type_batch(x->xch, d->domid, n, type) < 0)
        memset(type, 0, n * sizeof(*type)); /* unknown: try to map them all */
    for (unsigned i = 0; i < n; i++) {
        uint32_t t = (uint32_t)type[i] & XEN_DOMCTL_PFINFO_LTAB_MASK;
        pages[i] = NULL;
        err[i] = 0;
        if (is_ring_pfn(d, pfns[i])) {
            err[i] = -EPERM;
            continue;
        }
        if (t == XEN_DOMCTL_PFINFO_BROKEN) {
            err[i] = -EIO;
            continue;
        }
        if (t == XEN_DOMCTL_PFINFO_XTAB) {
            xen_pfn_t p = pfns[i];
            if (!populate || xc_domain_populate_physmap_exact(x->xch, d->domid, 1, 0, 0, &p) < 0) {
                err[i] = -ENOENT;
                continue;
            }
            populated++;
        }
        want[k] = pfns[i];
        idx[k++] = i;
    }
    if (populated)
        LOG(be->ctx, DEBUG, "domain %u: populated %u pfns the primary has", d->domid, populated);
    struct colo_mapping *mp = calloc(1, sizeof(*mp));
    if (!mp)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: map %u pages", d->domid, n);
    if (k) {
        memset(merr, 0, k * sizeof(*merr));
        mp->addr = xenforeignmemory_map(x->fmem, d->domid, prot, k, want, merr);
        if (!mp->addr) {
            int r = negative_errno();
            free(mp);
            return LOG_ERRNO(be->ctx, r, "domain %u: map %u pages", d->domid, k);
        }
        mp->n = k;
        for (unsigned j = 0; j < k; j++) {
            err[idx[j]] = merr[j];
            if (!merr[j])
                pages[idx[j]] = (char *)mp->addr + (size_t)j * XC_PAGE_SIZE;
        }
    }
    *m = mp;
    return 0;
}

void xen_unmap(colo_backend *be, colo_dom *d, colo_mapping *m)
{
    if (m->addr)
        xenforeignmemory_unmap(xen_be(be)->fmem, m->addr, m->n);
    free(m);
}

/* ------------------------------------------------------- open and close */

void xen_dom_free(colo_backend *be, colo_dom *d)
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
    if (flags)
        return LOG_ERRNO(be->ctx, -EINVAL, "xen backend: unknown flags %#x", flags);
    struct xen_be *x = calloc(1, sizeof(*x));
    if (!x)
        return LOG_ERRNO(be->ctx, -ENOMEM, "xen backend: open");
    x->suspend_timeout_ms = SUSPEND_TIMEOUT_MS;
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
