/*
 * link_accept.c - the secondary's door (colo_link_accept, stream/link.h).
 *
 * Anyone who can reach the port may knock: a port scan, a second primary
 * with the wrong key, a peer that connects and says nothing. None of them
 * may keep the genuine primary out. So each connection gets its handshake
 * in a thread of its own (at most PEERS_MAX at once, each bounded by the
 * handshake's deadline), a failed one is refused in one line while the
 * door stays open, and the first to authenticate is the primary: the
 * others still in their handshake are cut off (shutdown) and joined.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream/link.h"
#include "stream/net.h"

#define PEERS_MAX 8

struct door;

struct knock {
    struct door *d;
    pthread_t tid;
    bool used;
    bool done;              /* under d->lock */
    int fd;                 /* ours until reaped (the stream has a dup): shutdown
                             * cuts its handshake off, and the number is never
                             * another socket's meanwhile */
    int r;
    colo_stream *s;
    char peer[80];
};

struct door {
    libxlcolo_ctx *ctx;
    const libxlcolo_options *opt;
    const uint8_t *key;
    size_t keylen;
    pthread_mutex_t lock;
    int wake[2];            /* a handshake ended */
    struct knock k[PEERS_MAX];
};

static void *knock_main(void *opaque)
{
    struct knock *k = opaque;
    struct door *d = k->d;
    colo_stream *s = NULL;
    int fd = fcntl(k->fd, F_DUPFD_CLOEXEC, 0);
    int r = fd < 0 ? negative_errno()
                   : colo_link_handshake(d->ctx, fd, d->opt, d->key, d->keylen, true, &s);
    pthread_mutex_lock(&d->lock);
    k->r = r;
    k->s = s;
    k->done = true;
    pthread_mutex_unlock(&d->lock);
    ssize_t w = write(d->wake[1], "x", 1);
    (void)w;  /* a full pipe already wakes the door */
    return NULL;
}

/* Join every ended handshake; the first good one becomes *won. */
static void reap(struct door *d, colo_stream **won)
{
    for (int i = 0; i < PEERS_MAX; i++) {
        struct knock *k = &d->k[i];
        pthread_mutex_lock(&d->lock);
        bool done = k->used && k->done;
        pthread_mutex_unlock(&d->lock);
        if (!done)
            continue;
        pthread_join(k->tid, NULL);
        close(k->fd);
        if (k->r == 0 && !*won) {
            LOG(d->ctx, INFO, "primary %s authenticated", k->peer);
            *won = k->s;
        } else if (k->r == 0) {
            LOG(d->ctx, WARN, "a second primary %s authenticated too late: refused", k->peer);
            colo_stream_free(k->s);
        } else {
            /* Its cause has its own line (the stream's): the door stays open. */
            LOG(d->ctx, WARN, "peer %s refused (%s); still waiting for the primary", k->peer,
                strerror(-k->r));
        }
        *k = (struct knock){ .fd = -1 };
    }
}

static void let_in(struct door *d, int lfd)
{
    char peer[80] = "?";
    int fd = colo_net_accept(d->ctx, lfd, 0, peer, sizeof(peer));
    if (fd < 0)
        return;
    struct knock *k = NULL;
    for (int i = 0; i < PEERS_MAX && !k; i++)
        if (!d->k[i].used)
            k = &d->k[i];
    if (!k) {
        LOG(d->ctx, WARN, "peer %s refused: %d handshakes already under way", peer, PEERS_MAX);
        close(fd);
        return;
    }
    *k = (struct knock){ .d = d, .used = true, .fd = fd };
    snprintf(k->peer, sizeof(k->peer), "%s", peer);
    if (pthread_create(&k->tid, NULL, knock_main, k) != 0) {
        LOG(d->ctx, WARN, "peer %s refused: no thread for its handshake", peer);
        close(fd);
        *k = (struct knock){ .fd = -1 };
    }
}

int colo_link_accept(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                     const libxlcolo_options *opt, colo_stream **out)
{
    return colo_link_accept_until(ctx, addr, port, opt, -1, out);
}

int colo_link_accept_until(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                           const libxlcolo_options *opt, int stop_fd, colo_stream **out)
{
    uint8_t *key;
    size_t keylen;
    int r = colo_link_key(ctx, opt, &key, &keylen);
    if (r < 0)
        return r;
    struct door d = { .ctx = ctx, .opt = opt, .key = key, .keylen = keylen };
    colo_stream *won = NULL;
    int lfd = colo_net_listen(ctx, addr, port);
    if (lfd < 0) {
        colo_key_free(key, keylen);
        return lfd;
    }
    if (pipe2(d.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = LOG_ERRNO(ctx, negative_errno(), "cannot make a pipe");
        close(lfd);
        colo_key_free(key, keylen);
        return r;
    }
    pthread_mutex_init(&d.lock, NULL);
    for (int i = 0; i < PEERS_MAX; i++)
        d.k[i].fd = -1;

    while (!won) {
        struct pollfd fds[3] = {
            { .fd = lfd, .events = POLLIN },
            { .fd = d.wake[0], .events = POLLIN },
            { .fd = stop_fd, .events = POLLIN },
        };
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            r = LOG_ERRNO(ctx, negative_errno(), "poll");
            break;
        }
        if (fds[2].revents) {
            r = -ECANCELED; /* the caller's to say */
            break;
        }
        if (fds[1].revents) {
            char buf[64];
            while (read(d.wake[0], buf, sizeof(buf)) > 0)
                ;
            reap(&d, &won);
        }
        if (!won && fds[0].revents)
            let_in(&d, lfd);
    }
    close(lfd);
    /* The handshakes still under way end now. */
    for (int i = 0; i < PEERS_MAX; i++)
        if (d.k[i].used && d.k[i].fd >= 0)
            shutdown(d.k[i].fd, SHUT_RDWR);
    for (int i = 0; i < PEERS_MAX; i++) {
        struct knock *k = &d.k[i];
        if (!k->used)
            continue;
        pthread_join(k->tid, NULL);
        close(k->fd);
        if (k->r == 0 && k->s != won)
            colo_stream_free(k->s);
    }
    close(d.wake[0]);
    close(d.wake[1]);
    pthread_mutex_destroy(&d.lock);
    colo_key_free(key, keylen);
    if (!won)
        return r < 0 ? r : -EIO;
    *out = won;
    return 0;
}
