/* xen_qmp.c - a small QMP client for the qemu-xen device model.
 *
 * libxl gives every qemu-xen device model a QMP socket at
 * /var/run/xen/qmp-libxl-DOMID. QEMU serves one client at a time on it, and
 * libxl itself connects for its own operations, so a connection is held
 * only for one command (xen_qmp) or for the few commands of one checkpoint
 * stop (xen_qmp_open .. xen_qmp_close): greeting, qmp_capabilities, the
 * commands, their replies. Asynchronous events in between are skipped. */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <yajl/yajl_tree.h>

#include "backend/xen/xen_priv.h"

#define QMP_TIMEOUT_MS 30000
#define QMP_LINE_MAX (64 * 1024)

struct xen_qmp {
    uint32_t domid;
    int fd;
    char buf[QMP_LINE_MAX];
    size_t len;
};

/* Read one line (one JSON message) into a NUL-terminated string. */
static int qmp_read_line(struct xen_qmp *q, char **line)
{
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        if (nl) {
            size_t n = (size_t)(nl - q->buf) + 1;
            char *s = malloc(n + 1);
            if (!s)
                return -ENOMEM;
            memcpy(s, q->buf, n);
            s[n] = '\0';
            memmove(q->buf, q->buf + n, q->len - n);
            q->len -= n;
            *line = s;
            return 0;
        }
        if (q->len == sizeof(q->buf))
            return -EMSGSIZE;
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        int r = poll(&p, 1, QMP_TIMEOUT_MS);
        if (r < 0)
            return negative_errno();
        if (r == 0)
            return -ETIMEDOUT;
        ssize_t got = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
        if (got < 0)
            return negative_errno();
        if (got == 0)
            return -ECONNRESET;
        q->len += (size_t)got;
    }
}

/* Wait for the reply to the last command: {"return": ...} or {"error": ...}.
 * desc gets the error's description. */
static int qmp_reply(struct xen_qmp *q, char *desc, size_t desc_len)
{
    for (;;) {
        _cleanup_free_ char *line = NULL;
        int r = qmp_read_line(q, &line);
        if (r < 0)
            return r;
        yajl_val v = yajl_tree_parse(line, NULL, 0);
        if (!v || !YAJL_IS_OBJECT(v)) {
            yajl_tree_free(v);
            snprintf(desc, desc_len, "unparsable reply");
            return -EPROTO;
        }
        const char *ret_path[] = { "return", NULL };
        const char *err_path[] = { "error", "desc", NULL };
        const char *qmp_path[] = { "QMP", NULL };
        if (yajl_tree_get(v, ret_path, yajl_t_any) || yajl_tree_get(v, qmp_path, yajl_t_any)) {
            yajl_tree_free(v);
            return 0;
        }
        yajl_val e = yajl_tree_get(v, err_path, yajl_t_string);
        if (e) {
            snprintf(desc, desc_len, "%s", YAJL_GET_STRING(e));
            yajl_tree_free(v);
            return -EIO;
        }
        yajl_tree_free(v); /* an event: keep reading */
    }
}

static int qmp_send(struct xen_qmp *q, const char *cmd, const char *args)
{
    char msg[4096];
    int n = args ? snprintf(msg, sizeof(msg), "{\"execute\":\"%s\",\"arguments\":%s}\n", cmd, args)
                 : snprintf(msg, sizeof(msg), "{\"execute\":\"%s\"}\n", cmd);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return -E2BIG;
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = write(q->fd, msg + off, (size_t)n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return negative_errno();
        }
        off += (size_t)w;
    }
    return 0;
}

void xen_qmp_close(struct xen_qmp *q)
{
    if (!q)
        return;
    closep(&q->fd);
    free(q);
}

int xen_qmp_open(colo_backend *be, uint32_t domid, struct xen_qmp **out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char desc[256] = "";
    struct xen_qmp *q = calloc(1, sizeof(*q));
    int r;

    if (!q)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: qmp connect", domid);
    q->domid = domid;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/var/run/xen/qmp-libxl-%u", domid);
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (q->fd < 0) {
        r = negative_errno();
        free(q);
        return LOG_ERRNO(be->ctx, r, "domain %u: qmp: socket", domid);
    }
    if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = negative_errno();
        xen_qmp_close(q);
        return LOG_ERRNO(be->ctx, r, "domain %u: qmp: connect %s", domid, sa.sun_path);
    }
    r = qmp_reply(q, desc, sizeof(desc));             /* the greeting */
    if (r >= 0)
        r = qmp_send(q, "qmp_capabilities", NULL);
    if (r >= 0)
        r = qmp_reply(q, desc, sizeof(desc));
    if (r < 0) {
        xen_qmp_close(q);
        return LOG_ERRNO(be->ctx, r, "domain %u: qmp: handshake%s%s", domid,
                         desc[0] ? ": " : "", desc);
    }
    *out = q;
    return 0;
}

int xen_qmp_cmd(colo_backend *be, struct xen_qmp *q, const char *cmd, const char *args)
{
    char desc[256] = "";
    int r = qmp_send(q, cmd, args);
    if (r >= 0)
        r = qmp_reply(q, desc, sizeof(desc));
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: qmp %s failed%s%s", q->domid, cmd,
                         desc[0] ? ": " : "", desc);
    return 0;
}

int xen_qmp(colo_backend *be, uint32_t domid, const char *cmd, const char *args)
{
    struct xen_qmp *q = NULL;
    int r = xen_qmp_open(be, domid, &q);
    if (r < 0)
        return r;
    r = xen_qmp_cmd(be, q, cmd, args);
    xen_qmp_close(q);
    return r;
}

int xen_dm_qmp(colo_backend *be, colo_dom *d, const char *cmd, const char *args)
{
    return d->qmp ? xen_qmp_cmd(be, d->qmp, cmd, args) : xen_qmp(be, d->domid, cmd, args);
}
