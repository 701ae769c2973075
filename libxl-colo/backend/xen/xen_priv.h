/*
 * xen_priv.h - the xen backend's private state, shared by its files:
 *   backend_xen.c  the ops table, open and close, finding a domain, log-dirty
 *   xen_dom.c      domain info, name, PV drivers, a new colo_dom
 *   xen_map.c      map and unmap guest frames
 *   xen_stop.c     stop and restart at a checkpoint; a stop left by a killed
 *                  toolstack
 *   xen_state.c    context, device state, digest
 *   xen_domain.c   the secondary's domain: config, create, activate, destroy
 *   xen_dm.c       the secondary's device model at failover
 *   xen_qmp.c      QMP to the qemu-xen device model, on qmp/ (qmp/qmp.h)
 * Calls run one way: backend_xen.c calls the others; xen_stop, xen_state
 * and xen_domain call xen_dom, xen_map, xen_dm and xen_qmp (and xen_stop
 * calls xen_domain's activate); those four call no other xen file.
 */
#ifndef COLO_XEN_PRIV_H
#define COLO_XEN_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <libxl.h>
#include <libxl_utils.h>

#include "backend/backend.h"
#include "colo-internal.h"
#include "qmp/qmp.h"

struct xen_be {
    xc_interface *xch;
    xenforeignmemory_handle *fmem;
    struct xs_handle *xsh;
    libxl_ctx *lctx;         /* opened on first use: domain config/create/destroy */
    uint32_t suspend_timeout_ms;
    libxlcolo_xen_stop stop_mode; /* be->xen_stop */
};

/* What the domain is stopped by, right now, because of us. */
typedef enum {
    XEN_RUNNING = 0,
    XEN_PAUSED,              /* xc_domain_pause */
    XEN_SUSPENDED,           /* cooperative suspend: shut down with SHUTDOWN_suspend */
} xen_stop_state;

struct colo_dom {
    uint32_t domid;
    char name[64];
    colo_dom_type type;
    bool pv_drivers;         /* control/feature-suspend seen */
    bool has_dm;             /* HVM: a qemu-xen device model with QMP */
    bool created;            /* made by domain_create: a secondary */
    bool activated;          /* a created domain that was unpaused (failover) */
    bool gone;               /* destroyed through us */
    xen_stop_state stop;
    bool dm_stopped;         /* QMP "stop" sent by us */
    colo_qmp *qmp;           /* held from a checkpoint stop to its restart */
    bool logdirty;           /* enabled by us */
    char want_name[64];      /* a secondary's name to take at activation */
    char dm_pending[256];    /* a secondary's newest device state, for failover */
    uint64_t store_pfn, console_pfn; /* skipped by map(): each side's own rings */
    /* log-dirty bitmap in hypercall-safe memory */
    xc_hypercall_buffer_t bm;
    int bm_pages;            /* pages of bm */
    /* The last context got (primary) or set (secondary): what the digest
     * covers, since two reads of a stopped guest's timers differ. */
    uint8_t *last_ctx;
    size_t last_ctx_len;
    /* The pfns that held memory at the last digest, kept while max_gpfn and
     * the page count stay the same: walking 1M pfns costs seconds. */
    uint64_t *pop;
    uint64_t nr_pop, pop_max, pop_tot;
};

struct colo_mapping {
    void *addr;              /* xenforeignmemory_map of the frames that exist */
    unsigned n;
};

static inline struct xen_be *xen_be(colo_backend *be) { return be->priv; }

/* xen_domain.c */
int xen_libxl(colo_backend *be, libxl_ctx **out);
int xen_domain_config(colo_backend *be, colo_dom *d,
                      struct colo_domain_config *cfg, void **extra_owned,
                      unsigned flags);
int xen_domain_create(colo_backend *be, const struct colo_domain_config *cfg,
                      colo_dom **out, unsigned flags);
int xen_domain_destroy(colo_backend *be, colo_dom *d, unsigned flags);
int xen_domain_activate(colo_backend *be, colo_dom *d);

/* xen_dom.c */
struct xen_rawinfo {
    bool hvm, pvh, dying, shutdown, paused;
    unsigned shutdown_reason;
    uint64_t max_memkb;
    uint64_t tot_pages;
    unsigned max_vcpu_id;
    uint8_t uuid[16];   /* the domain handle */
};
int xen_getinfo(struct xen_be *x, uint32_t domid, struct xen_rawinfo *ri);
/* The domain's name in xenstore, "" if it has none. */
void xen_dom_name(struct xen_be *x, uint32_t domid, char *name, size_t len);
/* Does the guest answer control/shutdown = "suspend"? */
bool xen_detect_pv_drivers(struct xen_be *x, colo_dom *d);
/* Fill a colo_dom for a domain id (refuses PV). */
int xen_dom_new(colo_backend *be, uint32_t domid, colo_dom **out);

/* xen_map.c */
int xen_map(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n, int prot,
            void **pages, int *err, colo_mapping **m, unsigned flags);
void xen_unmap(colo_backend *be, colo_dom *d, colo_mapping *m);

/* xen_stop.c */
int xen_pause(colo_backend *be, colo_dom *d, unsigned flags);
int xen_unpause(colo_backend *be, colo_dom *d, unsigned flags);
/* Restart whatever we stopped, device model first. */
int xen_restart(colo_backend *be, colo_dom *d);
/* Restart a guest that a killed toolstack left stopped at a checkpoint. */
int xen_recover_stopped(colo_backend *be, colo_dom *d, unsigned flags);
/* A fence holds the domain (COLO_PAUSE_FENCE), by its mark in xenstore. */
bool xen_fenced(colo_backend *be, colo_dom *d);

/* Exported by libxenctrl (libxenguest's save stream uses it) but not
 * declared in xenctrl.h. */
int xc_get_pfn_type_batch(xc_interface *xch, uint32_t dom, unsigned int num, xen_pfn_t *arr);

/* xen_state.c: the context, device-state, digest and populated ops */
ssize_t xen_context_get(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags);
int xen_context_set(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                    unsigned flags);
ssize_t xen_devstate_save(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags);
int xen_devstate_load(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                      unsigned flags);
int xen_digest(colo_backend *be, colo_dom *d, uint8_t out[32], unsigned flags);
int xen_populated(colo_backend *be, colo_dom *d, unsigned long *bitmap, uint64_t nr_pages,
                  unsigned flags);

/* xen_state.c: where device-model state files go */
void dm_state_path(colo_backend *be, colo_dom *d, const char *what, char *path, size_t len);

/* xen_dm.c: restart a secondary's device model from its saved state. */
int xen_dm_restart_incoming(colo_backend *be, colo_dom *d, const char *state_file);

/* xen_qmp.c: QMP on /var/run/xen/qmp-libxl-DOMID, through qmp/. args is
 * the text of a JSON object or NULL. Each returns 0, or -errno with one log
 * line naming the domain and the command (a QMP error reply is -EREMOTEIO,
 * its class and desc in the line). xen_qmp connects for one command. */
int xen_qmp(colo_backend *be, uint32_t domid, const char *cmd, const char *args);
int xen_qmp_open(colo_backend *be, uint32_t domid, colo_qmp **out);
int xen_qmp_cmd(colo_backend *be, colo_qmp *q, const char *cmd, const char *args);
void xen_qmp_close(colo_qmp *q);
/* One command to d's device model, on the connection a checkpoint stop
 * holds if there is one: QEMU serves a single QMP client at a time. */
int xen_dm_qmp(colo_backend *be, colo_dom *d, const char *cmd, const char *args);

#endif
