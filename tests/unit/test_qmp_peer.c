/*
 * test_qmp_peer.c - the QMP client (qmp/) against a fake QMP peer: what
 * QEMU does not do on purpose. Each test starts a peer thread on a unix
 * listener in a mkdtemp directory; the peer follows the test's script
 * (greeting, commands read and answered, garbage, hang-ups, floods), and
 * the test asserts the client's return code and the exact line it logged.
 * The peer never sleeps to wait for the client: it waits for the client's
 * bytes, its hang-up, the kernel's count of what it has not read yet
 * (SIOCOUTQ), or a step the test gives it through a pipe.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "colo-time.h"
#include "json.h"
#include "qmp/qmp.h"
#include "unit-util.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 1, " \
                 "\"major\": 9}, \"package\": \"fake\"}, \"capabilities\": []}}\r\n"
#define PEER_WAIT_MS 10000  /* the longest a peer waits for the client */
#define SHORT_MS 200        /* the timeout of the tests that time out */

static char dir[64];
static char sock[100];
static struct unit_logger lg;
static libxlcolo_ctx *ctx;

struct peer;
typedef void peer_script(struct peer *p);

struct peer {
    peer_script *script;
    int lfd, fd;
    int go[2];            /* the test's steps: one byte each */
    pthread_t tid;
    bool failed;          /* a peer_* helper failed: the test fails */
    char cmd[4096];       /* the last command read */
    char id[32];          /* its id's text */
    char name[64];        /* its "execute" */
    size_t written;       /* what peer_flood got out */
};

/* ------------------------------------------------------------ the peer */

static int peer_send_len(struct peer *p, const char *s, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(p->fd, s + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        off += (size_t)w;
        p->written += (size_t)w;
    }
    return 0;
}

static void peer_send(struct peer *p, const char *s)
{
    if (peer_send_len(p, s, strlen(s)) < 0)
        p->failed = true;
}

/* Send s and the id of the last command in place of each "@ID". */
static void peer_reply(struct peer *p, const char *s)
{
    char out[8192];
    size_t n = 0;
    for (const char *c = s; *c && n < sizeof(out) - 40;) {
        if (strncmp(c, "@ID", 3) == 0) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", p->id);
            c += 3;
        } else {
            out[n++] = *c++;
        }
    }
    out[n] = '\0';
    peer_send(p, out);
}

/* Wait until the client has read everything sent so far. */
static void peer_drained(struct peer *p)
{
    uint64_t deadline = colo_deadline_ms(PEER_WAIT_MS);
    int unread;
    while (ioctl(p->fd, SIOCOUTQ, &unread) == 0 && unread > 0) {
        if (colo_deadline_passed(deadline)) {
            p->failed = true;
            return;
        }
        sched_yield();
    }
}

/* One byte at a time, each read by the client before the next is sent:
 * every read of the client gets one byte. */
static void peer_send_slowly(struct peer *p, const char *s)
{
    for (; *s && !p->failed; s++) {
        if (peer_send_len(p, s, 1) < 0)
            p->failed = true;
        peer_drained(p);
    }
}

/* Read one command line; keep it, its "execute" and its id. */
static bool peer_read_cmd(struct peer *p)
{
    size_t n = 0;
    char why[128];
    for (;;) {
        struct pollfd pf = { .fd = p->fd, .events = POLLIN };
        if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || n == sizeof(p->cmd) - 1 ||
            read(p->fd, p->cmd + n, 1) != 1) {
            p->failed = true;
            return false;
        }
        if (p->cmd[n] == '\n')
            break;
        n++;
    }
    p->cmd[n] = '\0';
    _cleanup_tree_ yajl_val v = NULL;
    yajl_val id;
    if (colo_json_parse(p->cmd, &v, why, sizeof(why)) < 0 ||
        colo_json_copy_str(v, "execute", p->name, sizeof(p->name), why, sizeof(why)) < 0 ||
        colo_json_get(v, "id", &id, why, sizeof(why)) < 0 || !id || !YAJL_IS_NUMBER(id)) {
        p->failed = true;
        return false;
    }
    snprintf(p->id, sizeof(p->id), "%s", YAJL_GET_NUMBER(id));
    return true;
}

/* The greeting, then qmp_capabilities answered. */
static void peer_greet(struct peer *p)
{
    peer_send(p, GREETING);
    if (peer_read_cmd(p) && strcmp(p->name, "qmp_capabilities") == 0)
        peer_reply(p, "{\"return\": {}, \"id\": @ID}\r\n");
    else
        p->failed = true;
}

/* Wait until the client hangs up. */
static void peer_wait_eof(struct peer *p)
{
    char b[4096];
    for (;;) {
        struct pollfd pf = { .fd = p->fd, .events = POLLIN };
        if (poll(&pf, 1, PEER_WAIT_MS) <= 0) {
            p->failed = true;
            return;
        }
        ssize_t n = read(p->fd, b, sizeof(b));
        if (n <= 0)
            return;
    }
}

/* Wait for the test's next step. */
static void peer_step(struct peer *p)
{
    char c;
    struct pollfd pf = { .fd = p->go[0], .events = POLLIN };
    if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || read(p->go[0], &c, 1) != 1)
        p->failed = true;
}

static void *peer_main(void *opaque)
{
    struct peer *p = opaque;
    struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
    if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || (p->fd = accept(p->lfd, NULL, NULL)) < 0) {
        p->failed = true;
        return NULL;
    }
    p->script(p);
    close(p->fd);
    p->fd = -1;
    return NULL;
}

static void peer_start(struct peer *p, peer_script *script)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    memset(p, 0, sizeof(*p));
    p->script = script;
    p->fd = -1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    unlink(sock);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_FATAL(p->lfd >= 0);
    CU_ASSERT_FATAL(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CU_ASSERT_FATAL(listen(p->lfd, 1) == 0);
    CU_ASSERT_FATAL(pipe2(p->go, O_CLOEXEC) == 0);
    CU_ASSERT_FATAL(pthread_create(&p->tid, NULL, peer_main, p) == 0);
}

static void peer_go(struct peer *p)
{
    CU_ASSERT(write(p->go[1], "g", 1) == 1);
}

/* Join the peer (the client must have closed by now, or be about to be
 * waited for by the script's end), and check it had no trouble. */
static void peer_join(struct peer *p)
{
    pthread_join(p->tid, NULL);
    close(p->lfd);
    close(p->go[0]);
    close(p->go[1]);
    unlink(sock);
    CU_ASSERT(!p->failed);
}

/* ---------------------------------------------------------- the client */

static colo_qmp *client(int timeout_ms)
{
    colo_qmp *q = NULL;
    int r = colo_qmp_connect(ctx, sock, NULL, timeout_ms, 0, &q);
    CU_ASSERT_EQUAL(r, 0);
    if (r < 0)
        fprintf(stderr, "connect: %s\n", lg.last);
    return q;
}

/* The line the client logged last, with "qmp SOCK: " in front. */
static bool logged(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool logged(const char *fmt, ...)
{
    char want[1024], rest[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    snprintf(want, sizeof(want), "qmp %s: %s", sock, rest);
    if (strcmp(lg.last, want) == 0)
        return true;
    fprintf(stderr, "\n  logged: %s\n  wanted: %s\n", lg.last, want);
    return false;
}

/* ------------------------------------------------------------- scripts */

static void script_garbage(struct peer *p)
{
    peer_greet(p);
    if (peer_read_cmd(p))
        peer_send(p, "garbage\r\n");
    peer_wait_eof(p);
}

static void test_garbage_line(void)
{
    struct peer p;
    peer_start(&p, script_garbage);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -EBADMSG);
    CU_ASSERT(logged("reply to query-status: unparsable message: lexical error: "
                     "invalid char in json text."));
    CU_ASSERT(colo_qmp_broken(q));
    /* Broken: the next call fails at once, naming the first cause. */
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -ENOTCONN);
    CU_ASSERT(logged("query-status: not sent: the connection broke earlier (reply to "
                     "query-status: unparsable message: lexical error: invalid char in json "
                     "text.)"));
    colo_qmp_event ev;
    CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "STOP", 0, 0, &ev), -ENOTCONN);
    colo_qmp_close(q);
    peer_join(&p);
}

/* A NUL byte at offset 5. */
#define NUL_REPLY "{\"ret\0urn\": {}}\r\n"

static void script_bad_shapes(struct peer *p)
{
    static const char *const replies[] = {
        "{\"return\": {}, \"id\": 999}\r\n",
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n",
        "{\"return\": {}, \"id\": \"@ID\"}\r\n",
        "{\"error\": {\"class\": \"GenericError\"}, \"id\": @ID}\r\n",
        "{\"foo\": 1, \"id\": @ID}\r\n",
        "{\"return\": 1, \"error\": 2, \"id\": @ID}\r\n",
        "{\"QMP\": {}}\r\n",
        "[1, 2]\r\n",
        NUL_REPLY,
    };
    for (size_t i = 0; i < ARRAY_SIZE(replies) && !p->failed; i++) {
        peer_greet(p);
        if (!peer_read_cmd(p))
            break;
        if (i == 8)
            peer_send_len(p, NUL_REPLY, sizeof(NUL_REPLY) - 1);
        else
            peer_reply(p, replies[i]);
        peer_wait_eof(p);
        if (i + 1 < ARRAY_SIZE(replies)) {
            struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
            close(p->fd);
            p->fd = -1;
            if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || (p->fd = accept(p->lfd, NULL, NULL)) < 0)
                p->failed = true;
        }
    }
}

/* Replies that are not the answer: each is a protocol error that breaks
 * the connection, with its own line. One connection for each. */
static void test_wrong_replies(void)
{
    static const struct {
        const char *cmd;
        int r;
        const char *line;
    } want[] = {
        { "query-status", -EPROTO, "reply to query-status: a reply with id 999, expected id 2" },
        { "query-status", -EPROTO, "reply to query-status: an error reply without an id, "
          "expected id 2 (GenericError: JSON parse error)" },
        { "query-status", -EPROTO, "reply to query-status: a reply with id \"2\", expected id 2" },
        { "nosuch", -EPROTO, "reply to nosuch: malformed error: missing \"desc\"" },
        { "query-status", -EPROTO, "reply to query-status: not a QMP message: no \"return\", "
          "\"error\", \"event\" or \"QMP\"" },
        { "query-status", -EPROTO, "reply to query-status: not a QMP message: both \"return\" "
          "and \"error\"" },
        { "query-status", -EPROTO, "reply to query-status: the greeting again" },
        { "query-status", -EBADMSG, "reply to query-status: unparsable message: not a JSON "
          "object" },
        { "query-status", -EBADMSG, "reply to query-status: unparsable message: a NUL byte at "
          "offset 5" },
    };
    struct peer p;
    peer_start(&p, script_bad_shapes);
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        colo_qmp *q = client(PEER_WAIT_MS);
        CU_ASSERT_FATAL(q != NULL);
        colo_qmp_error e;
        int r = colo_qmp_execute(q, want[i].cmd, NULL, 0, NULL, &e);
        CU_ASSERT_EQUAL(r, want[i].r);
        CU_ASSERT(logged("%s", want[i].line));
        CU_ASSERT(colo_qmp_broken(q));
        CU_ASSERT_STRING_EQUAL(e.cls, ""); /* no QMP error was taken as the answer */
        colo_qmp_close(q);
    }
    peer_join(&p);
}

/* A new connection, for the scripts that take more than one. */
static bool peer_accept_next(struct peer *p)
{
    struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
    close(p->fd);
    p->fd = -1;
    if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || (p->fd = accept(p->lfd, NULL, NULL)) < 0) {
        p->failed = true;
        return false;
    }
    return true;
}

/* QEMU losing a session's start, as a sidecar's QEMU 7.2 did under load:
 * the first `times` connections get the greeting, send qmp_capabilities,
 * and then get the greeting again (QEMU opening the session anew:
 * greet_again) or nothing at all (the command lost); the next connection
 * is served. The client gives up after three. */
static void script_lost_start(struct peer *p, int times, bool greet_again, bool query)
{
    for (int i = 0; i < times && !p->failed; i++) {
        if (i && !peer_accept_next(p))
            return;
        peer_send(p, GREETING);
        if (!peer_read_cmd(p) || strcmp(p->name, "qmp_capabilities") != 0) {
            p->failed = true;
            return;
        }
        if (greet_again)
            peer_send(p, GREETING);
        peer_wait_eof(p);
    }
    if (times >= 3 || !peer_accept_next(p))
        return;
    peer_greet(p);
    if (query && peer_read_cmd(p))
        peer_reply(p, "{\"return\": {\"status\": \"running\", \"running\": true}, "
                      "\"id\": @ID}\r\n");
    peer_wait_eof(p);
}
/* A hang-up at once on the first `times` connections; the next is served. */
static void script_hangs_up(struct peer *p, int times)
{
    for (int i = 0; i < times; i++) {
        if (i && !peer_accept_next(p))
            return;
        close(p->fd);
        p->fd = -1;
    }
    if (times >= COLO_QMP_HANGUP_ATTEMPTS || !peer_accept_next(p))
        return;  /* the client gives up after COLO_QMP_HANGUP_ATTEMPTS */
    peer_greet(p);
    peer_wait_eof(p);
}
static void script_hangs_up_once(struct peer *p) { script_hangs_up(p, 1); }
static void script_hangs_up_thrice(struct peer *p) { script_hangs_up(p, 3); }
static void script_hangs_up_always(struct peer *p) { script_hangs_up(p, COLO_QMP_HANGUP_ATTEMPTS); }
static void script_greets_twice_once(struct peer *p) { script_lost_start(p, 1, true, true); }
static void script_greets_twice_always(struct peer *p) { script_lost_start(p, 3, true, false); }
static void script_caps_lost_once(struct peer *p) { script_lost_start(p, 1, false, false); }
static void script_caps_lost_always(struct peer *p) { script_lost_start(p, 3, false, false); }

static void test_double_greeting(void)
{
    struct peer p;
    peer_start(&p, script_greets_twice_once);
    int errors = lg.errors;
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(lg.errors, errors);  /* the start over is not an error */
    _cleanup_tree_ yajl_val ret = NULL;
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, &ret, NULL), 0);
    CU_ASSERT(strstr(p.cmd, "\"id\":2") != NULL);  /* ids start over with the session */
    colo_qmp_close(q);
    peer_join(&p);

    peer_start(&p, script_greets_twice_always);
    q = NULL;
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, PEER_WAIT_MS, 0, &q), -EPROTO);
    CU_ASSERT(q == NULL);
    CU_ASSERT(logged("reply to qmp_capabilities: the greeting again"));
    peer_join(&p);
}

static void test_start_hang_up(void)
{
    struct peer p;
    peer_start(&p, script_hangs_up_once);
    int errors = lg.errors;
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(lg.errors, errors);  /* the start over is not an error */
    colo_qmp_close(q);
    peer_join(&p);

    /* Three times in a row, as a sidecar's QEMU did in CI: served at the
     * fourth. */
    peer_start(&p, script_hangs_up_thrice);
    q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(lg.errors, errors);
    colo_qmp_close(q);
    peer_join(&p);

    /* Hung up on every attempt: the last one's hang-up is the error. */
    peer_start(&p, script_hangs_up_always);
    q = NULL;
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, PEER_WAIT_MS, 0, &q), -ECONNRESET);
    CU_ASSERT(q == NULL);
    CU_ASSERT(logged("greeting: peer closed the connection"));
    peer_join(&p);
}

static void test_caps_lost(void)
{
    struct peer p;
    peer_start(&p, script_caps_lost_once);
    int errors = lg.errors;
    uint64_t t0 = colo_now_ns();
    colo_qmp *q = client(4 * SHORT_MS);
    uint64_t ms = (colo_now_ns() - t0) / COLO_NS_PER_MS;
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(lg.errors, errors);  /* the start over is not an error */
    CU_ASSERT(ms >= SHORT_MS && ms < 3 * SHORT_MS);  /* a quarter of the timeout, then served */
    colo_qmp_close(q);
    peer_join(&p);

    /* Lost on every connection: the last one waits out the whole timeout. */
    peer_start(&p, script_caps_lost_always);
    q = NULL;
    t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, 4 * SHORT_MS, 0, &q), -ETIMEDOUT);
    ms = (colo_now_ns() - t0) / COLO_NS_PER_MS;
    CU_ASSERT(ms >= 4 * SHORT_MS && ms < 8 * SHORT_MS);
    CU_ASSERT(q == NULL);
    CU_ASSERT(logged("reply to qmp_capabilities: no reply in 800 ms"));
    peer_join(&p);
}

static void script_slow(struct peer *p)
{
    peer_send_slowly(p, GREETING);
    if (peer_read_cmd(p))
        peer_send_slowly(p, "{\"return\": {}, \"id\": 1}\r\n");
    if (peer_read_cmd(p))
        peer_send_slowly(p, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 12, "
                         "\"microseconds\": 34}}\r\n{\"return\": {\"status\": \"running\", "
                         "\"running\": true}, \"id\": 2}\r\n");
    peer_wait_eof(p);
}

/* Every message split over one-byte reads: the greeting, the capabilities'
 * reply, an event and a reply. */
static void test_one_byte_reads(void)
{
    struct peer p;
    int errors = lg.errors;
    peer_start(&p, script_slow);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    unsigned maj, min, mic;
    colo_qmp_qemu_version(q, &maj, &min, &mic);
    CU_ASSERT(maj == 9 && min == 1 && mic == 3);
    _cleanup_tree_ yajl_val ret = NULL;
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, &ret, NULL), 0);
    const char *status = NULL;
    char why[64];
    CU_ASSERT(ret && colo_json_get_str(ret, "status", &status, why, sizeof(why)) == 0 &&
              strcmp(status, "running") == 0);
    _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
    CU_ASSERT_EQUAL(colo_qmp_next_event(q, &ev), 1);
    CU_ASSERT(ev.name && strcmp(ev.name, "STOP") == 0);
    CU_ASSERT(ev.seconds == 12 && ev.microseconds == 34 && ev.data == NULL);
    CU_ASSERT_EQUAL(lg.errors, errors);
    colo_qmp_close(q);
    peer_join(&p);
}

/* A reply of exactly COLO_QMP_MSG_MAX bytes, "\r\n" included; then one a
 * byte longer; then 8 MiB without a line end, of which the client reads
 * no more than the bound. */
static void reply_of(struct peer *p, size_t total)
{
    char head[64];
    int hn = snprintf(head, sizeof(head), "{\"id\": %s, \"return\": \"", p->id);
    const char tail[] = "\"}\r\n";
    size_t fill = total - (size_t)hn - (sizeof(tail) - 1);
    char *b = malloc(total);
    if (!b) {
        p->failed = true;
        return;
    }
    memcpy(b, head, (size_t)hn);
    memset(b + hn, 'x', fill);
    memcpy(b + hn + fill, tail, sizeof(tail) - 1);
    if (peer_send_len(p, b, total) < 0)
        p->failed = true;
    free(b);
}

static void script_big(struct peer *p)
{
    peer_greet(p);
    if (peer_read_cmd(p))
        reply_of(p, COLO_QMP_MSG_MAX);
    if (peer_read_cmd(p))
        reply_of(p, COLO_QMP_MSG_MAX + 1);
    peer_wait_eof(p);
    close(p->fd);
    struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
    if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || (p->fd = accept(p->lfd, NULL, NULL)) < 0) {
        p->failed = true;
        return;
    }
    peer_greet(p);
    if (!peer_read_cmd(p))
        return;
    /* Write until the client hangs up (EPIPE) or 8 MiB went. */
    static char chunk[65536];
    memset(chunk, ' ', sizeof(chunk));
    peer_send(p, "{\"return\": ");
    p->written = 0;
    for (int i = 0; i < 128; i++)
        if (peer_send_len(p, chunk, sizeof(chunk)) < 0)
            return;
    p->failed = true; /* the client took it all */
}

static void test_message_bound(void)
{
    struct peer p;
    peer_start(&p, script_big);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    yajl_val ret = NULL;
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-big", NULL, 0, &ret, NULL), 0);
    CU_ASSERT(ret && YAJL_IS_STRING(ret) &&
              strlen(ret->u.string) ==
                  COLO_QMP_MSG_MAX - strlen("{\"id\": 2, \"return\": \"\"}\r\n"));
    if (ret)
        yajl_tree_free(ret);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-bigger", NULL, 0, NULL, NULL), -EMSGSIZE);
    CU_ASSERT(logged("reply to query-bigger: message over 1048576 bytes"));
    colo_qmp_close(q);

    q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -EMSGSIZE);
    CU_ASSERT(logged("reply to query-status: message over 1048576 bytes"));
    colo_qmp_close(q);
    peer_join(&p);
    /* What the peer got out: the bound, plus what the kernel buffers. */
    CU_ASSERT(p.written < COLO_QMP_MSG_MAX + 1024 * 1024);
}

static void script_hangup(struct peer *p)
{
    peer_greet(p);
    if (peer_read_cmd(p))
        peer_send(p, "{\"return\": {\"sta");
    close(p->fd);
    struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
    if (poll(&pf, 1, PEER_WAIT_MS) <= 0 || (p->fd = accept(p->lfd, NULL, NULL)) < 0) {
        p->failed = true;
        return;
    }
    peer_greet(p);
    peer_read_cmd(p); /* and hang up at once */
}

static void test_hangup(void)
{
    struct peer p;
    peer_start(&p, script_hangup);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -ECONNRESET);
    CU_ASSERT(logged("reply to query-status: peer closed the connection mid-message"));
    CU_ASSERT(colo_qmp_broken(q));
    colo_qmp_close(q);

    q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "stop", NULL, 0, NULL, NULL), -ECONNRESET);
    CU_ASSERT(logged("reply to stop: peer closed the connection"));
    colo_qmp_close(q);
    peer_join(&p);
}

static void script_silent(struct peer *p)
{
    peer_greet(p);
    peer_read_cmd(p);
    peer_wait_eof(p);
}

static void script_trickle(struct peer *p)
{
    peer_greet(p);
    if (!peer_read_cmd(p))
        return;
    /* A reply that never ends, a byte every 20 ms: each read of the client
     * gets something, well within any per-read timeout. */
    peer_send(p, "{\"return\": ");
    for (int i = 0; i < 500; i++) {
        struct pollfd pf = { .fd = p->fd, .events = POLLIN };
        if (poll(&pf, 1, 20) != 0)
            return; /* the client hung up */
        if (peer_send_len(p, " ", 1) < 0)
            return;
    }
    p->failed = true;
}

static uint64_t ms_since(uint64_t t0)
{
    return (colo_now_ns() - t0) / COLO_NS_PER_MS;
}

/* No reply: -ETIMEDOUT after the connection's timeout, which bounds the
 * whole reply, not each read. */
static void test_no_reply(void)
{
    struct peer p;
    peer_start(&p, script_silent);
    colo_qmp *q = client(SHORT_MS);
    CU_ASSERT_FATAL(q != NULL);
    uint64_t t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -ETIMEDOUT);
    uint64_t ms = ms_since(t0);
    CU_ASSERT(ms >= SHORT_MS && ms < 15 * SHORT_MS);
    CU_ASSERT(logged("reply to query-status: no reply in 200 ms"));
    t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "cont", NULL, 0, NULL, NULL), -ENOTCONN);
    CU_ASSERT(ms_since(t0) < SHORT_MS);
    CU_ASSERT(logged("cont: not sent: the connection broke earlier (reply to query-status: "
                     "no reply in 200 ms)"));
    colo_qmp_close(q);
    peer_join(&p);

    peer_start(&p, script_trickle);
    q = client(SHORT_MS);
    CU_ASSERT_FATAL(q != NULL);
    t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -ETIMEDOUT);
    ms = ms_since(t0);
    CU_ASSERT(ms >= SHORT_MS && ms < 15 * SHORT_MS);
    CU_ASSERT(logged("reply to query-status: no reply in 200 ms"));
    colo_qmp_close(q);
    peer_join(&p);
}

static void script_no_greeting(struct peer *p)
{
    peer_wait_eof(p);
}

static void script_reply_first(struct peer *p)
{
    peer_send(p, "{\"return\": {}}\r\n");
    peer_wait_eof(p);
}

static void script_caps_refused(struct peer *p)
{
    peer_send(p, GREETING);
    if (peer_read_cmd(p))
        peer_reply(p, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, "
                      "\"id\": @ID}\n");
    peer_wait_eof(p);
}

/* The greeting and qmp_capabilities: what can go wrong, and connect's
 * arguments. */
static void test_connect_errors(void)
{
    colo_qmp *q = NULL;
    struct peer p;

    unlink(sock);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, SHORT_MS, 0, &q), -ENOENT);
    CU_ASSERT(logged("connect: No such file or directory"));
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, "domain 7", SHORT_MS, 0, &q), -ENOENT);
    char want[256];
    snprintf(want, sizeof(want), "domain 7: qmp %s: connect: No such file or directory", sock);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, 0, 0, &q), -EINVAL);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, SHORT_MS, 1, &q), -EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, longpath, NULL, SHORT_MS, 0, &q), -ENAMETOOLONG);
    CU_ASSERT(q == NULL);

    peer_start(&p, script_no_greeting);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, SHORT_MS, 0, &q), -ETIMEDOUT);
    CU_ASSERT(logged("greeting: none in 200 ms (is another client connected?)"));
    peer_join(&p);

    peer_start(&p, script_reply_first);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, SHORT_MS, 0, &q), -EPROTO);
    CU_ASSERT(logged("greeting: a reply came first"));
    peer_join(&p);

    peer_start(&p, script_caps_refused);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, NULL, SHORT_MS, 0, &q), -EREMOTEIO);
    CU_ASSERT(logged("qmp_capabilities failed: GenericError: no"));
    peer_join(&p);
    CU_ASSERT(q == NULL);
}

static void script_error(struct peer *p)
{
    peer_greet(p);
    for (int i = 0; i < 3 && peer_read_cmd(p); i++)
        peer_reply(p, i < 2 ? "{\"id\": @ID, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                              "\"The command nosuch has not been found\"}}\r\n"
                            : "{\"return\": {}, \"id\": @ID}\r\n");
    peer_wait_eof(p);
}

/* A QMP error: -EREMOTEIO, class and desc to the caller, one line unless
 * COLO_QMP_QUIET, and the connection goes on. */
static void test_qmp_error(void)
{
    struct peer p;
    peer_start(&p, script_error);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    colo_qmp_error e;
    yajl_val ret = (yajl_val)&e; /* set to NULL by the call */
    int errors = lg.errors;
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "nosuch", NULL, 0, &ret, &e), -EREMOTEIO);
    CU_ASSERT(ret == NULL);
    CU_ASSERT_STRING_EQUAL(e.cls, "CommandNotFound");
    CU_ASSERT_STRING_EQUAL(e.desc, "The command nosuch has not been found");
    CU_ASSERT(logged("nosuch failed: CommandNotFound: The command nosuch has not been found"));
    CU_ASSERT_EQUAL(lg.errors, errors + 1);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "nosuch", NULL, COLO_QMP_QUIET, NULL, &e), -EREMOTEIO);
    CU_ASSERT_EQUAL(lg.errors, errors + 1);
    CU_ASSERT_STRING_EQUAL(e.cls, "CommandNotFound");
    CU_ASSERT(!colo_qmp_broken(q));
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "cont", NULL, 0, NULL, NULL), 0);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "cont", NULL, 0x10, NULL, NULL), -EINVAL);
    CU_ASSERT(logged("cont: unknown flags 0x10"));
    colo_qmp_close(q);
    peer_join(&p);
}

static void script_args(struct peer *p)
{
    peer_greet(p);
    if (peer_read_cmd(p)) {
        /* What the client sent, exactly. */
        if (strcmp(p->cmd, "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\","
                           "\"server\":{\"type\":\"unix\",\"path\":\"/r/a\\\"b\"},\"n\":[1,-2.5,"
                           "true,null]},\"id\":2}") != 0)
            p->failed = true;
        peer_reply(p, "{\"return\": {}, \"id\": @ID}\r\n");
    }
    peer_wait_eof(p);
}

/* Arguments nest, and are written by json.c's generator; arguments that
 * are no JSON object are refused before anything is sent. */
static void test_arguments(void)
{
    struct peer p;
    peer_start(&p, script_args);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "blockdev-add", "{\"driver\":", 0, NULL, NULL), -EINVAL);
    CU_ASSERT(logged("blockdev-add: arguments: parse error: premature EOF"));
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "blockdev-add", "[1]", 0, NULL, NULL), -EINVAL);
    CU_ASSERT(logged("blockdev-add: arguments: not a JSON object"));
    CU_ASSERT(!colo_qmp_broken(q));
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "blockdev-add",
                                     "{\"driver\": \"nbd\", \"server\": {\"type\": \"unix\", "
                                     "\"path\": \"/r/a\\\"b\"}, \"n\": [1, -2.5, true, null]}",
                                     0, NULL, NULL), 0);
    colo_qmp_close(q);
    peer_join(&p);
}

static void script_deep(struct peer *p)
{
    peer_greet(p);
    if (!peer_read_cmd(p))
        return;
    /* 500000 levels: yajl_tree_free() would recurse once per level. */
    size_t n = 500000;
    char *b = malloc(2 * n + 2);
    if (!b) {
        p->failed = true;
        return;
    }
    memset(b, '[', n);
    memset(b + n, ']', n);
    b[2 * n] = '\n';
    peer_send_len(p, b, 2 * n + 1);
    free(b);
    peer_wait_eof(p);
}

static void test_deep_nesting(void)
{
    struct peer p;
    peer_start(&p, script_deep);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), -EBADMSG);
    CU_ASSERT(logged("reply to query-status: unparsable message: nested deeper than 64 levels"));
    colo_qmp_close(q);
    peer_join(&p);
}

static void send_events(struct peer *p, const char *name, int from, int to, size_t pad)
{
    char *line = malloc(pad + 256);
    if (!line) {
        p->failed = true;
        return;
    }
    for (int i = from; i < to && !p->failed; i++) {
        int n = snprintf(line, 256, "{\"event\": \"%s\", \"data\": {\"n\": %d, \"pad\": \"",
                         name, i);
        memset(line + n, 'p', pad);
        snprintf(line + n + pad, 256, "\"}, \"timestamp\": {\"seconds\": %d, "
                 "\"microseconds\": 0}}\r\n", i);
        peer_send(p, line);
    }
    free(line);
}

static void script_flood(struct peer *p)
{
    peer_greet(p);
    if (peer_read_cmd(p)) {
        send_events(p, "FLOOD", 0, 100, 0);
        peer_reply(p, "{\"return\": {}, \"id\": @ID}\r\n");
    }
    if (peer_read_cmd(p)) {
        /* Big events: the queue's byte bound. */
        send_events(p, "BIG", 0, 8, 200000);
        peer_reply(p, "{\"return\": {}, \"id\": @ID}\r\n");
    }
    peer_wait_eof(p);
}

static int event_n(const colo_qmp_event *ev)
{
    uint64_t n = 0;
    char why[64];
    if (!ev->data || colo_json_get_u64(ev->data, "n", 1000, &n, why, sizeof(why)) < 0)
        return -1;
    return (int)n;
}

/* More events than the queue holds: the oldest go, counted, with one
 * warning; the newest are all there, in order. */
static void test_event_flood(void)
{
    struct peer p;
    peer_start(&p, script_flood);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    int errors = lg.errors;
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), 0);
    CU_ASSERT_EQUAL(colo_qmp_events_dropped(q), 100 - COLO_QMP_EVENTS_MAX);
    CU_ASSERT(logged("event queue full (64 events, 1048576 bytes): dropping the oldest, "
                     "FLOOD first"));
    CU_ASSERT_EQUAL(lg.errors, errors);
    for (int i = 100 - COLO_QMP_EVENTS_MAX; i < 100; i++) {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_next_event(q, &ev), 1);
        CU_ASSERT(ev.name && strcmp(ev.name, "FLOOD") == 0);
        CU_ASSERT_EQUAL(event_n(&ev), i);
        CU_ASSERT_EQUAL(ev.seconds, (uint64_t)i);
    }
    colo_qmp_event none;
    CU_ASSERT_EQUAL(colo_qmp_next_event(q, &none), 0);

    /* 8 events of 200 kB: 5 fit in COLO_QMP_EVENTS_BYTES. */
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, NULL, NULL), 0);
    CU_ASSERT_EQUAL(colo_qmp_events_dropped(q), 100 - COLO_QMP_EVENTS_MAX + 3);
    CU_ASSERT(logged("event queue full (64 events, 1048576 bytes): dropping the oldest, "
                     "BIG first"));
    for (int i = 3; i < 8; i++) {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_next_event(q, &ev), 1);
        CU_ASSERT_EQUAL(event_n(&ev), i);
    }
    CU_ASSERT_EQUAL(colo_qmp_next_event(q, &none), 0);
    colo_qmp_close(q);
    peer_join(&p);
}

static void script_events(struct peer *p)
{
    peer_greet(p);
    if (peer_read_cmd(p)) {
        peer_send(p, "{\"event\": \"A\", \"data\": {\"n\": 1}}\r\n"
                     "{\"event\": \"B\", \"data\": {\"n\": 2}}\r\n");
        peer_reply(p, "{\"return\": {}, \"id\": @ID}\r\n");
    }
    peer_step(p);
    peer_send(p, "{\"event\": \"C\", \"data\": {\"n\": 3}}\r\n");
    peer_step(p);
    peer_send(p, "{\"return\": {}, \"id\": 77}\r\n");
    peer_wait_eof(p);
}

/* wait_event: a queued one first, others left in order; one from the
 * socket; a timeout that leaves the connection usable; a reply that no
 * command waits for. */
static void test_wait_event(void)
{
    struct peer p;
    peer_start(&p, script_events);
    colo_qmp *q = client(PEER_WAIT_MS);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "cont", NULL, 0, NULL, NULL), 0);
    {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "B", 0, 0, &ev), 0);
        CU_ASSERT_EQUAL(event_n(&ev), 2);
    }
    {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_next_event(q, &ev), 1);
        CU_ASSERT(ev.name && strcmp(ev.name, "A") == 0);
    }
    peer_go(&p);
    {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "C", PEER_WAIT_MS, 0, &ev), 0);
        CU_ASSERT_EQUAL(event_n(&ev), 3);
    }
    colo_qmp_event ev;
    uint64_t t0 = colo_now_ns();
    CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "D", SHORT_MS, 0, &ev), -ETIMEDOUT);
    CU_ASSERT(ms_since(t0) >= SHORT_MS);
    CU_ASSERT(logged("no D event in 200 ms"));
    int errors = lg.errors;
    CU_ASSERT_EQUAL(colo_qmp_wait_event(q, NULL, 0, COLO_QMP_QUIET, &ev), -ETIMEDOUT);
    CU_ASSERT_EQUAL(lg.errors, errors);
    CU_ASSERT(!colo_qmp_broken(q));
    CU_ASSERT_EQUAL(colo_qmp_wait_event(q, NULL, -1, 0, &ev), -EINVAL);
    peer_go(&p);
    CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "D", PEER_WAIT_MS, 0, &ev), -EPROTO);
    CU_ASSERT(logged("waiting for event D: a reply, with no command sent"));
    CU_ASSERT(colo_qmp_broken(q));
    colo_qmp_close(q);
    peer_join(&p);
}

/* ---------------------------------------------------------------- suite */

static int suite_init(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test-qmp-peer.XXXXXX");
    if (!mkdtemp(dir))
        return unit_setup_error("mkdtemp: %m");
    snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
    ctx = unit_ctx_with(&lg);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int suite_clean(void)
{
    unit_ctx_free(ctx);
    if (dir[0] && nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) < 0)
        return unit_setup_error("remove %s: %m", dir);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "garbage line: -EBADMSG, broken, then -ENOTCONN", test_garbage_line },
        { "wrong id, no id, error without desc, not QMP: -EPROTO", test_wrong_replies },
        { "the greeting twice in the handshake: a new connection, three at most", test_double_greeting },
        { "qmp_capabilities never answered: a new connection, three at most", test_caps_lost },
        { "a hang-up before the greeting: a new connection, ten at most", test_start_hang_up },
        { "every message over one-byte reads", test_one_byte_reads },
        { "a message at the bound, over it, and 8 MiB unended", test_message_bound },
        { "hang-up mid-reply and between messages", test_hangup },
        { "no reply, a reply that trickles: whole-reply timeout", test_no_reply },
        { "connect, greeting, capabilities errors", test_connect_errors },
        { "QMP error: class and desc, -EREMOTEIO, still usable", test_qmp_error },
        { "nested arguments written by the generator", test_arguments },
        { "a message nested 500000 deep", test_deep_nesting },
        { "event flood over the count and byte bounds", test_event_flood },
        { "wait_event: queued, read, timeout, stray reply", test_wait_event },
        { NULL, NULL },
    };
    return unit_run("qmp_peer", suite_init, suite_clean, tests);
}
