/* disks.c - a protection's replicated disks, as one (disks.h). */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "block/disks.h"
#include "block/replication.h"
#include "block/sidecar.h"
#include "colo-internal.h"

/* A secondary's failover commits its active disk: bounded by this. */
#define DISK_FAILOVER_MS 30000

/* What the protection knows of a disk's replication: what it set running,
 * or what an operator's set-replication or a failover made of it. */
enum disk_rep {
    DISK_REPLICATING = 0,
    DISK_UNSTARTED,     /* a secondary's, to start at the first checkpoint */
    DISK_STOPPED,       /* set-replication --disable, with or without --failover */
    DISK_FAILED_OVER,   /* the protection's own failover is done */
};

struct colo_disk {
    char name[32];
    colo_qmp *q;
    enum disk_rep rep;
};

struct colo_disks {
    libxlcolo_ctx *ctx;
    libxlcolo_role role;
    unsigned n;
    struct colo_disk disk[LIBXLCOLO_DISKS_MAX];
};

/* The replication of one disk runs, in the role asked. A secondary's that
 * has not started (a disk-serve sidecar's: the primary's initial sync
 * wrote straight into its copy) starts at the first checkpoint, while the
 * primary's guest is stopped: QEMU 7.2 empties the hidden disk as it
 * starts, and a primary write meanwhile aborts it ("First cluster in
 * emptied image is in use", seen in t0166). One that runs already
 * (started by hand, or by a test's own pair) is taken as it is. */
static int check_running(colo_disks *d, struct colo_disk *k)
{
    colo_rep_status st;
    int r = colo_rep_status_read(k->q, &st);

    if (r < 0)
        return r;
    if (d->role == LIBXLCOLO_ROLE_SECONDARY) {
        k->rep = st.error ? DISK_UNSTARTED : DISK_REPLICATING;
        return 0;
    }
    if (st.error)
        return LOG_ERRNO(d->ctx, -EIO, "disk %s: its replication does not run: %s (start it "
                         "first: the secondary, then the primary)", k->name, st.desc);
    if (d->role == LIBXLCOLO_ROLE_PRIMARY && !colo_rep_primary_running(k->q, COLO_SIDECAR_CLIENT))
        return LOG_ERRNO(d->ctx, -EIO, "disk %s: no replication client in its graph: the "
                         "primary's replication does not run", k->name);
    return 0;
}

int colo_disks_open(libxlcolo_ctx *ctx, const libxlcolo_options *opt, libxlcolo_role role,
                    colo_disks **out)
{
    *out = NULL;
    if (opt->nr_disks == 0)
        return 0;
    if (opt->nr_disks > LIBXLCOLO_DISKS_MAX || !opt->disks)
        return LOG_ERRNO(ctx, -EINVAL, "%u disks: at most %d", opt->nr_disks,
                         LIBXLCOLO_DISKS_MAX);
    colo_disks *d = calloc(1, sizeof(*d));
    if (!d)
        return LOG_ERRNO(ctx, -ENOMEM, "disks: out of memory");
    d->ctx = ctx;
    d->role = role;
    int r = 0;
    for (unsigned i = 0; i < opt->nr_disks; i++) {
        const libxlcolo_disk *o = &opt->disks[i];
        struct colo_disk *k = &d->disk[i];
        if (!colo_name_valid(o->name, LIBXLCOLO_DISK_NAME_MAX)) {
            r = LOG_ERRNO(ctx, -EINVAL, "disk '%s': not a disk name ([A-Za-z0-9_.-], 1 to 31 "
                          "characters)", o->name ? o->name : "");
            break;
        }
        for (unsigned j = 0; j < i; j++)
            if (strcmp(d->disk[j].name, o->name) == 0)
                r = LOG_ERRNO(ctx, -EINVAL, "disk %s: named twice", o->name);
        if (r < 0)
            break;
        /* No socket named: libxlcolo_disk_serve's, in the run directory. */
        char qmp[256];
        if (o->qmp && o->qmp[0])
            snprintf(qmp, sizeof(qmp), "%s", o->qmp);
        else if (snprintf(qmp, sizeof(qmp), "%s/" LIBXLCOLO_DISK_DIR "/%s/qmp.sock",
                          opt->run_dir ? opt->run_dir : libxlcolo_default_run_dir(),
                          o->name) >= (int)sizeof(qmp)) {
            r = LOG_ERRNO(ctx, -ENAMETOOLONG, "disk %s: the run directory's path is too long",
                          o->name);
            break;
        }
        snprintf(k->name, sizeof(k->name), "%s", o->name);
        char label[48];
        snprintf(label, sizeof(label), "disk %s", o->name);
        d->n = i + 1;
        if ((r = colo_qmp_connect(ctx, qmp, label, COLO_QMP_TIMEOUT_MS, 0, &k->q)) < 0 ||
            (r = check_running(d, k)) < 0)
            break;
    }
    if (r < 0) {
        colo_disks_close(d);
        return r;
    }
    *out = d;
    return 0;
}

void colo_disks_close(colo_disks *d)
{
    if (!d)
        return;
    for (unsigned i = 0; i < d->n; i++)
        colo_qmp_close(d->disk[i].q);
    free(d);
}

/* QEMU ignores a checkpoint of a replication that is stopped or failed
 * over and its status then reads clean: what the protection knows says it. */
static int check_replicating(colo_disks *d, const struct colo_disk *k)
{
    if (k->rep == DISK_REPLICATING || k->rep == DISK_UNSTARTED)
        return 0;
    return LOG_ERRNO(d->ctx, -ENOLINK, "disk %s: its replication %s: the checkpoint cannot "
                     "include it", k->name, k->rep == DISK_STOPPED
                                                ? "was stopped (set-replication --disable)"
                                                : "has failed over");
}

int colo_disks_checkpoint(colo_disks *d, uint64_t epoch)
{
    (void)epoch;  /* the engine's line names the epoch; the disk's names the cause */
    for (unsigned i = 0; d && i < d->n; i++) {
        struct colo_disk *k = &d->disk[i];
        int r = check_replicating(d, k);
        if (r < 0)
            return r;
        /* A start is a checkpoint too: QEMU empties both buffers. */
        if (k->rep == DISK_UNSTARTED) {
            if ((r = colo_rep_secondary_enable(k->q)) < 0)
                return r;
            k->rep = DISK_REPLICATING;
            LOG(d->ctx, INFO, "disk %s: replication started", k->name);
            continue;
        }
        r = colo_rep_checkpoint(k->q);
        if (r < 0)
            return r;
    }
    return 0;
}

int colo_disks_failover(colo_disks *d)
{
    int first = 0;
    for (unsigned i = 0; d && i < d->n; i++) {
        struct colo_disk *k = &d->disk[i];
        if (k->rep == DISK_FAILED_OVER)
            continue;
        /* Stopped by an operator, a secondary's disk took the primary's
         * writes past the last checkpoint: it is no checkpoint's. (A
         * primary's goes on alone, its replication child removed.) */
        if (k->rep == DISK_UNSTARTED) {
            first = first ? first : LOG_ERRNO(d->ctx, -ENOLINK, "disk %s: its replication "
                                              "never started: it holds no checkpoint",
                                              k->name);
            continue;
        }
        if (k->rep == DISK_STOPPED && d->role == LIBXLCOLO_ROLE_SECONDARY) {
            first = first ? first : LOG_ERRNO(d->ctx, -ENOLINK, "disk %s: its replication "
                                              "was stopped (set-replication --disable): it "
                                              "holds no checkpoint", k->name);
            continue;
        }
        int r = d->role == LIBXLCOLO_ROLE_SECONDARY
                    ? colo_rep_failover_secondary(k->q, COLO_SIDECAR_EXPORT_REP,
                                                  DISK_FAILOVER_MS)
                    : colo_rep_failover_primary(k->q, COLO_SIDECAR_CLIENT);
        if (r < 0) {
            first = first ? first : r;
            continue;
        }
        k->rep = DISK_FAILED_OVER;
        LOG(d->ctx, WARN, "disk %s: failed over (%s)", k->name,
            d->role == LIBXLCOLO_ROLE_SECONDARY ? "the last checkpoint, and this side's "
                                                  "writes from now on"
                                                : "the primary's disk goes on alone");
    }
    return first;
}

int colo_disks_stop(colo_disks *d)
{
    int first = 0;
    if (!d || d->role != LIBXLCOLO_ROLE_PRIMARY)
        return 0;
    for (unsigned i = 0; i < d->n; i++) {
        struct colo_disk *k = &d->disk[i];
        if (k->rep == DISK_FAILED_OVER)
            continue;
        /* Stopped already, QEMU refuses a plain stop: the failover's
         * sequence (its stop ignores errors) removes the client. */
        int r = k->rep == DISK_STOPPED ? colo_rep_failover_primary(k->q, COLO_SIDECAR_CLIENT)
                                       : colo_rep_stop_primary(k->q, COLO_SIDECAR_CLIENT);
        if (r < 0 && !first)
            first = r;
    }
    return first;
}

void colo_disks_status(colo_disks *d, libxlcolo_status *st)
{
    st->nr_disks = 0;
    for (unsigned i = 0; d && i < d->n; i++) {
        struct colo_disk *k = &d->disk[i];
        libxlcolo_disk_status *ds = &st->disks[st->nr_disks++];
        colo_rep_status rs;
        snprintf(ds->name, sizeof(ds->name), "%s", k->name);
        if (k->rep == DISK_STOPPED || k->rep == DISK_UNSTARTED) {
            ds->error = true;
            snprintf(ds->desc, sizeof(ds->desc), "%s", k->rep == DISK_STOPPED
                     ? "replication stopped by set-replication"
                     : "its replication starts with the first checkpoint");
            continue;
        }
        if (colo_qmp_broken(k->q) || colo_rep_status_read(k->q, &rs) < 0) {
            ds->error = true;
            snprintf(ds->desc, sizeof(ds->desc), "its QEMU does not answer");
            continue;
        }
        ds->error = rs.error;
        snprintf(ds->desc, sizeof(ds->desc), "%.*s", (int)sizeof(ds->desc) - 1, rs.desc);
    }
}

int colo_disks_set_replication(colo_disks *d, const char *name, bool enable, bool primary,
                               bool failover)
{
    unsigned done = 0;
    if (!d)
        return -ENODEV;
    for (unsigned i = 0; i < d->n; i++) {
        struct colo_disk *k = &d->disk[i];
        if (name && strcmp(name, k->name) != 0)
            continue;
        done++;
        int r = colo_rep_set(k->q, enable, primary, failover);
        if (r < 0)
            return r;
        /* QEMU starts a replication once: an enable that succeeded was
         * this disk's first start (a secondary's not yet started), or the
         * protection's open checked it. */
        if (!enable)
            k->rep = DISK_STOPPED;
        else if (k->rep == DISK_UNSTARTED)
            k->rep = DISK_REPLICATING;
        LOG(d->ctx, WARN, "disk %s: xen-set-replication enable=%s primary=%s%s done by the "
            "operator", k->name, enable ? "true" : "false", primary ? "true" : "false",
            failover ? " failover=true" : "");
    }
    if (done == 0)
        return LOG_ERRNO(d->ctx, -ENOENT, "no disk %s in this protection", name);
    return 0;
}

unsigned colo_disks_count(const colo_disks *d)
{
    return d ? d->n : 0;
}
