/* test_net.c - HOST[:PORT] parsing, and the stream over loopback TCP:
 * listen, connect, accept (and its timeout), refused connections. */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "stream/net.h"
#include "stream-util.h"

static void parse_ok(const char *spec, const char *host, uint16_t port)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    char *h = NULL;
    uint16_t p = 0;

    CU_ASSERT_EQUAL(colo_net_parse_hostport(ctx, spec, 7878, &h, &p), 0);
    CU_ASSERT_STRING_EQUAL(h ? h : "(null)", host);
    CU_ASSERT_EQUAL(p, port);
    free(h);
    unit_ctx_free(ctx);
}

static void parse_bad(const char *spec, const char *line)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    char *h = NULL;
    uint16_t p = 0;

    CU_ASSERT_EQUAL(colo_net_parse_hostport(ctx, spec, 7878, &h, &p), -EINVAL);
    CU_ASSERT_PTR_NULL(h);
    CU_ASSERT_STRING_EQUAL(lg.last, line);
    unit_ctx_free(ctx);
}

static void test_parse(void)
{
    parse_ok("backup", "backup", 7878);
    parse_ok("backup:9000", "backup", 9000);
    parse_ok("10.0.0.2:65535", "10.0.0.2", 65535);
    parse_ok("[fd00::2]:7000", "fd00::2", 7000);
    parse_ok("[fd00::2]", "fd00::2", 7878);
    parse_ok("fd00::2", "fd00::2", 7878);
    parse_ok("::1", "::1", 7878);
    parse_bad("", "empty address (HOST[:PORT] expected)");
    parse_bad("backup:", "bad address 'backup:': port '' is not 1..65535");
    parse_bad("backup:0", "bad address 'backup:0': port '0' is not 1..65535");
    parse_bad("backup:65536", "bad address 'backup:65536': port '65536' is not 1..65535");
    parse_bad("backup:80x", "bad address 'backup:80x': port '80x' is not 1..65535");
    parse_bad("[fd00::2", "bad address '[fd00::2': no closing ']'");
    parse_bad("[fd00::2]7000", "bad address '[fd00::2]7000': ':PORT' expected after ']'");
    parse_bad(":80", "bad address ':80': no host");
    parse_bad("[]:80", "bad address '[]:80': no host");
}

static int nodelay(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
    return v;
}

struct accept_job {
    libxlcolo_ctx *ctx;
    int lfd, fd;
    char peer[80];
};

static void *accept_thread(void *p)
{
    struct accept_job *j = p;
    j->fd = colo_net_accept(j->ctx, j->lfd, T_MS, j->peer, sizeof(j->peer));
    return NULL;
}

struct send_job {
    colo_stream *s;
    const void *buf;
    size_t len;
    int r;
};

static void *send_thread(void *p)
{
    struct send_job *j = p;
    j->r = colo_stream_send_buf(j->s, COLO_REC_DEVSTATE, 0, j->buf, j->len);
    return NULL;
}

/* Listen, connect, accept; then the authenticated stream and a 4 MiB
 * record over real TCP. */
static void test_tcp_stream(void)
{
    struct side c, v;
    struct accept_job j = { 0 };
    pthread_t t;
    int rc, rv;

    c.ctx = unit_ctx_with(&c.lg);
    v.ctx = unit_ctx_with(&v.lg);
    j.ctx = v.ctx;
    j.lfd = colo_net_listen(v.ctx, "127.0.0.1", 0);
    CU_ASSERT_FATAL(j.lfd >= 0);
    int port = colo_net_local_port(j.lfd);
    CU_ASSERT_FATAL(port > 0);
    CU_ASSERT_FATAL(pthread_create(&t, NULL, accept_thread, &j) == 0);
    int fd = colo_net_connect(c.ctx, "127.0.0.1", (uint16_t)port, T_MS);
    pthread_join(t, NULL);
    CU_ASSERT_FATAL(fd >= 0 && j.fd >= 0);
    CU_ASSERT(strncmp(j.peer, "127.0.0.1:", 10) == 0);
    CU_ASSERT(nodelay(fd) && nodelay(j.fd));
    close(j.lfd);

    CU_ASSERT_FATAL(colo_stream_new(c.ctx, fd, &c.s) == 0);
    CU_ASSERT_FATAL(colo_stream_new(v.ctx, j.fd, &v.s) == 0);
    handshake(&c, &v, key_a, key_a, &rc, &rv);
    CU_ASSERT_FATAL(rc == 0 && rv == 0);

    size_t len = 4u << 20;
    uint8_t *src = malloc(len), *dst = malloc(len);
    CU_ASSERT_FATAL(src && dst);
    for (size_t i = 0; i < len; i++)
        src[i] = (uint8_t)(i * 7 + (i >> 12));
    struct send_job sj = { .s = c.s, .buf = src, .len = len };
    struct colo_rec_hdr h;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, send_thread, &sj) == 0);
    CU_ASSERT_EQUAL(colo_stream_recv(v.s, &h, dst, len, T_MS), 0);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(sj.r, 0);
    CU_ASSERT(memcmp(src, dst, len) == 0);
    free(src);
    free(dst);
    side_free(&c);
    side_free(&v);
}

static void test_accept_timeout_and_refused(void)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    char want[128];

    int lfd = colo_net_listen(ctx, NULL, 0); /* any address, v6 and v4 */
    CU_ASSERT_FATAL(lfd >= 0);
    int port = colo_net_local_port(lfd);
    CU_ASSERT_EQUAL(colo_net_accept(ctx, lfd, 50, NULL, 0), -ETIMEDOUT);
    CU_ASSERT_STRING_EQUAL(lg.last, "no connection within 50 ms");
    /* The any-address listener takes IPv4 too. */
    int fd = colo_net_connect(ctx, "127.0.0.1", (uint16_t)port, T_MS);
    CU_ASSERT(fd >= 0);
    int afd = colo_net_accept(ctx, lfd, T_MS, NULL, 0);
    CU_ASSERT(afd >= 0);
    close(fd);
    close(afd);
    close(lfd);

    /* Nobody listens there now. */
    CU_ASSERT_EQUAL(colo_net_connect(ctx, "127.0.0.1", (uint16_t)port, T_MS), -ECONNREFUSED);
    snprintf(want, sizeof(want), "cannot connect to 127.0.0.1 port %d", port);
    CU_ASSERT_STRING_EQUAL(lg.last, want);

    /* A port in use, without SO_REUSEPORT games. */
    lfd = colo_net_listen(ctx, "127.0.0.1", 0);
    port = colo_net_local_port(lfd);
    CU_ASSERT_EQUAL(colo_net_listen(ctx, "127.0.0.1", (uint16_t)port), -EADDRINUSE);
    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1 port %d", port);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    close(lfd);
    unit_ctx_free(ctx);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "HOST[:PORT]", test_parse },
        { "stream over loopback TCP", test_tcp_stream },
        { "accept timeout, refused, in use", test_accept_timeout_and_refused },
        { NULL, NULL },
    };
    return unit_run("net", NULL, NULL, tests);
}
