/* test_engine.c - the public API in one process: a primary and a secondary
 * on real colo-simguest guests, COLO mode, checkpoints driven only by the
 * trigger API (libxlcolo_request_checkpoint, what the NIC comparison calls),
 * then a clean stop through the control socket; a Remus pair started by
 * the dirty bound; and libxlcolo_request_stop() from another thread,
 * ending each side as the control socket's stop does. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>

#include "sim-util.h"

struct side {
    libxlcolo_ctx *ctx;
    libxlcolo_options opt;
    pthread_t thread;
    int ret;
    uint16_t port;
    char run_dir[96];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t last_epoch;
    int checkpoints;
    uint64_t min_pages;     /* smallest checkpoint after epoch 0 */
    bool protected;
    libxlcolo_state last_state;
};

static struct side pri, sec;

static void on_event(void *opaque, const libxlcolo_event *ev)
{
    struct side *s = opaque;
    pthread_mutex_lock(&s->lock);
    if (ev->type == LIBXLCOLO_EVENT_CHECKPOINT) {
        s->last_epoch = ev->epoch;
        s->checkpoints++;
        if (ev->epoch > 0 && (s->min_pages == 0 || ev->pages < s->min_pages))
            s->min_pages = ev->pages;
    }
    if (ev->type == LIBXLCOLO_EVENT_STATE && ev->state == LIBXLCOLO_STATE_PROTECTED)
        s->protected = true;
    if (ev->type == LIBXLCOLO_EVENT_STATE)
        s->last_state = ev->state;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Wait (bounded) until the side has at least n checkpoints. */
static bool wait_checkpoints(struct side *s, int n, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    pthread_mutex_lock(&s->lock);
    int r = 0;
    while (s->checkpoints < n && r == 0)
        r = pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    bool ok = s->checkpoints >= n;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void *run_secondary(void *arg)
{
    (void)arg;
    sec.ret = libxlcolo_receive(sec.ctx, "127.0.0.1", sec.port, &sec.opt);
    return NULL;
}

static const char *guest_name = "eng";

static void *run_primary(void *arg)
{
    (void)arg;
    pri.ret = libxlcolo_start(pri.ctx, guest_name, "127.0.0.1", sec.port, &pri.opt);
    return NULL;
}

/* Stop the protection of name through its control socket and join both. */
static void stop_and_join(const char *name)
{
    libxlcolo_ctx *cli;
    CU_ASSERT_EQUAL_FATAL(libxlcolo_ctx_alloc(&cli, LIBXLCOLO_VERSION, 0, &fx.lg.vtable), 0);
    CU_ASSERT_EQUAL(libxlcolo_stop(cli, fx.dir, name), 0);
    libxlcolo_ctx_free(cli);
    pthread_join(pri.thread, NULL);
    pthread_join(sec.thread, NULL);
    CU_ASSERT_EQUAL(pri.ret, 0);
    CU_ASSERT_EQUAL(sec.ret, 0);
    libxlcolo_ctx_free(pri.ctx);
    libxlcolo_ctx_free(sec.ctx);
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void side_init(struct side *s, const char *dir)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    snprintf(s->run_dir, sizeof(s->run_dir), "%s", dir);
    CU_ASSERT_EQUAL_FATAL(libxlcolo_ctx_alloc(&s->ctx, LIBXLCOLO_VERSION, 0, &fx.lg.vtable), 0);
    libxlcolo_set_event_callback(s->ctx, on_event, s);
    libxlcolo_options_init(&s->opt);
    s->opt.backend = "sim";
    s->opt.run_dir = s->run_dir;
    s->opt.simguest = SIMGUEST_BIN;
    s->opt.insecure = true;
    s->opt.verify = true;
    s->opt.timeout_ms = 10000;
}

static void test_colo_trigger(void)
{
    char bdir[96];
    snprintf(bdir, sizeof(bdir), "%s/B", fx.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(bdir, 0700), 0);
    CU_ASSERT_FATAL(start_guest("eng", "--mem", "32M", "--workload", "web", "--seed", "9") > 0);

    side_init(&sec, bdir);
    side_init(&pri, fx.dir);
    sec.port = free_port();
    pri.opt.mode = LIBXLCOLO_MODE_COLO;
    pri.opt.interval_ms = 600000; /* the periodic fallback never fires here */

    /* No protection yet: the trigger has nothing to ask. */
    CU_ASSERT_EQUAL(libxlcolo_request_checkpoint(pri.ctx), -ESRCH);

    CU_ASSERT_EQUAL_FATAL(pthread_create(&sec.thread, NULL, run_secondary, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&pri.thread, NULL, run_primary, NULL), 0);

    /* Epoch 0 ends the initial sync. */
    CU_ASSERT_FATAL(wait_checkpoints(&pri, 1, 60000));
    for (int i = 1; i <= 3; i++) {
        /* Nothing happens until asked... */
        window_ms(200);
        pthread_mutex_lock(&pri.lock);
        CU_ASSERT_EQUAL(pri.checkpoints, i);
        pthread_mutex_unlock(&pri.lock);
        /* ...and a request is a committed checkpoint, acknowledged. */
        CU_ASSERT_EQUAL(libxlcolo_request_checkpoint(pri.ctx), 0);
        CU_ASSERT_FATAL(wait_checkpoints(&pri, i + 1, 10000));
        CU_ASSERT_EQUAL(pri.last_epoch, (uint64_t)i);
        CU_ASSERT_FATAL(wait_checkpoints(&sec, i + 1, 10000));
        CU_ASSERT_EQUAL(sec.last_epoch, (uint64_t)i);
    }

    libxlcolo_status st;
    libxlcolo_ctx *q;
    CU_ASSERT_EQUAL_FATAL(libxlcolo_ctx_alloc(&q, LIBXLCOLO_VERSION, 0, &fx.lg.vtable), 0);
    CU_ASSERT_EQUAL(libxlcolo_status_get(q, fx.dir, "eng", &st), 0);
    libxlcolo_ctx_free(q);
    CU_ASSERT_EQUAL(st.mode, LIBXLCOLO_MODE_COLO);
    CU_ASSERT_EQUAL(st.state, LIBXLCOLO_STATE_PROTECTED);
    CU_ASSERT_EQUAL(st.epoch, 3);

    /* A clean stop: both sides return 0, the secondary's guest goes. */
    stop_and_join("eng");
    char sock[160];
    snprintf(sock, sizeof(sock), "%s/sim/eng.sock", bdir);
    CU_ASSERT_NOT_EQUAL(access(sock, F_OK), 0);
}

/* Remus with a period that never comes: checkpoints start because the
 * guest has dirtied --dirty-bound pages, which bounds the pause. */
static void test_dirty_bound(void)
{
    char bdir[96];
    snprintf(bdir, sizeof(bdir), "%s/B2", fx.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(bdir, 0700), 0);
    CU_ASSERT_FATAL(start_guest("bound", "--mem", "32M", "--workload", "web", "--seed", "3") > 0);
    guest_name = "bound";
    side_init(&sec, bdir);
    side_init(&pri, fx.dir);
    sec.port = free_port();
    pri.opt.interval_ms = 600000;
    pri.opt.dirty_bound = 64;
    pri.opt.heartbeat_ms = 20;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&sec.thread, NULL, run_secondary, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&pri.thread, NULL, run_primary, NULL), 0);

    CU_ASSERT(wait_checkpoints(&pri, 4, 30000));
    pthread_mutex_lock(&pri.lock);
    /* Each one began at the bound, so it holds at least that many pages. */
    CU_ASSERT(pri.min_pages >= 64);
    pthread_mutex_unlock(&pri.lock);
    stop_and_join("bound");
}

/* Join a side's thread, bounded: false if it did not end in time. */
static bool join_within(struct side *s, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    return pthread_timedjoin_np(s->thread, NULL, &ts) == 0;
}

/* The primary's guest runs, log-dirty off: what a clean end leaves. */
static void assert_guest_free(const char *name)
{
    struct sim_info in = { 0 };
    CU_ASSERT_EQUAL_FATAL(raw_info(name, &in), 0);
    CU_ASSERT_FALSE(in.flags & SIM_INFO_PAUSED);
    CU_ASSERT_FALSE(in.flags & SIM_INFO_CKPT_STOP);
    CU_ASSERT_FALSE(in.flags & SIM_INFO_LOGDIRTY);
}

/* libxlcolo_request_stop(), from a thread of the caller's: -ESRCH with
 * nothing running, -EAGAIN while a side still waits for its peer, and on
 * the primary the control socket's stop (both sides end with 0, the guest
 * runs, log-dirty off); on the secondary its stop too (the secondary's
 * guest goes, the primary carries on alone and says so). */
static void test_request_stop(void)
{
    char bdir[96], sock[160];
    snprintf(bdir, sizeof(bdir), "%s/B3", fx.dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(bdir, 0700), 0);
    CU_ASSERT_FATAL(start_guest("halt", "--mem", "32M", "--workload", "web", "--seed", "4") > 0);
    guest_name = "halt";
    snprintf(sock, sizeof(sock), "%s/sim/halt.sock", bdir);

    for (int round = 0; round < 2; round++) {
        struct side *stopper = round == 0 ? &pri : &sec;
        side_init(&sec, bdir);
        side_init(&pri, fx.dir);
        sec.port = free_port();
        pri.opt.interval_ms = 50;
        pri.opt.heartbeat_ms = 50;

        /* Nothing runs yet. */
        CU_ASSERT_EQUAL(libxlcolo_request_stop(pri.ctx), -ESRCH);
        CU_ASSERT_EQUAL(libxlcolo_request_stop(sec.ctx), -ESRCH);
        /* The secondary waits for its primary: not up, nothing asked. */
        CU_ASSERT_EQUAL_FATAL(pthread_create(&sec.thread, NULL, run_secondary, NULL), 0);
        for (int i = 0; i < 1000 && atomic_load(&sec.ctx->running) == COLO_RUN_IDLE; i++)
            window_ms(5);
        CU_ASSERT_EQUAL(libxlcolo_request_stop(sec.ctx), -EAGAIN);

        CU_ASSERT_EQUAL_FATAL(pthread_create(&pri.thread, NULL, run_primary, NULL), 0);
        CU_ASSERT_FATAL(wait_checkpoints(&pri, 3, 60000));
        CU_ASSERT_FATAL(wait_checkpoints(&sec, 3, 60000));
        CU_ASSERT_EQUAL(libxlcolo_request_stop(stopper->ctx), 0);
        CU_ASSERT_EQUAL(libxlcolo_request_stop(stopper->ctx), 0); /* asked already */
        CU_ASSERT_FATAL(join_within(stopper, 20000));
        CU_ASSERT_FATAL(join_within(stopper == &pri ? &sec : &pri, 20000));
        CU_ASSERT_EQUAL(sec.ret, 0);
        CU_ASSERT_EQUAL(sec.last_state, LIBXLCOLO_STATE_STOPPED);
        CU_ASSERT_NOT_EQUAL(access(sock, F_OK), 0); /* the secondary's guest is gone */
        if (stopper == &pri) {
            CU_ASSERT_EQUAL(pri.ret, 0);
            CU_ASSERT_EQUAL(pri.last_state, LIBXLCOLO_STATE_STOPPED);
        } else {
            /* As after `xl-colo stop` on the secondary: the primary loses
             * its peer and carries on alone. */
            CU_ASSERT_EQUAL(pri.ret, -ENOTCONN);
            CU_ASSERT_EQUAL(pri.last_state, LIBXLCOLO_STATE_UNPROTECTED);
        }
        assert_guest_free("halt");
        /* Ended: nothing to stop any more. */
        CU_ASSERT_EQUAL(libxlcolo_request_stop(pri.ctx), -ESRCH);
        CU_ASSERT_EQUAL(libxlcolo_request_stop(sec.ctx), -ESRCH);
        libxlcolo_ctx_free(pri.ctx);
        libxlcolo_ctx_free(sec.ctx);
    }
}

static int suite_clean(void)
{
    sim_fixture_fini();
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "COLO mode: checkpoints on the trigger API only", test_colo_trigger },
        { "Remus: the dirty bound starts checkpoints", test_dirty_bound },
        { "libxlcolo_request_stop ends either side cleanly", test_request_stop },
        { NULL, NULL },
    };
    return unit_run("engine", sim_fixture_init, suite_clean, tests);
}
