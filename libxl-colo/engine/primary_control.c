/*
 * primary_control.c - the primary's state changes, and its answers to the
 * control socket (status, checkpoint, failover, stop) and to a stop asked
 * in-process (libxlcolo_request_stop). What a request asks is left in
 * colo_primary for the loops of primary.c and precopy_run.c.
 */
#include "config.h"

#include <poll.h>

#include "engine/disk_control.h"
#include "engine/primary.h"

void colo_primary_set_state(colo_primary *p, libxlcolo_state state)
{
    if (p->st.state == state)
        return;
    p->st.state = state;
    colo_emit_state(p->ctx, LIBXLCOLO_ROLE_PRIMARY, state, p->st.epoch);
}

static void primary_fill_status(colo_primary *p)
{
    p->st.failover = colo_failover_get(&p->fo);
    colo_disks_status(p->disks, &p->st);
    colo_own_status(&p->own, &p->st);
    colo_nic_status(p->nic, p->st.proxy, sizeof(p->st.proxy));
}

/* One control request; what it asks is left in p for the loops. */
void colo_primary_control(colo_primary *p)
{
    colo_ctl_request req;
    int cfd = colo_control_accept(p->ctl, &req);
    if (cfd < 0)
        return;
    switch (req.cmd) {
    case COLO_CTL_STATUS:
        primary_fill_status(p);
        colo_control_reply_status(p->ctl, cfd, &p->st);
        break;
    case COLO_CTL_CHECKPOINT:
        if (!p->s) {
            colo_control_reply_error(p->ctl, cfd, ENOTCONN, "no checkpoint: the secondary is "
                                     "lost");
            break;
        }
        if (p->waiting_client >= 0) {
            colo_control_reply_error(p->ctl, cfd, EBUSY, "a checkpoint request is already waiting");
            break;
        }
        /* Answered when the checkpoint commits (epoch 0 during the sync). */
        p->waiting_client = cfd;
        p->want_ckpt = true;
        break;
    case COLO_CTL_FAILOVER:
        p->failover_asked = true;
        colo_control_reply_ok(p->ctl, cfd, p->st.epoch);
        break;
    case COLO_CTL_STOP:
        p->stop = true;
        colo_control_reply_ok(p->ctl, cfd, p->st.epoch);
        break;
    case COLO_CTL_SET_REPLICATION:
        colo_control_set_replication(p->ctx, p->ctl, cfd, p->disks, &req, p->st.epoch);
        break;
    }
}

void colo_primary_poll_control(colo_primary *p)
{
    struct pollfd pfd = { .fd = colo_control_fd(p->ctl), .events = POLLIN };
    if (poll(&pfd, 1, 0) == 1)
        colo_primary_control(p);
    if (colo_stop_requested(p->ctx, false))
        p->stop = true; /* libxlcolo_request_stop(): as the socket's stop */
}
