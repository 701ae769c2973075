/* test_sim.c - the sim backend against real colo-simguest processes.
 *
 * Guests start with `colo-simguest run --daemon` or the backend's
 * domain_create, in a mkdtemp run directory. This process is a child
 * subreaper, so the daemons become its children: it reaps them, proving
 * that each exited, and kills (by PID) any it started that is left. Waits
 * poll a condition under a deadline; the only fixed pauses are measurement
 * windows in which nothing may change. */
#include "config.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <CUnit/Basic.h>

#include "backend/backend.h"
#include "backend/digest.h"
#include "sim-util.h"

static colo_dom *open_dom(const char *name)
{
    colo_dom *d = NULL;
    CU_ASSERT_EQUAL(colo_be_domain_open(fx.be, name, &d, 0), 0);
    return d;
}

static uint64_t peek_count(colo_dom *d)
{
    uint64_t n = UINT64_MAX;
    CU_ASSERT_EQUAL(colo_be_logdirty_peek(fx.be, d, NULL, 0, &n, 0), 0);
    return n;
}

/* Poll until the dirty count reaches at least n (bounded). */
static bool wait_dirty(colo_dom *d, uint64_t n)
{
    uint64_t end = colo_deadline_ms(WAIT_MS);
    uint64_t c;
    do {
        if (colo_be_logdirty_peek(fx.be, d, NULL, 0, &c, 0) == 0 && c >= n)
            return true;
        window_ms(2);
    } while (!colo_deadline_passed(end));
    return false;
}

static uint64_t popcount(const unsigned long *b, uint64_t nbits)
{
    uint64_t n = 0;
    for (size_t i = 0; i < DIV_ROUND_UP(nbits, BPL); i++)
        n += (uint64_t)__builtin_popcountl(b[i]);
    return n;
}

static bool sock_exists(const char *name, const char *ext)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/sim/%s.%s", fx.dir, name, ext);
    return access(p, F_OK) == 0;
}

/* --- tests; they share guests A (web, 2 vCPUs) and B (A's secondary) --- */

static colo_dom *dA, *dB;
static pid_t pidA;

static void test_pause_stops_dirtying(void)
{
    struct sim_info i1, i2;
    struct colo_domain_info di;

    pidA = start_guest("A", "--mem", "32M", "--vcpus", "2", "--workload", "web", "--seed", "3");
    CU_ASSERT_FATAL(pidA > 0);
    dA = open_dom("A");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
    CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, dA, &di, 0), 0);
    CU_ASSERT_EQUAL(di.domid, (uint32_t)pidA);
    CU_ASSERT_EQUAL(di.nr_pages, 8192);
    CU_ASSERT_EQUAL(di.nr_vcpus, 2);
    CU_ASSERT_EQUAL(di.type, COLO_DOM_PVH);
    CU_ASSERT_FALSE(di.paused);
    CU_ASSERT_FALSE(di.shutdown);

    CU_ASSERT_EQUAL(colo_be_logdirty_enable(fx.be, dA, 0), 0);
    CU_ASSERT_TRUE(wait_dirty(dA, 20));
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, dA, COLO_PAUSE_CHECKPOINT), 0);
    CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, dA, &di, 0), 0);
    CU_ASSERT_TRUE(di.paused);
    uint64_t c1 = peek_count(dA);
    CU_ASSERT_EQUAL_FATAL(raw_info("A", &i1), 0);
    window_ms(150); /* web: ~1500 touches if anything ran */
    uint64_t c2 = peek_count(dA);
    CU_ASSERT_EQUAL_FATAL(raw_info("A", &i2), 0);
    CU_ASSERT_EQUAL(c1, c2);
    CU_ASSERT_EQUAL(i1.counters[0], i2.counters[0]);
    CU_ASSERT_EQUAL(i1.counters[1], i2.counters[1]);
    CU_ASSERT_EQUAL(i1.ticks, i2.ticks);

    /* Cleaned while paused, it stays empty; unpaused, it fills again. */
    unsigned long *bm = calloc(DIV_ROUND_UP(8192, BPL), sizeof(long));
    uint64_t n;
    CU_ASSERT_EQUAL(colo_be_logdirty_clean(fx.be, dA, bm, 8192, &n, 0), 0);
    window_ms(50);
    CU_ASSERT_EQUAL(peek_count(dA), 0);
    CU_ASSERT_EQUAL(colo_be_unpause(fx.be, dA, 0), 0);
    CU_ASSERT_TRUE(wait_dirty(dA, 1));
    CU_ASSERT_EQUAL_FATAL(raw_info("A", &i2), 0);
    CU_ASSERT_TRUE(i2.counters[0] > i1.counters[0] || i2.counters[1] > i1.counters[1]);
    free(bm);
}

static void test_peek_leaves_clean_clears(void)
{
    size_t words = DIV_ROUND_UP(8192, BPL);
    unsigned long *b1 = calloc(words, sizeof(long)), *b2 = calloc(words, sizeof(long));
    unsigned long *b3 = calloc(words, sizeof(long));
    uint64_t c1, c2, c3;

    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
    CU_ASSERT_TRUE(wait_dirty(dA, 10));
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, dA, 0), 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_peek(fx.be, dA, b1, 8192, &c1, 0), 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_peek(fx.be, dA, b2, 8192, &c2, 0), 0);
    CU_ASSERT(c1 >= 10);
    CU_ASSERT_EQUAL(c1, popcount(b1, 8192));
    CU_ASSERT_EQUAL(c1, c2);
    CU_ASSERT_EQUAL(memcmp(b1, b2, words * sizeof(long)), 0);
    /* web: the dirty pages lie in its hot set, 2% of the guest */
    for (uint64_t pfn = 163; pfn < 8192; pfn++)
        CU_ASSERT_FALSE_FATAL(b1[pfn / BPL] & (1ul << (pfn % BPL)));

    CU_ASSERT_EQUAL(colo_be_logdirty_clean(fx.be, dA, b3, 8192, &c3, 0), 0);
    CU_ASSERT_EQUAL(c3, c1);
    CU_ASSERT_EQUAL(memcmp(b1, b3, words * sizeof(long)), 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_peek(fx.be, dA, b2, 8192, &c2, 0), 0);
    CU_ASSERT_EQUAL(c2, 0);
    CU_ASSERT_EQUAL(popcount(b2, 8192), 0);
    CU_ASSERT_EQUAL(peek_count(dA), 0);

    /* A shorter bitmap gets nr_pages bits and not one more. */
    memset(b2, 0xff, words * sizeof(long));
    CU_ASSERT_EQUAL(colo_be_logdirty_peek(fx.be, dA, b2, 100, &c2, 0), 0);
    CU_ASSERT_EQUAL(b2[1] >> (100 - BPL), 0);
    CU_ASSERT_EQUAL(b2[2], ~0ul); /* beyond the caller's words: untouched */

    /* The guest refuses a second enable with EINVAL, as Xen does. */
    static struct sim_rsp rsp;
    char msg[SIM_MSG_MAX];
    CU_ASSERT_EQUAL(raw_op("A", SIM_OP_LOGDIRTY_ENABLE, 0, &rsp), -EINVAL);
    CU_ASSERT_STRING_EQUAL(sim_rsp_msg(&rsp, msg, sizeof(msg)), "log-dirty is already enabled");
    CU_ASSERT_EQUAL(colo_be_logdirty_off(fx.be, dA, 0), 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_enable(fx.be, dA, 0), 0);
    CU_ASSERT_EQUAL(colo_be_unpause(fx.be, dA, 0), 0);
    free(b1);
    free(b2);
    free(b3);
}

static void test_count_is_popcount(void)
{
    unsigned long *b = calloc(DIV_ROUND_UP(8192, BPL), sizeof(long));
    uint64_t c, total = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
    /* Running: CLEANs racing the vCPUs, 50 of them and then on until the
     * vCPUs have dirtied something (on a loaded machine they may not have
     * run at all in 50 ms). */
    uint64_t end = colo_deadline_ms(WAIT_MS);
    for (int i = 0; i < 50 || (total == 0 && !colo_deadline_passed(end)); i++) {
        CU_ASSERT_EQUAL_FATAL(colo_be_logdirty_clean(fx.be, dA, b, 8192, &c, 0), 0);
        CU_ASSERT_EQUAL(c, popcount(b, 8192));
        total += c;
        window_ms(1);
    }
    CU_ASSERT(total > 0);
    free(b);
}

static void test_context_continues(void)
{
    struct colo_domain_config cfg;
    struct colo_domain_info di;
    struct sim_info ia, ib;
    void *extra = NULL;
    uint8_t *ctx = NULL, *ctx2 = NULL, *dev = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, dA, 0), 0);
    ssize_t len = colo_be_context_get(fx.be, dA, &ctx, 0);
    CU_ASSERT_EQUAL_FATAL(len, (ssize_t)SIM_CTX_SIZE(2));
    ssize_t dlen = colo_be_devstate_save(fx.be, dA, &dev, 0);
    CU_ASSERT_EQUAL(dlen, (ssize_t)sizeof(struct sim_devstate));

    CU_ASSERT_EQUAL_FATAL(colo_be_domain_config(fx.be, dA, &cfg, &extra, 0), 0);
    snprintf(cfg.name, sizeof(cfg.name), "B");
    CU_ASSERT_EQUAL_FATAL(colo_be_domain_create(fx.be, &cfg, &dB, COLO_CREATE_PAUSED), 0);
    free(extra);
    CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, dB, &di, 0), 0);
    track((pid_t)di.domid);
    CU_ASSERT_TRUE(di.paused);
    CU_ASSERT_EQUAL(di.nr_pages, 8192);
    CU_ASSERT_EQUAL(di.nr_vcpus, 2);

    /* No context yet: it cannot run, and has none to give. */
    fx.lg.errors = 0;
    CU_ASSERT_EQUAL(colo_be_unpause(fx.be, dB, 0), -EINVAL);
    CU_ASSERT_EQUAL(colo_be_context_get(fx.be, dB, &ctx2, 0), -ENODATA);
    CU_ASSERT_EQUAL(fx.lg.errors, 2);

    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, ctx, (size_t)len, 0), 0);
    CU_ASSERT_EQUAL(colo_be_devstate_load(fx.be, dB, dev, (size_t)dlen, 0), 0);
    CU_ASSERT_EQUAL_FATAL(raw_info("A", &ia), 0);
    CU_ASSERT_EQUAL_FATAL(raw_info("B", &ib), 0);
    CU_ASSERT_EQUAL(ib.counters[0], ia.counters[0]);
    CU_ASSERT_EQUAL(ib.counters[1], ia.counters[1]);
    CU_ASSERT_EQUAL(ib.ticks, ia.ticks);
    CU_ASSERT_EQUAL(ib.workload, SIM_WL_WEB);
    CU_ASSERT_EQUAL(ib.seed, 3);
    CU_ASSERT_EQUAL_FATAL(colo_be_context_get(fx.be, dB, &ctx2, 0), len);
    CU_ASSERT_EQUAL(memcmp(ctx, ctx2, (size_t)len), 0);

    /* Unpaused, B's counters move on from A's. */
    CU_ASSERT_EQUAL(colo_be_unpause(fx.be, dB, 0), 0);
    uint64_t end = colo_deadline_ms(WAIT_MS);
    do {
        CU_ASSERT_EQUAL_FATAL(raw_info("B", &ib), 0);
        if (ib.counters[0] > ia.counters[0] && ib.counters[1] > ia.counters[1])
            break;
        window_ms(2);
    } while (!colo_deadline_passed(end));
    CU_ASSERT(ib.counters[0] > ia.counters[0] && ib.counters[1] > ia.counters[1]);
    CU_ASSERT(ib.counters[0] < ia.counters[0] + 1000000); /* from there, not from 0 */
    CU_ASSERT(ib.ticks > ia.ticks);
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, dB, 0), 0);
    free(ctx);
    free(ctx2);
    free(dev);
}

static void test_map(void)
{
    uint64_t pfns[] = { 0, 8191, 8192, 9000, UINT64_MAX };
    void *pages[5];
    int err[5];
    colo_mapping *m = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
    CU_ASSERT_EQUAL(colo_be_map(fx.be, dA, pfns, 5, PROT_READ, pages, err, &m, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(pages[0]);
    CU_ASSERT_PTR_NOT_NULL(pages[1]);
    CU_ASSERT_EQUAL(err[0], 0);
    CU_ASSERT_EQUAL(err[1], 0);
    for (int i = 2; i < 5; i++) {
        CU_ASSERT_PTR_NULL(pages[i]);
        CU_ASSERT_EQUAL(err[i], -EINVAL);
    }
    volatile uint8_t x = *(uint8_t *)pages[0]; /* readable (in the hot set: no new page) */
    (void)x;
    /* A read map is read-only: a stray write faults. */
    pid_t c = fork();
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL); /* a sanitizer's handler would exit instead */
        *(volatile uint8_t *)pages[0] = 1;
        _exit(0);
    }
    int st = reap(c, WAIT_MS);
    CU_ASSERT_TRUE(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    colo_be_unmap(fx.be, dA, m);
}

static void test_copy_gives_equal_digests(void)
{
    uint64_t nr = 8192, c, pfns[1024], pfn = 0;
    unsigned long *bm = calloc(DIV_ROUND_UP(nr, BPL), sizeof(long));
    unsigned long *bmb = calloc(DIV_ROUND_UP(nr, BPL), sizeof(long));
    uint8_t da[32], db[32], ga[32], gb[32], *ctx = NULL, *dev = NULL;
    colo_backend_ops generic_ops;
    colo_backend generic;
    char hex[65], out[256], want[80];

    CU_ASSERT_PTR_NOT_NULL_FATAL(dB);
    /* A paused, B paused: every page A dirtied since enable goes across. */
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, dA, 0), 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_off(fx.be, dA, 0), 0);
    /* A full copy: every page either guest holds (B ran on its own for a
     * while: its writes must go too). */
    CU_ASSERT_EQUAL_FATAL(colo_be_populated(fx.be, dA, bm, nr, 0), 0);
    c = popcount(bm, nr);
    CU_ASSERT(c > 0 && c <= 163); /* web: its hot set only */
    CU_ASSERT_EQUAL_FATAL(colo_be_populated(fx.be, dB, bmb, nr, 0), 0);
    CU_ASSERT(popcount(bmb, nr) > 0);
    for (size_t i = 0; i < DIV_ROUND_UP(nr, BPL); i++)
        bm[i] |= bmb[i];
    while (pfn < nr) {
        void *src[1024], *dst[1024];
        int es[1024], ed[1024];
        unsigned n = 0;
        colo_mapping *ms = NULL, *md = NULL;
        for (; pfn < nr && n < 1024; pfn++)
            if (bm[pfn / BPL] & (1ul << (pfn % BPL)))
                pfns[n++] = pfn;
        if (!n)
            break;
        CU_ASSERT_EQUAL_FATAL(colo_be_map(fx.be, dA, pfns, n, PROT_READ, src, es, &ms, 0), 0);
        CU_ASSERT_EQUAL_FATAL(colo_be_map(fx.be, dB, pfns, n, PROT_READ | PROT_WRITE, dst, ed, &md, 0), 0);
        for (unsigned i = 0; i < n; i++)
            memcpy(dst[i], src[i], COLO_PAGE_SIZE);
        colo_be_unmap(fx.be, dA, ms);
        colo_be_unmap(fx.be, dB, md);
    }
    CU_ASSERT_EQUAL(colo_be_digest(fx.be, dB, db, 0), 0); /* B still has its old context */
    CU_ASSERT_EQUAL(colo_be_digest(fx.be, dA, da, 0), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(da, db, 32), 0);
    ssize_t len = colo_be_context_get(fx.be, dA, &ctx, 0);
    CU_ASSERT_FATAL(len > 0);
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, ctx, (size_t)len, 0), 0);
    ssize_t dlen = colo_be_devstate_save(fx.be, dA, &dev, 0);
    CU_ASSERT_EQUAL(colo_be_devstate_load(fx.be, dB, dev, (size_t)dlen, 0), 0);

    CU_ASSERT_EQUAL(colo_be_digest(fx.be, dA, da, 0), 0);
    CU_ASSERT_EQUAL(colo_be_digest(fx.be, dB, db, 0), 0);
    CU_ASSERT_EQUAL(memcmp(da, db, 32), 0);
    /* The generic path (map + context_get) agrees with the guest's own. */
    generic_ops = colo_backend_sim_ops;
    generic_ops.digest = NULL;
    generic = *fx.be;
    generic.ops = &generic_ops;
    CU_ASSERT_EQUAL(colo_be_digest(&generic, dA, ga, 0), 0);
    CU_ASSERT_EQUAL(colo_be_digest(&generic, dB, gb, 0), 0);
    CU_ASSERT_EQUAL(memcmp(da, ga, 32), 0);
    CU_ASSERT_EQUAL(memcmp(db, gb, 32), 0);
    /* ...and so does `colo-simguest hash`. */
    colo_digest_hex(da, hex);
    snprintf(want, sizeof(want), "digest %s\n", hex);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "hash", "--rundir", fx.dir, "--name", "B", NULL), 0);
    CU_ASSERT_STRING_EQUAL(out, want);
    free(bm);
    free(bmb);
    free(ctx);
    free(dev);
}

static void test_bad_context_refused(void)
{
    uint8_t *ctx = NULL, *after = NULL;
    uint8_t bad[SIM_CTX_SIZE(3) + 8];
    struct sim_ctx_hdr h;

    CU_ASSERT_PTR_NOT_NULL_FATAL(dB);
    ssize_t len = colo_be_context_get(fx.be, dB, &ctx, 0);
    CU_ASSERT_FATAL(len == (ssize_t)SIM_CTX_SIZE(2));
    fx.lg.errors = 0;

    memcpy(bad, ctx, (size_t)len);
    bad[0] ^= 1; /* magic */
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, bad, (size_t)len, 0), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.lg.last, "magic"));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.lg.last, "sim B: context set"));
    memcpy(&h, ctx, sizeof(h));
    h.nr_vcpus = htole32(3); /* the vCPU count */
    memcpy(bad, &h, sizeof(h));
    memset(bad + sizeof(h), 0, sizeof(bad) - sizeof(h));
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, bad, SIM_CTX_SIZE(3), 0), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.lg.last, "3 vCPUs"));
    memcpy(&h, ctx, sizeof(h));
    h.version = htole32(99);
    memcpy(bad, &h, sizeof(h));
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, bad, (size_t)len, 0), -EINVAL);
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, ctx, (size_t)len - 8, 0), -EINVAL);
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, ctx, 4, 0), -EINVAL);
    CU_ASSERT_EQUAL(colo_be_context_set(fx.be, dB, ctx, SIM_DATA_MAX + 1, 0), -E2BIG);
    CU_ASSERT_EQUAL(colo_be_devstate_load(fx.be, dB, ctx, 16, 0), -EINVAL);
    CU_ASSERT_EQUAL(fx.lg.errors, 7);

    /* Refused means untouched, and the guest is fine. */
    CU_ASSERT_EQUAL(colo_be_context_get(fx.be, dB, &after, 0), len);
    CU_ASSERT_EQUAL(memcmp(ctx, after, (size_t)len), 0);
    free(ctx);
    free(after);
}

static void test_guest_death_is_esrch(void)
{
    struct colo_domain_info di;
    uint64_t pfn = 0;
    void *page;
    int err;
    colo_mapping *m;

    pid_t pid = start_guest("E", "--mem", "16M", "--workload", "memstress");
    CU_ASSERT_FATAL(pid > 0);
    colo_dom *d = open_dom("E");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    kill(pid, SIGKILL);
    CU_ASSERT(reap(pid, WAIT_MS) >= 0);
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, d, 0), -ESRCH);
    CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, d, &di, 0), 0);
    CU_ASSERT_TRUE(di.shutdown);
    CU_ASSERT_EQUAL(colo_be_map(fx.be, d, &pfn, 1, PROT_READ, &page, &err, &m, 0), -ESRCH);
    CU_ASSERT_EQUAL(colo_be_domain_destroy(fx.be, d, 0), 0);
    colo_be_domain_close(fx.be, d);
    /* A SIGKILLed guest leaves its files; the next of that name takes over. */
    pid = start_guest("E", "--mem", "16M");
    CU_ASSERT_FATAL(pid > 0);
    d = open_dom("E");
    CU_ASSERT_EQUAL(colo_be_domain_destroy(fx.be, d, 0), 0);
    CU_ASSERT_EQUAL(reap(pid, WAIT_MS), 0);
    colo_be_domain_close(fx.be, d);
}

/* What the toolstack does at a checkpoint, in a child that is SIGKILLed
 * while the guest is stopped. */
static void stop_and_die(const char *name)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    colo_backend *be = NULL;
    colo_dom *d = NULL;

    if (colo_backend_open(ctx, &fx.params, 0, &be) == 0 &&
        colo_be_domain_open(be, name, &d, 0) == 0 && colo_be_logdirty_enable(be, d, 0) == 0 &&
        colo_be_pause(be, d, COLO_PAUSE_CHECKPOINT) == 0)
        raise(SIGKILL);
    _exit(1);
}

static void test_killed_toolstack_undone(void)
{
    struct sim_info in = { .flags = 0 };
    uint64_t before;

    pid_t gpid = start_guest("K", "--mem", "16M", "--workload", "memstress");
    CU_ASSERT_FATAL(gpid > 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        stop_and_die("K");
    int st = reap(pid, WAIT_MS);
    CU_ASSERT_FATAL(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* Left stopped for a checkpoint, with log-dirty on. */
    CU_ASSERT_EQUAL_FATAL(raw_info("K", &in), 0);
    CU_ASSERT_EQUAL(in.flags & (SIM_INFO_PAUSED | SIM_INFO_CKPT_STOP | SIM_INFO_LOGDIRTY),
                    SIM_INFO_PAUSED | SIM_INFO_CKPT_STOP | SIM_INFO_LOGDIRTY);
    before = in.counters[0];

    /* The next protection undoes both, with a warning for each: recover
     * restarts the guest, log-dirty enable resets the log. */
    colo_dom *d = open_dom("K");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    fx.lg.errors = 0;
    CU_ASSERT_EQUAL(colo_be_recover(fx.be, d, 0), 0);
    CU_ASSERT_STRING_EQUAL(fx.lg.last, "sim K: was left stopped (pause) by an xl-colo that did "
                                       "not finish its checkpoint; restarting it");
    CU_ASSERT_EQUAL_FATAL(raw_info("K", &in), 0);
    CU_ASSERT_EQUAL(in.flags & (SIM_INFO_PAUSED | SIM_INFO_CKPT_STOP), 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_enable(fx.be, d, 0), 0);
    CU_ASSERT_STRING_EQUAL(fx.lg.last, "sim K: log-dirty was left on; turning it off and on again");
    CU_ASSERT_EQUAL(fx.lg.errors, 0);
    CU_ASSERT_TRUE(wait_dirty(d, 1));  /* the vCPUs run again */
    CU_ASSERT_EQUAL_FATAL(raw_info("K", &in), 0);
    CU_ASSERT(in.counters[0] > before);
    /* Nothing left to recover: silent. */
    fx.lg.last[0] = '\0';
    CU_ASSERT_EQUAL(colo_be_recover(fx.be, d, 0), 0);
    CU_ASSERT_STRING_EQUAL(fx.lg.last, "");
    /* A checkpoint stop is recorded until its unpause, and only until. */
    CU_ASSERT_EQUAL(colo_be_pause(fx.be, d, COLO_PAUSE_CHECKPOINT), 0);
    CU_ASSERT_EQUAL(raw_info("K", &in), 0);
    CU_ASSERT_NOT_EQUAL(in.flags & SIM_INFO_CKPT_STOP, 0);
    CU_ASSERT_EQUAL(colo_be_unpause(fx.be, d, COLO_PAUSE_CHECKPOINT), 0);
    CU_ASSERT_EQUAL(raw_info("K", &in), 0);
    CU_ASSERT_EQUAL(in.flags & SIM_INFO_CKPT_STOP, 0);
    CU_ASSERT_EQUAL(colo_be_logdirty_off(fx.be, d, 0), 0);
    CU_ASSERT_EQUAL(colo_be_domain_destroy(fx.be, d, 0), 0);
    CU_ASSERT_EQUAL(reap(gpid, WAIT_MS), 0);
    colo_be_domain_close(fx.be, d);
}

static void test_create_existing_name(void)
{
    struct colo_domain_config cfg;
    void *extra = NULL;
    colo_dom *d = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
    CU_ASSERT_EQUAL_FATAL(colo_be_domain_config(fx.be, dA, &cfg, &extra, 0), 0);
    CU_ASSERT_EQUAL(colo_be_domain_create(fx.be, &cfg, &d, 0), -EEXIST);
    snprintf(cfg.name, sizeof(cfg.name), "F");
    /* A flag it does not know, or a random-reply rate with no NIC or past
     * a million, is refused before anything runs. */
    struct sim_config *sc = extra;
    sc->flags = htole32(0x2);
    CU_ASSERT_EQUAL(colo_be_domain_create(fx.be, &cfg, &d, 0), -EINVAL);
    sc->flags = 0;
    sc->nic_random_ppm = htole32(10);
    CU_ASSERT_EQUAL(colo_be_domain_create(fx.be, &cfg, &d, 0), -EINVAL);
    sc->flags = htole32(SIM_CFG_NIC);
    sc->nic_random_ppm = htole32(1000001);
    CU_ASSERT_EQUAL(colo_be_domain_create(fx.be, &cfg, &d, 0), -EINVAL);
    CU_ASSERT_FALSE(sock_exists("F", "sock"));
    cfg.extra_len--; /* a torn configuration is refused before anything runs */
    CU_ASSERT_EQUAL(colo_be_domain_create(fx.be, &cfg, &d, 0), -EINVAL);
    CU_ASSERT_FALSE(sock_exists("F", "sock"));
    free(extra);
}

/* Every op checks its flags with COLO_CHECK_FLAGS: -EINVAL and one line of
 * one shape, naming the op and the unknown bits only. */
static void test_unknown_flags(void)
{
    const unsigned bad = 1u << 7;
    unsigned long bm[4] = { 0 };
    uint64_t pfn = 0, n = 0;
    void *page = NULL;
    int err = 0;
    uint8_t *buf = NULL, dg[32];
    struct colo_domain_info di;
    struct colo_domain_config cfg = { .nr_pages = 1, .nr_vcpus = 1 };
    colo_mapping *m = NULL;
    colo_dom *d = NULL;
    void *extra = NULL;
    char want[80];

    CU_ASSERT_PTR_NOT_NULL_FATAL(dA);
#define REFUSED(call, what)                                                     \
    do {                                                                        \
        CU_ASSERT_EQUAL(call, -EINVAL);                                         \
        snprintf(want, sizeof(want), "sim backend: %s: unknown flags 0x80", what); \
        CU_ASSERT_STRING_EQUAL(fx.lg.last, want);                               \
    } while (0)
    REFUSED(colo_be_domain_open(fx.be, "A", &d, bad), "domain_open");
    REFUSED(colo_be_domain_create(fx.be, &cfg, &d, bad | COLO_CREATE_PAUSED), "domain_create");
    REFUSED(colo_be_domain_config(fx.be, dA, &cfg, &extra, bad), "domain_config");
    REFUSED(colo_be_domain_destroy(fx.be, dA, bad), "domain_destroy");
    REFUSED(colo_be_domain_info(fx.be, dA, &di, bad), "domain_info");
    REFUSED(colo_be_pause(fx.be, dA, bad | COLO_PAUSE_CHECKPOINT), "pause");
    REFUSED(colo_be_unpause(fx.be, dA, bad), "unpause");
    REFUSED(colo_be_recover(fx.be, dA, bad), "recover");
    REFUSED(colo_be_logdirty_enable(fx.be, dA, bad), "logdirty_enable");
    REFUSED(colo_be_logdirty_off(fx.be, dA, bad), "logdirty_off");
    REFUSED(colo_be_logdirty_peek(fx.be, dA, NULL, 0, &n, bad), "logdirty_peek");
    REFUSED(colo_be_logdirty_clean(fx.be, dA, bm, 64, &n, bad), "logdirty_clean");
    REFUSED(colo_be_map(fx.be, dA, &pfn, 1, PROT_READ, &page, &err, &m, bad), "map");
    REFUSED((int)colo_be_context_get(fx.be, dA, &buf, bad), "context_get");
    REFUSED(colo_be_context_set(fx.be, dA, dg, sizeof(dg), bad), "context_set");
    REFUSED((int)colo_be_devstate_save(fx.be, dA, &buf, bad), "devstate_save");
    REFUSED(colo_be_devstate_load(fx.be, dA, dg, sizeof(dg), bad), "devstate_load");
    REFUSED(colo_be_digest(fx.be, dA, dg, bad), "digest");
    REFUSED(colo_be_populated(fx.be, dA, bm, 64, bad), "populated");
#undef REFUSED
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_PTR_NULL(buf);
    CU_ASSERT_PTR_NULL(extra);
    /* Nothing was done: the guest still answers, running. */
    CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, dA, &di, 0), 0);
    CU_ASSERT_FALSE(di.shutdown);
}

static void test_destroy_leaves_nothing(void)
{
    struct colo_domain_info di;
    const char *names[] = { "A", "B" };
    colo_dom *doms[] = { dA, dB };

    for (int i = 0; i < 2; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(doms[i]);
        CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, doms[i], &di, 0), 0);
        CU_ASSERT_EQUAL(colo_be_domain_destroy(fx.be, doms[i], 0), 0);
        CU_ASSERT_EQUAL(reap((pid_t)di.domid, WAIT_MS), 0); /* exited, status 0 */
        CU_ASSERT_FALSE(sock_exists(names[i], "sock"));
        CU_ASSERT_FALSE(sock_exists(names[i], "pid"));
        CU_ASSERT_EQUAL(colo_be_domain_info(fx.be, doms[i], &di, 0), 0);
        CU_ASSERT_TRUE(di.shutdown);
        colo_be_domain_close(fx.be, doms[i]);
    }
    dA = dB = NULL;
}

static void test_cli(void)
{
    char out[2048];

    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--name", "x", "--mem", "8M", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "16M..16G"));
    CU_ASSERT_EQUAL(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--name", "x", "--mem", "17G", NULL), 1);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--name", "x", "--bogus", NULL), 2);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--mem", "64M", NULL), 2);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "frobnicate", NULL), 2);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "info", "--rundir", fx.dir, "--name", "nobody", NULL), 1);
    CU_ASSERT_EQUAL(strchr(out, '\n'), out + strlen(out) - 1);

    pid_t pid = start_guest("G", "--mem", "16M", "--vcpus", "3", "--paused");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--daemon", "--rundir", fx.dir, "--name", "G", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "already running"));
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "info", "--rundir", fx.dir, "--name", "G", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "paused: yes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "pages: 4096"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "vcpu2 counter: 0"));
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "unpause", "--rundir", fx.dir, "--name", "G", NULL), 0);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "info", "--rundir", fx.dir, "--name", "G", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "paused: no"));
    /* SIGTERM: a clean exit, files removed */
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(reap(pid, WAIT_MS), 0);
    CU_ASSERT_FALSE(sock_exists("G", "sock"));
    CU_ASSERT_FALSE(sock_exists("G", "pid"));

    /* --nic: its socket, its info lines; gone at exit. Bad values: one line. */
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--name", "x", "--nic", "--nic-random", "1000001",
                       NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--nic-random 1000001: must be 0..1000000"));
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "run", "--name", "x", "--nic-random", "5", NULL), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--nic-random needs --nic"));
    pid = start_guest("N", "--mem", "16M", "--nic", "--nic-random", "250");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_TRUE(sock_exists("N", "nic"));
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "info", "--rundir", fx.dir, "--name", "N", NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nic: random 250 ppm\nnic received: 0\nnic refused: 0 (peers 0)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "nic next seq: 1\n"));
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(reap(pid, WAIT_MS), 0);
    CU_ASSERT_FALSE(sock_exists("N", "nic"));

    pid = start_guest("H", "--mem", "16M", "--incoming");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "unpause", "--rundir", fx.dir, "--name", "H", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no context"));
    CU_ASSERT_EQUAL(sg(out, sizeof(out), "destroy", "--rundir", fx.dir, "--name", "H", NULL), 0);
    CU_ASSERT_EQUAL(reap(pid, WAIT_MS), 0);
    CU_ASSERT_FALSE(sock_exists("H", "sock"));
    CU_ASSERT_FALSE(sock_exists("H", "pid"));
}

/* --- fixture --- */

static int suite_clean(void)
{
    if (dA)
        colo_be_domain_close(fx.be, dA);
    if (dB)
        colo_be_domain_close(fx.be, dB);
    sim_fixture_fini();
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "pause stops dirtying", test_pause_stops_dirtying },
        { "PEEK leaves the log, CLEAN clears it", test_peek_leaves_clean_clears },
        { "dirty count is the bitmap's popcount", test_count_is_popcount },
        { "context set: the secondary continues", test_context_continues },
        { "map: out of range is -EINVAL, read-only faults", test_map },
        { "copy pages + context: digests equal", test_copy_gives_equal_digests },
        { "a malformed context is refused", test_bad_context_refused },
        { "a dead guest gives -ESRCH", test_guest_death_is_esrch },
        { "a toolstack killed mid-checkpoint is undone", test_killed_toolstack_undone },
        { "create: existing name, torn config", test_create_existing_name },
        { "every op refuses unknown flags, in one shape", test_unknown_flags },
        { "destroy leaves nothing behind", test_destroy_leaves_nothing },
        { "command line", test_cli },
        { NULL, NULL },
    };
    return unit_run("sim", sim_fixture_init, suite_clean, tests);
}
