/* fuzz-seeds: the seed corpus of every target, tests/fuzz/corpus/NAME/,
 * made by the library's own encoders where it has them (stream records,
 * HELLOs, PAGES, the status reply) and by frame-build.h for frames; the
 * control requests and QMP lines are the protocols' own words. Run by
 * `make fuzz-seeds`: fuzz-seeds DIR. */
#include "config.h"

#include <endian.h>
#include <sys/stat.h>

#include "control/control.h"
#include "control/status_codec.h"
#include "../unit/frame-build.h"
#include "fuzz-util.h"
#include "stream/pages_codec.h"
#include "stream/stream.h"

static const char *top;

/* DIR/name/file = head[hlen] | data[len]. */
static void seed(const char *name, const char *file, const void *head, size_t hlen,
                 const void *data, size_t len)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", top, name);
    FUZZ_CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof(path), "%s/%s/%s", top, name, file);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f);
    FUZZ_CHECK(fwrite(head, 1, hlen, f) == hlen && fwrite(data, 1, len, f) == len);
    FUZZ_CHECK(fclose(f) == 0);
}

struct bytes {
    uint8_t b[70000];
    size_t len;
};

/* Everything the other end of fd has sent so far (the sender is done). */
static void drain(int fd, struct bytes *out)
{
    out->len = 0;
    for (;;) {
        ssize_t n = recv(fd, out->b + out->len, sizeof(out->b) - out->len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        out->len += (size_t)n;
    }
}

/* A stream on sp[0]; sp[1] is the test's end. */
static colo_stream *stream(int sp[2])
{
    colo_stream *s;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    FUZZ_CHECK(colo_stream_new(fuzz_ctx(), sp[0], &s) == 0);
    return s;
}

static const uint8_t key[32] = "fuzz-key-0123456789abcdef-fuzzed";

/* The HELLO a client sends, and the server's answer to it; the peer's
 * side is shut, so that neither waits for what does not come. */
static void hellos(const uint8_t *k, struct bytes *client, struct bytes *server)
{
    int a[2], b[2];
    colo_stream *c = stream(a), *s = stream(b);

    FUZZ_CHECK(shutdown(a[1], SHUT_WR) == 0);
    FUZZ_CHECK(colo_stream_handshake_client(c, k, k ? 32 : 0, 1000, NULL) < 0);
    drain(a[1], client);
    FUZZ_CHECK(write(b[1], client->b, client->len) == (ssize_t)client->len);
    FUZZ_CHECK(shutdown(b[1], SHUT_WR) == 0);
    int r = colo_stream_handshake_server(s, k, k ? 32 : 0, 1000, NULL);
    FUZZ_CHECK(k ? r < 0 : r == 0);
    drain(b[1], server);
    colo_stream_free(c);
    colo_stream_free(s);
    close(a[1]);
    close(b[1]);
}

/* A server without a key, its handshake done on the client HELLO hello:
 * the records it then sends are those a keyless peer sends. */
static colo_stream *ready_stream(int sp[2], const struct bytes *hello)
{
    colo_stream *s = stream(sp);
    struct bytes skip;
    FUZZ_CHECK(write(sp[1], hello->b, hello->len) == (ssize_t)hello->len);
    FUZZ_CHECK(colo_stream_handshake_server(s, NULL, 0, 1000, NULL) == 0);
    drain(sp[1], &skip);
    return s;
}

static void stream_seeds(void)
{
    struct bytes ch, sh, kch, ksh, rec, pages;
    int sp[2];

    hellos(NULL, &ch, &sh);
    hellos(key, &kch, &ksh);
    colo_stream *s = ready_stream(sp, &ch);
    struct colo_wire_epoch e = { htole64(7) };
    struct colo_wire_vmstate_size vs = { .epoch = htole64(7), .pages = htole64(2) };
    uint64_t pfns[2] = { htole64(3), htole64(5 | COLO_PFN_ZERO) };
    uint8_t page[COLO_PAGE_SIZE];
    memset(page, 0xa5, sizeof(page));
    FUZZ_CHECK(colo_stream_send_buf(s, COLO_REC_CHECKPOINT_REQUEST, 0, &e, sizeof(e)) == 0);
    FUZZ_CHECK(colo_stream_send_buf(s, COLO_REC_VMSTATE_SEND, 0, &e, sizeof(e)) == 0);
    FUZZ_CHECK(colo_pages_send(s, 0, pfns, page, 2) > 0);
    FUZZ_CHECK(colo_stream_send_buf(s, COLO_REC_VMSTATE_SIZE, 0, &vs, sizeof(vs)) == 0);
    FUZZ_CHECK(colo_stream_send_buf(s, COLO_REC_HEARTBEAT, 0, &e, sizeof(e)) == 0);
    FUZZ_CHECK(colo_stream_send_buf(s, COLO_REC_DISK_DATA, 0, "NBDMAGIC", 8) == 0);
    FUZZ_CHECK(colo_stream_send_buf(s, COLO_REC_STOP, 0, &e, sizeof(e)) == 0);
    colo_stream_send_error(s, EACCES, "wrong key");
    drain(sp[1], &rec);
    FUZZ_CHECK(colo_pages_send(s, COLO_REC_F_PRECOPY, pfns, page, 2) > 0);
    drain(sp[1], &pages);
    colo_stream_free(s);
    close(sp[1]);

    /* The mode byte first (fuzz-stream.c). */
    static const uint8_t server = 0, keyed_server = 1, client = 2, keyed_client = 3,
                         server_whole = 4, client_whole = 6;
    struct bytes in;
    memcpy(in.b, ch.b, ch.len);
    memcpy(in.b + ch.len, rec.b, rec.len);
    seed("stream", "server-records", &server, 1, in.b, ch.len + rec.len);
    seed("stream", "server-records-whole", &server_whole, 1, in.b, ch.len + rec.len);
    memcpy(in.b, sh.b, sh.len);
    memcpy(in.b + sh.len, rec.b, rec.len);
    seed("stream", "client-records", &client, 1, in.b, sh.len + rec.len);
    seed("stream", "client-records-whole", &client_whole, 1, in.b, sh.len + rec.len);
    seed("stream", "keyed-server-hello", &keyed_server, 1, kch.b, kch.len);
    seed("stream", "keyed-client-hello", &keyed_client, 1, ksh.b, ksh.len);

    /* PAGES: le32 nr_pages, then the body (past the 16-byte header). */
    uint32_t nr = htole32(16);
    FUZZ_CHECK(pages.len > COLO_REC_HDR_LEN);
    seed("pages", "two-pages-one-zero", &nr, sizeof(nr), pages.b + COLO_REC_HDR_LEN,
         pages.len - COLO_REC_HDR_LEN);
    uint64_t zeros[3] = { htole64(0 | COLO_PFN_ZERO), htole64(1 | COLO_PFN_ZERO),
                          htole64(15 | COLO_PFN_ZERO) };
    s = ready_stream(sp, &ch);
    FUZZ_CHECK(colo_pages_send(s, 0, zeros, NULL, 3) > 0);
    drain(sp[1], &pages);
    colo_stream_free(s);
    close(sp[1]);
    seed("pages", "zero-pages", &nr, sizeof(nr), pages.b + COLO_REC_HDR_LEN,
         pages.len - COLO_REC_HDR_LEN);
}

static void control_seeds(void)
{
    static const char *const lines[][2] = {
        { "status", "status\n" },
        { "checkpoint", "checkpoint\n" },
        { "failover", "failover\n" },
        { "stop", "stop\r\n" },
        { "set-replication", "set-replication xvdb 1 0 0\n" },
        { "set-replication-all", "set-replication * 0 1 1\n" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
        seed("control", lines[i][0], lines[i][1], strlen(lines[i][1]), NULL, 0);
}

static void status_seeds(void)
{
    libxlcolo_status st = {
        .domain = "web1", .role = LIBXLCOLO_ROLE_PRIMARY, .state = LIBXLCOLO_STATE_PROTECTED,
        .mode = LIBXLCOLO_MODE_COLO, .backend = "xen", .epoch = 42, .checkpoints = 41,
        .last_pause_ns = 1234567, .last_pages = 300, .peer = "10.0.0.2:7878", .pid = 4242,
        .nr_disks = 2,
    };
    snprintf(st.disks[0].name, sizeof(st.disks[0].name), "xvdb");
    snprintf(st.disks[1].name, sizeof(st.disks[1].name), "xvdc");
    st.disks[1].error = true;
    snprintf(st.disks[1].desc, sizeof(st.disks[1].desc), "replication stopped");
    /* The reply as colo_control_reply_status makes it. */
    colo_json *j = colo_json_new();
    const char *text;
    size_t len;
    colo_json_put_bool(j, "ok", true);
    colo_status_to_json(j, &st);
    FUZZ_CHECK(colo_json_finish(j, &text, &len) == 0);
    seed("status", "reply", text, len, "\n", 1);
    colo_json_free(j);
    j = colo_json_new();
    st.nr_disks = 0;
    colo_status_to_json(j, &st);
    FUZZ_CHECK(colo_json_finish(j, &text, &len) == 0);
    seed("status", "no-disks", text, len, "\n", 1);
    colo_json_free(j);
    /* With the NIC service's counters, as a protection with --proxy gives them. */
    j = colo_json_new();
    snprintf(st.proxy, sizeof(st.proxy), "{\"flows\":3,\"released\":10,\"compared\":9,"
             "\"checkpoint_reasons\":{\"packet\":1},\"commit\":{\"enabled\":false,"
             "\"held\":0},\"alone\":false}");
    colo_json_put_bool(j, "ok", true);
    colo_status_to_json(j, &st);
    FUZZ_CHECK(colo_json_finish(j, &text, &len) == 0);
    seed("status", "proxy", text, len, "\n", 1);
    colo_json_free(j);
}

static void key_seeds(void)
{
    uint16_t m600 = htole16(0600), m644 = htole16(0644);
    seed("key", "good", &m600, 2, key, sizeof(key));
    seed("key", "readable", &m644, 2, key, sizeof(key));
    seed("key", "short", &m600, 2, key, 15);
}

static void qmp_seeds(void)
{
    static const char *const lines[][2] = {
        { "greeting", "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
                      "\"major\": 7}, \"package\": \"Debian 1:7.2\"}, \"capabilities\": "
                      "[\"oob\"]}}\r\n" },
        { "return", "{\"return\": {}, \"id\": 1}\r\n"
                    "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 2}\r\n" },
        { "error", "{\"id\": 3, \"error\": {\"class\": \"GenericError\", \"desc\": "
                   "\"Parameter 'failover' is only for stopping replication\"}}\r\n" },
        { "event", "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 123456}, "
                   "\"event\": \"BLOCK_JOB_COMPLETED\", \"data\": {\"device\": \"colo1\", "
                   "\"len\": 0, \"offset\": 0, \"speed\": 0, \"type\": \"commit\"}}\n" },
        { "id-string", "{\"return\": [1, -2.5, true, null, \"x\"], \"id\": \"abc\"}\n" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
        seed("qmp", lines[i][0], lines[i][1], strlen(lines[i][1]), NULL, 0);
    /* The bug json.c had: a comment hid the nesting from its bound. */
    char deep[256];
    int n = snprintf(deep, sizeof(deep), "/*\"*/{\"return\": ");
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    for (int i = 0; i < 70; i++)
        deep[n++] = ']';
    memcpy(deep + n, "}\n", 2);
    seed("qmp", "regression-comment-depth", deep, (size_t)n + 2, NULL, 0);
}

/* The frames of one TCP connection, a UDP datagram whole and in three
 * fragments, ICMP and ARP; IPv4 and IPv6, tagged and not. */
static unsigned frames(struct frame *t)
{
    static uint8_t body[1800];
    unsigned n = 0;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 13);
    for (int ip = 4; ip <= 6; ip += 2) {
        struct spec s = { .ip = ip, .tagged = ip == 6, .vlan = 5, .proto = COLO_IPPROTO_TCP,
                          .sport = 80, .dport = 1234, .seq = 1000, .ack = 1,
                          .flags = COLO_TCP_SYN | COLO_TCP_ACK, .ts = true, .mss = 1460 };
        t[n++] = mk(&s);
        s.flags = COLO_TCP_ACK;
        s.seq = 1001;
        s.payload = body;
        s.len = 100;
        t[n++] = mk(&s);
        s.flags = COLO_TCP_FIN | COLO_TCP_ACK;
        s.seq = 1101;
        s.len = 0;
        t[n++] = mk(&s);
        struct spec u = { .ip = ip, .proto = COLO_IPPROTO_UDP, .sport = 53, .dport = 53,
                          .payload = body, .len = 1800, .no_df = true };
        struct frame whole = mk(&u);
        fragment(&whole, (const uint32_t[]){ 600, 1200 }, 2, 42, t + n);
        n += 3;
        t[n++] = whole;
        struct spec m = { .ip = ip, .proto = ip == 4 ? COLO_IPPROTO_ICMP : COLO_IPPROTO_ICMPV6,
                          .payload = body, .len = 40 };
        t[n++] = mk(&m);
    }
    struct spec arp = { .ip = 0, .ethertype = COLO_ETH_ARP, .payload = body, .len = 28 };
    t[n++] = mk(&arp);
    return n;
}

static void frame_seeds(void)
{
    static const char *const names[] = {
        "tcp4-synack", "tcp4-data", "tcp4-fin", "udp4-frag0", "udp4-frag1", "udp4-frag2",
        "udp4", "icmp4", "tcp6-synack", "tcp6-data", "tcp6-fin", "udp6-frag0", "udp6-frag1",
        "udp6-frag2", "udp6", "icmp6", "arp",
    };
    struct frame t[ARRAY_SIZE(names)];
    FUZZ_CHECK(frames(t) == ARRAY_SIZE(names));
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        seed("frame", names[i], t[i].d, t[i].len, NULL, 0);

    /* fuzz-compare.c's ops: each frame from the primary and then the
     * secondary; then the IPv4 ones from the primary only, a tick past
     * the timeout, a checkpoint done. */
    static struct bytes ops;
    ops.len = 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        for (uint8_t side = 0; side < 2; side++) {
            ops.b[ops.len++] = side;
            ops.b[ops.len++] = (uint8_t)t[i].len;
            ops.b[ops.len++] = (uint8_t)(t[i].len >> 8);
            memcpy(ops.b + ops.len, t[i].d, t[i].len);
            ops.len += t[i].len;
        }
    seed("compare", "both-sides", ops.b, ops.len, NULL, 0);
    ops.len = 0;
    for (size_t i = 0; i < 8; i++) {
        ops.b[ops.len++] = 0;
        ops.b[ops.len++] = (uint8_t)t[i].len;
        ops.b[ops.len++] = (uint8_t)(t[i].len >> 8);
        memcpy(ops.b + ops.len, t[i].d, t[i].len);
        ops.len += t[i].len;
    }
    ops.b[ops.len++] = 2 | 60 << 2; /* 60 ms: past the 50 ms timeout */
    ops.b[ops.len++] = 3;
    seed("compare", "primary-alone", ops.b, ops.len, NULL, 0);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        frame_free(&t[i]);
}

/* fuzz-rewrite.c's ops: a connection's SYN-ACKs (the primary's first, and
 * the secondary's first), the client's ACK, data both ways, a failover. */
static void rewrite_seeds(void)
{
    static struct bytes ops;
    struct { uint8_t op; uint8_t flags; uint32_t seq, ack, tsv, tse; bool guest; } s[] = {
        { 0, COLO_TCP_SYN | COLO_TCP_ACK, 1000, 501, 5000, 300, true },
        { 1, COLO_TCP_SYN | COLO_TCP_ACK, 900000, 501, 77, 300, true },
        { 2, COLO_TCP_ACK, 501, 1001, 301, 5000, false },
        { 1, COLO_TCP_ACK | COLO_TCP_PSH, 900001, 505, 87, 301, true },
        { 3, 0, 0, 0, 0, 0, false },
        { 1, COLO_TCP_ACK | COLO_TCP_PSH, 900005, 505, 97, 301, true },
        { 2, COLO_TCP_ACK, 505, 1009, 302, 5120, false },
    };
    for (int order = 0; order < 2; order++) {
        ops.len = 0;
        for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
            size_t k = order && i < 2 ? 1 - i : i;     /* the secondary's SYN-ACK first */
            ops.b[ops.len++] = s[k].op;
            if (s[k].op == 3)
                continue;
            struct spec sp = { .ip = 4, .proto = COLO_IPPROTO_TCP, .flags = s[k].flags,
                               .seq = s[k].seq, .ack = s[k].ack, .ts = true, .tsval = s[k].tsv,
                               .tsecr = s[k].tse, .src_host = s[k].guest ? 2 : 1,
                               .dst_host = s[k].guest ? 1 : 2, .sport = s[k].guest ? 7001 : 40000,
                               .dport = s[k].guest ? 40000 : 7001, .payload = "data",
                               .len = s[k].flags & COLO_TCP_SYN ? 0 : 4 };
            struct frame fr = mk(&sp);
            ops.b[ops.len++] = (uint8_t)fr.len;
            ops.b[ops.len++] = (uint8_t)(fr.len >> 8);
            memcpy(ops.b + ops.len, fr.d, fr.len);
            ops.len += fr.len;
            frame_free(&fr);
        }
        seed("rewrite", order ? "secondary-first" : "primary-first", ops.b, ops.len, NULL, 0);
    }
}

/* The arbiter's replies, as Debian's etcd 3.4.23 gateway answered the
 * driver's requests (no encoder of ours makes them); the first byte picks
 * the parser (fuzz-etcd.c). */
static void etcd_seeds(void)
{
#define HDR "{\"cluster_id\":\"11268629272020816896\",\"member_id\":\"8739910569631323377\",\"revision\":\"2\",\"raft_term\":\"2\"}"
    static const struct {
        uint8_t which;
        const char *file, *text;
    } r[] = {
        { 0, "grant", "{\"header\":" HDR ",\"ID\":\"1509165723461590790\",\"TTL\":\"5\"}" },
        { 1, "keepalive", "{\"result\":{\"header\":" HDR ",\"ID\":\"1509165723461590790\",\"TTL\":\"5\"}}" },
        { 1, "keepalive-gone", "{\"result\":{\"header\":" HDR ",\"ID\":\"1509165723461590790\"}}" },
        { 2, "timetolive", "{\"header\":" HDR ",\"ID\":\"1509165723461590790\",\"TTL\":\"4\",\"grantedTTL\":\"5\"}" },
        { 2, "timetolive-gone", "{\"header\":" HDR ",\"ID\":\"1509165723461590790\",\"TTL\":\"-1\"}" },
        { 3, "txn-put", "{\"header\":" HDR ",\"succeeded\":true,\"responses\":[{\"response_put\":{\"header\":{\"revision\":\"2\"}}}]}" },
        { 3, "txn-range", "{\"header\":" HDR ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"L3hlbi1jb2xvL3gvb3duZXI=\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"aG9zdEEgMQ==\",\"lease\":\"1509165723461590790\"}],\"count\":\"1\"}},{\"response_range\":{\"header\":{\"revision\":\"2\"}}}]}" },
        { 4, "revoke", "{\"header\":" HDR "}" },
        { 4, "error", "{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":3}" },
    };
#undef HDR
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        seed("etcd", r[i].file, &r[i].which, 1, r[i].text, strlen(r[i].text));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-seeds DIR\n");
        return 2;
    }
    top = argv[1];
    FUZZ_CHECK(mkdir(top, 0755) == 0 || errno == EEXIST);
    stream_seeds();
    control_seeds();
    status_seeds();
    key_seeds();
    qmp_seeds();
    frame_seeds();
    rewrite_seeds();
    etcd_seeds();
    return 0;
}
