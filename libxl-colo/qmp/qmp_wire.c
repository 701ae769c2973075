/* qmp_wire.c - QMP's transport: the unix socket, line framing, the bound
 * of a message, deadlines (qmp_wire.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "colo-time.h"
#include "macro.h"
#include "qmp/qmp.h"
#include "qmp/qmp_wire.h"

/* The buffer starts this big and doubles up to COLO_QMP_MSG_MAX. */
#define WIRE_BUF_MIN 4096

_printf_(4, 5)
static int cause(int r, char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return r;
}

int qmp_wire_connect(struct qmp_wire *w, const char *path, uint64_t deadline,
                     char *err, size_t errsize)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    *w = (struct qmp_wire){ .fd = -1 };
    if (strlen(path) >= sizeof(sa.sun_path))
        return cause(-ENAMETOOLONG, err, errsize, "connect: the path is longer than %zu bytes",
                     sizeof(sa.sun_path) - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cause(negative_errno(), err, errsize, "socket: %m");
    /* A listener whose backlog is full makes connect() wait: SO_SNDTIMEO
     * bounds that wait, on a socket still blocking. */
    int ms = colo_ms_left(deadline);
    if (ms >= 0) {
        struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
        if (ms == 0)
            tv.tv_usec = 1000;
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
            return cause(negative_errno(), err, errsize, "setsockopt: %m");
    }
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        if (errno == EINTR && !colo_deadline_passed(deadline))
            continue;
        if (errno == EAGAIN || errno == EINTR)
            return cause(-ETIMEDOUT, err, errsize,
                         "connect: the listener's backlog stayed full");
        return cause(negative_errno(), err, errsize, "connect: %m");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return cause(negative_errno(), err, errsize, "fcntl: %m");
    w->fd = TAKE_FD(fd);
    return 0;
}

void qmp_wire_close(struct qmp_wire *w)
{
    closep(&w->fd);
    w->fd = -1;
    free(w->buf);
    w->buf = NULL;
    w->cap = w->len = w->scanned = w->taken = 0;
}

/* Room for at least one more byte, up to COLO_QMP_MSG_MAX in all. */
static int grow(struct qmp_wire *w)
{
    if (w->len < w->cap)
        return 0;
    size_t cap = w->cap ? MIN(w->cap * 2, (size_t)COLO_QMP_MSG_MAX) : WIRE_BUF_MIN;
    char *b = realloc(w->buf, cap);
    if (!b)
        return -ENOMEM;
    w->buf = b;
    w->cap = cap;
    return 0;
}

int qmp_wire_read(struct qmp_wire *w, uint64_t deadline, char **line, size_t *len,
                  char *err, size_t errsize)
{
    int r;

    if (w->fd < 0)
        return cause(-ENOTCONN, err, errsize, "not connected");
    for (;;) {
        /* Lines are handed out in place; what was handed out is dropped
         * only when room is needed, once per read(2), not once per line:
         * a read of many short lines costs its length, not its length
         * times its lines. */
        size_t from = MAX(w->scanned, w->taken);
        char *nl = w->len > from ? memchr(w->buf + from, '\n', w->len - from) : NULL;
        if (nl) {
            size_t at = w->taken, n = (size_t)(nl - w->buf) - at;
            w->taken = w->scanned = at + n + 1;
            if (n > 0 && w->buf[at + n - 1] == '\r')
                n--;
            w->buf[at + n] = '\0';
            *line = w->buf + at;
            *len = n;
            return 0;
        }
        w->scanned = w->len;
        if (w->taken) {
            memmove(w->buf, w->buf + w->taken, w->len - w->taken);
            w->len -= w->taken;
            w->scanned -= w->taken;
            w->taken = 0;
        }
        if (w->len >= COLO_QMP_MSG_MAX)
            return cause(-EMSGSIZE, err, errsize, "message over %d bytes", COLO_QMP_MSG_MAX);
        r = grow(w);
        if (r < 0)
            return cause(r, err, errsize, "out of memory for a message of %zu bytes", w->len);
        r = colo_wait_fd(w->fd, POLLIN, deadline);
        if (r == -ETIMEDOUT) {
            if (err && errsize)
                err[0] = '\0';
            return r;
        }
        if (r < 0)
            return cause(r, err, errsize, "poll: %s", strerror(-r));
        ssize_t got = read(w->fd, w->buf + w->len, w->cap - w->len);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return cause(negative_errno(), err, errsize, "read: %m");
        }
        if (got == 0)
            return cause(-ECONNRESET, err, errsize, "peer closed the connection%s",
                         w->len ? " mid-message" : "");
        w->len += (size_t)got;
    }
}

int qmp_wire_send(struct qmp_wire *w, const char *buf, size_t len, uint64_t deadline,
                  char *err, size_t errsize)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)buf, .iov_len = len },
        { .iov_base = (void *)"\n", .iov_len = 1 },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

    if (w->fd < 0)
        return cause(-ENOTCONN, err, errsize, "not connected");
    while (mh.msg_iovlen) {
        ssize_t n = sendmsg(w->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return cause(negative_errno(), err, errsize, "send: %m");
            int r = colo_wait_fd(w->fd, POLLOUT, deadline);
            if (r == -ETIMEDOUT)
                return cause(r, err, errsize, "the peer takes nothing");
            if (r < 0)
                return cause(r, err, errsize, "poll: %s", strerror(-r));
            continue;
        }
        /* Step over what went. */
        size_t sent = (size_t)n;
        while (mh.msg_iovlen && sent >= mh.msg_iov->iov_len) {
            sent -= mh.msg_iov->iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen) {
            mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + sent;
            mh.msg_iov->iov_len -= sent;
        }
    }
    return 0;
}
