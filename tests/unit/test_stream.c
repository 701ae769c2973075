/* test_stream.c - records after the handshake: round trips (a 4 MiB PAGES
 * body too), and every way a record is refused: unknown type, bad flags,
 * huge length, flipped bit, truncation, replay, reorder, drop, timeout,
 * the peer's ERROR. */
#include "config.h"

#include <sys/ioctl.h>

#include "stream-util.h"

/* A connected pair after a handshake; key NULL: insecure. */
static void ready_pair(struct side *c, struct side *v, const uint8_t *key)
{
    int rc, rv;

    pair_new(c, v);
    handshake(c, v, key, key, &rc, &rv);
    CU_ASSERT_FATAL(rc == 0 && rv == 0);
}

static void free_pair(struct side *c, struct side *v)
{
    side_free(c);
    side_free(v);
}

static void test_roundtrip(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    struct colo_wire_domain_config cfg = { .name = "guest", .nr_vcpus = 2, .extra_len = 5 };
    uint8_t buf[512];

    ready_pair(&c, &v, key_a);
    struct iovec iov[] = { { &cfg, sizeof(cfg) }, { (void *)"extra", 5 } };
    CU_ASSERT_EQUAL(colo_stream_send(c.s, COLO_REC_DOMAIN_CONFIG, 0, iov, 2), 0);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_HEARTBEAT, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_STOP, 0, NULL, 0), 0);

    /* Two steps: the header alone first, then the body where we want it. */
    CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), 0);
    CU_ASSERT_EQUAL(h.type, COLO_REC_DOMAIN_CONFIG);
    CU_ASSERT_EQUAL(h.flags, 0);
    CU_ASSERT_EQUAL(h.length, sizeof(cfg) + 5);
    CU_ASSERT_EQUAL(colo_stream_recv_body(v.s, &h, buf, T_MS), 0);
    CU_ASSERT(memcmp(buf, &cfg, sizeof(cfg)) == 0);
    CU_ASSERT(memcmp(buf + sizeof(cfg), "extra", 5) == 0);
    CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), 0);
    CU_ASSERT_EQUAL(h.type, COLO_REC_HEARTBEAT);
    CU_ASSERT_EQUAL(h.length, 0);
    CU_ASSERT_EQUAL(colo_stream_recv_body(v.s, &h, NULL, T_MS), 0);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, NULL, 0, T_MS), 0);
    CU_ASSERT_EQUAL(h.type, COLO_REC_STOP);
    CU_ASSERT_EQUAL(colo_stream_bytes_sent(c.s), colo_stream_bytes_received(v.s));
    CU_ASSERT_EQUAL(v.lg.errors, 0);
    free_pair(&c, &v);
}

struct pages_job {
    colo_stream *s;
    const struct iovec *iov;
    int iovcnt;
    int r;
};

static void *send_pages(void *p)
{
    struct pages_job *j = p;
    j->r = colo_stream_send(j->s, COLO_REC_PAGES, COLO_REC_F_PRECOPY, j->iov, j->iovcnt);
    return NULL;
}

/* A full PAGES record (1024 pages), sent from the caller's buffers, first
 * as three iovecs, then as one iovec per page (more than IOV_MAX in all). */
static void test_pages_4mib(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    struct colo_wire_pages_hdr ph = { .count = COLO_BATCH_PAGES };
    uint64_t pfns[COLO_BATCH_PAGES];
    size_t data_len = (size_t)COLO_BATCH_PAGES * 4096;
    uint8_t *data = malloc(data_len), *dst = malloc(COLO_MAX_PAGES_BODY);
    struct iovec *iov = calloc(COLO_BATCH_PAGES + 2, sizeof(*iov));

    CU_ASSERT_FATAL(data && dst && iov);
    for (size_t i = 0; i < data_len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    for (unsigned i = 0; i < COLO_BATCH_PAGES; i++)
        pfns[i] = i * 3;
    iov[0] = (struct iovec){ &ph, sizeof(ph) };
    iov[1] = (struct iovec){ pfns, sizeof(pfns) };

    ready_pair(&c, &v, key_a);
    for (int round = 0; round < 2; round++) {
        int n = 2;
        if (round == 0) {
            iov[n++] = (struct iovec){ data, data_len };
        } else {
            for (unsigned i = 0; i < COLO_BATCH_PAGES; i++)
                iov[n++] = (struct iovec){ data + (size_t)i * 4096, 4096 };
        }
        struct pages_job j = { .s = c.s, .iov = iov, .iovcnt = n };
        pthread_t t;
        CU_ASSERT_FATAL(pthread_create(&t, NULL, send_pages, &j) == 0);
        memset(dst, 0, COLO_MAX_PAGES_BODY);
        CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), 0);
        CU_ASSERT_EQUAL(h.type, COLO_REC_PAGES);
        CU_ASSERT_EQUAL(h.flags, COLO_REC_F_PRECOPY);
        CU_ASSERT_EQUAL(h.length, COLO_MAX_PAGES_BODY);
        CU_ASSERT_EQUAL(colo_stream_recv_body(v.s, &h, dst, T_MS), 0);
        pthread_join(t, NULL);
        CU_ASSERT_EQUAL(j.r, 0);
        CU_ASSERT(memcmp(dst, &ph, sizeof(ph)) == 0);
        CU_ASSERT(memcmp(dst + sizeof(ph), pfns, sizeof(pfns)) == 0);
        CU_ASSERT(memcmp(dst + sizeof(ph) + sizeof(pfns), data, data_len) == 0);
    }
    CU_ASSERT_EQUAL(colo_stream_bytes_sent(c.s), colo_stream_bytes_received(v.s));
    free_pair(&c, &v);
    free(data);
    free(dst);
    free(iov);
}

/* Headers that are refused before anything else is read or allocated. */
static void test_bad_headers(void)
{
    static const struct {
        uint16_t type, flags;
        uint64_t length;
        int err;
        const char *line;
    } cases[] = {
        { 0x0777, 0, 8, -EPROTO, "unknown record type 0x0777" },
        { COLO_REC_CONTEXT, COLO_REC_F_PRECOPY, 8, -EPROTO, "bad flags 0x1 on record CONTEXT" },
        { COLO_REC_PAGES, 0x8000, 8, -EPROTO, "bad flags 0x8000 on record PAGES" },
        { COLO_REC_PAGES, 0, 1ull << 40, -EMSGSIZE,
          "record PAGES length 1099511627776 exceeds bound 4202504" },
        { COLO_REC_HEARTBEAT, 0, 9, -EMSGSIZE, "record HEARTBEAT length 9 exceeds bound 8" },
        /* the datapath's link: one Ethernet frame a record */
        { COLO_REC_NET_CLIENT, 0, 1519, -EMSGSIZE, "record NET_CLIENT length 1519 exceeds bound 1518" },
        { COLO_REC_NET_SECONDARY, 0, 1ull << 62, -EMSGSIZE,
          "record NET_SECONDARY length 4611686018427387904 exceeds bound 1518" },
        { COLO_REC_HELLO, 0, 80, -EPROTO, "record HELLO after the handshake" },
    };
    uint8_t junk[100];

    memset(junk, 0xee, sizeof(junk));
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct side c, v;
        struct colo_rec_hdr h;
        int from_c, to_v, pending = -1;

        ready_pair(&c, &v, key_a);
        intercept(&c, &v, &from_c, &to_v);
        raw_record(to_v, cases[i].type, cases[i].flags, cases[i].length, NULL, 0);
        write_all(to_v, junk, sizeof(junk)); /* what would be the body */
        uint64_t t0 = colo_now_ns();
        CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), cases[i].err);
        CU_ASSERT((colo_now_ns() - t0) / COLO_NS_PER_MS < 1000); /* no waiting for a body */
        CU_ASSERT_STRING_EQUAL(v.lg.last, cases[i].line);
        /* Not one byte past the header was read. */
        CU_ASSERT_EQUAL(ioctl(colo_stream_fd(v.s), FIONREAD, &pending), 0);
        CU_ASSERT_EQUAL(pending, (int)sizeof(junk));
        /* The direction stays dead, and says so without a new line. */
        v.lg.last[0] = '\0';
        CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), cases[i].err);
        CU_ASSERT_STRING_EQUAL(v.lg.last, "");
        close(from_c);
        close(to_v);
        free_pair(&c, &v);
    }
}

/* Capture what c sends, change it, hand it to v. */
static size_t capture(int from_c, uint8_t *buf, size_t cap)
{
    return read_avail(from_c, buf, cap);
}

static void test_flipped_bits(void)
{
    uint8_t body[1000], got[1000], wire[2048];

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)i;
    /* body bit (secure and insecure), tag bit, crc field bit */
    static const struct {
        bool secure;
        size_t byte;
        const char *line;
    } cases[] = {
        { true, COLO_REC_HDR_LEN + 500, "record CONTEXT failed its CRC32C check" },
        { false, COLO_REC_HDR_LEN + 999, "record CONTEXT failed its CRC32C check" },
        { true, COLO_REC_HDR_LEN + 1000 + 31, "record CONTEXT failed authentication" },
        { true, 5, "record CONTEXT failed its CRC32C check" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct side c, v;
        struct colo_rec_hdr h;
        int from_c, to_v;

        ready_pair(&c, &v, cases[i].secure ? key_a : NULL);
        intercept(&c, &v, &from_c, &to_v);
        CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_CONTEXT, 0, body, sizeof(body)), 0);
        size_t n = capture(from_c, wire, sizeof(wire));
        CU_ASSERT_EQUAL(n, COLO_REC_HDR_LEN + sizeof(body) + (cases[i].secure ? COLO_TAG_LEN : 0));
        wire[cases[i].byte] ^= 0x10;
        write_all(to_v, wire, n);
        memset(got, 0xaa, sizeof(got));
        CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, got, sizeof(got), T_MS), -EBADMSG);
        CU_ASSERT_STRING_EQUAL(v.lg.last, cases[i].line);
        for (size_t k = 0; k < sizeof(got); k++) /* nothing unverified is left */
            CU_ASSERT_EQUAL_FATAL(got[k], 0);
        close(from_c);
        close(to_v);
        free_pair(&c, &v);
    }
}

/* Two records A and B from c; deliver them as `order` says ("AA", "BA",
 * "B"); the first wrong one fails authentication. */
static void replay_case(const char *order, int ok_before_failure)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint8_t wire[2][128];
    size_t len[2];
    uint64_t epoch;
    int from_c, to_v;

    ready_pair(&c, &v, key_a);
    intercept(&c, &v, &from_c, &to_v);
    for (int i = 0; i < 2; i++) {
        epoch = htole64((uint64_t)i + 1);
        CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_VMSTATE_SEND, 0, &epoch, 8), 0);
        len[i] = capture(from_c, wire[i], sizeof(wire[i]));
        CU_ASSERT_EQUAL(len[i], COLO_REC_HDR_LEN + 8 + COLO_TAG_LEN);
    }
    for (const char *p = order; *p; p++)
        write_all(to_v, wire[*p - 'A'], len[*p - 'A']);
    for (int i = 0; i < ok_before_failure; i++)
        CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, &epoch, 8, T_MS), 0);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, &epoch, 8, T_MS), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "record VMSTATE_SEND failed authentication");
    close(from_c);
    close(to_v);
    free_pair(&c, &v);
}

static void test_replay_reorder_drop(void)
{
    replay_case("AA", 1); /* replayed */
    replay_case("BA", 0); /* reordered */
    replay_case("B", 0);  /* A dropped */
}

static void test_truncation_and_eof(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint8_t body[100] = { 0 };
    int raw;

    /* EOF in a body */
    ready_pair(&c, &v, NULL);
    raw = dup(colo_stream_fd(c.s));
    raw_record(raw, COLO_REC_CONTEXT, 0, sizeof(body), body, 50);
    shutdown(raw, SHUT_WR);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, body, sizeof(body), T_MS), -EPIPE);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "truncated record CONTEXT (50 of 100 bytes)");
    close(raw);
    free_pair(&c, &v);

    /* EOF in a header */
    ready_pair(&c, &v, key_a);
    raw = dup(colo_stream_fd(c.s));
    write_all(raw, body, 10);
    shutdown(raw, SHUT_WR);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, body, sizeof(body), T_MS), -EPIPE);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "truncated record");
    close(raw);
    free_pair(&c, &v);

    /* EOF at a boundary, after a good record */
    ready_pair(&c, &v, key_a);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_HEARTBEAT, 0, NULL, 0), 0);
    shutdown(colo_stream_fd(c.s), SHUT_WR);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, NULL, 0, T_MS), 0);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, NULL, 0, T_MS), -EPIPE);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "peer closed the connection");
    free_pair(&c, &v);
}

static void test_timeout_keeps_stream(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint64_t e = 9;

    ready_pair(&c, &v, key_a);
    uint64_t t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, &e, 8, 50), -ETIMEDOUT);
    CU_ASSERT((colo_now_ns() - t0) / COLO_NS_PER_MS >= 45);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "no record from the peer within 50 ms");
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_VMSTATE_LOADED, 0, &e, 8), 0);
    e = 0;
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, &e, 8, T_MS), 0);
    CU_ASSERT_EQUAL(e, 9);
    free_pair(&c, &v);
}

static void test_peer_error(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint32_t le = htole32(EIO);
    int err = 0;

    ready_pair(&c, &v, key_a);
    CU_ASSERT_PTR_NULL(colo_stream_peer_error(v.s, NULL));
    struct iovec iov[] = { { &le, 4 }, { (void *)"disk on fire\n", 13 } };
    CU_ASSERT_EQUAL(colo_stream_send(c.s, COLO_REC_ERROR, 0, iov, 2), 0);
    CU_ASSERT_EQUAL(colo_stream_recv_hdr(v.s, &h, T_MS), -ECONNABORTED);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "peer reported: disk on fire?");
    CU_ASSERT_STRING_EQUAL(colo_stream_peer_error(v.s, &err), "disk on fire?");
    CU_ASSERT_EQUAL(err, EIO);
    free_pair(&c, &v);
}

static void test_send_and_buffer_checks(void)
{
    struct side c, v;
    struct colo_rec_hdr h;
    uint8_t big[16] = { 0 };
    uint64_t e = 1;

    ready_pair(&c, &v, key_a);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, 0x0777, 0, &e, 8), -EINVAL);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_STOP, COLO_REC_F_PRECOPY, NULL, 0), -EINVAL);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "bad flags 0x1 on record STOP");
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_STOP, 0, big, sizeof(big)), -EMSGSIZE);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "record STOP length 16 exceeds bound 8");
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_HELLO, 0, big, 8), -EINVAL);
    /* Refused sends left nothing on the wire: the next record is fine. */
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_VMSTATE_SEND, 0, &e, 8), 0);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, big, 4, T_MS), -EMSGSIZE);
    CU_ASSERT_STRING_EQUAL(v.lg.last, "record VMSTATE_SEND of 8 bytes exceeds the 4-byte buffer");
    free_pair(&c, &v);
}

static void test_send_timeout(void)
{
    struct side c, v;
    size_t len = 4u << 20;
    uint8_t *data = calloc(1, len);

    CU_ASSERT_FATAL(data != NULL);
    ready_pair(&c, &v, NULL);
    colo_stream_set_send_timeout(c.s, 100);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_PAGES, 0, data, len), -ETIMEDOUT);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "sending record PAGES: the peer took no data for 100 ms");
    c.lg.last[0] = '\0';
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_HEARTBEAT, 0, NULL, 0), -ETIMEDOUT);
    CU_ASSERT_STRING_EQUAL(c.lg.last, "");
    free_pair(&c, &v);
    free(data);
}

/* The example bytes of docs/protocol.md, section 2.4. */
static void test_spec_examples(void)
{
    static const uint8_t request5[] = {
        0x21, 0x00, 0x00, 0x00, 0x0a, 0x80, 0xca, 0xd1, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    static const uint8_t heartbeat[] = {
        0x30, 0x00, 0x00, 0x00, 0x2b, 0xe3, 0x1a, 0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    struct side c, v;
    uint8_t wire[64];
    uint64_t e = htole64(5);
    int from_c, to_v;

    ready_pair(&c, &v, NULL);
    intercept(&c, &v, &from_c, &to_v);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_CHECKPOINT_REQUEST, 0, &e, 8), 0);
    CU_ASSERT_EQUAL(capture(from_c, wire, sizeof(wire)), sizeof(request5));
    CU_ASSERT(memcmp(wire, request5, sizeof(request5)) == 0);
    CU_ASSERT_EQUAL(colo_stream_send_buf(c.s, COLO_REC_HEARTBEAT, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(capture(from_c, wire, sizeof(wire)), sizeof(heartbeat));
    CU_ASSERT(memcmp(wire, heartbeat, sizeof(heartbeat)) == 0);
    close(from_c);
    close(to_v);
    free_pair(&c, &v);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "round trip", test_roundtrip },
        { "4 MiB PAGES, few and many iovecs", test_pages_4mib },
        { "bad headers refused before any body", test_bad_headers },
        { "flipped bits", test_flipped_bits },
        { "replayed, reordered, dropped records", test_replay_reorder_drop },
        { "truncation and EOF", test_truncation_and_eof },
        { "timeout keeps the stream", test_timeout_keeps_stream },
        { "peer ERROR", test_peer_error },
        { "send and buffer checks", test_send_and_buffer_checks },
        { "send timeout", test_send_timeout },
        { "the spec's example bytes", test_spec_examples },
        { NULL, NULL },
    };
    return unit_run("stream", NULL, NULL, tests);
}
