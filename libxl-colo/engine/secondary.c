/*
 * secondary.c - libxlcolo_receive(): the secondary side.
 *
 * Build the secondary domain from the primary's configuration, take the
 * initial sync, then buffer, verify and apply each checkpoint. In Remus
 * mode the guest stays paused until failover; in COLO mode, on a backend
 * whose secondary may run, it runs between checkpoints and is put back to
 * the last one at each checkpoint and at failover (colo_cache.h). Failover: on loss of the primary (stream closed, reset
 * or silent past the timeout) or on request. A stream that is corrupt or
 * breaks the protocol is refused instead: that is an attack or a bug, not a
 * dead primary, and failing over on it would run two copies of the guest.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "control/control.h"
#include "block/disks.h"
#include "engine/disk_control.h"
#include "engine/failover.h"
#include "stream/link.h"
#include "engine/ownership.h"
#include "engine/colo_cache.h"
#include "engine/staging.h"

typedef struct {
    libxlcolo_ctx *ctx;
    const libxlcolo_options *opt;
    colo_backend *be;
    colo_dom *dom;
    colo_stream *s;
    colo_control *ctl;
    colo_failover fo;
    colo_ownership own;   /* the arbiter's side: the claim before going live */
    colo_disks *disks;    /* the replicated disks, NULL for none */
    colo_staging stg;
    colo_cache cache;     /* COLO, the guest running between checkpoints */
    bool runs;            /* COLO on a backend whose secondary may run */
    bool running;         /* the guest runs now (between checkpoints) */
    struct colo_wire_domain_config cfg;
    libxlcolo_status st;
    bool consistent;      /* epoch 0 applied: failover is possible */
    bool stopped;         /* the primary ended protection cleanly */
    bool loading;
    uint32_t heartbeat_ms;   /* the primary's, from DOMAIN_CONFIG */
    uint64_t next_hb_ns, last_rx_ns;
    uint8_t small[COLO_MAX_ERROR_BODY];
} colo_secondary;

static void sec_set_state(colo_secondary *s, libxlcolo_state state)
{
    if (s->st.state == state)
        return;
    s->st.state = state;
    colo_emit_state(s->ctx, LIBXLCOLO_ROLE_SECONDARY, state, s->st.epoch);
}

static void sec_control(colo_secondary *s)
{
    colo_ctl_request req;
    int cfd = colo_control_accept(s->ctl, &req);
    if (cfd < 0)
        return;
    switch (req.cmd) {
    case COLO_CTL_STATUS:
        s->st.failover = colo_failover_get(&s->fo);
        colo_disks_status(s->disks, &s->st);
        colo_own_status(&s->own, &s->st);
        colo_control_reply_status(s->ctl, cfd, &s->st);
        break;
    case COLO_CTL_CHECKPOINT:
        colo_control_reply_error(s->ctl, cfd, EOPNOTSUPP,
                                 "checkpoints are taken on the primary");
        break;
    case COLO_CTL_FAILOVER:
        if (!s->consistent) {
            colo_control_reply_error(s->ctl, cfd, EAGAIN,
                                     "no consistent checkpoint yet: the initial sync is still running");
            break;
        }
        colo_failover_request(&s->fo, s->loading);
        colo_control_reply_ok(s->ctl, cfd, s->st.epoch);
        break;
    case COLO_CTL_STOP:
        s->stopped = true;
        colo_control_reply_ok(s->ctl, cfd, s->st.epoch);
        break;
    case COLO_CTL_SET_REPLICATION:
        colo_control_set_replication(s->ctx, s->ctl, cfd, s->disks, &req, s->st.epoch);
        break;
    }
}

/* Polled between batches while a checkpoint loads: a failover asked now
 * becomes RELAUNCH and runs once the load is done. */
static bool sec_poll_control(void *opaque)
{
    colo_secondary *s = opaque;
    struct pollfd pfd = { .fd = colo_control_fd(s->ctl), .events = POLLIN };
    if (poll(&pfd, 1, 0) == 1)
        sec_control(s);
    return false;
}

static int sec_apply(colo_secondary *s, const struct colo_wire_vmstate_size *sz)
{
    int r;

    if (sz->generation != s->cfg.generation)
        return LOG_ERRNO(s->ctx, -EBADMSG, "checkpoint %" PRIu64 " carries generation %" PRIu64
                         ", the protection's is %" PRIu64, s->stg.epoch, sz->generation,
                         s->cfg.generation);
    if (sz->epoch != s->stg.epoch || sz->pages != s->stg.pages ||
        sz->bytes != s->stg.body_bytes || (sz->flags & ~COLO_VMSTATE_F_DIGEST))
        return LOG_ERRNO(s->ctx, -EBADMSG, "checkpoint %" PRIu64 " does not match its VMSTATE_SIZE "
                         "(%" PRIu64 " pages, %" PRIu64 " bytes received; %" PRIu64 " and %" PRIu64 " announced)",
                         s->stg.epoch, s->stg.pages, s->stg.body_bytes, sz->pages, sz->bytes);
    /* The disks first: RECEIVED commits the epoch, and a committed epoch
     * must be whole here, its disks as its memory. A disk that cannot
     * checkpoint fails the epoch, which is then never acknowledged. */
    r = colo_disks_checkpoint(s->disks, sz->epoch);
    if (r < 0)
        return r;
    /* From here the epoch is this side's, disks and all: it is applied
     * even when the primary can no longer hear that it was received. */
    int sent = colo_link_send_epoch(s->s, COLO_REC_VMSTATE_RECEIVED, sz->epoch);

    /* A guest that ran since the last checkpoint: what it wrote goes. */
    uint64_t restored = 0;
    if (s->runs && sz->epoch > 0) {
        r = colo_cache_revert(&s->cache, s->be, s->dom);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "checkpoint %" PRIu64 ": the secondary guest's own "
                             "pages could not be put back", sz->epoch);
        restored = s->cache.restored;
    }
    s->loading = true;
    r = colo_staging_apply(&s->stg, s->be, s->dom, sec_poll_control, s);
    s->loading = false;
    if (r < 0)
        return LOG_ERRNO(s->ctx, r, "applying checkpoint %" PRIu64 " failed", sz->epoch);
    if (s->runs) {
        r = sz->epoch == 0 ? colo_cache_init(&s->cache, s->ctx, s->be, s->dom, s->cfg.nr_pages,
                                             &s->stg)
                           : colo_cache_take(&s->cache, &s->stg);
        if (r < 0)
            return r;
    }

    s->consistent = true;
    s->st.epoch = sz->epoch;
    s->st.checkpoints++;
    s->st.last_pages = s->stg.pages;
    libxlcolo_event ev = {
        .type = LIBXLCOLO_EVENT_CHECKPOINT,
        .role = LIBXLCOLO_ROLE_SECONDARY,
        .state = s->st.state,
        .epoch = sz->epoch,
        .pages = s->stg.pages,
        .bytes = s->stg.body_bytes,
        .restored = restored,
        .has_peer_digest = sz->flags & COLO_VMSTATE_F_DIGEST,
    };
    memcpy(ev.peer_digest, sz->digest, sizeof(ev.peer_digest));
    if (s->opt->verify) {
        r = colo_be_digest(s->be, s->dom, ev.digest, 0);
        if (r < 0)
            return r;
        ev.has_digest = true;
        if (ev.has_peer_digest && memcmp(ev.digest, ev.peer_digest, sizeof(ev.digest)))
            LOG(s->ctx, ERROR, "checkpoint %" PRIu64 ": secondary digest differs from the primary's",
                sz->epoch);
    }
    colo_emit(s->ctx, &ev);
    if (sent < 0)
        return sent;
    r = colo_link_send_epoch(s->s, COLO_REC_VMSTATE_LOADED, sz->epoch);
    if (r < 0)
        return r;
    /* COLO: the secondary runs until the next checkpoint request. */
    if (s->runs) {
        r = colo_be_unpause(s->be, s->dom, 0);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "checkpoint %" PRIu64 ": cannot restart the secondary "
                             "guest", sz->epoch);
        s->running = true;
    }
    if (sz->epoch == 0) {
        sec_set_state(s, LIBXLCOLO_STATE_PROTECTED);
        r = colo_link_send_epoch(s->s, COLO_REC_CHECKPOINT_READY, 0);
    }
    return r;
}

static int sec_epoch_body(colo_secondary *s, const struct colo_rec_hdr *h, uint64_t *epoch)
{
    if (h->length != sizeof(struct colo_wire_epoch))
        return LOG_ERRNO(s->ctx, -EBADMSG, "%s record of %" PRIu64 " bytes (expected 8)",
                         colo_rec_type_name(h->type), h->length);
    struct colo_wire_epoch e;
    int r = colo_stream_recv_body(s->s, h, &e, (int)s->opt->timeout_ms);
    *epoch = e.epoch;
    return r;
}

static int sec_out_of_order(colo_secondary *s, const struct colo_rec_hdr *h)
{
    return LOG_ERRNO(s->ctx, -EPROTO, "record %s out of protocol order (%s)",
                     colo_rec_type_name(h->type),
                     s->stg.open ? "inside a checkpoint" :
                     s->consistent ? "between checkpoints" : "during the initial sync");
}

/* One record. Returns 0 to go on, 1 when the primary stopped, -errno. */
static int sec_handle(colo_secondary *s, const struct colo_rec_hdr *h)
{
    int tmo = (int)s->opt->timeout_ms, r;
    uint64_t epoch;

    switch (h->type) {
    case COLO_REC_HEARTBEAT:
        return colo_stream_recv_body(s->s, h, NULL, tmo);
    case COLO_REC_STOP:
        r = colo_stream_recv_body(s->s, h, NULL, tmo);
        return r < 0 ? r : 1;
    case COLO_REC_PAGES:
        if (!s->stg.open && h->flags & COLO_REC_F_PRECOPY && !s->consistent) {
            /* Initial sync: checked and written at once, one record at a
             * time; the guest runs only from epoch 0 (staging.h). */
            uint8_t *dst = colo_staging_reserve(&s->stg, h->length, &r);
            if (!dst)
                return r;
            r = colo_stream_recv_body(s->s, h, dst, tmo);
            return r < 0 ? r : colo_staging_apply_now(&s->stg, s->be, s->dom, h->type, h->length);
        }
        /* fall through */
    case COLO_REC_CONTEXT:
    case COLO_REC_DEVSTATE: {
        if (!s->stg.open || h->flags & COLO_REC_F_PRECOPY)
            return sec_out_of_order(s, h);
        uint8_t *dst = colo_staging_reserve(&s->stg, h->length, &r);
        if (!dst)
            return r;
        r = colo_stream_recv_body(s->s, h, dst, tmo);
        return r < 0 ? r : colo_staging_commit(&s->stg, h->type, h->length);
    }
    case COLO_REC_CHECKPOINT_REQUEST:
        if (s->stg.open || !s->consistent)
            return sec_out_of_order(s, h);
        r = sec_epoch_body(s, h, &epoch);
        if (r == 0 && epoch != s->st.epoch + 1)
            r = LOG_ERRNO(s->ctx, -EPROTO, "CHECKPOINT_REQUEST for epoch %" PRIu64 ", expected %" PRIu64,
                          epoch, s->st.epoch + 1);
        /* A running secondary stops first, as QEMU's does at the request. */
        if (r == 0 && s->running) {
            r = colo_be_pause(s->be, s->dom, 0);
            if (r < 0)
                return LOG_ERRNO(s->ctx, r, "checkpoint %" PRIu64 ": cannot stop the secondary "
                                 "guest", epoch);
            s->running = false;
        }
        return r < 0 ? r : colo_link_send_epoch(s->s, COLO_REC_CHECKPOINT_REPLY, epoch);
    case COLO_REC_VMSTATE_SEND:
        if (s->stg.open)
            return sec_out_of_order(s, h);
        r = sec_epoch_body(s, h, &epoch);
        if (r < 0)
            return r;
        if (s->consistent ? epoch != s->st.epoch + 1 : epoch != 0)
            return LOG_ERRNO(s->ctx, -EPROTO, "VMSTATE_SEND for epoch %" PRIu64 " out of sequence", epoch);
        colo_staging_begin(&s->stg, epoch);
        return 0;
    case COLO_REC_VMSTATE_SIZE: {
        struct colo_wire_vmstate_size sz;
        if (!s->stg.open)
            return sec_out_of_order(s, h);
        if (h->length != sizeof(sz))
            return LOG_ERRNO(s->ctx, -EBADMSG, "VMSTATE_SIZE of %" PRIu64 " bytes", h->length);
        r = colo_stream_recv_body(s->s, h, &sz, tmo);
        return r < 0 ? r : sec_apply(s, &sz);
    }
    default:
        return sec_out_of_order(s, h);
    }
}

/* Returns 1 when the primary stopped cleanly, 0 on failover request,
 * -errno when the link ended. */
static int sec_loop(colo_secondary *s)
{
    for (;;) {
        if (s->stopped)
            return 1;
        libxlcolo_failover_state fo = colo_failover_get(&s->fo);
        if (fo == LIBXLCOLO_FAILOVER_REQUIRE || fo == LIBXLCOLO_FAILOVER_RELAUNCH)
            return 0;

        uint64_t now = colo_now_ns();
        if (now >= s->next_hb_ns) {
            int r = colo_stream_send_buf(s->s, COLO_REC_HEARTBEAT, 0, NULL, 0);
            if (r < 0)
                return r;
            s->next_hb_ns = now + colo_ms_to_ns(s->heartbeat_ms);
        }
        uint64_t deadline = s->last_rx_ns + colo_ms_to_ns(s->opt->timeout_ms);
        if (now >= deadline) {
            LOG(s->ctx, WARN, "primary silent for %u ms", s->opt->timeout_ms);
            return -ETIMEDOUT;
        }
        uint64_t until = MIN(deadline, s->next_hb_ns);
        struct pollfd fds[3] = {
            { .fd = colo_stream_fd(s->s), .events = POLLIN },
            { .fd = colo_control_fd(s->ctl), .events = POLLIN },
            { .fd = s->ctx->stop_fd, .events = POLLIN },
        };
        int n = poll(fds, 3, colo_ms_until(now, until));
        if (n < 0 && errno != EINTR)
            return LOG_ERRNO(s->ctx, negative_errno(), "poll");
        /* libxlcolo_request_stop(): the control socket's stop, in-process. */
        if (colo_stop_requested(s->ctx, n > 0 && fds[2].revents))
            s->stopped = true;
        if (n > 0 && fds[1].revents)
            sec_control(s);
        if (n > 0 && fds[0].revents) {
            struct colo_rec_hdr h;
            int r = colo_stream_recv_hdr(s->s, &h, (int)s->opt->timeout_ms);
            if (r == 0)
                r = sec_handle(s, &h);
            if (r < 0)
                return r;
            s->last_rx_ns = colo_now_ns();
            if (r == 1)
                s->stopped = true;
        }
    }
}

/* While the arbiter is asked: control requests (status, stop). */
static void sec_on_control(void *opaque)
{
    sec_control(opaque);
}

static bool sec_idle(void *opaque, int ms)
{
    colo_secondary *s = opaque;
    if (colo_own_idle_poll(s->ctx, s->ctl, ms, sec_on_control, s))
        s->stopped = true;
    return !s->stopped;
}

/* Take over: the guest runs from the last applied checkpoint. */
static int sec_failover(colo_secondary *s, const char *why)
{
    if (s->stg.open)
        LOG(s->ctx, WARN, "checkpoint %" PRIu64 " was incomplete when the primary was lost: "
            "discarded, running from checkpoint %" PRIu64, s->stg.epoch, s->st.epoch);
    colo_staging_discard(&s->stg);
    if (colo_failover_get(&s->fo) == LIBXLCOLO_FAILOVER_NONE)
        colo_failover_request(&s->fo, false);
    colo_failover_cas(&s->fo, LIBXLCOLO_FAILOVER_RELAUNCH, LIBXLCOLO_FAILOVER_REQUIRE);
    if (!colo_failover_cas(&s->fo, LIBXLCOLO_FAILOVER_REQUIRE, LIBXLCOLO_FAILOVER_ACTIVE))
        return LOG_ERRNO(s->ctx, -EALREADY, "failover already under way");

    /* A running secondary goes back to its last checkpoint: it takes
     * over from there, as a paused one does. */
    if (s->runs && s->cache.mem) {
        int r = s->running ? colo_be_pause(s->be, s->dom, 0) : 0;
        s->running = false;
        if (r == 0)
            r = colo_cache_rewind(&s->cache, s->be, s->dom);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "failover: the secondary guest %s is not started",
                             s->cfg.name);
    }
    libxlcolo_event ev = {
        .type = LIBXLCOLO_EVENT_STATE,
        .role = LIBXLCOLO_ROLE_SECONDARY,
        .state = LIBXLCOLO_STATE_FAILED_OVER,
        .epoch = s->st.epoch,
        .message = why,
    };
    if (s->opt->verify) {
        int r = colo_be_digest(s->be, s->dom, ev.digest, 0);
        if (r < 0)
            return r;
        ev.has_digest = true;
    }
    /* The disks become the last checkpoint's before the guest runs on
     * them; a guest is never started on a disk that did not fail over. */
    int r = colo_disks_failover(s->disks);
    if (r < 0)
        return LOG_ERRNO(s->ctx, r, "failover: the disks of %s did not fail over: the "
                         "secondary guest is not started", s->cfg.name);
    r = colo_be_unpause(s->be, s->dom, 0);
    if (r < 0)
        return LOG_ERRNO(s->ctx, r, "failover: cannot start the secondary guest %s", s->cfg.name);
    LOG(s->ctx, WARN, "failover (%s): %s runs from checkpoint %" PRIu64, why, s->cfg.name, s->st.epoch);
    s->st.state = LIBXLCOLO_STATE_FAILED_OVER;
    colo_emit(s->ctx, &ev);
    colo_failover_cas(&s->fo, LIBXLCOLO_FAILOVER_ACTIVE, LIBXLCOLO_FAILOVER_COMPLETED);
    return 0;
}

static int sec_config(colo_secondary *s, uint8_t **extra)
{
    struct colo_rec_hdr h;
    int r = colo_stream_recv_hdr(s->s, &h, (int)s->opt->timeout_ms);
    if (r < 0)
        return r;
    if (h.type != COLO_REC_DOMAIN_CONFIG)
        return LOG_ERRNO(s->ctx, -EPROTO, "record %s out of protocol order (expected DOMAIN_CONFIG)",
                         colo_rec_type_name(h.type));
    if (h.length < sizeof(s->cfg))
        return LOG_ERRNO(s->ctx, -EBADMSG, "DOMAIN_CONFIG of %" PRIu64 " bytes is too short", h.length);
    _cleanup_free_ uint8_t *body = malloc(h.length);
    if (!body)
        return -ENOMEM;
    r = colo_stream_recv_body(s->s, &h, body, (int)s->opt->timeout_ms);
    if (r < 0)
        return r;
    memcpy(&s->cfg, body, sizeof(s->cfg));
    struct colo_wire_domain_config *c = &s->cfg;
    if (memchr(c->name, 0, sizeof(c->name)) == NULL || !c->name[0] ||
        memchr(c->backend, 0, sizeof(c->backend)) == NULL ||
        memchr(c->uuid, 0, sizeof(c->uuid)) == NULL || memchr(c->owner, 0, sizeof(c->owner)) == NULL)
        return LOG_ERRNO(s->ctx, -EBADMSG, "DOMAIN_CONFIG with an unterminated name");
    if (c->nr_pages == 0 || c->nr_pages > COLO_MAX_NR_PAGES || c->nr_vcpus == 0 ||
        c->nr_vcpus > 512 || h.length != sizeof(*c) + c->extra_len)
        return LOG_ERRNO(s->ctx, -EBADMSG, "DOMAIN_CONFIG out of bounds (%" PRIu64 " pages, %u vCPUs)",
                         c->nr_pages, c->nr_vcpus);
    if (c->heartbeat_ms == 0 || c->heartbeat_ms > 60000)
        return LOG_ERRNO(s->ctx, -EBADMSG, "DOMAIN_CONFIG: heartbeat of %u ms", c->heartbeat_ms);
    if (c->type != COLO_DOM_HVM && c->type != COLO_DOM_PVH)
        return LOG_ERRNO(s->ctx, -EBADMSG, "DOMAIN_CONFIG: guest type %u is not HVM or PVH", c->type);
    *extra = malloc(c->extra_len ? c->extra_len : 1);
    if (!*extra)
        return -ENOMEM;
    memcpy(*extra, body + sizeof(*c), c->extra_len);
    return 0;
}

static int sec_setup(colo_secondary *s, const char *addr, uint16_t port)
{
    _cleanup_free_ uint8_t *extra = NULL;

    /* The disks' replication must run before a primary can write to them. */
    int r = colo_disks_open(s->ctx, s->opt, LIBXLCOLO_ROLE_SECONDARY, &s->disks);
    if (r < 0)
        return r;
    r = colo_link_accept(s->ctx, addr, port, s->opt, &s->s);
    if (r < 0)
        return r;
    r = sec_config(s, &extra);
    if (r < 0)
        return r;
    struct colo_backend_params bp = colo_backend_params_of(s->opt);
    r = colo_backend_open(s->ctx, &bp, 0, &s->be);
    if (r < 0)
        return r;
    if (strcmp(s->cfg.backend, s->be->ops->name) != 0)
        return LOG_ERRNO(s->ctx, -EINVAL, "the primary runs backend %s, this side %s",
                         s->cfg.backend, s->be->ops->name);
    r = colo_control_listen(s->ctx, s->be->run_dir, s->cfg.name, &s->ctl);
    if (r < 0)
        return r;
    r = colo_own_open(s->ctx, s->opt, s->cfg.uuid, s->cfg.name, &s->own);
    if (r < 0)
        return r;
    /* Both sides decide by the arbiter, or neither: one that fails over
     * on silence alone makes the other's lease worthless. */
    if (colo_own_enabled(&s->own) && s->cfg.generation == 0)
        return LOG_ERRNO(s->ctx, -EINVAL, "the primary of %s runs without an arbiter "
                         "(--arbiter none) and this side with one: refused", s->cfg.name);
    if (!colo_own_enabled(&s->own) && s->cfg.generation != 0)
        return LOG_ERRNO(s->ctx, -EINVAL, "the primary of %s holds it through an arbiter at "
                         "generation %" PRIu64 " and this side runs with --arbiter none: refused",
                         s->cfg.name, s->cfg.generation);
    snprintf(s->own.seen.host, sizeof(s->own.seen.host), "%s", s->cfg.owner);
    s->own.seen.generation = s->cfg.generation;
    struct colo_domain_config dc = {
        .type = s->cfg.type,
        .nr_pages = s->cfg.nr_pages,
        .mem_bytes = s->cfg.mem_bytes,
        .nr_vcpus = s->cfg.nr_vcpus,
        .extra = extra,
        .extra_len = s->cfg.extra_len,
    };
    memcpy(dc.name, s->cfg.name, sizeof(dc.name));
    r = colo_be_domain_create(s->be, &dc, &s->dom, COLO_CREATE_PAUSED);
    if (r < 0)
        return r;
    colo_staging_init(&s->stg, s->ctx, s->cfg.nr_pages);
    /* Beat at the primary's pace; our own --timeout decides when it is lost. */
    s->heartbeat_ms = s->cfg.heartbeat_ms;
    if (s->opt->timeout_ms <= s->heartbeat_ms)
        return LOG_ERRNO(s->ctx, -EINVAL, "--timeout %u ms is not longer than the primary's heartbeat (%u ms)",
                         s->opt->timeout_ms, s->heartbeat_ms);
    snprintf(s->st.domain, sizeof(s->st.domain), "%s", s->cfg.name);
    snprintf(s->st.backend, sizeof(s->st.backend), "%s", s->be->ops->name);
    s->st.mode = s->cfg.mode;
    s->runs = s->cfg.mode == LIBXLCOLO_MODE_COLO && s->be->ops->colo_secondary_runs;
    sec_set_state(s, LIBXLCOLO_STATE_PRECOPY);
    return 0;
}

int libxlcolo_receive(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                      const libxlcolo_options *opt)
{
    if (!ctx || !addr || !opt)
        return -EINVAL;
    if (!opt->key_file && !opt->insecure)
        return LOG_ERRNO(ctx, -EINVAL, "a key file is required (or insecure mode)");
    if (opt->proxy)
        return LOG_ERRNO(ctx, -EINVAL, "the NIC comparison runs on the primary");
    if (!colo_run_begin(ctx))
        return LOG_ERRNO(ctx, -EBUSY, "a protection already runs in this context");

    colo_secondary s = { .ctx = ctx, .opt = opt };
    colo_failover_init(&s.fo, ctx, LIBXLCOLO_ROLE_SECONDARY);
    s.st.role = LIBXLCOLO_ROLE_SECONDARY;
    s.st.pid = (int)getpid();
    s.st.state = LIBXLCOLO_STATE_CONNECTING;
    snprintf(s.st.peer, sizeof(s.st.peer), "%s:%u", addr, port);

    int r = sec_setup(&s, addr, port);
    if (r == 0) {
        colo_run_up(ctx); /* from here on, libxlcolo_request_stop() is heard */
        s.last_rx_ns = colo_now_ns();
        r = sec_loop(&s);
    }
    bool destroy = s.dom != NULL;
    if (r == 1) {
        LOG(ctx, NOTICE, "the primary ended protection of %s: secondary destroyed", s.cfg.name);
        sec_set_state(&s, LIBXLCOLO_STATE_STOPPED);
        r = 0;
    } else if (s.dom && (r == 0 || r == -EPIPE || r == -ETIMEDOUT || r == -ECONNRESET)) {
        /* The primary is gone (or failover was asked): take over. */
        if (s.consistent) {
            const char *why = r == 0 ? "requested" : r == -ETIMEDOUT ? "primary silent" : "primary lost";
            /* Live only as the owner: the primary's lease must have ended,
             * and nobody may have moved the generation on. */
            colo_stream_free(s.s);
            s.s = NULL;
            if (colo_own_enabled(&s.own))
                sec_set_state(&s, LIBXLCOLO_STATE_AWAITING_OWNERSHIP);
            r = colo_own_secondary_claim(&s.own, s.cfg.generation, sec_idle, &s);
            if (r == -ECANCELED) {
                LOG(ctx, NOTICE, "stopped while waiting for ownership of %s: secondary destroyed",
                    s.cfg.name);
                sec_set_state(&s, LIBXLCOLO_STATE_STOPPED);
                r = 0;
            } else if (r == 0) {
                r = sec_failover(&s, why);
                destroy = r < 0;
            }
        } else {
            r = LOG_ERRNO(ctx, -ENOTCONN, "primary lost before the initial sync completed: "
                          "no consistent state, secondary destroyed");
        }
    } else if (r < 0 && s.s) {
        /* Corrupt or hostile stream: refuse it, keep nothing half-applied. */
        char why[128];
        snprintf(why, sizeof(why), "secondary refused the stream: %s", strerror(-r));
        colo_stream_send_error(s.s, -r, why);
    }
    if (r < 0 && s.dom && s.opt->verify && s.consistent && destroy) {
        libxlcolo_event ev = { .type = LIBXLCOLO_EVENT_STATE, .role = LIBXLCOLO_ROLE_SECONDARY,
                               .state = LIBXLCOLO_STATE_STOPPED, .epoch = s.st.epoch };
        if (colo_be_digest(s.be, s.dom, ev.digest, 0) == 0)
            ev.has_digest = true;
        s.st.state = LIBXLCOLO_STATE_STOPPED;
        colo_emit(ctx, &ev);
    }
    if (s.dom) {
        if (destroy)
            colo_be_domain_destroy(s.be, s.dom, 0);
        colo_be_domain_close(s.be, s.dom);
    }
    colo_own_close(&s.own, true);
    colo_staging_free(&s.stg);
    colo_cache_free(&s.cache);
    colo_stream_free(s.s);
    colo_disks_close(s.disks);
    colo_control_free(s.ctl);
    colo_backend_close(s.be);
    colo_run_end(ctx);
    return r;
}
