/*
 * xen-backend-check - drive colo_backend_xen_ops directly, inside the test
 * dom0 of the real-Xen harness (tests/xen/run.sh). Not an engine: it plays
 * the engine's part on one host, with the secondary domain built by the
 * backend itself, to prove the backend on a real hypervisor.
 *
 *   xen-backend-check run DOMAIN [ROUNDS [INTERVAL_MS]]
 *       domain_config + domain_create (the secondary, paused); stop the
 *       primary, log-dirty on, copy every frame, context and device state;
 *       then ROUNDS checkpoints: stop, CLEAN, copy the dirty frames, context,
 *       device state, compare the two digests (digest.h), restart. Then fail
 *       over (destroy the primary, run the secondary) and check the guest's
 *       counter moves on; then the log-dirty-left-on recovery.
 *   xen-backend-check counter DOMAIN [PFN]
 *       print the guest's counter: tinypvh's u64 at pfn 0x300 (after its
 *       magic), or the u32 at offset 0 of PFN.
 *   xen-backend-check refuse DOMAIN
 *       exit 0 when the backend refuses the domain (a PV guest).
 *   xen-backend-check qmp DOMAIN COMMAND
 *       exit 0 when the domain's device model answers COMMAND over QMP.
 *   xen-backend-check watch DOMAIN SECONDS NAME [SKIP]
 *       sample the domain's state every millisecond and report, as figures
 *       NAME.*, the intervals it was stopped (paused or suspended): how
 *       another toolstack's checkpoints (xl remus) look from outside. With
 *       SKIP, the first SKIP stops (an initial sync's) are left out and the
 *       SECONDS start after them.
 *   xen-backend-check logdirty DOMAIN
 *       print "off" when log-dirty is off on the domain (a raw ENABLE
 *       succeeds, and is undone at once), "on" when it was left on (ENABLE
 *       fails with EINVAL); exit 0 for off, 1 for on, 2 on error.
 *
 *   xen-backend-check stress DOMAIN OP N GAP_MS [paused]
 *       raw libxenctrl, no engine: N times OP on the running guest, GAP_MS
 *       apart; OP is toggle (log-dirty ENABLE then OFF), clean, peek, or a
 *       checkpoint's shape: cleanmap-early / cleanmap-late (pause, CLEAN,
 *       map and read 1024 frames, unpause; unmapped before or after the
 *       unpause). Stops when the guest dies, and says after how many.
 *   xen-backend-check unix-get PATH
 *       print what a unix socket's server sends before it closes (up to
 *       64 KiB, in 5 s): the proxy's status line in the net-linux step,
 *       where `xl-colo status` waits for the primary, and the primary for
 *       the secondary's acknowledgement (dom0 has no other unix client).
 *
 * Results are lines "XCOLO: PASS|FAIL|FIGURE|INFO ..." on stdout.
 */
#include "config.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <xentoollog.h>

#include "backend/backend.h"
#include "colo-internal.h"
#include "backend/digest.h"
#include "backend/xen/xen_priv.h"
#include "macro.h"
#include "unix_sock.h"

#define BATCH 1024
#define TINYPVH_COUNTER_PFN 0x300
#define TINYPVH_MAGIC 0x56505843u
#define TINYPVH_DIRTY_FIRST 0x400
#define TINYPVH_DIRTY_END 0xc00

static const char *tname = "backend";
static int failures;

#define RESULT(kind, ...)                                   \
    do {                                                    \
        printf("XCOLO: " kind " %s ", tname);               \
        printf(__VA_ARGS__);                                \
        printf("\n");                                       \
    } while (0)
#define PASS(...) RESULT("PASS", __VA_ARGS__)
#define FAIL(...) do { failures++; RESULT("FAIL", __VA_ARGS__); } while (0)
#define INFO(...) do { printf("XCOLO: INFO "); printf(__VA_ARGS__); printf("\n"); } while (0)
#define FIGURE(name, fmt, val, unit) \
    printf("XCOLO: FIGURE %s.%s " fmt " %s\n", tname, name, val, unit)

static double now_ms(void) { return (double)colo_now_ns() / COLO_NS_PER_MS; }

struct side {
    colo_backend *be;
    colo_dom *d;
};

static int open_backend(libxlcolo_ctx **ctx, colo_backend **be)
{
    static xentoollog_logger_stdiostream *lg;
    if (!lg)
        lg = xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
    int r = libxlcolo_ctx_alloc(ctx, LIBXLCOLO_VERSION, 0, (xentoollog_logger *)lg);
    if (r < 0)
        return r;
    /* As xl-colo does: $XLCOLO_XEN_STOP (or the old $LIBXLCOLO_XEN_STOP)
     * pause|suspend overrides how a checkpoint stops the guest. */
    const char *stop = getenv("XLCOLO_XEN_STOP");
    if (!stop || !*stop)
        stop = getenv("LIBXLCOLO_XEN_STOP");
    struct colo_backend_params p = {
        .name = "xen",
        .run_dir = "/run",
        .xen_stop = !stop ? LIBXLCOLO_XEN_STOP_AUTO
                    : strcmp(stop, "pause") == 0 ? LIBXLCOLO_XEN_STOP_PAUSE
                    : strcmp(stop, "suspend") == 0 ? LIBXLCOLO_XEN_STOP_SUSPEND
                    : LIBXLCOLO_XEN_STOP_AUTO,
    };
    return colo_backend_open(*ctx, &p, 0, be);
}

/* A domain opened through the backend, for the one-shot commands. */
struct session {
    libxlcolo_ctx *ctx;
    colo_backend *be;
    colo_dom *d;
};

/* 0, or the backend's -errno (the domain's when the backend opened). */
static int session_open(struct session *s, const char *name)
{
    *s = (struct session){ 0 };
    int r = open_backend(&s->ctx, &s->be);
    return r < 0 ? r : colo_be_domain_open(s->be, name, &s->d, 0);
}

static void session_close(struct session *s)
{
    colo_be_domain_close(s->be, s->d);
    colo_backend_close(s->be);
    libxlcolo_ctx_free(s->ctx);
}

/* ------------------------------------------------------------ bitmaps */

#define WORD_BITS (8 * sizeof(unsigned long))
static bool test_bit(const unsigned long *b, uint64_t n) { return b[n / WORD_BITS] >> (n % WORD_BITS) & 1; }
static void set_bit(unsigned long *b, uint64_t n) { b[n / WORD_BITS] |= 1UL << (n % WORD_BITS); }

/* ------------------------------------------------------------ copying */

struct copy_stats {
    uint64_t copied, fail_src, fail_dst;
};

/* Copy the listed frames primary -> secondary; mark the copied in present. */
static int copy_frames(colo_backend *be, colo_dom *src, colo_dom *dst, const uint64_t *pfns,
                       uint64_t n, unsigned long *present, struct copy_stats *cs)
{
    void *sp[BATCH], *dp[BATCH];
    int se[BATCH], de[BATCH];
    uint64_t ok[BATCH];
    for (uint64_t off = 0; off < n; off += BATCH) {
        unsigned cnt = (unsigned)MIN((uint64_t)BATCH, n - off), k = 0;
        colo_mapping *sm = NULL, *dm = NULL;
        int r = colo_be_map(be, src, pfns + off, cnt, PROT_READ, sp, se, &sm, 0);
        if (r < 0)
            return r;
        for (unsigned i = 0; i < cnt; i++) {
            if (sp[i])
                ok[k++] = pfns[off + i];
            else if (se[i] != -ENOENT && se[i] != -EPERM)
                cs->fail_src++;
        }
        if (k) {
            r = colo_be_map(be, dst, ok, k, PROT_READ | PROT_WRITE, dp, de, &dm, 0);
            if (r < 0) {
                colo_be_unmap(be, src, sm);
                return r;
            }
            for (unsigned i = 0, j = 0; i < cnt; i++) {
                if (!sp[i])
                    continue;
                if (dp[j]) {
                    memcpy(dp[j], sp[i], COLO_PAGE_SIZE);
                    cs->copied++;
                    if (present)
                        set_bit(present, ok[j]);
                } else {
                    cs->fail_dst++;
                }
                j++;
            }
            colo_be_unmap(be, dst, dm);
        }
        colo_be_unmap(be, src, sm);
    }
    return 0;
}

static int copy_context(colo_backend *be, colo_dom *src, colo_dom *dst, size_t *ctx_len,
                        size_t *dev_len)
{
    _cleanup_free_ uint8_t *c = NULL, *dv = NULL;
    ssize_t n = colo_be_context_get(be, src, &c, 0);
    if (n < 0)
        return (int)n;
    int r = colo_be_context_set(be, dst, c, (size_t)n, 0);
    if (r < 0)
        return r;
    *ctx_len = (size_t)n;
    ssize_t m = colo_be_devstate_save(be, src, &dv, 0);
    if (m < 0)
        return (int)m;
    r = colo_be_devstate_load(be, dst, dv, (size_t)m, 0);
    *dev_len = (size_t)m;
    return r;
}

/* Pages that differ between the two (both stopped), for a failed digest. */
static uint64_t count_differing(colo_backend *be, colo_dom *a, colo_dom *b, uint64_t nr)
{
    uint64_t pfns[BATCH], diff = 0;
    void *pa[BATCH], *pb[BATCH];
    int ea[BATCH], eb[BATCH];
    for (uint64_t base = 0; base < nr; base += BATCH) {
        unsigned cnt = (unsigned)MIN((uint64_t)BATCH, nr - base);
        colo_mapping *ma = NULL, *mb = NULL;
        for (unsigned i = 0; i < cnt; i++)
            pfns[i] = base + i;
        if (colo_be_map(be, a, pfns, cnt, PROT_READ, pa, ea, &ma, 0) < 0)
            continue;
        if (colo_be_map(be, b, pfns, cnt, PROT_READ, pb, eb, &mb, 0) < 0) {
            colo_be_unmap(be, a, ma);
            continue;
        }
        for (unsigned i = 0; i < cnt; i++) {
            bool za = !pa[i] || colo_page_is_zero(pa[i]), zb = !pb[i] || colo_page_is_zero(pb[i]);
            bool same = (za && zb) || (pa[i] && pb[i] && memcmp(pa[i], pb[i], COLO_PAGE_SIZE) == 0);
            if (!same && ++diff <= 8)
                INFO("  pfn %#" PRIx64 " differs (primary %s, secondary %s)", pfns[i],
                     pa[i] ? "mapped" : "absent", pb[i] ? "mapped" : "absent");
        }
        colo_be_unmap(be, b, mb);
        colo_be_unmap(be, a, ma);
    }
    return diff;
}

/* ------------------------------------------------------------ counter */

/* tinypvh's counter, or the u32 at offset 0 of pfn (pfn != 0). */
static int read_counter(colo_backend *be, colo_dom *d, uint64_t pfn, uint64_t *val)
{
    uint64_t p = pfn ? pfn : TINYPVH_COUNTER_PFN;
    void *page;
    int err;
    colo_mapping *m = NULL;
    int r = colo_be_map(be, d, &p, 1, PROT_READ, &page, &err, &m, 0);
    if (r < 0)
        return r;
    if (!page) {
        colo_be_unmap(be, d, m);
        return err ? err : -EIO;
    }
    const volatile uint32_t *w = page;
    if (pfn)
        *val = w[0];
    else if (w[0] != TINYPVH_MAGIC)
        r = -ENOMSG;
    else
        *val = (uint64_t)w[2] | (uint64_t)w[3] << 32;
    colo_be_unmap(be, d, m);
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, unsigned n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    unsigned i = (unsigned)(p * n + 0.999999);
    return v[i ? i - 1 : 0];
}

/* ------------------------------------------------ log-dirty left on */

/* A toolstack killed with log-dirty on: a child enables it and dies by
 * SIGKILL; the next enable must recover. */
static void check_left_on(colo_backend *be, colo_dom *d, const char *name, uint64_t nr,
                          unsigned interval_ms, bool tinypvh)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct session s;
        if (session_open(&s, name) < 0 || colo_be_logdirty_enable(s.be, s.d, 0) < 0)
            _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFSIGNALED(st)) {
        FAIL("left-on: the child could not enable log-dirty (status %#x)", st);
        return;
    }
    int r = colo_be_logdirty_enable(be, d, 0);
    if (r < 0) {
        FAIL("left-on: enable after a killed toolstack: %s", strerror(-r));
        return;
    }
    _cleanup_free_ unsigned long *bm = calloc(DIV_ROUND_UP(nr, WORD_BITS), sizeof(unsigned long));
    uint64_t c1 = 0, c2 = 0;
    if (!bm)
        return;
    colo_be_logdirty_clean(be, d, bm, nr, &c1, 0);
    usleep(interval_ms * 1000);
    /* The asm guests write all their pages once a pass: wait for two more
     * passes (bounded by 30 s), so a whole one lies between the cleans
     * however slowly the guest runs (a pass took over 300 ms on a slow
     * TCG host). */
    uint64_t ctr0, ctr;
    if (tinypvh && read_counter(be, d, 0, &ctr0) == 0)
        for (int i = 0; i < 300 && read_counter(be, d, 0, &ctr) == 0 && ctr < ctr0 + 2; i++)
            usleep(100 * 1000);
    r = colo_be_logdirty_clean(be, d, bm, nr, &c2, 0);
    colo_be_logdirty_off(be, d, 0);
    if (r < 0)
        FAIL("left-on: clean after recovery: %s", strerror(-r));
    else if (tinypvh && c2 < TINYPVH_DIRTY_END - TINYPVH_DIRTY_FIRST + 1)
        FAIL("left-on: %" PRIu64 " dirty pages after recovery, expected >= 2049", c2);
    else
        PASS("left-on: log-dirty left on by a killed toolstack recovered (%" PRIu64
             " dirty pages in %u ms%s)", c2, interval_ms, tinypvh ? " and two passes" : "");
}

/* ------------------------------------------------------------ run */

#define CHECK(expr, what)                                                  \
    do {                                                                   \
        int _r = (expr);                                                   \
        if (_r < 0) {                                                      \
            FAIL("%s: %s", what, strerror(-_r));                           \
            goto out;                                                      \
        }                                                                  \
    } while (0)

static int cmd_run(const char *name, unsigned rounds, unsigned interval_ms)
{
    libxlcolo_ctx *ctx = NULL;
    colo_backend *be = NULL;
    colo_dom *prim = NULL, *sec = NULL;
    struct colo_domain_info pi, si;
    struct colo_domain_config cfg;
    void *extra = NULL;
    _cleanup_free_ unsigned long *bm = NULL, *present = NULL;
    _cleanup_free_ uint64_t *list = NULL;
    _cleanup_free_ double *pause_ms = NULL, *copy_ms = NULL, *stop_ms = NULL, *down_ms = NULL;
    bool tinypvh = false, prim_stopped = false;
    uint64_t ctr = 0, nr;
    size_t ctx_len = 0, dev_len = 0;
    unsigned matches = 0, verified = 0, npause = 0;
    bool no_digest = getenv("XCOLO_NO_DIGEST") != NULL;
    double t0, t1;

    CHECK(open_backend(&ctx, &be), "open the xen backend");
    CHECK(colo_be_domain_open(be, name, &prim, 0), "open the primary");
    CHECK(colo_be_domain_info(be, prim, &pi, 0), "primary info");
    tinypvh = read_counter(be, prim, 0, &ctr) == 0;
    INFO("primary %s: domid %u type %s nr_pages %#" PRIx64 " mem %" PRIu64 " MiB vcpus %u "
         "pv_drivers %d%s", pi.name, pi.domid, pi.type == COLO_DOM_PVH ? "pvh" : "hvm",
         pi.nr_pages, pi.mem_bytes >> 20, pi.nr_vcpus, pi.pv_drivers,
         tinypvh ? " (tinypvh counter found)" : "");

    t0 = now_ms();
    CHECK(colo_be_domain_config(be, prim, &cfg, &extra, 0), "domain_config on the primary");
    CHECK(colo_be_domain_create(be, &cfg, &sec, COLO_CREATE_PAUSED), "domain_create of the secondary");
    CHECK(colo_be_domain_info(be, sec, &si, 0), "secondary info");
    INFO("secondary %s: domid %u nr_pages %#" PRIx64 " (config %zu bytes of JSON), made in %.0f ms",
         si.name, si.domid, si.nr_pages, cfg.extra_len, now_ms() - t0);
    PASS("create: secondary %s (domid %u) built from the primary's configuration, paused=%d",
         si.name, si.domid, si.paused);

    nr = pi.nr_pages;
    bm = calloc(DIV_ROUND_UP(nr, WORD_BITS), sizeof(unsigned long));
    present = calloc(DIV_ROUND_UP(nr, WORD_BITS), sizeof(unsigned long));
    list = malloc(nr * sizeof(*list));
    pause_ms = calloc(rounds + 1, sizeof(double));
    copy_ms = calloc(rounds + 1, sizeof(double));
    stop_ms = calloc(rounds + 1, sizeof(double));
    down_ms = calloc(rounds + 1, sizeof(double));
    if (!bm || !present || !list || !pause_ms || !copy_ms || !stop_ms || !down_ms) {
        FAIL("out of memory");
        goto out;
    }

    /* The initial sync, stopped (the engine does it live, then stops). */
    t0 = now_ms();
    CHECK(colo_be_pause(be, prim, COLO_PAUSE_CHECKPOINT), "stop the primary");
    prim_stopped = true;
    CHECK(colo_be_logdirty_enable(be, prim, 0), "log-dirty enable");
    for (uint64_t p = 0; p < nr; p++)
        list[p] = p;
    struct copy_stats cs0 = { 0 };
    CHECK(copy_frames(be, prim, sec, list, nr, present, &cs0), "full copy");
    CHECK(copy_context(be, prim, sec, &ctx_len, &dev_len), "context + device state");
    t1 = now_ms();
    uint8_t dp[32], ds[32];
    CHECK(colo_be_digest(be, prim, dp, 0), "digest of the primary");
    CHECK(colo_be_digest(be, sec, ds, 0), "digest of the secondary");
    double tdig = now_ms() - t1;
    CHECK(colo_be_unpause(be, prim, COLO_PAUSE_CHECKPOINT), "restart the primary");
    prim_stopped = false;
    INFO("initial copy: %" PRIu64 " frames copied of %#" PRIx64 ", %" PRIu64 " failed on the "
         "primary, %" PRIu64 " on the secondary; context %zu B, device state %zu B; %.0f ms "
         "(digests %.0f ms)", cs0.copied, nr, cs0.fail_src, cs0.fail_dst, ctx_len, dev_len,
         now_ms() - t0, tdig);
    if (memcmp(dp, ds, 32) == 0)
        PASS("initial: digests match over %" PRIu64 " frames", cs0.copied);
    else
        FAIL("initial: digests differ (%" PRIu64 " pages differ)", count_differing(be, prim, sec, nr));

    /* tinypvh: a round in which the guest made a whole pass must report all
     * 2049 known pages; any round must report nothing else. */
    uint64_t dirty_min = UINT64_MAX, dirty_max = 0, missing_known = 0, extras = 0;
    uint64_t prev_ctr = 0, full_rounds = 0;
    if (tinypvh)
        read_counter(be, prim, 0, &prev_ctr);
    for (unsigned k = 1; k <= rounds; k++) {
        uint64_t ndirty = 0, n = 0, before = 0;
        struct copy_stats cs = { 0 };
        usleep(interval_ms * 1000);
        t0 = now_ms();
        CHECK(colo_be_pause(be, prim, COLO_PAUSE_CHECKPOINT), "stop the primary");
        prim_stopped = true;
        double ta = now_ms();
        CHECK(colo_be_logdirty_clean(be, prim, bm, nr, &ndirty, 0), "log-dirty clean");
        double tb = now_ms();
        for (uint64_t p = 0; p < nr; p++)
            if (test_bit(bm, p))
                list[n++] = p;
        CHECK(copy_frames(be, prim, sec, list, n, present, &cs), "copy dirty frames");
        double tc = now_ms();
        CHECK(copy_context(be, prim, sec, &ctx_len, &dev_len), "context + device state");
        double td = now_ms();
        if (tinypvh) {
            uint64_t miss = !test_bit(bm, TINYPVH_COUNTER_PFN), known = 1;
            for (uint64_t p = TINYPVH_DIRTY_FIRST; p < TINYPVH_DIRTY_END; p++, known++)
                miss += !test_bit(bm, p);
            extras += ndirty - (known - miss);
            read_counter(be, prim, 0, &before);
            if (before >= prev_ctr + 2) { /* a whole pass since the last stop */
                full_rounds++;
                missing_known += miss;
            }
            prev_ctr = before;
        }
        /* XCOLO_NO_DIGEST=1: digest the last checkpoint only, so that the
         * stops seen from outside (watch) are the backend's alone. */
        bool verify = k == rounds || !no_digest, match = true;
        memset(dp, 0, sizeof(dp));
        if (verify) {
            CHECK(colo_be_digest(be, prim, dp, 0), "digest of the primary");
            CHECK(colo_be_digest(be, sec, ds, 0), "digest of the secondary");
            match = memcmp(dp, ds, 32) == 0;
            verified++;
        }
        uint64_t ndiff = match ? 0 : count_differing(be, prim, sec, nr);
        double tf = now_ms();
        CHECK(colo_be_unpause(be, prim, COLO_PAUSE_CHECKPOINT), "restart the primary");
        prim_stopped = false;
        double tg = now_ms();
        /* From the stop request to the restart, less the digests this check
         * adds; "stopped" below leaves out the stop request too (the
         * cooperative suspend's wait, while the guest still runs). */
        double stopped = (tg - t0) - (tf - td);
        pause_ms[npause] = stopped;
        stop_ms[npause] = ta - t0;
        down_ms[npause] = stopped - (ta - t0);
        copy_ms[npause++] = tc - tb;
        dirty_min = MIN(dirty_min, ndirty);
        dirty_max = MAX(dirty_max, ndirty);
        matches += verify && match;
        char hex[65];
        colo_digest_hex(dp, hex);
        INFO("checkpoint %u: dirty %" PRIu64 " copied %" PRIu64 " | stop %.1f ms, clean %.1f, "
             "copy %.1f, context+dm %.1f, restart %.1f | stopped %.1f ms | digest %.16s %s",
             k, ndirty, cs.copied, ta - t0, tb - ta, tc - tb, td - tc, tg - tf, stopped, hex,
             !verify ? "not checked" : match ? "MATCH" : "DIFFER");
        if (!match)
            FAIL("checkpoint %u: digests differ (%" PRIu64 " pages differ)", k, ndiff);
        if (tinypvh)
            INFO("checkpoint %u: guest counter %" PRIu64, k, before);
    }
    if (matches == verified)
        PASS("checkpoints: %u of %u digests match (primary at the stop vs secondary after the "
             "copy; %u checkpoints)", matches, verified, rounds);
    if (tinypvh) {
        if (missing_known || extras)
            FAIL("dirty set: %" PRIu64 " known pages missing, %" PRIu64 " pages outside the "
                 "guest's known set reported", missing_known, extras);
        else
            PASS("dirty set: exactly the guest's known pages, all 2049 in each of the %" PRIu64
                 " rounds with a whole pass", full_rounds);
    }
    FIGURE("checkpoints", "%u", rounds, "count");
    FIGURE("pause_p50", "%.1f", percentile(pause_ms, npause, 0.50), "ms");
    FIGURE("pause_p99", "%.1f", percentile(pause_ms, npause, 0.99), "ms");
    FIGURE("stop_request_p50", "%.1f", percentile(stop_ms, npause, 0.50), "ms");
    FIGURE("stopped_p50", "%.1f", percentile(down_ms, npause, 0.50), "ms");
    FIGURE("stopped_p99", "%.1f", percentile(down_ms, npause, 0.99), "ms");
    FIGURE("copy_p50", "%.1f", percentile(copy_ms, npause, 0.50), "ms");
    FIGURE("dirty_min", "%" PRIu64, dirty_min, "pages");
    FIGURE("dirty_max", "%" PRIu64, dirty_max, "pages");
    FIGURE("context", "%zu", ctx_len, "bytes");
    FIGURE("devstate", "%zu", dev_len, "bytes");

    /* Failover: the secondary holds the last checkpoint. */
    uint64_t at_ckpt = 0, after = 0;
    if (tinypvh)
        read_counter(be, sec, 0, &at_ckpt);
    t0 = now_ms();
    CHECK(colo_be_pause(be, prim, 0), "pause the primary for failover");
    CHECK(colo_be_domain_destroy(be, prim, 0), "destroy the primary");
    colo_be_domain_close(be, prim);
    prim = NULL;
    CHECK(colo_be_unpause(be, sec, 0), "run the secondary");
    FIGURE("failover", "%.0f", now_ms() - t0, "ms");
    sleep(2);
    CHECK(colo_be_domain_info(be, sec, &si, 0), "secondary info after failover");
    if (si.paused || si.shutdown)
        FAIL("failover: the secondary is %s", si.shutdown ? "shut down" : "paused");
    else
        PASS("failover: the secondary %s (domid %u) runs", si.name, si.domid);
    if (tinypvh) {
        CHECK(read_counter(be, sec, 0, &after), "read the counter after failover");
        if (after > at_ckpt)
            PASS("failover: the counter moves on from the checkpoint: %" PRIu64 " -> %" PRIu64,
                 at_ckpt, after);
        else
            FAIL("failover: the counter did not move: %" PRIu64 " -> %" PRIu64, at_ckpt, after);
    }

    check_left_on(be, sec, si.name, si.nr_pages, interval_ms, tinypvh);

out:
    if (prim && prim_stopped)
        colo_be_unpause(be, prim, COLO_PAUSE_CHECKPOINT);
    if (prim)
        colo_be_domain_close(be, prim);
    if (sec)
        colo_be_domain_close(be, sec);
    free(extra);
    colo_backend_close(be);
    libxlcolo_ctx_free(ctx);
    fflush(stdout);
    return failures ? 1 : 0;
}

static int cmd_counter(const char *name, uint64_t pfn)
{
    struct session s;
    uint64_t v = 0;
    int r = session_open(&s, name);
    if (r >= 0)
        r = read_counter(s.be, s.d, pfn, &v);
    if (r >= 0)
        printf("%" PRIu64 "\n", v);
    else
        fprintf(stderr, "xen-backend-check: counter of %s: %s\n", name, strerror(-r));
    session_close(&s);
    return r < 0;
}

static int cmd_refuse(const char *name)
{
    struct session s;
    int r = session_open(&s, name);
    session_close(&s);
    return r == -EOPNOTSUPP ? 0 : 1;
}

static int cmd_qmp(const char *name, const char *command)
{
    struct session s;
    int r = session_open(&s, name);
    if (r >= 0)
        r = xen_qmp(s.be, s.d->domid, command, NULL);
    session_close(&s);
    return r < 0;
}

/* skip: stops not counted (another toolstack's initial sync); the SECONDS
 * start after them, and they must come within WATCH_SKIP_WAIT_S. */
#define WATCH_SKIP_WAIT_S 300
static int cmd_watch(const char *name, unsigned seconds, const char *fig, unsigned skip)
{
    struct session s;
    unsigned cap = 4096, n = 0;
    _cleanup_free_ double *stops = calloc(cap, sizeof(double));
    int r = session_open(&s, name);
    if (r < 0 || !stops) {
        session_close(&s);
        return 1;
    }
    colo_dom *d = s.d;
    double t0 = now_ms(), since = -1, first = -1, last = -1;
    double window = (skip ? WATCH_SKIP_WAIT_S : seconds) * 1000.0;
    xc_interface *xch = xen_be(s.be)->xch; /* one hypercall a sample: disturb dom0 least */
    while (now_ms() - t0 < window) {
        xc_domaininfo_t di; /* getinfolist: in every Xen version */
        if (xc_domain_getinfolist(xch, d->domid, 1, &di) != 1 || di.domain != d->domid)
            break; /* gone */
        double t = now_ms();
        bool stopped = di.flags & (XEN_DOMINF_paused | XEN_DOMINF_shutdown);
        if (stopped && since < 0)
            since = t;
        if (!stopped && since >= 0 && skip) {
            if (--skip == 0) { /* the window starts now */
                t0 = t;
                window = seconds * 1000.0;
            }
            since = -1;
        }
        if (!stopped && since >= 0) {
            if (n < cap)
                stops[n++] = t - since;
            if (first < 0)
                first = since;
            last = t;
            since = -1;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    tname = fig;
    double span = last > first ? (last - first) / 1000.0 : 0;
    FIGURE("checkpoints", "%u", n, "count");
    FIGURE("pause_p50", "%.1f", percentile(stops, n, 0.50), "ms");
    FIGURE("pause_p99", "%.1f", percentile(stops, n, 0.99), "ms");
    FIGURE("checkpoints_per_s", "%.2f", n > 1 && span > 0 ? (n - 1) / span : 0.0, "1/s");
    session_close(&s);
    return n ? 0 : 1;
}

static int raw_shadow_op(xc_interface *xch, uint32_t domid, unsigned sop)
{
#ifdef HAVE_XC_LOGDIRTY_CONTROL
    return xc_shadow_control(xch, domid, sop, NULL, 0);
#else
    return xc_shadow_control(xch, domid, sop, NULL, 0, NULL, 0, NULL);
#endif
}

/* Is log-dirty on? Raw libxenctrl, none of the backend's recovery. */
static int cmd_logdirty(const char *name)
{
    struct session s;
    int ret = 2;
    int r = session_open(&s, name);
    if (r >= 0) {
        xc_interface *xch = xen_be(s.be)->xch;
        if (raw_shadow_op(xch, s.d->domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY) == 0) {
            raw_shadow_op(xch, s.d->domid, XEN_DOMCTL_SHADOW_OP_OFF);
            printf("off\n");
            ret = 0;
        } else if (errno == EINVAL) {
            printf("on\n");
            ret = 1;
        } else {
            fprintf(stderr, "xen-backend-check: log-dirty enable on %s: %s\n", name, strerror(errno));
        }
    }
    session_close(&s);
    return ret;
}

/* Stop the guest as a checkpoint does (log-dirty on, then the backend's
 * own stop), and die by SIGKILL before the restart: what a toolstack killed
 * mid-checkpoint leaves behind. */
static int cmd_stop_and_die(const char *name)
{
    struct session s;
    int r = session_open(&s, name);
    if (r >= 0)
        r = colo_be_logdirty_enable(s.be, s.d, 0);
    if (r >= 0)
        r = colo_be_pause(s.be, s.d, COLO_PAUSE_CHECKPOINT);
    if (r < 0) {
        fprintf(stderr, "xen-backend-check: stop %s: %s\n", name, strerror(-r));
        return 1;
    }
    printf("stopped\n");
    raise(SIGKILL);
    return 1;
}

/* Raw log-dirty stress, no engine: OP is "toggle" (ENABLE then OFF), "clean"
 * (ENABLE once, then CLEANs with the bitmap), "peek"; with "paused", the
 * domain is paused around each op, as a checkpoint does. Between two ops the
 * guest runs GAP_MS. Stops at the first op after which the domain is gone,
 * shut down or crashed, and says after how many. */
static int cmd_stress(const char *name, const char *op, unsigned n, unsigned gap_ms, bool paused)
{
    struct session s;
    int r = session_open(&s, name);
    if (r < 0)
        return 2;
    xc_interface *xch = xen_be(s.be)->xch;
    uint32_t domid = s.d->domid;
    xen_pfn_t max = 0;
    xc_domain_maximum_gpfn(xch, domid, &max);
    uint64_t nr = (uint64_t)max + 1;
    DECLARE_HYPERCALL_BUFFER(unsigned long, bm);
    bm = xc_hypercall_buffer_alloc_pages(xch, bm, (int)DIV_ROUND_UP(nr / 8 + 8, XC_PAGE_SIZE));
    /* cleanmap-late / cleanmap-early: a checkpoint's shape: pause, CLEAN,
     * map the guest's first 1024 pfns and read them, unpause; the mapping
     * is dropped after the unpause (late) or before it (early). */
    bool late = strcmp(op, "cleanmap-late") == 0, early = strcmp(op, "cleanmap-early") == 0;
    if (late || early) {
        paused = true;
        op = "clean";
    }
    bool clean = strcmp(op, "clean") == 0, peek = strcmp(op, "peek") == 0;
    if ((clean || peek) && raw_shadow_op(xch, domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY) < 0)
        fprintf(stderr, "stress: enable: %s\n", strerror(errno));
    unsigned i;
    int ret = 0;
    for (i = 0; i < n; i++) {
        if (paused)
            xc_domain_pause(xch, domid);
        if (clean || peek) {
            xc_shadow_op_stats_t st;
#ifdef HAVE_XC_LOGDIRTY_CONTROL
            xc_logdirty_control(xch, domid, clean ? XEN_DOMCTL_SHADOW_OP_CLEAN : XEN_DOMCTL_SHADOW_OP_PEEK,
                                HYPERCALL_BUFFER(bm), nr, paused ? XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL : 0, &st);
#else
            xc_shadow_control(xch, domid, clean ? XEN_DOMCTL_SHADOW_OP_CLEAN : XEN_DOMCTL_SHADOW_OP_PEEK,
                              HYPERCALL_BUFFER(bm), nr, NULL, paused ? XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL : 0, &st);
#endif
        } else {
            raw_shadow_op(xch, domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY);
            raw_shadow_op(xch, domid, XEN_DOMCTL_SHADOW_OP_OFF);
        }
        void *m = NULL;
        if (late || early) {
            xen_pfn_t pf[1024];
            int err[1024];
            for (unsigned k = 0; k < 1024; k++)
                pf[k] = k;
            m = xenforeignmemory_map(xen_be(s.be)->fmem, domid, PROT_READ, 1024, pf, err);
            volatile unsigned sum = 0;
            for (unsigned k = 0; m && k < 1024; k++)
                if (!err[k])
                    sum += ((volatile unsigned char *)m)[(size_t)k * 4096];
            if (early && m) {
                xenforeignmemory_unmap(xen_be(s.be)->fmem, m, 1024);
                m = NULL;
            }
        }
        if (paused)
            xc_domain_unpause(xch, domid);
        if (m)
            xenforeignmemory_unmap(xen_be(s.be)->fmem, m, 1024);
        struct timespec ts = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        xc_domaininfo_t di;
        if (xc_domain_getinfolist(xch, domid, 1, &di) != 1 || di.domain != domid ||
            (di.flags & (XEN_DOMINF_shutdown | XEN_DOMINF_dying))) {
            ret = 1;
            break;
        }
    }
    if (clean || peek)
        raw_shadow_op(xch, domid, XEN_DOMCTL_SHADOW_OP_OFF);
    printf("XCOLO: INFO stress %s %s%s: %s after %u of %u ops (gap %u ms)\n", name,
           late ? "cleanmap-late" : early ? "cleanmap-early" : op, paused ? " paused" : "", ret ? "DIED" : "alive", i + (ret ? 1 : 0), n, gap_ms);
    xc_hypercall_buffer_free_pages(xch, bm, (int)DIV_ROUND_UP(nr / 8 + 8, XC_PAGE_SIZE));
    s.d->gone = ret != 0;
    session_close(&s);
    return ret;
}

static int cmd_unix_get(const char *path)
{
    static char buf[65536];
    size_t have = 0;
    _cleanup_close_ int fd = colo_unix_connect(path);
    if (fd < 0) {
        fprintf(stderr, "xen-backend-check: %s: %s\n", path, strerror(-fd));
        return 1;
    }
    uint64_t end = colo_now_ns() + 5000000000ull;
    while (have < sizeof(buf)) {
        uint64_t now = colo_now_ns();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (now >= end || poll(&p, 1, (int)((end - now) / 1000000) + 1) <= 0) {
            fprintf(stderr, "xen-backend-check: %s: nothing more in 5 s, and not closed\n", path);
            return 1;
        }
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "xen-backend-check: %s: %s\n", path, strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    fwrite(buf, 1, have, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && strcmp(argv[1], "run") == 0) {
        static char t[80];
        snprintf(t, sizeof(t), "backend-%s", argv[2]);
        tname = t;
        return cmd_run(argv[2], argc > 3 ? (unsigned)atoi(argv[3]) : 20,
                       argc > 4 ? (unsigned)atoi(argv[4]) : 300);
    }
    if (argc >= 3 && strcmp(argv[1], "counter") == 0)
        return cmd_counter(argv[2], argc > 3 ? strtoull(argv[3], NULL, 0) : 0);
    if (argc >= 3 && strcmp(argv[1], "refuse") == 0)
        return cmd_refuse(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "qmp") == 0)
        return cmd_qmp(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "logdirty") == 0)
        return cmd_logdirty(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "stop-and-die") == 0)
        return cmd_stop_and_die(argv[2]);
    if (argc >= 6 && strcmp(argv[1], "stress") == 0)
        return cmd_stress(argv[2], argv[3], (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]),
                          argc > 6 && strcmp(argv[6], "paused") == 0);
    if (argc == 3 && strcmp(argv[1], "unix-get") == 0)
        return cmd_unix_get(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "watch") == 0)
        return cmd_watch(argv[2], (unsigned)atoi(argv[3]), argv[4],
                         argc > 5 ? (unsigned)atoi(argv[5]) : 0);
    fprintf(stderr, "usage: xen-backend-check run DOMAIN [ROUNDS [INTERVAL_MS]]\n"
                    "       xen-backend-check counter DOMAIN [PFN]\n"
                    "       xen-backend-check refuse DOMAIN\n"
                    "       xen-backend-check qmp DOMAIN COMMAND\n"
                    "       xen-backend-check watch DOMAIN SECONDS NAME [SKIP]\n"
                    "       xen-backend-check logdirty DOMAIN\n"
                    "       xen-backend-check stop-and-die DOMAIN\n"
                    "       xen-backend-check stress DOMAIN toggle|clean|peek|cleanmap-early|cleanmap-late N GAP_MS [paused]\n"
                    "       xen-backend-check unix-get PATH\n");
    return 2;
}
