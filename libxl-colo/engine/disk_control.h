/*
 * disk_control.h - the control socket's set-replication, for either role:
 * the protection holds each disk's QMP connection (QEMU serves one client
 * at a time), so an operator's xen-set-replication goes through it.
 */
#ifndef COLO_ENGINE_DISK_CONTROL_H
#define COLO_ENGINE_DISK_CONTROL_H

#include "block/disks.h"
#include "control/control.h"

/* Run req (COLO_CTL_SET_REPLICATION) on disks and answer client_fd: ok
 * with the epoch, or the failure's own line (QEMU's words when QEMU
 * refused). */
void colo_control_set_replication(libxlcolo_ctx *ctx, colo_control *ctl, int client_fd,
                                  colo_disks *disks, const colo_ctl_request *req,
                                  uint64_t epoch);

#endif
