/* test_handshake.c - HELLO/AUTH: same key, wrong key, forged AUTH, key vs
 * no key, insecure, versions, magic, order, timeout. */
#include "config.h"

#include "stream/hmac.h"
#include "stream-util.h"

static const char insecure_line[] =
    "running without authentication (--insecure): anyone who can reach this port "
    "can write guest memory";

static struct colo_hello hello(unsigned vmin, unsigned vmax, uint32_t flags)
{
    struct colo_hello h = {
        .version_min = htole16((uint16_t)vmin),
        .version_max = htole16((uint16_t)vmax),
        .flags = htole32(flags),
    };
    memcpy(h.magic, COLO_HELLO_MAGIC, sizeof(h.magic));
    memset(h.nonce, 0x42, sizeof(h.nonce));
    return h;
}

/* Read one record by hand: header bytes, body (len), no tag. */
static uint16_t read_record(int fd, uint8_t hdr[COLO_REC_HDR_LEN], uint8_t *body, size_t *len)
{
    uint16_t t;
    uint64_t l;

    read_all(fd, hdr, COLO_REC_HDR_LEN);
    memcpy(&t, hdr, 2);
    memcpy(&l, hdr + 8, 8);
    CU_ASSERT_FATAL(le64toh(l) <= COLO_MAX_ERROR_BODY);
    *len = le64toh(l);
    read_all(fd, body, *len);
    return le16toh(t);
}

/* The ERROR record that comes next on fd, after the server's HELLO if any.
 * With a key, it must carry the tag of the first server-to-client record:
 * HMAC(HMAC(K, "s2c" | nc | ns), le64 0 | header | body), nc being the
 * test's nonce (hello()) and ns the server's. */
static void expect_error_record(int fd, const uint8_t *key, int err, const char *text)
{
    uint8_t hdr[COLO_REC_HDR_LEN], body[COLO_MAX_ERROR_BODY + 1], ns[COLO_NONCE_LEN];
    size_t len;
    uint16_t type;

    while ((type = read_record(fd, hdr, body, &len)) != COLO_REC_ERROR) {
        CU_ASSERT_FATAL(type == COLO_REC_HELLO && len == sizeof(struct colo_hello));
        memcpy(ns, ((struct colo_hello *)body)->nonce, sizeof(ns)); /* HELLOs are never tagged */
    }
    if (key) {
        uint8_t tag[COLO_TAG_LEN], sk[32], want[32], nc[COLO_NONCE_LEN];
        uint64_t seq0 = 0;
        read_all(fd, tag, sizeof(tag));
        memset(nc, 0x42, sizeof(nc));
        struct iovec d[] = { { (void *)"s2c", 3 }, { nc, sizeof(nc) }, { ns, sizeof(ns) } };
        CU_ASSERT_EQUAL(colo_hmac_sha256(key, 32, d, 3, sk), 0);
        struct iovec r[] = { { &seq0, 8 }, { hdr, sizeof(hdr) }, { body, len } };
        CU_ASSERT_EQUAL(colo_hmac_sha256(sk, sizeof(sk), r, 3, want), 0);
        CU_ASSERT(colo_hmac_equal(tag, want));
    }
    uint32_t e;
    memcpy(&e, body, 4);
    body[len] = '\0';
    CU_ASSERT_EQUAL(le32toh(e), (uint32_t)err);
    CU_ASSERT_STRING_EQUAL((char *)body + 4, text);
}

static void test_same_key(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint64_t e = htole64(7), got = 0;
    int rc, rv;

    pair_new(&c, &v);
    handshake(&c, &v, key_a, key_a, &rc, &rv);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(rv, 0);
    CU_ASSERT_EQUAL(c.lg.errors + v.lg.errors, 0);
    /* Both directions carry tags and check them. */
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_CHECKPOINT_REQUEST, 0, &e, 8), 0);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, &got, sizeof(got), T_MS), 0);
    CU_ASSERT_EQUAL(h.type, COLO_REC_CHECKPOINT_REQUEST);
    CU_ASSERT_EQUAL(got, e);
    CU_ASSERT_EQUAL(colo_stream_send_buf(v.s, COLO_REC_CHECKPOINT_REPLY, 0, &e, 8), 0);
    CU_ASSERT_EQUAL(colo_stream_recv(c.s, &h, &got, sizeof(got), T_MS), 0);
    CU_ASSERT_EQUAL(h.type, COLO_REC_CHECKPOINT_REPLY);
    CU_ASSERT_EQUAL(colo_stream_bytes_sent(c.s), colo_stream_bytes_received(v.s));
    CU_ASSERT_EQUAL(colo_stream_bytes_sent(v.s), colo_stream_bytes_received(c.s));
    side_free(&c);
    side_free(&v);
}

static void test_wrong_key(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    int rc, rv, err = 0;

    pair_new(&c, &v);
    handshake(&c, &v, key_a, key_b, &rc, &rv);
    CU_ASSERT_EQUAL(rc, -EACCES);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "secondary failed authentication: wrong key");
    CU_ASSERT_EQUAL(rv, -EACCES);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "peer reported: secondary failed authentication: wrong key");
    CU_ASSERT_STRING_EQUAL(colo_stream_peer_error(v.s, &err), "secondary failed authentication: wrong key");
    CU_ASSERT_EQUAL(err, EACCES);
    /* Neither side will hand out a record now. */
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, NULL, 0, T_MS), -ENOTCONN);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_HEARTBEAT, 0, NULL, 0), -ENOTCONN);
    side_free(&c);
    side_free(&v);
}

/* A client that does not check the server's proof and sends a made-up AUTH,
 * then guest memory: refused, and no body ever reaches the caller. */
static void test_forged_auth(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint8_t forged[COLO_TAG_LEN], body[64];
    struct colo_hello hi = hello(2, 2, COLO_HELLO_F_AUTH);
    int raw;

    pair_new(&c, &v);
    raw = dup(colo_stream_fd(c.s));
    memset(forged, 0x17, sizeof(forged));
    memset(body, 0x5a, sizeof(body));
    raw_record(raw, COLO_REC_HELLO, 0, sizeof(hi), &hi, sizeof(hi));
    raw_record(raw, COLO_REC_AUTH, 0, sizeof(forged), forged, sizeof(forged));
    raw_record(raw, COLO_REC_CONTEXT, 0, sizeof(body), body, sizeof(body));

    CU_ASSERT_EQUAL(colo_stream_handshake_server(v.s, key_a, 32, T_MS, NULL), -EACCES);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "primary failed authentication: wrong key");
    memset(body, 0, sizeof(body));
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, body, sizeof(body), T_MS), -ENOTCONN);
    CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), -ENOTCONN);
    for (size_t i = 0; i < sizeof(body); i++)
        CU_ASSERT_EQUAL_FATAL(body[i], 0);
    /* The refusal comes after the server's HELLO, tagged. */
    expect_error_record(raw, key_a, EACCES, "primary failed authentication: wrong key");
    close(raw);
    side_free(&c);
    side_free(&v);
}

static void test_key_vs_no_key(void)
{
    struct side c, v;
    int rc, rv;

    pair_new(&c, &v);
    handshake(&c, &v, NULL, key_a, &rc, &rv);
    CU_ASSERT_EQUAL(rv, -EACCES);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "peer offers no authentication (--key missing on the primary?)");
    CU_ASSERT_EQUAL(rc, -EACCES);
    CU_ASSERT_STRING_EQUAL(c.lg.last,
                           "peer reported: the secondary requires authentication: give the primary --key");
    side_free(&c);
    side_free(&v);

    pair_new(&c, &v);
    handshake(&c, &v, key_a, NULL, &rc, &rv);
    CU_ASSERT_EQUAL(rv, -EACCES);
    CU_ASSERT_STRING_EQUAL(v.lg.last,
                           "peer offers authentication but we have no key (--insecure on the secondary?)");
    CU_ASSERT_EQUAL(rc, -EACCES);
    CU_ASSERT(strncmp(c.lg.last, "peer reported: the secondary runs without authentication", 56) == 0);
    side_free(&c);
    side_free(&v);
}

static void test_insecure(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint64_t e = 3;
    int rc, rv;

    pair_new(&c, &v);
    handshake(&c, &v, NULL, NULL, &rc, &rv);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(rv, 0);
    CU_ASSERT_STRING_EQUAL(c.lg.last, insecure_line);
    CU_ASSERT_STRING_EQUAL(v.lg.last, insecure_line);
    uint64_t before = colo_stream_bytes_sent(c.s);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_VMSTATE_SEND, 0, &e, 8), 0);
    CU_ASSERT_EQUAL(colo_stream_bytes_sent(c.s) - before, COLO_REC_HDR_LEN + 8); /* no tag */
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, &e, sizeof(e), T_MS), 0);
    CU_ASSERT_EQUAL(e, 3);
    side_free(&c);
    side_free(&v);
}

static void test_version_refused_by_server(void)
{
    struct side c, v;
    struct colo_hello hi = hello(3, 4, 0);
    int raw;

    pair_new(&c, &v);
    raw = dup(colo_stream_fd(c.s));
    raw_record(raw, COLO_REC_HELLO, 0, sizeof(hi), &hi, sizeof(hi));
    CU_ASSERT_EQUAL(colo_stream_handshake_server(v.s, NULL, 0, T_MS, NULL), -EPROTO);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "peer speaks stream versions 3..4, we speak 2..2");
    expect_error_record(raw, NULL, EPROTO,
                        "version mismatch: the secondary speaks stream versions 2..2");
    close(raw);
    side_free(&c);
    side_free(&v);
}

static void test_version_refused_by_client(void)
{
    struct side c, v;
    struct colo_hello hi = hello(1, 1, 0); /* version 1: before ownership */
    int raw;

    pair_new(&c, &v);
    raw = dup(colo_stream_fd(v.s));
    raw_record(raw, COLO_REC_HELLO, 0, sizeof(hi), &hi, sizeof(hi));
    CU_ASSERT_EQUAL(colo_stream_handshake_client(c.s, NULL, 0, T_MS, NULL), -EPROTO);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "peer speaks stream versions 1..1, we speak 2..2");
    expect_error_record(raw, NULL, EPROTO, "version mismatch: the primary cannot use the version chosen");
    close(raw);
    side_free(&c);
    side_free(&v);
}

static void test_bad_magic_and_order(void)
{
    struct side c, v;
    struct colo_hello hi = hello(2, 2, 0);
    uint64_t e = 0;
    int raw;

    pair_new(&c, &v);
    raw = dup(colo_stream_fd(c.s));
    memcpy(hi.magic, "HTTP/1.1", 8);
    raw_record(raw, COLO_REC_HELLO, 0, sizeof(hi), &hi, sizeof(hi));
    CU_ASSERT_EQUAL(colo_stream_handshake_server(v.s, NULL, 0, T_MS, NULL), -EPROTO);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "peer is not a xen-colo stream (bad HELLO magic)");
    close(raw);
    side_free(&c);
    side_free(&v);

    /* Guest state before the handshake, either way. */
    pair_new(&c, &v);
    raw = dup(colo_stream_fd(c.s));
    raw_record(raw, COLO_REC_CONTEXT, 0, 8, &e, 8);
    CU_ASSERT_EQUAL(colo_stream_handshake_server(v.s, NULL, 0, T_MS, NULL), -EPROTO);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "record CONTEXT before the end of the handshake");
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_CONTEXT, 0, &e, 8), -ENOTCONN);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "record CONTEXT sent before the handshake");
    close(raw);
    side_free(&c);
    side_free(&v);
}

static void test_handshake_timeout(void)
{
    struct side c, v;

    pair_new(&c, &v);
    uint64_t t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_stream_handshake_server(v.s, key_a, 32, 100, NULL), -ETIMEDOUT);
    uint64_t ms = (colo_now_ns() - t0) / COLO_NS_PER_MS;
    CU_ASSERT(ms >= 90 && ms < 2000);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "no record from the peer within 100 ms");
    side_free(&c);
    side_free(&v);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "same key", test_same_key },
        { "wrong key refused on both sides", test_wrong_key },
        { "forged AUTH refused, no body handed out", test_forged_auth },
        { "key vs no key refused, both ways", test_key_vs_no_key },
        { "insecure on both sides", test_insecure },
        { "version refused by the server", test_version_refused_by_server },
        { "version refused by the client", test_version_refused_by_client },
        { "bad magic, records out of order", test_bad_magic_and_order },
        { "handshake timeout", test_handshake_timeout },
        { NULL, NULL },
    };
    return unit_run("handshake", NULL, NULL, tests);
}
