/* xen_dom.c - what the xen backend's files ask about a domain: its raw
 * info (xc_domain_getinfo), its name, whether it has PV drivers, and a new
 * colo_dom for a domain id. Every other xen file may call these; they call
 * none of them back.
 *
 * be->xen_stop (libxlcolo_options.xen_stop) pause or suspend overrides the
 * detection of PV drivers, and so how xen_stop.c stops the guest.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "backend/xen/xen_priv.h"

#include <xen/hvm/params.h>

static int xs_read_int(struct xen_be *x, const char *path, long *out)
{
    unsigned len = 0;
    _cleanup_free_ char *v = xs_read(x->xsh, XBT_NULL, path, &len);
    if (!v)
        return -ENOENT;
    char *end;
    *out = strtol(v, &end, 10);
    return end == v ? -EINVAL : 0;
}

/* Does the guest answer control/shutdown = "suspend"? */
bool xen_detect_pv_drivers(struct xen_be *x, colo_dom *d)
{
    char path[96];
    long v = 0;
    switch (x->stop_mode) {
    case LIBXLCOLO_XEN_STOP_PAUSE:
        return false;
    case LIBXLCOLO_XEN_STOP_SUSPEND:
        return true;
    default:
        break;
    }
    snprintf(path, sizeof(path), "/local/domain/%u/control/feature-suspend", d->domid);
    return xs_read_int(x, path, &v) == 0 && v == 1;
}

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
    memcpy(ri->uuid, di.handle, sizeof(ri->uuid));
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
    memcpy(ri->uuid, in.handle, sizeof(ri->uuid));
    emu = in.arch_config.emulation_flags;
#endif
    /* PVH emulates the local APIC alone; HVM has the PIC and the rest. */
    ri->pvh = ri->hvm && !(emu & XEN_X86_EMU_PIC);
    return 0;
}

void xen_dom_name(struct xen_be *x, uint32_t domid, char *name, size_t len)
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
    xen_dom_name(x, domid, d->name, sizeof(d->name));
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
