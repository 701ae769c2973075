/* xen_state.c - the xen backend's guest state beyond memory: the vCPU and
 * platform context, the device model's state, and the guest digest.
 *
 * The context blob (context_get/set) is ours: a header, the HVM context
 * (xc_domain_hvm_getcontext), the TSC info, and the HVM params that
 * hvmloader sets at boot (libxc's save stream carries them too).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bitmap.h"
#include "backend/digest.h"
#include "backend/xen/xen_priv.h"
#include "json.h"

#include <xen/hvm/params.h>

/* --------------------------------------------------------------- context */

#define XEN_CTX_MAGIC 0x58435458u /* "XTCX" */
#define XEN_CTX_VERSION 1

struct xen_ctx_hdr {
    uint32_t magic, version;
    uint32_t hvm_len;          /* bytes of HVM context after the header */
    uint32_t nr_params;        /* struct xen_ctx_param after the HVM context */
    uint32_t tsc_mode, gtsc_khz, incarnation, pad;
    uint64_t elapsed_nsec;
};

struct xen_ctx_param {
    uint32_t index, pad;
    uint64_t value;
};

/* HVM params that hvmloader or the guest set at run time and that libxc's
 * save stream carries; the rest are the same on both sides by construction
 * (the same libxl configuration) or belong to each side (rings, ioreq). */
static const uint32_t ctx_params[] = {
    HVM_PARAM_IDENT_PT,
    HVM_PARAM_VM86_TSS_SIZED,
    HVM_PARAM_ACPI_IOPORTS_LOCATION,
    HVM_PARAM_VM_GENERATION_ID_ADDR,
};

static void remember_ctx(colo_dom *d, const uint8_t *buf, size_t len)
{
    free(d->last_ctx);
    d->last_ctx = malloc(len);
    d->last_ctx_len = d->last_ctx ? len : 0;
    if (d->last_ctx)
        memcpy(d->last_ctx, buf, len);
}

ssize_t xen_context_get(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "context_get");
    struct xen_be *x = xen_be(be);
    struct xen_ctx_hdr h = { .magic = XEN_CTX_MAGIC, .version = XEN_CTX_VERSION };
    int sz = xc_domain_hvm_getcontext(x->xch, d->domid, NULL, 0);
    if (sz <= 0)
        return LOG_ERRNO(be->ctx, sz < 0 ? negative_errno() : -EIO,
                         "domain %u: context get: size", d->domid);
    h.nr_params = d->type == COLO_DOM_HVM ? ARRAY_SIZE(ctx_params) : 0;
    size_t total = sizeof(h) + (size_t)sz + h.nr_params * sizeof(struct xen_ctx_param);
    _cleanup_free_ uint8_t *b = malloc(total);
    if (!b)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: context get", d->domid);
    int len = xc_domain_hvm_getcontext(x->xch, d->domid, b + sizeof(h), (uint32_t)sz);
    if (len <= 0)
        return LOG_ERRNO(be->ctx, len < 0 ? negative_errno() : -EIO,
                         "domain %u: context get", d->domid);
    h.hvm_len = (uint32_t)len;
    if (xc_domain_get_tsc_info(x->xch, d->domid, &h.tsc_mode, &h.elapsed_nsec, &h.gtsc_khz,
                               &h.incarnation) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: context get: tsc info", d->domid);
    struct xen_ctx_param *p = (struct xen_ctx_param *)(b + sizeof(h) + h.hvm_len);
    for (uint32_t i = 0; i < h.nr_params; i++) {
        p[i] = (struct xen_ctx_param){ .index = ctx_params[i] };
        if (xc_hvm_param_get(x->xch, d->domid, ctx_params[i], &p[i].value) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: context get: hvm param %u",
                             d->domid, ctx_params[i]);
    }
    memcpy(b, &h, sizeof(h));
    size_t total_len = sizeof(h) + h.hvm_len + h.nr_params * sizeof(struct xen_ctx_param);
    remember_ctx(d, b, total_len);
    *buf = TAKE_PTR(b);
    return (ssize_t)total_len;
}

int xen_context_set(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                    unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "context_set");
    struct xen_be *x = xen_be(be);
    struct xen_ctx_hdr h;

    if (!buf || len < sizeof(h))
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: context set: %zu bytes is too short",
                         d->domid, len);
    memcpy(&h, buf, sizeof(h));
    if (h.magic != XEN_CTX_MAGIC || h.version != XEN_CTX_VERSION || h.nr_params > 64 ||
        len != sizeof(h) + (size_t)h.hvm_len + h.nr_params * sizeof(struct xen_ctx_param))
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: context set: not a xen context "
                         "(magic %#x version %u, %zu bytes)", d->domid, h.magic, h.version, len);
    /* libxc copies the buffer in and does not write it. */
    if (xc_domain_hvm_setcontext(x->xch, d->domid, (uint8_t *)buf + sizeof(h), h.hvm_len) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: context set (%u bytes of HVM context)",
                         d->domid, h.hvm_len);
    if (xc_domain_set_tsc_info(x->xch, d->domid, h.tsc_mode, h.elapsed_nsec, h.gtsc_khz,
                               h.incarnation) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: context set: tsc info", d->domid);
    for (uint32_t i = 0; i < h.nr_params; i++) {
        struct xen_ctx_param p;
        uint64_t cur = 0;
        memcpy(&p, buf + sizeof(h) + h.hvm_len + i * sizeof(p), sizeof(p));
        if (xc_hvm_param_get(x->xch, d->domid, p.index, &cur) == 0 && cur == p.value)
            continue;
        if (xc_hvm_param_set(x->xch, d->domid, p.index, p.value) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: context set: hvm param %u",
                             d->domid, p.index);
    }
    remember_ctx(d, buf, len);
    return 0;
}

/* The pfns of d that hold memory, from the cache when nothing changed. */
static int populated_pfns(colo_backend *be, colo_dom *d)
{
    enum { BATCH = 1024 };
    struct xen_be *x = xen_be(be);
    struct xen_rawinfo ri;
    xen_pfn_t max = 0, t[BATCH];
    int r = xen_getinfo(x, d->domid, &ri);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: digest: getinfo", d->domid);
    if (xc_domain_maximum_gpfn(x->xch, d->domid, &max) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: digest: maximum_gpfn", d->domid);
    if (d->pop && d->pop_max == max && d->pop_tot == ri.tot_pages)
        return 0;
    free(d->pop);
    d->nr_pop = 0;
    d->pop = malloc(((uint64_t)max + 1) * sizeof(*d->pop));
    if (!d->pop)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: digest", d->domid);
    for (uint64_t base = 0; base <= max; base += BATCH) {
        unsigned n = (unsigned)MIN((uint64_t)BATCH, (uint64_t)max + 1 - base);
        for (unsigned i = 0; i < n; i++)
            t[i] = base + i;
        if (xc_get_pfn_type_batch(x->xch, d->domid, n, t) < 0) {
            r = negative_errno();
            free(d->pop);
            d->pop = NULL;
            return LOG_ERRNO(be->ctx, r, "domain %u: digest: pfn types", d->domid);
        }
        for (unsigned i = 0; i < n; i++)
            if (((uint32_t)t[i] & XEN_DOMCTL_PFINFO_LTAB_MASK) != XEN_DOMCTL_PFINFO_XTAB)
                d->pop[d->nr_pop++] = base + i;
    }
    d->pop_max = max;
    d->pop_tot = ri.tot_pages;
    return 0;
}

/* The populated op: the pfns that hold memory, so that the initial sync
 * walks neither the hole below 4 GiB nor the gaps of a PVH guest (and the
 * secondary is not asked to populate them). */
int xen_populated(colo_backend *be, colo_dom *d, unsigned long *bitmap, uint64_t nr_pages,
                  unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "populated");
    int r = populated_pfns(be, d);
    if (r < 0)
        return r;
    colo_bitmap_clear_all(bitmap, nr_pages);
    for (uint64_t i = 0; i < d->nr_pop; i++)
        if (d->pop[i] < nr_pages)
            colo_bitmap_set(bitmap, d->pop[i]);
    return 0;
}

/* The guest digest (digest.h): every frame that holds memory, in pfn order,
 * less the two rings; then the context last read from this domain (primary)
 * or written to it (secondary). The guest must be stopped. */
int xen_digest(colo_backend *be, colo_dom *d, uint8_t out[32], unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "digest");
    enum { BATCH = 1024 };
    colo_digest *dg = NULL;
    void *pages[BATCH];
    int err[BATCH];
    int r = populated_pfns(be, d);
    if (r < 0)
        return r;
    if (!d->last_ctx) {
        _cleanup_free_ uint8_t *c = NULL;
        ssize_t n = xen_context_get(be, d, &c, 0);
        if (n < 0)
            return (int)n;
    }
    r = colo_digest_new(&dg);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: digest", d->domid);
    for (uint64_t off = 0; off < d->nr_pop; off += BATCH) {
        unsigned n = (unsigned)MIN((uint64_t)BATCH, d->nr_pop - off);
        colo_mapping *m = NULL;
        r = xen_map(be, d, d->pop + off, n, PROT_READ, pages, err, &m, 0);
        if (r < 0) {
            colo_digest_free(dg);
            return r;
        }
        for (unsigned i = 0; i < n; i++)
            if (pages[i])
                colo_digest_page(dg, d->pop[off + i], pages[i]);
        xen_unmap(be, d, m);
    }
    colo_digest_context(dg, d->last_ctx, d->last_ctx_len);
    colo_digest_final(dg, out);
    colo_digest_free(dg);
    return 0;
}

/* ---------------------------------------------------------- device model */

void dm_state_path(colo_backend *be, colo_dom *d, const char *what, char *path, size_t len)
{
    /* qemu-xen runs in dom0 and writes where libxl keeps its own saves. */
    const char *dir = access("/var/lib/xen", W_OK) == 0 ? "/var/lib/xen" : be->run_dir;
    snprintf(path, len, "%s/xen-colo-dm-%s.%u", dir, what, d->domid);
}

ssize_t xen_devstate_save(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "devstate_save");
    char path[256];
    const char *args;
    size_t args_len;
    *buf = NULL;
    if (!d->has_dm)
        return 0; /* PVH: no device model */
    dm_state_path(be, d, "save", path, sizeof(path));
    _cleanup_json_ colo_json *j = colo_json_new();
    colo_json_put_str(j, "filename", path);
    colo_json_put_bool(j, "live", false);
    int r = colo_json_finish(j, &args, &args_len);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: device state: the arguments of "
                         "xen-save-devices-state", d->domid);
    r = xen_dm_qmp(be, d, "xen-save-devices-state", args);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path);
    if (fd < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: device state: open %s", d->domid, path);
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size > (64 << 20))
        return LOG_ERRNO(be->ctx, fstat(fd, &st) < 0 ? negative_errno() : -EFBIG,
                         "domain %u: device state: %s", d->domid, path);
    _cleanup_free_ uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!b)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: device state", d->domid);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return LOG_ERRNO(be->ctx, n < 0 ? negative_errno() : -EIO,
                             "domain %u: device state: read %s", d->domid, path);
        got += (size_t)n;
    }
    *buf = TAKE_PTR(b);
    return (ssize_t)got;
}

/* The secondary keeps the newest device state and applies it at failover
 * (xen_domain_activate restarts the device model with -incoming). Loading it
 * into the running device model at each checkpoint, as libxl's COLO does with
 * xen-load-devices-state, aborts Debian 12's qemu-system-xen 7.2
 * ("yank_unregister_instance: Assertion `entry' failed"). */
int xen_devstate_load(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                      unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "devstate_load");
    char path[256], tmp[272];
    if (len == 0)
        return 0;
    if (!d->has_dm)
        return LOG_ERRNO(be->ctx, -EINVAL, "domain %u: device state of %zu bytes for a domain "
                         "without a device model", d->domid, len);
    dm_state_path(be, d, "pending", path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: device state: create %s", d->domid, tmp);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int r = n < 0 ? negative_errno() : -EIO;
            unlink(tmp);
            return LOG_ERRNO(be->ctx, r, "domain %u: device state: write %s", d->domid, tmp);
        }
        off += (size_t)n;
    }
    if (rename(tmp, path) < 0) {
        int r = negative_errno();
        unlink(tmp);
        return LOG_ERRNO(be->ctx, r, "domain %u: device state: rename to %s", d->domid, path);
    }
    snprintf(d->dm_pending, sizeof(d->dm_pending), "%s", path);
    return 0;
}
