/*
 * test_proxy_commit.c - Remus output commit in the proxy service
 * (proxy/service/commit.h), driven through the service's own sockets and
 * calls, its loop in a thread as a protection runs it: a frame is held
 * until the epoch it came in is acknowledged; one that comes after the
 * epoch's end waits for the next acknowledgement, also when the
 * acknowledgement and the next epoch's end are asked back to back; an
 * acknowledgement with no epoch ended releases nothing; past half its
 * bound the buffer asks for one checkpoint, at its bound it drops and
 * counts; alone, everything held goes and the rest passes through.
 * What the service holds is read on its status socket, which answers
 * from its own thread.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "macro.h"
#include "proxy/service/proxy.h"
#include "unit-util.h"

#define WAIT_MS 10000

struct svc {
    char dir[64];
    char path[3][128];              /* pin, out, st */
    struct proxy *p;
    int stop_fd;
    pthread_t thread;
    int pri, out;                   /* our peers */
    atomic_int asked;               /* checkpoint requests */
    char last[512];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_line(void *opaque, enum proxy_level lvl, const char *line)
{
    struct svc *s = opaque;
    (void)lvl;
    snprintf(s->last, sizeof(s->last), "%s", line);
}

static void on_checkpoint(void *opaque)
{
    struct svc *s = opaque;
    atomic_fetch_add(&s->asked, 1);
}

static void *run(void *opaque)
{
    struct svc *s = opaque;
    proxy_run(s->p, s->stop_fd);
    return NULL;
}

static int uconnect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        abort();
    return fd;
}

/* The service, buffering, with max_mem (0: its default), in a thread;
 * outdev and primary-in connected. */
static int svc_start(struct svc *s, uint64_t max_mem)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "/tmp/test_proxy_commit.XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    static const char *const names[3] = { "pin.sock", "out.sock", "st.sock" };
    char dir[sizeof(s->dir)];           /* not s's own bytes: -Werror=restrict */
    memcpy(dir, s->dir, sizeof(dir));
    for (int i = 0; i < 3; i++)
        snprintf(s->path[i], sizeof(s->path[i]), "%s/%s", dir, names[i]);
    struct proxy_opts o = {
        .path = { [EP_PRIMARY] = s->path[0], [EP_OUTDEV] = s->path[1], [EP_STATUS] = s->path[2] },
        .max_mem = max_mem,
        .buffer = true,
        .log = { on_line, s },
        .checkpoint = on_checkpoint,
        .checkpoint_opaque = s,
    };
    if (proxy_open(&o, &s->p) != 0)
        return -1;
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (s->stop_fd < 0 || pthread_create(&s->thread, NULL, run, s) != 0)
        return -1;
    s->out = uconnect(s->path[1]);  /* first: the client gets every frame */
    s->pri = uconnect(s->path[0]);
    return 0;
}

static void svc_stop(struct svc *s)
{
    uint64_t one = 1;

    close(s->pri);
    close(s->out);
    CU_ASSERT_EQUAL(write(s->stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    pthread_join(s->thread, NULL);
    proxy_free(s->p);                   /* removes the sockets */
    close(s->stop_fd);
    CU_ASSERT_EQUAL(rmdir(s->dir), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Frame number i: len bytes (at least 14), its number first. */
static void send_frame(struct svc *s, uint32_t i, size_t len)
{
    uint8_t b[4 + 2048] = { 0 };

    put32(b, (uint32_t)len);
    put32(b + 4, i);
    memset(b + 8, (int)(i & 0xff), len - 4);
    CU_ASSERT_EQUAL(send(s->pri, b, 4 + len, MSG_NOSIGNAL), (ssize_t)(4 + len));
}

/* The next frame on outdev, within WAIT_MS: its number, or -1. */
static long recv_frame(struct svc *s)
{
    uint8_t h[4], b[2048];
    size_t have = 0, need = sizeof(h);
    uint8_t *dst = h;
    uint64_t end = now_ms() + WAIT_MS;

    for (int part = 0; part < 2; part++) {
        while (have < need) {
            struct pollfd pf = { .fd = s->out, .events = POLLIN };
            uint64_t t = now_ms();
            if (t >= end || poll(&pf, 1, (int)(end - t)) != 1)
                return -1;
            ssize_t n = read(s->out, dst + have, need - have);
            if (n <= 0)
                return -1;
            have += (size_t)n;
        }
        if (part == 0) {
            need = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
            if (need < 4 || need > sizeof(b))
                return -1;
            have = 0;
            dst = b;
        }
    }
    return (long)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
}

/* commit.key, as the service says now. */
static uint64_t commit_get(struct svc *s, const char *key)
{
    char line[8192], err[96];
    size_t have = 0;
    int fd = uconnect(s->path[2]);
    struct pollfd pf = { .fd = fd, .events = POLLIN };

    while (have < sizeof(line) - 1 && poll(&pf, 1, WAIT_MS) == 1) {
        ssize_t n = read(fd, line + have, sizeof(line) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    line[have] = '\0';
    _cleanup_tree_ yajl_val v = NULL;
    yajl_val c = NULL;
    uint64_t out = UINT64_MAX;
    if (colo_json_parse(line, &v, err, sizeof(err)) == 0 &&
        colo_json_get(v, "commit", &c, err, sizeof(err)) == 0 && c)
        colo_json_get_u64(c, key, UINT64_MAX, &out, err, sizeof(err));
    return out;
}

/* Until commit.key is want, bounded: true if it came. */
static bool commit_wait(struct svc *s, const char *key, uint64_t want)
{
    uint64_t end = now_ms() + WAIT_MS;

    while (commit_get(s, key) != want)
        if (now_ms() > end)
            return false;
    return true;
}

static void test_held_until_acknowledged(void)
{
    struct svc s;

    CU_ASSERT_FATAL(svc_start(&s, 0) == 0);
    send_frame(&s, 1, 60);
    CU_ASSERT(commit_wait(&s, "held", 1));
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 1000), 0);            /* epoch N: frame 1 */
    send_frame(&s, 2, 60);                                      /* epoch N + 1 */
    CU_ASSERT(commit_wait(&s, "held", 2));
    proxy_checkpoint_complete(s.p);                             /* N acknowledged */
    CU_ASSERT_EQUAL(recv_frame(&s), 1);
    CU_ASSERT(commit_wait(&s, "commits", 1));
    CU_ASSERT_EQUAL(commit_get(&s, "held"), 1);                 /* frame 2 waits */
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 1000), 0);
    proxy_checkpoint_complete(s.p);
    CU_ASSERT_EQUAL(recv_frame(&s), 2);
    CU_ASSERT(commit_wait(&s, "released", 2));
    CU_ASSERT_EQUAL(atomic_load(&s.asked), 0);
    svc_stop(&s);
}

static void test_back_to_back(void)
{
    struct svc s;

    CU_ASSERT_FATAL(svc_start(&s, 0) == 0);
    send_frame(&s, 1, 60);
    CU_ASSERT(commit_wait(&s, "held", 1));
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 1000), 0);
    send_frame(&s, 2, 60);
    CU_ASSERT(commit_wait(&s, "held", 2));
    /* N's acknowledgement and N + 1's end, one after the other, as the
     * engine asks them when the next checkpoint follows at once: frame 2
     * is N + 1's, whatever the service takes first. */
    proxy_checkpoint_complete(s.p);
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 1000), 0);
    CU_ASSERT_EQUAL(recv_frame(&s), 1);
    CU_ASSERT(commit_wait(&s, "before_barrier", 1));
    CU_ASSERT_EQUAL(commit_get(&s, "held"), 1);
    send_frame(&s, 3, 60);                                      /* N + 2's */
    CU_ASSERT(commit_wait(&s, "held", 2));
    proxy_checkpoint_complete(s.p);
    CU_ASSERT_EQUAL(recv_frame(&s), 2);
    CU_ASSERT(commit_wait(&s, "commits", 2));
    CU_ASSERT_EQUAL(commit_get(&s, "held"), 1);
    svc_stop(&s);
}

static void test_ack_without_epoch(void)
{
    struct svc s;

    CU_ASSERT_FATAL(svc_start(&s, 0) == 0);
    send_frame(&s, 1, 60);
    CU_ASSERT(commit_wait(&s, "held", 1));
    proxy_checkpoint_complete(s.p);             /* no epoch ended here: not its */
    send_frame(&s, 2, 60);                      /* taken after the acknowledgement */
    CU_ASSERT(commit_wait(&s, "held", 2));
    CU_ASSERT_EQUAL(commit_get(&s, "commits"), 0);
    CU_ASSERT_EQUAL(commit_get(&s, "released"), 0);
    svc_stop(&s);
}

static void test_bounds(void)
{
    struct svc s;
    enum { N = 1400, LEN = 1000 };      /* 1.4 MB of frames, over the 1 MiB bound */

    CU_ASSERT_FATAL(svc_start(&s, 1 << 20) == 0);
    for (uint32_t i = 0; i < N; i++)
        send_frame(&s, i, LEN);
    uint64_t end = now_ms() + WAIT_MS;
    uint64_t held, dropped;
    do {
        held = commit_get(&s, "held");
        dropped = commit_get(&s, "dropped_overflow");
    } while (held + dropped < N && now_ms() < end);
    CU_ASSERT_EQUAL(held + dropped, N);
    CU_ASSERT(dropped > 0);
    CU_ASSERT(commit_get(&s, "held_bytes") <= 1 << 20);
    CU_ASSERT_EQUAL(atomic_load(&s.asked), 1);                  /* once an epoch */
    CU_ASSERT_STRING_EQUAL(s.last, "checkpoint requested: the output buffer is past half its "
                                   "1048576 bytes");
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 1000), 0);
    proxy_checkpoint_complete(s.p);
    for (uint64_t i = 0; i < held; i++)
        CU_ASSERT_EQUAL_FATAL(recv_frame(&s), (long)i);         /* in order, the first ones */
    CU_ASSERT(commit_wait(&s, "held", 0));
    send_frame(&s, 7, LEN);                     /* a new epoch may ask again */
    CU_ASSERT(commit_wait(&s, "held", 1));
    svc_stop(&s);
}

static void test_alone(void)
{
    struct svc s;

    CU_ASSERT_FATAL(svc_start(&s, 0) == 0);
    send_frame(&s, 1, 60);
    CU_ASSERT(commit_wait(&s, "held", 1));
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 1000), 0);
    send_frame(&s, 2, 60);
    CU_ASSERT(commit_wait(&s, "held", 2));
    proxy_go_alone(s.p);
    CU_ASSERT_EQUAL(recv_frame(&s), 1);
    CU_ASSERT_EQUAL(recv_frame(&s), 2);
    send_frame(&s, 3, 60);
    CU_ASSERT_EQUAL(recv_frame(&s), 3);
    CU_ASSERT_STRING_EQUAL(s.last, "the secondary is gone: the primary's frames pass through "
                                   "uncompared");
    svc_stop(&s);
}

static void test_epoch_end_unanswered(void)
{
    struct svc s;

    /* The service's loop not running: the wait is bounded. */
    memset(&s, 0, sizeof(s));
    snprintf(s.dir, sizeof(s.dir), "/tmp/test_proxy_commit.XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(s.dir) != NULL);
    char dir[sizeof(s.dir)];
    memcpy(dir, s.dir, sizeof(dir));
    snprintf(s.path[1], sizeof(s.path[1]), "%s/out.sock", dir);
    snprintf(s.path[0], sizeof(s.path[0]), "%s/pin.sock", dir);
    struct proxy_opts o = {
        .path = { [EP_PRIMARY] = s.path[0], [EP_OUTDEV] = s.path[1] },
        .buffer = true,
    };
    CU_ASSERT_FATAL(proxy_open(&o, &s.p) == 0);
    uint64_t t0 = now_ms();
    CU_ASSERT_EQUAL(proxy_epoch_end(s.p, 200), -ETIMEDOUT);
    CU_ASSERT(now_ms() - t0 >= 200);
    proxy_free(s.p);
    CU_ASSERT_EQUAL(rmdir(s.dir), 0);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a frame waits for its epoch's acknowledgement; one after the end, for the next",
          test_held_until_acknowledged },
        { "an acknowledgement and the next epoch's end back to back", test_back_to_back },
        { "an acknowledgement with no epoch ended releases nothing", test_ack_without_epoch },
        { "past half the bound one checkpoint, at the bound dropped and counted", test_bounds },
        { "alone: everything held goes, the rest passes through", test_alone },
        { "an epoch's end the service does not answer: bounded", test_epoch_end_unanswered },
        { NULL, NULL },
    };
    return unit_run("proxy_commit", NULL, NULL, tests);
}
