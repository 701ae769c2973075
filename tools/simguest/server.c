/* server.c - the control socket: pidfile, listen, the poll loop, and one
 * handler per op (sim-proto.h). One thread serves every client in turn,
 * so ops never overlap. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/digest.h"
#include "macro.h"
#include "server.h"

struct client {
    int fd;
    int xfer_fd;          /* this client's transfer bitmap, or -1 */
    unsigned long *xfer;
    size_t xfer_len;
};

struct server {
    char sock_path[PATH_MAX];
    char pid_path[PATH_MAX];
    int listen_fd;
    int pid_fd;
    bool quit;
    struct client clients[SIM_MAX_CLIENTS];
    unsigned nclients;
    struct sim_req req;
    struct sim_rsp rsp;
    char why[SIM_MSG_MAX];
};

static int mkdir_private(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return negative_errno();
    if (lstat(path, &st) < 0)
        return negative_errno();
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    return 0;
}

static int pidfile_take(struct server *s, const char *name)
{
    char buf[32];
    int n;

    s->pid_fd = open(s->pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->pid_fd < 0) {
        int r = negative_errno();
        fprintf(stderr, "colo-simguest: cannot open %s: %s\n", s->pid_path, strerror(-r));
        return r;
    }
    if (flock(s->pid_fd, LOCK_EX | LOCK_NB) < 0) {
        int r = errno == EWOULDBLOCK ? -EEXIST : negative_errno();
        n = (int)pread(s->pid_fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        fprintf(stderr, "colo-simguest: guest %s is already running (pid %s)\n",
                name, *buf ? buf : "?");
        return r;
    }
    n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (ftruncate(s->pid_fd, 0) < 0 || pwrite(s->pid_fd, buf, (size_t)n, 0) != n) {
        int r = negative_errno();
        fprintf(stderr, "colo-simguest: cannot write %s: %s\n", s->pid_path, strerror(-r));
        return r;
    }
    return 0;
}

static int listen_on(struct server *s)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int r;

    memcpy(sa.sun_path, s->sock_path, strlen(s->sock_path) + 1);
    s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->listen_fd < 0)
        goto fail;
    /* We hold the pidfile lock: a socket left here is a dead guest's. */
    if (unlink(s->sock_path) < 0 && errno != ENOENT)
        goto fail;
    if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(s->sock_path, 0600) < 0 || listen(s->listen_fd, SIM_MAX_CLIENTS) < 0)
        goto fail;
    return 0;
fail:
    r = negative_errno();
    fprintf(stderr, "colo-simguest: cannot listen on %s: %s\n", s->sock_path, strerror(-r));
    return r;
}

int server_open(const char *rundir, const char *name, struct server **out)
{
    char dir[PATH_MAX];
    struct server *s;
    int r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->listen_fd = s->pid_fd = -1;
    if ((size_t)snprintf(dir, sizeof(dir), "%s/sim", rundir) >= sizeof(dir) ||
        (size_t)snprintf(s->pid_path, sizeof(s->pid_path), "%s/%s.pid", dir, name) >= sizeof(s->pid_path) ||
        (size_t)snprintf(s->sock_path, sizeof(s->sock_path), "%s/%s.sock", dir, name) >=
            sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "colo-simguest: socket path %s/%s.sock is too long\n", dir, name);
        free(s);
        return -ENAMETOOLONG;
    }
    if ((r = mkdir_private(rundir)) < 0 || (r = mkdir_private(dir)) < 0) {
        fprintf(stderr, "colo-simguest: cannot create directory %s: %s\n", dir, strerror(-r));
        free(s);
        return r;
    }
    r = pidfile_take(s, name);
    if (r < 0) {
        s->pid_path[0] = '\0'; /* not ours: leave it */
        s->sock_path[0] = '\0';
        server_free(s);
        return r;
    }
    r = listen_on(s);
    if (r < 0) {
        server_free(s);
        return r;
    }
    *out = s;
    return 0;
}

static void remove_files(struct server *s)
{
    if (s->sock_path[0])
        unlink(s->sock_path);
    if (s->pid_path[0])
        unlink(s->pid_path);
    s->sock_path[0] = s->pid_path[0] = '\0';
}

static void client_drop(struct server *s, unsigned i)
{
    struct client *c = &s->clients[i];

    closep(&c->fd);
    closep(&c->xfer_fd);
    if (c->xfer)
        munmap(c->xfer, c->xfer_len);
    s->clients[i] = s->clients[--s->nclients];
}

void server_free(struct server *s)
{
    if (!s)
        return;
    while (s->nclients)
        client_drop(s, 0);
    remove_files(s);
    closep(&s->listen_fd);
    closep(&s->pid_fd);
    free(s);
}

/* The per-client transfer bitmap, made on first use. */
static int xfer_get(struct client *c, const struct guest *g, char *why, size_t whylen)
{
    size_t len = DIV_ROUND_UP(g->dirty_words * sizeof(unsigned long), SIM_PAGE_SIZE) * SIM_PAGE_SIZE;
    int r;

    if (c->xfer_fd >= 0)
        return 0;
    c->xfer_fd = memfd_create("colo-simguest-bitmap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (c->xfer_fd < 0 || ftruncate(c->xfer_fd, (off_t)len) < 0 ||
        fcntl(c->xfer_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto fail;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->xfer_fd, 0);
    if (p == MAP_FAILED)
        goto fail;
    c->xfer = p;
    c->xfer_len = len;
    return 0;
fail:
    r = negative_errno();
    snprintf(why, whylen, "cannot create the transfer bitmap: %s", strerror(-r));
    closep(&c->xfer_fd);
    c->xfer_fd = -1;
    return r;
}

/* Ops that Xen does with the domain paused for the while: pause if running,
 * do, resume. */
typedef int state_fn(struct server *s, struct guest *g);

static int paused_do(struct server *s, struct guest *g, state_fn *fn)
{
    bool was_paused = guest_paused(g);
    int r;

    if (!was_paused)
        guest_pause(g);
    r = fn(s, g);
    if (!was_paused)
        guest_unpause(g, s->why, sizeof(s->why));
    return r;
}

static int do_context_get(struct server *s, struct guest *g)
{
    int n = guest_context_get(g, s->rsp.data, sizeof(s->rsp.data), s->why, sizeof(s->why));
    if (n >= 0)
        s->rsp.len = (uint32_t)n;
    return n < 0 ? n : 0;
}

static int do_context_set(struct server *s, struct guest *g)
{
    return guest_context_set(g, s->req.data, s->req.len, s->why, sizeof(s->why));
}

static int do_devstate_save(struct server *s, struct guest *g)
{
    s->rsp.len = (uint32_t)guest_devstate_get(g, s->rsp.data, sizeof(s->rsp.data));
    return 0;
}

static int do_devstate_load(struct server *s, struct guest *g)
{
    return guest_devstate_set(g, s->req.data, s->req.len, s->why, sizeof(s->why));
}

static int do_disk_verify(struct server *s, struct guest *g)
{
    char line[512];
    int64_t bad = disk_verify(g, line, sizeof(line));
    if (bad < 0) {
        size_t k = MIN(strlen(line), sizeof(s->why) - 1);
        memcpy(s->why, line, k);
        s->why[k] = '\0';
        return (int)bad;
    }
    s->rsp.val = (uint64_t)bad;
    s->rsp.len = (uint32_t)strlen(line);
    memcpy(s->rsp.data, line, s->rsp.len);
    return 0;
}

static int do_hash(struct server *s, struct guest *g)
{
    int r = guest_hash(g, s->rsp.data, s->why, sizeof(s->why));
    if (r == 0)
        s->rsp.len = COLO_DIGEST_LEN;
    return r;
}

/* Checks what every op shares; fills s->why on a refusal. */
static int req_check(struct server *s, size_t n)
{
    const struct sim_req *q = &s->req;
    bool takes_data = q->op == SIM_OP_CONTEXT_SET || q->op == SIM_OP_DEVSTATE_LOAD;
    unsigned flags_ok = (q->op == SIM_OP_LOGDIRTY_PEEK || q->op == SIM_OP_LOGDIRTY_CLEAN)
                            ? SIM_LD_F_BITMAP
                            : q->op == SIM_OP_PAUSE ? SIM_PAUSE_F_CHECKPOINT | SIM_PAUSE_F_FENCE
                            : q->op == SIM_OP_UNPAUSE ? SIM_UNPAUSE_F_FENCE : 0;

    if (n < SIM_REQ_HDR || q->magic != SIM_PROTO_MAGIC || q->len > SIM_DATA_MAX ||
        n != SIM_REQ_HDR + q->len) {
        snprintf(s->why, sizeof(s->why), "malformed request (%zu bytes)", n);
        return -EPROTO;
    }
    if (q->op == 0 || q->op >= SIM_OP_MAX_) {
        snprintf(s->why, sizeof(s->why), "unknown op %u", q->op);
        return -EOPNOTSUPP;
    }
    if (q->flags & ~flags_ok) {
        snprintf(s->why, sizeof(s->why), "unknown flags %#x for op %u", q->flags, q->op);
        return -EINVAL;
    }
    if (!takes_data && q->len) {
        snprintf(s->why, sizeof(s->why), "op %u takes no data", q->op);
        return -EINVAL;
    }
    return 0;
}

/* Handle one request; returns the status and sets *fd to attach one. */
static int dispatch(struct server *s, struct client *c, struct guest *g, int *fd)
{
    struct sim_rsp *p = &s->rsp;
    const struct sim_req *q = &s->req;
    bool clean = q->op == SIM_OP_LOGDIRTY_CLEAN;
    int r;

    switch (q->op) {
    case SIM_OP_INFO: {
        struct sim_info in;
        guest_info(g, &in);
        memcpy(p->data, &in, sizeof(in));
        p->len = sizeof(in);
        return 0;
    }
    case SIM_OP_PAUSE:
        guest_pause(g);
        if (q->flags & SIM_PAUSE_F_CHECKPOINT)
            g->ckpt_stop = true;
        if (q->flags & SIM_PAUSE_F_FENCE)
            g->fenced = true;
        return 0;
    case SIM_OP_UNPAUSE:
        if (q->flags & SIM_UNPAUSE_F_FENCE)
            g->fenced = false;
        if (g->fenced) {
            /* A checkpoint's restart under a fence: the fence holds. */
            g->ckpt_stop = false;
            return 0;
        }
        r = guest_unpause(g, s->why, sizeof(s->why));
        if (r == 0)
            g->ckpt_stop = false;
        return r;
    case SIM_OP_DESTROY:
        guest_pause(g);
        remove_files(s);
        s->quit = true;
        return 0;
    case SIM_OP_GET_MEMFD:
        p->val = g->nr_pages;
        *fd = g->memfd;
        return 0;
    case SIM_OP_GET_BITMAP_FD:
        r = xfer_get(c, g, s->why, sizeof(s->why));
        if (r < 0)
            return r;
        p->val = c->xfer_len;
        *fd = c->xfer_fd;
        return 0;
    case SIM_OP_LOGDIRTY_ENABLE:
        r = logdirty_enable(g);
        if (r < 0)
            snprintf(s->why, sizeof(s->why), "log-dirty is already enabled");
        return r;
    case SIM_OP_LOGDIRTY_OFF:
        logdirty_off(g);
        return 0;
    case SIM_OP_LOGDIRTY_PEEK:
    case SIM_OP_LOGDIRTY_CLEAN:
        if ((q->flags & SIM_LD_F_BITMAP) && !c->xfer) {
            snprintf(s->why, sizeof(s->why), "no transfer bitmap: ask GET_BITMAP_FD first");
            return -EINVAL;
        }
        p->val = logdirty_copy(g, (q->flags & SIM_LD_F_BITMAP) ? c->xfer : NULL, clean);
        return 0;
    case SIM_OP_CONTEXT_GET:
        return paused_do(s, g, do_context_get);
    case SIM_OP_CONTEXT_SET:
        return paused_do(s, g, do_context_set);
    case SIM_OP_DEVSTATE_SAVE:
        return paused_do(s, g, do_devstate_save);
    case SIM_OP_DEVSTATE_LOAD:
        return paused_do(s, g, do_devstate_load);
    case SIM_OP_HASH:
        return paused_do(s, g, do_hash);
    case SIM_OP_DISK_VERIFY:
        return paused_do(s, g, do_disk_verify);
    }
    return -EOPNOTSUPP; /* req_check refused it already */
}

/* Serve one message from client i. Returns false to drop the client. */
static bool serve(struct server *s, unsigned i, struct guest *g)
{
    struct client *c = &s->clients[i];
    struct sim_rsp *p = &s->rsp;
    int fd = -1, r;

    ssize_t n = sim_recv(c->fd, &s->req, sizeof(s->req), NULL);
    if (n == -EAGAIN || n == -EINTR)
        return true;
    if (n <= 0 && n != -EMSGSIZE && n != -EPROTO)
        return false; /* gone */
    memset(p, 0, SIM_RSP_HDR);
    s->why[0] = '\0';
    r = n < 0 ? (int)n : req_check(s, (size_t)n);
    if (n < 0)
        snprintf(s->why, sizeof(s->why), "malformed request: %s", strerror((int)-n));
    if (r == 0)
        r = dispatch(s, c, g, &fd);
    p->magic = SIM_PROTO_MAGIC;
    p->op = n >= (ssize_t)SIM_REQ_HDR ? s->req.op : 0;
    p->seq = n >= (ssize_t)SIM_REQ_HDR ? s->req.seq : 0;
    p->status = r;
    if (r < 0) {
        size_t m = strlen(s->why);
        memcpy(p->data, s->why, m);
        p->len = (uint32_t)m;
        p->val = 0;
        fd = -1;
    }
    if (sim_send(c->fd, p, SIM_RSP_HDR + p->len, fd) < 0)
        return false;
    return n > 0 && r != -EPROTO; /* after a malformed message: drop */
}

static void accept_one(struct server *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (s->nclients == SIM_MAX_CLIENTS) {
        close(fd); /* full: the client sees EOF */
        return;
    }
    s->clients[s->nclients++] = (struct client){ .fd = fd, .xfer_fd = -1 };
}

int server_run(struct server *s, struct guest *g, int sigfd)
{
    struct pollfd pfd[2 + SIM_MAX_CLIENTS];

    while (!s->quit) {
        unsigned n = s->nclients;

        pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
        for (unsigned i = 0; i < n; i++)
            pfd[2 + i] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
        if (poll(pfd, 2 + n, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "colo-simguest: poll: %s\n", strerror(errno));
            break;
        }
        if (pfd[0].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof(si)) == sizeof(si))
                break;
        }
        /* Backwards: dropping client i moves the last one into its slot. */
        for (unsigned i = n; i-- > 0 && !s->quit;)
            if (pfd[2 + i].revents && !serve(s, i, g))
                client_drop(s, i);
        if (pfd[1].revents && !s->quit)
            accept_one(s);
    }
    return 0;
}
