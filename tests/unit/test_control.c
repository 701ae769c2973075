/*
 * test_control.c - the control socket: server (control.c) and clients
 * (client.c) in one process, the server in a thread.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control/control.h"
#include "unit-util.h"

static char run_dir[64];
static xentoollog_logger_stdiostream *logger;

/* A protection's control loop, reduced to the control socket. */
struct server {
    libxlcolo_ctx *ctx;
    colo_control *c;
    const char *domain;
    pthread_t tid;
    int fail_failover;     /* answer failover with an error */
    int requests;          /* answered requests */
    int refused;           /* -EPROTO from colo_control_accept */
    colo_ctl_request last; /* the last set-replication */
};

static libxlcolo_ctx *new_ctx(void)
{
    libxlcolo_ctx *ctx = NULL;
    CU_ASSERT_FATAL(libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0,
                                        (xentoollog_logger *)logger) == 0);
    return ctx;
}

static void fill_status(libxlcolo_status *st, const char *domain)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->domain, sizeof(st->domain), "%s", domain);
    st->role = LIBXLCOLO_ROLE_PRIMARY;
    st->state = LIBXLCOLO_STATE_PROTECTED;
    st->mode = LIBXLCOLO_MODE_COLO;
    st->failover = LIBXLCOLO_FAILOVER_NONE;
    snprintf(st->backend, sizeof(st->backend), "sim");
    st->epoch = 41;
    st->checkpoints = 41;
    st->last_pause_ns = 1234567;
    st->last_pages = 99;
    snprintf(st->peer, sizeof(st->peer), "192.0.2.1:7878");
    st->pid = getpid();
}

static void *server_main(void *opaque)
{
    struct server *s = opaque;
    for (;;) {
        struct pollfd pfd = { .fd = colo_control_fd(s->c), .events = POLLIN };
        if (poll(&pfd, 1, 5000) <= 0)
            return NULL; /* the test would hang: give up */
        colo_ctl_request req;
        int fd = colo_control_accept(s->c, &req);
        if (fd == -EPROTO)
            s->refused++;
        if (fd < 0)
            continue;
        s->requests++;
        libxlcolo_status st;
        switch (req.cmd) {
        case COLO_CTL_SET_REPLICATION:
            s->last = req;
            if (strcmp(req.disk, "nosuch") == 0)
                colo_control_reply_error(s->c, fd, ENOENT, "no disk nosuch in this protection");
            else
                colo_control_reply_ok(s->c, fd, 42);
            break;
        case COLO_CTL_STATUS:
            fill_status(&st, s->domain);
            colo_control_reply_status(s->c, fd, &st);
            break;
        case COLO_CTL_CHECKPOINT:
            colo_control_reply_ok(s->c, fd, 42);
            break;
        case COLO_CTL_FAILOVER:
            if (s->fail_failover)
                colo_control_reply_error(s->c, fd, EBUSY,
                                         "a checkpoint is being applied");
            else
                colo_control_reply_ok(s->c, fd, 42);
            break;
        case COLO_CTL_STOP:
            colo_control_reply_ok(s->c, fd, 42);
            return NULL;
        }
    }
}

static void server_start(struct server *s, const char *domain)
{
    memset(s, 0, sizeof(*s));
    s->ctx = new_ctx();
    s->domain = domain;
    CU_ASSERT_FATAL(colo_control_listen(s->ctx, run_dir, domain, &s->c) == 0);
    CU_ASSERT_FATAL(pthread_create(&s->tid, NULL, server_main, s) == 0);
}

/* Stops the thread with a "stop" request and frees everything. */
static void server_finish(struct server *s)
{
    libxlcolo_ctx *ctx = new_ctx();
    CU_ASSERT(libxlcolo_stop(ctx, run_dir, s->domain) == 0);
    libxlcolo_ctx_free(ctx);
    pthread_join(s->tid, NULL);
    colo_control_free(s->c);
    libxlcolo_ctx_free(s->ctx);
}

/* Connect by hand, send raw bytes, read the raw reply line. */
static int raw_request(const char *domain, const void *req, size_t len,
                       char *reply, size_t size)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.ctl", run_dir, domain);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    if (len && send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return -EIO;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = recv(fd, reply + got, size - 1 - got, 0)) > 0)
        got += (size_t)n;
    reply[got] = '\0';
    close(fd);
    return (int)got;
}

static void test_every_command(void)
{
    struct server s;
    libxlcolo_status st;
    uint64_t epoch = 0;
    server_start(&s, "web1");
    libxlcolo_ctx *ctx = new_ctx();

    CU_ASSERT_EQUAL(libxlcolo_status_get(ctx, run_dir, "web1", &st), 0);
    CU_ASSERT_STRING_EQUAL(st.domain, "web1");
    CU_ASSERT_EQUAL(st.role, LIBXLCOLO_ROLE_PRIMARY);
    CU_ASSERT_EQUAL(st.state, LIBXLCOLO_STATE_PROTECTED);
    CU_ASSERT_EQUAL(st.mode, LIBXLCOLO_MODE_COLO);
    CU_ASSERT_EQUAL(st.failover, LIBXLCOLO_FAILOVER_NONE);
    CU_ASSERT_STRING_EQUAL(st.backend, "sim");
    CU_ASSERT_EQUAL(st.epoch, 41);
    CU_ASSERT_EQUAL(st.checkpoints, 41);
    CU_ASSERT_EQUAL(st.last_pause_ns, 1234567);
    CU_ASSERT_EQUAL(st.last_pages, 99);
    CU_ASSERT_STRING_EQUAL(st.peer, "192.0.2.1:7878");
    CU_ASSERT_EQUAL(st.pid, getpid());

    CU_ASSERT_EQUAL(libxlcolo_checkpoint(ctx, run_dir, "web1", &epoch), 0);
    CU_ASSERT_EQUAL(epoch, 42);
    CU_ASSERT_EQUAL(libxlcolo_failover(ctx, run_dir, "web1"), 0);

    s.fail_failover = 1;
    CU_ASSERT_EQUAL(libxlcolo_failover(ctx, run_dir, "web1"), -EBUSY);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx),
                           "a checkpoint is being applied");
    /* The next call starts with a clean error. */
    CU_ASSERT_EQUAL(libxlcolo_checkpoint(ctx, run_dir, "web1", NULL), 0);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx), "");

    libxlcolo_ctx_free(ctx);
    server_finish(&s);
    CU_ASSERT_EQUAL(s.requests, 6);
    CU_ASSERT_EQUAL(s.refused, 0);
}

static void test_status_json(void)
{
    struct server s;
    char reply[1024];
    server_start(&s, "web1");
    CU_ASSERT(raw_request("web1", "status\n", 7, reply, sizeof(reply)) > 0);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "{\"ok\":true,\"domain\":\"web1\",\"role\":\"primary\","
             "\"state\":\"protected\",\"mode\":\"colo\",\"failover\":\"none\","
             "\"backend\":\"sim\",\"epoch\":41,\"checkpoints\":41,"
             "\"last_pause_ns\":1234567,\"last_pages\":99,"
             "\"peer\":\"192.0.2.1:7878\",\"pid\":%d,\"disks\":[]}\n", (int)getpid());
    CU_ASSERT_STRING_EQUAL(reply, expect);
    /* CRLF and an unterminated last line are accepted. */
    CU_ASSERT(raw_request("web1", "checkpoint\r\n", 12, reply, sizeof(reply)) > 0);
    CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"epoch\":42}\n");
    CU_ASSERT(raw_request("web1", "checkpoint", 10, reply, sizeof(reply)) > 0);
    CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":true,\"epoch\":42}\n");
    server_finish(&s);
}

static void test_malformed_request(void)
{
    struct server s;
    char reply[1024];
    server_start(&s, "web1");
    CU_ASSERT(raw_request("web1", "bogus\n", 6, reply, sizeof(reply)) > 0);
    CU_ASSERT_STRING_EQUAL(reply,
        "{\"ok\":false,\"error\":\"unknown command 'bogus' (one of status, "
        "checkpoint, failover, stop, set-replication)\",\"errno\":71}\n");
    /* Non-printable bytes are not echoed raw. */
    CU_ASSERT(raw_request("web1", "st\xff\x01tus\n", 8, reply, sizeof(reply)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply, "'st??tus'"));
    CU_ASSERT(raw_request("web1", "\n", 1, reply, sizeof(reply)) > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(reply, "unknown command ''"));
    server_finish(&s);
    CU_ASSERT_EQUAL(s.refused, 3);
    CU_ASSERT_EQUAL(s.requests, 1); /* the stop */
}

/* set-replication: what the client sends arrives parsed, the refusals
 * the client makes itself cost no request, and each malformed request
 * line gets its own refusal. */
static void test_set_replication(void)
{
    struct server s;
    char reply[1024];
    server_start(&s, "web1");
    libxlcolo_ctx *ctx = new_ctx();

    CU_ASSERT_EQUAL(libxlcolo_set_replication(ctx, run_dir, "web1", "xvdb", false, true, true), 0);
    CU_ASSERT_EQUAL(s.last.cmd, COLO_CTL_SET_REPLICATION);
    CU_ASSERT_STRING_EQUAL(s.last.disk, "xvdb");
    CU_ASSERT(!s.last.enable && s.last.primary && s.last.failover);
    CU_ASSERT_EQUAL(libxlcolo_set_replication(ctx, run_dir, "web1", NULL, true, false, false), 0);
    CU_ASSERT_STRING_EQUAL(s.last.disk, "");
    CU_ASSERT(s.last.enable && !s.last.primary && !s.last.failover);
    /* The protection's refusal comes back as its line. */
    CU_ASSERT_EQUAL(libxlcolo_set_replication(ctx, run_dir, "web1", "nosuch", false, true,
                                              false), -ENOENT);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx), "no disk nosuch in this protection");

    /* Refused by the client: QEMU's words, no request. */
    int before = s.requests;
    CU_ASSERT_EQUAL(libxlcolo_set_replication(ctx, run_dir, "web1", "xvdb", true, true, true),
                    -EINVAL);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx),
                           "Parameter 'failover' is only for stopping replication");
    CU_ASSERT_EQUAL(libxlcolo_set_replication(ctx, run_dir, "web1", "xv db", false, true,
                                              false), -EINVAL);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx),
                           "invalid disk name 'xv db' (1..31 of A-Z a-z 0-9 _ . -)");
    CU_ASSERT_EQUAL(s.requests, before);

    static const char *bad[] = {
        "set-replication\n", "set-replication \n", "set-replication xvdb 1 1\n",
        "set-replication xvdb 1 1 0 0\n", "set-replication xvdb 2 0 0\n",
        "set-replication xvdb 1 1 yes\n", "set-replication ../x 0 0 0\n",
        "set-replication xvdb  1 1 0\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char expect[256], shown[64];
        snprintf(shown, sizeof(shown), "%.*s", (int)strlen(bad[i]) - 1, bad[i]);
        snprintf(expect, sizeof(expect), "{\"ok\":false,\"error\":\"malformed request '%s' "
                 "(set-replication DISK|* ENABLE PRIMARY FAILOVER, each 0 or 1)\","
                 "\"errno\":71}\n", shown);
        CU_ASSERT(raw_request("web1", bad[i], strlen(bad[i]), reply, sizeof(reply)) > 0);
        CU_ASSERT_STRING_EQUAL(reply, expect);
    }
    /* The other commands take no argument. */
    CU_ASSERT(raw_request("web1", "status now\n", 11, reply, sizeof(reply)) > 0);
    CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":false,\"error\":\"malformed request 'status now' "
                           "(it takes no argument)\",\"errno\":71}\n");
    libxlcolo_ctx_free(ctx);
    server_finish(&s);
    CU_ASSERT_EQUAL(s.refused, (int)ARRAY_SIZE(bad) + 1);
}

static void test_oversized_request(void)
{
    struct server s;
    char big[200], reply[1024];
    memset(big, 's', sizeof(big));
    server_start(&s, "web1");
    CU_ASSERT(raw_request("web1", big, sizeof(big), reply, sizeof(reply)) > 0);
    CU_ASSERT_STRING_EQUAL(reply, "{\"ok\":false,\"error\":\"request too long "
                           "(limit 64 bytes)\",\"errno\":7}\n");
    server_finish(&s);
    CU_ASSERT_EQUAL(s.refused, 1);

    /* Nor does the server send a reply over the client's bound: the
     * client sees the connection close instead. */
    libxlcolo_ctx *ctx = new_ctx();
    colo_control *c = NULL;
    colo_ctl_request cmd;
    static char msg[COLO_CTL_REPLY_MAX];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/big.ctl", run_dir);
    memset(msg, 'm', sizeof(msg) - 1);
    CU_ASSERT_FATAL(colo_control_listen(ctx, run_dir, "big", &c) == 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CU_ASSERT_EQUAL(send(fd, "status\n", 7, 0), 7);
    int cfd = colo_control_accept(c, &cmd);
    CU_ASSERT(cfd >= 0);
    CU_ASSERT_EQUAL(colo_control_reply_error(c, cfd, EIO, msg), -EMSGSIZE);
    CU_ASSERT_EQUAL(recv(fd, reply, sizeof(reply), 0), 0);
    close(fd);
    colo_control_free(c);
    libxlcolo_ctx_free(ctx);
}

static void test_no_socket(void)
{
    libxlcolo_ctx *ctx = new_ctx();
    libxlcolo_status st;
    char expect[256];
    CU_ASSERT_EQUAL(libxlcolo_status_get(ctx, run_dir, "nosuch", &st), -ESRCH);
    snprintf(expect, sizeof(expect),
             "no protection running for nosuch (no %s/nosuch.ctl)", run_dir);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx), expect);
    CU_ASSERT_EQUAL(libxlcolo_stop(ctx, run_dir, "nosuch"), -ESRCH);
    CU_ASSERT_EQUAL(libxlcolo_checkpoint(ctx, "/nonexistent/dir", "web1", NULL),
                    -ESRCH);
    CU_ASSERT_EQUAL(libxlcolo_failover(ctx, run_dir, "../etc/x"), -EINVAL);
    libxlcolo_ctx_free(ctx);
}

/* A socket file nobody listens on: the client says so, listen removes it. */
static void test_stale_socket(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.ctl", run_dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    close(fd);

    libxlcolo_ctx *ctx = new_ctx();
    libxlcolo_status st;
    CU_ASSERT_EQUAL(libxlcolo_status_get(ctx, run_dir, "stale", &st), -ESRCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(libxlcolo_last_error(ctx), "stale socket"));

    colo_control *c = NULL;
    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, "stale", &c), 0);
    struct stat sb;
    CU_ASSERT(stat(sa.sun_path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    colo_control_free(c);
    CU_ASSERT(access(sa.sun_path, F_OK) < 0 && errno == ENOENT);

    /* A regular file in the way is not ours to remove. */
    FILE *f = fopen(sa.sun_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, "stale", &c), -EEXIST);
    unlink(sa.sun_path);
    libxlcolo_ctx_free(ctx);
}

static void test_live_socket(void)
{
    libxlcolo_ctx *ctx = new_ctx(), *ctx2 = new_ctx();
    colo_control *c = NULL, *c2 = NULL;
    colo_ctl_request cmd;
    char expect[256];

    CU_ASSERT_FATAL(colo_control_listen(ctx, run_dir, "web2", &c) == 0);
    CU_ASSERT_EQUAL(colo_control_accept(c, &cmd), -EAGAIN);
    CU_ASSERT_EQUAL(colo_control_listen(ctx2, run_dir, "web2", &c2), -EADDRINUSE);
    CU_ASSERT_PTR_NULL(c2);
    snprintf(expect, sizeof(expect), "a protection of web2 is already running "
             "(socket %s/web2.ctl)", run_dir);
    CU_ASSERT_STRING_EQUAL(libxlcolo_last_error(ctx2), expect);
    /* The probe connected and hung up without a request. */
    CU_ASSERT_EQUAL(colo_control_accept(c, &cmd), -ENODATA);
    /* The first protection's socket is still there and answers. */
    snprintf(expect, sizeof(expect), "%s/web2.ctl", run_dir);
    CU_ASSERT(access(expect, F_OK) == 0);
    colo_control_free(c);
    libxlcolo_ctx_free(ctx);
    libxlcolo_ctx_free(ctx2);
}

/* A client that connects and says nothing is dropped after a second. */
static void test_silent_client(void)
{
    libxlcolo_ctx *ctx = new_ctx();
    colo_control *c = NULL;
    colo_ctl_request cmd;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/quiet.ctl", run_dir);

    CU_ASSERT_FATAL(colo_control_listen(ctx, run_dir, "quiet", &c) == 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CU_ASSERT_EQUAL(send(fd, "sta", 3, 0), 3);
    uint64_t t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_control_accept(c, &cmd), -ETIMEDOUT);
    uint64_t ms = (colo_now_ns() - t0) / COLO_NS_PER_MS;
    CU_ASSERT(ms >= 900 && ms < 3000);
    close(fd);
    colo_control_free(c);
    libxlcolo_ctx_free(ctx);
}

/* A client that left before its answer costs an error return, no SIGPIPE. */
static void test_departed_client(void)
{
    libxlcolo_ctx *ctx = new_ctx();
    colo_control *c = NULL;
    colo_ctl_request cmd = { 0 };
    libxlcolo_status st;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/gone.ctl", run_dir);

    CU_ASSERT_FATAL(colo_control_listen(ctx, run_dir, "gone", &c) == 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CU_ASSERT_EQUAL(send(fd, "status\n", 7, 0), 7);
    close(fd);
    int cfd = colo_control_accept(c, &cmd);
    CU_ASSERT(cfd >= 0);
    CU_ASSERT_EQUAL(cmd.cmd, COLO_CTL_STATUS);
    fill_status(&st, "gone");
    CU_ASSERT_EQUAL(colo_control_reply_status(c, cfd, &st), -EPIPE);
    colo_control_free(c);
    libxlcolo_ctx_free(ctx);
}

static void test_invalid_names(void)
{
    libxlcolo_ctx *ctx = new_ctx();
    colo_control *c = NULL;
    char long_name[65], dir[128];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';

    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, "", &c), -EINVAL);
    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, "a/b", &c), -EINVAL);
    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, "a b", &c), -EINVAL);
    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, long_name, &c), -EINVAL);
    long_name[63] = '\0';
    CU_ASSERT_EQUAL(colo_control_listen(ctx, run_dir, long_name, &c), 0);
    colo_control_free(c);

    /* mkdir -p, 0700 */
    snprintf(dir, sizeof(dir), "%s/a/b", run_dir);
    CU_ASSERT_EQUAL(colo_control_listen(ctx, dir, "vm-1.x_y", &c), 0);
    struct stat sb;
    CU_ASSERT(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    colo_control_free(c);
    rmdir(dir);
    snprintf(dir, sizeof(dir), "%s/a", run_dir);
    rmdir(dir);
    libxlcolo_ctx_free(ctx);
}

/* Something that is not a protection answers garbage or nothing useful. */
struct fake { int lfd; const char *reply; };

static void *fake_main(void *opaque)
{
    struct fake *f = opaque;
    char buf[64];
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    (void)!recv(fd, buf, sizeof(buf), 0);
    (void)!send(fd, f->reply, strlen(f->reply), MSG_NOSIGNAL);
    close(fd);
    return NULL;
}

/* status from a fake server answering reply; why[256] gets the client's
 * line (libxlcolo_last_error). */
static int fake_call(const char *reply, libxlcolo_status *st, char *why)
{
    struct fake f = { .reply = reply };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    pthread_t tid;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fake.ctl", run_dir);
    unlink(sa.sun_path);
    f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f.lfd, 1) < 0)
        return -999;
    pthread_create(&tid, NULL, fake_main, &f);
    libxlcolo_ctx *ctx = new_ctx();
    int r = libxlcolo_status_get(ctx, run_dir, "fake", st);
    snprintf(why, 256, "%s", libxlcolo_last_error(ctx));
    libxlcolo_ctx_free(ctx);
    pthread_join(tid, NULL);
    close(f.lfd);
    unlink(sa.sun_path);
    return r;
}

static void test_bad_replies(void)
{
    libxlcolo_status st;
    char why[256], big[COLO_CTL_REPLY_MAX + 2];
    CU_ASSERT_EQUAL(fake_call("garbage\n", &st, why), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(why, "malformed reply from the protection of fake: "
                           "lexical error: invalid char in json text.");
    CU_ASSERT_EQUAL(fake_call("[1,2]\n", &st, why), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(why, "malformed reply from the protection of fake: "
                           "not a JSON object");
    CU_ASSERT_EQUAL(fake_call("{\"ok\":true}\n", &st, why), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(why, "malformed status reply from the protection "
                           "of fake: missing \"domain\"");
    CU_ASSERT_EQUAL(fake_call("{\"ok\":true,\"domain\":\"x\"", &st, why), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(why, "malformed reply from the protection of fake: "
                           "parse error: premature EOF");
    CU_ASSERT_EQUAL(fake_call("{\"ok\":1}\n", &st, why), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(why, "malformed reply from the protection of fake: "
                           "no \"ok\"");
    CU_ASSERT_EQUAL(fake_call("", &st, why), -ECONNRESET);
    CU_ASSERT_EQUAL(fake_call("{\"ok\":false,\"error\":\"no\",\"errno\":16}\n",
                              &st, why), -EBUSY);
    CU_ASSERT_STRING_EQUAL(why, "no");
    CU_ASSERT_EQUAL(fake_call("{\"ok\":false}\n", &st, why), -EIO);
    CU_ASSERT_EQUAL(fake_call("{\"ok\":false,\"errno\":99999}\n", &st, why), -EIO);
    /* The reply bound: one byte over, refused before any parsing. */
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CU_ASSERT_EQUAL(fake_call(big, &st, why), -EMSGSIZE);
    CU_ASSERT_STRING_EQUAL(why, "reply to 'status' from the protection of fake "
                           "is over 16384 bytes");
}

/* The run directory and the logger every test's context shares. */
static int suite_init(void)
{
    static const char tmpl[] = "/tmp/test_control.XXXXXX";

    snprintf(run_dir, sizeof(run_dir), "%s", tmpl);
    if (!mkdtemp(run_dir)) {
        run_dir[0] = '\0';
        return unit_setup_error("mkdtemp %s: %m", tmpl);
    }
    /* Expected failures log at ERROR; show them only when asked. */
    logger = xtl_createlogger_stdiostream(stderr,
                 getenv("TEST_VERBOSE") ? XTL_DEBUG : XTL_CRITICAL, 0);
    if (!logger) {
        rmdir(run_dir);
        return unit_setup_error("xtl_createlogger_stdiostream: %m");
    }
    return 0;
}

static int suite_clean(void)
{
    xtl_logger_destroy((xentoollog_logger *)logger);
    rmdir(run_dir);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "every command", test_every_command },
        { "status reply JSON", test_status_json },
        { "malformed request", test_malformed_request },
        { "oversized request", test_oversized_request },
        { "set-replication request", test_set_replication },
        { "no socket", test_no_socket },
        { "stale socket", test_stale_socket },
        { "live socket", test_live_socket },
        { "silent client", test_silent_client },
        { "departed client", test_departed_client },
        { "invalid names, mkdir -p", test_invalid_names },
        { "bad replies", test_bad_replies },
        { NULL, NULL },
    };
    return unit_run("control", suite_init, suite_clean, tests);
}
