/* stream-handshake.c - HELLO/AUTH: versions, authentication mode, mutual
 * proof of the pre-shared key, session keys (docs/protocol.md, "Handshake").
 *
 *   client -> server  HELLO {magic, vmin, vmax, flags, nonce_c}
 *   server -> client  HELLO {magic, v, v, flags, nonce_s,
 *                            HMAC(K, "xen-colo server" | nonce_c | nonce_s)}
 *   client -> server  AUTH  {HMAC(K, "xen-colo client" | nonce_c | nonce_s)}
 *
 * The server proves the key first, so a primary never shows a proof to a
 * stranger. Session keys: HMAC(K, "c2s" | nc | ns) and HMAC(K, "s2c" | ...).
 * Records are tagged from the client's AUTH on: the client tags what it
 * sends after AUTH, the server what it sends after receiving AUTH (so its
 * refusal of a bad AUTH is tagged too). Without a key on both sides, there
 * is no AUTH and no tag at all. */
#include "config.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "stream/stream-private.h"

#define LABEL_SERVER "xen-colo server"
#define LABEL_CLIENT "xen-colo client"

static const char insecure_warning[] =
    "running without authentication (--insecure): anyone who can reach this port "
    "can write guest memory";

/* A host-order HELLO. */
struct hello {
    char magic[8];
    unsigned vmin, vmax;
    uint32_t flags;
    uint8_t nonce[COLO_NONCE_LEN];
    uint8_t tag[COLO_TAG_LEN];
};

static void hello_pack(struct colo_hello *w, const struct hello *h)
{
    memcpy(w->magic, COLO_HELLO_MAGIC, sizeof(w->magic));
    w->version_min = htole16((uint16_t)h->vmin);
    w->version_max = htole16((uint16_t)h->vmax);
    w->flags = htole32(h->flags);
    memcpy(w->nonce, h->nonce, sizeof(w->nonce));
    memcpy(w->tag, h->tag, sizeof(w->tag));
}

static void hello_unpack(struct hello *h, const struct colo_hello *w)
{
    memcpy(h->magic, w->magic, sizeof(h->magic));
    h->vmin = le16toh(w->version_min);
    h->vmax = le16toh(w->version_max);
    h->flags = le32toh(w->flags);
    memcpy(h->nonce, w->nonce, sizeof(h->nonce));
    memcpy(h->tag, w->tag, sizeof(h->tag));
}

static int fill_nonce(colo_stream *s, uint8_t nonce[COLO_NONCE_LEN])
{
    size_t got = 0;

    while (got < COLO_NONCE_LEN) {
        ssize_t n = getrandom(nonce + got, COLO_NONCE_LEN - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return LOG_ERRNO(s->ctx, negative_errno(), "getrandom failed");
        got += (size_t)n;
    }
    return 0;
}

/* HMAC(K, label | nc | ns). */
static int hs_mac(const uint8_t *key, size_t keylen, const char *label,
                  const uint8_t *nc, const uint8_t *ns, uint8_t out[COLO_TAG_LEN])
{
    struct iovec iov[] = {
        { (void *)label, strlen(label) },
        { (void *)nc, COLO_NONCE_LEN },
        { (void *)ns, COLO_NONCE_LEN },
    };
    return colo_hmac_sha256(key, keylen, iov, 3, out);
}

static int session_keys(colo_stream *s, const uint8_t *key, size_t keylen,
                        const uint8_t *nc, const uint8_t *ns, bool client)
{
    uint8_t c2s[COLO_TAG_LEN], s2c[COLO_TAG_LEN];
    int r = hs_mac(key, keylen, "c2s", nc, ns, c2s);

    if (r >= 0)
        r = hs_mac(key, keylen, "s2c", nc, ns, s2c);
    if (r >= 0)
        r = colo_hmac_new(client ? c2s : s2c, COLO_TAG_LEN, &s->tx_mac);
    if (r >= 0)
        r = colo_hmac_new(client ? s2c : c2s, COLO_TAG_LEN, &s->rx_mac);
    explicit_bzero(c2s, sizeof(c2s));
    explicit_bzero(s2c, sizeof(s2c));
    return r < 0 ? LOG_ERRNO(s->ctx, r, "cannot derive the session keys") : 0;
}

/* Receive the handshake record `want` of exactly len bytes. A refusal by
 * the peer keeps its meaning: EACCES and EPROTO are returned as such. */
static int hs_recv(colo_stream *s, uint16_t want, void *body, size_t len,
                   uint64_t deadline)
{
    struct colo_rec_hdr h;
    s->rx_deadline = deadline;
    int r = colo_stream_recv_raw(s, &h, body, len, colo_ms_left(deadline));
    s->rx_deadline = 0;

    /* A record the handshake cannot take: the peer learns why. */
    if (r == -EPROTO || r == -EMSGSIZE)
        colo_stream_send_error(s, r, r == -EPROTO ? "handshake: a record out of protocol"
                                                  : "handshake: a record over its bound");
    if (r == -ECONNABORTED && (s->peer_errno == EACCES || s->peer_errno == EPROTO))
        return -s->peer_errno;
    if (r < 0)
        return r;
    if (h.type != want || h.length != len)
        return s->rx_err = LOG_ERRNO(s->ctx, -EPROTO,
                                     "handshake: expected %s of %zu bytes, got %s of %" PRIu64,
                                     colo_rec_type_name(want), len,
                                     colo_rec_type_name(h.type), h.length);
    return 0;
}

/* Tell the peer why, then fail here with our own line. */
#define REFUSE(s, r, peer_text, ...)                                   \
    ({                                                                 \
        colo_stream_send_error((s), (r), (peer_text));                 \
        LOG_ERRNO((s)->ctx, (r), __VA_ARGS__);                         \
    })

static int hs_start(colo_stream *s, const uint8_t *key, size_t keylen)
{
    if (s->ready || s->tx_err || s->rx_err || s->bytes_sent || s->bytes_received)
        return LOG_ERRNO(s->ctx, -EINVAL, "handshake on a stream already in use");
    if (key && (keylen < 1 || keylen > 4096))
        return LOG_ERRNO(s->ctx, -EINVAL, "handshake: key of %zu bytes", keylen);
    return 0;
}

static void hs_done(colo_stream *s, unsigned version, unsigned *out)
{
    if (!s->secure)
        colo_log(s->ctx, XTL_WARN, -1, "%s", insecure_warning);
    s->version = version;
    s->ready = true;
    if (out)
        *out = version;
}

int colo_stream_handshake_client(colo_stream *s, const uint8_t *key,
                                 size_t keylen, int timeout_ms,
                                 unsigned *version)
{
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    struct hello mine = { .vmin = COLO_STREAM_VERSION_MIN, .vmax = COLO_STREAM_VERSION_MAX,
                          .flags = key ? COLO_HELLO_F_AUTH : 0 };
    struct hello peer;
    struct colo_hello w;
    uint8_t want[COLO_TAG_LEN], auth[COLO_TAG_LEN];
    int r;

    if ((r = hs_start(s, key, keylen)) < 0 || (r = fill_nonce(s, mine.nonce)) < 0)
        return r;
    hello_pack(&w, &mine);
    r = colo_stream_send_raw(s, COLO_REC_HELLO, 0, &(struct iovec){ &w, sizeof(w) }, 1);
    if (r < 0)
        return r;
    r = hs_recv(s, COLO_REC_HELLO, &w, sizeof(w), deadline);
    if (r < 0)
        return r;
    hello_unpack(&peer, &w);

    if (memcmp(peer.magic, COLO_HELLO_MAGIC, sizeof(peer.magic)) != 0)
        return LOG_ERRNO(s->ctx, -EPROTO, "peer is not a xen-colo stream (bad HELLO magic)");
    if (peer.vmin != peer.vmax || peer.vmin < mine.vmin || peer.vmin > mine.vmax)
        return REFUSE(s, -EPROTO, "version mismatch: the primary cannot use the version chosen",
                      "peer speaks stream versions %u..%u, we speak %u..%u",
                      peer.vmin, peer.vmax, mine.vmin, mine.vmax);
    bool peer_auth = peer.flags & COLO_HELLO_F_AUTH;
    if (key && !peer_auth)
        return REFUSE(s, -EACCES, "the primary requires authentication: give the secondary --key",
                      "peer runs without authentication (--insecure on the secondary?)");
    if (!key && peer_auth)
        return REFUSE(s, -EACCES, "the primary has no key: give it --key",
                      "peer requires authentication (--key missing on the primary?)");

    if (key) {
        r = hs_mac(key, keylen, LABEL_SERVER, mine.nonce, peer.nonce, want);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "handshake: cannot compute a tag");
        if (!colo_hmac_equal(want, peer.tag))
            return REFUSE(s, -EACCES, "secondary failed authentication: wrong key",
                          "secondary failed authentication: wrong key");
        r = hs_mac(key, keylen, LABEL_CLIENT, mine.nonce, peer.nonce, auth);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "handshake: cannot compute a tag");
        r = session_keys(s, key, keylen, mine.nonce, peer.nonce, true);
        if (r < 0)
            return r;
        r = colo_stream_send_raw(s, COLO_REC_AUTH, 0, &(struct iovec){ auth, sizeof(auth) }, 1);
        if (r < 0)
            return r;
        s->secure = s->tx_tagged = s->rx_tagged = true;
    }
    hs_done(s, peer.vmin, version);
    return 0;
}

int colo_stream_handshake_server(colo_stream *s, const uint8_t *key,
                                 size_t keylen, int timeout_ms,
                                 unsigned *version)
{
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    struct hello peer, mine = { .flags = key ? COLO_HELLO_F_AUTH : 0 };
    struct colo_hello w;
    uint8_t want[COLO_TAG_LEN], auth[COLO_TAG_LEN];
    int r;

    if ((r = hs_start(s, key, keylen)) < 0)
        return r;
    r = hs_recv(s, COLO_REC_HELLO, &w, sizeof(w), deadline);
    if (r < 0)
        return r;
    hello_unpack(&peer, &w);

    if (memcmp(peer.magic, COLO_HELLO_MAGIC, sizeof(peer.magic)) != 0)
        return REFUSE(s, -EPROTO, "not a xen-colo stream (bad HELLO magic)",
                      "peer is not a xen-colo stream (bad HELLO magic)");
    unsigned lo = MAX(peer.vmin, (unsigned)COLO_STREAM_VERSION_MIN);
    unsigned hi = MIN(peer.vmax, (unsigned)COLO_STREAM_VERSION_MAX);
    if (peer.vmin > peer.vmax || lo > hi) {
        char text[128];
        snprintf(text, sizeof(text),
                 "version mismatch: the secondary speaks stream versions %u..%u",
                 COLO_STREAM_VERSION_MIN, COLO_STREAM_VERSION_MAX);
        return REFUSE(s, -EPROTO, text, "peer speaks stream versions %u..%u, we speak %u..%u",
                      peer.vmin, peer.vmax, COLO_STREAM_VERSION_MIN, COLO_STREAM_VERSION_MAX);
    }
    bool peer_auth = peer.flags & COLO_HELLO_F_AUTH;
    if (key && !peer_auth)
        return REFUSE(s, -EACCES, "the secondary requires authentication: give the primary --key",
                      "peer offers no authentication (--key missing on the primary?)");
    if (!key && peer_auth)
        return REFUSE(s, -EACCES,
                      "the secondary runs without authentication (--insecure): it refuses a key",
                      "peer offers authentication but we have no key (--insecure on the secondary?)");

    mine.vmin = mine.vmax = hi;
    if ((r = fill_nonce(s, mine.nonce)) < 0)
        return r;
    if (key) {
        r = hs_mac(key, keylen, LABEL_SERVER, peer.nonce, mine.nonce, mine.tag);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "handshake: cannot compute a tag");
        r = session_keys(s, key, keylen, peer.nonce, mine.nonce, false);
        if (r < 0)
            return r;
    }
    hello_pack(&w, &mine);
    r = colo_stream_send_raw(s, COLO_REC_HELLO, 0, &(struct iovec){ &w, sizeof(w) }, 1);
    if (r < 0)
        return r;

    if (key) {
        r = hs_recv(s, COLO_REC_AUTH, auth, sizeof(auth), deadline);
        if (r < 0)
            return r;
        s->secure = s->tx_tagged = s->rx_tagged = true;
        r = hs_mac(key, keylen, LABEL_CLIENT, peer.nonce, mine.nonce, want);
        if (r < 0)
            return LOG_ERRNO(s->ctx, r, "handshake: cannot compute a tag");
        if (!colo_hmac_equal(want, auth)) {
            s->rx_err = -EACCES; /* nothing more is read from this peer */
            return REFUSE(s, -EACCES, "primary failed authentication: wrong key",
                          "primary failed authentication: wrong key");
        }
    }
    hs_done(s, hi, version);
    return 0;
}
