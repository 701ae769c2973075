/*
 * test_proxy_rewrite.c - the secondary's TCP renumbered as the primary's
 * (proxy/datapath/rewrite.c), on frames the tests build: the offsets from
 * the two SYN-ACKs in either order (the secondary's held until the
 * primary's), both directions, the timestamps' margin after a failover,
 * a checkpoint, a new connection on the same addresses, what is not TCP.
 * Every frame renumbered keeps a valid checksum.
 */
#include "config.h"

#include "macro.h"
#include "proxy-util.h"
#include "proxy/checksum.h"
#include "proxy/datapath/rewrite.h"
#include "unit-util.h"

#define GUEST 2
#define CLIENT 1
#define GPORT 7001
#define CPORT 40000

struct ready {
    unsigned n;
    uint8_t last[FRAME_BUF];
    size_t len;
};

static void on_ready(void *opaque, const uint8_t *frame, size_t len)
{
    struct ready *r = opaque;
    r->n++;
    memcpy(r->last, frame, len);
    r->len = len;
}

/* A guest's segment (to the client) or the client's (to the guest). */
static struct frame seg(bool from_guest, uint8_t flags, uint32_t seq, uint32_t ack,
                        uint32_t tsval, uint32_t tsecr)
{
    struct spec s = { .ip = 4, .proto = COLO_IPPROTO_TCP, .flags = flags, .seq = seq, .ack = ack,
                      .ts = true, .tsval = tsval, .tsecr = tsecr,
                      .src_host = from_guest ? GUEST : CLIENT, .dst_host = from_guest ? CLIENT : GUEST,
                      .sport = from_guest ? GPORT : CPORT, .dport = from_guest ? CPORT : GPORT,
                      .payload = "data", .len = flags & COLO_TCP_SYN ? 0 : 4 };
    return mk(&s);
}

static struct colo_frame parse(const struct frame *fr)
{
    struct colo_frame f;
    CU_ASSERT_EQUAL_FATAL(colo_frame_parse(fr->d, fr->len, &f), COLO_DROP_NONE);
    return f;
}

/* seq, ack, TS value, TS echo of a built frame, and its checksum good. */
static void numbers(const uint8_t *d, size_t len, uint32_t *seq, uint32_t *ack, uint32_t *tsv,
                    uint32_t *tse)
{
    struct colo_frame f;
    CU_ASSERT_EQUAL_FATAL(colo_frame_parse(d, len, &f), COLO_DROP_NONE);
    const uint8_t *t = d + f.l4;
    *seq = colo_be32(t + 4);
    *ack = colo_be32(t + 8);
    *tsv = colo_be32(t + 20 + 4);     /* frame-build: NOP NOP TS */
    *tse = colo_be32(t + 20 + 8);
    uint8_t copy[FRAME_BUF];
    memcpy(copy, d, len);
    CU_ASSERT_TRUE(colo_l4_checksum_fill(copy, &f));
    CU_ASSERT_EQUAL(memcmp(copy, d, len), 0);
}

static void test_both_directions(void)
{
    struct ready rd = { 0 };
    colo_rewriter *r;
    uint32_t seq, ack, tsv, tse;
    CU_ASSERT_EQUAL_FATAL(colo_rewriter_new(on_ready, &rd, &r), 0);

    /* The primary's SYN-ACK first: the secondary's is renumbered at once. */
    struct frame p = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 1000, 501, 5000, 300);
    struct colo_frame pf = parse(&p);
    colo_rewrite_from_primary(r, p.d, &pf);
    struct frame s = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 900000, 501, 77, 300);
    struct colo_frame sf = parse(&s);
    CU_ASSERT_EQUAL(colo_rewrite_from_secondary(r, s.d, s.len, &sf), 0);
    numbers(s.d, s.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 1000);
    CU_ASSERT_EQUAL(ack, 501);         /* the client's numbers: the same for both */
    CU_ASSERT_EQUAL(tsv, 5000);
    CU_ASSERT_EQUAL(tse, 300);
    /* The client's ACK of the primary's SYN-ACK, as the secondary's. */
    struct frame c = seg(false, COLO_TCP_ACK, 501, 1001, 301, 5000);
    struct colo_frame cf = parse(&c);
    colo_rewrite_to_secondary(r, c.d, &cf);
    numbers(c.d, c.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 501);
    CU_ASSERT_EQUAL(ack, 900001);
    CU_ASSERT_EQUAL(tsv, 301);
    CU_ASSERT_EQUAL(tse, 77);          /* exactly its SYN-ACK's, or its stack resets */
    /* Data from the secondary later: its clock went on by 10. */
    struct frame d = seg(true, COLO_TCP_ACK | COLO_TCP_PSH, 900001, 505, 87, 301);
    struct colo_frame df = parse(&d);
    CU_ASSERT_EQUAL(colo_rewrite_from_secondary(r, d.d, d.len, &df), 0);
    numbers(d.d, d.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 1001);
    CU_ASSERT_EQUAL(tsv, 5010);
    /* After a failover the client sees its clock a margin ahead, and its
     * echoes of that come back without it. */
    colo_rewriter_failover(r);
    struct frame e = seg(true, COLO_TCP_ACK | COLO_TCP_PSH, 900005, 505, 97, 301);
    struct colo_frame ef = parse(&e);
    colo_rewrite_from_secondary(r, e.d, e.len, &ef);
    numbers(e.d, e.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 1005);
    CU_ASSERT_EQUAL(tsv, 5000 + 20 + 100);
    struct frame c2 = seg(false, COLO_TCP_ACK, 505, 1009, 302, 5120);
    struct colo_frame c2f = parse(&c2);
    colo_rewrite_to_secondary(r, c2.d, &c2f);
    numbers(c2.d, c2.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(ack, 900009);
    CU_ASSERT_EQUAL(tse, 97);
    struct colo_rewrite_counters n;
    colo_rewriter_counters(r, &n);
    CU_ASSERT_EQUAL(n.connections, 1);
    CU_ASSERT_EQUAL(n.held, 0);
    CU_ASSERT_EQUAL(rd.n, 0);
    struct frame *all[] = { &p, &s, &c, &d, &e, &c2 };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        frame_free(all[i]);
    colo_rewriter_free(r);
}

static void test_secondary_first_held(void)
{
    struct ready rd = { 0 };
    colo_rewriter *r;
    uint32_t seq, ack, tsv, tse;
    CU_ASSERT_EQUAL_FATAL(colo_rewriter_new(on_ready, &rd, &r), 0);

    struct frame s = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 42, 501, 10, 300);
    struct colo_frame sf = parse(&s);
    CU_ASSERT_EQUAL(colo_rewrite_from_secondary(r, s.d, s.len, &sf), 1);   /* kept */
    CU_ASSERT_EQUAL(rd.n, 0);
    /* Before the offsets, the client's frames go to it as they are. */
    struct frame c = seg(false, COLO_TCP_ACK, 501, 7, 301, 9);
    struct frame c0 = mk_raw(c.d, c.len);
    struct colo_frame cf = parse(&c);
    colo_rewrite_to_secondary(r, c.d, &cf);
    CU_ASSERT_EQUAL(memcmp(c.d, c0.d, c.len), 0);
    struct frame p = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 4000000000u, 501, 3000, 300);
    struct colo_frame pf = parse(&p);
    colo_rewrite_from_primary(r, p.d, &pf);
    CU_ASSERT_EQUAL_FATAL(rd.n, 1);    /* the held one, renumbered */
    numbers(rd.last, rd.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 4000000000u);
    CU_ASSERT_EQUAL(tsv, 3000);
    /* The sequence space wraps: the offset is modulo 2^32. */
    struct frame d = seg(true, COLO_TCP_ACK, 43 + 300000000u, 505, 11, 301);
    struct colo_frame df = parse(&d);
    colo_rewrite_from_secondary(r, d.d, d.len, &df);
    numbers(d.d, d.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, (uint32_t)(4000000001u + 300000000u));
    /* A checkpoint: the secondary is the primary's copy, nothing moves. */
    colo_rewriter_checkpoint(r);
    struct frame e = seg(true, COLO_TCP_ACK, 123456, 505, 11, 301);
    struct colo_frame ef = parse(&e);
    colo_rewrite_from_secondary(r, e.d, e.len, &ef);
    numbers(e.d, e.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 123456);
    CU_ASSERT_EQUAL(tsv, 11);
    struct colo_rewrite_counters n;
    colo_rewriter_counters(r, &n);
    CU_ASSERT_EQUAL(n.held, 1);
    CU_ASSERT_EQUAL(n.connections, 1);
    struct frame *all[] = { &s, &c, &c0, &p, &d, &e };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        frame_free(all[i]);
    colo_rewriter_free(r);
}

static void test_new_connection_and_not_tcp(void)
{
    struct ready rd = { 0 };
    colo_rewriter *r;
    uint32_t seq, ack, tsv, tse;
    CU_ASSERT_EQUAL_FATAL(colo_rewriter_new(on_ready, &rd, &r), 0);

    struct frame p = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 100, 1, 50, 1);
    struct frame s = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 200, 1, 60, 1);
    struct colo_frame pf = parse(&p), sf = parse(&s);
    colo_rewrite_from_primary(r, p.d, &pf);
    colo_rewrite_from_secondary(r, s.d, s.len, &sf);
    /* The same addresses, a new connection: the primary's new ISN. */
    struct frame p2 = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 7000, 1, 50, 1);
    struct frame s2 = seg(true, COLO_TCP_SYN | COLO_TCP_ACK, 9000, 1, 60, 1);
    struct colo_frame p2f = parse(&p2), s2f = parse(&s2);
    colo_rewrite_from_primary(r, p2.d, &p2f);
    CU_ASSERT_EQUAL(colo_rewrite_from_secondary(r, s2.d, s2.len, &s2f), 0);
    numbers(s2.d, s2.len, &seq, &ack, &tsv, &tse);
    CU_ASSERT_EQUAL(seq, 7000);
    struct colo_rewrite_counters n;
    colo_rewriter_counters(r, &n);
    CU_ASSERT_EQUAL(n.connections, 2);
    /* UDP is not touched. */
    struct spec us = { .ip = 4, .proto = COLO_IPPROTO_UDP, .src_host = GUEST, .dst_host = CLIENT,
                       .sport = GPORT, .dport = CPORT, .payload = "x", .len = 1 };
    struct frame u = mk(&us), u0 = mk_raw(u.d, u.len);
    struct colo_frame uf = parse(&u);
    CU_ASSERT_EQUAL(colo_rewrite_from_secondary(r, u.d, u.len, &uf), 0);
    CU_ASSERT_EQUAL(memcmp(u.d, u0.d, u.len), 0);
    struct frame *all[] = { &p, &s, &p2, &s2, &u, &u0 };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        frame_free(all[i]);
    colo_rewriter_free(r);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the primary's SYN-ACK first: both directions renumbered, checksums good",
          test_both_directions },
        { "the secondary's SYN-ACK first: held, then renumbered; wrap; checkpoint",
          test_secondary_first_held },
        { "a new connection on the same addresses; UDP untouched",
          test_new_connection_and_not_tcp },
        { NULL, NULL },
    };
    return unit_run("proxy_rewrite", NULL, NULL, tests);
}
