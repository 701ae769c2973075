/* stream-util.h - what the stream tests share: two ends of a socketpair,
 * each a stream with its own context and capturing logger; a handshake
 * with the server in a thread; raw records written by hand; a way to put
 * the test between the two ends after the handshake. */
#ifndef STREAM_UTIL_H
#define STREAM_UTIL_H

#include <endian.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream/crc32c.h"
#include "macro.h"
#include "stream/stream.h"
#include "unit-util.h"

#define T_MS 5000 /* every wait in the tests is bounded */

static const uint8_t key_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key_b[32] = "0123456789abcdef0123456789abcdeF";

struct side {
    struct unit_logger lg;
    libxlcolo_ctx *ctx;
    colo_stream *s;
};

/* c (client, primary) and v (server, secondary), connected. */
static inline void pair_new(struct side *c, struct side *v)
{
    int sp[2];

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
    c->ctx = unit_ctx_with(&c->lg);
    v->ctx = unit_ctx_with(&v->lg);
    CU_ASSERT_FATAL(colo_stream_new(c->ctx, sp[0], &c->s) == 0);
    CU_ASSERT_FATAL(colo_stream_new(v->ctx, sp[1], &v->s) == 0);
}

static inline void side_free(struct side *x)
{
    colo_stream_free(x->s);
    unit_ctx_free(x->ctx);
    x->s = NULL;
    x->ctx = NULL;
}

struct hs_job {
    colo_stream *s;
    const uint8_t *key;
    int r;
    unsigned version;
};

static inline void *hs_server_thread(void *p)
{
    struct hs_job *j = p;
    j->r = colo_stream_handshake_server(j->s, j->key, j->key ? 32 : 0, T_MS, &j->version);
    return NULL;
}

/* Client in this thread, server in another; both results returned. */
static inline void handshake(struct side *c, struct side *v, const uint8_t *ckey,
                             const uint8_t *vkey, int *rc, int *rv)
{
    struct hs_job j = { .s = v->s, .key = vkey };
    pthread_t t;
    unsigned version = 0;

    CU_ASSERT_FATAL(pthread_create(&t, NULL, hs_server_thread, &j) == 0);
    *rc = colo_stream_handshake_client(c->s, ckey, ckey ? 32 : 0, T_MS, &version);
    pthread_join(t, NULL);
    *rv = j.r;
    if (*rc == 0)
        CU_ASSERT_EQUAL(version, COLO_STREAM_VERSION_MAX);
    if (*rv == 0)
        CU_ASSERT_EQUAL(j.version, COLO_STREAM_VERSION_MAX);
}

static inline void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        CU_ASSERT_FATAL(k > 0);
        b += k;
        n -= (size_t)k;
    }
}

static inline void read_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = read(fd, b, n);
        CU_ASSERT_FATAL(k > 0);
        b += k;
        n -= (size_t)k;
    }
}

/* Whatever is waiting on fd, without blocking. */
static inline size_t read_avail(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t k = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

/* A header with any length field, the body given, a correct CRC. */
static inline void raw_record(int fd, uint16_t type, uint16_t flags, uint64_t length,
                              const void *body, size_t blen)
{
    uint8_t h[COLO_REC_HDR_LEN] = { 0 };
    uint16_t t = htole16(type), f = htole16(flags);
    uint64_t l = htole64(length);

    memcpy(h, &t, 2);
    memcpy(h + 2, &f, 2);
    memcpy(h + 8, &l, 8);
    uint32_t crc = htole32(colo_crc32c(colo_crc32c(0, h, sizeof(h)), body, blen));
    memcpy(h + 4, &crc, 4);
    write_all(fd, h, sizeof(h));
    if (blen)
        write_all(fd, body, blen);
}

/* After the handshake: c's writes go to *from_c, and v reads what the test
 * writes to *to_v. dup2() swaps the socket under each stream's fd. */
static inline void intercept(struct side *c, struct side *v, int *from_c, int *to_v)
{
    int x[2], y[2];

    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x) == 0);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, y) == 0);
    CU_ASSERT_FATAL(dup2(x[0], colo_stream_fd(c->s)) >= 0);
    CU_ASSERT_FATAL(dup2(y[0], colo_stream_fd(v->s)) >= 0);
    close(x[0]);
    close(y[0]);
    *from_c = x[1];
    *to_v = y[1];
}

#endif
