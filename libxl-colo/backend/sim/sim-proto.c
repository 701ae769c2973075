/* sim-proto.c - the code of the sim guest protocol (sim-proto.h) that the
 * guest, its client subcommands and the sim backend share. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/sim/sim-proto.h"
#include "colo-time.h"

const char *sim_workload_name(unsigned w)
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

/* A name is 1..SIM_NAME_MAX of [A-Za-z0-9_.-], not starting with '.'. */
int sim_name_valid(const char *s)
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
int sim_send(int sock, const void *msg, size_t len, int fd)
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
ssize_t sim_recv(int sock, void *buf, size_t cap, int *fd)
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

/* A pidfd for the process listening on the other end of sock, or -1. A
 * pidfd, unlike the pid, cannot come to name another process. */
int sim_peer_pidfd(int sock)
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
bool sim_pidfd_exited(int pidfd, int timeout_ms)
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
int sim_call(int sock, uint32_t *seq, struct sim_req *req,
             struct sim_rsp *rsp, int *fd, int timeout_ms)
{
    uint64_t deadline = colo_deadline_ms(timeout_ms);
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
        struct pollfd p = { .fd = sock, .events = POLLIN };
        if (colo_deadline_passed(deadline))
            return -ETIMEDOUT;
        r = poll(&p, 1, colo_ms_left(deadline));
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
int sim_hash_timeout_ms(uint64_t mem_bytes)
{
    return SIM_TIMEOUT_MS + (int)(mem_bytes >> 18);
}

/* The error message of a failed response, NUL-terminated into buf. */
const char *sim_rsp_msg(const struct sim_rsp *rsp, char *buf, size_t cap)
{
    size_t n = rsp->len < cap - 1 ? rsp->len : cap - 1;
    memcpy(buf, rsp->data, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || (unsigned char)buf[i] < 0x20)
            buf[i] = ' ';
    return buf;
}
