/*
 * backend.h - the one interface between the engine and a hypervisor.
 *
 * Like libvirt's hypervisor driver table: one struct of function pointers,
 * filled with designated initializers. name, open and close are required
 * (colo_backend_open refuses a table without them); a NULL slot makes the
 * wrapper in backend.c return -EOPNOTSUPP. Every op returns >= 0 on success
 * or a negative errno, and takes flags, which it checks with
 * COLO_CHECK_FLAGS (unknown bits: -EINVAL), so that a flag can be added
 * later without a second op; the wrappers pass the caller's flags through.
 * The three teardown ops (close, domain_close, unmap) take none: they cannot
 * fail, so they could not refuse one. Backends log at the point of failure
 * through be->ctx.
 *
 * Two backends: "xen" (libxenctrl, libxenforeignmemory, xenstore, QMP) and
 * "sim" (a colo-simguest process, see tools/simguest). The engine cannot
 * tell them apart.
 */
#ifndef COLO_BACKEND_H
#define COLO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libxlcolo.h"
#include "page.h"
#include "uuid.h"

/* Frames per map() call when the engine or the generic digest walks many:
 * as Xen's save code. */
#define COLO_MAP_BATCH 1024

typedef struct colo_backend colo_backend;
typedef struct colo_backend_ops colo_backend_ops;
typedef struct colo_dom colo_dom;         /* a backend's handle on one domain */
typedef struct colo_mapping colo_mapping; /* a backend's handle on one map() */

typedef enum {
    COLO_DOM_HVM = 1,
    COLO_DOM_PVH = 2,
    COLO_DOM_PV = 3, /* refused: no log-dirty without shadow paging */
} colo_dom_type;

struct colo_domain_info {
    uint32_t domid;
    char name[64];
    colo_dom_type type;
    uint64_t nr_pages;   /* pfns 0..nr_pages-1 may be populated (max_gpfn+1) */
    uint64_t mem_bytes;  /* configured memory */
    unsigned nr_vcpus;
    bool paused;
    bool shutdown;       /* shut down or dying: the guest is gone */
    bool pv_drivers;     /* xen: stop by cooperative suspend */
    bool fenced;         /* stopped by a fence (COLO_PAUSE_FENCE) */
    char uuid[37];       /* 8-4-4-4-12: the key of its ownership (arbiter/) */
    char vif[16];        /* its first network interface on this host (xen: vifDOMID.0); "": none known */
};

/* What the secondary needs to build its domain; sent in the stream. */
struct colo_domain_config {
    char name[64];
    colo_dom_type type;
    uint64_t nr_pages;
    uint64_t mem_bytes;
    unsigned nr_vcpus;
    /* Backend-specific opaque configuration (sim: workload, seed; xen:
     * the libxl domain config) and its length. */
    const void *extra;
    size_t extra_len;
};

/* pause/unpause flags */
#define COLO_PAUSE_CHECKPOINT (1u << 0) /* a checkpoint stop: xen may suspend */
/* The fence watchdog's stop: it holds until an unpause with this flag, and
 * any other unpause (a checkpoint's) leaves the guest stopped; its mark
 * outlives the toolstack, and the domain's info says fenced. */
#define COLO_PAUSE_FENCE (1u << 1)
/* domain_create flags */
#define COLO_CREATE_PAUSED (1u << 0)

struct colo_backend_ops {
    const char *name;
    /* A COLO secondary's guest may run between checkpoints (engine/
     * colo_cache.h): its devices do nothing a checkpoint cannot undo.
     * Not yet xen's: a real secondary's PV backends and device model need
     * the NIC datapath and the disks' COLO mode first. */
    bool colo_secondary_runs;

    int (*open)(colo_backend *be, unsigned flags);
    void (*close)(colo_backend *be);

    /* Find a running domain by name or id. */
    int (*domain_open)(colo_backend *be, const char *name_or_id,
                       colo_dom **out, unsigned flags);
    void (*domain_close)(colo_backend *be, colo_dom *d);
    /* Build the secondary's domain from the primary's configuration. */
    int (*domain_create)(colo_backend *be, const struct colo_domain_config *cfg,
                         colo_dom **out, unsigned flags);
    /* The opaque config a secondary needs (cfg->extra); caller frees. */
    int (*domain_config)(colo_backend *be, colo_dom *d,
                         struct colo_domain_config *cfg, void **extra_owned,
                         unsigned flags);
    int (*domain_destroy)(colo_backend *be, colo_dom *d, unsigned flags);
    int (*domain_info)(colo_backend *be, colo_dom *d,
                       struct colo_domain_info *info, unsigned flags);

    /* Synchronous: when pause returns, no vCPU writes guest memory. A
     * COLO_PAUSE_CHECKPOINT stop is recorded until its unpause, so that a
     * toolstack killed in between leaves a trace. */
    int (*pause)(colo_backend *be, colo_dom *d, unsigned flags);
    int (*unpause)(colo_backend *be, colo_dom *d, unsigned flags);
    /* Optional: restart a guest that a killed toolstack left stopped for a
     * checkpoint (one warning line), else nothing. Called by a protection
     * that holds the domain's control socket, so the stop is nobody's. */
    int (*recover)(colo_backend *be, colo_dom *d, unsigned flags);

    /* Xen's log-dirty semantics. bitmap holds nr_pages bits (unsigned long
     * words, bit n = pfn n). PEEK copies the log and leaves it; CLEAN copies
     * it and clears it. *dirty_count is the exact number of set bits. PEEK
     * with a NULL bitmap is the cheap estimate: the count alone. */
    int (*logdirty_enable)(colo_backend *be, colo_dom *d, unsigned flags);
    int (*logdirty_off)(colo_backend *be, colo_dom *d, unsigned flags);
    int (*logdirty_peek)(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                         uint64_t nr_pages, uint64_t *dirty_count, unsigned flags);
    int (*logdirty_clean)(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                          uint64_t nr_pages, uint64_t *dirty_count, unsigned flags);

    /* Map n frames, as xenforeignmemory_map does: pages[i] is the address
     * of pfns[i], or NULL with err[i] = -errno for a frame that cannot be
     * mapped (normal: count and skip it). prot is PROT_READ or
     * PROT_READ|PROT_WRITE. Returns 0 if the batch was mapped at all. */
    int (*map)(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n,
               int prot, void **pages, int *err, colo_mapping **m, unsigned flags);
    void (*unmap)(colo_backend *be, colo_dom *d, colo_mapping *m);

    /* vCPU/platform context (xen: HVM context). get allocates *buf. */
    ssize_t (*context_get)(colo_backend *be, colo_dom *d, uint8_t **buf,
                           unsigned flags);
    int (*context_set)(colo_backend *be, colo_dom *d, const uint8_t *buf,
                       size_t len, unsigned flags);
    /* Device-model state (xen: QMP xen-save-devices-state). May be empty. */
    ssize_t (*devstate_save)(colo_backend *be, colo_dom *d, uint8_t **buf,
                             unsigned flags);
    int (*devstate_load)(colo_backend *be, colo_dom *d, const uint8_t *buf,
                         size_t len, unsigned flags);

    /* Optional: the guest digest (digest.h) computed where it is cheapest.
     * NULL: the engine computes it through map() and context_get(). The
     * guest must be paused. */
    int (*digest)(colo_backend *be, colo_dom *d, uint8_t out[32], unsigned flags);

    /* Optional: set the bits of pfns that hold memory (sim: the memfd's data
     * ranges; xen: the populated ranges), so the first copy does not walk
     * holes. NULL: every pfn below nr_pages. */
    int (*populated)(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                     uint64_t nr_pages, unsigned flags);
};

/* The instance: ops plus the backend's private state. The strings are the
 * opener's (colo_backend_params). */
struct colo_backend {
    const colo_backend_ops *ops;
    libxlcolo_ctx *ctx;
    const char *run_dir;
    const char *simguest;           /* sim: NULL is colo-simguest on PATH */
    /* The replicated disks: what a secondary's created guest uses for each
     * (guest_uri: sim, its --disk, the first disk only; xen, the target its
     * vdev NAME gets on this host). */
    const libxlcolo_disk *disks;
    unsigned nr_disks;
    libxlcolo_xen_stop xen_stop;    /* xen */
    void *priv;
};

/* What a backend is opened with: a protection's options, or a test's own. */
struct colo_backend_params {
    const char *name;               /* "sim", "xen"; NULL: libxlcolo_default_backend() */
    const char *run_dir;            /* NULL: libxlcolo_default_run_dir() */
    const char *simguest;
    const libxlcolo_disk *disks;    /* the replicated disks of a guest it creates */
    unsigned nr_disks;
    libxlcolo_xen_stop xen_stop;
};

static inline struct colo_backend_params
colo_backend_params_of(const libxlcolo_options *opt)
{
    return (struct colo_backend_params){
        .name = opt->backend,
        .run_dir = opt->run_dir,
        .simguest = opt->simguest,
        .disks = opt->disks,
        .nr_disks = opt->disks ? opt->nr_disks : 0,
        .xen_stop = opt->xen_stop,
    };
}

extern const colo_backend_ops colo_backend_sim_ops;
#ifdef HAVE_XEN_BACKEND
extern const colo_backend_ops colo_backend_xen_ops;
#endif

/* backend.c: choose by p->name ("sim", "xen"; NULL for the default). */
int colo_backend_open(libxlcolo_ctx *ctx, const struct colo_backend_params *p,
                      unsigned flags, colo_backend **out);
/* Open the backend of that ops table (a test's fake one): refuses, with
 * -EINVAL and one line, a table without name, open or close. p->name is
 * not used. */
int colo_backend_open_ops(libxlcolo_ctx *ctx, const colo_backend_ops *ops,
                          const struct colo_backend_params *p, unsigned flags,
                          colo_backend **out);
void colo_backend_close(colo_backend *be);

/* In every op, first: flags outside allowed are refused with -EINVAL and
 * one line of one shape, "sim backend: pause: unknown flags 0x4" (what is
 * the op's slot name). */
#define COLO_CHECK_FLAGS(be, flags, allowed, what)                             \
    do {                                                                       \
        unsigned colo_unknown_flags_ = (unsigned)(flags) & ~(unsigned)(allowed); \
        if (colo_unknown_flags_)                                               \
            return colo_backend_bad_flags((be), (what), colo_unknown_flags_);  \
    } while (0)
int colo_backend_bad_flags(colo_backend *be, const char *what, unsigned unknown);

/* The checked wrappers the engine calls. Each passes flags to its op. */
int colo_be_domain_open(colo_backend *be, const char *name, colo_dom **out,
                        unsigned flags);
void colo_be_domain_close(colo_backend *be, colo_dom *d);
int colo_be_domain_create(colo_backend *be, const struct colo_domain_config *cfg,
                          colo_dom **out, unsigned flags);
int colo_be_domain_config(colo_backend *be, colo_dom *d,
                          struct colo_domain_config *cfg, void **extra_owned,
                          unsigned flags);
int colo_be_domain_destroy(colo_backend *be, colo_dom *d, unsigned flags);
int colo_be_recover(colo_backend *be, colo_dom *d, unsigned flags);
int colo_be_domain_info(colo_backend *be, colo_dom *d,
                        struct colo_domain_info *info, unsigned flags);
int colo_be_pause(colo_backend *be, colo_dom *d, unsigned flags);
int colo_be_unpause(colo_backend *be, colo_dom *d, unsigned flags);
int colo_be_logdirty_enable(colo_backend *be, colo_dom *d, unsigned flags);
int colo_be_logdirty_off(colo_backend *be, colo_dom *d, unsigned flags);
int colo_be_logdirty_peek(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                          uint64_t nr_pages, uint64_t *count, unsigned flags);
int colo_be_logdirty_clean(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                           uint64_t nr_pages, uint64_t *count, unsigned flags);
int colo_be_map(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n,
                int prot, void **pages, int *err, colo_mapping **m,
                unsigned flags);
void colo_be_unmap(colo_backend *be, colo_dom *d, colo_mapping *m);
ssize_t colo_be_context_get(colo_backend *be, colo_dom *d, uint8_t **buf,
                            unsigned flags);
int colo_be_context_set(colo_backend *be, colo_dom *d, const uint8_t *buf,
                        size_t len, unsigned flags);
ssize_t colo_be_devstate_save(colo_backend *be, colo_dom *d, uint8_t **buf,
                              unsigned flags);
int colo_be_devstate_load(colo_backend *be, colo_dom *d, const uint8_t *buf,
                          size_t len, unsigned flags);
/* The backend's digest op, or the generic one (digest.c) through map(). */
int colo_be_digest(colo_backend *be, colo_dom *d, uint8_t out[32], unsigned flags);
int colo_be_populated(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                      uint64_t nr_pages, unsigned flags);

#endif
