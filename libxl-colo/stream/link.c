/* link.c - open the replication link and the small exchanges on it. */
#include "config.h"

#include <string.h>

#include "stream/link.h"
#include "stream/net.h"

#define CONNECT_WINDOW_MS 10000

int colo_link_key(libxlcolo_ctx *ctx, const libxlcolo_options *opt, uint8_t **key,
                  size_t *keylen)
{
    *key = NULL;
    *keylen = 0;
    if (opt->key_file)
        return colo_key_load(ctx, opt->key_file, key, keylen);
    if (!opt->insecure)
        return LOG_ERRNO(ctx, -EINVAL, "a key file is required (or insecure mode)");
    return 0;
}

int colo_link_handshake(libxlcolo_ctx *ctx, int fd, const libxlcolo_options *opt,
                        const uint8_t *key, size_t keylen, bool server, colo_stream **out)
{
    unsigned version;
    colo_stream *s = NULL;

    int r = colo_stream_new(ctx, fd, &s); /* owns fd, even on failure */
    if (r == 0) {
        colo_stream_set_send_timeout(s, (int)opt->timeout_ms);
        r = server ? colo_stream_handshake_server(s, key, keylen, HANDSHAKE_TIMEOUT_MS, &version)
                   : colo_stream_handshake_client(s, key, keylen, HANDSHAKE_TIMEOUT_MS, &version);
    }
    if (r < 0) {
        colo_stream_free(s);
        return r;
    }
    LOG(ctx, INFO, "link up, stream version %u%s", version, key ? ", authenticated" : "");
    *out = s;
    return 0;
}

int colo_link_connect(libxlcolo_ctx *ctx, const char *host, uint16_t port,
                      const libxlcolo_options *opt, colo_stream **out)
{
    uint8_t *key;
    size_t keylen;
    /* A bad key file is this side's fault: said before any connection. */
    int r = colo_link_key(ctx, opt, &key, &keylen);
    if (r < 0)
        return r;
    /* The peer may still be starting: wait for it as long as for a peer
     * that went silent (--timeout), and never less than the window. */
    int window = opt->timeout_ms > CONNECT_WINDOW_MS ? (int)opt->timeout_ms : CONNECT_WINDOW_MS;
    int fd = colo_net_connect(ctx, host, port, window);
    r = fd < 0 ? fd : colo_link_handshake(ctx, fd, opt, key, keylen, false, out);
    colo_key_free(key, keylen);
    return r;
}

int colo_link_send_epoch(colo_stream *s, uint16_t type, uint64_t epoch)
{
    struct colo_wire_epoch e = { .epoch = epoch };
    return colo_stream_send_buf(s, type, 0, &e, sizeof(e));
}

int colo_link_expect_epoch(libxlcolo_ctx *ctx, colo_stream *s, uint16_t type,
                           uint64_t epoch, int timeout_ms)
{
    for (;;) {
        struct colo_rec_hdr h;
        struct colo_wire_epoch e;
        int r = colo_stream_recv(s, &h, &e, sizeof(e), timeout_ms);
        if (r < 0)
            return r;
        if (h.type == COLO_REC_HEARTBEAT)
            continue;
        if (h.type != type || h.length != sizeof(e))
            return LOG_ERRNO(ctx, -EPROTO, "record %s out of protocol order (expected %s)",
                             colo_rec_type_name(h.type), colo_rec_type_name(type));
        if (e.epoch != epoch)
            return LOG_ERRNO(ctx, -EPROTO, "%s for epoch %" PRIu64 ", expected %" PRIu64,
                             colo_rec_type_name(type), e.epoch, epoch);
        return 0;
    }
}
