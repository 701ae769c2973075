/*
 * sidecar.h - the replication sidecar: one `qemu-system-x86_64 -M none`
 * per replicated disk, which holds the disk's quorum/replication graph
 * (block/replication.h) and serves its top node over NBD. The guest's disk
 * is that export: Debian's Xen device model has no replication driver,
 * Debian's plain QEMU does.
 *
 * Everything of one sidecar lives in its private directory DIR (mode
 * 0700, made here; its parent must exist):
 *   DIR/qmp.sock       its QMP monitor (the socket is made here and passed
 *                      to QEMU as a listening fd, so it exists before QEMU
 *                      runs and there is no window to poll for)
 *   DIR/nbd.sock       its NBD server: export "guest" (the guest's disk),
 *                      and on a secondary "replication" (what the
 *                      primary's sidecar writes to)
 *   DIR/qemu.pid       its pid, for the recovery below
 *   DIR/qemu.log       QEMU's stdout and stderr
 *   DIR/active.qcow2, DIR/hidden.qcow2   a secondary's buffers
 *
 * Its life is tied to its caller's: QEMU runs with PR_SET_PDEATHSIG
 * (SIGKILL) of the thread that started it, so a SIGKILL of xl-colo takes
 * its sidecars with it; and colo_sidecar_start() first kills what a
 * crashed earlier run may have left in DIR (a pid in DIR/qemu.pid whose
 * command line names DIR), as the checkpoint stop does for its own.
 * The caller watches colo_sidecar_watch_fd(): readable (EOF) means QEMU
 * died, which colo_sidecar_check() then reports in one line.
 */
#ifndef COLO_BLOCK_SIDECAR_H
#define COLO_BLOCK_SIDECAR_H

#include <stdbool.h>
#include <sys/types.h>

#include "block/replication.h"
#include "libxlcolo.h"
#include "qmp/qmp.h"

/* The sidecar's names for its graph. */
#define COLO_SIDECAR_DISK "colo-disk"        /* primary: the quorum's drive; secondary: the copy */
#define COLO_SIDECAR_QUORUM "colo-quorum"    /* primary: the quorum's node */
#define COLO_SIDECAR_SYNC "colo-sync"        /* primary: the initial sync's target and job */
#define COLO_SIDECAR_TOP "colo-top"          /* secondary: the quorum over replication */
#define COLO_SIDECAR_REP "colo-rep"          /* secondary: the replication node */
#define COLO_SIDECAR_CLIENT "colo-rep-client" /* primary: replication -> nbd */
#define COLO_SIDECAR_EXPORT_GUEST "guest"
#define COLO_SIDECAR_EXPORT_REP "replication"

#define COLO_SIDECAR_QEMU "/usr/bin/qemu-system-x86_64"
/* Start-up (QEMU's QMP greeting, qemu-img) and stop are bounded by this. */
#define COLO_SIDECAR_TIMEOUT_MS 20000

typedef struct colo_sidecar colo_sidecar;

typedef struct {
    libxlcolo_role role;
    const char *name;      /* the disk's name, in log lines: [A-Za-z0-9_.-]{1,31} */
    const char *image;     /* the local raw image: the primary's disk, the secondary's copy */
    const char *dir;       /* the private directory */
    const char *qemu;      /* NULL: COLO_SIDECAR_QEMU */
    const char *qemu_img;  /* NULL: qemu-img from PATH */
} colo_sidecar_spec;

/* Start the sidecar: recover DIR, make a secondary's buffers, run QEMU,
 * connect to its QMP and start its NBD server with the "guest" export.
 * 0, or -errno with one line naming the disk and the cause (QEMU's last
 * output line when it exited). */
int colo_sidecar_start(libxlcolo_ctx *ctx, const colo_sidecar_spec *spec,
                       colo_sidecar **out);

/* Quit QEMU (QMP quit, then SIGKILL when it does not exit in time), reap
 * it, remove DIR's files and DIR. Takes NULL. */
void colo_sidecar_stop(colo_sidecar *sc);
static inline void colo_sidecar_stopp(colo_sidecar **sc) { colo_sidecar_stop(*sc); }
#define _cleanup_sidecar_ _cleanup_(colo_sidecar_stopp)

/* Close the QMP connection, so that another process can connect: QEMU
 * serves one QMP client at a time. colo_sidecar_qmp() is NULL after. */
void colo_sidecar_release_qmp(colo_sidecar *sc);

/* 0 while QEMU runs; -ESRCH once it has died, logged once ("disk NAME:
 * sidecar (pid P) died: killed by signal 9"). */
int colo_sidecar_check(colo_sidecar *sc);

int colo_sidecar_watch_fd(const colo_sidecar *sc);
pid_t colo_sidecar_pid(const colo_sidecar *sc);
colo_qmp *colo_sidecar_qmp(colo_sidecar *sc);
const char *colo_sidecar_name(const colo_sidecar *sc);
libxlcolo_role colo_sidecar_role(const colo_sidecar *sc);
/* DIR/nbd.sock. */
const colo_rep_addr *colo_sidecar_nbd(const colo_sidecar *sc);

#endif
