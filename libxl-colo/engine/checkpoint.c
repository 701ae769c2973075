/*
 * checkpoint.c - one checkpoint on the primary, QEMU COLO's exchange:
 * REQUEST -> REPLY, stop and capture, restart, VMSTATE_SEND ... SIZE ->
 * RECEIVED (the epoch is committed: its output may go) -> LOADED.
 */
#include "config.h"

#include <string.h>

#include "engine/primary.h"

int colo_primary_checkpoint(colo_primary *p, unsigned long *extra)
{
    uint64_t epoch = p->st.checkpoints == 0 && extra ? 0 : p->st.epoch + 1;
    uint64_t t0 = colo_now_ns(), bytes = 0;
    int r;

    if (extra == NULL || epoch != 0) {
        r = colo_link_send_epoch(p->s, COLO_REC_CHECKPOINT_REQUEST, epoch);
        if (r < 0)
            return r;
        r = colo_link_expect_epoch(p->ctx, p->s, COLO_REC_CHECKPOINT_REPLY, epoch, colo_primary_timeout_ms(p));
        if (r < 0)
            return r;
    }
    r = colo_capture_checkpoint(p, extra);
    if (r < 0)
        return r;
    r = colo_capture_send(p, epoch, &bytes);
    if (r < 0)
        return r;
    r = colo_link_expect_epoch(p->ctx, p->s, COLO_REC_VMSTATE_RECEIVED, epoch, colo_primary_timeout_ms(p));
    if (r < 0)
        return r;

    /* Committed: the secondary holds the whole epoch. */
    uint64_t total = colo_now_ns() - t0;
    p->st.epoch = epoch;
    p->st.checkpoints++;
    p->st.last_pause_ns = p->cap.pause_ns;
    p->st.last_pages = p->cap.count;
    libxlcolo_event ev = {
        .type = LIBXLCOLO_EVENT_CHECKPOINT,
        .role = LIBXLCOLO_ROLE_PRIMARY,
        .state = p->st.state,
        .epoch = epoch,
        .pages = p->cap.count,
        .bytes = bytes,
        .pause_ns = p->cap.pause_ns,
        .verify_ns = p->cap.verify_ns,
        .stop_ns = p->cap.stop_ns,
        .copy_ns = p->cap.copy_ns,
        .state_ns = p->cap.state_ns,
        .total_ns = total,
        .has_digest = p->cap.has_digest,
    };
    memcpy(ev.digest, p->cap.digest, sizeof(ev.digest));
    colo_emit(p->ctx, &ev);
    if (p->waiting_client >= 0) {
        colo_control_reply_ok(p->ctl, p->waiting_client, epoch);
        p->waiting_client = -1;
    }
    r = colo_link_expect_epoch(p->ctx, p->s, COLO_REC_VMSTATE_LOADED, epoch, colo_primary_timeout_ms(p));
    if (r < 0)
        return r;
    p->last_rx_ns = colo_now_ns();
    return 0;
}
