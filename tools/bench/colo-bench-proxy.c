/*
 * colo-bench-proxy.c - colo-proxy against QEMU 7.2's colo-compare, side
 * by side in one run, with the same feeder and the same frames.
 *
 * Each measurement starts a fresh compare process on four Unix sockets in
 * a temporary folder (QEMU: qemu-system-x86_64 -M none with the
 * colo-compare object, its chardevs servers, as in
 * ../shared/qemu-colo/README.md; ours: tools/proxy/colo-proxy), connects
 * outdev, primary-in and secondary-in, and feeds the same Ethernet + IPv4
 * + TCP frames (colo_feed.c's: PSH|ACK, no handshake, the packet's index
 * in its payload) to both inputs, byte for byte the same on each, in one
 * thread around poll():
 *   packets/s   N frames, at most W in flight (sent, not yet released),
 *               written in batches of B to each input; the rate is the
 *               frames released over the time to the last release
 *   ping-pong   one frame in flight: the latency from before the
 *               primary's copy is written to its release, p50 and p99.
 *               The feeder polls outdev without sleeping, so that its own
 *               wakeup is not in the figure (the compare process's is).
 * The frames are written once and only their per-frame fields patched,
 * so that the feeder's own work is as small as it can be: it is the same
 * for both, and it is not what is measured.
 * Rounds alternate QEMU, ours, and ours with --busy-poll US (unless
 * --busy-poll 0); the table has the median of the rounds and the ratios
 * ours/QEMU, against the goals (>= 5x the packets/s, <= 1/2 the p99).
 *
 *   colo-bench-proxy [--rounds R] [--count N] [--window W] [--batch B]
 *                    [--pings P] [--busy-poll US] [--proxy PATH] [--qemu PATH]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STALL_MS 3000           /* no release for this long ends a run */

static long opt_rounds = 3, opt_count = 200000, opt_window = 1024, opt_batch = 256,
            opt_pings = 20000, opt_busy = 50;
static const char *opt_proxy, *opt_qemu = "/usr/bin/qemu-system-x86_64";
static char tmpdir[64];

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool tmpdir_made;

/* The sockets and logs in tmpdir, and tmpdir itself. */
static void remove_tmpdir(void)
{
    static const char *const files[] = { "pin.sock", "sin.sock", "out.sock", "ntf.sock",
                                         "qemu.log", "proxy.log" };
    char path[128];

    if (!tmpdir_made)
        return;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("colo-bench-proxy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* --- the compare processes ------------------------------------------------------ */

enum target { QEMU = 0, OURS, OURS_BUSY, TARGETS };
static const char *const target_name[] = { "QEMU 7.2 colo-compare", "colo-proxy",
                                           "colo-proxy --busy-poll" };

static void sock_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static pid_t start(enum target t)
{
    char pin[128], sin[128], out[128], ntf[128], log[128];
    char cpin[200], csin[200], cout[200], cntf[200], busy[32];

    sock_path(pin, sizeof(pin), "pin.sock");
    sock_path(sin, sizeof(sin), "sin.sock");
    sock_path(out, sizeof(out), "out.sock");
    sock_path(ntf, sizeof(ntf), "ntf.sock");
    snprintf(log, sizeof(log), "%s/%s.log", tmpdir, t == QEMU ? "qemu" : "proxy");
    unlink(pin); unlink(sin); unlink(out); unlink(ntf);
    snprintf(cpin, sizeof(cpin), "socket,id=pin,path=%s,server=on,wait=off", pin);
    snprintf(csin, sizeof(csin), "socket,id=sin,path=%s,server=on,wait=off", sin);
    snprintf(cout, sizeof(cout), "socket,id=out,path=%s,server=on,wait=off", out);
    snprintf(cntf, sizeof(cntf), "socket,id=ntf,path=%s,server=on,wait=off", ntf);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (t == QEMU)
            execl(opt_qemu, opt_qemu, "-M", "none", "-nodefaults", "-display", "none",
                  "-chardev", cpin, "-chardev", csin, "-chardev", cout, "-chardev", cntf,
                  "-object", "iothread,id=iot0",
                  "-object", "colo-compare,id=comp0,primary_in=pin,secondary_in=sin,"
                             "outdev=out,iothread=iot0,notify_dev=ntf",
                  (char *)NULL);
        snprintf(busy, sizeof(busy), "%ld", t == OURS_BUSY ? opt_busy : 0);
        if (t != QEMU)
            execl(opt_proxy, opt_proxy, "--primary-in", pin, "--secondary-in", sin,
                  "--outdev", out, "--notify", ntf, "--busy-poll", busy, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* SIGTERM, then SIGKILL if it is not gone in 10 s: the CPU time it used
 * (user and system), in seconds. */
static double stop(pid_t pid)
{
    struct rusage ru;
    int st;

    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (wait4(pid, &st, WNOHANG, &ru) == pid)
            goto gone;
        poll(NULL, 0, 10);
    }
    kill(pid, SIGKILL);
    wait4(pid, &st, 0, &ru);
gone:
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Connect to name in tmpdir, as long as the process is starting (10 s at
 * most). */
static int uconnect(const char *name, pid_t pid)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int st;

    sock_path(sa.sun_path, sizeof(sa.sun_path), name);
    for (int i = 0; i < 1000; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
        close(fd);
        if (waitpid(pid, &st, WNOHANG) == pid)
            die("the compare process exited before %s listened (see its log)", name);
        poll(NULL, 0, 10);
    }
    die("%s never listened", sa.sun_path);
}

/* --- the frames: colo_feed.c's ------------------------------------------------------ */

#define L2 14
#define L3 20
#define L4 20

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

static uint16_t ip_csum(const uint8_t *p)
{
    uint32_t s = 0;

    for (int i = 0; i < L3; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* The record of frame 0 (be32 length, the frame), made once per run. */
static uint8_t tmpl[4 + L2 + L3 + L4 + 65536];

static void make_template(long payload, uint16_t sport)
{
    static const uint8_t dst[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    static const uint8_t src[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
    size_t len = L2 + L3 + L4 + (size_t)payload;
    uint8_t *p = tmpl + 4;

    put32(tmpl, (uint32_t)len);
    memcpy(p, dst, 6);
    memcpy(p + 6, src, 6);
    put16(p + 12, 0x0800);
    uint8_t *ip = p + L2;
    memset(ip, 0, L3);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(L3 + L4 + payload));
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, 0x0a000001);
    put32(ip + 16, 0x0a000002);
    uint8_t *tcp = ip + L3;
    memset(tcp, 0, L4);
    put16(tcp, sport);
    put16(tcp + 2, 5001);
    put32(tcp + 8, 5000);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    put16(tcp + 14, 65535);
    uint8_t *pl = tcp + L4;
    for (long i = 0; i < payload; i++)
        pl[i] = (uint8_t)(i * 7 + 3);
}

/* Fill buf with k copies of the record of frame 0, for patch(). */
static void fill(uint8_t *buf, long k, long payload, uint16_t sport)
{
    size_t n = 4 + L2 + L3 + L4 + (size_t)payload;

    make_template(payload, sport);
    for (long j = 0; j < k; j++)
        memcpy(buf + (size_t)j * n, tmpl, n);
}

/* Make the record at rec (a copy of the template) that of frame idx: its
 * IP ID (and the IP checksum), its sequence number and its index (the
 * payload's first 8 bytes). The rest is the same in every frame, so it is
 * written once (fill()), not per frame: the feeder's own work is not what
 * is measured. */
static void patch(uint8_t *rec, long idx, long payload)
{
    uint8_t *ip = rec + 4 + L2, *tcp = ip + L3;

    put16(ip + 4, (uint16_t)idx);
    put16(ip + 10, 0);
    put16(ip + 10, ip_csum(ip));
    put32(tcp + 4, 1000 + (uint32_t)(idx * payload));
    uint64_t v = (uint64_t)idx;
    memcpy(tcp + L4, &v, 8);
}

/* --- the feeder --------------------------------------------------------------------- */

struct wq {
    int fd;
    uint8_t *buf;
    size_t len, off;
};

static int wq_flush(struct wq *q)
{
    while (q->off < q->len) {
        ssize_t n = send(q->fd, q->buf + q->off, q->len - q->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        q->off += (size_t)n;
    }
    q->len = q->off = 0;
    return 0;
}

struct result {
    long sent, released, dup;
    double rate;                /* packets/s */
    double p50, p99;            /* latency, us */
    double cpu;                 /* the compare process's CPU time, s */
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One run on a fresh process of target t. */
static struct result feed(enum target t, long n, long payload, long window, long batch,
                          uint16_t sport)
{
    pid_t pid = start(t);
    int out = uconnect("out.sock", pid);
    struct wq pri = { .fd = uconnect("pin.sock", pid) }, sec = { .fd = uconnect("sin.sock", pid) };
    size_t rec = 4 + L2 + L3 + L4 + (size_t)payload;
    uint64_t *t_send = calloc((size_t)n, sizeof(*t_send));
    uint64_t *lat = calloc((size_t)n, sizeof(*lat));
    bool *seen = calloc((size_t)n, 1);
    size_t rcap = 1 << 22, rhave = 0;
    uint8_t *rbuf = malloc(rcap);
    struct result res = { 0 };
    uint64_t start_ns, last_ns, progress_ns;

    pri.buf = malloc(rec * (size_t)batch);
    sec.buf = malloc(rec * (size_t)batch);
    if (!t_send || !lat || !seen || !rbuf || !pri.buf || !sec.buf)
        die("%s", "out of memory");
    fill(pri.buf, batch, payload, sport);
    fill(sec.buf, batch, payload, sport);
    /* Let the process take its peers before the first frame. */
    poll(NULL, 0, 100);
    start_ns = last_ns = progress_ns = now_ns();
    while (res.released < n) {
        if (res.sent < n && pri.len == 0 && sec.len == 0 && res.sent - res.released < window) {
            long k = window - (res.sent - res.released);
            if (k > batch)
                k = batch;
            if (k > n - res.sent)
                k = n - res.sent;
            for (long j = 0; j < k; j++) {
                patch(pri.buf + pri.len, res.sent + j, payload);
                patch(sec.buf + sec.len, res.sent + j, payload);
                pri.len += rec;
                sec.len += rec;
            }
            uint64_t tb = now_ns();   /* before the primary's copy is written */
            for (long j = 0; j < k; j++)
                t_send[res.sent + j] = tb;
            res.sent += k;
            if (wq_flush(&pri) < 0 || wq_flush(&sec) < 0)
                break;
        }
        struct pollfd pf[3] = {
            { .fd = out, .events = POLLIN },
            { .fd = pri.fd, .events = pri.len ? POLLOUT : 0 },
            { .fd = sec.fd, .events = sec.len ? POLLOUT : 0 },
        };
        int r = poll(pf, 3, window == 1 ? 0 : 100);
        if (r < 0 && errno != EINTR)
            break;
        if (pri.len && wq_flush(&pri) < 0)
            break;
        if (sec.len && wq_flush(&sec) < 0)
            break;
        if (pf[0].revents) {
            ssize_t got = read(out, rbuf + rhave, rcap - rhave);
            if (got <= 0 && !(got < 0 && errno == EAGAIN))
                break;
            if (got > 0) {
                uint64_t tr = now_ns();
                rhave += (size_t)got;
                size_t off = 0;
                while (rhave - off >= 4) {
                    uint32_t len = (uint32_t)rbuf[off] << 24 | (uint32_t)rbuf[off + 1] << 16 |
                                   (uint32_t)rbuf[off + 2] << 8 | rbuf[off + 3];
                    if (rhave - off < 4 + (size_t)len)
                        break;
                    uint64_t idx = UINT64_MAX;
                    if (len >= L2 + L3 + L4 + 8)
                        memcpy(&idx, rbuf + off + 4 + L2 + L3 + L4, 8);
                    if (idx < (uint64_t)n && !seen[idx]) {
                        seen[idx] = true;
                        lat[res.released++] = tr - t_send[idx];
                        last_ns = tr;
                    } else {
                        res.dup++;
                    }
                    off += 4 + len;
                }
                memmove(rbuf, rbuf + off, rhave - off);
                rhave -= off;
                progress_ns = tr;
            }
        }
        if (now_ns() - progress_ns > STALL_MS * 1000000ull)
            break;
    }
    double el = (double)(last_ns - start_ns) / 1e9;
    res.rate = el > 0 ? (double)res.released / el : 0;
    if (res.released) {
        qsort(lat, (size_t)res.released, sizeof(*lat), cmp_u64);
        res.p50 = (double)lat[res.released / 2] / 1e3;
        res.p99 = (double)lat[(size_t)((double)res.released * 0.99)] / 1e3;
    }
    close(out);
    close(pri.fd);
    close(sec.fd);
    res.cpu = stop(pid);
    free(t_send); free(lat); free(seen); free(rbuf); free(pri.buf); free(sec.buf);
    return res;
}

/* --- the table ---------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, long n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return v[n / 2];
}

static const char *self_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);

    if (n <= 0)
        return ".";
    buf[n] = '\0';
    char *s = strrchr(buf, '/');
    if (s)
        *s = '\0';
    /* A libtool wrapper runs us from .libs/. */
    s = strrchr(buf, '/');
    if (s && strcmp(s, "/.libs") == 0)
        *s = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "rounds", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'n' },
        { "window", required_argument, NULL, 'w' },
        { "batch", required_argument, NULL, 'b' },
        { "pings", required_argument, NULL, 'p' },
        { "busy-poll", required_argument, NULL, 'B' },
        { "proxy", required_argument, NULL, 'P' },
        { "qemu", required_argument, NULL, 'Q' },
        { NULL, 0, NULL, 0 },
    };
    char self[4096], proxy[4200];
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': opt_rounds = atol(optarg); break;
        case 'n': opt_count = atol(optarg); break;
        case 'w': opt_window = atol(optarg); break;
        case 'b': opt_batch = atol(optarg); break;
        case 'p': opt_pings = atol(optarg); break;
        case 'B': opt_busy = atol(optarg); break;
        case 'P': opt_proxy = optarg; break;
        case 'Q': opt_qemu = optarg; break;
        default:
            fprintf(stderr, "usage: colo-bench-proxy [--rounds R] [--count N] [--window W] "
                            "[--batch B] [--pings P] [--busy-poll US] [--proxy PATH] "
                            "[--qemu PATH]\n");
            return 2;
        }
    }
    if (opt_rounds < 1 || opt_count < 1 || opt_window < 1 || opt_batch < 1 || opt_pings < 100 ||
        opt_busy < 0 || opt_busy > 10000)
        die("%s", "--rounds, --count, --window, --batch must be positive, --pings >= 100, "
                  "--busy-poll 0..10000");
    if (!opt_proxy) {
        snprintf(proxy, sizeof(proxy), "%s/../proxy/colo-proxy", self_dir(self, sizeof(self)));
        opt_proxy = proxy;
    }
    if (access(opt_proxy, X_OK) < 0)
        die("no colo-proxy at %s (--proxy PATH)", opt_proxy);
    if (access(opt_qemu, X_OK) < 0)
        die("no QEMU at %s (--qemu PATH)", opt_qemu);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/colo-bench-proxy.XXXXXX");
    if (!mkdtemp(tmpdir))
        die("mkdtemp: %s", strerror(errno));
    tmpdir_made = true;
    atexit(remove_tmpdir);  /* a run that dies leaves nothing either */
    signal(SIGPIPE, SIG_IGN);

    enum { PPS64, PPS1400, PING, TESTS };
    double rate[TESTS][TARGETS][64], p50[TARGETS][64], p99[TARGETS][64];
    long rounds = opt_rounds > 64 ? 64 : opt_rounds;
    int last = opt_busy ? OURS_BUSY : OURS;
    bool complete = true;
    uint16_t sport = 40000;
    char busy_name[64];
    snprintf(busy_name, sizeof(busy_name), "%s %ld", target_name[OURS_BUSY], opt_busy);
    const char *name[TARGETS] = { target_name[QEMU], target_name[OURS], busy_name };
    printf("# %ld rounds, %s alternating; packets/s: %ld frames, window %ld, "
           "batch %ld; ping-pong: %ld frames, window 1\n", rounds,
           opt_busy ? "QEMU, ours and ours busy polling" : "QEMU and ours",
           opt_count, opt_window, opt_batch, opt_pings);
    for (long r = 0; r < rounds; r++) {
        for (int t = QEMU; t <= last; t++) {
            struct result x;
            x = feed((enum target)t, opt_count, 64, opt_window, opt_batch, sport++);
            rate[PPS64][t][r] = x.rate;
            complete &= x.released == opt_count;
            printf("# round %ld %-29s 64 B:   %ld/%ld released, %.0f pkt/s, CPU %.2f s\n",
                   r + 1, name[t], x.released, x.sent, x.rate, x.cpu);
            x = feed((enum target)t, opt_count / 2, 1400, opt_window, opt_batch, sport++);
            rate[PPS1400][t][r] = x.rate;
            complete &= x.released == opt_count / 2;
            printf("# round %ld %-29s 1400 B: %ld/%ld released, %.0f pkt/s, CPU %.2f s\n",
                   r + 1, name[t], x.released, x.sent, x.rate, x.cpu);
            x = feed((enum target)t, opt_pings, 64, 1, 1, sport++);
            p50[t][r] = x.p50;
            p99[t][r] = x.p99;
            complete &= x.released == opt_pings;
            printf("# round %ld %-29s ping:   %ld/%ld released, p50 %.1f us, p99 %.1f us, "
                   "CPU %.2f s\n", r + 1, name[t], x.released, x.sent, x.p50, x.p99, x.cpu);
            fflush(stdout);
        }
    }
    /* One row per figure: QEMU's, then each of ours with its ratio and
     * whether it meets the goal. */
    printf("\n%-20s %10s", "median of the rounds", "QEMU 7.2");
    for (int t = OURS; t <= last; t++)
        printf(" %12s %-12s", t == OURS ? "colo-proxy" : "--busy-poll", "ours/QEMU");
    printf(" goal\n");
    static const char *const row[] = { "packets/s, 64 B", "packets/s, 1400 B",
                                       "ping-pong p50, us", "ping-pong p99, us" };
    for (int k = 0; k < 4; k++) {
        double v[TARGETS];
        for (int t = QEMU; t <= last; t++)
            v[t] = k == 0 ? median(rate[PPS64][t], rounds) : k == 1 ? median(rate[PPS1400][t], rounds)
                 : k == 2 ? median(p50[t], rounds) : median(p99[t], rounds);
        printf("%-20s %10.*f", row[k], k < 2 ? 0 : 1, v[QEMU]);
        for (int t = OURS; t <= last; t++) {
            double x = v[t] / v[QEMU];
            const char *verdict = k < 2 ? (x >= 5 ? "met" : "MISSED")
                                : k == 3 ? (x <= 0.5 ? "met" : "MISSED") : "";
            char cell[32];
            snprintf(cell, sizeof(cell), "%.2fx %s", x, verdict);
            printf(" %12.*f %-12s", k < 2 ? 0 : 1, v[t], cell);
        }
        printf(" %s\n", k < 2 ? ">= 5x" : k == 3 ? "<= 0.5x" : "");
    }
    if (!complete)
        printf("# some runs did not release every frame (see the round lines)\n");
    return 0;
}
