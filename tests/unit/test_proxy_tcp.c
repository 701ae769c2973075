/*
 * test_proxy_tcp.c - TCP through the compare engine (proxy/tcp_stream.c):
 * the same stream from two stacks with different ISNs, IP IDs and
 * timestamps is equal; segmentation, retransmission and reordering do not
 * matter; payload, SYN, FIN-against-RST, IPv6 and VLAN divergences each
 * ask exactly one checkpoint and release nothing divergent before it.
 */
#include "config.h"

#include <errno.h>

#include "macro.h"
#include "proxy-util.h"
#include "unit-util.h"

#define CLIENT_ISN 5000u

static uint8_t DATA[16384];

/* One guest's side of a connection: its own ISN, IP IDs and clock. */
struct peer {
    int ip;
    bool tagged;
    uint16_t vlan;
    uint32_t isn;
    uint16_t id;
    uint32_t ts;
    uint16_t mss;
    uint16_t window;
};

static struct peer primary_peer(void)
{
    return (struct peer){ .ip = 4, .isn = 1000, .id = 1, .ts = 100, .mss = 1460 };
}

static struct peer secondary_peer(void)
{
    return (struct peer){ .ip = 4, .isn = 0xfffff000u, .id = 40000, .ts = 987654, .mss = 1460 };
}

/* A segment at stream offset off (0: the SYN), acking the client's
 * offset ack_off, with DATA[from, from + len). */
static struct frame seg(struct peer *p, uint32_t off, uint32_t ack_off, uint8_t flags,
                        uint32_t from, uint32_t len)
{
    struct spec s = {
        .ip = p->ip, .tagged = p->tagged, .vlan = p->vlan, .proto = COLO_IPPROTO_TCP,
        .sport = 80, .dport = 40000, .seq = p->isn + off, .ack = CLIENT_ISN + ack_off,
        .flags = flags, .ts = true, .tsval = p->ts++, .tsecr = 31 * p->ts,
        .mss = (flags & COLO_TCP_SYN) ? p->mss : 0, .ip_id = p->id++,
        .flow_label = p->ts * 13u, .window = p->window,
        .payload = DATA + from, .len = len,
    };
    return mk(&s);
}

/* Data at stream offset off (from 1), acking the client's first byte. */
static struct frame data(struct peer *p, uint32_t off, uint32_t len)
{
    return seg(p, off, 1, COLO_TCP_ACK | COLO_TCP_PSH, off - 1, len);
}

static void free_all(struct frame *f, int n)
{
    for (int i = 0; i < n; i++)
        frame_free(&f[i]);
}

static int feed(colo_compare *c, bool primary, struct frame *f, int n, uint64_t now)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += (primary ? P(c, &f[i], now) : S(c, &f[i], now)) != 0;
    return bad;
}

/* The handshake (the guest answers a client: SYN-ACK), 6 segments of
 * data, a pure ACK, a FIN: both sides equal but for ISN, IP ID, the
 * timestamps, the flow label and the checksums. */
static int conversation(struct peer pe, struct frame *f)
{
    int n = 0;
    f[n++] = seg(&pe, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);
    for (int i = 0; i < 6; i++)
        f[n++] = data(&pe, 1 + 500 * (uint32_t)i, 500);
    f[n++] = seg(&pe, 3001, 101, COLO_TCP_ACK, 0, 0);                  /* acks 100 bytes */
    f[n++] = seg(&pe, 3001, 101, COLO_TCP_ACK | COLO_TCP_FIN, 0, 0);
    return n;
}

static void check_same_stream(int ip)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct peer a = primary_peer(), b = secondary_peer();
    a.ip = b.ip = ip;
    struct frame p[9], s[9];
    int n = conversation(a, p);
    conversation(b, s);

    CU_ASSERT_EQUAL(feed(c, true, p, n, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(feed(c, false, s, n, 2 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, (size_t)n));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    struct colo_compare_counters k = counters(c);
    CU_ASSERT_EQUAL(k.compared, (uint64_t)n);
    CU_ASSERT_EQUAL(k.frames_held[COLO_PRIMARY] + k.frames_held[COLO_SECONDARY], 0);
    CU_ASSERT_EQUAL(k.flows, 1);
    CU_ASSERT(counters_consistent(c));
    /* The FIN matched: the flow is closed and goes after closed_ms. */
    colo_compare_tick(c, 2 * MSEC + COLO_COMPARE_CLOSED_MS * MSEC - 1);
    CU_ASSERT_EQUAL(counters(c).flows, 1);
    colo_compare_tick(c, 2 * MSEC + COLO_COMPARE_CLOSED_MS * MSEC);
    CU_ASSERT_EQUAL(counters(c).flows, 0);
    free_all(p, n);
    free_all(s, n);
    colo_compare_free(c);
    rec_free(&r);
}

static void test_same_stream_ipv4(void)
{
    check_same_stream(4);
}

static void test_same_stream_ipv6(void)
{
    check_same_stream(6);
}

/* The same, interleaved segment by segment with the secondary first:
 * each primary segment goes as soon as it matches. */
static void test_same_stream_interleaved(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct frame p[9], s[9];
    int n = conversation(primary_peer(), p);
    conversation(secondary_peer(), s);

    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(S(c, &s[i], MSEC), 0);
        CU_ASSERT_EQUAL(r.n, (size_t)i);
        CU_ASSERT_EQUAL(P(c, &p[i], MSEC), 0);
        CU_ASSERT(released_exactly(&r, p, (size_t)i + 1));
    }
    CU_ASSERT_EQUAL(r.ckpts, 0);
    free_all(p, n);
    free_all(s, n);
    colo_compare_free(c);
    rec_free(&r);
}

/* The guest as the client: its SYN, then the ACK of the server's SYN-ACK
 * (whose ISN the proxy never sees), then data. */
static void test_guest_connects(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct peer a = primary_peer(), b = secondary_peer();
    struct frame p[4], s[4];
    struct peer *pe[2] = { &a, &b };
    struct frame *out[2] = { p, s };

    for (int i = 0; i < 2; i++) {
        out[i][0] = seg(pe[i], 0, 0, COLO_TCP_SYN, 0, 0);
        out[i][1] = seg(pe[i], 1, 1, COLO_TCP_ACK, 0, 0);
        out[i][2] = data(pe[i], 1, 700);
        out[i][3] = data(pe[i], 701, 300);
    }
    CU_ASSERT_EQUAL(feed(c, true, p, 4, MSEC), 0);
    CU_ASSERT_EQUAL(feed(c, false, s, 4, MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 4));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    free_all(p, 4);
    free_all(s, 4);
    colo_compare_free(c);
    rec_free(&r);
}

/* A backlog of 20 primary segments: released, in order, exactly as far as
 * the secondary has sent. */
static void test_backlog_in_order(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct peer a = primary_peer(), b = secondary_peer();
    struct frame p[21], s[21];

    p[0] = seg(&a, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);
    s[0] = seg(&b, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);
    for (int i = 1; i <= 20; i++) {
        p[i] = data(&a, 1 + 100 * (uint32_t)(i - 1), 100);
        s[i] = data(&b, 1 + 100 * (uint32_t)(i - 1), 100);
    }
    CU_ASSERT_EQUAL(feed(c, true, p, 21, MSEC), 0);
    CU_ASSERT_EQUAL(feed(c, false, s, 11, MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 11));
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_PRIMARY], 10);
    CU_ASSERT_EQUAL(feed(c, false, s + 11, 10, MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 21));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT(counters_consistent(c));
    free_all(p, 21);
    free_all(s, 21);
    colo_compare_free(c);
    rec_free(&r);
}

/* The handshake of both, fed; p0 and s0 are the SYN-ACKs. */
static colo_compare *established(struct rec *r, struct peer *a, struct peer *b)
{
    colo_compare *c = rec_new(r);
    struct frame p = seg(a, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);
    struct frame s = seg(b, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);

    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s, MSEC), 0);
    CU_ASSERT(released_exactly(r, &p, 1));
    rec_clear(r);
    frame_free(&p);
    frame_free(&s);
    return c;
}

/* 3 x 1000 bytes against 1 x 3000, and 1 x 3000 against 3 x 1000, and
 * 1000 + 1000 + 1000 against 1500 + 1500: equal, each primary segment
 * going once its bytes have all matched. */
static void test_segmentation(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p[3], s[3];

    for (int i = 0; i < 3; i++)
        p[i] = data(&a, 1 + 1000 * (uint32_t)i, 1000);
    s[0] = data(&b, 1, 3000);
    CU_ASSERT_EQUAL(feed(c, true, p, 3, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[0], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 3));
    free_all(p, 3);
    frame_free(&s[0]);

    rec_clear(&r);
    p[0] = data(&a, 3001, 3000);
    for (int i = 0; i < 3; i++)
        s[i] = data(&b, 3001 + 1000 * (uint32_t)i, 1000);
    CU_ASSERT_EQUAL(P(c, &p[0], MSEC), 0);
    CU_ASSERT_EQUAL(feed(c, false, s, 2, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);                    /* two thirds matched: still held */
    CU_ASSERT_EQUAL(S(c, &s[2], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 1));
    frame_free(&p[0]);
    free_all(s, 3);

    rec_clear(&r);
    for (int i = 0; i < 3; i++)
        p[i] = data(&a, 6001 + 1000 * (uint32_t)i, 1000);
    s[0] = data(&b, 6001, 1500);
    s[1] = data(&b, 7501, 1500);
    CU_ASSERT_EQUAL(feed(c, true, p, 3, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[0], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 1));
    CU_ASSERT_EQUAL(S(c, &s[1], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 3));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_SECONDARY], 0);
    CU_ASSERT(counters_consistent(c));
    free_all(p, 3);
    free_all(s, 2);
    colo_compare_free(c);
    rec_free(&r);
}

/* Retransmissions: of matched bytes (the primary's goes at once, the
 * secondary's is not held), and overlapping ones with new bytes. */
static void test_retransmission(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p1 = data(&a, 1, 100), p2 = data(&a, 101, 100);
    struct frame s1 = data(&b, 1, 100), s2 = data(&b, 101, 100);

    CU_ASSERT_EQUAL(P(c, &p1, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s1, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p1, 1));
    struct frame p1again = data(&a, 1, 100);
    CU_ASSERT_EQUAL(P(c, &p1again, MSEC), 0);     /* already matched: goes now */
    CU_ASSERT(released_exactly(&r, (struct frame[]){ p1, p1again }, 2));
    struct frame s1again = data(&b, 1, 100);
    uint64_t done = counters(c).secondary_done;
    CU_ASSERT_EQUAL(S(c, &s1again, MSEC), 0);
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_SECONDARY], 0);
    CU_ASSERT_EQUAL(counters(c).secondary_done, done + 1);

    /* Primary [101,201); the secondary [101,151) then [101,201): the
     * second adds only its new half. */
    rec_clear(&r);
    struct frame shalf = data(&b, 101, 50);
    CU_ASSERT_EQUAL(P(c, &p2, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &shalf, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(S(c, &s2, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p2, 1));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT_EQUAL(counters(c).compared, 4);     /* SYN-ACK, p1, p1 again, p2 */
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_SECONDARY], 0);
    CU_ASSERT(counters_consistent(c));
    struct frame all[] = { p1, p2, s1, s2, p1again, s1again, shalf };
    free_all(all, ARRAY_SIZE(all));
    colo_compare_free(c);
    rec_free(&r);
}

/* Out of order: the secondary's third, first, then second segment; and
 * the primary's second before its first (released as they came). */
static void test_out_of_order(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p[3], s[3];

    for (int i = 0; i < 3; i++) {
        p[i] = data(&a, 1 + 200 * (uint32_t)i, 200);
        s[i] = data(&b, 1 + 200 * (uint32_t)i, 200);
    }
    CU_ASSERT_EQUAL(feed(c, true, p, 3, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[2], MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(S(c, &s[0], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 1));
    CU_ASSERT_EQUAL(S(c, &s[1], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 3));
    free_all(p, 3);
    free_all(s, 3);

    rec_clear(&r);
    for (int i = 0; i < 2; i++) {
        p[i] = data(&a, 601 + 200 * (uint32_t)i, 200);
        s[i] = data(&b, 601 + 200 * (uint32_t)i, 200);
    }
    CU_ASSERT_EQUAL(P(c, &p[1], MSEC), 0);
    CU_ASSERT_EQUAL(P(c, &p[0], MSEC), 0);
    CU_ASSERT_EQUAL(feed(c, false, s, 2, MSEC), 0);
    CU_ASSERT(released_exactly(&r, (struct frame[]){ p[1], p[0] }, 2));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT(counters_consistent(c));
    free_all(p, 2);
    free_all(s, 2);
    colo_compare_free(c);
    rec_free(&r);
}

/* The window, PSH and timestamps differ: not compared. */
static void test_window_not_compared(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    a.window = 1000;
    b.window = 64000;
    struct frame p = data(&a, 1, 10);
    struct frame s = seg(&b, 1, 1, COLO_TCP_ACK, 0, 10);

    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p, 1));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    frame_free(&p);
    frame_free(&s);
    colo_compare_free(c);
    rec_free(&r);
}

/* A pure ACK goes once the secondary has acked as far; one the secondary
 * never reaches times out. */
static void test_pure_ack(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p = seg(&a, 1, 201, COLO_TCP_ACK, 0, 0);
    struct frame s1 = seg(&b, 1, 101, COLO_TCP_ACK, 0, 0);
    struct frame s2 = seg(&b, 1, 201, COLO_TCP_ACK, 0, 0);

    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s1, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(S(c, &s2, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p, 1));
    struct frame p2 = seg(&a, 1, 301, COLO_TCP_ACK, 0, 0);
    CU_ASSERT_EQUAL(P(c, &p2, 10 * MSEC), 0);
    colo_compare_tick(c, 109 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 0);
    colo_compare_tick(c, 110 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TIMEOUT);
    CU_ASSERT_EQUAL(r.n, 1);
    frame_free(&p);
    frame_free(&p2);
    frame_free(&s1);
    frame_free(&s2);
    colo_compare_free(c);
    rec_free(&r);
}

/* --- divergences -------------------------------------------------------------- */

/* A payload divergence in the second of three segments: one checkpoint
 * (reason tcp-payload), the first released, the rest held until the
 * checkpoint is done; after it, the secondary numbers as the primary
 * (its copy) and compares equal with no further checkpoint. */
static void check_payload_divergence(struct peer a, struct peer b)
{
    struct rec r;
    colo_compare *c = established(&r, &a, &b);
    struct frame p[3], s[3];

    for (int i = 0; i < 3; i++) {
        p[i] = data(&a, 1 + 100 * (uint32_t)i, 100);
        s[i] = data(&b, 1 + 100 * (uint32_t)i, 100);
    }
    s[1].d[s[1].len - 1] ^= 0xff;
    CU_ASSERT_EQUAL(feed(c, true, p, 3, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[0], MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[1], MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[2], MSEC), -EAGAIN);
    CU_ASSERT(released_exactly(&r, p, 1));
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TCP_PAYLOAD);
    struct frame p3 = data(&a, 301, 100);
    CU_ASSERT_EQUAL(P(c, &p3, 2 * MSEC), 0);
    colo_compare_tick(c, 5000 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 5000 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, (struct frame[]){ p[0], p[1], p[2], p3 }, 4));
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_SECONDARY], 0);

    /* The secondary is now the primary's copy: its ISN, its clock. */
    rec_clear(&r);
    struct peer copy = a;
    copy.id = 9999;
    struct frame p4 = data(&a, 401, 100), s4 = data(&copy, 401, 100);
    CU_ASSERT_EQUAL(P(c, &p4, 5001 * MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s4, 5001 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p4, 1));
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT(counters_consistent(c));
    free_all(p, 3);
    free_all(s, 3);
    frame_free(&p3);
    frame_free(&p4);
    frame_free(&s4);
    colo_compare_free(c);
    rec_free(&r);
}

static void test_payload_divergence(void)
{
    check_payload_divergence(primary_peer(), secondary_peer());
}

static void test_ipv6_divergence(void)
{
    struct peer a = primary_peer(), b = secondary_peer();
    a.ip = b.ip = 6;
    check_payload_divergence(a, b);
}

static void test_vlan_divergence(void)
{
    struct peer a = primary_peer(), b = secondary_peer();
    a.tagged = b.tagged = true;
    a.vlan = b.vlan = 300;
    check_payload_divergence(a, b);
}

/* Data, then the end: want_equal when both ends are the same. */
static void check_end(uint8_t pflags, uint8_t sflags, bool want_equal)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p[2] = { data(&a, 1, 100), seg(&a, 101, 1, pflags, 0, 0) };
    struct frame s[2] = { data(&b, 1, 100), seg(&b, 101, 1, sflags, 0, 0) };

    CU_ASSERT_EQUAL(feed(c, true, p, 2, MSEC), 0);
    CU_ASSERT_EQUAL(feed(c, false, s, 2, MSEC), 0);
    if (want_equal) {
        CU_ASSERT(released_exactly(&r, p, 2));
        CU_ASSERT_EQUAL(r.ckpts, 0);
        colo_compare_tick(c, MSEC + COLO_COMPARE_CLOSED_MS * MSEC);
        CU_ASSERT_EQUAL(counters(c).flows, 0);  /* closed, nothing held: gone */
    } else {
        CU_ASSERT(released_exactly(&r, p, 1));
        CU_ASSERT_EQUAL(r.ckpts, 1);
        CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TCP_FLAGS);
        colo_compare_tick(c, 1000 * MSEC);
        CU_ASSERT_EQUAL(r.ckpts, 1);
        CU_ASSERT_EQUAL(r.n, 1);
        CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 1000 * MSEC), 0);
        CU_ASSERT(released_exactly(&r, p, 2));
    }
    CU_ASSERT(counters_consistent(c));
    free_all(p, 2);
    free_all(s, 2);
    colo_compare_free(c);
    rec_free(&r);
}

static void test_fin_against_rst(void)
{
    check_end(COLO_TCP_FIN | COLO_TCP_ACK, COLO_TCP_RST | COLO_TCP_ACK, false);
    check_end(COLO_TCP_RST | COLO_TCP_ACK, COLO_TCP_FIN | COLO_TCP_ACK, false);
}

static void test_fin_and_rst_matched(void)
{
    check_end(COLO_TCP_FIN | COLO_TCP_ACK, COLO_TCP_FIN | COLO_TCP_ACK, true);
    check_end(COLO_TCP_RST | COLO_TCP_ACK, COLO_TCP_RST | COLO_TCP_ACK, true);
    check_end(COLO_TCP_RST, COLO_TCP_RST, true);
}

/* A FIN where the other sends a byte. */
static void test_fin_against_data(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p = seg(&a, 1, 1, COLO_TCP_FIN | COLO_TCP_ACK, 0, 0);
    struct frame s = data(&b, 1, 10);

    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TCP_FLAGS);
    frame_free(&p);
    frame_free(&s);
    colo_compare_free(c);
    rec_free(&r);
}

/* SYN-ACKs whose MSS differs; and whose timestamps only differ (equal). */
static void test_syn_divergence(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct peer a = primary_peer(), b = secondary_peer();
    b.mss = 1400;
    struct frame p = seg(&a, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);
    struct frame s = seg(&b, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);

    CU_ASSERT_EQUAL(S(c, &s, MSEC), 0);
    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TCP_SYN);
    frame_free(&p);
    frame_free(&s);
    colo_compare_free(c);
    rec_free(&r);
}

/* A stream met without its handshake (both numbered alike, as after a
 * checkpoint): equal; and with the secondary first, whose earlier bytes
 * the primary's first segment leaves behind. */
static void test_mid_stream(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct peer a = primary_peer(), b = primary_peer();
    b.id = 777;
    b.ts = 5;
    struct frame s0 = data(&b, 1, 100), s1 = data(&b, 101, 100), s2 = data(&b, 201, 100);
    struct frame p1 = data(&a, 101, 100), p2 = data(&a, 201, 100);

    CU_ASSERT_EQUAL(S(c, &s0, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s1, MSEC), 0);
    CU_ASSERT_EQUAL(P(c, &p1, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p1, 1));
    CU_ASSERT_EQUAL(P(c, &p2, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s2, MSEC), 0);
    CU_ASSERT(released_exactly(&r, (struct frame[]){ p1, p2 }, 2));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_SECONDARY], 0);
    CU_ASSERT(counters_consistent(c));
    struct frame all[] = { s0, s1, s2, p1, p2 };
    free_all(all, ARRAY_SIZE(all));
    colo_compare_free(c);
    rec_free(&r);
}

/* A secondary segment before its SYN, on a stream begun with one, cannot
 * be placed: dropped, counted. */
static void test_secondary_unsynced(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct peer a = primary_peer(), b = secondary_peer();
    struct frame p = seg(&a, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0);
    struct frame s = data(&b, 1, 10);

    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s, MSEC), -EINVAL);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_SECONDARY][COLO_DROP_TCP_UNSYNCED], 1);
    CU_ASSERT(counters_consistent(c));
    frame_free(&p);
    frame_free(&s);
    colo_compare_free(c);
    rec_free(&r);
}

/* A new connection on the same ports once the old one is done: a new SYN
 * starts the stream again, with new offsets. */
static void test_new_connection_same_ports(void)
{
    struct rec r;
    struct peer a = primary_peer(), b = secondary_peer();
    colo_compare *c = established(&r, &a, &b);
    struct frame p1 = data(&a, 1, 50), s1 = data(&b, 1, 50);

    CU_ASSERT_EQUAL(P(c, &p1, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s1, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p1, 1));
    rec_clear(&r);
    a.isn = 77777;
    b.isn = 123;
    struct frame p[2] = { seg(&a, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0), data(&a, 1, 30) };
    struct frame s[2] = { seg(&b, 0, 1, COLO_TCP_SYN | COLO_TCP_ACK, 0, 0), data(&b, 1, 30) };
    CU_ASSERT_EQUAL(feed(c, false, s, 2, 2 * MSEC), 0);
    CU_ASSERT_EQUAL(feed(c, true, p, 2, 2 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 2));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    free_all(p, 2);
    free_all(s, 2);
    frame_free(&p1);
    frame_free(&s1);
    colo_compare_free(c);
    rec_free(&r);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(DATA); i++)
        DATA[i] = (uint8_t)(i * 31 + i / 256);
    static const struct unit_test tests[] = {
        { "the same IPv4 stream, other ISN, IDs, timestamps: no checkpoint",
          test_same_stream_ipv4 },
        { "the same IPv6 stream: no checkpoint", test_same_stream_ipv6 },
        { "the same stream interleaved: each segment released as it matches",
          test_same_stream_interleaved },
        { "the guest connecting out: SYN, ACK, data", test_guest_connects },
        { "a TCP backlog released in order, as far as matched", test_backlog_in_order },
        { "the same bytes in different segments are equal", test_segmentation },
        { "retransmissions: not held twice, released at once", test_retransmission },
        { "out-of-order segments", test_out_of_order },
        { "the window is not compared", test_window_not_compared },
        { "a pure ACK waits for the secondary's ack", test_pure_ack },
        { "a payload divergence: one checkpoint, offsets reset after",
          test_payload_divergence },
        { "an IPv6 TCP divergence: one checkpoint", test_ipv6_divergence },
        { "a VLAN-tagged TCP divergence: one checkpoint", test_vlan_divergence },
        { "FIN against RST: one checkpoint", test_fin_against_rst },
        { "FIN and RST matched: released, the flow goes", test_fin_and_rst_matched },
        { "FIN against data: one checkpoint", test_fin_against_data },
        { "SYN options differ: one checkpoint", test_syn_divergence },
        { "a stream met mid-way", test_mid_stream },
        { "a secondary segment before its SYN: counted", test_secondary_unsynced },
        { "a new connection on the same ports", test_new_connection_same_ports },
        { NULL, NULL },
    };
    return unit_run("proxy_tcp", NULL, NULL, tests);
}
