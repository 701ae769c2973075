/* datapath.c - mirror, redirect and release on real interfaces (datapath.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
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
#include "stream/link.h"
#include "stream/net.h"
#include "unix_sock.h"

static const char *const if_option[DP_IF__MAX] = { "--client-if", "--primary-if", "--secondary-if" };
static const char *const sock_option[DP_SOCK__MAX] = { "--primary-in", "--secondary-in", "--outdev" };

enum dp_role { DP_ONE_HOST, DP_PRIMARY_HOST, DP_SECONDARY_HOST, DP_REMUS };

/* The link's records, by what they carry. */
enum dp_link { DL_CLIENT, DL_PRIMARY, DL_SECONDARY, DL__MAX };
static const uint16_t link_type[DL__MAX] = { COLO_REC_NET_CLIENT, COLO_REC_NET_PRIMARY,
                                             COLO_REC_NET_SECONDARY };

struct dp {
    enum dp_role role;
    struct colo_ifsock in[DP_IF__MAX];
    int sock[DP_SOCK__MAX];
    struct proxy_reader out;            /* the proxy's releases */
    uint64_t mirrored, redirected[2], released, sock_drops[2];
    uint64_t direct;                    /* the secondary's, to the client after failover */
    bool failover;
    int broken;                         /* a socket whose record was cut: DP_SOCK__MAX if none */
    colo_rewriter *rw;
    colo_stream *link;                  /* two hosts: NULL before it is up, and once lost */
    bool link_lost;
    uint64_t link_sent[DL__MAX], link_received[DL__MAX];
    const struct colo_datapath_opts *o;
    const struct proxy_log *log;
};

/* The link failed (its stream said why): the datapath goes on without it. */
static void link_lose(struct dp *d)
{
    colo_stream_free(d->link);
    d->link = NULL;
    d->link_lost = true;
    if (d->role == DP_PRIMARY_HOST)
        proxy_say(d->log, PROXY_LOG_WARN, "the link to the secondary's host %s is lost: "
                  "going on without the secondary", d->o->link_to);
    else
        proxy_say(d->log, PROXY_LOG_WARN, "the link from the primary's host is lost: "
                  "waiting for a failover");
}

static void link_send(struct dp *d, enum dp_link what, const uint8_t *frame, size_t len)
{
    if (!d->link)
        return;
    if (colo_stream_send_buf(d->link, link_type[what], 0, frame, len) < 0)
        link_lose(d);
    else
        d->link_sent[what]++;
}

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

/* The secondary's frame, renumbered: to the proxy (over the link from the
 * secondary's host), or after a failover to the client. */
static void from_secondary(void *opaque, const uint8_t *frame, size_t len)
{
    struct dp *d = opaque;
    if (d->failover) {
        if (colo_ifsock_send(&d->in[DP_CLIENT], frame, len) == 0)
            d->direct++;
    } else if (d->role == DP_SECONDARY_HOST) {
        link_send(d, DL_SECONDARY, frame, len);
    } else {
        redirect(d, DP_SIN, frame, len);
    }
}

/* The client's frame for the secondary guest, renumbered for its stack. */
static void to_secondary(struct dp *d, uint8_t *frame, size_t len, const struct colo_frame *f)
{
    if (f)
        colo_rewrite_to_secondary(d->rw, frame, f);
    colo_ifsock_send(&d->in[DP_SECONDARY], frame, len);
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
    static const char *const link_name[DL__MAX] = { "client", "primary", "secondary" };
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
    if (d->role == DP_PRIMARY_HOST || d->role == DP_SECONDARY_HOST) {
        colo_json_open(j, "link");
        colo_json_put_bool(j, "lost", d->link_lost);
        colo_json_open(j, "sent");
        for (int w = 0; w < DL__MAX; w++)
            colo_json_put_u64(j, link_name[w], d->link_sent[w]);
        colo_json_close(j);
        colo_json_open(j, "received");
        for (int w = 0; w < DL__MAX; w++)
            colo_json_put_u64(j, link_name[w], d->link_received[w]);
        colo_json_close(j);
        colo_json_close(j);
    }
    for (int i = 0; i < DP_IF__MAX; i++) {
        if (!d->o->ifname[i])
            continue;
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

/* The client's frame: mirrored to both guests, or after a failover to
 * the secondary alone. */
static void from_client(struct dp *d, uint8_t *buf, size_t n, const struct colo_frame *f)
{
    if (d->failover) {
        to_secondary(d, buf, n, f);
        return;
    }
    colo_ifsock_send(&d->in[DP_PRIMARY], buf, n);
    if (d->role == DP_PRIMARY_HOST)
        link_send(d, DL_CLIENT, buf, n);    /* renumbered on the secondary's host */
    else if (d->role != DP_REMUS)
        to_secondary(d, buf, n, f);
    d->mirrored++;
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
            from_client(d, buf, (size_t)n, parsed ? &f : NULL);
        } else if (i == DP_PRIMARY) {
            if (parsed && d->role == DP_PRIMARY_HOST) {
                if (colo_rewrite_learns_from(&f))
                    link_send(d, DL_PRIMARY, buf, (size_t)n);
            } else if (parsed && d->role != DP_REMUS) {
                colo_rewrite_from_primary(d->rw, buf, &f);
            }
            if (!d->failover)
                redirect(d, DP_PIN, buf, (size_t)n);
        } else if (!parsed || colo_rewrite_from_secondary(d->rw, buf, (size_t)n, &f) == 0) {
            from_secondary(d, buf, (size_t)n);
        }
    }
    return 0;
}

/* One record of the link, when it is readable: a frame for the role. A
 * record of another role's, or a stream error, loses the link. */
static void link_read(struct dp *d)
{
    static _Thread_local uint8_t buf[COLO_IF_FRAME_MAX];
    struct colo_rec_hdr h;
    /* Readable: a record is coming, whole within a second. */
    if (colo_stream_recv(d->link, &h, buf, sizeof(buf), 1000) < 0) {
        link_lose(d);
        return;
    }
    enum dp_link what = h.type == COLO_REC_NET_CLIENT ? DL_CLIENT
                        : h.type == COLO_REC_NET_PRIMARY ? DL_PRIMARY
                        : h.type == COLO_REC_NET_SECONDARY ? DL_SECONDARY : DL__MAX;
    bool mine = d->role == DP_PRIMARY_HOST ? what == DL_SECONDARY
                                           : what == DL_CLIENT || what == DL_PRIMARY;
    if (!mine) {
        proxy_say(d->log, PROXY_LOG_ERROR, "the link: a %s record is not for the %s's host",
                  colo_rec_type_name(h.type),
                  d->role == DP_PRIMARY_HOST ? "primary" : "secondary");
        link_lose(d);
        return;
    }
    d->link_received[what]++;
    struct colo_frame f;
    bool parsed = colo_frame_parse(buf, (size_t)h.length, &f) == COLO_DROP_NONE;
    if (what == DL_SECONDARY)
        redirect(d, DP_SIN, buf, (size_t)h.length);  /* renumbered already */
    else if (what == DL_PRIMARY && parsed)
        colo_rewrite_from_primary(d->rw, buf, &f);
    else if (what == DL_CLIENT && !d->failover)
        to_secondary(d, buf, (size_t)h.length, parsed ? &f : NULL);
}

/* The link: the primary's host connects, the secondary's waits at its
 * door until one primary's host has authenticated (or stop_fd). 0, 1 on
 * an error (said), 2 when stopped while waiting. */
static int link_open(struct dp *d, int stop_fd)
{
    const struct colo_datapath_opts *o = d->o;
    const char *spec = d->role == DP_PRIMARY_HOST ? o->link_to : o->link_listen;
    _cleanup_free_ char *host = NULL;
    uint16_t port;
    int r = colo_net_parse_hostport(o->ctx, spec, COLO_DP_LINK_PORT, &host, &port);
    if (r < 0)
        return 1;
    if (d->role == DP_PRIMARY_HOST) {
        r = colo_link_connect(o->ctx, host, port, o->link_opt, &d->link);
    } else {
        proxy_say(d->log, PROXY_LOG_INFO, "waiting for the primary's host on %s", spec);
        r = colo_link_accept_until(o->ctx, host, port, o->link_opt, stop_fd, &d->link);
        if (r == -ECANCELED)
            return 2;
    }
    return r < 0 ? 1 : 0;
}

static int open_all(struct dp *d, int stop_fd)
{
    const struct colo_datapath_opts *o = d->o;
    char why[256];

    for (int i = 0; i < DP_IF__MAX; i++)
        if (o->ifname[i] && colo_ifsock_open(&d->in[i], o->ifname[i], why, sizeof(why)) < 0)
            return proxy_fail(d->log, 1, "%s %s", if_option[i], why);
    /* The secondary's host first, then the proxy: a wrong key touches
     * nothing of it. */
    if (d->role == DP_PRIMARY_HOST || d->role == DP_SECONDARY_HOST) {
        int r = link_open(d, stop_fd);
        if (r)
            return r;
    }
    for (int s = 0; s < DP_SOCK__MAX && d->role != DP_SECONDARY_HOST; s++) {
        if (s == DP_SIN && d->role == DP_REMUS)
            continue;
        d->sock[s] = colo_unix_connect(o->path[s]);
        if (d->sock[s] < 0)
            return proxy_fail(d->log, 1, "%s %s: cannot connect: %s", sock_option[s], o->path[s],
                              strerror(-d->sock[s]));
        struct timeval tv = { .tv_sec = 1 };
        setsockopt(d->sock[s], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (d->role == DP_ONE_HOST)
        proxy_say(d->log, PROXY_LOG_INFO, "forwarding: %s to %s and %s; %s and %s to the proxy; "
                  "its releases to %s", o->ifname[DP_CLIENT], o->ifname[DP_PRIMARY],
                  o->ifname[DP_SECONDARY], o->ifname[DP_PRIMARY], o->ifname[DP_SECONDARY],
                  o->ifname[DP_CLIENT]);
    else if (d->role == DP_REMUS)
        proxy_say(d->log, PROXY_LOG_INFO, "forwarding: %s to %s; %s to the proxy (Remus: no "
                  "secondary); its releases to %s", o->ifname[DP_CLIENT], o->ifname[DP_PRIMARY],
                  o->ifname[DP_PRIMARY], o->ifname[DP_CLIENT]);
    else if (d->role == DP_PRIMARY_HOST)
        proxy_say(d->log, PROXY_LOG_INFO, "forwarding: %s to %s and to the secondary's host %s; "
                  "%s and the secondary's to the proxy; its releases to %s", o->ifname[DP_CLIENT],
                  o->ifname[DP_PRIMARY], o->link_to, o->ifname[DP_PRIMARY], o->ifname[DP_CLIENT]);
    else
        proxy_say(d->log, PROXY_LOG_INFO, "forwarding: the primary's host's client frames to %s; "
                  "%s to the primary's host, renumbered; %s is the client side after a failover",
                  o->ifname[DP_SECONDARY], o->ifname[DP_SECONDARY], o->ifname[DP_CLIENT]);
    return 0;
}

/* The primary is gone: the secondary serves the client from here. On the
 * secondary's host, what its client interface queued before is what the
 * primary's host mirrored already: dropped. */
static void take_failover(struct dp *d)
{
    static _Thread_local uint8_t buf[COLO_IF_FRAME_MAX];
    d->failover = true;
    colo_rewriter_failover(d->rw);
    close_reset(&d->sock[DP_PIN]);
    close_reset(&d->sock[DP_SIN]);
    close_reset(&d->sock[DP_OUT]);
    if (d->role == DP_SECONDARY_HOST) {
        colo_stream_free(d->link);
        d->link = NULL;
        for (int k = 0; k < 4096 && colo_ifsock_recv(&d->in[DP_CLIENT], buf) > 0; k++)
            ;
    }
    proxy_say(d->log, PROXY_LOG_WARN, "failover: the primary is gone; %s now goes to "
              "%s alone, and its frames straight to %s, renumbered",
              d->o->ifname[DP_CLIENT], d->o->ifname[DP_SECONDARY], d->o->ifname[DP_CLIENT]);
}

int colo_datapath_run(const struct colo_datapath_opts *o, int stop_fd, int failover_fd,
                      int counters_fd)
{
    struct dp d = { .log = &o->log, .o = o, .broken = DP_SOCK__MAX };
    int rc = 1;

    d.role = o->link_to ? DP_PRIMARY_HOST
             : o->link_listen ? DP_SECONDARY_HOST
             : o->ifname[DP_SECONDARY] ? DP_ONE_HOST : DP_REMUS;
    for (int i = 0; i < DP_IF__MAX; i++)
        d.in[i].fd = -1;
    for (int s = 0; s < DP_SOCK__MAX; s++)
        d.sock[s] = -1;
    if (proxy_reader_init(&d.out, false, COLO_FRAME_MAX) < 0 ||
        colo_rewriter_new(from_secondary, &d, &d.rw) < 0) {
        proxy_fail(d.log, 1, "out of memory");
        goto out;
    }
    rc = open_all(&d, stop_fd);
    if (rc) {
        rc = rc == 2 ? 0 : 1;
        goto out;
    }
    rc = 1;
    for (;;) {
        /* Who is listened to: the primary's host has no failover; the
         * secondary's hears its client side only after one. */
        bool client_on = d.role != DP_SECONDARY_HOST || d.failover;
        bool proxy_on = d.role != DP_SECONDARY_HOST && !d.failover;
        struct pollfd fds[] = {
            { .fd = stop_fd, .events = POLLIN },
            { .fd = client_on ? d.in[DP_CLIENT].fd : -1, .events = POLLIN },
            { .fd = d.in[DP_PRIMARY].fd, .events = POLLIN },
            { .fd = d.in[DP_SECONDARY].fd, .events = POLLIN },
            { .fd = proxy_on ? d.sock[DP_OUT] : -1, .events = POLLIN },
            { .fd = proxy_on ? d.sock[DP_PIN] : -1, .events = POLLIN },
            { .fd = proxy_on ? d.sock[DP_SIN] : -1, .events = POLLIN },
            { .fd = d.failover || d.role == DP_PRIMARY_HOST || d.role == DP_REMUS ? -1 : failover_fd,
              .events = POLLIN },
            { .fd = d.link ? colo_stream_fd(d.link) : -1, .events = POLLIN },
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
            take_failover(&d);
        }
        for (int i = 0; i < DP_IF__MAX; i++)
            if (fds[1 + i].revents && drain(&d, (enum colo_dp_if)i))
                goto out;
        if (fds[8].revents && d.link)
            link_read(&d);
        if (d.broken != DP_SOCK__MAX) {
            proxy_fail(d.log, 1, "%s %s: the proxy took no data for 1 s in a record: the "
                       "stream is cut", sock_option[d.broken], o->path[d.broken]);
            goto out;
        }
        if (proxy_on && fds[4].revents) {
            int r = proxy_reader_read(&d.out, d.sock[DP_OUT], on_release, &d);
            if (r != 0) {
                proxy_fail(d.log, 1, "--outdev %s: %s", o->path[DP_OUT],
                           r > 0 ? "the proxy closed it" : strerror(-r));
                goto out;
            }
        }
        /* The inputs send us nothing: readable means the proxy closed. */
        for (int s = DP_PIN; s <= DP_SIN && proxy_on; s++)
            if (fds[5 + s].revents && d.sock[s] >= 0) {
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
    colo_stream_free(d.link);
    proxy_reader_fini(&d.out);
    colo_rewriter_free(d.rw);
    return rc;
}
