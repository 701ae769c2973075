/*
 * disk_serve.c - libxlcolo_disk_serve(): one disk's replication sidecar,
 * launched and supervised here, and its replication link across hosts.
 *
 *   secondary  sidecar (block/sidecar.c) over the copy, exported as
 *              "replication" on its nbd.sock; a TCP
 *              listener on LISTEN: each connection is authenticated with
 *              the key (the memory link's handshake) and relayed to
 *              nbd.sock (block/nbd_relay.c)
 *   primary    sidecar over the disk; a unix listener RUN_DIR/disk/NAME.link
 *              that its replication client connects to: each connection is
 *              relayed to PEER over an authenticated stream; the whole disk
 *              mirrored to the secondary's through it (the initial sync);
 *              then its replication started through it
 * A secondary's own replication starts only at its protection's first
 * checkpoint (receive --disk, block/disks.c): the initial sync writes
 * straight into its copy.
 * One thread accepts (both listeners are its); one thread per relayed
 * connection, at most RELAYS_MAX; the caller's thread starts the sidecar
 * (its PR_SET_PDEATHSIG is that thread's) and watches it until a stop.
 */
#include "config.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "block/nbd_relay.h"
#include "block/replication.h"
#include "block/sidecar.h"
#include "colo-internal.h"
#include "stream/net.h"
#include "stream/stream.h"
#include "unix_sock.h"

#define RELAYS_MAX 4
#define HANDSHAKE_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 10000
/* The initial sync: its state read this often (sooner on a change), said
 * this often, and given up when it has not moved for this long. */
#define SYNC_POLL_MS 200
#define SYNC_SAY_MS 10000
#define SYNC_STALL_MS 60000

struct serve;

struct relay {
    struct serve *sv;
    pthread_t tid;
    bool used, done;
    int fd;                 /* the accepted connection */
};

struct serve {
    libxlcolo_ctx *ctx;
    const libxlcolo_disk_serve_options *o;
    char label[64];         /* "disk NAME" */
    const uint8_t *key;
    size_t keylen;
    char nbd_path[108];     /* secondary: the sidecar's nbd.sock */
    char link_path[108];    /* primary: what its replication client connects to */
    int lfd;                /* the listener */
    int quit_fd;            /* eventfd: every thread ends */
    pthread_t acceptor;
    bool acceptor_up;
    pthread_mutex_t lock;
    struct relay relay[RELAYS_MAX];
};

/* One relayed connection: the handshake (server on a secondary, client
 * on a primary), then the bytes both ways. */
static void *relay_main(void *opaque)
{
    struct relay *rl = opaque;
    struct serve *sv = rl->sv;
    libxlcolo_ctx *ctx = sv->ctx;
    bool secondary = sv->o->role == LIBXLCOLO_ROLE_SECONDARY;
    _cleanup_close_ int ufd = -1;
    colo_stream *s = NULL;
    int r, nfd;

    if (secondary) {
        r = colo_stream_new(ctx, rl->fd, &s);  /* takes the fd */
        rl->fd = -1;
        if (r == 0)
            r = colo_stream_handshake_server(s, sv->key, sv->keylen, HANDSHAKE_TIMEOUT_MS, NULL);
        if (r == 0 && (ufd = colo_unix_connect(sv->nbd_path)) < 0)
            r = LOG_ERRNO(ctx, ufd, "%s: cannot reach the sidecar's NBD server %s", sv->label,
                          sv->nbd_path);
    } else {
        ufd = rl->fd;
        rl->fd = -1;
        nfd = colo_net_connect(ctx, sv->o->peer_host, sv->o->peer_port, CONNECT_TIMEOUT_MS);
        r = nfd < 0 ? nfd : colo_stream_new(ctx, nfd, &s);
        if (r == 0)
            r = colo_stream_handshake_client(s, sv->key, sv->keylen, HANDSHAKE_TIMEOUT_MS, NULL);
    }
    if (r == 0) {
        LOG(ctx, INFO, "%s: replication link up", sv->label);
        r = colo_nbd_relay(ctx, sv->label, ufd, s, sv->quit_fd);
        if (r == 0)
            LOG(ctx, INFO, "%s: replication link closed", sv->label);
    }
    /* A refused peer is its own failure: the service goes on. */
    if (r < 0)
        LOG(ctx, WARN, "%s: replication link ended: %s", sv->label, strerror(-r));
    colo_stream_free(s);
    pthread_mutex_lock(&sv->lock);
    rl->done = true;
    pthread_mutex_unlock(&sv->lock);
    return NULL;
}

/* Join the relays that have ended; a free slot, or NULL when all are busy. */
static struct relay *relay_slot(struct serve *sv)
{
    struct relay *free_slot = NULL;
    for (int i = 0; i < RELAYS_MAX; i++) {
        struct relay *rl = &sv->relay[i];
        pthread_mutex_lock(&sv->lock);
        bool done = rl->used && rl->done;
        pthread_mutex_unlock(&sv->lock);
        if (done) {
            pthread_join(rl->tid, NULL);
            *rl = (struct relay){ .fd = -1 };
        }
        if (!rl->used && !free_slot)
            free_slot = rl;
    }
    return free_slot;
}

static void *acceptor_main(void *opaque)
{
    struct serve *sv = opaque;
    for (;;) {
        struct pollfd fds[2] = {
            { .fd = sv->lfd, .events = POLLIN },
            { .fd = sv->quit_fd, .events = POLLIN },
        };
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct relay *rl = relay_slot(sv);
        if (!rl) {
            LOG(sv->ctx, WARN, "%s: %d replication links already: one more refused", sv->label,
                RELAYS_MAX);
            close(fd);
            continue;
        }
        *rl = (struct relay){ .sv = sv, .used = true, .fd = fd };
        if (pthread_create(&rl->tid, NULL, relay_main, rl) != 0) {
            LOG(sv->ctx, WARN, "%s: cannot start a relay thread", sv->label);
            close(fd);
            *rl = (struct relay){ .fd = -1 };
        }
    }
    return NULL;
}

static int unix_listen(libxlcolo_ctx *ctx, const char *label, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    (void)unlink(path);  /* ours: a crashed run's, in our own directory */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, 4) < 0) {
        int r = negative_errno();
        if (fd >= 0)
            close(fd);
        return LOG_ERRNO(ctx, r, "%s: cannot listen on %s", label, path);
    }
    return fd;
}

static int check_options(libxlcolo_ctx *ctx, const libxlcolo_disk_serve_options *o)
{
    if (!colo_name_valid(o->name, LIBXLCOLO_DISK_NAME_MAX))
        return LOG_ERRNO(ctx, -EINVAL, "disk '%s': not a disk name ([A-Za-z0-9_.-], 1 to %d "
                         "characters)", o->name ? o->name : "", LIBXLCOLO_DISK_NAME_MAX);
    if (!o->image || !o->image[0])
        return LOG_ERRNO(ctx, -EINVAL, "disk %s: no image", o->name);
    if (o->role == LIBXLCOLO_ROLE_SECONDARY && o->listen_port == 0)
        return LOG_ERRNO(ctx, -EINVAL, "disk %s: a secondary needs a port to listen on",
                         o->name);
    if (o->role == LIBXLCOLO_ROLE_PRIMARY && (!o->peer_host || !o->peer_host[0] ||
                                              o->peer_port == 0))
        return LOG_ERRNO(ctx, -EINVAL, "disk %s: a primary needs its secondary's HOST:PORT",
                         o->name);
    if (o->role != LIBXLCOLO_ROLE_PRIMARY && o->role != LIBXLCOLO_ROLE_SECONDARY)
        return LOG_ERRNO(ctx, -EINVAL, "disk %s: no role", o->name);
    if (!o->key_file == !o->insecure)
        return LOG_ERRNO(ctx, -EINVAL, "disk %s: exactly one of a key file and insecure mode",
                         o->name);
    return 0;
}

/* RUN_DIR and RUN_DIR/disk, 0700 when made here. */
static int make_dirs(libxlcolo_ctx *ctx, const char *run_dir, char *dir, size_t size)
{
    if (mkdir(run_dir, 0700) < 0 && errno != EEXIST)
        return LOG_ERRNO(ctx, negative_errno(), "cannot create %s", run_dir);
    int n = snprintf(dir, size, "%s/" LIBXLCOLO_DISK_DIR, run_dir);
    if (n < 0 || (size_t)n >= size)
        return LOG_ERRNO(ctx, -ENAMETOOLONG, "%s: too long", run_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return LOG_ERRNO(ctx, negative_errno(), "cannot create %s", dir);
    return 0;
}

/* Until a stop is asked (0) or the sidecar dies (-ESRCH). */
static int watch(struct serve *sv, colo_sidecar *sc)
{
    for (;;) {
        struct pollfd fds[2] = {
            { .fd = colo_sidecar_watch_fd(sc), .events = POLLIN },
            { .fd = sv->ctx->stop_fd, .events = POLLIN },
        };
        int n = poll(fds, 2, -1);
        if (n < 0 && errno != EINTR)
            return LOG_ERRNO(sv->ctx, negative_errno(), "%s: poll", sv->label);
        if (colo_stop_requested(sv->ctx, n > 0 && fds[1].revents))
            return 0;
        if (n > 0 && fds[0].revents && colo_sidecar_check(sc) < 0)
            return -ESRCH;
    }
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* The primary's initial sync (block/replication.h), until the secondary's
 * disk is the primary's: 0; 1 when a stop came first (said here); or
 * -errno. Bounded by progress, not by size: it fails only when no byte
 * moved for SYNC_STALL_MS. */
static int initial_sync(struct serve *sv, colo_qmp *q, const colo_rep_addr *addr)
{
    libxlcolo_ctx *ctx = sv->ctx;
    colo_rep_sync st = { 0 };
    uint64_t t0 = colo_now_ns(), moved = t0, said = t0, last = 0;
    int r;

    if ((r = colo_rep_sync_start(q, addr, COLO_SIDECAR_EXPORT_REP, COLO_SIDECAR_DISK,
                                 COLO_SIDECAR_SYNC)) < 0)
        return r;
    for (;;) {
        if ((r = colo_rep_sync_poll(q, COLO_SIDECAR_SYNC, SYNC_POLL_MS, &st)) < 0)
            return r;
        if (st.ready)
            break;
        if (colo_stop_requested(ctx, false)) {
            LOG(ctx, WARN, "%s: stopped during its initial sync, at %.1f of %.1f MiB",
                sv->label, mib(st.done), mib(st.total));
            return 1;
        }
        uint64_t now = colo_now_ns();
        if (st.done != last) {
            last = st.done;
            moved = now;
        } else if (now - moved > colo_ms_to_ns(SYNC_STALL_MS)) {
            return LOG_ERRNO(ctx, -ETIMEDOUT, "%s: the initial sync made no progress for %d s, "
                             "at %.1f of %.1f MiB", sv->label, SYNC_STALL_MS / 1000,
                             mib(st.done), mib(st.total));
        }
        if (now - said > colo_ms_to_ns(SYNC_SAY_MS)) {
            said = now;
            LOG(ctx, INFO, "%s: initial sync: %.1f of %.1f MiB", sv->label, mib(st.done),
                mib(st.total));
        }
    }
    LOG(ctx, INFO, "%s: initial sync done: %.1f MiB in %.1f s", sv->label, mib(st.total),
        (double)(colo_now_ns() - t0) / COLO_NS_PER_SEC);
    return 0;
}

static int serve(struct serve *sv, colo_sidecar **psc)
{
    libxlcolo_ctx *ctx = sv->ctx;
    const libxlcolo_disk_serve_options *o = sv->o;
    const char *run_dir = o->run_dir ? o->run_dir : libxlcolo_default_run_dir();
    char parent[256], dir[300];
    int r;

    if ((r = make_dirs(ctx, run_dir, parent, sizeof(parent))) < 0)
        return r;
    snprintf(dir, sizeof(dir), "%s/%s", parent, o->name);
    colo_sidecar_spec spec = { .role = o->role, .name = o->name, .image = o->image,
                               .dir = dir, .qemu = o->qemu };
    if ((r = colo_sidecar_start(ctx, &spec, psc)) < 0)
        return r;
    colo_sidecar *sc = *psc;
    colo_qmp *q = colo_sidecar_qmp(sc);

    if (o->role == LIBXLCOLO_ROLE_SECONDARY) {
        snprintf(sv->nbd_path, sizeof(sv->nbd_path), "%s", colo_sidecar_nbd(sc)->path);
        /* Its replication starts at the protection's first checkpoint
         * (block/disks.c), after the primary's initial sync. */
        if ((r = colo_rep_secondary_export(q, COLO_SIDECAR_DISK, COLO_SIDECAR_EXPORT_REP)) < 0)
            return r;
        sv->lfd = colo_net_listen(ctx, o->listen_addr, o->listen_port);
    } else {
        if (strlen(parent) + strlen(o->name) + 6 >= sizeof(sv->link_path))
            return LOG_ERRNO(ctx, -ENAMETOOLONG, "%s: %s is too long for a socket's path",
                             sv->label, parent);
        memcpy(sv->link_path, parent, strlen(parent));
        snprintf(sv->link_path + strlen(parent), sizeof(sv->link_path) - strlen(parent),
                 "/%s.link", o->name);
        sv->lfd = unix_listen(ctx, sv->label, sv->link_path);
    }
    if (sv->lfd < 0)
        return sv->lfd;
    if (pthread_create(&sv->acceptor, NULL, acceptor_main, sv) != 0)
        return LOG_ERRNO(ctx, -EAGAIN, "%s: cannot start the acceptor thread", sv->label);
    sv->acceptor_up = true;
    if (o->role == LIBXLCOLO_ROLE_PRIMARY) {
        colo_rep_addr addr;
        snprintf(addr.path, sizeof(addr.path), "%s", sv->link_path);
        /* The replication client joins while the mirror still holds the
         * two disks equal, so that no write falls between them. */
        if ((r = initial_sync(sv, q, &addr)) != 0 ||
            (r = colo_rep_primary_start(q, &addr, COLO_SIDECAR_EXPORT_REP, COLO_SIDECAR_QUORUM,
                                        COLO_SIDECAR_CLIENT)) < 0 ||
            (r = colo_rep_sync_finish(q, COLO_SIDECAR_SYNC, COLO_SIDECAR_TIMEOUT_MS)) < 0)
            return r < 0 ? r : 0;
    }
    colo_sidecar_release_qmp(sc);  /* the protection's now */

    char uri[256];
    snprintf(uri, sizeof(uri), "nbd+unix:///" COLO_SIDECAR_EXPORT_GUEST "?socket=%s",
             colo_sidecar_nbd(sc)->path);
    LOG(ctx, INFO, "%s: sidecar (pid %d) serving, %s", sv->label, (int)colo_sidecar_pid(sc),
        o->role == LIBXLCOLO_ROLE_PRIMARY ? "replication running"
                                          : "its replication to start at the first checkpoint");
    libxlcolo_event ev = { .type = LIBXLCOLO_EVENT_DISK_READY, .role = o->role,
                           .message = uri };
    colo_emit(ctx, &ev);
    return watch(sv, sc);
}

int libxlcolo_disk_serve(libxlcolo_ctx *ctx, const libxlcolo_disk_serve_options *o)
{
    int r = check_options(ctx, o);
    if (r < 0)
        return r;
    if (!colo_run_begin(ctx))
        return LOG_ERRNO(ctx, -EBUSY, "a protection already runs in this context");
    colo_run_up(ctx);

    struct serve sv = { .ctx = ctx, .o = o, .lfd = -1, .quit_fd = -1 };
    pthread_mutex_init(&sv.lock, NULL);
    for (int i = 0; i < RELAYS_MAX; i++)
        sv.relay[i].fd = -1;
    snprintf(sv.label, sizeof(sv.label), "disk %s", o->name);
    uint8_t *key = NULL;
    size_t keylen = 0;
    colo_sidecar *sc = NULL;

    if (o->key_file && (r = colo_key_load(ctx, o->key_file, &key, &keylen)) < 0)
        goto out;
    sv.key = key;
    sv.keylen = keylen;
    sv.quit_fd = eventfd(0, EFD_CLOEXEC);
    if (sv.quit_fd < 0) {
        r = LOG_ERRNO(ctx, negative_errno(), "%s: eventfd", sv.label);
        goto out;
    }
    r = serve(&sv, &sc);
out:
    if (sv.quit_fd >= 0) {
        uint64_t one = 1;
        if (write(sv.quit_fd, &one, sizeof(one)) != sizeof(one))
            LOG(ctx, WARN, "%s: cannot wake the relays", sv.label);
    }
    if (sv.acceptor_up)
        pthread_join(sv.acceptor, NULL);
    for (int i = 0; i < RELAYS_MAX; i++)
        if (sv.relay[i].used)
            pthread_join(sv.relay[i].tid, NULL);
    colo_sidecar_stop(sc);
    closep(&sv.lfd);
    closep(&sv.quit_fd);
    if (sv.link_path[0])
        unlink(sv.link_path);
    colo_key_free(key, keylen);
    pthread_mutex_destroy(&sv.lock);
    colo_run_end(ctx);
    return r;
}
