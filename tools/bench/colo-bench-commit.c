/*
 * colo-bench-commit.c - the output latency that protection adds: the time
 * from a guest's send to its release, p50 and p99, protected and not,
 * through the same service in the same run. Remus (the default): the
 * output commit, each frame held until its epoch is acknowledged. --colo:
 * the comparison, each frame released once the secondary's copy (sent
 * right after it, as a secondary that agrees) has matched; no divergence,
 * so no checkpoint but the periodic one (-i).
 *
 * It protects a sim guest from host a/ to host b/ of a temporary folder
 * over loopback (xl-colo receive, then xl-colo start in Remus mode with
 * --proxy primary-in=..,outdev=..,status=..), and sends a frame on
 * primary-in every 1/RATE s for SECONDS, its send time in its payload;
 * each frame's latency is its release on outdev less that time. Then the
 * secondary is killed: the primary goes on alone and the same service
 * passes the frames through, and the same measurement is the baseline.
 * Each phase: p50, p99, max; then what the commit adds, and p50 against
 * the checkpoint interval (a frame waits on average half an interval,
 * then its checkpoint).
 *
 *   colo-bench-commit [--colo] [--interval MS] [--rate HZ] [--seconds S]
 *                     [--mem SIZE] [--workload NAME]
 *
 * xl-colo and colo-simguest are the build tree's, found from this
 * program's own path. Every wait is bounded; every process it started
 * is stopped and the folder removed at the end.
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
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 60000
#define FRAME_LEN 64

static long opt_interval = 20, opt_rate = 1000, opt_seconds = 5;
static bool opt_colo;
static const char *opt_mem = "64M", *opt_workload = "web";
static char tmpdir[64], xlcolo[4096], simguest[4096];
static pid_t pri_pid = -1, sec_pid = -1, guest_pid = -1;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cleanup(void)
{
    int st;

    if (pri_pid > 0) {
        kill(pri_pid, SIGKILL);
        waitpid(pri_pid, &st, 0);
    }
    if (sec_pid > 0) {
        kill(sec_pid, SIGKILL);
        waitpid(sec_pid, &st, 0);
    }
    if (guest_pid > 0)
        kill(guest_pid, SIGKILL);
    /* The secondary's guest, which its receive started and which outlives
     * it (a sim guest is a daemon): its pid file. */
    if (tmpdir[0]) {
        char pf[160], buf[32];
        snprintf(pf, sizeof(pf), "%s/b/sim/bench.pid", tmpdir);
        int fd = open(pf, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n > 0) {
            buf[n] = '\0';
            pid_t gp = (pid_t)atoi(buf);
            if (gp > 1)
                kill(gp, SIGKILL);
        }
    }
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "colo-bench-commit: cannot remove %s\n", tmpdir);
    }
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("colo-bench-commit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup();
    exit(1);
}

/* Run argv with stdout and stderr to log (NULL: ours); its pid. */
static pid_t spawn(char *const argv[], const char *log, bool capture_stdout, int *out_fd)
{
    int p[2] = { -1, -1 };

    if (capture_stdout && pipe(p) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (capture_stdout)
            dup2(p[1], 1);
        setenv("XLCOLO_ARBITER", "none", 1);
        setenv("XLCOLO_SIMGUEST", simguest, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    if (capture_stdout) {
        close(p[1]);
        *out_fd = p[0];
    }
    return pid;
}

static int uconnect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint64_t end = now_ns() + (uint64_t)WAIT_MS * 1000000;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        close(fd);
        if (now_ns() > end)
            die("%s never listened (see %s/a/pri.err)", path, tmpdir);
        poll(NULL, 0, 10);
    }
}

/* The service's status line has needle in it, within WAIT_MS. */
static void wait_status(const char *needle)
{
    char path[128], line[16384];
    uint64_t end = now_ns() + (uint64_t)WAIT_MS * 1000000;

    snprintf(path, sizeof(path), "%s/a/nic/st.sock", tmpdir);
    for (;;) {
        int fd = uconnect(path);
        size_t have = 0;
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        while (have < sizeof(line) - 1 && poll(&pf, 1, 5000) == 1) {
            ssize_t n = read(fd, line + have, sizeof(line) - 1 - have);
            if (n <= 0)
                break;
            have += (size_t)n;
        }
        close(fd);
        line[have] = '\0';
        if (strstr(line, needle))
            return;
        if (now_ns() > end)
            die("the service never said %s: %s", needle, line);
        poll(NULL, 0, 20);
    }
}

/* A loopback port nobody listens on now. */
static int free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("a free port: %s", strerror(errno));
    close(fd);
    return ntohs(sa.sin_port);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double p50_ms, p99_ms, max_ms;
    long frames;
};

/* One phase: a frame every 1/rate s for seconds, each one's latency;
 * with sec >= 0 (COLO) its copy on secondary-in right after it. */
static struct result measure(int pri, int sec, int out)
{
    long n = opt_rate * opt_seconds;
    uint64_t *lat = calloc((size_t)n, sizeof(*lat));
    uint64_t period = 1000000000ull / (uint64_t)opt_rate, t0 = now_ns();
    uint8_t rx[1 << 16];
    size_t have = 0;
    long sent = 0, got = 0;

    if (!lat)
        die("out of memory");
    uint64_t deadline = t0 + (uint64_t)opt_seconds * 1000000000ull +
                        (uint64_t)WAIT_MS * 1000000;
    while (got < n) {
        uint64_t now = now_ns();
        if (now > deadline)
            die("%ld of %ld frames released in time", got, n);
        if (sent < n && now >= t0 + (uint64_t)sent * period) {
            uint8_t f[4 + FRAME_LEN] = { 0, 0, 0, FRAME_LEN };
            memset(f + 4, 0xff, 6);                 /* broadcast */
            f[4 + 12] = 0x88;                       /* a local experimental type */
            f[4 + 13] = 0xb5;
            put64(f + 4 + 14, (uint64_t)sent);
            put64(f + 4 + 22, now_ns());
            if (send(pri, f, sizeof(f), MSG_NOSIGNAL) != (ssize_t)sizeof(f))
                die("primary-in: %s", strerror(errno));
            if (sec >= 0 && send(sec, f, sizeof(f), MSG_NOSIGNAL) != (ssize_t)sizeof(f))
                die("secondary-in: %s", strerror(errno));
            sent++;
            continue;
        }
        uint64_t next = sent < n ? t0 + (uint64_t)sent * period : now + 100000000ull;
        int wait_ms = next > now ? (int)((next - now) / 1000000) : 0;
        struct pollfd pf = { .fd = out, .events = POLLIN };
        if (poll(&pf, 1, wait_ms) == 1) {
            ssize_t r = read(out, rx + have, sizeof(rx) - have);
            if (r <= 0)
                die("outdev closed");
            have += (size_t)r;
            uint64_t t = now_ns();
            size_t off = 0;
            while (have - off >= 4 + FRAME_LEN) {
                uint32_t len = (uint32_t)rx[off] << 24 | (uint32_t)rx[off + 1] << 16 |
                               (uint32_t)rx[off + 2] << 8 | rx[off + 3];
                if (len != FRAME_LEN)
                    die("a frame of %u bytes released", len);
                uint64_t seq = get64(rx + off + 4 + 14), ts = get64(rx + off + 4 + 22);
                if ((long)seq != got)
                    die("frame %llu released where %ld was due", (unsigned long long)seq, got);
                lat[got++] = t - ts;
                off += 4 + FRAME_LEN;
            }
            memmove(rx, rx + off, have - off);
            have -= off;
        }
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
    struct result res = {
        .p50_ms = (double)lat[n / 2] / 1e6,
        .p99_ms = (double)lat[(n * 99) / 100] / 1e6,
        .max_ms = (double)lat[n - 1] / 1e6,
        .frames = n,
    };
    free(lat);
    return res;
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
    s = strrchr(buf, '/');
    if (s && strcmp(s, "/.libs") == 0)
        *s = '\0';
    return buf;
}

static long parse_long(const char *opt, const char *s, long min, long max)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "colo-bench-commit: %s %s: must be %ld..%ld\n", opt, s, min, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "colo", no_argument, NULL, 'c' },
        { "interval", required_argument, NULL, 'i' },
        { "rate", required_argument, NULL, 'r' },
        { "seconds", required_argument, NULL, 's' },
        { "mem", required_argument, NULL, 'm' },
        { "workload", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    char self[2048], path[256], key[128], spec[512], iv[32];
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt_colo = true; break;
        case 'i': opt_interval = parse_long("--interval", optarg, 1, 60000); break;
        case 'r': opt_rate = parse_long("--rate", optarg, 1, 100000); break;
        case 's': opt_seconds = parse_long("--seconds", optarg, 1, 600); break;
        case 'm': opt_mem = optarg; break;
        case 'w': opt_workload = optarg; break;
        default:
            fprintf(stderr, "usage: colo-bench-commit [--colo] [--interval MS] [--rate HZ] "
                    "[--seconds S] [--mem SIZE] [--workload NAME]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    self_dir(self, sizeof(self));
    snprintf(xlcolo, sizeof(xlcolo), "%s/../../xl-plugin/xl-colo", self);
    snprintf(simguest, sizeof(simguest), "%s/../simguest/colo-simguest", self);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/colo-bench-commit.XXXXXX");
    if (!mkdtemp(tmpdir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof(path), "%s/a", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/a/nic", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/b", tmpdir);
    mkdir(path, 0700);
    snprintf(key, sizeof(key), "%s/key", tmpdir);
    int kfd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint8_t kb[32];
    int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (kfd < 0 || ufd < 0 || read(ufd, kb, sizeof(kb)) != sizeof(kb) ||
        write(kfd, kb, sizeof(kb)) != sizeof(kb))
        die("key: %s", strerror(errno));
    close(kfd);
    close(ufd);

    /* The guest (its daemon prints its pid), the secondary, the primary. */
    char adir[128], bdir[128], log[160];
    snprintf(adir, sizeof(adir), "%s/a", tmpdir);
    snprintf(bdir, sizeof(bdir), "%s/b", tmpdir);
    char *gargv[] = { simguest, "run", "--daemon", "--rundir", adir, "--name", "bench",
                      "--mem", (char *)opt_mem, "--vcpus", "1", "--workload",
                      (char *)opt_workload, "--seed", "7", NULL };
    int gout = -1, st;
    pid_t g = spawn(gargv, NULL, true, &gout);
    char gbuf[32] = "";
    ssize_t gn = read(gout, gbuf, sizeof(gbuf) - 1);
    close(gout);
    if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || gn <= 0)
        die("colo-simguest run failed");
    guest_pid = atoi(gbuf);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
    snprintf(log, sizeof(log), "%s/sec.err", bdir);
    char *sargv[] = { xlcolo, "--rundir", bdir, "receive", "--listen", listen, "--key", key,
                      "--timeout", "10000", NULL };
    sec_pid = spawn(sargv, log, false, NULL);
    snprintf(spec, sizeof(spec), "primary-in=%s/a/nic/pin.sock,outdev=%s/a/nic/out.sock,"
             "status=%s/a/nic/st.sock%s%s%s", tmpdir, tmpdir, tmpdir,
             opt_colo ? ",secondary-in=" : "", opt_colo ? tmpdir : "",
             opt_colo ? "/a/nic/sin.sock" : "");
    snprintf(iv, sizeof(iv), "%ld", opt_interval);
    snprintf(log, sizeof(log), "%s/pri.err", adir);
    /* The secondary listens before the primary connects: the primary
     * retries its connect within its timeout. */
    char *pargv[16] = { xlcolo, "--rundir", adir, "start", "--key", key, "-i", iv,
                        "--timeout", "10000", "--proxy", spec };
    int pn = 12;
    if (opt_colo)
        pargv[pn++] = "--colo";
    pargv[pn++] = "bench";
    pargv[pn++] = listen;
    pargv[pn] = NULL;
    pri_pid = spawn(pargv, log, false, NULL);

    snprintf(path, sizeof(path), "%s/a/nic/out.sock", tmpdir);
    int out = uconnect(path);
    snprintf(path, sizeof(path), "%s/a/nic/pin.sock", tmpdir);
    int pri = uconnect(path), sec = -1;
    if (opt_colo) {
        snprintf(path, sizeof(path), "%s/a/nic/sin.sock", tmpdir);
        sec = uconnect(path);
    }
    /* Protected: epoch 0 committed (Remus), or done (COLO). */
    wait_status(opt_colo ? "\"checkpoints_done\":1" : "\"commits\":1");

    struct result prot = measure(pri, sec, out);
    kill(sec_pid, SIGKILL);
    waitpid(sec_pid, &st, 0);
    sec_pid = -1;
    wait_status("\"alone\":true");
    struct result alone = measure(pri, -1, out);

    printf("%s, sim guest %s (%s), checkpoint every %ld ms, a %d-byte frame every %.3f ms "
           "for %ld s per phase\n", opt_colo ? "COLO comparison, no divergence" :
           "Remus output commit", opt_mem, opt_workload, opt_interval, FRAME_LEN,
           1000.0 / (double)opt_rate, opt_seconds);
    printf("%-36s %10s %10s %10s\n", "send to release", "p50 ms", "p99 ms", "max ms");
    printf("%-36s %10.3f %10.3f %10.3f\n", opt_colo ? "protected (released when matched)" :
           "protected (held until acknowledged)", prot.p50_ms,
           prot.p99_ms, prot.max_ms);
    printf("%-36s %10.3f %10.3f %10.3f\n", "unprotected (same service, alone)", alone.p50_ms,
           alone.p99_ms, alone.max_ms);
    printf("%-36s %10.3f %10.3f\n", "added by protection", prot.p50_ms - alone.p50_ms,
           prot.p99_ms - alone.p99_ms);
    if (!opt_colo)
        printf("added p50 / interval: %.2f (a frame waits half an epoch on average, then its "
               "checkpoint)\n", (prot.p50_ms - alone.p50_ms) / (double)opt_interval);
    close(pri);
    if (sec >= 0)
        close(sec);
    close(out);
    cleanup();
    return 0;
}
