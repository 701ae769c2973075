/* xen_map.c - mapping a domain's frames (the backend's map and unmap ops,
 * also used by the digest in xen_state.c).
 *
 * The rings at HVM_PARAM_STORE_PFN and HVM_PARAM_CONSOLE_PFN belong to each
 * side's own xenstored and xenconsoled: map() reports them as -EPERM on both
 * sides, so they are neither copied nor digested.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "backend/xen/xen_priv.h"

_Static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t), "xen_pfn_t is 64-bit");

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
            void **pages, int *err, colo_mapping **m, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "map");
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
