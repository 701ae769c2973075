/*
 * replication.h - QEMU's block replication, driven over QMP: the
 * commands of each role, in the order QEMU needs them, on a connection
 * of qmp/ to a QEMU that holds the disk's graph (a sidecar of
 * block/sidecar.c, or a device model built with replication).
 *
 * The graph (DESIGN.md §5, ../shared/qemu-colo/rep_demo.py):
 *   primary    DISK = quorum(children.0 = the local image)
 *              + CLIENT = replication(mode primary, file = nbd -> secondary),
 *              added as the quorum's next child
 *   secondary  DISK = the local copy, exported over NBD as EXPORT;
 *              replication(mode secondary, active -> hidden -> DISK)
 *              under TOP = quorum, which is what the secondary guest uses
 *
 * Every function returns 0 or -errno and logs its failure once, naming
 * the command and QEMU's description; a QMP error reply is -EREMOTEIO.
 * The replication status's error is always read: a checkpoint or a start
 * after which QEMU reports an error has failed (-EIO), with QEMU's
 * description in the line.
 */
#ifndef COLO_BLOCK_REPLICATION_H
#define COLO_BLOCK_REPLICATION_H

#include <stdbool.h>

#include "qmp/qmp.h"

/* Node names and ids: QEMU's own bound is 32 bytes. */
#define COLO_REP_NAME_MAX 32

/* query-xen-replication-status. */
typedef struct {
    bool error;
    char desc[256];   /* QEMU's description when error, else "" */
} colo_rep_status;

/* Where the secondary's NBD server is: a unix socket path. */
typedef struct {
    char path[108];
} colo_rep_addr;

/* Read the status. -EBADMSG (logged) when the reply is not
 * {"error": bool, "desc"?: string}. */
int colo_rep_status_read(colo_qmp *q, colo_rep_status *st);

/* xen-set-replication. The combinations QEMU refuses are refused here
 * first, with QEMU's words (failover only when stopping), so that a
 * misuse costs no round trip and reads the same either way. */
int colo_rep_set(colo_qmp *q, bool enable, bool primary, bool failover);

/* Secondary: on its NBD server (the caller's: a sidecar starts its own),
 * export DISK as EXPORT, writable, then start replication; the status
 * must then read no error. */
int colo_rep_secondary_start(colo_qmp *q, const char *disk, const char *export_name);

/* Secondary, when its first sync is still to come: only the export. Its
 * replication starts later (colo_rep_secondary_enable), once the primary's
 * sync has written the whole disk straight into DISK: started before, every
 * block of the sync would be copied to the hidden disk as well. */
int colo_rep_secondary_export(colo_qmp *q, const char *disk, const char *export_name);

/* Secondary: start the replication of an exported disk; the status must
 * then read no error. */
int colo_rep_secondary_enable(colo_qmp *q);

/* The primary's first sync: the whole of DISK copied to the secondary's
 * EXPORT at addr, as QEMU's COLO does it (docs/COLO-FT.txt: drive-mirror
 * before replication starts), with blockdev-mirror (sync full, copy-mode
 * write-blocking: once the job is ready, every guest write completes on
 * both sides) to a node NODE of its own, which is also the job's id.
 *   sync_start   blockdev-add NODE (nbd), blockdev-mirror DISK -> NODE
 *   sync_poll    after waiting up to wait_ms for the job's state to change
 *                (its event), that state (query-jobs): its progress, ready,
 *                or its end with QEMU's error (-EIO, logged)
 *   sync_finish  once CLIENT replicates too (colo_rep_primary_start):
 *                block-job-cancel (a ready mirror ends in sync: QEMU's
 *                "point-in-time copy"), wait for it to conclude (bounded by
 *                timeout_ms), job-dismiss, blockdev-del NODE
 * A sync that fails leaves the job and NODE for the sidecar's end. */
typedef struct {
    uint64_t done, total;   /* bytes: QEMU's current and total progress */
    bool ready;             /* the target is in sync */
} colo_rep_sync;

int colo_rep_sync_start(colo_qmp *q, const colo_rep_addr *addr, const char *export_name,
                        const char *disk, const char *node);
int colo_rep_sync_poll(colo_qmp *q, const char *node, int wait_ms, colo_rep_sync *st);
int colo_rep_sync_finish(colo_qmp *q, const char *node, int timeout_ms);

/* Primary: add CLIENT (replication, mode primary, on nbd EXPORT at addr),
 * make it the new child of the quorum node DISK (a node name: a mirror's
 * filter may sit above it in its drive), start replication; the status must
 * then read no error. */
int colo_rep_primary_start(colo_qmp *q, const colo_rep_addr *addr, const char *export_name,
                           const char *disk, const char *client);

/* CLIENT is in the primary's graph, under a parent (QEMU's errors are
 * logged; its absence is not). */
bool colo_rep_primary_running(colo_qmp *q, const char *client);

/* xen-colo-do-checkpoint, then the status: -EIO when it reads an error. */
int colo_rep_checkpoint(colo_qmp *q);

/* Secondary failover (the primary is gone): cut the primary's NBD
 * connection (nbd-server-remove EXPORT, mode hard: the server goes on for
 * the guest's own export, where nbd-server-stop would end it), then
 * {enable:false, primary:false, failover:true}, then poll the status
 * until it reads no error: QEMU commits the active disk into DISK and
 * reads "I/O error" for some ms meanwhile. -ETIMEDOUT after timeout_ms. */
int colo_rep_failover_secondary(colo_qmp *q, const char *export_name, int timeout_ms);

/* Primary failover (the secondary is gone): {enable:false, primary:true,
 * failover:true}, then remove CLIENT from its quorum under the child name
 * the block graph gives (x-debug-query-block-graph), never an assumed
 * "children.1", then blockdev-del CLIENT. The status after reads clean. */
int colo_rep_failover_primary(colo_qmp *q, const char *client);

/* The primary's end of a protection both sides agreed on: {enable:false,
 * primary:true}, then CLIENT out as for a failover; the guest's disk goes
 * on with its local image alone. A secondary has no such stop: QEMU
 * refuses one without failover ("Backup job was cancelled unexpectedly"),
 * and its copy is of no use once the primary has stopped replicating, so
 * its sidecar just quits. */
int colo_rep_stop_primary(colo_qmp *q, const char *client);

#endif
