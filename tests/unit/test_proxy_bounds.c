/*
 * test_proxy_bounds.c - the compare engine's limits and time: the
 * timeout via tick, one checkpoint per episode, 100,000 flows with a
 * secondary that never answers (under the memory bound, one checkpoint),
 * the flow and per-flow limits, idle flows going and evicted, callbacks
 * that call back in, bad configurations, 10,000 mutated frames, and the
 * budget's pool of frame-sized blocks.
 */
#include "config.h"

#include <errno.h>

#include "macro.h"
#include "proxy/budget.h"
#include "proxy-util.h"
#include "unit-util.h"

static struct frame udp_frame(uint16_t sport, uint8_t dst, uint32_t index, size_t len)
{
    uint8_t body[1500] = { 0 };
    put32(body, index);
    struct spec s = { .ip = 4, .proto = COLO_IPPROTO_UDP, .sport = sport, .dport = 9,
                      .dst_host = dst, .payload = body, .len = len < 4 ? 4 : len };
    return mk(&s);
}

/* --- time --------------------------------------------------------------------- */

static void test_timeout_via_tick(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);              /* timeout 100 ms */
    struct frame a = udp_frame(1, 2, 0, 10), b = udp_frame(1, 2, 1, 10);

    CU_ASSERT_EQUAL(P(c, &a, 1000 * MSEC), 0);
    CU_ASSERT_EQUAL(colo_compare_tick(c, 1099 * MSEC), 0);
    CU_ASSERT_EQUAL(r.ckpts, 0);
    CU_ASSERT_EQUAL(colo_compare_tick(c, 1100 * MSEC), 0);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.reason[0], COLO_CKPT_TIMEOUT);
    CU_ASSERT_EQUAL(counters(c).checkpoint_reasons[COLO_CKPT_TIMEOUT], 1);
    for (int i = 0; i < 10; i++)
        colo_compare_tick(c, (1200 + 100 * (uint64_t)i) * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 1);                /* one episode, one request */
    CU_ASSERT_EQUAL(r.n, 0);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 3000 * MSEC), 0);
    CU_ASSERT(released_exactly(&r, &a, 1));
    /* A new episode: a new request. */
    CU_ASSERT_EQUAL(P(c, &b, 3000 * MSEC), 0);
    colo_compare_tick(c, 3100 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 2);
    CU_ASSERT_EQUAL(counters(c).checkpoints, 2);
    /* A clock that went back times nothing out. */
    colo_compare_checkpoint_done(c, 3100 * MSEC);
    CU_ASSERT_EQUAL(P(c, &a, 5000 * MSEC), 0);
    colo_compare_tick(c, 10 * MSEC);
    CU_ASSERT_EQUAL(r.ckpts, 2);
    frame_free(&a);
    frame_free(&b);
    colo_compare_free(c);
    rec_free(&r);
}

/* Divergences in three flows at once: one request. */
static void test_one_request_per_episode(void)
{
    struct rec r;
    colo_compare *c = rec_new(&r);

    for (int i = 0; i < 3; i++) {
        struct frame p = udp_frame((uint16_t)(10 + i), 2, 0, 10);
        struct frame s = udp_frame((uint16_t)(10 + i), 2, 1, 10);
        CU_ASSERT_EQUAL(P(c, &p, MSEC), 0);
        CU_ASSERT_EQUAL(S(c, &s, MSEC), i == 0 ? 0 : -EAGAIN);
        frame_free(&p);
        frame_free(&s);
    }
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_SECONDARY][COLO_DROP_CHECKPOINT], 2);
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 2 * MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 3);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT(counters_consistent(c));
    colo_compare_free(c);
    rec_free(&r);
}

/* --- bounds ------------------------------------------------------------------------ */

#define FLOWS 100000

/* Released frames carry their index: they must come in increasing order. */
struct order {
    long last;
    unsigned long n, out_of_order;
    unsigned ckpts;
    enum colo_checkpoint_reason reason;
};

static void order_release(void *opaque, const uint8_t *frame, size_t len)
{
    struct order *o = opaque;
    long i = len >= 46 ? (long)((uint32_t)frame[42] << 24 | (uint32_t)frame[43] << 16 |
                                (uint32_t)frame[44] << 8 | frame[45]) : -1;
    if (i <= o->last)
        o->out_of_order++;
    o->last = i;
    o->n++;
}

static void order_checkpoint(void *opaque, enum colo_checkpoint_reason reason)
{
    struct order *o = opaque;
    o->ckpts++;
    o->reason = reason;
}

static colo_compare *order_new(struct order *o, struct colo_compare_config cfg)
{
    colo_compare *c = NULL;
    *o = (struct order){ .last = -1 };
    cfg.release = order_release;
    cfg.checkpoint = order_checkpoint;
    cfg.opaque = o;
    CU_ASSERT_FATAL(colo_compare_new(&cfg, &c) == 0);
    return c;
}

/* 100,000 flows, a secondary that never answers: the memory stays under
 * its bound, the overflow is one checkpoint, every frame past it is a
 * memory-limit drop; the checkpoint releases the held ones in order. */
static void test_100k_flows_memory_bound(void)
{
    struct order o;
    colo_compare *c = order_new(&o, (struct colo_compare_config){
        .max_mem = 8 << 20, .max_flows = 131072, .timeout_ms = 1000000 });
    uint64_t base = counters(c).mem_used;

    CU_ASSERT(base >= 131072 * sizeof(void *));     /* the buckets are counted */
    unsigned accepted = 0;
    for (uint32_t i = 0; i < FLOWS; i++) {
        struct frame f = udp_frame((uint16_t)(1024 + i % 60000), (uint8_t)(2 + i / 60000), i, 16);
        int r = P(c, &f, MSEC);
        CU_ASSERT(r == 0 || r == -ENOSPC);
        accepted += r == 0;
        frame_free(&f);
    }
    struct colo_compare_counters n = counters(c);
    CU_ASSERT(n.mem_peak <= 8u << 20);
    CU_ASSERT(n.mem_used <= 8u << 20);
    CU_ASSERT_EQUAL(o.ckpts, 1);
    CU_ASSERT_EQUAL(o.reason, COLO_CKPT_MEMORY);
    CU_ASSERT(accepted > 1000 && accepted < FLOWS);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY], accepted);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_MEMORY_LIMIT], FLOWS - accepted);
    CU_ASSERT_EQUAL(drops_total(&n, COLO_PRIMARY), FLOWS - accepted);
    CU_ASSERT_EQUAL(o.n, 0);
    CU_ASSERT(counters_consistent(c));
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 2 * MSEC), 0);
    CU_ASSERT_EQUAL(o.n, accepted);
    CU_ASSERT_EQUAL(o.out_of_order, 0);
    CU_ASSERT_EQUAL(o.ckpts, 1);
    /* Nothing held: the idle flows go, and the memory with them. */
    colo_compare_tick(c, 2 * MSEC + COLO_COMPARE_IDLE_MS * MSEC);
    n = counters(c);
    CU_ASSERT_EQUAL(n.flows, 0);
    CU_ASSERT_EQUAL(n.mem_used, base);
    colo_compare_free(c);
}

/* The same with room in memory but 10,000 flows at most. */
static void test_100k_flows_flow_limit(void)
{
    struct order o;
    colo_compare *c = order_new(&o, (struct colo_compare_config){ .max_flows = 10000,
                                                                 .timeout_ms = 1000000 });

    for (uint32_t i = 0; i < FLOWS; i++) {
        struct frame f = udp_frame((uint16_t)(1024 + i % 60000), (uint8_t)(2 + i / 60000), i, 16);
        CU_ASSERT_EQUAL(P(c, &f, MSEC), i < 10000 ? 0 : -ENOSPC);
        frame_free(&f);
    }
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(o.ckpts, 1);
    CU_ASSERT_EQUAL(o.reason, COLO_CKPT_FLOW_LIMIT);
    CU_ASSERT_EQUAL(n.flows, 10000);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_FLOW_LIMIT], FLOWS - 10000);
    CU_ASSERT(counters_consistent(c));
    CU_ASSERT_EQUAL(colo_compare_checkpoint_done(c, 2 * MSEC), 0);
    CU_ASSERT_EQUAL(o.n, 10000);
    CU_ASSERT_EQUAL(o.out_of_order, 0);
    colo_compare_free(c);
}

/* One flow may hold max_flow_mem, no more; the next flow is not hurt. */
static void test_flow_memory_limit(void)
{
    struct order o;
    colo_compare *c = order_new(&o, (struct colo_compare_config){ .max_flow_mem = 64 << 10,
                                                                 .timeout_ms = 1000000 });
    unsigned accepted = 0, refused = 0;

    for (uint32_t i = 0; i < 100; i++) {
        struct frame f = udp_frame(7, 2, i, 1000);
        int r = P(c, &f, MSEC);
        accepted += r == 0;
        refused += r == -ENOSPC;
        frame_free(&f);
    }
    struct colo_compare_counters n = counters(c);
    CU_ASSERT(accepted >= 50 && accepted < 64);
    CU_ASSERT_EQUAL(refused, 100 - accepted);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_FLOW_MEMORY], 100 - accepted);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_MEMORY_LIMIT], 0);
    CU_ASSERT_EQUAL(o.ckpts, 1);
    CU_ASSERT_EQUAL(o.reason, COLO_CKPT_MEMORY);
    struct frame other = udp_frame(8, 2, 100, 1000);
    CU_ASSERT_EQUAL(P(c, &other, MSEC), 0);
    frame_free(&other);
    CU_ASSERT(counters_consistent(c));
    colo_compare_free(c);
}

/* Flows that hold nothing go after idle_ms; when the table is full, the
 * least recently used idle one makes room. */
static void test_idle_flows(void)
{
    struct rec r;
    struct colo_compare_config cfg = rec_config(&r);
    cfg.max_flows = 4;
    cfg.idle_ms = 1000;
    colo_compare *c = rec_new_with(&r, cfg);

    for (int i = 0; i < 4; i++) {
        struct frame f = udp_frame((uint16_t)(100 + i), 2, (uint32_t)i, 10);
        CU_ASSERT_EQUAL(P(c, &f, (uint64_t)(i + 1) * MSEC), 0);
        CU_ASSERT_EQUAL(S(c, &f, (uint64_t)(i + 1) * MSEC), 0);
        frame_free(&f);
    }
    CU_ASSERT_EQUAL(counters(c).flows, 4);
    struct frame e = udp_frame(200, 2, 9, 10);
    CU_ASSERT_EQUAL(P(c, &e, 10 * MSEC), 0);        /* evicts flow 100, the oldest */
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(n.flows, 4);
    CU_ASSERT_EQUAL(n.flows_created, 5);
    CU_ASSERT_EQUAL(n.drops[COLO_PRIMARY][COLO_DROP_FLOW_LIMIT], 0);
    /* Flow 200 holds its frame: never evicted, nor idle. */
    colo_compare_tick(c, 1003 * MSEC);
    CU_ASSERT_EQUAL(counters(c).flows, 2);          /* 101 and 102 went, 103 at 4 ms stays */
    colo_compare_tick(c, 1004 * MSEC);
    CU_ASSERT_EQUAL(counters(c).flows, 1);
    CU_ASSERT_EQUAL(S(c, &e, 1005 * MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 5);
    colo_compare_tick(c, 2005 * MSEC);
    CU_ASSERT_EQUAL(counters(c).flows, 0);
    CU_ASSERT_EQUAL(r.ckpts, 0);
    frame_free(&e);
    colo_compare_free(c);
    rec_free(&r);
}

/* --- the API --------------------------------------------------------------------------- */

static void reenter_release(void *opaque, const uint8_t *frame, size_t len)
{
    struct rec *r = opaque;
    r->inner = colo_compare_primary(r->c, frame, len, 0);
    r->n++;
}

static void reenter_checkpoint(void *opaque, enum colo_checkpoint_reason reason)
{
    struct rec *r = opaque;
    r->inner = colo_compare_checkpoint_done(r->c, 0);
    r->ckpts++;
}

static void test_callbacks_cannot_reenter(void)
{
    struct rec r;
    struct colo_compare_config cfg = rec_config(&r);
    cfg.release = reenter_release;
    cfg.checkpoint = reenter_checkpoint;
    r.keep = false;                             /* reenter_release keeps no copy */
    colo_compare *c = rec_new_with(&r, cfg);
    struct frame a = udp_frame(1, 2, 0, 10), b = udp_frame(1, 2, 1, 10);

    CU_ASSERT_EQUAL(P(c, &a, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &a, MSEC), 0);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(r.inner, -EBUSY);
    CU_ASSERT_EQUAL(counters(c).drops[COLO_PRIMARY][COLO_DROP_BUSY], 1);
    r.inner = 0;
    CU_ASSERT_EQUAL(P(c, &a, MSEC), 0);
    CU_ASSERT_EQUAL(S(c, &b, MSEC), 0);
    CU_ASSERT_EQUAL(r.ckpts, 1);
    CU_ASSERT_EQUAL(r.inner, -EBUSY);
    CU_ASSERT(colo_compare_checkpoint_pending(c));
    CU_ASSERT(counters_consistent(c));
    frame_free(&a);
    frame_free(&b);
    colo_compare_free(c);
    rec_free(&r);
}

static void test_bad_config(void)
{
    struct rec r;
    colo_compare *c = (colo_compare *)&r;
    struct colo_compare_config cfg = rec_config(&r);

    cfg.release = NULL;
    CU_ASSERT_EQUAL(colo_compare_new(&cfg, &c), -EINVAL);
    CU_ASSERT_PTR_NULL(c);
    cfg = rec_config(&r);
    cfg.max_mem = 1024;                         /* less than the flow table */
    CU_ASSERT_EQUAL(colo_compare_new(&cfg, &c), -EINVAL);
    cfg = rec_config(&r);
    cfg.max_frame = COLO_FRAME_MAX + 1;
    CU_ASSERT_EQUAL(colo_compare_new(&cfg, &c), -EINVAL);
    cfg = rec_config(&r);
    CU_ASSERT_EQUAL(colo_compare_new(&cfg, &c), 0);
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(n.mem_limit, COLO_COMPARE_MAX_MEM);
    colo_compare_free(c);
    colo_compare_free(NULL);
}

/* --- fuzz -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fuzz_release(void *opaque, const uint8_t *frame, size_t len)
{
    size_t *n = opaque;
    CU_ASSERT(len > 0 && len <= COLO_FRAME_MAX && frame);
    (*n)++;
}

static void fuzz_checkpoint(void *opaque, enum colo_checkpoint_reason reason)
{
    CU_ASSERT(reason > COLO_CKPT_NONE && reason < COLO_CKPT__MAX);
}

/* 10,000 frames from templates of every kind, mutated (bytes flipped,
 * header bytes set, cut, extended), fed to both inputs with time moving,
 * ticks and checkpoints: no crash, and the counters add up after every
 * frame; at the end nothing is held and the memory is back. */
static void test_fuzz(void)
{
    size_t released = 0;
    struct colo_compare_config cfg = {
        .release = fuzz_release, .checkpoint = fuzz_checkpoint, .opaque = &released,
        .max_mem = 2 << 20, .max_flow_mem = 256 << 10, .max_flows = 64, .frag_max = 4,
        .timeout_ms = 50, .frag_timeout_ms = 20, .idle_ms = 500, .closed_ms = 100,
    };
    colo_compare *c = NULL;
    CU_ASSERT_FATAL(colo_compare_new(&cfg, &c) == 0);
    uint64_t base = counters(c).mem_used;
    /* PROXY_FUZZ_SEED=N runs another sequence, to search by hand. */
    if (getenv("PROXY_FUZZ_SEED"))
        rng_state = strtoull(getenv("PROXY_FUZZ_SEED"), NULL, 0) | 1;
    uint8_t body[2000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 13);

    struct frame t[64];
    unsigned nt = 0;
    for (int ip = 4; ip <= 6; ip += 2)
        for (int tag = 0; tag < 2; tag++) {
            struct spec s = { .ip = ip, .tagged = tag, .vlan = 5, .proto = COLO_IPPROTO_TCP,
                              .sport = 80, .dport = 1234, .seq = 1000, .ack = 1,
                              .flags = COLO_TCP_SYN | COLO_TCP_ACK, .ts = true, .mss = 1460 };
            t[nt++] = mk(&s);
            for (int k = 0; k < 4; k++) {
                s.flags = COLO_TCP_ACK;
                s.seq = 1001 + 100 * (uint32_t)k;
                s.payload = body + 100 * k;
                s.len = 100;
                t[nt++] = mk(&s);
            }
            s.flags = COLO_TCP_FIN | COLO_TCP_ACK;
            s.len = 0;
            t[nt++] = mk(&s);
            s.flags = COLO_TCP_RST;
            t[nt++] = mk(&s);
            struct spec u = { .ip = ip, .tagged = tag, .proto = COLO_IPPROTO_UDP, .sport = 53,
                              .dport = 53, .payload = body, .len = 1800, .no_df = true };
            struct frame whole = mk(&u);
            t[nt++] = mk_raw(whole.d, whole.len);
            fragment(&whole, (const uint32_t[]){ 600, 1200 }, 2, 42, t + nt);
            nt += 3;
            frame_free(&whole);
            u.len = 30;
            t[nt++] = mk(&u);
            struct spec m = { .ip = ip, .proto = ip == 4 ? COLO_IPPROTO_ICMP : COLO_IPPROTO_ICMPV6,
                              .payload = body, .len = 40 };
            t[nt++] = mk(&m);
        }
    struct spec arp = { .ip = 0, .ethertype = COLO_ETH_ARP, .payload = body, .len = 28 };
    t[nt++] = mk(&arp);
    CU_ASSERT_FATAL(nt <= ARRAY_SIZE(t));

    uint8_t *buf = malloc(FRAME_BUF);
    uint64_t now = MSEC;
    bool consistent = true;
    for (int i = 0; i < 10000; i++) {
        const struct frame *src = &t[rng() % nt];
        size_t len = src->len;
        memcpy(buf, src->d, len);
        switch (rng() % 6) {
        case 0:
            break;                              /* as it is */
        case 1:
            for (int k = 1 + (int)(rng() % 4); k; k--)
                buf[rng() % len] ^= (uint8_t)(1 + rng() % 255);
            break;
        case 2:
            buf[rng() % MIN(len, (size_t)80)] = (uint8_t)rng();
            break;
        case 3:
            len = rng() % (len + 1);
            break;
        case 4: {
            size_t more = rng() % 100;
            for (size_t k = 0; k < more; k++)
                buf[len + k] = (uint8_t)(rng() % 3 ? 0 : rng());
            len += more;
            break;
        }
        case 5:
            if (rng() % 50 == 0)
                len = COLO_FRAME_MAX + 1 + rng() % 1000;
            else
                buf[14 + rng() % 60] = (uint8_t)rng();
            break;
        }
        now += (rng() % 3) * MSEC;
        if (rng() % 2)
            colo_compare_primary(c, buf, len, now);
        else
            colo_compare_secondary(c, buf, len, now);
        if (i % 50 == 0)
            colo_compare_tick(c, now);
        if (colo_compare_checkpoint_pending(c) && rng() % 8 == 0)
            colo_compare_checkpoint_done(c, now);
        consistent = consistent && counters_consistent(c);
    }
    CU_ASSERT(consistent);
    struct colo_compare_counters n = counters(c);
    CU_ASSERT_EQUAL(n.frames_in[COLO_PRIMARY] + n.frames_in[COLO_SECONDARY], 10000);
    CU_ASSERT(n.released > 0);
    CU_ASSERT(n.checkpoints > 0);
    CU_ASSERT(drops_total(&n, COLO_PRIMARY) > 0);
    CU_ASSERT_EQUAL(n.released, released);
    colo_compare_checkpoint_done(c, now);
    colo_compare_tick(c, now + 1000 * MSEC);
    n = counters(c);
    CU_ASSERT_EQUAL(n.frames_held[COLO_PRIMARY], 0);
    CU_ASSERT_EQUAL(n.frames_held[COLO_SECONDARY], 0);
    CU_ASSERT_EQUAL(n.bytes_held[COLO_PRIMARY] + n.bytes_held[COLO_SECONDARY], 0);
    CU_ASSERT_EQUAL(n.flows, 0);
    CU_ASSERT_EQUAL(n.mem_used, base);
    CU_ASSERT(counters_consistent(c));
    free(buf);
    for (unsigned i = 0; i < nt; i++)
        frame_free(&t[i]);
    colo_compare_free(c);
}

/* --- the pool (budget.h) ------------------------------------------------------- */

static void test_pool(void)
{
    struct colo_pool pool = { 0 };
    struct colo_budget root = { .limit = 64 << 20, .pool = &pool };
    struct colo_budget flow = { .limit = 64 << 20, .parent = &root, .pool = &pool };
    static void *v[COLO_POOL_KEEP + 10];
    int r = 0;

    /* A frame-sized block freed is the next one taken (the pool is off
     * under ASan: then every block is malloc's own). */
    uint8_t *a = colo_budget_alloc(&flow, 1500, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    memset(a, 0xab, 1500);
    CU_ASSERT_EQUAL(root.used, 1500);
    colo_budget_free(&flow, a, 1500);
    CU_ASSERT_EQUAL(root.used, 0);
    CU_ASSERT_EQUAL(pool.n, COLO_POOL_ON ? 1u : 0u);
    uint8_t *b = colo_budget_alloc(&flow, COLO_POOL_BLOCK, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    memset(b, 0, COLO_POOL_BLOCK);      /* the whole block is there to use */
    if (COLO_POOL_ON)
        CU_ASSERT_PTR_EQUAL(a, b);
    CU_ASSERT_EQUAL(root.used, COLO_POOL_BLOCK);   /* charged what was asked */
    colo_budget_free(&flow, b, COLO_POOL_BLOCK);
    /* Smaller and larger ones are malloc's, never kept. */
    void *s = colo_budget_alloc(&flow, COLO_POOL_MIN - 1, &r);
    void *l = colo_budget_alloc(&flow, COLO_POOL_BLOCK + 1, &r);
    CU_ASSERT_PTR_NOT_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(l);
    colo_budget_free(&flow, s, COLO_POOL_MIN - 1);
    colo_budget_free(&flow, l, COLO_POOL_BLOCK + 1);
    CU_ASSERT_EQUAL(pool.n, COLO_POOL_ON ? 1u : 0u);
    /* It keeps COLO_POOL_KEEP at most; the rest go back to malloc. */
    for (size_t i = 0; i < COLO_POOL_KEEP + 10; i++) {
        v[i] = colo_budget_alloc(&flow, 1400, &r);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v[i]);
    }
    CU_ASSERT_EQUAL(pool.n, 0);
    CU_ASSERT_EQUAL(root.peak, (COLO_POOL_KEEP + 10) * 1400u);
    for (size_t i = 0; i < COLO_POOL_KEEP + 10; i++)
        colo_budget_free(&flow, v[i], 1400);
    CU_ASSERT_EQUAL(pool.n, COLO_POOL_ON ? COLO_POOL_KEEP : 0u);
    CU_ASSERT_EQUAL(root.used, 0);
    CU_ASSERT_EQUAL(flow.used, 0);
    /* A refused charge takes no block. */
    struct colo_budget tight = { .limit = 1000, .pool = &pool };
    unsigned kept = pool.n;
    CU_ASSERT_PTR_NULL(colo_budget_alloc(&tight, 1500, &r));
    CU_ASSERT_EQUAL(r, -ENOSPC);
    CU_ASSERT_EQUAL(pool.n, kept);
    colo_pool_drain(&pool);
    CU_ASSERT_EQUAL(pool.n, 0);
    CU_ASSERT_PTR_NULL(pool.free);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "an unmatched primary packet diverges at the timeout, via tick",
          test_timeout_via_tick },
        { "divergences in three flows: one request", test_one_request_per_episode },
        { "100,000 flows, no secondary: under the memory bound, one checkpoint",
          test_100k_flows_memory_bound },
        { "100,000 flows past the flow limit: one checkpoint", test_100k_flows_flow_limit },
        { "one flow's memory limit", test_flow_memory_limit },
        { "idle flows go, and make room when the table is full", test_idle_flows },
        { "callbacks cannot call back in", test_callbacks_cannot_reenter },
        { "bad configurations refused", test_bad_config },
        { "10,000 mutated frames: no crash, counters consistent", test_fuzz },
        { "the pool: a freed frame-sized block is the next taken, 512 kept at most",
          test_pool },
        { NULL, NULL },
    };
    return unit_run("proxy_bounds", NULL, NULL, tests);
}
