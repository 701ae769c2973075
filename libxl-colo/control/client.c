/*
 * client.c - the control clients: libxlcolo_status_get(), _checkpoint(),
 * _failover(), _stop() and _set_replication().
 *
 * Each connects to $run_dir/<domain>.ctl, sends one request line and reads
 * one JSON reply line, bounded in size (COLO_CTL_REPLY_MAX) and time, and
 * reads it with the JSON helpers (json.h) and the status codec
 * (control/status_codec.h). {"ok":false,"error":..} lands in
 * ctx->last_error and becomes a negative errno; so does a malformed reply,
 * with one line that names what is wrong. Failures that a
 * caller expects (no protection running) are logged at DEBUG only: the
 * caller prints the one line for the user from libxlcolo_last_error().
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "colo-internal.h"
#include "control/control.h"
#include "control/status_codec.h"
#include "json.h"

#define STATUS_TIMEOUT_MS 5000
#define CHECKPOINT_TIMEOUT_MS 30000  /* a checkpoint may take up to 30 s */
#define FAILOVER_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000
/* A secondary's failover commits its active disk first (30 s, disks.c). */
#define SET_REPLICATION_TIMEOUT_MS 60000

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

/* One request, one reply. On success *reply is the parsed {"ok":true}
 * object, which the caller frees. */
static int control_call(libxlcolo_ctx *ctx, const char *run_dir,
                        const char *domain, const char *cmd, int timeout_ms,
                        yajl_val *reply)
{
    char line[COLO_CTL_REPLY_MAX + 1], err[128];
    char req[COLO_CTL_REQUEST_MAX + 1];

    ctx->last_error[0] = '\0';
    if (!run_dir)
        run_dir = libxlcolo_default_run_dir();

    _cleanup_close_ int fd = client_connect(ctx, run_dir, domain, timeout_ms);
    if (fd < 0)
        return fd;

    int n = snprintf(req, sizeof(req), "%s\n", cmd);
    if (n < 0 || n > COLO_CTL_REQUEST_MAX)
        return client_fail(ctx, -E2BIG, "request '%s' is over %d bytes", cmd,
                           COLO_CTL_REQUEST_MAX);
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
                           "is over %d bytes", cmd, domain, COLO_CTL_REPLY_MAX);
    if (r < 0)
        return client_fail(ctx, r, "no reply to '%s' from the protection of %s: %s",
                           cmd, domain, r == -ECONNRESET ?
                           "connection closed" : strerror(-r));

    _cleanup_tree_ yajl_val v = NULL;
    r = colo_json_parse(line, &v, err, sizeof(err));
    if (r == -ENOMEM)
        return client_fail(ctx, r, "cannot parse the reply from the "
                           "protection of %s: out of memory", domain);
    if (r < 0)
        return client_fail(ctx, r, "malformed reply from the protection "
                           "of %s: %s", domain, err);

    yajl_val ok = NULL;
    if (colo_json_get(v, "ok", &ok, err, sizeof(err)) < 0)
        return client_fail(ctx, -EBADMSG, "malformed reply from the protection "
                           "of %s: %s", domain, err);
    if (YAJL_IS_TRUE(ok)) {
        *reply = TAKE_PTR(v);
        return 0;
    }
    if (!YAJL_IS_FALSE(ok))
        return client_fail(ctx, -EBADMSG, "malformed reply from the protection "
                           "of %s: no \"ok\"", domain);

    /* A refusal: its message and errno are best effort. */
    const char *msg = NULL;
    uint64_t e = 0;
    if (colo_json_get_str(v, "error", &msg, err, sizeof(err)) < 0)
        msg = NULL;
    if (colo_json_get_u64(v, "errno", 4095, &e, err, sizeof(err)) < 0 || e == 0)
        e = EIO;
    snprintf(ctx->last_error, sizeof(ctx->last_error), "%s",
             msg && *msg ? msg : strerror((int)e));
    LOG(ctx, DEBUG, "control client: %s refused '%s': %s", domain, cmd,
        ctx->last_error);
    return -(int)e;
}

int libxlcolo_status_get(libxlcolo_ctx *ctx, const char *run_dir,
                         const char *domain, libxlcolo_status *st)
{
    _cleanup_tree_ yajl_val v = NULL;
    char err[128];

    int r = control_call(ctx, run_dir, domain, "status", STATUS_TIMEOUT_MS, &v);
    if (r < 0)
        return r;
    r = colo_status_from_json(v, st, err, sizeof(err));
    if (r < 0)
        return client_fail(ctx, r, "malformed status reply from the "
                           "protection of %s: %s", domain, err);
    return 0;
}

static int simple_call(libxlcolo_ctx *ctx, const char *run_dir,
                       const char *domain, const char *cmd, int timeout_ms,
                       uint64_t *epoch)
{
    _cleanup_tree_ yajl_val v = NULL;
    char err[128];

    int r = control_call(ctx, run_dir, domain, cmd, timeout_ms, &v);
    if (r < 0)
        return r;
    if (epoch && colo_json_get_u64(v, "epoch", UINT64_MAX, epoch, err,
                                   sizeof(err)) < 0)
        return client_fail(ctx, -EBADMSG, "malformed reply to '%s' from the "
                           "protection of %s: %s", cmd, domain, err);
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

int libxlcolo_set_replication(libxlcolo_ctx *ctx, const char *run_dir,
                              const char *domain, const char *disk,
                              bool enable, bool primary, bool failover)
{
    char req[COLO_CTL_REQUEST_MAX];

    ctx->last_error[0] = '\0';
    if (disk && !colo_name_valid(disk, LIBXLCOLO_DISK_NAME_MAX))
        return client_fail(ctx, -EINVAL, "invalid disk name '%s' (1..%d of A-Z a-z 0-9 _ . -)",
                           disk, LIBXLCOLO_DISK_NAME_MAX);
    /* QEMU's own refusal, in its words, without a round trip. */
    if (enable && failover)
        return client_fail(ctx, -EINVAL, "Parameter 'failover' is only for stopping "
                           "replication");
    snprintf(req, sizeof(req), "set-replication %s %d %d %d", disk ? disk : "*", enable,
             primary, failover);
    return simple_call(ctx, run_dir, domain, req, SET_REPLICATION_TIMEOUT_MS, NULL);
}
