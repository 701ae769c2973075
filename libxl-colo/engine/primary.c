/*
 * primary.c - libxlcolo_start(): protect a running domain.
 *
 * One thread, one poll loop (Redis's ae in miniature): the link, the control
 * socket and the checkpoint trigger. The initial sync is precopy_run.c, one
 * checkpoint is checkpoint.c, the answers to control requests are
 * primary_control.c; none of them calls back into this file.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "bitmap.h"
#include "engine/primary.h"

/* While the arbiter is asked again: control requests and a stop. */
static void primary_on_control(void *opaque)
{
    colo_primary_control(opaque);
}

static bool primary_idle(void *opaque, int ms)
{
    colo_primary *p = opaque;
    if (colo_own_idle_poll(p->ctx, p->ctl, ms, primary_on_control, p))
        p->stop = true;
    return !p->stop;
}

static void primary_on_fenced(void *opaque)
{
    colo_primary_set_state(opaque, LIBXLCOLO_STATE_FENCED);
}

/* The secondary is gone: go on alone once ownership is confirmed, and say
 * so. -ESTALE: ownership moved, the copy here is destroyed. */
static int primary_go_alone(colo_primary *p, const char *why)
{
    colo_failover_request(&p->fo, false);
    colo_failover_cas(&p->fo, LIBXLCOLO_FAILOVER_REQUIRE, LIBXLCOLO_FAILOVER_ACTIVE);
    if (!colo_own_enabled(&p->own))
        LOG(p->ctx, WARN, "secondary lost (%s): %s continues unprotected", why, p->info.name);
    libxlcolo_event ev = {
        .type = LIBXLCOLO_EVENT_PEER_LOST,
        .role = LIBXLCOLO_ROLE_PRIMARY,
        .epoch = p->st.epoch,
        .message = why,
    };
    colo_emit(p->ctx, &ev);
    colo_stream_free(p->s);
    p->s = NULL;
    /* The disks' writes must not wait on a secondary that is gone, nor
     * the guest's output on a comparison with nothing. */
    colo_disks_failover(p->disks);
    colo_nic_alone(p->nic);
    /* With an arbiter, alone only as the owner: the claim moves the
     * generation past the one the secondary's checkpoints carry. */
    int r = colo_own_primary_alone(&p->own, p->be, p->dom, primary_idle, p, primary_on_fenced);
    if (r == -ESTALE) {
        colo_be_domain_destroy(p->be, p->dom, 0);
        p->paused_by_us = false;
        p->logdirty_on = false;
        colo_primary_set_state(p, LIBXLCOLO_STATE_STOPPED);
        return r;
    }
    if (r < 0) {
        LOG(p->ctx, WARN, "stopped before ownership of %s was confirmed: it stays as the fence "
            "left it (paused if fenced)", p->info.name);
        return r;
    }
    if (colo_own_enabled(&p->own))
        LOG(p->ctx, WARN, "secondary lost (%s): %s continues unprotected at generation %" PRIu64,
            why, p->info.name, colo_own_generation(&p->own));
    colo_failover_cas(&p->fo, LIBXLCOLO_FAILOVER_ACTIVE, LIBXLCOLO_FAILOVER_COMPLETED);
    colo_primary_set_state(p, LIBXLCOLO_STATE_UNPROTECTED);
    return 0;
}

/* Alone with a NIC comparison: the guest's output still goes through
 * this process, so the process stays, answering control requests, until
 * it is stopped, the guest is gone or the comparison stops. */
static void primary_serve_alone(colo_primary *p)
{
    LOG(p->ctx, WARN, "%s runs alone: its NIC is served until `xl-colo stop %s`", p->info.name,
        p->info.name);
    while (!p->stop) {
        struct colo_domain_info info;
        if (colo_nic_check(p->nic) < 0) {
            LOG(p->ctx, ERROR, "the NIC comparison of %s has stopped", p->info.name);
            return;
        }
        if (colo_be_domain_info(p->be, p->dom, &info, 0) < 0 || info.shutdown) {
            LOG(p->ctx, WARN, "domain %s is gone: its NIC is no longer served", p->info.name);
            return;
        }
        struct pollfd fds[2] = {
            { .fd = colo_control_fd(p->ctl), .events = POLLIN },
            { .fd = p->ctx->stop_fd, .events = POLLIN },
        };
        int n = poll(fds, 2, 1000);
        if (colo_stop_requested(p->ctx, n > 0 && fds[1].revents))
            p->stop = true;
        if (n > 0 && fds[0].revents)
            colo_primary_control(p);
    }
}

/* Between checkpoints: wait for the next one, answer control requests,
 * keep the heartbeat. Returns 1 for "checkpoint now", 0 to stop, -errno
 * when the link failed. */
static int primary_wait(colo_primary *p)
{
    while (!p->want_ckpt && !p->stop && !p->failover_asked) {
        uint64_t now = colo_now_ns();
        if (now >= p->next_ckpt_ns)
            return 1;
        if (now - p->last_rx_ns > colo_ms_to_ns(p->opt->timeout_ms))
            return LOG_ERRNO(p->ctx, -ETIMEDOUT, "secondary silent for %u ms", p->opt->timeout_ms);
        /* Fenced, or the lease lost: the guest is paused here, so the
         * secondary is left to take over (the link closes without STOP). */
        if (colo_nic_check(p->nic) < 0) {
            p->nic_failed = true;
            return LOG_ERRNO(p->ctx, -EPIPE, "the NIC comparison of %s has stopped",
                             p->info.name);
        }
        if (colo_own_primary_at_risk(&p->own))
            return LOG_ERRNO(p->ctx, -ENOLCK, "the lease on %s was not renewed in time: the "
                             "secondary may take over", p->info.name);
        if (now >= p->next_hb_ns) {
            int r = colo_stream_send_buf(p->s, COLO_REC_HEARTBEAT, 0, NULL, 0);
            if (r < 0)
                return r;
            p->next_hb_ns = now + colo_ms_to_ns(p->opt->heartbeat_ms);
        }
        uint64_t until = MIN(p->next_ckpt_ns, p->next_hb_ns);
        int wait_ms = colo_ms_until(now, until);

        struct pollfd fds[5] = {
            { .fd = colo_stream_fd(p->s), .events = POLLIN },
            { .fd = colo_control_fd(p->ctl), .events = POLLIN },
            { .fd = p->ctx->trigger_fd, .events = POLLIN },
            { .fd = p->ctx->stop_fd, .events = POLLIN },
            { .fd = colo_own_fence_fd(&p->own), .events = POLLIN }, /* -1: none */
        };
        int n = poll(fds, 5, wait_ms);
        if (n < 0 && errno != EINTR)
            return LOG_ERRNO(p->ctx, negative_errno(), "poll");
        /* libxlcolo_request_stop(): the control socket's stop, in-process. */
        if (colo_stop_requested(p->ctx, n > 0 && fds[3].revents))
            p->stop = true;
        if (n <= 0)
            continue;
        if (fds[0].revents) {
            struct colo_rec_hdr h;
            int r = colo_stream_recv(p->s, &h, NULL, 0, colo_primary_timeout_ms(p));
            if (r < 0)
                return r;
            if (h.type != COLO_REC_HEARTBEAT)
                return LOG_ERRNO(p->ctx, -EPROTO, "unexpected %s from the secondary between checkpoints",
                                 colo_rec_type_name(h.type));
            p->last_rx_ns = colo_now_ns();
        }
        if (fds[1].revents)
            colo_primary_control(p);
        if (fds[2].revents) {
            uint64_t v;
            if (read(p->ctx->trigger_fd, &v, sizeof(v)) == sizeof(v))
                p->want_ckpt = true;
        }
        if (p->opt->dirty_bound && !p->want_ckpt) {
            uint64_t count = 0;
            if (colo_be_logdirty_peek(p->be, p->dom, NULL, p->info.nr_pages, &count, 0) == 0 &&
                count >= p->opt->dirty_bound)
                p->want_ckpt = true;
        }
    }
    return p->want_ckpt;
}

/* A NIC or disk that failed as its guest went away (a destroyed domain's
 * vif goes with it, and the datapath on it fails) is the guest gone, not
 * a fault to stop the secondary for: the secondary must take over. */
static int primary_fault_or_gone(colo_primary *p, int r)
{
    struct colo_domain_info info;

    if (r >= 0 || r == -ESRCH || !(p->disks_failed || p->nic_failed))
        return r;
    int q = colo_be_domain_info(p->be, p->dom, &info, 0);
    if (q == -ESRCH || (q == 0 && info.shutdown))
        return -ESRCH;
    return r;
}

static int primary_run(colo_primary *p)
{
    for (;;) {
        if (p->opt->max_checkpoints && p->st.checkpoints > p->opt->max_checkpoints)
            p->stop = true;
        int r = primary_wait(p);
        if (r < 0)
            return r;
        if (p->failover_asked || p->stop)
            return 0;
        p->want_ckpt = false;

        struct colo_domain_info info;
        r = colo_be_domain_info(p->be, p->dom, &info, 0);
        if (r == 0 && info.shutdown)
            r = -ESRCH;
        if (r < 0)
            return r;
        r = colo_primary_checkpoint(p, NULL);
        if (r < 0)
            return r;
        uint64_t now = colo_now_ns();
        p->next_ckpt_ns = now + colo_ms_to_ns(p->opt->interval_ms);
        p->next_hb_ns = now + colo_ms_to_ns(p->opt->heartbeat_ms);
    }
}

static int primary_send_config(colo_primary *p)
{
    struct colo_domain_config cfg = { 0 };
    _cleanup_free_ void *extra = NULL;
    int r = colo_be_domain_config(p->be, p->dom, &cfg, &extra, 0);
    if (r < 0)
        return r;

    struct colo_wire_domain_config w = {
        .type = cfg.type,
        .nr_vcpus = cfg.nr_vcpus,
        .nr_pages = cfg.nr_pages,
        .mem_bytes = cfg.mem_bytes,
        .mode = p->opt->mode,
        .interval_ms = p->opt->interval_ms,
        .heartbeat_ms = p->opt->heartbeat_ms,
        .timeout_ms = p->opt->timeout_ms,
        .extra_len = (uint32_t)cfg.extra_len,
        .generation = colo_own_generation(&p->own),
    };
    snprintf(w.name, sizeof(w.name), "%s", p->info.name);
    snprintf(w.uuid, sizeof(w.uuid), "%s", p->info.uuid);
    if (colo_own_enabled(&p->own))
        snprintf(w.owner, sizeof(w.owner), "%s", p->own.arb->host);
    snprintf(w.backend, sizeof(w.backend), "%s", p->be->ops->name);
    struct iovec iov[2] = {
        { &w, sizeof(w) },
        { (void *)cfg.extra, cfg.extra_len },
    };
    return colo_stream_send(p->s, COLO_REC_DOMAIN_CONFIG, 0, iov, cfg.extra_len ? 2 : 1);
}

static int primary_open_domain(colo_primary *p, const char *domain)
{
    int r = colo_be_domain_open(p->be, domain, &p->dom, 0);
    if (r < 0)
        return r;
    r = colo_be_domain_info(p->be, p->dom, &p->info, 0);
    if (r < 0)
        return r;
    if (p->info.type == COLO_DOM_PV)
        return LOG_ERRNO(p->ctx, -EOPNOTSUPP, "domain %s is PV: xen-colo needs HVM or PVH "
                         "(no log-dirty without shadow paging)", p->info.name);
    if (p->info.shutdown)
        return LOG_ERRNO(p->ctx, -ESRCH, "domain %s is shut down", p->info.name);
    if (p->info.nr_pages == 0 || p->info.nr_pages > COLO_MAX_NR_PAGES)
        return LOG_ERRNO(p->ctx, -EFBIG, "domain %s has %" PRIu64 " pages: xen-colo handles up to %llu",
                         p->info.name, p->info.nr_pages, COLO_MAX_NR_PAGES);
    p->queue = colo_bitmap_alloc(p->info.nr_pages);
    if (colo_capture_buf_init(&p->buf, p->info.nr_pages) < 0 || !p->queue)
        return -ENOMEM;
    return 0;
}

static int primary_setup(colo_primary *p, const char *domain, const char *host,
                         uint16_t port)
{
    struct colo_backend_params bp = colo_backend_params_of(p->opt);
    int r = colo_backend_open(p->ctx, &bp, 0, &p->be);
    if (r < 0)
        return r;
    r = primary_open_domain(p, domain);
    if (r < 0)
        return r;
    r = colo_disks_open(p->ctx, p->opt, LIBXLCOLO_ROLE_PRIMARY, &p->disks);
    if (r < 0)
        return r;
    r = colo_control_listen(p->ctx, p->be->run_dir, p->info.name, &p->ctl);
    if (r < 0)
        return r;
    if (p->opt->proxy) {
        r = colo_nic_start(p->ctx, p->opt->proxy, p->opt->mode, p->info.name, p->be->run_dir,
                           p->info.vif, &p->nic);
        if (r < 0)
            return r;
    }
    /* The domain's control socket is ours: now its ownership. */
    r = colo_own_open(p->ctx, p->opt, p->info.uuid, p->info.name, &p->own);
    if (r == 0)
        r = colo_own_primary_begin(&p->own, &bp, domain, p->be, p->dom);
    if (r < 0)
        return r;
    /* Ours alone now: a stop left by a killed protection is undone at once,
     * before we wait on the network for a secondary. */
    r = colo_be_recover(p->be, p->dom, 0);
    if (r < 0)
        return r;
    snprintf(p->st.domain, sizeof(p->st.domain), "%s", p->info.name);
    snprintf(p->st.backend, sizeof(p->st.backend), "%s", p->be->ops->name);
    snprintf(p->st.peer, sizeof(p->st.peer), "%s:%u", host, port);
    p->st.role = LIBXLCOLO_ROLE_PRIMARY;
    p->st.mode = p->opt->mode;
    p->st.pid = (int)getpid();

    r = colo_link_connect(p->ctx, host, port, p->opt, &p->s);
    if (r < 0)
        return r;
    r = primary_send_config(p);
    if (r < 0)
        return r;
    r = colo_be_logdirty_enable(p->be, p->dom, 0);
    if (r < 0)
        return r;
    p->logdirty_on = true;
    return 0;
}

static void primary_teardown(colo_primary *p, bool clean)
{
    if (p->waiting_client >= 0)
        colo_control_reply_error(p->ctl, p->waiting_client, ECANCELED, "protection ended");
    if (p->s && clean) {
        colo_stream_send_buf(p->s, COLO_REC_STOP, 0, NULL, 0);
        /* Wait (bounded) for the secondary to close, so it has read STOP. */
        struct colo_rec_hdr h;
        while (colo_stream_recv(p->s, &h, NULL, 0, colo_primary_timeout_ms(p)) == 0)
            ;
    }
    colo_stream_free(p->s);
    if (clean)
        colo_disks_stop(p->disks);
    colo_disks_close(p->disks);
    colo_nic_stop(p->nic);
    if (p->dom) {
        if (p->paused_by_us)
            colo_be_unpause(p->be, p->dom, COLO_PAUSE_CHECKPOINT);
        if (p->logdirty_on)
            colo_be_logdirty_off(p->be, p->dom, 0);
        colo_be_domain_close(p->be, p->dom);
    }
    colo_own_close(&p->own, true);
    colo_control_free(p->ctl);
    colo_backend_close(p->be);
    colo_capture_free(&p->cap);
    colo_capture_buf_free(&p->buf);
    free(p->queue);
}

int libxlcolo_start(libxlcolo_ctx *ctx, const char *domain, const char *host,
                    uint16_t port, const libxlcolo_options *opt)
{
    if (!ctx || !domain || !host || !opt || port == 0)
        return -EINVAL;
    if (!opt->key_file && !opt->insecure)
        return LOG_ERRNO(ctx, -EINVAL, "a key file is required (or insecure mode)");
    if (opt->interval_ms == 0 || opt->heartbeat_ms == 0 || opt->timeout_ms <= opt->heartbeat_ms)
        return LOG_ERRNO(ctx, -EINVAL, "interval and heartbeat must be > 0 and timeout > heartbeat");
    if (!colo_run_begin(ctx))
        return LOG_ERRNO(ctx, -EBUSY, "a protection already runs in this context");

    colo_primary p = { .ctx = ctx, .opt = opt, .waiting_client = -1 };
    colo_failover_init(&p.fo, ctx, LIBXLCOLO_ROLE_PRIMARY);
    p.st.state = LIBXLCOLO_STATE_CONNECTING;

    int r = primary_setup(&p, domain, host, port);
    if (r == 0) {
        colo_run_up(ctx); /* from here on, libxlcolo_request_stop() is heard */
        colo_own_primary_arm(&p.own);
        p.last_rx_ns = colo_now_ns();
        r = colo_primary_initial_sync(&p);
    }
    if (r == 0) {
        r = colo_link_expect_epoch(ctx, p.s, COLO_REC_CHECKPOINT_READY, 0, colo_primary_timeout_ms(&p));
    }
    if (r == 0 && !p.stop && !p.failover_asked) {
        colo_primary_set_state(&p, LIBXLCOLO_STATE_PROTECTED);
        uint64_t now = colo_now_ns();
        p.last_rx_ns = now;
        p.next_ckpt_ns = now + colo_ms_to_ns(opt->interval_ms);
        p.next_hb_ns = now + colo_ms_to_ns(opt->heartbeat_ms);
        r = primary_run(&p);
    }
    if (r == -ECANCELED)
        r = 0; /* the initial sync was cut short by stop or failover */
    r = primary_fault_or_gone(&p, r);
    if (r == 0 && p.failover_asked && p.s)
        r = primary_go_alone(&p, "failover requested");
    bool clean = r == 0 && p.s;
    if (r == -ESRCH && p.s) {
        /* The guest is gone here (destroyed, crashed, shut down): close the
         * link without STOP, so the secondary takes over from the last
         * checkpoint, as it would if this whole host had died. */
        LOG(ctx, WARN, "domain %s is gone: the secondary takes over from checkpoint %" PRIu64,
            p.info.name, p.st.epoch);
        p.paused_by_us = false;
        p.logdirty_on = false;
        colo_primary_set_state(&p, LIBXLCOLO_STATE_STOPPED);
    } else if (r < 0 && p.s && p.st.state != LIBXLCOLO_STATE_CONNECTING) {
        /* A checkpoint asked on the control socket learns why it failed. */
        if (p.waiting_client >= 0) {
            char why[sizeof(ctx->last_logged) + 32];
            snprintf(why, sizeof(why), "the checkpoint failed: %s",
                     ctx->last_logged[0] ? ctx->last_logged : strerror(-r));
            colo_control_reply_error(p.ctl, p.waiting_client, -r, why);
            p.waiting_client = -1;
        }
        /* This side's disks cannot be checkpointed, but the link works:
         * the secondary is told to stop, so that it destroys its copy
         * instead of taking over from a checkpoint the guest has left -
         * two live copies. */
        if (p.disks_failed || p.nic_failed) {
            LOG(ctx, WARN, "the %s of %s cannot be checkpointed: the secondary is told to "
                "stop", p.disks_failed ? "disks" : "NIC", p.info.name);
            colo_stream_send_buf(p.s, COLO_REC_STOP, 0, NULL, 0);
        }
        /* The link failed under a running guest: it goes on alone. */
        int alone = primary_go_alone(&p, p.disks_failed ? "its disks cannot be checkpointed"
                                         : p.nic_failed ? "its NIC comparison stopped"
                                                        : strerror(-r));
        r = alone < 0 ? alone : -ENOTCONN;
    }
    if (p.nic && p.st.state == LIBXLCOLO_STATE_UNPROTECTED)
        primary_serve_alone(&p);
    if (clean)
        colo_primary_set_state(&p, LIBXLCOLO_STATE_STOPPED);
    primary_teardown(&p, clean);
    colo_run_end(ctx);
    return r;
}
