/*
 * control.c - the server side of the per-domain control socket (control.h).
 *
 * One listening unix socket per protection, $run_dir/<domain>.ctl, polled by
 * the engine. A request is one short line; every reply is one JSON object
 * on one line, made with the JSON helpers (json.h); the status fields are
 * the status codec's (control/status_codec.h).
 */
#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "control/control.h"
#include "control/status_codec.h"
#include "json.h"

#define CONTROL_REQUEST_TIMEOUT_MS 1000
#define CONTROL_BACKLOG 8

struct colo_control {
    libxlcolo_ctx *ctx;
    int fd;                          /* listening, non-blocking */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static const struct {
    const char *name;
    colo_ctl_cmd cmd;
} control_commands[] = {
    { "status", COLO_CTL_STATUS },
    { "checkpoint", COLO_CTL_CHECKPOINT },
    { "failover", COLO_CTL_FAILOVER },
    { "stop", COLO_CTL_STOP },
    { "set-replication", COLO_CTL_SET_REPLICATION },
};

/* "0" or "1". */
static bool parse_bit(const char *s, bool *out)
{
    if ((s[0] != '0' && s[0] != '1') || s[1])
        return false;
    *out = s[0] == '1';
    return true;
}

/* set-replication's arguments: DISK|* ENABLE PRIMARY FAILOVER, one space
 * apart. args is modified. */
static bool parse_set_replication(char *args, colo_ctl_request *req)
{
    char *tok[4];
    unsigned n = 0;

    for (char *t; (t = strsep(&args, " ")) != NULL;)
        if (n < ARRAY_SIZE(tok))
            tok[n++] = t;
        else
            return false;
    if (n != 4)
        return false;
    if (strcmp(tok[0], "*") == 0)
        req->disk[0] = '\0';
    else if (colo_name_valid(tok[0], LIBXLCOLO_DISK_NAME_MAX))
        snprintf(req->disk, sizeof(req->disk), "%s", tok[0]);
    else
        return false;
    return parse_bit(tok[1], &req->enable) && parse_bit(tok[2], &req->primary) &&
           parse_bit(tok[3], &req->failover);
}

/* 1..63 characters of [A-Za-z0-9_.-]: safe as a file name, fits in
 * libxlcolo_status.domain. */
bool colo_domain_name_valid(const char *d)
{
    return colo_name_valid(d, 63);
}

/* mkdir -p, creating missing components with mode 0700. Existing
 * directories keep their mode. */
static int mkdir_p(const char *dir)
{
    _cleanup_free_ char *p = strdup(dir);
    if (!p)
        return -ENOMEM;
    for (char *s = p + 1;; s++) {
        bool last = *s == '\0';
        if (*s != '/' && !last)
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return negative_errno();
        if (last)
            break;
        *s = '/';
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return negative_errno();
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int socket_path(libxlcolo_ctx *ctx, const char *run_dir,
                       const char *domain, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.ctl",
                     run_dir, domain);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
        return LOG_ERRNO(ctx, -ENAMETOOLONG,
                         "control socket path %s/%s.ctl is longer than %zu bytes",
                         run_dir, domain, sizeof(sa->sun_path) - 1);
    return 0;
}

/* Does a live process answer on the socket at sa? 1 yes, 0 no (stale). */
static int socket_is_live(const struct sockaddr_un *sa)
{
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return negative_errno();
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
        return 1;
    if (errno == ECONNREFUSED || errno == ENOENT)
        return 0;
    return negative_errno();
}

int colo_control_listen(libxlcolo_ctx *ctx, const char *run_dir,
                        const char *domain, colo_control **out)
{
    struct sockaddr_un sa;
    struct stat st;
    int r;

    if (!run_dir)
        run_dir = libxlcolo_default_run_dir();
    if (!colo_domain_name_valid(domain))
        return LOG_ERRNO(ctx, -EINVAL,
                         "invalid domain name '%s' for a control socket "
                         "(1..63 of A-Z a-z 0-9 _ . -)", domain ? domain : "");
    r = socket_path(ctx, run_dir, domain, &sa);
    if (r < 0)
        return r;
    r = mkdir_p(run_dir);
    if (r < 0)
        return LOG_ERRNO(ctx, r, "cannot create run directory %s", run_dir);

    if (lstat(sa.sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return LOG_ERRNO(ctx, -EEXIST, "%s exists and is not a socket",
                             sa.sun_path);
        r = socket_is_live(&sa);
        if (r > 0) {
            snprintf(ctx->last_error, sizeof(ctx->last_error),
                     "a protection of %s is already running (socket %s)",
                     domain, sa.sun_path);
            return LOG_ERRNO(ctx, -EADDRINUSE, "%s", ctx->last_error);
        }
        if (r < 0)
            return LOG_ERRNO(ctx, r, "cannot probe control socket %s",
                             sa.sun_path);
        LOG(ctx, INFO, "removing stale control socket %s", sa.sun_path);
        if (unlink(sa.sun_path) < 0 && errno != ENOENT)
            return LOG_ERRNO(ctx, negative_errno(),
                             "cannot remove stale control socket %s",
                             sa.sun_path);
    }

    _cleanup_close_ int fd = socket(AF_UNIX,
                                    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return LOG_ERRNO(ctx, negative_errno(), "cannot create control socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = negative_errno();
        if (r == -EADDRINUSE) /* another protection won the race */
            snprintf(ctx->last_error, sizeof(ctx->last_error),
                     "a protection of %s is already running (socket %s)",
                     domain, sa.sun_path);
        return LOG_ERRNO(ctx, r, "cannot bind control socket %s", sa.sun_path);
    }
    /* The run directory is 0700 when we created it; the socket itself is
     * 0600 whatever the umask was. */
    if (chmod(sa.sun_path, 0600) < 0 || listen(fd, CONTROL_BACKLOG) < 0) {
        r = negative_errno();
        unlink(sa.sun_path);
        return LOG_ERRNO(ctx, r, "cannot listen on control socket %s",
                         sa.sun_path);
    }

    colo_control *c = calloc(1, sizeof(*c));
    if (!c) {
        unlink(sa.sun_path);
        return LOG_ERRNO(ctx, -ENOMEM, "cannot allocate the control socket");
    }
    c->ctx = ctx;
    memcpy(c->path, sa.sun_path, sizeof(c->path));
    c->fd = TAKE_FD(fd);
    LOG(ctx, DETAIL, "control socket %s", c->path);
    *out = c;
    return 0;
}

void colo_control_free(colo_control *c)
{
    if (!c)
        return;
    unlink(c->path);
    closep(&c->fd);
    free(c);
}

int colo_control_fd(const colo_control *c)
{
    return c->fd;
}

int colo_ctl_recv_line(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t len = 0;
    uint64_t deadline = colo_deadline_ms(timeout_ms);

    for (;;) {
        if (colo_deadline_passed(deadline))
            return -ETIMEDOUT;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int n = poll(&pfd, 1, colo_ms_left(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return negative_errno();
        if (n == 0)
            return -ETIMEDOUT;

        ssize_t got = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0)
            return negative_errno();
        if (got == 0) { /* EOF: an unterminated line still counts */
            if (len == 0)
                return -ENODATA;
            break;
        }
        char *nl = memchr(buf + len, '\n', (size_t)got);
        len += (size_t)got;
        if (nl) {
            len = (size_t)(nl - buf);
            break;
        }
        if (len >= size - 1)
            return -E2BIG;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return 0;
}

int colo_ctl_parse_request(char *line, colo_ctl_request *req, char *msg, size_t msgsize)
{
    /* Echo the request back printable: the reply must stay valid UTF-8. */
    char shown[COLO_CTL_REQUEST_MAX + 1];
    size_t i;
    for (i = 0; line[i] && i < sizeof(shown) - 1; i++)
        shown[i] = isprint((unsigned char)line[i]) ? line[i] : '?';
    shown[i] = '\0';

    char *args = strchr(line, ' ');
    if (args)
        *args++ = '\0';
    *req = (colo_ctl_request){ 0 };
    for (size_t k = 0; k < ARRAY_SIZE(control_commands); k++) {
        if (strcmp(line, control_commands[k].name) != 0)
            continue;
        req->cmd = control_commands[k].cmd;
        if (req->cmd != COLO_CTL_SET_REPLICATION && !args)
            return 0;
        if (req->cmd == COLO_CTL_SET_REPLICATION && args && parse_set_replication(args, req))
            return 0;
        snprintf(msg, msgsize, "malformed request '%s' (%s)", shown,
                 req->cmd == COLO_CTL_SET_REPLICATION
                     ? "set-replication DISK|* ENABLE PRIMARY FAILOVER, each 0 or 1"
                     : "it takes no argument");
        return -EPROTO;
    }
    snprintf(msg, msgsize, "unknown command '%s' (one of status, "
             "checkpoint, failover, stop, set-replication)", shown);
    return -EPROTO;
}

int colo_control_accept(colo_control *c, colo_ctl_request *req)
{
    char line[COLO_CTL_REQUEST_MAX + 1];
    struct timeval tv = { .tv_sec = CONTROL_REQUEST_TIMEOUT_MS / 1000 };

    _cleanup_close_ int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return -EAGAIN;
        return LOG_ERRNO(c->ctx, negative_errno(),
                         "cannot accept on control socket %s", c->path);
    }
    /* Bounds a stuck client in a reply as well as in its request. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    int r = colo_ctl_recv_line(fd, line, sizeof(line), CONTROL_REQUEST_TIMEOUT_MS);
    if (r == -E2BIG) {
        LOG(c->ctx, DETAIL, "control request over %d bytes refused",
            COLO_CTL_REQUEST_MAX);
        colo_control_reply_error(c, TAKE_FD(fd), E2BIG,
                                 "request too long (limit 64 bytes)");
        return -EPROTO;
    }
    if (r < 0) {
        LOG(c->ctx, DEBUG, "control client gave no request: %s", strerror(-r));
        return r;
    }

    char msg[COLO_CTL_REQUEST_MAX + 96];
    r = colo_ctl_parse_request(line, req, msg, sizeof(msg));
    if (r < 0) {
        LOG(c->ctx, DETAIL, "control request refused: %s", msg);
        colo_control_reply_error(c, TAKE_FD(fd), EPROTO, msg);
        return r;
    }
    return TAKE_FD(fd);
}

/* Send the finished object j plus a newline, then close client_fd. */
static int send_reply(colo_control *c, int client_fd, colo_json *j)
{
    _cleanup_close_ int fd = client_fd;
    const char *buf;
    size_t len;

    int r = colo_json_finish(j, &buf, &len);
    if (r < 0)
        return LOG_ERRNO(c->ctx, r, "cannot generate a control reply");
    if (len > COLO_CTL_REPLY_MAX) /* the client would refuse it */
        return LOG_ERRNO(c->ctx, -EMSGSIZE, "control reply of %zu bytes is "
                         "over %d", len, COLO_CTL_REPLY_MAX);

    struct iovec iov[2] = {
        { .iov_base = (void *)buf, .iov_len = len },
        { .iov_base = (void *)"\n", .iov_len = 1 },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
    while (mh.msg_iovlen > 0) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) { /* the client went away: not our failure */
            r = negative_errno();
            LOG(c->ctx, DETAIL, "control reply not delivered: %s", strerror(-r));
            return r;
        }
        while (mh.msg_iovlen > 0 && (size_t)n >= mh.msg_iov->iov_len) {
            n -= (ssize_t)mh.msg_iov->iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen > 0) {
            mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
            mh.msg_iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* {"ok":OK, ...}: the caller adds the rest. NULL (and client_fd closed)
 * when out of memory. */
static colo_json *reply_begin(bool ok, int *client_fd)
{
    colo_json *j = colo_json_new();
    if (!j) {
        closep(client_fd);
        return NULL;
    }
    colo_json_put_bool(j, "ok", ok);
    return j;
}

int colo_control_reply_status(colo_control *c, int client_fd,
                              const libxlcolo_status *st)
{
    _cleanup_json_ colo_json *j = reply_begin(true, &client_fd);
    if (!j)
        return -ENOMEM;
    colo_status_to_json(j, st);
    return send_reply(c, client_fd, j);
}

int colo_control_reply_ok(colo_control *c, int client_fd, uint64_t epoch)
{
    _cleanup_json_ colo_json *j = reply_begin(true, &client_fd);
    if (!j)
        return -ENOMEM;
    colo_json_put_u64(j, "epoch", epoch);
    return send_reply(c, client_fd, j);
}

int colo_control_reply_error(colo_control *c, int client_fd, int err,
                             const char *msg)
{
    _cleanup_json_ colo_json *j = reply_begin(false, &client_fd);
    if (!j)
        return -ENOMEM;
    if (err < 0)
        err = -err;
    colo_json_put_str(j, "error", msg && *msg ? msg : strerror(err));
    colo_json_put_u64(j, "errno", err > 0 ? (uint64_t)err : EIO);
    return send_reply(c, client_fd, j);
}
