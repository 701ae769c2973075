/*
 * disks.h - a protection's replicated disks (libxlcolo_options.disks), one
 * QMP connection each, held for the protection's life, and what the engine
 * asks of them as one: open (the replication must already run),
 * checkpoint, failover, the primary's clean stop.
 *
 * Every call logs its failure once, naming the disk, and returns -errno.
 * No disks at all is a valid, empty set: every call is then a no-op.
 */
#ifndef COLO_BLOCK_DISKS_H
#define COLO_BLOCK_DISKS_H

#include <stdbool.h>
#include <stdint.h>

#include "libxlcolo.h"

typedef struct colo_disks colo_disks;

/* Connect to each disk's QEMU and check that its replication runs in the
 * role asked: a primary's status reads no error and its replication client
 * is in its graph. A secondary's that has not started (a disk-serve
 * secondary's) starts at the first checkpoint, the primary's guest
 * stopped. *out is NULL when opt has no disks. */
int colo_disks_open(libxlcolo_ctx *ctx, const libxlcolo_options *opt, libxlcolo_role role,
                    colo_disks **out);
void colo_disks_close(colo_disks *d);

/* The disk part of checkpoint EPOCH: every disk, in order; the first
 * failure fails it (its line names the disk and QEMU's cause). */
int colo_disks_checkpoint(colo_disks *d, uint64_t epoch);

/* Failover: on a secondary, the primary is gone (the disks become the
 * last checkpoint plus nothing after it); on a primary, the secondary is
 * (the disks go on alone). Every disk is tried; the first error is
 * returned. */
int colo_disks_failover(colo_disks *d);

/* The primary's clean stop: replication off, the guest's disks go on with
 * their local images. A secondary has nothing to do. */
int colo_disks_stop(colo_disks *d);

/* Each disk's replication status into st->disks (st->nr_disks of them):
 * QEMU's error and description, or an error when its QEMU does not
 * answer (that failure is logged once, by qmp/). */
void colo_disks_status(colo_disks *d, libxlcolo_status *st);

/* An operator's xen-set-replication (libxlcolo_set_replication) on the
 * disk NAME, or on every disk when NAME is NULL, stopping at the first
 * that fails. QEMU's refusals come back as QEMU words them. A disk so
 * stopped is no longer replicated: every later checkpoint fails on it
 * (-ENOLINK); a primary's failover still removes its replication child,
 * and a secondary's refuses it (the primary's writes went on reaching it
 * past the last checkpoint). -ENOENT: no disk NAME (logged); -ENODEV: no
 * disks at all (not logged: the caller says it). */
int colo_disks_set_replication(colo_disks *d, const char *name, bool enable, bool primary,
                               bool failover);

unsigned colo_disks_count(const colo_disks *d);

#endif
