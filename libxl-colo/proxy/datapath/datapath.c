/* datapath.c - mirror, redirect and release on real interfaces (datapath.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "json.h"
#include "macro.h"
#include "proxy/datapath/datapath.h"
#include "proxy/datapath/rewrite.h"
#include "proxy/frame.h"
#include "proxy/service/reader.h"
#include "unix_sock.h"

static const char *const if_option[DP_IF__MAX] = { "--client-if", "--primary-if", "--secondary-if" };
static const char *const sock_option[DP_SOCK__MAX] = { "--primary-in", "--secondary-in", "--outdev" };

struct dp {
    struct colo_ifsock in[DP_IF__MAX];
    int sock[DP_SOCK__MAX];
    struct proxy_reader out;            /* the proxy's releases */
    uint64_t mirrored, redirected[2], released, sock_drops[2];
    uint64_t direct;                    /* the secondary's, to the client after failover */
    bool failover;
    int broken;                         /* a socket whose record was cut: DP_SOCK__MAX if none */
    colo_rewriter *rw;
    const struct proxy_log *log;
};

/* A guest's frame to the proxy, as one record. A record is never sent in
 * part: one the socket has no room for is dropped and counted, as a full
 * queue drops; one it took in part is finished, or, if the proxy takes
 * nothing more for a second, the stream is cut and the datapath stops. */
static void redirect(struct dp *d, int which, const uint8_t *frame, size_t len)
{
    uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    struct iovec iov[2] = { { hdr, 4 }, { (void *)frame, len } };
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
    if (d->broken != DP_SOCK__MAX)
        return;
    ssize_t n = sendmsg(d->sock[which], &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        d->sock_drops[which]++;
        return;
    }
    /* The rest, blocking: the socket's send timeout (1 s) bounds each try. */
    size_t done = (size_t)n;
    while (done < 4 + len) {
        const uint8_t *p = done < 4 ? hdr + done : frame + (done - 4);
        size_t left = done < 4 ? 4 - done : 4 + len - done;
        n = send(d->sock[which], p, left, MSG_NOSIGNAL);
        if (n <= 0) {
            d->broken = which;
            return;
        }
        done += (size_t)n;
    }
    d->redirected[which]++;
}

/* The secondary's frame, renumbered: to the proxy, or after a failover
 * to the client. */
static void from_secondary(void *opaque, const uint8_t *frame, size_t len)
{
    struct dp *d = opaque;
    if (!d->failover)
        redirect(d, DP_SIN, frame, len);
    else if (colo_ifsock_send(&d->in[DP_CLIENT], frame, len) == 0)
        d->direct++;
}

static void on_release(void *opaque, const uint8_t *frame, size_t len)
{
    struct dp *d = opaque;
    if (colo_ifsock_send(&d->in[DP_CLIENT], frame, len) == 0)
        d->released++;
}

/* The counters, one JSON line on fd (json.h writes it: an interface's
 * name is the operator's, escaped). */
static void counters(const struct dp *d, int fd)
{
    if (fd < 0)
        return;
    struct colo_rewrite_counters rc = { 0 };
    if (d->rw)
        colo_rewriter_counters(d->rw, &rc);
    _cleanup_(colo_json_freep) colo_json *j = colo_json_new();
    if (!j)
        return;
    colo_json_put_u64(j, "mirrored", d->mirrored);
    colo_json_put_u64(j, "redirected_primary", d->redirected[0]);
    colo_json_put_u64(j, "redirected_secondary", d->redirected[1]);
    colo_json_put_u64(j, "released", d->released);
    colo_json_put_u64(j, "redirect_drops", d->sock_drops[0] + d->sock_drops[1]);
    colo_json_put_bool(j, "failover", d->failover);
    colo_json_put_u64(j, "direct", d->direct);
    colo_json_open(j, "rewrite");
    colo_json_put_u64(j, "connections", rc.connections);
    colo_json_put_u64(j, "from_secondary", rc.rewritten_from_secondary);
    colo_json_put_u64(j, "to_secondary", rc.rewritten_to_secondary);
    colo_json_put_u64(j, "held", rc.held);
    colo_json_put_u64(j, "table_full", rc.table_full);
    colo_json_close(j);
    for (int i = 0; i < DP_IF__MAX; i++) {
        colo_json_open(j, d->in[i].name);
        colo_json_put_u64(j, "rx", d->in[i].rx);
        colo_json_put_u64(j, "tx", d->in[i].tx);
        colo_json_put_u64(j, "rx_too_big", d->in[i].rx_big);
        colo_json_put_u64(j, "tx_errors", d->in[i].tx_err);
        colo_json_put_u64(j, "checksums_filled", d->in[i].csum_filled);
        colo_json_close(j);
    }
    const char *text;
    size_t len;
    if (colo_json_finish(j, &text, &len) == 0)
        dprintf(fd, "%.*s\n", (int)len, text);
}

/* Everything an interface has now: 0, or 1 on an error (said). */
static int drain(struct dp *d, enum colo_dp_if i)
{
    static _Thread_local uint8_t buf[COLO_IF_FRAME_MAX];
    for (int k = 0; k < 64; k++) {
        ssize_t n = colo_ifsock_recv(&d->in[i], buf);
        if (n < 0)
            return proxy_fail(d->log, 1, "%s %s: %s", if_option[i], d->in[i].name,
                              strerror((int)-n));
        if (n == 0)
            return 0;
        struct colo_frame f;
        bool parsed = colo_frame_parse(buf, (size_t)n, &f) == COLO_DROP_NONE;
        if (i == DP_CLIENT) {
            /* The primary's copy as it came; the secondary's renumbered. */
            if (!d->failover)
                colo_ifsock_send(&d->in[DP_PRIMARY], buf, (size_t)n);
            if (parsed)
                colo_rewrite_to_secondary(d->rw, buf, &f);
            colo_ifsock_send(&d->in[DP_SECONDARY], buf, (size_t)n);
            d->mirrored++;
        } else if (i == DP_PRIMARY) {
            if (parsed)
                colo_rewrite_from_primary(d->rw, buf, &f);
            if (!d->failover)
                redirect(d, DP_PIN, buf, (size_t)n);
        } else if (!parsed || colo_rewrite_from_secondary(d->rw, buf, (size_t)n, &f) == 0) {
            from_secondary(d, buf, (size_t)n);
        }
    }
    return 0;
}

int colo_datapath_run(const struct colo_datapath_opts *o, int stop_fd, int failover_fd,
                      int counters_fd)
{
    struct dp d = { .log = &o->log, .broken = DP_SOCK__MAX };
    char why[256];
    int rc = 1;

    for (int i = 0; i < DP_IF__MAX; i++)
        d.in[i].fd = -1;
    for (int s = 0; s < DP_SOCK__MAX; s++)
        d.sock[s] = -1;
    if (proxy_reader_init(&d.out, false, COLO_FRAME_MAX) < 0 ||
        colo_rewriter_new(from_secondary, &d, &d.rw) < 0) {
        proxy_fail(d.log, 1, "out of memory");
        goto out;
    }
    for (int i = 0; i < DP_IF__MAX; i++)
        if (colo_ifsock_open(&d.in[i], o->ifname[i], why, sizeof(why)) < 0) {
            proxy_fail(d.log, 1, "%s %s", if_option[i], why);
            goto out;
        }
    for (int s = 0; s < DP_SOCK__MAX; s++) {
        d.sock[s] = colo_unix_connect(o->path[s]);
        if (d.sock[s] < 0) {
            proxy_fail(d.log, 1, "%s %s: cannot connect: %s", sock_option[s], o->path[s],
                       strerror(-d.sock[s]));
            goto out;
        }
        struct timeval tv = { .tv_sec = 1 };
        setsockopt(d.sock[s], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    proxy_say(d.log, PROXY_LOG_INFO, "forwarding: %s to %s and %s; %s and %s to the proxy; "
              "its releases to %s", o->ifname[DP_CLIENT], o->ifname[DP_PRIMARY],
              o->ifname[DP_SECONDARY], o->ifname[DP_PRIMARY], o->ifname[DP_SECONDARY],
              o->ifname[DP_CLIENT]);
    for (;;) {
        struct pollfd fds[] = {
            { .fd = stop_fd, .events = POLLIN },
            { .fd = d.in[DP_CLIENT].fd, .events = POLLIN },
            { .fd = d.in[DP_PRIMARY].fd, .events = POLLIN },
            { .fd = d.in[DP_SECONDARY].fd, .events = POLLIN },
            { .fd = d.sock[DP_OUT], .events = POLLIN },
            { .fd = d.sock[DP_PIN], .events = POLLIN },
            { .fd = d.sock[DP_SIN], .events = POLLIN },
            { .fd = d.failover ? -1 : failover_fd, .events = POLLIN },
        };
        if (poll(fds, ARRAY_SIZE(fds), -1) < 0) {
            if (errno == EINTR)
                continue;
            proxy_fail(d.log, 1, "poll: %s", strerror(errno));
            goto out;
        }
        if (fds[0].revents) {
            rc = 0;
            goto out;
        }
        if (fds[7].revents) {
            uint8_t scratch[256];
            if (read(failover_fd, scratch, sizeof(scratch)) < 0) {
                /* EAGAIN: taken already */
            }
            d.failover = true;
            colo_rewriter_failover(d.rw);
            close_reset(&d.sock[DP_PIN]);
            close_reset(&d.sock[DP_SIN]);
            close_reset(&d.sock[DP_OUT]);
            proxy_say(d.log, PROXY_LOG_WARN, "failover: the primary is gone; %s now goes to "
                      "%s alone, and its frames straight to %s, renumbered",
                      o->ifname[DP_CLIENT], o->ifname[DP_SECONDARY], o->ifname[DP_CLIENT]);
        }
        for (int i = 0; i < DP_IF__MAX; i++)
            if (fds[1 + i].revents && drain(&d, (enum colo_dp_if)i))
                goto out;
        if (d.broken != DP_SOCK__MAX) {
            proxy_fail(d.log, 1, "%s %s: the proxy took no data for 1 s in a record: the "
                       "stream is cut", sock_option[d.broken], o->path[d.broken]);
            goto out;
        }
        if (!d.failover && fds[4].revents) {
            int r = proxy_reader_read(&d.out, d.sock[DP_OUT], on_release, &d);
            if (r != 0) {
                proxy_fail(d.log, 1, "--outdev %s: %s", o->path[DP_OUT],
                           r > 0 ? "the proxy closed it" : strerror(-r));
                goto out;
            }
        }
        /* The inputs send us nothing: readable means the proxy closed. */
        for (int s = DP_PIN; s <= DP_SIN && !d.failover; s++)
            if (fds[5 + s].revents) {
                proxy_fail(d.log, 1, "%s %s: the proxy closed it", sock_option[s], o->path[s]);
                goto out;
            }
    }
out:
    counters(&d, counters_fd);
    for (int i = 0; i < DP_IF__MAX; i++)
        colo_ifsock_close(&d.in[i]);
    for (int s = 0; s < DP_SOCK__MAX; s++)
        close_reset(&d.sock[s]);
    proxy_reader_fini(&d.out);
    colo_rewriter_free(d.rw);
    return rc;
}
