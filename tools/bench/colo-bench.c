/*
 * colo-bench.c - the engine's first benchmark: two tables, each against a
 * baseline measured in the same run.
 *
 * 1. Checkpoint pause time against the number of dirty pages, on a real
 *    colo-simguest: the timed call is the engine's own
 *    colo_capture_take() (pause, log-dirty CLEAN, take the bits, copy
 *    the pages, context, device state, unpause), against a plain memcpy of
 *    the same pages scattered the same way.
 * 2. Stream throughput: PAGES records over loopback TCP, with HMAC and
 *    insecure, against raw send/recv of the same bytes.
 *
 * The sim backend's writable map() writes the guest's memfd directly; like a
 * foreign write it does not mark the guest's log-dirty bitmap. So the pages
 * the bench writes are handed to the capture as its `extra` bitmap (what
 * the primary ORs into the log after pre-copy); CLEAN still runs and adds
 * whatever the guest itself dirtied, and the table says how many that was.
 */
#include "config.h"

#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bitmap.h"
#include "stream/net.h"
#include "engine/pages_copy.h"
#include "engine/capture.h"
#include "stream/stream.h"

#define WAIT_MS 10000     /* spawn, connect, accept, handshake */
#define IO_MS 30000       /* any one wait for stream data */
#define GUEST_MEM "512M"
#define GUEST_HOT_PAGES 16u /* the idle workload's hot set (simguest workload.c) */
#define REC_PAGES COLO_BATCH_PAGES /* 1024 pages: 4 MiB of data a record */
#define REC_LEN (sizeof(struct colo_wire_pages_hdr) + REC_PAGES * (8 + COLO_PAGE_SIZE))

extern char **environ;

static const uint64_t sizes[] = { 1000, 10000, 100000 };

/* --- small helpers --- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n values (sorts v). */
static uint64_t pct(uint64_t *v, unsigned n, unsigned p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    unsigned k = (p * n + 99) / 100;
    return v[k ? k - 1 : 0];
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void *map_anon(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* k distinct pfns below nr, scattered at random, in ascending order (the
 * order colo_bitmap_take hands them to the copy). perm holds nr entries. */
static void pick(uint64_t *perm, uint64_t nr, uint64_t k, uint64_t *out)
{
    for (uint64_t i = 0; i < k; i++) {
        uint64_t j = i + rng() % (nr - i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(out, perm, k * sizeof(*out));
    qsort(out, k, sizeof(*out), cmp_u64);
}

/* --- the guest --- */

struct guest {
    char dir[64];
    pid_t pid;          /* the colo-simguest we started, or 0 */
    const char *simguest; /* its binary (simguest_bin), also given to the backend */
    char simguest_buf[PATH_MAX];
    colo_backend *be;
    colo_dom *dom;
};

/* colo-simguest run --daemon ...: the guest's pid, printed on its stdout.
 * Not --incoming: an incoming guest has no context to read and refuses to
 * be unpaused. The idle workload keeps one vCPU running (so pause has
 * something to stop) while dirtying at most its 16 hot pages. */
/* $XLCOLO_SIMGUEST, else the colo-simguest built beside us (a build tree's
 * tools/simguest/), else PATH's. */
static const char *simguest_bin(char *buf, size_t len)
{
    static const char sibling[] = "/../simguest/colo-simguest";
    const char *bin = getenv("XLCOLO_SIMGUEST");
    ssize_t n;

    if (bin && *bin)
        return bin;
    n = readlink("/proc/self/exe", buf, len - 1);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash && (size_t)(slash - buf) + sizeof(sibling) <= len) {
            memcpy(slash, sibling, sizeof(sibling));
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "colo-simguest";
}

static pid_t spawn_guest(const char *dir, const char *bin)
{
    const char *argv[] = { bin, "run", "--daemon", "--paused",
                           "--rundir", dir, "--name", "bench", "--mem", GUEST_MEM,
                           "--vcpus", "1", "--workload", "idle", NULL };
    posix_spawn_file_actions_t fa;
    char out[64] = "";
    size_t have = 0;
    int pfd[2], st;
    pid_t child;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    int r = posix_spawnp(&child, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (r) {
        close(pfd[0]);
        fprintf(stderr, "colo-bench: cannot run %s: %s\n", argv[0], strerror(r));
        return -1;
    }
    while (have < sizeof(out) - 1 && !strchr(out, '\n')) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        if (poll(&p, 1, WAIT_MS) != 1)
            break;
        ssize_t k = read(pfd[0], out + have, sizeof(out) - 1 - have);
        if (k <= 0)
            break;
        have += (size_t)k;
        out[have] = '\0';
    }
    close(pfd[0]);
    /* The launcher exits once the daemon listens. */
    for (int i = 0; i < WAIT_MS / 10; i++) {
        if (waitpid(child, &st, WNOHANG) == child)
            break;
        usleep(10000);
    }
    pid_t pid = (pid_t)atol(out);
    if (pid <= 0)
        fprintf(stderr, "colo-bench: %s run printed no pid\n", argv[0]);
    return pid;
}

static int guest_start(libxlcolo_ctx *ctx, struct guest *g)
{
    snprintf(g->dir, sizeof(g->dir), "/tmp/colo-bench.XXXXXX");
    if (!mkdtemp(g->dir)) {
        g->dir[0] = '\0';
        return negative_errno();
    }
    g->simguest = simguest_bin(g->simguest_buf, sizeof(g->simguest_buf));
    g->pid = spawn_guest(g->dir, g->simguest);
    if (g->pid <= 0) {
        g->pid = 0;
        return -ECHILD;
    }
    struct colo_backend_params bp = { .name = "sim", .run_dir = g->dir,
                                      .simguest = g->simguest };
    int r = colo_backend_open(ctx, &bp, 0, &g->be);
    if (r < 0)
        return r;
    return colo_be_domain_open(g->be, "bench", &g->dom, 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void guest_stop(struct guest *g)
{
    bool gone = false;

    if (g->dom) {
        gone = colo_be_domain_destroy(g->be, g->dom, 0) == 0;
        colo_be_domain_close(g->be, g->dom);
    }
    if (g->be)
        colo_backend_close(g->be);
    if (g->pid > 0 && !gone && kill(g->pid, 0) == 0) {
        /* Only the process we started, by its pid. */
        kill(g->pid, SIGKILL);
    }
    if (g->dir[0])
        nftw(g->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- table 1: checkpoint pause --- */

struct pause_row {
    uint64_t pages;
    uint64_t p50, p99, mc50, mc99;
    uint64_t phase50[4];           /* stop, copy, state, restart */
    uint64_t min_count, max_count; /* pages the capture actually took */
    uint64_t differ;               /* distinct pfns whose copy was not ours */
    bool data_ok;
};

/* Write every chosen page with tag (the dirtying, untimed). */
static int dirty_guest(colo_backend *be, colo_dom *d, const uint64_t *pfns, uint64_t k,
                       uint8_t tag)
{
    void *addr[REC_PAGES];
    int err[REC_PAGES];

    for (uint64_t i = 0; i < k; i += REC_PAGES) {
        unsigned n = (unsigned)MIN(k - i, (uint64_t)REC_PAGES);
        colo_mapping *m;
        int r = colo_be_map(be, d, pfns + i, n, PROT_READ | PROT_WRITE, addr, err, &m, 0);
        if (r < 0)
            return r;
        for (unsigned j = 0; j < n; j++)
            if (addr[j])
                memset(addr[j], tag, COLO_PAGE_SIZE);
        colo_be_unmap(be, d, m);
    }
    return 0;
}

static int bench_pause(libxlcolo_ctx *ctx, struct guest *g, unsigned rounds,
                       struct pause_row *rows)
{
    struct colo_domain_info info;
    struct colo_capture_buf buf = { 0 };
    struct colo_capture cap = { 0 };
    bool logdirty_on = false;
    uint64_t *perm = NULL, *pfns = NULL, *t_cap = NULL, *t_mc = NULL, *t_ph = NULL;
    unsigned long *extra = NULL, *differ = NULL;
    uint8_t *src = NULL, *dst = NULL;
    uint64_t nr;
    int r;

    if ((r = colo_be_domain_info(g->be, g->dom, &info, 0)) < 0)
        return r;
    nr = info.nr_pages;
    if (nr < sizes[ARRAY_SIZE(sizes) - 1]) {
        fprintf(stderr, "colo-bench: the guest has only %" PRIu64 " pages\n", nr);
        return -EINVAL;
    }
    if ((r = colo_be_logdirty_enable(g->be, g->dom, 0)) < 0)
        return r;
    logdirty_on = true;

    if ((r = colo_capture_buf_init(&buf, nr)) < 0)
        goto out;
    r = -ENOMEM;
    extra = colo_bitmap_alloc(nr);
    differ = colo_bitmap_alloc(nr);
    perm = calloc(nr, sizeof(*perm));
    pfns = calloc(nr, sizeof(*pfns));
    t_cap = calloc(rounds, sizeof(*t_cap));
    t_mc = calloc(rounds, sizeof(*t_mc));
    t_ph = calloc(4 * (size_t)rounds, sizeof(*t_ph));
    src = map_anon(nr * COLO_PAGE_SIZE);     /* the memcpy's "guest" */
    dst = map_anon(sizes[ARRAY_SIZE(sizes) - 1] * COLO_PAGE_SIZE);
    if (!extra || !differ || !perm || !pfns || !t_cap || !t_mc || !t_ph || !src || !dst)
        goto out;
    for (uint64_t i = 0; i < nr; i++)
        perm[i] = i;

    /* Steady state: the initial sync has read every page once through the
     * read-only map (as the engine's pre-copy does), so later checkpoints
     * find their mappings in place. Read them all once, untimed. */
    for (uint64_t base = 0; base < nr; base += 16384) {
        uint64_t n = MIN(16384, nr - base), skipped = 0;
        memcpy(pfns, perm + base, n * sizeof(*pfns)); /* the read compacts its pfns */
        if ((r = colo_pages_read(g->be, g->dom, pfns, &n, src, &skipped, NULL)) < 0)
            goto out;
    }

    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        uint64_t k = sizes[s];
        struct pause_row *row = &rows[s];

        *row = (struct pause_row){ .pages = k, .min_count = UINT64_MAX, .data_ok = true };
        colo_bitmap_clear_all(differ, nr);
        /* Round 0 is a warm-up (buffers grow to size), not counted. */
        for (unsigned i = 0; i <= rounds; i++) {
            uint8_t tag = (uint8_t)(1 + (s * 131 + i) % 255);
            pick(perm, nr, k, pfns);

            if ((r = dirty_guest(g->be, g->dom, pfns, k, tag)) < 0)
                goto out;
            colo_bitmap_clear_all(extra, nr);
            for (uint64_t j = 0; j < k; j++)
                colo_bitmap_set(extra, pfns[j]);
            if ((r = colo_capture_take(g->be, g->dom, extra, false, false, &buf, &cap)) < 0)
                goto out;
            /* Did it copy what we wrote? (untimed) The running guest may
             * have rewritten its own hot pages since: collect the pfns that
             * differ, and judge their number at the end. */
            for (uint64_t j = 0, c = 0; j < cap.count && c < k; j++)
                if (cap.pfns[j] == pfns[c]) {
                    if (cap.data[j * COLO_PAGE_SIZE] != tag ||
                        cap.data[j * COLO_PAGE_SIZE + COLO_PAGE_SIZE - 1] != tag)
                        colo_bitmap_set(differ, pfns[c]);
                    c++;
                }

            for (uint64_t j = 0; j < k; j++)
                memset(src + pfns[j] * COLO_PAGE_SIZE, tag, COLO_PAGE_SIZE);
            uint64_t t0 = colo_now_ns();
            for (uint64_t j = 0; j < k; j++)
                memcpy(dst + j * COLO_PAGE_SIZE, src + pfns[j] * COLO_PAGE_SIZE, COLO_PAGE_SIZE);
            uint64_t t1 = colo_now_ns();
            if (dst[(k - 1) * COLO_PAGE_SIZE] != tag) /* keep the copy */
                row->data_ok = false;

            if (i == 0)
                continue;
            t_cap[i - 1] = cap.pause_ns;
            t_mc[i - 1] = t1 - t0;
            const struct colo_capture *c = &cap;
            t_ph[0 * rounds + i - 1] = c->stop_ns;
            t_ph[1 * rounds + i - 1] = c->copy_ns;
            t_ph[2 * rounds + i - 1] = c->state_ns;
            t_ph[3 * rounds + i - 1] = c->pause_ns - c->stop_ns - c->copy_ns - c->state_ns;
            row->min_count = MIN(row->min_count, cap.count);
            row->max_count = MAX(row->max_count, cap.count);
            if (cap.skipped)
                row->data_ok = false;
        }
        row->differ = colo_bitmap_weight(differ, nr);
        row->p50 = pct(t_cap, rounds, 50);
        row->p99 = pct(t_cap, rounds, 99);
        row->mc50 = pct(t_mc, rounds, 50);
        row->mc99 = pct(t_mc, rounds, 99);
        for (unsigned ph = 0; ph < 4; ph++)
            row->phase50[ph] = pct(t_ph + ph * rounds, rounds, 50);
    }
    r = 0;
out:
    if (cap.paused)
        colo_be_unpause(g->be, g->dom, COLO_PAUSE_CHECKPOINT);
    if (logdirty_on)
        colo_be_logdirty_off(g->be, g->dom, 0);
    colo_capture_free(&cap);
    colo_capture_buf_free(&buf);
    free(extra);
    free(differ);
    free(perm);
    free(pfns);
    free(t_cap);
    free(t_mc);
    free(t_ph);
    if (src)
        munmap(src, nr * COLO_PAGE_SIZE);
    if (dst)
        munmap(dst, sizes[ARRAY_SIZE(sizes) - 1] * COLO_PAGE_SIZE);
    return r;
}

/* --- table 2: stream throughput --- */

enum mode { MODE_RAW, MODE_HMAC, MODE_INSECURE };
static const char *const mode_name[] = { "raw TCP", "stream HMAC", "stream insecure" };

static const uint8_t bench_key[32] = "colo-bench key, not a secret!!!";

struct rx {
    libxlcolo_ctx *ctx;
    int lfd;
    enum mode mode;
    uint64_t records;
    int r;
};

static int recv_full(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, IO_MS) != 1)
            return -ETIMEDOUT;
        ssize_t k = recv(fd, buf, len, 0);
        if (k == 0)
            return -EPIPE;
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return negative_errno();
        }
        buf += k;
        len -= (size_t)k;
    }
    return 0;
}

static void *rx_main(void *arg)
{
    struct rx *a = arg;
    colo_stream *s = NULL;
    uint8_t *buf = malloc(REC_LEN);
    int fd = colo_net_accept(a->ctx, a->lfd, WAIT_MS, NULL, 0);

    a->r = fd < 0 ? fd : buf ? 0 : -ENOMEM;
    if (a->r < 0)
        goto out;
    if (a->mode == MODE_RAW) {
        for (uint64_t i = 0; i < a->records && a->r == 0; i++)
            a->r = recv_full(fd, buf, REC_LEN);
        close(fd);
        goto out;
    }
    if ((a->r = colo_stream_new(a->ctx, fd, &s)) < 0)
        goto out;
    a->r = colo_stream_handshake_server(s, a->mode == MODE_HMAC ? bench_key : NULL,
                                        a->mode == MODE_HMAC ? sizeof(bench_key) : 0,
                                        WAIT_MS, NULL);
    for (uint64_t i = 0; i < a->records && a->r == 0; i++) {
        struct colo_rec_hdr h;
        if ((a->r = colo_stream_recv_hdr(s, &h, IO_MS)) < 0)
            break;
        if (h.type != COLO_REC_PAGES || h.length > REC_LEN)
            a->r = -EPROTO;
        else
            a->r = colo_stream_recv_body(s, &h, buf, IO_MS);
    }
    colo_stream_free(s);
out:
    free(buf);
    return NULL;
}

/* One transfer of records PAGES records; its time in *ns. */
static int transfer(libxlcolo_ctx *ctx, enum mode mode, uint64_t records, const uint8_t *rec,
                    const uint64_t *pfns, uint64_t *ns)
{
    struct rx a = { .ctx = ctx, .mode = mode, .records = records };
    colo_stream *s = NULL;
    pthread_t th;
    int r, fd;

    a.lfd = colo_net_listen(ctx, "127.0.0.1", 0);
    if (a.lfd < 0)
        return a.lfd;
    int port = colo_net_local_port(a.lfd);
    if (port < 0) {
        close(a.lfd);
        return port;
    }
    if ((r = -pthread_create(&th, NULL, rx_main, &a)) < 0) {
        close(a.lfd);
        return r;
    }
    fd = colo_net_connect(ctx, "127.0.0.1", (uint16_t)port, WAIT_MS);
    if ((r = fd) < 0)
        goto join;
    if (mode != MODE_RAW) {
        if ((r = colo_stream_new(ctx, fd, &s)) < 0)
            goto join;
        fd = -1;
        r = colo_stream_handshake_client(s, mode == MODE_HMAC ? bench_key : NULL,
                                         mode == MODE_HMAC ? sizeof(bench_key) : 0,
                                         WAIT_MS, NULL);
        if (r < 0)
            goto join;
        colo_stream_set_send_timeout(s, IO_MS);
    } else {
        struct timeval tv = { .tv_sec = IO_MS / 1000 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }

    uint64_t t0 = colo_now_ns();
    const uint8_t *data = rec + sizeof(struct colo_wire_pages_hdr) + REC_PAGES * 8;
    for (uint64_t i = 0; i < records; i++) {
        if (mode == MODE_RAW) {
            for (size_t off = 0; off < REC_LEN;) {
                ssize_t k = send(fd, rec + off, REC_LEN - off, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k < 0) {
                    r = negative_errno();
                    goto join;
                }
                off += (size_t)k;
            }
        } else {
            int64_t sent = colo_pages_send(s, COLO_REC_F_NONE, pfns, data, REC_PAGES);
            if (sent < 0) {
                r = (int)sent;
                goto join;
            }
        }
    }
    pthread_join(th, NULL);
    *ns = colo_now_ns() - t0;
    close(a.lfd);
    colo_stream_free(s);
    closep(&fd);
    return a.r;
join:
    /* Wake the receiver: close our end, then the listener it may wait on. */
    colo_stream_free(s);
    closep(&fd);
    shutdown(a.lfd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(a.lfd);
    return r < 0 ? r : a.r;
}

static int bench_stream(libxlcolo_ctx *ctx, uint64_t total, unsigned reps, double mbps[3])
{
    uint64_t records = total / ((uint64_t)REC_PAGES * COLO_PAGE_SIZE);
    uint64_t pfns[REC_PAGES], t[3][5];
    uint8_t *rec = map_anon(REC_LEN);
    int r = 0;

    if (!rec)
        return -ENOMEM;
    /* One record's bytes: header, pfns, 4 MiB of non-zero data. */
    struct colo_wire_pages_hdr h = { .count = REC_PAGES };
    memcpy(rec, &h, sizeof(h));
    for (unsigned i = 0; i < REC_PAGES; i++)
        pfns[i] = i;
    memcpy(rec + sizeof(h), pfns, sizeof(pfns));
    for (size_t i = sizeof(h) + sizeof(pfns); i < REC_LEN; i++)
        rec[i] = (uint8_t)(rng() >> 56);

    /* Interleaved, so a noisy moment hurts every mode alike. */
    for (unsigned i = 0; i < reps && r == 0; i++)
        for (int m = 0; m < 3 && r == 0; m++)
            r = transfer(ctx, (enum mode)m, records, rec, pfns, &t[m][i]);
    for (int m = 0; m < 3 && r == 0; m++) {
        uint64_t med = pct(t[m], reps, 50);
        mbps[m] = (double)(records * REC_LEN) / ((double)med / 1e9) / 1e6;
    }
    munmap(rec, REC_LEN);
    return r;
}

/* --- main --- */

static void usage(FILE *f)
{
    fprintf(f, "usage: colo-bench [--rounds N] [--quick]\n"
               "  --rounds N  checkpoint rounds per size (default 30; --quick: 10)\n"
               "  --quick     fewer rounds, a 256 MiB stream, one transfer per mode\n"
               "Runs colo-simguest from $XLCOLO_SIMGUEST, beside it in a build tree, or PATH.\n");
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        { "rounds", required_argument, NULL, 'r' },
        { "quick", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    unsigned rounds = 0, reps = 3;
    uint64_t stream_bytes = 1ull << 30;
    bool quick = false;
    int c;

    while ((c = getopt_long(argc, argv, "r:qh", lopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'r':
            rounds = (unsigned)strtoul(optarg, &end, 10);
            if (*end || rounds < 1 || rounds > 100000) {
                fprintf(stderr, "colo-bench: --rounds: 1..100000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'q':
            quick = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (quick) {
        stream_bytes = 256ull << 20;
        reps = 1;
    }
    if (!rounds)
        rounds = quick ? 10 : 30;

    xentoollog_logger_stdiostream *lg = xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
    libxlcolo_ctx *ctx = NULL;
    struct guest g = { 0 };
    struct pause_row rows[ARRAY_SIZE(sizes)];
    double mbps[3];
    int r;

    if (!lg || libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, (xentoollog_logger *)lg) < 0) {
        fprintf(stderr, "colo-bench: no context\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    r = guest_start(ctx, &g);
    if (r == 0)
        r = bench_pause(ctx, &g, rounds, rows);
    guest_stop(&g);
    if (r < 0) {
        fprintf(stderr, "colo-bench: checkpoint pause: %s\n", strerror(-r));
        goto out;
    }

    printf("Checkpoint pause vs dirty pages (sim guest, %s, 1 vCPU, idle; %u rounds each, "
           "nearest-rank percentiles)\n", GUEST_MEM, rounds);
    printf("  timed: colo_capture_take() = pause, log-dirty clean, take bits, copy pages, "
           "context, devstate, unpause\n");
    printf("  baseline: memcpy of the same 4 KiB pages, same scattered pfns, from a local "
           "buffer of the guest's size\n");
    for (size_t s = 0; s < ARRAY_SIZE(rows); s++) {
        struct pause_row *w = &rows[s];
        bool met = (double)w->p50 <= 1.5 * (double)w->mc50 + 200e3;
        printf("pause %6" PRIu64 " pages: p50 %.3f ms  p99 %.3f ms | memcpy p50 %.3f ms  "
               "p99 %.3f ms | ratio %.2f (goal <= 1.5x + 200 us: %s)\n",
               w->pages, ms(w->p50), ms(w->p99), ms(w->mc50), ms(w->mc99),
               (double)w->p50 / (double)w->mc50, met ? "met" : "NOT met");
        if (w->min_count != w->pages || w->max_count != w->pages)
            printf("      captured %" PRIu64 "..%" PRIu64 " pages a round (the guest "
                   "dirtied the rest itself)\n", w->min_count, w->max_count);
        printf("      pause p50 by phase: stop %.3f, copy %.3f, state %.3f, restart %.3f ms\n",
               w->phase50[0] / 1e6, w->phase50[1] / 1e6, w->phase50[2] / 1e6,
               w->phase50[3] / 1e6);
        if (!w->data_ok || w->differ > GUEST_HOT_PAGES)
            printf("      WARNING: the captured data did not match what was written "
                   "(%" PRIu64 " pfns differed)\n", w->differ);
        else if (w->differ)
            printf("      data check: %" PRIu64 " pfns held the guest's own later writes "
                   "(its hot set is %u pages); the rest matched\n", w->differ,
                   GUEST_HOT_PAGES);
    }
    printf("goal: pause <= 1.5 x memcpy + 200 us (on p50)\n\n");
    fflush(stdout);

    r = bench_stream(ctx, stream_bytes, reps, mbps);
    if (r < 0) {
        fprintf(stderr, "colo-bench: stream: %s\n", strerror(-r));
        goto out;
    }
    printf("Stream throughput, loopback TCP: %" PRIu64 " MiB as %" PRIu64 " PAGES records of "
           "4 MiB (+8 KiB pfns); median of %u; MB = 10^6 bytes of record body\n",
           stream_bytes >> 20, stream_bytes / ((uint64_t)REC_PAGES * COLO_PAGE_SIZE), reps);
    printf("%-16s %8.0f MB/s\n", mode_name[MODE_RAW], mbps[MODE_RAW]);
    for (int m = MODE_HMAC; m <= MODE_INSECURE; m++) {
        double ratio = mbps[m] / mbps[MODE_RAW];
        printf("%-16s %8.0f MB/s | %.0f%% of raw (goal >= 90%%: %s)\n", mode_name[m], mbps[m],
               ratio * 100, ratio >= 0.9 ? "met" : "NOT met");
    }
    printf("goal: >= 90%% of raw loopback\n");
out:
    libxlcolo_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return r < 0 ? 1 : 0;
}
