/* proxy.c - the proxy service's loop (proxy.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "colo-time.h"
#include "proxy/service/proxy.h"
#include "proxy/frame.h"
#include "proxy/service/sock.h"

/* Status clients answered at most per wakeup. */
#define STATUS_BURST 8

static const char *const endpoint_options[EP__MAX] = {
    [EP_PRIMARY] = "--primary-in",
    [EP_SECONDARY] = "--secondary-in",
    [EP_OUTDEV] = "--outdev",
    [EP_NOTIFY] = "--notify",
    [EP_STATUS] = "--status",
};

const char *proxy_endpoint_option(enum proxy_endpoint e)
{
    return e < EP__MAX ? endpoint_options[e] : "?";
}

/* --- the engine's callbacks ------------------------------------------------ */

/* What the buffer releases: to the client, or counted without one. */
static void commit_out(struct proxy *p, bool all)
{
    if (all)
        proxy_commit_flush(&p->commit, &p->out);
    else
        proxy_commit_release(&p->commit, &p->out);
    if (p->ep[EP_OUTDEV].fd < 0)
        p->out_no_peer += proxy_outq_clear(&p->out);
}

static void on_release(void *opaque, const uint8_t *frame, size_t len)
{
    struct proxy *p = opaque;

    if (p->ep[EP_OUTDEV].fd < 0)
        p->out_no_peer++;
    else
        proxy_outq_put(&p->out, frame, len);
}

static void out_detach(struct proxy *p)
{
    close(p->ep[EP_OUTDEV].fd);
    p->ep[EP_OUTDEV].fd = -1;
    p->out_lost += proxy_outq_clear(&p->out);
}

static void out_flush(struct proxy *p)
{
    if (p->ep[EP_OUTDEV].fd >= 0 && proxy_outq_len(&p->out) &&
        proxy_outq_flush(&p->out, p->ep[EP_OUTDEV].fd) < 0)
        out_detach(p);
}

static void on_checkpoint(void *opaque, enum colo_checkpoint_reason reason)
{
    struct proxy *p = opaque;

    proxy_say(&p->opts.log, PROXY_LOG_INFO, "checkpoint requested: %s",
              colo_checkpoint_reason_name(reason));
    /* What was released before the divergence goes out before the request. */
    out_flush(p);
    if (p->opts.checkpoint)
        p->opts.checkpoint(p->opts.checkpoint_opaque);
    proxy_notify_checkpoint(&p->notify);
}

static void on_checkpoint_done(void *opaque)
{
    struct proxy *p = opaque;

    colo_compare_checkpoint_done(p->cmp, p->now);
}

static void on_primary(void *opaque, const uint8_t *frame, size_t len)
{
    struct proxy *p = opaque;

    if (p->alone) {
        p->passed_alone++;
        on_release(p, frame, len);
        return;
    }
    if (p->opts.buffer) {
        if (proxy_commit_put(&p->commit, frame, len) && p->opts.checkpoint) {
            proxy_say(&p->opts.log, PROXY_LOG_INFO, "checkpoint requested: the output buffer "
                      "is past half its %zu bytes", p->commit.held.limit);
            p->opts.checkpoint(p->opts.checkpoint_opaque);
        }
        return;
    }
    colo_compare_primary(p->cmp, frame, len, p->now);
}

static void on_secondary(void *opaque, const uint8_t *frame, size_t len)
{
    struct proxy *p = opaque;

    if (p->alone) {
        p->dropped_alone++;
        return;
    }
    colo_compare_secondary(p->cmp, frame, len, p->now);
}

/* --- setting up ---------------------------------------------------------------- */

int proxy_open(const struct proxy_opts *o, struct proxy **out)
{
    struct proxy *p = calloc(1, sizeof(*p));
    uint64_t seed = 0;
    int r;

    *out = NULL;
    if (!p)
        return proxy_fail(&o->log, 1, "out of memory");
    p->opts = *o;
    p->wake_fd = -1;
    if (o->busy_poll_us > PROXY_BUSY_POLL_MAX_US) {
        free(p);
        return proxy_fail(&o->log, 1, "busy polling for %u us: at most %u", o->busy_poll_us,
                          PROXY_BUSY_POLL_MAX_US);
    }
    pthread_mutex_init(&p->snap_lock, NULL);
    pthread_mutex_init(&p->req_lock, NULL);
    pthread_cond_init(&p->req_cond, NULL);
    for (int e = 0; e < EP__MAX; e++)
        p->ep[e] = (struct proxy_ep){ .path = o->path[e], .lfd = -1, .fd = -1 };
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
        seed = colo_now_ns() ^ (uint64_t)getpid() << 32;
    struct colo_compare_config cfg = {
        .timeout_ms = o->timeout_ms,
        .max_flows = o->max_flows,
        .max_mem = o->max_mem,
        .hash_seed = seed,
        .release = on_release,
        .checkpoint = on_checkpoint,
        .opaque = p,
    };
    /* A small --max-mem: one flow may hold all of it. */
    if (o->max_mem && o->max_mem < COLO_COMPARE_MAX_FLOW_MEM)
        cfg.max_flow_mem = o->max_mem;
    r = colo_compare_new(&cfg, &p->cmp);
    if (r < 0) {
        proxy_free(p);
        return proxy_fail(&o->log, 1, "cannot start the compare engine: %s%s", strerror(-r),
                    r == -EINVAL ? " (--max-mem too small for --max-flows)" : "");
    }
    struct colo_compare_counters n;
    colo_compare_get_counters(p->cmp, &n);
    /* The client's queue: back-pressure keeps it near PROXY_OUTQ_HIGH, and
     * it takes at most what the engine can hold on top. */
    proxy_outq_init(&p->out, o->vnet_hdr, PROXY_OUTQ_HIGH + (size_t)n.mem_limit + (1u << 20));
    proxy_commit_init(&p->commit, o->vnet_hdr, (size_t)n.mem_limit);
    if (proxy_reader_init(&p->in[COLO_PRIMARY], o->vnet_hdr, COLO_FRAME_MAX) < 0 ||
        proxy_reader_init(&p->in[COLO_SECONDARY], o->vnet_hdr, COLO_FRAME_MAX) < 0 ||
        proxy_notify_init(&p->notify, o->vnet_hdr, on_checkpoint_done, p, &p->opts.log) < 0) {
        proxy_free(p);
        return proxy_fail(&o->log, 1, "out of memory");
    }
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake_fd < 0) {
        r = negative_errno();
        proxy_free(p);
        return proxy_fail(&o->log, 1, "eventfd: %s", strerror(-r));
    }
    for (int e = 0; e < EP__MAX; e++) {
        if (!p->ep[e].path)
            continue;
        r = proxy_sock_listen(&p->opts.log, proxy_endpoint_option(e), p->ep[e].path);
        if (r < 0) {
            proxy_free(p);
            return 1;
        }
        p->ep[e].lfd = r;
    }
    p->now = p->last_tick = colo_now_ns();
    p->snap_dirty = true;
    *out = p;
    return 0;
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    for (int e = 0; e < EP__MAX; e++) {
        if (e != EP_NOTIFY && p->ep[e].fd >= 0)
            close(p->ep[e].fd);
        if (p->ep[e].lfd >= 0) {
            close(p->ep[e].lfd);
            unlink(p->ep[e].path);
        }
    }
    proxy_notify_fini(&p->notify);
    proxy_reader_fini(&p->in[COLO_PRIMARY]);
    proxy_reader_fini(&p->in[COLO_SECONDARY]);
    proxy_outq_fini(&p->out);
    proxy_commit_fini(&p->commit);
    colo_compare_free(p->cmp);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->snap_lock);
    pthread_mutex_destroy(&p->req_lock);
    pthread_cond_destroy(&p->req_cond);
    free(p);
}

/* --- the loop -------------------------------------------------------------------- */

/* A peer for endpoint e, if one waits. */
static void accept_peer(struct proxy *p, enum proxy_endpoint e)
{
    struct proxy_ep *ep = &p->ep[e];

    if (e == EP_STATUS) {
        for (int i = 0; i < STATUS_BURST; i++) {
            int fd = proxy_sock_accept(ep->lfd);
            if (fd < 0)
                break;
            ep->connections++;
            p->status_queries++;
            proxy_status_send(p, fd);
            close(fd);
        }
        return;
    }
    int fd = proxy_sock_accept(ep->lfd);
    if (fd < 0) {
        if (fd != -EAGAIN && fd != -ECONNABORTED)
            proxy_fail(&p->opts.log, 0, "%s %s: accept: %s", proxy_endpoint_option(e), ep->path, strerror(-fd));
        return;
    }
    ep->connections++;
    if (e == EP_NOTIFY) {
        proxy_notify_attach(&p->notify, fd, colo_compare_checkpoint_pending(p->cmp));
        return;
    }
    ep->fd = fd;
    if (e == EP_PRIMARY || e == EP_SECONDARY)
        proxy_reader_reset(&p->in[e]);
}

/* Read what input e has: true if it gave frames. */
static bool read_input(struct proxy *p, enum proxy_endpoint e)
{
    uint64_t before = p->in[e].records;
    int r = proxy_reader_read(&p->in[e], p->ep[e].fd, e == EP_PRIMARY ? on_primary : on_secondary,
                              p);

    if (r != 0) {
        if (r < 0)
            proxy_fail(&p->opts.log, 0, "%s: read: %s", proxy_endpoint_option(e), strerror(-r));
        close(p->ep[e].fd);
        p->ep[e].fd = -1;
    }
    return p->in[e].records != before;
}

/* The client sends nothing we need: read and forget, to see it close. */
static void read_outdev(struct proxy *p)
{
    uint8_t scratch[4096];
    ssize_t n = read(p->ep[EP_OUTDEV].fd, scratch, sizeof(scratch));

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        out_detach(p);
}

static bool holds_frames(const struct proxy *p)
{
    struct colo_compare_counters n;

    colo_compare_get_counters(p->cmp, &n);
    return n.frames_held[COLO_PRIMARY] || n.frames_held[COLO_SECONDARY];
}

/* What epoll watches for one slot: the fd, which of its peers (a closed
 * fd's number comes back for the next one), the events. */
struct reg {
    int fd;
    uint64_t conn;
    uint32_t events;
};

/* Bring epoll's set from cur to want, changing only what changed: every
 * slot whose fd went is removed first (its number may be another slot's
 * new fd), then the rest added or modified. */
static int watch(int efd, struct reg *cur, const struct reg *want, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (cur[i].fd >= 0 && (want[i].fd != cur[i].fd || want[i].conn != cur[i].conn)) {
            epoll_ctl(efd, EPOLL_CTL_DEL, cur[i].fd, NULL);   /* gone already if closed */
            cur[i].fd = -1;
        }
    for (unsigned i = 0; i < n; i++) {
        if (want[i].fd < 0 || (cur[i].fd >= 0 && cur[i].events == want[i].events))
            continue;
        struct epoll_event ev = { .events = want[i].events, .data.u32 = i };
        if (epoll_ctl(efd, cur[i].fd < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, want[i].fd, &ev) < 0)
            return negative_errno();
        cur[i] = want[i];
    }
    return 0;
}

/* --- from other threads ------------------------------------------------------ */

static void wake(struct proxy *p)
{
    uint64_t one = 1;

    if (write(p->wake_fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is full, so the loop wakes anyway. */
    }
}

void proxy_checkpoint_complete(struct proxy *p)
{
    pthread_mutex_lock(&p->req_lock);
    p->done_asked++;
    pthread_mutex_unlock(&p->req_lock);
    wake(p);
}

/* Ask the service for *asked + 1 and wait, at most timeout_ms, until
 * *done has come to it: 0 or -ETIMEDOUT. */
static int ask_and_wait(struct proxy *p, uint64_t *asked, const uint64_t *done, int timeout_ms)
{
    struct timespec until;
    int r = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->req_lock);
    uint64_t mine = ++*asked;
    wake(p);
    while (r == 0 && *done < mine)
        r = pthread_cond_timedwait(&p->req_cond, &p->req_lock, &until);
    pthread_mutex_unlock(&p->req_lock);
    return r == 0 ? 0 : -r;
}

int proxy_epoch_end(struct proxy *p, int timeout_ms)
{
    return ask_and_wait(p, &p->barrier_asked, &p->barrier_done, timeout_ms);
}

int proxy_status_fresh(struct proxy *p, char *buf, size_t size, int timeout_ms)
{
    ask_and_wait(p, &p->snap_asked, &p->snap_done, timeout_ms);   /* else the last one */
    return proxy_status_copy(p, buf, size);
}

void proxy_go_alone(struct proxy *p)
{
    atomic_store(&p->alone_asked, true);
    wake(p);
}

int proxy_status_copy(struct proxy *p, char *buf, size_t size)
{
    pthread_mutex_lock(&p->snap_lock);
    size_t n = strlen(p->snap);
    int r = n < size ? (int)n : -ENOBUFS;
    if (r >= 0)
        memcpy(buf, p->snap, n + 1);
    pthread_mutex_unlock(&p->snap_lock);
    return r;
}

static void snapshot(struct proxy *p)
{
    char text[PROXY_STATUS_MAX];

    if (proxy_status_text(p, text, sizeof(text)) < 0)
        return;
    pthread_mutex_lock(&p->snap_lock);
    memcpy(p->snap, text, strlen(text) + 1);
    pthread_mutex_unlock(&p->snap_lock);
    p->snap_ns = p->now;
    p->snap_dirty = false;
}

/* What the other threads asked for, in the service's thread. */
static void take_wake(struct proxy *p)
{
    uint64_t v;

    if (read(p->wake_fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: woken for what was taken already. */
    }
    pthread_mutex_lock(&p->req_lock);
    unsigned done = p->done_asked;
    uint64_t barrier = p->barrier_asked, snap = p->snap_asked;
    p->done_asked = 0;
    pthread_mutex_unlock(&p->req_lock);
    /* The acknowledgement first: it is of the epoch that ended before. */
    if (done && p->opts.buffer)
        commit_out(p, false);
    else if (done)
        colo_compare_checkpoint_done(p->cmp, p->now);
    if (barrier != p->barrier_done) {
        proxy_commit_barrier(&p->commit);
        pthread_mutex_lock(&p->req_lock);
        p->barrier_done = barrier;
        pthread_cond_broadcast(&p->req_cond);
        pthread_mutex_unlock(&p->req_lock);
    }
    if (atomic_load(&p->alone_asked) && !p->alone) {
        /* What is held goes, as after a checkpoint; from now on nothing
         * is compared. */
        colo_compare_checkpoint_done(p->cmp, p->now);
        commit_out(p, true);
        p->alone = true;
        proxy_say(&p->opts.log, PROXY_LOG_WARN, "the secondary is gone: the primary's frames "
                  "pass through uncompared");
    }
    /* Last: the status says what was asked before it. */
    if (snap != p->snap_done) {
        snapshot(p);
        pthread_mutex_lock(&p->req_lock);
        p->snap_done = snap;
        pthread_cond_broadcast(&p->req_cond);
        pthread_mutex_unlock(&p->req_lock);
    }
}

/* --- the loop -------------------------------------------------------------------- */

int proxy_run(struct proxy *p, int sigfd)
{
    enum { SLOT_SIG = EP__MAX, SLOT_WAKE, SLOT__MAX };
    struct pollfd pfd[SLOT__MAX];
    int slot[SLOT__MAX];
    struct reg cur[SLOT__MAX], want[SLOT__MAX];
    struct epoll_event evs[SLOT__MAX];
    _cleanup_close_ int efd = epoll_create1(EPOLL_CLOEXEC);

    if (efd < 0)
        return proxy_fail(&p->opts.log, 1, "epoll_create1: %s", strerror(errno));
    for (unsigned i = 0; i < SLOT__MAX; i++)
        cur[i] = (struct reg){ .fd = -1 };
    for (;;) {
        /* What to watch: each socket's peer, else its listener. */
        want[SLOT_SIG] = (struct reg){ .fd = sigfd, .events = EPOLLIN };
        want[SLOT_WAKE] = (struct reg){ .fd = p->wake_fd, .events = EPOLLIN };
        for (int e = 0; e < EP__MAX; e++) {
            struct proxy_ep *ep = &p->ep[e];
            int fd = e == EP_NOTIFY ? p->notify.fd : ep->fd;
            uint64_t conn = e == EP_NOTIFY ? p->notify.connections : ep->connections;
            uint32_t ev = EPOLLIN;
            if (ep->lfd < 0) {
                fd = -1;
            } else if (fd < 0) {
                fd = ep->lfd;
            } else if (e == EP_PRIMARY && proxy_outq_len(&p->out) > PROXY_OUTQ_HIGH) {
                fd = -1;        /* back-pressure: the client is behind */
            } else if ((e == EP_OUTDEV && proxy_outq_len(&p->out)) ||
                       (e == EP_NOTIFY && p->notify.out_len)) {
                ev |= EPOLLOUT;
            }
            want[e] = (struct reg){ .fd = fd, .conn = conn, .events = ev };
        }
        int r = watch(efd, cur, want, SLOT__MAX);
        if (r < 0)
            return proxy_fail(&p->opts.log, 1, "epoll_ctl: %s", strerror(-r));
        int timeout = holds_frames(p) || p->snap_dirty ? PROXY_TICK_MS : PROXY_IDLE_TICK_MS;
        r = 0;
        if (p->busy && p->opts.busy_poll_us) {
            uint64_t until = colo_now_ns() + (uint64_t)p->opts.busy_poll_us * 1000u;
            do
                r = epoll_wait(efd, evs, SLOT__MAX, 0);
            while (r == 0 && colo_now_ns() < until);
            p->busy_hits += r > 0;
        }
        if (r == 0)
            r = epoll_wait(efd, evs, SLOT__MAX, timeout);
        p->busy = r > 0;
        if (r < 0 && errno != EINTR)
            return proxy_fail(&p->opts.log, 1, "epoll_wait: %s", strerror(errno));
        /* As poll() would give them, in slot order: the signal first. */
        unsigned n = 0;
        pfd[n] = (struct pollfd){ .fd = sigfd };
        slot[n++] = SLOT_SIG;
        pfd[n] = (struct pollfd){ .fd = p->wake_fd };
        slot[n++] = SLOT_WAKE;
        for (int e = 0; e < EP__MAX; e++)
            if (want[e].fd >= 0) {
                pfd[n] = (struct pollfd){ .fd = want[e].fd };
                slot[n++] = e;
            }
        for (int i = 0; i < r; i++)
            for (unsigned k = 0; k < n; k++)
                if ((unsigned)slot[k] == evs[i].data.u32)
                    pfd[k].revents = (short)evs[i].events;
        p->now = colo_now_ns();
        if (r > 0) {
            /* Signals first, then new peers (the outdev's before any frame is
             * read, so that a client that connected first gets every frame),
             * then what the peers sent. */
            for (unsigned i = 0; i < n; i++) {
                if (!pfd[i].revents)
                    continue;
                if (slot[i] == SLOT_SIG) {
                    struct signalfd_siginfo si;   /* or an eventfd's 8 bytes */
                    if (read(sigfd, &si, sizeof(si)) > 0)
                        return 0;
                } else if (slot[i] == SLOT_WAKE) {
                    take_wake(p);
                    pfd[i].revents = 0;
                } else if (pfd[i].fd == p->ep[slot[i]].lfd) {
                    accept_peer(p, (enum proxy_endpoint)slot[i]);
                    pfd[i].revents = 0;
                }
            }
            bool read[2] = { false, false }, got[2] = { false, false };
            for (unsigned i = 0; i < n; i++) {
                if (!pfd[i].revents || slot[i] == SLOT_SIG || slot[i] == SLOT_WAKE)
                    continue;
                switch (slot[i]) {
                case EP_PRIMARY:
                case EP_SECONDARY:
                    if (p->ep[slot[i]].fd >= 0) {
                        read[slot[i]] = true;
                        got[slot[i]] = read_input(p, (enum proxy_endpoint)slot[i]);
                    }
                    break;
                case EP_OUTDEV:
                    if (p->ep[EP_OUTDEV].fd >= 0 && (pfd[i].revents & ~POLLOUT))
                        read_outdev(p);
                    break;
                case EP_NOTIFY:
                    if (p->notify.fd >= 0 && (pfd[i].revents & POLLOUT) &&
                        proxy_notify_flush(&p->notify) < 0)
                        proxy_notify_detach(&p->notify);
                    if (p->notify.fd >= 0 && (pfd[i].revents & ~POLLOUT))
                        proxy_notify_read(&p->notify);
                    break;
                default:
                    break;
                }
            }
            /* The other guest's copy of what one input gave is often there
             * already: read it now rather than after another wait (half
             * the wakeups in a ping-pong). */
            if (got[EP_PRIMARY] && !read[EP_SECONDARY] && p->ep[EP_SECONDARY].fd >= 0)
                read_input(p, EP_SECONDARY);
            if (got[EP_SECONDARY] && !read[EP_PRIMARY] && p->ep[EP_PRIMARY].fd >= 0 &&
                proxy_outq_len(&p->out) <= PROXY_OUTQ_HIGH)
                read_input(p, EP_PRIMARY);
        }
        if (p->now - p->last_tick >= PROXY_TICK_MS * COLO_NS_PER_MS) {
            colo_compare_tick(p->cmp, p->now);
            p->last_tick = p->now;
        }
        out_flush(p);
        if (r > 0)
            p->snap_dirty = true;
        if (p->snap_dirty && p->now - p->snap_ns >= PROXY_SNAPSHOT_MS * COLO_NS_PER_MS)
            snapshot(p);
    }
}
