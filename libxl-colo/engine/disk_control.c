/* disk_control.c - the control socket's set-replication (disk_control.h). */
#include "config.h"

#include "engine/disk_control.h"

void colo_control_set_replication(libxlcolo_ctx *ctx, colo_control *ctl, int client_fd,
                                  colo_disks *disks, const colo_ctl_request *req,
                                  uint64_t epoch)
{
    if (colo_disks_count(disks) == 0) {
        colo_control_reply_error(ctl, client_fd, ENODEV,
                                 "this protection has no replicated disk");
        return;
    }
    ctx->last_logged[0] = '\0';
    int r = colo_disks_set_replication(disks, req->disk[0] ? req->disk : NULL, req->enable,
                                       req->primary, req->failover);
    if (r < 0)
        colo_control_reply_error(ctl, client_fd, r, ctx->last_logged);
    else
        colo_control_reply_ok(ctl, client_fd, epoch);
}
