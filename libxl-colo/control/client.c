/*
 * client.c - the control clients: libxlcolo_status_get(), _checkpoint(),
 * _failover() and _stop().
 *
 * Each connects to $run_dir/<domain>.ctl, sends one request line and reads
 * one JSON reply line, bounded in size and time. {"ok":false,"error":..}
 * lands in ctx->last_error and becomes a negative errno. Failures that a
 * caller expects (no protection running) are logged at DEBUG only: the
 * caller prints the one line for the user from libxlcolo_last_error().
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <yajl/yajl_tree.h>

#include "colo-internal.h"
#include "control/control.h"

#define REPLY_MAX 4096
#define STATUS_TIMEOUT_MS 5000
#define CHECKPOINT_TIMEOUT_MS 30000  /* a checkpoint may take up to 30 s */
#define FAILOVER_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000

static void yajl_tree_freep(yajl_val *v)
{
    if (*v)
        yajl_tree_free(*v);
}
#define _cleanup_tree_ _cleanup_(yajl_tree_freep)

/* Record a failure for the caller's one line; log it at DEBUG; return r. */
_printf_(3, 4)
static int client_fail(libxlcolo_ctx *ctx, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error, sizeof(ctx->last_error), fmt, ap);
    va_end(ap);
    LOG(ctx, DEBUG, "control client: %s (%s)", ctx->last_error, strerror(-r));
    return r;
}


static int client_connect(libxlcolo_ctx *ctx, const char *run_dir,
                          const char *domain, int timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = timeout_ms / 1000,
                          .tv_usec = (timeout_ms % 1000) * 1000 };

    if (!colo_domain_name_valid(domain))
        return client_fail(ctx, -EINVAL, "invalid domain name '%s'",
                           domain ? domain : "");
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.ctl",
                     run_dir, domain);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
        return client_fail(ctx, -ENAMETOOLONG,
                           "control socket path %s/%s.ctl is too long",
                           run_dir, domain);

    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return client_fail(ctx, negative_errno(), "cannot create a socket: %s",
                           strerror(errno));
    /* A full backlog makes connect() wait; bound it like the reply. */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = negative_errno();
        if (r == -ENOENT)
            return client_fail(ctx, -ESRCH,
                               "no protection running for %s (no %s)",
                               domain, sa.sun_path);
        if (r == -ECONNREFUSED)
            return client_fail(ctx, -ESRCH,
                               "no protection running for %s (stale socket %s)",
                               domain, sa.sun_path);
        return client_fail(ctx, r, "cannot connect to %s: %s", sa.sun_path,
                           strerror(-r));
    }
    return TAKE_FD(fd);
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return negative_errno();
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int num_u64(yajl_val obj, const char *key, uint64_t *out)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
    if (!v)
        return -EBADMSG;
    const char *s = YAJL_GET_NUMBER(v);
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -EBADMSG;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -EBADMSG;
    *out = x;
    return 0;
}

static const char *str_get(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };
    return YAJL_GET_STRING(yajl_tree_get(obj, path, yajl_t_string));
}

/* One request, one reply. On success *reply is the parsed {"ok":true}
 * object, which the caller frees. */
static int control_call(libxlcolo_ctx *ctx, const char *run_dir,
                        const char *domain, const char *cmd, int timeout_ms,
                        yajl_val *reply)
{
    char line[REPLY_MAX + 1], errbuf[128];
    char req[32];

    ctx->last_error[0] = '\0';
    if (!run_dir)
        run_dir = libxlcolo_default_run_dir();

    _cleanup_close_ int fd = client_connect(ctx, run_dir, domain, timeout_ms);
    if (fd < 0)
        return fd;

    snprintf(req, sizeof(req), "%s\n", cmd);
    int r = send_all(fd, req, strlen(req));
    if (r < 0)
        return client_fail(ctx, r, "cannot send '%s' to the protection of %s: %s",
                           cmd, domain, strerror(-r));
    r = colo_ctl_recv_line(fd, line, sizeof(line), timeout_ms);
    if (r == -E2BIG)
        r = -EMSGSIZE;
    else if (r == -ENODATA)
        r = -ECONNRESET;
    if (r == -ETIMEDOUT)
        return client_fail(ctx, r, "no reply to '%s' from the protection of %s "
                           "within %d s", cmd, domain, timeout_ms / 1000);
    if (r == -EMSGSIZE)
        return client_fail(ctx, r, "reply to '%s' from the protection of %s "
                           "is over %d bytes", cmd, domain, REPLY_MAX);
    if (r < 0)
        return client_fail(ctx, r, "no reply to '%s' from the protection of %s: %s",
                           cmd, domain, r == -ECONNRESET ?
                           "connection closed" : strerror(-r));

    _cleanup_tree_ yajl_val v = yajl_tree_parse(line, errbuf, sizeof(errbuf));
    if (!YAJL_IS_OBJECT(v)) {
        /* yajl's message spans lines; keep its first. */
        errbuf[strcspn(errbuf, "\n")] = '\0';
        return client_fail(ctx, -EBADMSG, "malformed reply from the protection "
                           "of %s: %s", domain, v ? "not an object" : errbuf);
    }

    const char *okp[] = { "ok", NULL };
    yajl_val ok = yajl_tree_get(v, okp, yajl_t_any);
    if (YAJL_IS_TRUE(ok)) {
        *reply = TAKE_PTR(v);
        return 0;
    }
    if (!YAJL_IS_FALSE(ok))
        return client_fail(ctx, -EBADMSG, "malformed reply from the protection "
                           "of %s: no \"ok\"", domain);

    const char *msg = str_get(v, "error");
    uint64_t e = 0;
    if (num_u64(v, "errno", &e) < 0 || e == 0 || e > 4095)
        e = EIO;
    snprintf(ctx->last_error, sizeof(ctx->last_error), "%s",
             msg && *msg ? msg : strerror((int)e));
    LOG(ctx, DEBUG, "control client: %s refused '%s': %s", domain, cmd,
        ctx->last_error);
    return -(int)e;
}

/* Map a name back through a *_name() function; -1 if unknown. */
static int name_to_enum(const char *name, const char *(*fn)(int), int n)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(fn(i), name) == 0)
            return i;
    return -1;
}

static const char *state_name(int i) { return libxlcolo_state_name(i); }
static const char *failover_name(int i) { return libxlcolo_failover_name(i); }
static const char *mode_name(int i) { return libxlcolo_mode_name(i); }
static const char *role_name(int i) { return libxlcolo_role_name(i); }

static int copy_str(char *dst, size_t size, const char *src)
{
    if (!src || strlen(src) >= size)
        return -EBADMSG;
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

int libxlcolo_status_get(libxlcolo_ctx *ctx, const char *run_dir,
                         const char *domain, libxlcolo_status *st)
{
    _cleanup_tree_ yajl_val v = NULL;
    uint64_t pid = 0;
    int role, state, mode, failover;

    int r = control_call(ctx, run_dir, domain, "status", STATUS_TIMEOUT_MS, &v);
    if (r < 0)
        return r;

    memset(st, 0, sizeof(*st));
    role = name_to_enum(str_get(v, "role"), role_name, 2);
    state = name_to_enum(str_get(v, "state"), state_name,
                         LIBXLCOLO_STATE_STOPPED + 1);
    mode = name_to_enum(str_get(v, "mode"), mode_name, 2);
    failover = name_to_enum(str_get(v, "failover"), failover_name,
                            LIBXLCOLO_FAILOVER_RELAUNCH + 1);
    if (role < 0 || state < 0 || mode < 0 || failover < 0 ||
        copy_str(st->domain, sizeof(st->domain), str_get(v, "domain")) < 0 ||
        copy_str(st->backend, sizeof(st->backend), str_get(v, "backend")) < 0 ||
        copy_str(st->peer, sizeof(st->peer), str_get(v, "peer")) < 0 ||
        num_u64(v, "epoch", &st->epoch) < 0 ||
        num_u64(v, "checkpoints", &st->checkpoints) < 0 ||
        num_u64(v, "last_pause_ns", &st->last_pause_ns) < 0 ||
        num_u64(v, "last_pages", &st->last_pages) < 0 ||
        num_u64(v, "pid", &pid) < 0 || pid > INT32_MAX)
        return client_fail(ctx, -EBADMSG, "malformed status reply from the "
                           "protection of %s", domain);
    st->role = role;
    st->state = state;
    st->mode = mode;
    st->failover = failover;
    st->pid = (int)pid;
    return 0;
}

static int simple_call(libxlcolo_ctx *ctx, const char *run_dir,
                       const char *domain, const char *cmd, int timeout_ms,
                       uint64_t *epoch)
{
    _cleanup_tree_ yajl_val v = NULL;
    uint64_t e = 0;

    int r = control_call(ctx, run_dir, domain, cmd, timeout_ms, &v);
    if (r < 0)
        return r;
    if (num_u64(v, "epoch", &e) < 0 && epoch)
        return client_fail(ctx, -EBADMSG, "malformed reply to '%s' from the "
                           "protection of %s: no epoch", cmd, domain);
    if (epoch)
        *epoch = e;
    return 0;
}

int libxlcolo_checkpoint(libxlcolo_ctx *ctx, const char *run_dir,
                         const char *domain, uint64_t *epoch)
{
    return simple_call(ctx, run_dir, domain, "checkpoint",
                       CHECKPOINT_TIMEOUT_MS, epoch);
}

int libxlcolo_failover(libxlcolo_ctx *ctx, const char *run_dir,
                       const char *domain)
{
    return simple_call(ctx, run_dir, domain, "failover", FAILOVER_TIMEOUT_MS,
                       NULL);
}

int libxlcolo_stop(libxlcolo_ctx *ctx, const char *run_dir, const char *domain)
{
    return simple_call(ctx, run_dir, domain, "stop", STOP_TIMEOUT_MS, NULL);
}
