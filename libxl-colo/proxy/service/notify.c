/* notify.c - notify_dev, the Xen side (notify.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/service/notify.h"
#include "proxy/service/log.h"

int proxy_notify_init(struct proxy_notify *n, bool vnet, proxy_notify_done_cb *done,
                      void *opaque, const struct proxy_log *log)
{
    memset(n, 0, sizeof(*n));
    n->log = log;
    n->fd = -1;
    n->done = done;
    n->opaque = opaque;
    return proxy_reader_init(&n->rd, vnet, PROXY_NOTIFY_MAX);
}

void proxy_notify_fini(struct proxy_notify *n)
{
    proxy_notify_detach(n);
    proxy_reader_fini(&n->rd);
}

int proxy_notify_flush(struct proxy_notify *n)
{
    uint32_t off = 0;
    int r = 0;

    while (n->fd >= 0 && off < n->out_len) {
        ssize_t w = send(n->fd, n->out + off, n->out_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                r = negative_errno();
            break;
        }
        off += (uint32_t)w;
    }
    memmove(n->out, n->out + off, n->out_len - off);
    n->out_len -= off;
    return r;
}

/* Queue one message (be32 length, the text) and send what the socket
 * takes. */
static void send_msg(struct proxy_notify *n, const char *msg)
{
    uint32_t len = (uint32_t)strlen(msg);

    if (n->fd < 0)
        return;
    if (n->out_len + 4 + len > sizeof(n->out)) {
        n->out_dropped++;
        return;
    }
    uint8_t *p = n->out + n->out_len;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    memcpy(p + 4, msg, len);
    n->out_len += 4 + len;
    proxy_notify_flush(n);  /* an error shows at the next read */
}

void proxy_notify_attach(struct proxy_notify *n, int fd, bool pending)
{
    proxy_notify_detach(n);
    n->fd = fd;
    n->connections++;
    proxy_reader_reset(&n->rd);
    if (pending) {
        n->do_checkpoints++;
        send_msg(n, NOTIFY_DO_CHECKPOINT);
    }
}

void proxy_notify_detach(struct proxy_notify *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->out_len = 0;
    proxy_reader_reset(&n->rd);
}

void proxy_notify_checkpoint(struct proxy_notify *n)
{
    if (n->fd < 0)
        return;
    n->do_checkpoints++;
    send_msg(n, NOTIFY_DO_CHECKPOINT);
}

static bool is(const uint8_t *msg, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(msg, s, len) == 0;
}

static void on_msg(void *opaque, const uint8_t *msg, size_t len)
{
    struct proxy_notify *n = opaque;

    if (is(msg, len, NOTIFY_INIT)) {
        n->inits++;
        send_msg(n, NOTIFY_INIT_REPLY);
    } else if (is(msg, len, NOTIFY_CHECKPOINT_DONE)) {
        n->checkpoints_done++;
        n->done(n->opaque);
    } else {
        char shown[PROXY_NOTIFY_MAX + 1];
        for (size_t i = 0; i < len; i++)
            shown[i] = isprint(msg[i]) ? (char)msg[i] : '?';
        shown[len] = '\0';
        n->unknown++;
        proxy_fail(n->log, 0, "--notify: unknown message \"%s\" (%zu bytes) refused", shown, len);
    }
}

int proxy_notify_read(struct proxy_notify *n)
{
    uint64_t before[PROXY_DROP__MAX];

    memcpy(before, n->rd.drops, sizeof(before));
    int r = proxy_reader_read(&n->rd, n->fd, on_msg, n);
    for (int d = 0; d < PROXY_DROP__MAX; d++)
        if (n->rd.drops[d] != before[d])
            proxy_fail(n->log, 0, "--notify: a message refused: %s (at most %u bytes)",
                 proxy_drop_name((enum proxy_drop)d), PROXY_NOTIFY_MAX);
    if (r != 0)
        proxy_notify_detach(n);
    return r;
}
