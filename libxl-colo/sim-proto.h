/*
 * sim-proto.h - the control protocol of a simulated guest (colo-simguest),
 * shared by the guest, its client subcommands and the sim backend.
 *
 * $run_dir/sim/NAME.sock is a unix SOCK_SEQPACKET socket (dir 0700, socket
 * 0600). A client sends one struct sim_req and reads one struct sim_rsp, in
 * turn; both are sent as their fixed header plus `len` bytes of data, and a
 * receiver refuses any message whose size is not exactly that, whose len is
 * above SIM_DATA_MAX, or that was truncated. status is 0 or -errno; on an
 * error, data holds a one-line message (not NUL-terminated on the wire).
 *
 *   op               request data      response
 *   INFO             -                 struct sim_info
 *   PAUSE, UNPAUSE   flags (PAUSE)     - (PAUSE returns once every vCPU is parked)
 *   DESTROY          -                 - (socket and pidfile are gone; then it exits)
 *   GET_MEMFD        -                 val = nr_pages, fd: the guest's memory
 *   GET_BITMAP_FD    -                 val = bytes, fd: this connection's
 *                                      transfer bitmap (unsigned long words)
 *   LOGDIRTY_ENABLE  -                 - (-EINVAL if already enabled, as Xen)
 *   LOGDIRTY_OFF     -                 -
 *   LOGDIRTY_PEEK    flags             val = dirty count; with SIM_LD_F_BITMAP
 *   LOGDIRTY_CLEAN   flags             the log is copied into the transfer bitmap
 *   CONTEXT_GET      -                 the context blob (below)
 *   CONTEXT_SET      the context blob  - (guest paused)
 *   DEVSTATE_SAVE    -                 the devstate blob (below)
 *   DEVSTATE_LOAD    the devstate blob - (guest paused)
 *   HASH             -                 32-byte digest (digest.h) of memory +
 *                                      context; pauses and resumes if running
 *
 * Memory and bitmap memfds are sealed against shrinking, so a mapping of
 * their whole size can never fault with SIGBUS.
 */
#ifndef COLO_SIM_PROTO_H
#define COLO_SIM_PROTO_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SIM_PROTO_MAGIC 0x314d4953u /* "SIM1" */
#define SIM_DATA_MAX (16u * 1024)
#define SIM_MSG_MAX 160             /* error message bytes */
#define SIM_NAME_MAX 63             /* guest name characters */
#define SIM_MAX_VCPUS 64
#define SIM_MEM_MIN (16ull << 20)
#define SIM_MEM_MAX (16ull << 30)
#define SIM_MAX_CLIENTS 16
#define SIM_TIMEOUT_MS 10000        /* any op but HASH */

enum sim_op {
    SIM_OP_INFO = 1,
    SIM_OP_PAUSE,
    SIM_OP_UNPAUSE,
    SIM_OP_DESTROY,
    SIM_OP_GET_MEMFD,
    SIM_OP_GET_BITMAP_FD,
    SIM_OP_LOGDIRTY_ENABLE,
    SIM_OP_LOGDIRTY_OFF,
    SIM_OP_LOGDIRTY_PEEK,
    SIM_OP_LOGDIRTY_CLEAN,
    SIM_OP_CONTEXT_GET,
    SIM_OP_CONTEXT_SET,
    SIM_OP_DEVSTATE_SAVE,
    SIM_OP_DEVSTATE_LOAD,
    SIM_OP_HASH,
    SIM_OP_MAX_,
};

/* LOGDIRTY_PEEK/CLEAN flags */
#define SIM_LD_F_BITMAP 0x1u /* copy the log into the transfer bitmap */
/* PAUSE flags */
#define SIM_PAUSE_F_CHECKPOINT 0x1u /* a toolstack's checkpoint stop: recorded
                                     * (SIM_INFO_CKPT_STOP) until UNPAUSE, so a
                                     * toolstack killed meanwhile is seen */

struct sim_req {
    uint32_t magic;
    uint16_t op;
    uint16_t flags;
    uint32_t seq;  /* echoed in the response */
    uint32_t len;  /* bytes of data that follow */
    uint8_t data[SIM_DATA_MAX];
};
#define SIM_REQ_HDR offsetof(struct sim_req, data)

struct sim_rsp {
    uint32_t magic;
    uint16_t op;
    uint16_t reserved;
    uint32_t seq;
    int32_t status; /* 0 or -errno */
    uint64_t val;
    uint32_t len;
    uint32_t reserved2;
    uint8_t data[SIM_DATA_MAX];
};
#define SIM_RSP_HDR offsetof(struct sim_rsp, data)

enum sim_workload {
    SIM_WL_IDLE = 0,
    SIM_WL_WEB,
    SIM_WL_KBUILD,
    SIM_WL_MEMSTRESS,
    SIM_WL_CUSTOM,
    SIM_WL_MAX_,
};

static inline const char *sim_workload_name(unsigned w)
{
    static const char *const names[] = {
        [SIM_WL_IDLE] = "idle",
        [SIM_WL_WEB] = "web",
        [SIM_WL_KBUILD] = "kernel-build",
        [SIM_WL_MEMSTRESS] = "memstress",
        [SIM_WL_CUSTOM] = "custom",
    };
    return w < SIM_WL_MAX_ ? names[w] : "unknown";
}

/* sim_info.flags */
#define SIM_INFO_PAUSED 0x1u
#define SIM_INFO_LOGDIRTY 0x2u
#define SIM_INFO_CTX_VALID 0x4u
#define SIM_INFO_INCOMING 0x8u
#define SIM_INFO_CKPT_STOP 0x10u

struct sim_info {
    char name[SIM_NAME_MAX + 1];
    uint32_t pid;
    uint32_t nr_vcpus;
    uint64_t nr_pages;
    uint64_t mem_bytes;
    uint32_t workload;
    uint32_t flags;
    uint64_t seed;
    uint64_t rate;        /* touches per second per vCPU; 0 = unlimited */
    uint64_t hot_set;     /* pages */
    uint64_t dirty_count; /* the log's count (0 when log-dirty is off) */
    uint64_t ticks;       /* the device's tick counter */
    uint64_t counters[SIM_MAX_VCPUS];
};

/* The context blob, little-endian: header, then nr_vcpus records. */
#define SIM_CTX_MAGIC "SIMCTX\r\n"
#define SIM_CTX_VERSION 1
#define SIM_NR_REGS 16
struct sim_ctx_hdr {
    char magic[8];
    uint32_t version;
    uint32_t nr_vcpus;
};
struct sim_ctx_vcpu {
    uint64_t counter; /* touches done */
    uint64_t prng;    /* splitmix64 state */
    uint64_t regs[SIM_NR_REGS];
};
#define SIM_CTX_SIZE(n) (sizeof(struct sim_ctx_hdr) + (size_t)(n) * sizeof(struct sim_ctx_vcpu))

/* The devstate blob, little-endian. */
#define SIM_DEV_MAGIC "SIMDEV\r\n"
struct sim_devstate {
    char magic[8];
    uint64_t ticks;
};

/* The sim backend's cfg->extra (colo_domain_config), little-endian. */
#define SIM_CFG_MAGIC "SIMCFG\r\n"
#define SIM_CFG_VERSION 1
struct sim_config {
    char magic[8];
    uint32_t version;
    uint32_t workload;
    uint64_t seed;
    uint64_t rate;
    uint64_t hot_set;
    uint64_t mem_bytes;
    uint32_t nr_vcpus;
    uint32_t reserved;
};

_Static_assert(SIM_CTX_SIZE(SIM_MAX_VCPUS) <= SIM_DATA_MAX, "context fits a message");
_Static_assert(sizeof(struct sim_info) <= SIM_DATA_MAX, "info fits a message");

/* A name is 1..SIM_NAME_MAX of [A-Za-z0-9_.-], not starting with '.'. */
static inline int sim_name_valid(const char *s)
{
    size_t n = 0;
    if (!s || !*s || *s == '.')
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return n <= SIM_NAME_MAX;
}

/* Send one message, with fd attached when fd >= 0. 0 or -errno. */
static inline int sim_send(int sock, const void *msg, size_t len, int fd)
{
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cb;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (fd >= 0) {
        memset(&cb, 0, sizeof(cb));
        mh.msg_control = cb.buf;
        mh.msg_controllen = sizeof(cb.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EPROTO;
}

/* Receive one message of at most cap bytes. Returns its length (0: the peer
 * closed) or -errno. An attached fd goes to *fd (else -1); if fd is NULL, or
 * more than one fd came, or the message was truncated, every received fd is
 * closed and the message refused. */
static inline ssize_t sim_recv(int sock, void *buf, size_t cap, int *fd)
{
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } cb;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = cb.buf, .msg_controllen = sizeof(cb.buf),
    };
    int got = -1, nfds = 0;

    if (fd)
        *fd = -1;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (nfds++ == 0)
                got = f;
            else
                close(f);
        }
    }
    if (nfds > 1 || (nfds && !fd) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (got >= 0)
            close(got);
        return (mh.msg_flags & MSG_TRUNC) ? -EMSGSIZE : -EPROTO;
    }
    if (fd)
        *fd = got;
    return n;
}

static inline int64_t sim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A pidfd for the process listening on the other end of sock, or -1. A
 * pidfd, unlike the pid, cannot come to name another process. */
static inline int sim_peer_pidfd(int sock)
{
    struct ucred cred;
    socklen_t cl = sizeof(cred);

    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.pid <= 0)
        return -1;
    return (int)syscall(SYS_pidfd_open, cred.pid, 0);
}

/* Has the process behind pidfd exited, within timeout_ms? The socket's EOF
 * is not enough: a process goes on (atexit, sanitizer reports) after it
 * closes its sockets. */
static inline bool sim_pidfd_exited(int pidfd, int timeout_ms)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };

    if (pidfd < 0)
        return false;
    while (poll(&p, 1, timeout_ms) < 0)
        if (errno != EINTR)
            return false;
    return p.revents != 0;
}

/* One round trip. Fills magic and seq (from *seq), sends, and waits up to
 * timeout_ms for the matching response, which it checks (size, magic, op,
 * status range); stale responses to earlier timed-out requests are dropped.
 * Returns rsp->status (0 or -errno from the guest) or a transport error:
 * -ESRCH when the guest is gone, -ETIMEDOUT, -EPROTO. */
static inline int sim_call(int sock, uint32_t *seq, struct sim_req *req,
                           struct sim_rsp *rsp, int *fd, int timeout_ms)
{
    int64_t deadline = sim_now_ms() + timeout_ms;
    int r;

    if (fd)
        *fd = -1;
    if (req->len > SIM_DATA_MAX)
        return -EINVAL;
    req->magic = SIM_PROTO_MAGIC;
    req->seq = ++*seq;
    r = sim_send(sock, req, SIM_REQ_HDR + req->len, -1);
    if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED)
        return -ESRCH;
    if (r < 0)
        return r;
    for (;;) {
        int64_t left = deadline - sim_now_ms();
        struct pollfd p = { .fd = sock, .events = POLLIN };
        if (left <= 0)
            return -ETIMEDOUT;
        r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        int f = -1;
        ssize_t n = sim_recv(sock, rsp, sizeof(*rsp), &f);
        if (n == -EAGAIN || n == -EINTR)
            continue;
        if (n == 0 || n == -ECONNRESET)
            return -ESRCH;
        if (n < 0)
            return (int)n;
        if ((size_t)n < SIM_RSP_HDR || rsp->magic != SIM_PROTO_MAGIC ||
            rsp->len > SIM_DATA_MAX || (size_t)n != SIM_RSP_HDR + rsp->len) {
            if (f >= 0)
                close(f);
            return -EPROTO;
        }
        if (rsp->seq != req->seq) { /* the answer to a request we gave up on */
            if (f >= 0)
                close(f);
            continue;
        }
        if (rsp->op != req->op || rsp->status > 0 || rsp->status < -4095 ||
            (f >= 0 && (!fd || rsp->status < 0))) {
            if (f >= 0)
                close(f);
            return -EPROTO;
        }
        if (fd)
            *fd = f;
        return rsp->status;
    }
}

/* HASH reads every populated page: 4 ms per MiB on top of the usual. */
static inline int sim_hash_timeout_ms(uint64_t mem_bytes)
{
    return SIM_TIMEOUT_MS + (int)(mem_bytes >> 18);
}

/* The error message of a failed response, NUL-terminated into buf. */
static inline const char *sim_rsp_msg(const struct sim_rsp *rsp, char *buf, size_t cap)
{
    size_t n = rsp->len < cap - 1 ? rsp->len : cap - 1;
    memcpy(buf, rsp->data, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || (unsigned char)buf[i] < 0x20)
            buf[i] = ' ';
    return buf;
}

#endif
