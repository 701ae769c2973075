/*
 * test_proxy_frames.c - the compare engine (proxy/) on everything but TCP
 * streams: the parser's bounds, each malformed frame counted by its cause
 * and the next good exchange released; UDP, ICMP and ARP compared packet
 * against packet, in order; IPv6 and 802.1Q flows compared, not passed;
 * IP fragments reassembled so that the same datagram cut differently is
 * equal.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>

#include "macro.h"
#include "proxy/counters.h"
#include "proxy/checksum.h"
#include "proxy-util.h"
#include "unit-util.h"

static const char PAYLOAD[] = "the same 40 bytes from both guests......";

static struct spec udp4(uint16_t sport, const void *payload, size_t len)
{
    return (struct spec){ .ip = 4, .proto = COLO_IPPROTO_UDP, .sport = sport, .dport = 53,
                          .payload = payload, .len = len, .ip_id = 1 };
}

/* --- the parser ------------------------------------------------------------ */

static void test_parse_fields(void)
{
    struct colo_frame f;
    struct spec s = { .ip = 4, .proto = COLO_IPPROTO_TCP, .sport = 80, .dport = 4000,
                      .seq = 1000, .ack = 2000, .flags = COLO_TCP_ACK | COLO_TCP_PSH,
                      .ts = true, .payload = PAYLOAD, .len = 10, .tagged = true, .vlan = 42 };
    struct frame a = mk(&s);

    CU_ASSERT_EQUAL(colo_frame_parse(a.d, a.len, &f), COLO_DROP_NONE);
    CU_ASSERT(f.tagged);
    CU_ASSERT_EQUAL(f.vlan, 42);
    CU_ASSERT_EQUAL(f.ip, COLO_L3_IPV4);
    CU_ASSERT_EQUAL(f.l3, 18);
    CU_ASSERT_EQUAL(f.proto, COLO_IPPROTO_TCP);
    CU_ASSERT_EQUAL(f.sport, 80);
    CU_ASSERT_EQUAL(f.dport, 4000);
    CU_ASSERT_EQUAL(f.seq, 1000);
    CU_ASSERT_EQUAL(f.ack, 2000);
    CU_ASSERT_EQUAL(f.l4_hlen, 32);
    CU_ASSERT_EQUAL(f.payload_len, 10);
    CU_ASSERT_EQUAL(f.payload, 18 + 20 + 32);
    CU_ASSERT(!f.frag);
    frame_free(&a);

    s = (struct spec){ .ip = 6, .proto = COLO_IPPROTO_UDP, .sport = 7, .dport = 9,
                       .payload = PAYLOAD, .len = 5 };
    a = mk(&s);
    CU_ASSERT_EQUAL(colo_frame_parse(a.d, a.len, &f), COLO_DROP_NONE);
    CU_ASSERT_EQUAL(f.ip, COLO_L3_IPV6);
    CU_ASSERT_EQUAL(f.proto, COLO_IPPROTO_UDP);
    CU_ASSERT_EQUAL(f.payload_len, 5);
    CU_ASSERT_EQUAL(f.src[15], 1);
    CU_ASSERT_EQUAL(f.dst[15], 2);
    frame_free(&a);
}

/* A copy of good with byte at set to v. */
static struct frame with_byte(const struct frame *good, size_t at, uint8_t v)
{
    struct frame f = mk_raw(good->d, good->len);
    f.d[at] = v;
    return f;
}

static struct frame with_byte_cut(const struct frame *good, size_t at, uint8_t v, size_t len)
{
    struct frame f = with_byte(good, at, v);
    f.len = len;
    return f;
}

/* Each malformation, parsed: its exact cause. */
static void test_parse_causes(void)
{
    struct colo_frame f;
    struct spec st = { .ip = 4, .proto = COLO_IPPROTO_TCP, .sport = 1, .dport = 2,
                       .payload = PAYLOAD, .len = 20 };
    struct frame tcp = mk(&st);                 /* 14 + 20 + 20 + 20 = 74 bytes */
    struct spec su = udp4(1, PAYLOAD, 40);
    struct frame udp = mk(&su);
    struct spec s6 = { .ip = 6, .proto = COLO_IPPROTO_UDP, .sport = 1, .dport = 2,
                       .payload = PAYLOAD, .len = 40 };
    struct frame v6 = mk(&s6);
    uint8_t vlan_runt[16] = { [12] = 0x81, [13] = 0x00 };
    struct {
        struct frame f;
        enum colo_drop_cause want;
    } cases[] = {
        { mk_raw(tcp.d, 0), COLO_DROP_EMPTY },
        { mk_raw(tcp.d, 10), COLO_DROP_RUNT },
        { mk_raw(vlan_runt, sizeof(vlan_runt)), COLO_DROP_RUNT },
        { mk_raw(tcp.d, 14 + 12), COLO_DROP_TRUNCATED },
        { with_byte(&tcp, 14, 0x65), COLO_DROP_BAD_IP_VERSION },
        { with_byte(&tcp, 14, 0x44), COLO_DROP_BAD_IHL },
        { with_byte_cut(&tcp, 14, 0x4f, 14 + 40), COLO_DROP_BAD_IHL },   /* 60 bytes: past the end */
        { with_byte(&tcp, 16, 0x01), COLO_DROP_BAD_IP_LENGTH },   /* 256 + 60 > 74 */
        { with_byte(&tcp, 17, 19), COLO_DROP_BAD_IP_LENGTH },     /* under the IHL */
        { with_byte(&tcp, 14 + 20 + 12, 0xf0), COLO_DROP_BAD_TCP_OFFSET },   /* 60 > 40 */
        { with_byte(&tcp, 14 + 20 + 12, 0x40), COLO_DROP_BAD_TCP_OFFSET },   /* 16 < 20 */
        { with_byte(&udp, 14 + 20 + 5, 47), COLO_DROP_BAD_UDP_LENGTH },
        { with_byte(&v6, 14 + 4, 0x01), COLO_DROP_BAD_IPV6_LENGTH },
        { with_byte(&v6, 14 + 6, 60), COLO_DROP_BAD_EXT_HEADER },            /* 48 x 8 bytes */
        { mk_raw(v6.d, 14 + 30), COLO_DROP_TRUNCATED },
        { with_byte(&tcp, 14 + 7, 0x01), COLO_DROP_NONE },   /* a fragment at 8: parsed, no L4 */
    };
    /* A truncated TCP header: total length and frame cut to 14 + 20 + 10. */
    struct frame cut = mk_raw(tcp.d, 14 + 20 + 10);
    cut.d[16] = 0;
    cut.d[17] = 30;
    CU_ASSERT_EQUAL(colo_frame_parse(cut.d, cut.len, &f), COLO_DROP_TRUNCATED);
    /* Padding that is not zeros. */
    struct spec sp = udp4(1, "x", 1);
    struct frame pad = mk(&sp);
    memset(pad.d + pad.len, 0, 60 - pad.len);
    pad.len = 60;
    CU_ASSERT_EQUAL(colo_frame_parse(pad.d, pad.len, &f), COLO_DROP_NONE);
    pad.d[59] = 1;
    CU_ASSERT_EQUAL(colo_frame_parse(pad.d, pad.len, &f), COLO_DROP_BAD_PADDING);
    /* A middle fragment of 12 bytes (not a multiple of 8). */
    struct frame mf = with_byte(&udp, 14 + 6, 0x20);
    mf.d[16] = 0;
    mf.d[17] = 32;
    mf.len = 14 + 32;
    CU_ASSERT_EQUAL(colo_frame_parse(mf.d, mf.len, &f), COLO_DROP_BAD_FRAG);

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum colo_drop_cause got = colo_frame_parse(cases[i].f.d, cases[i].f.len, &f);
        if (got != cases[i].want)
            fprintf(stderr, "case %zu: %s, not %s\n", i, colo_drop_cause_name(got),
                    colo_drop_cause_name(cases[i].want));
        CU_ASSERT_EQUAL(got, cases[i].want);
        frame_free(&cases[i].f);
    }
    frame_free(&cut);
    frame_free(&pad);
    frame_free(&mf);
    frame_free(&tcp);
    frame_free(&udp);
    frame_free(&v6);
}

static void test_cause_names(void)
{
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_RUNT), "runt");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_BAD_IHL), "bad-ihl");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_BAD_TCP_OFFSET), "bad-tcp-offset");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_BAD_IP_LENGTH), "bad-ip-length");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_TOO_BIG), "too-big");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_FRAG_OVERFLOW), "frag-overflow");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_FLOW_LIMIT), "flow-limit");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP_MEMORY_LIMIT), "memory-limit");
    CU_ASSERT_STRING_EQUAL(colo_drop_cause_name(COLO_DROP__MAX), "?");
    CU_ASSERT_STRING_EQUAL(colo_checkpoint_reason_name(COLO_CKPT_TIMEOUT), "timeout");
    CU_ASSERT_STRING_EQUAL(colo_checkpoint_reason_name(COLO_CKPT_TCP_FLAGS), "tcp-flags");
    CU_ASSERT_STRING_EQUAL(colo_checkpoint_reason_name(COLO_CKPT__MAX), "?");
    /* Every cause has a name of its own. */
    for (int i = 0; i < COLO_DROP__MAX; i++)
        for (int j = 0; j < i; j++)
            CU_ASSERT(strcmp(colo_drop_cause_name(i), colo_drop_cause_name(j)) != 0);
}

/* --- malformed frames through the engine --------------------------------------- */

/* Each malformed frame, on both inputs: the errno, its cause counted once
 * per input, nothing else counted, no checkpoint; then a good exchange
 * is released. */
static void test_malformed_counted(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct spec st = { .ip = 4, .proto = COLO_IPPROTO_TCP, .sport = 1, .dport = 2,
                       .payload = PAYLOAD, .len = 20 };
    struct frame tcp = mk(&st);
    struct frame big = { calloc(1, 65536 + 1024), 65536 + 1024 };
    memcpy(big.d, tcp.d, tcp.len);
    struct frame cut = mk_raw(tcp.d, 14 + 12);
    struct frame ihl = with_byte(&tcp, 14, 0x43);
    struct frame doff = with_byte(&tcp, 14 + 20 + 12, 0xf0);
    struct frame tlen = with_byte(&tcp, 16, 0x02);
    struct {
        const struct frame *f;
        enum colo_drop_cause cause;
        int err;
    } cases[] = {
        { &(struct frame){ tcp.d, 0 }, COLO_DROP_EMPTY, -EINVAL },
        { &big, COLO_DROP_TOO_BIG, -EMSGSIZE },
        { &cut, COLO_DROP_TRUNCATED, -EINVAL },
        { &ihl, COLO_DROP_BAD_IHL, -EINVAL },
        { &doff, COLO_DROP_BAD_TCP_OFFSET, -EINVAL },
        { &tlen, COLO_DROP_BAD_IP_LENGTH, -EINVAL },
    };
    uint64_t now = 1000 * MSEC;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        CU_ASSERT_EQUAL(P(c, cases[i].f, now), cases[i].err);
        CU_ASSERT_EQUAL(S(c, cases[i].f, now), cases[i].err);
        struct colo_compare_counters n = counters(c);
        for (int side = 0; side < 2; side++)
            for (int k = 0; k < COLO_DROP__MAX; k++) {
                uint64_t want = 0;
                for (size_t j = 0; j <= i; j++)
                    want += cases[j].cause == (enum colo_drop_cause)k;
                CU_ASSERT_EQUAL(n.drops[side][k], want);
            }
    }
    CU_ASSERT_EQUAL(colo_compare_primary(c, NULL, 0, now), -EINVAL);
    struct colo_compare_counters n = counters(c);
    for (int k = 0; getenv("UNIT_VERBOSE") && k < COLO_DROP__MAX; k++)
        if (n.drops[COLO_PRIMARY][k] || n.drops[COLO_SECONDARY][k])
            fprintf(stderr, "drops %-16s primary %" PRIu64 " secondary %" PRIu64 "\n",
                    colo_drop_cause_name(k), n.drops[COLO_PRIMARY][k], n.drops[COLO_SECONDARY][k]);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_EMPTY], 2);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY], 0);
    CU_ASSERT_EQUAL(n.flows, 0);
    CU_ASSERT_EQUAL(r.n, 0);

    struct spec su = udp4(5000, PAYLOAD, 40);
    struct frame good = mk(&su);
    CU_ASSERT_EQUAL(P(c, &good, now), 0);
    CU_ASSERT_EQUAL(S(c, &good, now), 0);
    CU_ASSERT(released_exactly(&r, &good, 1));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    n = counters(c);
    CU_ASSERT_EQUAL(n.released, 1);
    CU_ASSERT_EQUAL(n.compared, 1);
    CU_ASSERT(counters_consistent(c));
    /* Nothing counted as a checkpoint, nothing held after the good exchange. */
    CU_ASSERT_EQUAL(n.checkpoints, 0);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY] + n.frames_held[COLO_SECONDARY], 0);

    frame_free(&tcp);
    frame_free(&big);
    frame_free(&cut);
    frame_free(&ihl);
    frame_free(&doff);
    frame_free(&tlen);
    frame_free(&good);
    colo_compare_free(c);
    rec_free(&r);
}

/* --- packet against packet ------------------------------------------------------- */

/* A UDP backlog: 10 primary packets first, then the secondary's; each
 * primary released as its match comes, oldest first. */
static void test_udp_backlog_in_order(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct frame p[10], s[10];
    char msg[10][24];

    for (int i = 0; i < 10; i++) {
        snprintf(msg[i], sizeof(msg[i]), "datagram %d", i);
        struct spec sp = udp4(5000, msg[i], strlen(msg[i]));
        sp.ip_id = (uint16_t)(100 + i);
        p[i] = mk(&sp);
        sp.ip_id = (uint16_t)(7000 + 3 * i);        /* another stack's IDs, checksums */
        s[i] = mk(&sp);
        CU_ASSERT_EQUAL(P(c, &p[i], MSEC), 0);
    }
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_PRIMARY], 10);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(S(c, &s[i], 2 * MSEC), 0);
        CU_ASSERT(released_exactly(&r, p, (size_t)i + 1));
    }
    CU_ASSERT_EQUAL(r.ckpts, 0);
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(n.compared, 10);
    CU_ASSERT_EQUAL(n.secondary_done, 10);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY], 0);
    CU_ASSERT(counters_consistent(c));
    for (int i = 0; i < 10; i++) {
        frame_free(&p[i]);
        frame_free(&s[i]);
    }
    colo_compare_free(c);
    rec_free(&r);
}

/* Identical UDP bursts on 8 flows, interleaved and with the secondary
 * ahead on some: no checkpoint, all released, each flow in order. */
static void test_udp_bursts_no_checkpoint(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    enum { FLOWS = 8, BURST = 50 };
    static struct frame p[FLOWS][BURST], s[FLOWS][BURST];

    for (int f = 0; f < FLOWS; f++)
        for (int i = 0; i < BURST; i++) {
            uint8_t body[64];
            memset(body, 'a' + f, sizeof(body));
            body[0] = (uint8_t)i;
            struct spec sp = udp4((uint16_t)(6000 + f), body, 20 + (size_t)i % 40);
            sp.ip = f % 2 ? 6 : 4;
            sp.ip_id = (uint16_t)i;
            sp.flow_label = 0x12345;
            p[f][i] = mk(&sp);
            sp.ip_id = (uint16_t)(40000 - i);
            sp.flow_label = 0xabcde;
            s[f][i] = mk(&sp);
        }
    for (int i = 0; i < BURST; i++)
        for (int f = 0; f < FLOWS; f++) {
            if (f < 4) {
                CU_ASSERT_EQUAL(S(c, &s[f][i], MSEC), 0);
                CU_ASSERT_EQUAL(P(c, &p[f][i], MSEC), 0);
            } else {
                CU_ASSERT_EQUAL(P(c, &p[f][i], MSEC), 0);
                CU_ASSERT_EQUAL(S(c, &s[f][i], MSEC), 0);
            }
        }
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT_EQUAL(r.n, FLOWS * BURST);
    /* Released in the order fed: each flow in its own order. */
    size_t k = 0;
    for (int i = 0; i < BURST; i++)
        for (int f = 0; f < FLOWS; f++, k++)
            CU_ASSERT(r.out[k].len == p[f][i].len && !memcmp(r.out[k].d, p[f][i].d, p[f][i].len));
    CU_ASSERT_EQUAL(counters(c).flows, FLOWS);
    CU_ASSERT(counters_consistent(c));
    for (int f = 0; f < FLOWS; f++)
        for (int i = 0; i < BURST; i++) {
            frame_free(&p[f][i]);
            frame_free(&s[f][i]);
        }
    colo_compare_free(c);
    rec_free(&r);
}

/* A divergence in flow a: exactly one checkpoint, nothing of it (or after
 * it) released until the checkpoint is done, then all held, in order. */
static void check_divergence(const struct frame *pa, const struct frame *sa, int np,
                             enum colo_checkpoint_reason why)
{
    struct rec r;
    colo_compare *c = rec_new(&r);

    for (int i = 0; i < np; i++)
        CU_ASSERT_EQUAL(P(c, &pa[i], MSEC), 0);
    for (int i = 0; i < np; i++)
        S(c, &sa[i], MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], why);
    CU_ASSERT(colo_compare_checkpoint_pending(c));
    size_t before = r.n;
    /* More divergence: no second request. */
    CU_ASSERT_EQUAL(P(c, &pa[np - 1], 2 * MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &sa[0], 2 * MSEC), -EAGAIN);
    colo_compare_tick(c, 10000 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.n, before);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_SECONDARY][COLO_DROP_CHECKPOINT], 1);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 10001 * MSEC), 0);
    CU_ASSERT(!colo_compare_checkpoint_pending(c));
    CU_ASSERT_EQUAL(r.n, (size_t)np + 1);
    /* The frames before the divergence that matched went first; then the
     * held ones, in the order they came. */
    for (int i = 0; i < np; i++)
        CU_ASSERT(r.out[i].len == pa[i].len && !memcmp(r.out[i].d, pa[i].d, pa[i].len));
    CU_ASSERT(r.out[np].len == pa[np - 1].len && !memcmp(r.out[np].d, pa[np - 1].d, pa[np - 1].len));
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(counters(c).checkpoints_done, 1);
    CU_ASSERT(counters_consistent(c));
    colo_compare_free(c);
    rec_free(&r);
}

/* Three packets, the second diverging in one byte of its payload. */
static void divergent_triplet(struct spec base, struct frame *pa, struct frame *sa)
{
    char body[3][40];  /* room for any int: -O1 cannot prove i < 3 */

    for (int i = 0; i < 3; i++) {
        snprintf(body[i], sizeof(body[i]), "packet %d of three, same", i);
        base.payload = body[i];
        base.len = strlen(body[i]);
        base.ip_id = (uint16_t)i;
        pa[i] = mk(&base);
        if (i == 1)
            body[i][3] ^= 0x20;
        base.ip_id = (uint16_t)(900 + i);
        sa[i] = mk(&base);
    }
}

static void free3(struct frame *a, struct frame *b)
{
    for (int i = 0; i < 3; i++) {
        frame_free(&a[i]);
        frame_free(&b[i]);
    }
}

static void test_udp_divergence(void)
{
    struct frame pa[3], sa[3];

    divergent_triplet(udp4(5001, NULL, 0), pa, sa);
    /* The first matched and went; the second diverged: it and the third
     * are held until the checkpoint. */
    struct rec r;
    colo_compare *c = rec_new(&r);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(P(c, &pa[i], MSEC), 0);
    for (int i = 0; i < 3; i++)
        S(c, &sa[i], MSEC);
    CU_ASSERT(released_exactly(&r, pa, 1));
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_PACKET);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_SECONDARY][COLO_DROP_CHECKPOINT], 1);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 2 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, pa, 3));
    CU_ASSERT_EQUAL(counters(c).compared, 1);
    /* After it, the flow compares afresh. */
    rec_clear(&r);
    CU_ASSERT_EQUAL(P(c, &pa[2], 3 * MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &sa[2], 3 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, &pa[2], 1));
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT(counters_consistent(c));
    colo_compare_free(c);
    rec_free(&r);
    free3(pa, sa);
}

static void test_ipv6_divergence(void)
{
    struct frame pa[3], sa[3];
    struct spec s = udp4(5002, NULL, 0);

    s.ip = 6;
    divergent_triplet(s, pa, sa);
    check_divergence(pa, sa, 2, COLO_CKPT_PACKET);
    free3(pa, sa);
    /* ICMPv6 too. */
    s.proto = COLO_IPPROTO_ICMPV6;
    divergent_triplet(s, pa, sa);
    check_divergence(pa, sa, 2, COLO_CKPT_PACKET);
    free3(pa, sa);
}

static void test_vlan_divergence(void)
{
    struct frame pa[3], sa[3];
    struct spec s = udp4(5003, NULL, 0);

    s.tagged = true;
    s.vlan = 100;
    divergent_triplet(s, pa, sa);
    check_divergence(pa, sa, 2, COLO_CKPT_PACKET);
    free3(pa, sa);
}

/* The VLAN id is in the key: the same packet on another VLAN does not
 * match, and the primary's waits until its timeout. */
static void test_vlan_is_in_the_key(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct spec s = udp4(5004, PAYLOAD, 10);

    s.tagged = true;
    s.vlan = 10;
    struct frame p = mk(&s);
    s.vlan = 11;
    struct frame q = mk(&s);
    s.tagged = false;
    struct frame u = mk(&s);
    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &q, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &u, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(counters(c).flows, 3);
    colo_compare_tick(c, 50 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 0);
    colo_compare_tick(c, 101 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TIMEOUT);
    CU_ASSERT_EQUAL(r.n, 0);
    frame_free(&p);
    frame_free(&q);
    frame_free(&u);
    colo_compare_free(c);
    rec_free(&r);
}

/* ICMP echo, compared without its checksum; a different id diverges. */
static void test_icmp(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct spec s = { .ip = 4, .proto = COLO_IPPROTO_ICMP, .sport = 7, .dport = 1,
                      .payload = PAYLOAD, .len = 32, .ip_id = 5 };
    struct frame p = mk(&s);
    s.ip_id = 6000;
    struct frame q = mk(&s);
    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &q, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p, 1));
    s.sport = 8;
    struct frame q2 = mk(&s);
    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &q2, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_PACKET);
    frame_free(&p);
    frame_free(&q);
    frame_free(&q2);
    colo_compare_free(c);
    rec_free(&r);
}

/* ARP: compared whole, in order; a different target diverges. */
static void test_arp_in_order(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    uint8_t arp[3][28];
    struct frame p[3], s[3];

    for (int i = 0; i < 3; i++) {
        memset(arp[i], 0, sizeof(arp[i]));
        arp[i][1] = 1;                              /* Ethernet */
        arp[i][2] = 0x08;                           /* IPv4 */
        arp[i][4] = 6;
        arp[i][5] = 4;
        arp[i][7] = 1;                              /* request */
        arp[i][27] = (uint8_t)(10 + i);             /* who has 10.0.0.(10+i) */
        struct spec sp = { .ip = 0, .ethertype = COLO_ETH_ARP, .payload = arp[i], .len = 28 };
        p[i] = mk(&sp);
        s[i] = mk(&sp);
    }
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(P(c, &p[i], MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);                        /* not passed through unchecked */
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(S(c, &s[i], MSEC), 0);
    CU_ASSERT(released_exactly(&r, p, 3));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    /* Out of order on the secondary: a divergence. */
    CU_ASSERT_EQUAL(P(c, &p[0], MSEC), 0);
    CU_ASSERT_EQUAL(P(c, &p[1], MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &s[1], MSEC), 0);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_PACKET);
    CU_ASSERT_EQUAL(r.n, 3);
    free3(p, s);
    colo_compare_free(c);
    rec_free(&r);
}

/* A runt-like non-IP frame (an unknown ethertype, 14 bytes) is a flow of
 * its own too, never forwarded unchecked. */
static void test_non_ip_held(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    struct spec sp = { .ip = 0, .ethertype = 0x88b5 };
    struct frame p = mk(&sp);

    CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(S(c, &p, MSEC), 0);
    CU_ASSERT(released_exactly(&r, &p, 1));
    frame_free(&p);
    colo_compare_free(c);
    rec_free(&r);
}

/* --- fragments --------------------------------------------------------------------- */

static void check_fragments(int ip)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    uint8_t body[3000];

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7 + 3);
    struct spec s = udp4(5005, body, sizeof(body));
    s.ip = ip;
    s.no_df = true;             /* a datagram that may be fragmented */
    struct frame whole = mk(&s);
    struct frame pf[3], sf[4];
    fragment(&whole, (const uint32_t[]){ 1480, 2960 }, 2, 77, pf);
    fragment(&whole, (const uint32_t[]){ 800, 1600, 2400 }, 3, 31337, sf);

    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(P(c, &pf[i], MSEC), 0);
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_PRIMARY], 3);
    /* The secondary's pieces out of order. */
    CU_ASSERT_EQUAL(S(c, &sf[2], MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &sf[0], MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &sf[3], MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(S(c, &sf[1], MSEC), 0);
    /* The primary's own fragments are what goes out. */
    CU_ASSERT(released_exactly(&r, pf, 3));
    CU_ASSERT_EQUAL(r.ckpts, 0);
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(n.released, 3);
    CU_ASSERT_EQUAL(n.compared, 3);
    CU_ASSERT_EQUAL(n.secondary_done, 4);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY] + n.frames_held[COLO_SECONDARY], 0);
    CU_ASSERT(counters_consistent(c));

    /* The whole datagram against the fragmented one: equal too. */
    rec_clear(&r);
    CU_ASSERT_EQUAL(P(c, &whole, 2 * MSEC), 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(S(c, &sf[i], 2 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, &whole, 1));
    CU_ASSERT_EQUAL(r.ckpts, 0);

    /* One byte changed in one piece: a divergence. */
    rec_clear(&r);
    sf[1].d[sf[1].len - 5] ^= 1;
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(P(c, &pf[i], 3 * MSEC), 0);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(S(c, &sf[i], 3 * MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_PACKET);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 4 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, pf, 3));
    CU_ASSERT(counters_consistent(c));

    for (int i = 0; i < 3; i++)
        frame_free(&pf[i]);
    for (int i = 0; i < 4; i++)
        frame_free(&sf[i]);
    frame_free(&whole);
    colo_compare_free(c);
    rec_free(&r);
}

static void test_fragments_ipv4(void)
{
    check_fragments(4);
}

static void test_fragments_ipv6(void)
{
    check_fragments(6);
}

/* Overlap, duplicate, timeout, overflow: each counted by its cause. */
static void test_fragment_faults(void)
{
    struct rec r;
    struct colo_compare_config cfg = rec_config(&r);
    cfg.frag_max = 2;
    cfg.frag_timeout_ms = 50;
    colo_compare *c = rec_new_with(&r, cfg);
    uint8_t body[2000];
    memset(body, 'f', sizeof(body));
    struct spec s = udp4(5006, body, sizeof(body));
    struct frame whole = mk(&s);
    struct frame a[2], b[2];
    fragment(&whole, (const uint32_t[]){ 1000 }, 1, 1, a);
    fragment(&whole, (const uint32_t[]){ 512 }, 1, 1, b);

    /* Duplicate: the second copy goes, the datagram stays. */
    CU_ASSERT_EQUAL(P(c, &a[0], MSEC), 0);
    CU_ASSERT_EQUAL(P(c, &a[0], MSEC), -EINVAL);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_PRIMARY][COLO_DROP_FRAG_DUPLICATE], 1);
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_PRIMARY], 1);
    /* Overlap: [0,1000) held, [512,2008) comes: both go. */
    CU_ASSERT_EQUAL(P(c, &b[1], MSEC), -EINVAL);
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_FRAG_OVERLAP], 2);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY], 0);
    /* Timeout: a lone first piece, 50 ms. */
    CU_ASSERT_EQUAL(P(c, &a[0], 10 * MSEC), 0);
    colo_compare_tick(c, 59 * MSEC);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_PRIMARY][COLO_DROP_FRAG_TIMEOUT], 0);
    colo_compare_tick(c, 60 * MSEC);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_PRIMARY][COLO_DROP_FRAG_TIMEOUT], 1);
    CU_ASSERT_EQUAL(r.ckpts, 0);
    /* Overflow: three datagrams at once where two fit. */
    struct frame x[2], y[2], z[2];
    fragment(&whole, (const uint32_t[]){ 1000 }, 1, 2, x);
    fragment(&whole, (const uint32_t[]){ 1000 }, 1, 3, y);
    fragment(&whole, (const uint32_t[]){ 1000 }, 1, 4, z);
    CU_ASSERT_EQUAL(S(c, &x[0], 70 * MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &y[0], 70 * MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &z[0], 70 * MSEC), -ENOSPC);
    n = counters(c);
    CU_ASSERT_EQUAL(n.drops[COLO_SECONDARY][COLO_DROP_FRAG_OVERFLOW], 1);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_MEMORY);
    CU_ASSERT(counters_consistent(c));
    /* The checkpoint drops the secondary's incomplete datagrams. */
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 71 * MSEC), 0);
    n = counters(c);
    CU_ASSERT_EQUAL(n.drops[COLO_SECONDARY][COLO_DROP_CHECKPOINT], 2);
    CU_ASSERT_EQUAL(n.frames_held[COLO_SECONDARY], 0);
    CU_ASSERT(counters_consistent(c));
    for (int i = 0; i < 2; i++) {
        frame_free(&a[i]);
        frame_free(&b[i]);
        frame_free(&x[i]);
        frame_free(&y[i]);
        frame_free(&z[i]);
    }
    frame_free(&whole);
    colo_compare_free(c);
    rec_free(&r);
}

/* An incomplete primary datagram at a checkpoint goes out as it is. */
static void test_fragment_released_at_checkpoint(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);
    uint8_t body[2000];
    memset(body, 'g', sizeof(body));
    struct spec s = udp4(5007, body, sizeof(body));
    struct frame whole = mk(&s), a[2];
    fragment(&whole, (const uint32_t[]){ 1000 }, 1, 9, a);

    CU_ASSERT_EQUAL(P(c, &a[0], MSEC), 0);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 2 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, a, 1));
    CU_ASSERT_EQUAL(counters(c).frames_held[COLO_PRIMARY], 0);
    CU_ASSERT(counters_consistent(c));
    frame_free(&a[0]);
    frame_free(&a[1]);
    frame_free(&whole);
    colo_compare_free(c);
    rec_free(&r);
}

/* colo_l4_checksum_fill(): the checksum frame-build.h computed, again,
 * for TCP and UDP over IPv4 and IPv6, an odd length included; nothing
 * written for what is not a TCP or UDP segment. */
static void test_checksum_fill(void)
{
    static const uint8_t body[33] = "a payload of an odd length, 33 b";
    static const uint8_t protos[2] = { COLO_IPPROTO_TCP, COLO_IPPROTO_UDP };
    for (int ip = 4; ip <= 6; ip += 2)
        for (int k = 0; k < 2; k++) {
            struct spec sp = { .ip = ip, .proto = protos[k], .sport = 1234, .dport = 80,
                               .seq = 7, .flags = COLO_TCP_ACK, .payload = body,
                               .len = sizeof(body), .src_host = 1, .dst_host = 2 };
            struct frame fr = mk(&sp);
            struct colo_frame f;
            CU_ASSERT_EQUAL_FATAL(colo_frame_parse(fr.d, fr.len, &f), COLO_DROP_NONE);
            uint32_t at = f.l4 + (protos[k] == COLO_IPPROTO_TCP ? 16 : 6);
            uint8_t want[2] = { fr.d[at], fr.d[at + 1] };
            fr.d[at] = 0x12;    /* what an offload leaves: not the checksum */
            fr.d[at + 1] = 0x34;
            CU_ASSERT_TRUE(colo_l4_checksum_fill(fr.d, &f));
            CU_ASSERT_EQUAL(fr.d[at], want[0]);
            CU_ASSERT_EQUAL(fr.d[at + 1], want[1]);
            frame_free(&fr);
        }
    struct spec icmp = { .ip = 4, .proto = COLO_IPPROTO_ICMP, .payload = body, .len = 8 };
    struct spec arp = { .ethertype = 0x0806, .payload = body, .len = 28 };
    struct spec *none[] = { &icmp, &arp };
    for (int i = 0; i < 2; i++) {
        struct frame fr = mk(none[i]);
        struct frame copy = mk_raw(fr.d, fr.len);
        struct colo_frame f;
        CU_ASSERT_EQUAL_FATAL(colo_frame_parse(fr.d, fr.len, &f), COLO_DROP_NONE);
        CU_ASSERT_FALSE(colo_l4_checksum_fill(fr.d, &f));
        CU_ASSERT_EQUAL(memcmp(fr.d, copy.d, fr.len), 0);
        frame_free(&fr);
        frame_free(&copy);
    }
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "parse: the fields of a tagged TCP and an IPv6 UDP frame", test_parse_fields },
        { "parse: each malformation has its cause", test_parse_causes },
        { "every cause and reason has its own name", test_cause_names },
        { "malformed frames counted by cause, the next exchange released",
          test_malformed_counted },
        { "a UDP backlog released in order", test_udp_backlog_in_order },
        { "identical UDP bursts: no checkpoint", test_udp_bursts_no_checkpoint },
        { "a UDP divergence: one checkpoint, held until done", test_udp_divergence },
        { "an IPv6 divergence: one checkpoint", test_ipv6_divergence },
        { "a VLAN-tagged divergence: one checkpoint", test_vlan_divergence },
        { "the VLAN id is in the flow key", test_vlan_is_in_the_key },
        { "ICMP compared without its checksum", test_icmp },
        { "ARP compared in order", test_arp_in_order },
        { "a non-IP frame is held until matched", test_non_ip_held },
        { "IPv4 fragments cut differently compare equal", test_fragments_ipv4 },
        { "IPv6 fragments cut differently compare equal", test_fragments_ipv6 },
        { "a TCP or UDP checksum filled in, IPv4 and IPv6", test_checksum_fill },
        { "fragment duplicate, overlap, timeout, overflow", test_fragment_faults },
        { "an incomplete primary datagram released at a checkpoint",
          test_fragment_released_at_checkpoint },
        { NULL, NULL },
    };
    return unit_run("proxy_frames", NULL, NULL, tests);
}
