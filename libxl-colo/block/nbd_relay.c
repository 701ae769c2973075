/* nbd_relay.c - an NBD connection over the record stream (nbd_relay.h). */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "block/nbd_relay.h"

/* A record from the peer is taken whole within this. */
#define RELAY_RECV_TIMEOUT_MS 30000

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return negative_errno();
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int colo_nbd_relay(libxlcolo_ctx *ctx, const char *label, int ufd, colo_stream *s,
                   int quit_fd)
{
    _cleanup_free_ uint8_t *buf = malloc(COLO_MAX_DISK_DATA_BODY);
    if (!buf)
        return LOG_ERRNO(ctx, -ENOMEM, "%s: out of memory", label);
    for (;;) {
        struct pollfd fds[3] = {
            { .fd = ufd, .events = POLLIN },
            { .fd = colo_stream_fd(s), .events = POLLIN },
            { .fd = quit_fd, .events = POLLIN },
        };
        int n = poll(fds, 3, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return LOG_ERRNO(ctx, negative_errno(), "%s: poll", label);
        if (fds[2].revents)
            return 0;
        if (fds[0].revents) {
            ssize_t got = recv(ufd, buf, COLO_MAX_DISK_DATA_BODY, MSG_DONTWAIT);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got < 0)
                return LOG_ERRNO(ctx, negative_errno(), "%s: read from QEMU", label);
            if (got == 0) { /* QEMU closed its NBD connection: so does the peer */
                colo_stream_send_buf(s, COLO_REC_STOP, 0, NULL, 0);
                return 0;
            }
            int r = colo_stream_send_buf(s, COLO_REC_DISK_DATA, 0, buf, (size_t)got);
            if (r < 0)
                return r;
        }
        if (fds[1].revents) {
            struct colo_rec_hdr h;
            int r = colo_stream_recv(s, &h, buf, COLO_MAX_DISK_DATA_BODY, RELAY_RECV_TIMEOUT_MS);
            if (r == -EPIPE)
                return 0;
            if (r < 0)
                return r;
            if (h.type == COLO_REC_STOP)
                return 0;
            if (h.type != COLO_REC_DISK_DATA)
                return LOG_ERRNO(ctx, -EPROTO, "%s: %s record on a disk link", label,
                                 colo_rec_type_name(h.type));
            r = write_all(ufd, buf, h.length);
            if (r < 0)
                return LOG_ERRNO(ctx, r, "%s: write to QEMU", label);
        }
    }
}
