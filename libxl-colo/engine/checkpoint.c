/*
 * checkpoint.c - one checkpoint on the primary, QEMU COLO's exchange:
 * REQUEST -> REPLY, stop and capture, restart, the disks' checkpoint,
 * VMSTATE_SEND ... SIZE -> RECEIVED (the epoch is committed: its output may
 * go; the secondary sends it only once its disks, too, are checkpointed)
 * -> LOADED.
 */
#include "config.h"

#include <string.h>

#include "engine/primary.h"

/* Send the capture as checkpoint epoch: VMSTATE_SEND, the PAGES records,
 * CONTEXT, DEVSTATE, VMSTATE_SIZE. *bytes gets the bodies' total. */
static int checkpoint_send(colo_primary *p, uint64_t epoch, uint64_t *bytes)
{
    const struct colo_capture *c = &p->cap;
    int r = colo_link_send_epoch(p->s, COLO_REC_VMSTATE_SEND, epoch);
    if (r < 0)
        return r;
    int64_t sent = colo_pages_send(p->s, COLO_REC_F_NONE, c->pfns, c->data, c->count);
    if (sent < 0)
        return (int)sent;
    r = colo_stream_send_buf(p->s, COLO_REC_CONTEXT, 0, c->context, c->context_len);
    if (r < 0)
        return r;
    r = colo_stream_send_buf(p->s, COLO_REC_DEVSTATE, 0, c->devstate, c->devstate_len);
    if (r < 0)
        return r;
    uint64_t total = (uint64_t)sent + c->context_len + c->devstate_len;
    struct colo_wire_vmstate_size sz = {
        .epoch = epoch,
        .pages = c->count,
        .bytes = total,
        .flags = c->has_digest ? COLO_VMSTATE_F_DIGEST : 0,
        .generation = colo_own_generation(&p->own),
    };
    if (c->has_digest)
        memcpy(sz.digest, c->digest, sizeof(sz.digest));
    r = colo_stream_send_buf(p->s, COLO_REC_VMSTATE_SIZE, 0, &sz, sizeof(sz));
    if (r < 0)
        return r;
    *bytes = total;
    return 0;
}

int colo_primary_checkpoint(colo_primary *p, unsigned long *extra)
{
    uint64_t epoch = p->st.checkpoints == 0 && extra ? 0 : p->st.epoch + 1;
    uint64_t t0 = colo_now_ns(), bytes = 0;
    int r;

    p->ctx->last_logged[0] = '\0';  /* a failure below says its own cause */
    if (extra == NULL || epoch != 0) {
        r = colo_link_send_epoch(p->s, COLO_REC_CHECKPOINT_REQUEST, epoch);
        if (r < 0)
            return r;
        r = colo_link_expect_epoch(p->ctx, p->s, COLO_REC_CHECKPOINT_REPLY, epoch, colo_primary_timeout_ms(p));
        if (r < 0)
            return r;
    }
    /* With disks the guest stays stopped until the secondary has
     * checkpointed them (capture.h says why): RECEIVED restarts it. */
    bool hold = colo_disks_count(p->disks) > 0;
    /* Remus's output buffer ends the epoch while the guest is stopped:
     * nothing it sends after its restart can fall before the barrier. */
    bool buffered = colo_nic_buffers(p->nic);
    r = colo_capture_take(p->be, p->dom, extra, p->opt->verify, hold || buffered, &p->buf,
                          &p->cap);
    /* A guest the capture could not restart is ours to restart at the end. */
    p->paused_by_us = p->cap.paused;
    if (r < 0)
        return r;
    uint64_t captured = colo_now_ns();
    if (buffered) {
        r = colo_nic_epoch_end(p->nic);
        if (r < 0) {
            p->nic_failed = true;
            return r;
        }
        if (!hold) {
            r = colo_be_unpause(p->be, p->dom, COLO_PAUSE_CHECKPOINT);
            if (r < 0)
                return r;
            p->paused_by_us = false;
            p->cap.pause_ns += colo_now_ns() - captured;
        }
    }
    /* The disks: QEMU's primary side keeps nothing per checkpoint, but its
     * status says whether its writes still reach the secondary; an error
     * fails the epoch, which the secondary then never acknowledges. */
    r = colo_disks_checkpoint(p->disks, epoch);
    if (r < 0) {
        p->disks_failed = true;
        return r;
    }
    r = checkpoint_send(p, epoch, &bytes);
    if (r < 0)
        return r;
    r = colo_link_expect_epoch(p->ctx, p->s, COLO_REC_VMSTATE_RECEIVED, epoch, colo_primary_timeout_ms(p));
    if (r < 0)
        return r;
    if (hold) {
        r = colo_be_unpause(p->be, p->dom, COLO_PAUSE_CHECKPOINT);
        if (r < 0)
            return r;
        p->paused_by_us = false;
        p->cap.pause_ns += colo_now_ns() - captured;
    }

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
    /* The secondary is a copy of this epoch: what the NIC held goes. */
    colo_nic_checkpoint_done(p->nic);
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
