/* backend.c - choose a backend, and the checked wrappers the engine calls.
 *
 * Every wrapper has one shape (libvirt's public entry points): check the
 * arguments, call the slot, or return -EOPNOTSUPP for an empty one. */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "backend/backend.h"
#include "bitmap.h"
#include "backend/digest.h"
#include "colo-internal.h"

static const colo_backend_ops *const backends[] = {
    &colo_backend_sim_ops,
#ifdef HAVE_XEN_BACKEND
    &colo_backend_xen_ops,
#endif
};

const char *libxlcolo_default_backend(void)
{
    return access("/dev/xen/privcmd", F_OK) == 0 ? "xen" : "sim";
}

int colo_backend_open(libxlcolo_ctx *ctx, const struct colo_backend_params *p,
                      unsigned flags, colo_backend **out)
{
    const colo_backend_ops *ops = NULL;
    const char *name = p->name ? p->name : libxlcolo_default_backend();

    for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
        if (backends[i]->name && strcmp(backends[i]->name, name) == 0)
            ops = backends[i];
    if (!ops)
        return LOG_ERRNO(ctx, -ENOENT, "unknown backend '%s' (known: sim, xen)", name);
    return colo_backend_open_ops(ctx, ops, p, flags, out);
}

int colo_backend_open_ops(libxlcolo_ctx *ctx, const colo_backend_ops *ops,
                          const struct colo_backend_params *p, unsigned flags,
                          colo_backend **out)
{
    /* The contract, as libvirt's: every table has these three. */
    const char *missing = !ops->name ? "name" : !ops->open ? "open" : !ops->close ? "close" : NULL;
    if (missing)
        return LOG_ERRNO(ctx, -EINVAL, "backend %s: the ops table has no %s (name, open "
                         "and close are required)", ops->name ? ops->name : "(unnamed)",
                         missing);

    colo_backend *be = calloc(1, sizeof(*be));
    if (!be)
        return -ENOMEM;
    be->ops = ops;
    be->ctx = ctx;
    be->run_dir = p->run_dir ? p->run_dir : libxlcolo_default_run_dir();
    be->simguest = p->simguest;
    be->disks = p->disks;
    be->nr_disks = p->nr_disks;
    be->xen_stop = p->xen_stop;
    int r = ops->open(be, flags);
    if (r < 0) {
        free(be);
        return r;
    }
    *out = be;
    return 0;
}

void colo_backend_close(colo_backend *be)
{
    if (!be)
        return;
    be->ops->close(be);
    free(be);
}

int colo_backend_bad_flags(colo_backend *be, const char *what, unsigned unknown)
{
    return LOG_ERRNO(be->ctx, -EINVAL, "%s backend: %s: unknown flags %#x",
                     be->ops->name, what, unknown);
}

#define CALL(be, slot, ...)                                             \
    ((be)->ops->slot ? (be)->ops->slot((be), __VA_ARGS__)               \
                     : LOG_ERRNO((be)->ctx, -EOPNOTSUPP,                \
                                 "backend %s does not support " #slot,  \
                                 (be)->ops->name))

int colo_be_domain_open(colo_backend *be, const char *name, colo_dom **out,
                        unsigned flags)
{
    if (!name || !*name || !out)
        return -EINVAL;
    return CALL(be, domain_open, name, out, flags);
}

void colo_be_domain_close(colo_backend *be, colo_dom *d)
{
    if (d && be->ops->domain_close)
        be->ops->domain_close(be, d);
}

int colo_be_domain_create(colo_backend *be, const struct colo_domain_config *cfg,
                          colo_dom **out, unsigned flags)
{
    if (!cfg || !out || cfg->nr_pages == 0 || cfg->nr_vcpus == 0)
        return -EINVAL;
    return CALL(be, domain_create, cfg, out, flags);
}

int colo_be_domain_config(colo_backend *be, colo_dom *d,
                          struct colo_domain_config *cfg, void **extra_owned,
                          unsigned flags)
{
    return CALL(be, domain_config, d, cfg, extra_owned, flags);
}

int colo_be_domain_destroy(colo_backend *be, colo_dom *d, unsigned flags)
{
    return CALL(be, domain_destroy, d, flags);
}

int colo_be_domain_info(colo_backend *be, colo_dom *d, struct colo_domain_info *info,
                        unsigned flags)
{
    return CALL(be, domain_info, d, info, flags);
}

int colo_be_pause(colo_backend *be, colo_dom *d, unsigned flags)
{
    return CALL(be, pause, d, flags);
}

int colo_be_unpause(colo_backend *be, colo_dom *d, unsigned flags)
{
    return CALL(be, unpause, d, flags);
}

int colo_be_logdirty_enable(colo_backend *be, colo_dom *d, unsigned flags)
{
    return CALL(be, logdirty_enable, d, flags);
}

int colo_be_logdirty_off(colo_backend *be, colo_dom *d, unsigned flags)
{
    return CALL(be, logdirty_off, d, flags);
}

int colo_be_logdirty_peek(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                          uint64_t nr_pages, uint64_t *count, unsigned flags)
{
    if (!count)
        return -EINVAL;
    return CALL(be, logdirty_peek, d, bitmap, nr_pages, count, flags);
}

int colo_be_logdirty_clean(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                           uint64_t nr_pages, uint64_t *count, unsigned flags)
{
    if (!bitmap || !count)
        return -EINVAL;
    return CALL(be, logdirty_clean, d, bitmap, nr_pages, count, flags);
}

int colo_be_map(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n,
                int prot, void **pages, int *err, colo_mapping **m, unsigned flags)
{
    if (!pfns || !pages || !err || !m || n == 0 || n > 1024 * 64)
        return -EINVAL;
    if (prot & ~(PROT_READ | PROT_WRITE))
        return -EINVAL;
    return CALL(be, map, d, pfns, n, prot, pages, err, m, flags);
}

void colo_be_unmap(colo_backend *be, colo_dom *d, colo_mapping *m)
{
    if (m && be->ops->unmap)
        be->ops->unmap(be, d, m);
}

ssize_t colo_be_context_get(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags)
{
    if (!buf)
        return -EINVAL;
    return CALL(be, context_get, d, buf, flags);
}

int colo_be_context_set(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                        unsigned flags)
{
    return CALL(be, context_set, d, buf, len, flags);
}

ssize_t colo_be_devstate_save(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags)
{
    if (!buf)
        return -EINVAL;
    return CALL(be, devstate_save, d, buf, flags);
}

int colo_be_devstate_load(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                          unsigned flags)
{
    return CALL(be, devstate_load, d, buf, len, flags);
}

/* recover, populated and digest are optional; without the op, the wrapper
 * does its part and checks the flags as an op would. */
int colo_be_recover(colo_backend *be, colo_dom *d, unsigned flags)
{
    if (be->ops->recover)
        return be->ops->recover(be, d, flags);
    COLO_CHECK_FLAGS(be, flags, 0, "recover");
    return 0;
}

int colo_be_populated(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                      uint64_t nr_pages, unsigned flags)
{
    if (be->ops->populated)
        return be->ops->populated(be, d, bitmap, nr_pages, flags);
    COLO_CHECK_FLAGS(be, flags, 0, "populated");
    colo_bitmap_fill(bitmap, nr_pages);
    return 0;
}

/* The generic digest: map every pfn read-only, in order, then the context. */
static int digest_by_map(colo_backend *be, colo_dom *d, uint8_t out[32])
{
    struct colo_domain_info info;
    uint64_t pfns[COLO_MAP_BATCH];
    void *addr[COLO_MAP_BATCH];
    int err[COLO_MAP_BATCH];
    colo_digest *dg = NULL;
    _cleanup_free_ unsigned long *populated = NULL;
    _cleanup_free_ uint8_t *context = NULL;

    int r = colo_be_domain_info(be, d, &info, 0);
    if (r < 0)
        return r;
    populated = colo_bitmap_alloc(info.nr_pages);
    if (!populated)
        return -ENOMEM;
    r = colo_be_populated(be, d, populated, info.nr_pages, 0);
    if (r < 0)
        return r;
    ssize_t len = colo_be_context_get(be, d, &context, 0);
    if (len < 0)
        return (int)len;
    r = colo_digest_new(&dg);
    if (r < 0)
        return r;

    uint64_t cursor = 0;
    unsigned n;
    while ((n = colo_bitmap_take(populated, info.nr_pages, &cursor, pfns, COLO_MAP_BATCH)) > 0) {
        colo_mapping *m = NULL;
        r = colo_be_map(be, d, pfns, n, PROT_READ, addr, err, &m, 0);
        if (r < 0)
            break;
        for (unsigned i = 0; i < n; i++)
            if (addr[i])
                colo_digest_page(dg, pfns[i], addr[i]);
        colo_be_unmap(be, d, m);
    }
    if (r == 0) {
        colo_digest_context(dg, context, (size_t)len);
        colo_digest_final(dg, out);
    }
    colo_digest_free(dg);
    return r;
}

int colo_be_digest(colo_backend *be, colo_dom *d, uint8_t out[32], unsigned flags)
{
    if (!out)
        return -EINVAL;
    if (be->ops->digest)
        return be->ops->digest(be, d, out, flags);
    COLO_CHECK_FLAGS(be, flags, 0, "digest");
    return digest_by_map(be, d, out);
}
