/*
 * proxy-feed.c - t0170's driver: colo-proxy's scenarios through its own
 * sockets. It builds the frames (Ethernet, 802.1Q, IPv4, IPv6, TCP with
 * timestamps, UDP, fragments), sends them framed as colo-compare takes
 * them on primary-in and secondary-in, and checks, byte for byte and in
 * order, what comes out on outdev and on notify.
 *
 *   proxy-feed [--vnet] DIR SCENARIO
 *
 * DIR holds the daemon's sockets: pin.sock, sin.sock, out.sock,
 * ntf.sock, st.sock. SCENARIO: status (print the status line), inorder,
 * nospurious, divergence, stream, malformed, vnet, bounds-fill,
 * bounds-drain, notify; and for t0175, a protection's in-process
 * comparison (no notify socket): engine-hold PID (PID is the secondary's
 * xl-colo, stopped while a divergence is held), engine-alone; for t0176,
 * Remus's output buffer (no secondary input): remus RUNDIR DOMAIN
 * (checkpoints asked with `xl-colo --rundir RUNDIR checkpoint DOMAIN`),
 * remus-alone PID (PID is the secondary's xl-colo, killed here),
 * remus-delay PID MS (PID is the primary's xl-colo, killed here once an
 * epoch's acknowledgement is on its way, MS the link's delay each way).
 * Every
 * wait is bounded (WAIT_MS). Exit 0 when every check held, 1 with a "FAIL: ..." line for each that did not.
 * The counters are checked by the shell, on the status line.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../unit/frame-build.h"

#define WAIT_MS 20000

static int failures;
static bool vnet;
static const char *dir;

static void check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void check_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failures++;
}

#define CHECK(cond, ...) do { if (!(cond)) check_fail(__VA_ARGS__); } while (0)
#define DIE(...) do { check_fail(__VA_ARGS__); exit(1); } while (0)

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- frames: frame-build.h ---------------------------------------------------- */

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

/* --- sockets ------------------------------------------------------------------ */

static int uconnect(const char *name)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        DIE("connect %s: %s", sa.sun_path, strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            DIE("write: %s", strerror(errno));
        p += w;
        len -= (size_t)w;
    }
}

/* One record: be32 length [be32 vnet length (vlen bytes of vnet header
 * first)] bytes. */
static void send_rec_v(int fd, const void *d, size_t len, uint32_t vlen)
{
    uint8_t h[8 + 64] = { 0 };
    size_t hl = vnet ? 8 : 4;

    put32(h, (uint32_t)(len + vlen));
    if (vnet) {
        put32(h + 4, vlen);
        memset(h + 8, 0xab, vlen);     /* a vnet header's bytes */
        hl += vlen;
    }
    write_all(fd, h, hl);
    write_all(fd, d, len);
}

static void send_rec(int fd, const struct frame *f)
{
    send_rec_v(fd, f->d, f->len, vnet ? 12 : 0);
}

/* A reader of records, each wait bounded. */
struct rd {
    int fd;
    uint8_t buf[1 << 18];
    size_t have;
    bool eof;
};

static struct rd *rd_new(int fd)
{
    struct rd *r = calloc(1, sizeof(*r));

    if (!r)
        DIE("out of memory");
    r->fd = fd;
    return r;
}

/* The next record's payload into out[cap] (its length), -1 when none
 * came within ms; hlen: the header (4, or 8 with its vnet field). */
static long rd_next(struct rd *r, size_t hlen, uint8_t *out, size_t cap, int ms,
                    uint32_t *vlen)
{
    uint64_t end = now_ms() + (uint64_t)ms;

    for (;;) {
        if (r->have >= hlen) {
            uint32_t len = get32(r->buf);
            if (len > sizeof(r->buf) - hlen)
                DIE("a record of %u bytes", len);
            if (r->have >= hlen + len) {
                if (len > cap)
                    DIE("a record of %u bytes, over %zu", len, cap);
                if (vlen)
                    *vlen = hlen == 8 ? get32(r->buf + 4) : 0;
                memcpy(out, r->buf + hlen, len);
                memmove(r->buf, r->buf + hlen + len, r->have - hlen - len);
                r->have -= hlen + len;
                return len;
            }
        }
        if (r->eof)
            return -1;
        uint64_t t = now_ms();
        int left = t >= end ? 0 : (int)(end - t);
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        int n = poll(&p, 1, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        ssize_t got = read(r->fd, r->buf + r->have, sizeof(r->buf) - r->have);
        if (got <= 0)
            r->eof = true;
        else
            r->have += (size_t)got;
    }
}

/* --- the daemon's sides ------------------------------------------------------- */

struct peers {
    int pri, sec, out, ntf;
    struct rd *outr, *ntfr;
};

/* outdev first (so that it gets every frame), then the inputs, then
 * notify with its handshake, checked byte for byte. */
static struct peers connect_all(bool notify)
{
    struct peers p = { .ntf = -1 };

    p.out = uconnect("out.sock");
    p.outr = rd_new(p.out);
    p.pri = uconnect("pin.sock");
    p.sec = uconnect("sin.sock");
    if (notify) {
        p.ntf = uconnect("ntf.sock");
        p.ntfr = rd_new(p.ntf);
        uint8_t msg[4 + 25];
        put32(msg, 25);
        memcpy(msg + 4, "COLO_USERSPACE_PROXY_INIT", 25);
        if (vnet) {
            uint8_t m8[8 + 25] = { 0 };
            put32(m8, 25);
            memcpy(m8 + 8, msg + 4, 25);
            write_all(p.ntf, m8, sizeof(m8));
        } else {
            write_all(p.ntf, msg, sizeof(msg));
        }
        uint8_t got[64];
        long n = rd_next(p.ntfr, 4, got, sizeof(got), WAIT_MS, NULL);
        if (n != 25 || memcmp(got, "COLO_COMPARE_GET_XEN_INIT", 25) != 0)
            DIE("notify: no COLO_COMPARE_GET_XEN_INIT answered to COLO_USERSPACE_PROXY_INIT");
    }
    return p;
}

static void close_all(struct peers *p)
{
    close(p->pri);
    if (p->sec >= 0)
        close(p->sec);
    close(p->out);
    if (p->ntf >= 0)
        close(p->ntf);
    free(p->outr);
    free(p->ntfr);
}

static uint8_t got_buf[FRAME_BUF];

/* The next n frames on outdev are want[0..n), byte for byte, in order. */
static void expect_released(struct peers *p, const struct frame *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t vl = 0;
        long len = rd_next(p->outr, vnet ? 8 : 4, got_buf, sizeof(got_buf), WAIT_MS, &vl);
        if (len < 0) {
            check_fail("%s: frame %zu of %zu not released", what, i + 1, n);
            return;
        }
        if ((size_t)len != want[i].len || memcmp(got_buf, want[i].d, want[i].len) != 0 ||
            vl != 0) {
            check_fail("%s: released frame %zu of %zu (%ld bytes, vnet %u) is not the "
                       "primary's (%zu bytes)", what, i + 1, n, len, vl, want[i].len);
            return;
        }
    }
}

/* Nothing more on outdev now (what was released before a point the
 * daemon has passed is already in the socket). */
static void expect_no_release(struct peers *p, const char *what)
{
    long len = rd_next(p->outr, vnet ? 8 : 4, got_buf, sizeof(got_buf), 0, NULL);
    CHECK(len < 0, "%s: a frame (%ld bytes) was released", what, len);
}

static void expect_do_checkpoint(struct peers *p, const char *what)
{
    uint8_t m[64];
    long n = rd_next(p->ntfr, 4, m, sizeof(m), WAIT_MS, NULL);

    CHECK(n == 13 && memcmp(m, "DO_CHECKPOINT", 13) == 0, "%s: no DO_CHECKPOINT (got %ld bytes)",
          what, n);
}

static void expect_no_notify(struct peers *p, const char *what)
{
    uint8_t m[64];
    long n = rd_next(p->ntfr, 4, m, sizeof(m), 0, NULL);

    CHECK(n < 0, "%s: an unexpected notify message of %ld bytes (\"%.*s\")", what, n,
          n > 0 ? (int)n : 0, (const char *)m);
}

static void send_notify(struct peers *p, const char *msg)
{
    uint8_t m[8 + 128] = { 0 };
    size_t h = vnet ? 8 : 4, len = strlen(msg);

    put32(m, (uint32_t)len);
    memcpy(m + h, msg, len);
    write_all(p->ntf, m, h + len);
}

static void free_frames(struct frame *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        frame_free(&f[i]);
}

/* The status line into line[size]; retried (bounded) while the service
 * starts. */
static void status_line(char *line, size_t size)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint64_t end = now_ms() + WAIT_MS;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/st.sock", dir);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            DIE("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            size_t have = 0;
            struct pollfd pf = { .fd = fd, .events = POLLIN };
            while (have < size - 1 && poll(&pf, 1, WAIT_MS) == 1) {
                ssize_t r = read(fd, line + have, size - 1 - have);
                if (r <= 0)
                    break;
                have += (size_t)r;
            }
            close(fd);
            line[have] = '\0';
            if (!have || line[have - 1] != '\n')
                DIE("status: no whole line");
            return;
        }
        int e = errno;
        close(fd);
        if ((e != ENOENT && e != ECONNREFUSED) || now_ms() > end)
            DIE("status %s: %s", sa.sun_path, strerror(e));
        struct pollfd none;
        poll(&none, 0, 10);                     /* the service is starting */
    }
}

/* --- scenarios --------------------------------------------------------------------- */

static uint8_t payload[65536];

static void fill_payload(void)
{
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7 + 3);
}

/* A TCP segment of the guest's stream: seq relative to isn. */
static struct frame tcp_seg(uint16_t sport, uint32_t isn, uint32_t rel, uint8_t flags,
                            const void *data, size_t len, uint16_t ip_id, uint32_t tsval)
{
    struct spec s = {
        .ip = 4, .proto = 6, .sport = sport, .dport = 80, .seq = isn + rel,
        .ack = flags & SYN ? 0 : 5001, .flags = flags, .ts = true, .tsval = tsval,
        .tsecr = 9000, .ip_id = ip_id, .payload = data, .len = len,
    };
    return mk(&s);
}

static struct frame udp(int ip, bool tagged, uint16_t sport, const void *data, size_t len,
                        uint16_t ip_id)
{
    struct spec s = {
        .ip = ip, .tagged = tagged, .vlan = 42, .proto = 17, .sport = sport, .dport = 53,
        .ip_id = ip_id, .flow_label = ip_id, .payload = data, .len = len,
    };
    return mk(&s);
}

/* (1) A TCP backlog and a UDP backlog, each released in order. */
static void scenario_inorder(void)
{
    enum { N = 64 };
    struct peers p = connect_all(true);
    struct frame pt[N + 1], st[N + 1], pu[N], su[N];

    pt[0] = tcp_seg(1000, 1000, 0, SYN, NULL, 0, 1, 100);
    st[0] = tcp_seg(1000, 1000, 0, SYN, NULL, 0, 1, 100);
    for (int i = 0; i < N; i++) {
        pt[i + 1] = tcp_seg(1000, 1000, 1 + (uint32_t)i * 100, ACK | PSH, payload + i, 100,
                            (uint16_t)(2 + i), 100);
        st[i + 1] = tcp_seg(1000, 1000, 1 + (uint32_t)i * 100, ACK | PSH, payload + i, 100,
                            (uint16_t)(2 + i), 100);
    }
    for (int i = 0; i <= N; i++)
        send_rec(p.pri, &pt[i]);
    for (int i = 0; i <= N; i++)
        send_rec(p.sec, &st[i]);
    expect_released(&p, pt, N + 1, "TCP backlog");
    for (int i = 0; i < N; i++) {
        uint8_t d[32];
        memset(d, i, sizeof(d));
        pu[i] = udp(4, false, 2000, d, sizeof(d), (uint16_t)i);
        su[i] = udp(4, false, 2000, d, sizeof(d), (uint16_t)i);
        send_rec(p.pri, &pu[i]);
    }
    for (int i = 0; i < N; i++)
        send_rec(p.sec, &su[i]);
    expect_released(&p, pu, N, "UDP backlog");
    expect_no_release(&p, "in order");
    expect_no_notify(&p, "in order");
    free_frames(pt, N + 1);
    free_frames(st, N + 1);
    free_frames(pu, N);
    free_frames(su, N);
    close_all(&p);
}

/* (2) What two stacks legitimately differ in causes no checkpoint. */
static void scenario_nospurious(void)
{
    enum { N = 100 };
    struct peers p = connect_all(true);
    struct frame pt[N + 1], st[N + 1], pu[N], su[N];

    /* Different ISNs, IP IDs and timestamp values. */
    pt[0] = tcp_seg(1001, 1000, 0, SYN, NULL, 0, 10, 100);
    st[0] = tcp_seg(1001, 0x90000000u, 0, SYN, NULL, 0, 7777, 55555);
    for (int i = 0; i < N; i++) {
        pt[i + 1] = tcp_seg(1001, 1000, 1 + (uint32_t)i * 200, ACK | PSH, payload + 3 * i, 200,
                            (uint16_t)(11 + i), 100 + (uint32_t)i);
        st[i + 1] = tcp_seg(1001, 0x90000000u, 1 + (uint32_t)i * 200, ACK | PSH,
                            payload + 3 * i, 200, (uint16_t)(9000 + 3 * i),
                            55555 + 7 * (uint32_t)i);
    }
    for (int i = 0; i <= N; i++) {
        send_rec(p.pri, &pt[i]);
        send_rec(p.sec, &st[i]);
    }
    expect_released(&p, pt, N + 1, "TCP, other ISN, IP IDs, timestamps");
    /* An identical burst: the same datagram N times, other IP IDs. */
    uint8_t d[64];
    memset(d, 0x5a, sizeof(d));
    for (int i = 0; i < N; i++) {
        pu[i] = udp(4, false, 2001, d, sizeof(d), (uint16_t)(100 + i));
        su[i] = udp(4, false, 2001, d, sizeof(d), (uint16_t)(40000 + 11 * i));
    }
    for (int i = 0; i < N; i++)
        send_rec(p.pri, &pu[i]);
    for (int i = 0; i < N; i++)
        send_rec(p.sec, &su[i]);
    expect_released(&p, pu, N, "an identical UDP burst");
    expect_no_release(&p, "no spurious checkpoint");
    expect_no_notify(&p, "no spurious checkpoint");
    free_frames(pt, N + 1);
    free_frames(st, N + 1);
    free_frames(pu, N);
    free_frames(su, N);
    close_all(&p);
}

/* One divergence episode: good[0..ng) sent by both and released; then
 * the primary's bad and after[0..na), the secondary's sbad: exactly one
 * DO_CHECKPOINT, nothing of bad or after released before it; then
 * COLO_CHECKPOINT releases them in order; then a good exchange (sync)
 * goes through and no other DO_CHECKPOINT came. */
static void episode(struct peers *p, const char *what, struct frame *good, struct frame *sgood,
                    size_t ng, struct frame *bad, struct frame *sbad, struct frame *after,
                    size_t na, struct frame *sync, struct frame *ssync)
{
    for (size_t i = 0; i < ng; i++) {
        send_rec(p->pri, &good[i]);
        send_rec(p->sec, &sgood[i]);
    }
    expect_released(p, good, ng, what);
    send_rec(p->pri, bad);
    send_rec(p->sec, sbad);
    expect_do_checkpoint(p, what);
    expect_no_release(p, what);
    for (size_t i = 0; i < na; i++) {
        send_rec(p->pri, &after[i]);
        send_rec(p->sec, sbad);            /* the secondary goes on diverging */
    }
    send_notify(p, "COLO_CHECKPOINT");
    expect_released(p, bad, 1, what);
    expect_released(p, after, na, what);
    send_rec(p->pri, sync);
    send_rec(p->sec, ssync);
    expect_released(p, sync, 1, what);
    expect_no_release(p, what);
    expect_no_notify(p, what);
}

/* (3) Payload, FIN against RST, IPv6, VLAN: one checkpoint each. */
static void scenario_divergence(void)
{
    struct peers p = connect_all(true);
    struct frame g[4], sg[4], bad, sbad, after[2], sync, ssync;
    uint8_t other[100];

    /* A payload divergence in a TCP stream. */
    memcpy(other, payload, sizeof(other));
    other[99] ^= 0xff;
    g[0] = tcp_seg(1010, 5000, 0, SYN, NULL, 0, 1, 1);
    sg[0] = tcp_seg(1010, 8000, 0, SYN, NULL, 0, 1, 1);
    for (int i = 0; i < 3; i++) {
        g[i + 1] = tcp_seg(1010, 5000, 1 + 100 * (uint32_t)i, ACK, payload, 100, 0, 0);
        sg[i + 1] = tcp_seg(1010, 8000, 1 + 100 * (uint32_t)i, ACK, payload, 100, 0, 0);
    }
    bad = tcp_seg(1010, 5000, 301, ACK, payload, 100, 0, 0);
    sbad = tcp_seg(1010, 8000, 301, ACK, other, 100, 0, 0);
    after[0] = tcp_seg(1010, 5000, 401, ACK, payload, 100, 0, 0);
    after[1] = tcp_seg(1010, 5000, 501, ACK, payload, 100, 0, 0);
    /* After the checkpoint the secondary is the primary's copy: its ISN
     * offset is none. */
    sync = tcp_seg(1010, 5000, 601, ACK, payload + 1, 100, 0, 0);
    ssync = tcp_seg(1010, 5000, 601, ACK, payload + 1, 100, 0, 0);
    episode(&p, "TCP payload", g, sg, 4, &bad, &sbad, after, 2, &sync, &ssync);
    free_frames(g, 4); free_frames(sg, 4);
    frame_free(&bad); frame_free(&sbad); free_frames(after, 2);
    frame_free(&sync); frame_free(&ssync);

    /* FIN against RST, segments without payload. */
    g[0] = tcp_seg(1011, 100, 0, SYN, NULL, 0, 1, 1);
    sg[0] = tcp_seg(1011, 200, 0, SYN, NULL, 0, 1, 1);
    g[1] = tcp_seg(1011, 100, 1, ACK, payload, 50, 0, 0);
    sg[1] = tcp_seg(1011, 200, 1, ACK, payload, 50, 0, 0);
    bad = tcp_seg(1011, 100, 51, ACK | FIN, NULL, 0, 0, 0);
    sbad = tcp_seg(1011, 200, 51, ACK | RST, NULL, 0, 0, 0);
    sync = udp(4, false, 3011, payload, 20, 0);
    ssync = udp(4, false, 3011, payload, 20, 0);
    episode(&p, "FIN against RST", g, sg, 2, &bad, &sbad, NULL, 0, &sync, &ssync);
    free_frames(g, 2); free_frames(sg, 2);
    frame_free(&bad); frame_free(&sbad); frame_free(&sync); frame_free(&ssync);

    /* IPv6 and a VLAN-tagged flow: UDP, the last datagram differs. */
    for (int v = 0; v < 2; v++) {
        int ip = v == 0 ? 6 : 4;
        bool tag = v == 1;
        for (int i = 0; i < 2; i++) {
            g[i] = udp(ip, tag, 3100, payload + i, 40, (uint16_t)i);
            sg[i] = udp(ip, tag, 3100, payload + i, 40, (uint16_t)(i + 77));
        }
        bad = udp(ip, tag, 3100, payload + 5, 40, 3);
        sbad = udp(ip, tag, 3100, payload + 6, 40, 3);
        after[0] = udp(ip, tag, 3100, payload + 7, 40, 4);
        sync = udp(ip, tag, 3100, payload + 8, 40, 5);
        ssync = udp(ip, tag, 3100, payload + 8, 40, 6);
        episode(&p, v == 0 ? "IPv6" : "VLAN", g, sg, 2, &bad, &sbad, after, 1, &sync, &ssync);
        free_frames(g, 2); free_frames(sg, 2);
        frame_free(&bad); frame_free(&sbad); frame_free(&after[0]);
        frame_free(&sync); frame_free(&ssync);
    }
    close_all(&p);
}

/* (4) The same bytes cut differently, the same datagram fragmented
 * differently: equal. */
static void scenario_stream(void)
{
    struct peers p = connect_all(true);
    struct frame pt[4], st[6];

    pt[0] = tcp_seg(1020, 70000, 0, SYN, NULL, 0, 1, 1);
    st[0] = tcp_seg(1020, 90000, 0, SYN, NULL, 0, 1, 1);
    for (int i = 0; i < 3; i++)
        pt[i + 1] = tcp_seg(1020, 70000, 1 + 1000 * (uint32_t)i, ACK, payload + 1000 * i, 1000,
                            0, 0);
    for (int i = 0; i < 5; i++)
        st[i + 1] = tcp_seg(1020, 90000, 1 + 600 * (uint32_t)i, ACK, payload + 600 * i, 600, 0,
                            0);
    for (int i = 0; i < 4; i++)
        send_rec(p.pri, &pt[i]);
    for (int i = 0; i < 6; i++)
        send_rec(p.sec, &st[i]);
    expect_released(&p, pt, 4, "TCP cut differently");
    free_frames(pt, 4);
    free_frames(st, 6);

    for (int ip = 4; ip <= 6; ip += 2) {
        struct frame whole = udp(ip, false, 4000, payload, 3000, 0), pf[3], sf[4];
        static const uint32_t pcuts[] = { 1480, 2960 }, scuts[] = { 800, 1600, 2400 };
        fragment(&whole, pcuts, 2, 0x1234, pf);
        fragment(&whole, scuts, 3, 0x4321, sf);
        for (int i = 0; i < 3; i++)
            send_rec(p.pri, &pf[i]);
        for (int i = 3; i >= 0; i--)            /* out of order, too */
            send_rec(p.sec, &sf[i]);
        expect_released(&p, pf, 3, ip == 4 ? "IPv4 fragments" : "IPv6 fragments");
        frame_free(&whole);
        free_frames(pf, 3);
        free_frames(sf, 4);
    }
    expect_no_release(&p, "stream compare");
    expect_no_notify(&p, "stream compare");
    close_all(&p);
}

/* A good UDP exchange, released. */
static void good_exchange(struct peers *p, uint16_t sport, const char *what)
{
    struct frame a = udp(4, false, sport, payload, 30, 1), b = udp(4, false, sport, payload, 30, 2);

    send_rec(p->pri, &a);
    send_rec(p->sec, &b);
    expect_released(p, &a, 1, what);
    frame_free(&a);
    frame_free(&b);
}

/* The malformed set, on one input. */
static void send_malformed(int fd)
{
    uint8_t b[128];
    struct frame f;

    /* Length 0. */
    put32(b, 0);
    write_all(fd, b, 4);
    if (vnet)
        write_all(fd, (uint8_t[4]){ 0 }, 4);
    /* Over 64 KiB (70000 bytes, skipped exactly: the next record is read). */
    uint8_t *big = calloc(1, 70000);
    if (!big)
        DIE("out of memory");
    memset(big, 0x45, 70000);
    send_rec_v(fd, big, 70000, 0);
    free(big);
    /* A runt: 10 bytes. */
    send_rec_v(fd, payload, 10, 0);
    /* A truncated header: Ethernet and 10 bytes of IPv4. */
    f = udp(4, false, 5000, payload, 10, 0);
    send_rec_v(fd, f.d, 24, 0);
    /* A bad IHL (3). */
    f.d[14] = 0x43;
    send_rec_v(fd, f.d, f.len, 0);
    frame_free(&f);
    /* A TCP data offset past the end (15 words in a 20-byte header). */
    f = tcp_seg(5001, 1, 0, ACK, NULL, 0, 0, 0);
    f.d[14 + 20 + 12] = 0xf0;
    send_rec_v(fd, f.d, f.len, 0);
    frame_free(&f);
    /* An IPv4 total length past the end. */
    f = udp(4, false, 5002, payload, 10, 0);
    put16(f.d + 16, 200);
    send_rec_v(fd, f.d, f.len, 0);
    frame_free(&f);
}

/* (5) Malformed frames: each counted (the shell checks the status), no
 * crash, the next good exchange released. */
static void scenario_malformed(void)
{
    struct peers p = connect_all(true);
    uint8_t b[64];

    good_exchange(&p, 6000, "before the malformed frames");
    send_malformed(p.pri);
    send_malformed(p.sec);
    good_exchange(&p, 6001, "after the malformed frames");
    /* A frame cut short (100 bytes said, 10 sent), then a close, and a
     * reconnect on the primary; a header cut short on the secondary. */
    put32(b, 100);
    memset(b + 4, 0, 10);
    if (vnet) {
        put32(b + 4, 0);
        write_all(p.pri, b, 18);
    } else {
        write_all(p.pri, b, 14);
    }
    close(p.pri);
    write_all(p.sec, b, 2);
    close(p.sec);
    p.pri = uconnect("pin.sock");
    p.sec = uconnect("sin.sock");
    good_exchange(&p, 6002, "after a reconnect");
    expect_no_release(&p, "malformed");
    expect_no_notify(&p, "malformed");
    close_all(&p);
}

/* --vnet-hdr: each record's vnet header stripped, and a vnet header
 * length over its bound refused; what goes out carries a vnet length 0. */
static void scenario_vnet(void)
{
    struct peers p = connect_all(true);
    struct frame f = udp(4, false, 6100, payload, 30, 1);

    good_exchange(&p, 6100, "vnet");
    uint8_t h[8];
    put32(h, (uint32_t)f.len);
    put32(h + 4, 100);                  /* over the bound */
    write_all(p.pri, h, 8);
    write_all(p.pri, f.d, f.len);
    put32(h + 4, (uint32_t)f.len + 1);  /* over the record */
    write_all(p.sec, h, 8);
    write_all(p.sec, f.d, f.len);
    good_exchange(&p, 6101, "vnet, after a bad vnet length");
    frame_free(&f);
    expect_no_notify(&p, "vnet");
    close_all(&p);
}

/* (6) 100,000 flows and a secondary that never answers: one
 * DO_CHECKPOINT (the shell reads the daemon's memory meanwhile). */
static void scenario_bounds_fill(void)
{
    enum { FLOWS = 100000 };
    struct peers p = connect_all(true);
    uint8_t *batch = malloc(1 << 20);
    size_t used = 0;

    if (!batch)
        DIE("out of memory");
    for (uint32_t i = 0; i < FLOWS; i++) {
        struct spec s = {
            .ip = 4, .proto = 17, .sport = (uint16_t)(1024 + i % 50000),
            .dport = (uint16_t)(7000 + i / 50000), .dst_host = (uint8_t)(2 + i / 50000),
            .payload = payload, .len = 64,
        };
        struct frame f = mk(&s);
        put32(batch + used, (uint32_t)f.len);
        memcpy(batch + used + 4, f.d, f.len);
        used += 4 + f.len;
        frame_free(&f);
        if (used > (1 << 20) - 256 || i == FLOWS - 1) {
            write_all(p.pri, batch, used);
            used = 0;
        }
    }
    free(batch);
    expect_do_checkpoint(&p, "100,000 flows");
    expect_no_release(&p, "100,000 flows");
    /* The inputs, outdev and notify close: the state stays. */
    close_all(&p);
}

/* ... then a new notify peer gets the DO_CHECKPOINT it missed, and its
 * COLO_CHECKPOINT releases the held frames (held: their number). */
static void scenario_bounds_drain(long held)
{
    struct peers p = connect_all(false);

    p.ntf = uconnect("ntf.sock");
    p.ntfr = rd_new(p.ntf);
    expect_do_checkpoint(&p, "a new notify peer");
    send_notify(&p, "COLO_CHECKPOINT");
    long n = 0;
    while (rd_next(p.outr, 4, got_buf, sizeof(got_buf), n < held ? WAIT_MS : 0, NULL) >= 0)
        n++;
    CHECK(n == held, "released %ld frames at the checkpoint, %ld were held", n, held);
    good_exchange(&p, 6200, "after the overflow");
    expect_no_notify(&p, "after the overflow");
    close_all(&p);
}

/* (7) notify_dev: the handshake (connect_all), refusals, one
 * DO_CHECKPOINT per episode, and the timeout's. */
static void scenario_notify(void)
{
    struct peers p = connect_all(true);
    uint8_t big[8 + 100] = { 0 };

    send_notify(&p, "HELLO");                   /* unknown: refused */
    put32(big, 100);                            /* over the bound: refused */
    memset(big + (vnet ? 8 : 4), 'x', 100);
    write_all(p.ntf, big, (vnet ? 8 : 4) + 100);
    /* A divergence: one DO_CHECKPOINT, byte for byte. */
    struct frame a = udp(4, false, 6300, payload, 30, 1), b = udp(4, false, 6300, payload + 1, 30, 1);
    send_rec(p.pri, &a);
    send_rec(p.sec, &b);
    uint8_t m[64];
    long n = rd_next(p.ntfr, 4, m, sizeof(m), WAIT_MS, NULL);
    CHECK(n == 13 && memcmp(m, "DO_CHECKPOINT", 13) == 0, "divergence: no DO_CHECKPOINT");
    expect_no_release(&p, "notify: divergence");
    send_rec(p.sec, &b);                        /* more of the episode */
    send_notify(&p, "COLO_CHECKPOINT");
    expect_released(&p, &a, 1, "notify: the held frame");
    /* A primary frame the secondary never sends: the compare timeout. */
    struct frame c = udp(4, false, 6301, payload, 30, 1);
    send_rec(p.pri, &c);
    expect_do_checkpoint(&p, "compare timeout");
    expect_no_release(&p, "compare timeout");
    send_notify(&p, "COLO_CHECKPOINT");
    expect_released(&p, &c, 1, "compare timeout: the held frame");
    good_exchange(&p, 6302, "notify: after");
    expect_no_notify(&p, "notify: after");
    frame_free(&a);
    frame_free(&b);
    frame_free(&c);
    close_all(&p);
}

/* The status line, printed. */
static int status(void)
{
    char line[16384];

    status_line(line, sizeof(line));
    fputs(line, stdout);
    return 0;
}

/* (t0175) A protection's comparison: a divergence is held while its
 * checkpoint cannot finish (the secondary's xl-colo stopped), and
 * released by the checkpoint once it has. */
static void scenario_engine_hold(pid_t secondary)
{
    struct peers p = connect_all(false);
    struct frame a = udp(4, false, 6401, payload, 30, 1), b = udp(4, false, 6401, payload + 1, 30, 1);
    char line[16384];
    uint64_t end = now_ms() + WAIT_MS;

    good_exchange(&p, 6400, "engine: before");
    if (kill(secondary, SIGSTOP) < 0)
        DIE("SIGSTOP %d: %s", (int)secondary, strerror(errno));
    send_rec(p.pri, &a);
    send_rec(p.sec, &b);
    /* The service has taken both frames once it says a checkpoint is due. */
    do {
        status_line(line, sizeof(line));
        if (strstr(line, "\"checkpoint_pending\":true"))
            break;
        struct pollfd none;
        poll(&none, 0, 10);
    } while (now_ms() < end);
    CHECK(strstr(line, "\"checkpoint_pending\":true"), "engine: no checkpoint asked: %s", line);
    expect_no_release(&p, "engine: the divergence, before its checkpoint");
    if (kill(secondary, SIGCONT) < 0)
        DIE("SIGCONT %d: %s", (int)secondary, strerror(errno));
    expect_released(&p, &a, 1, "engine: the divergence, after its checkpoint");
    good_exchange(&p, 6402, "engine: after");
    frame_free(&a);
    frame_free(&b);
    close_all(&p);
}

/* The number member key of the status line's "commit" object. */
static long commit_field(const char *line, const char *key)
{
    const char *c = strstr(line, "\"commit\":{");
    char k[64];

    snprintf(k, sizeof(k), "\"%s\":", key);
    const char *v = c ? strstr(c, k) : NULL;
    const char *end = c ? strchr(c, '}') : NULL;
    if (!v || v > end)
        DIE("status: no commit.%s in %s", key, line);
    return atol(v + strlen(k));
}

/* Until commit.key is want (bounded): true if it came. */
static bool wait_commit(const char *key, long want)
{
    char line[16384];
    uint64_t end = now_ms() + WAIT_MS;
    long v;

    do {
        status_line(line, sizeof(line));
        v = commit_field(line, key);
        if (v == want)
            return true;
        struct pollfd none;
        poll(&none, 0, 10);
    } while (now_ms() < end);
    check_fail("commit.%s is %ld, not %ld", key, v, want);
    return false;
}

extern char **environ;

/* `xl-colo --rundir RUNDIR checkpoint DOMAIN`, started: its pid. */
static pid_t checkpoint_start(const char *rundir, const char *dom)
{
    char *argv[] = { "xl-colo", "--rundir", (char *)rundir, "checkpoint", (char *)dom, NULL };
    pid_t pid;
    int r = posix_spawnp(&pid, "xl-colo", NULL, NULL, argv, environ);

    if (r)
        DIE("xl-colo checkpoint: %s", strerror(r));
    return pid;
}

/* ... and its exit, which must be 0 (bounded by its own 30 s). */
static void checkpoint_wait(pid_t pid, const char *what)
{
    int st;

    if (waitpid(pid, &st, 0) != pid)
        DIE("waitpid: %s", strerror(errno));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: xl-colo checkpoint failed (status %d)",
          what, st);
}

/* (t0176) Remus: frames are released only once the checkpoint of the
 * epoch they were sent in is acknowledged, in order. (That a frame sent
 * after an epoch's end waits for the next acknowledgement is
 * test_proxy_commit's: here the checkpoint is too quick to come between.) */
static void scenario_remus(const char *rundir, const char *dom)
{
    struct peers p = { .sec = -1, .ntf = -1 };
    struct frame f[3];

    for (int i = 0; i < 3; i++)
        f[i] = udp(4, false, (uint16_t)(6600 + i), payload + i, 40, (uint16_t)i);
    p.out = uconnect("out.sock");
    p.outr = rd_new(p.out);
    p.pri = uconnect("pin.sock");

    /* Held until a checkpoint is acknowledged. */
    send_rec(p.pri, &f[0]);
    wait_commit("held", 1);
    expect_no_release(&p, "remus: before its checkpoint");
    checkpoint_wait(checkpoint_start(rundir, dom), "remus: the first checkpoint");
    expect_released(&p, &f[0], 1, "remus: after its checkpoint");

    /* Two frames of one epoch: both held, then both released in order. */
    send_rec(p.pri, &f[1]);
    send_rec(p.pri, &f[2]);
    wait_commit("held", 2);
    expect_no_release(&p, "remus: two frames before their checkpoint");
    checkpoint_wait(checkpoint_start(rundir, dom), "remus: the second checkpoint");
    expect_released(&p, &f[1], 2, "remus: two frames after their checkpoint");
    free_frames(f, 3);
    close_all(&p);
}

/* (t0176) A frame held when the secondary goes (PID, SIGKILLed here):
 * released once the primary is alone, and what follows passes through. */
static void scenario_remus_alone(pid_t secondary)
{
    struct peers p = { .sec = -1, .ntf = -1 };
    struct frame f[2];

    for (int i = 0; i < 2; i++)
        f[i] = udp(4, false, (uint16_t)(6700 + i), payload + i, 40, (uint16_t)i);
    p.out = uconnect("out.sock");
    p.outr = rd_new(p.out);
    p.pri = uconnect("pin.sock");
    send_rec(p.pri, &f[0]);
    wait_commit("held", 1);
    expect_no_release(&p, "remus alone: before the secondary goes");
    if (kill(secondary, SIGKILL) < 0)
        DIE("SIGKILL %d: %s", (int)secondary, strerror(errno));
    expect_released(&p, &f[0], 1, "remus alone: the held frame");
    send_rec(p.pri, &f[1]);
    expect_released(&p, &f[1], 1, "remus alone: passed through");
    free_frames(f, 2);
    close_all(&p);
}

/* (t0176) Remus with the link delayed by delay_ms each way: a frame leaves
 * no sooner than two delays after its send (its epoch's checkpoint goes
 * out after it, and its acknowledgement comes back); and a SIGKILL of the
 * primary (PID) while an epoch's acknowledgement is on its way releases
 * nothing more: exactly that epoch's frames, and the ones after, are
 * never released. */
static void scenario_remus_delay(pid_t primary, long delay_ms)
{
    struct peers p = { .sec = -1, .ntf = -1 };
    uint64_t t0 = now_ms(), next_send = t0, next_status = t0, min_lat = UINT64_MAX;
    uint64_t sent = 0, got = 0, released_at_kill = 0, epoch_frames = 0;
    bool killed = false;
    char line[16384];

    p.out = uconnect("out.sock");
    p.outr = rd_new(p.out);
    p.pri = uconnect("pin.sock");
    for (;;) {
        uint64_t now = now_ms();
        if (now - t0 > 4 * WAIT_MS)
            DIE("remus delay: no end after %d ms (sent %llu, released %llu)", 4 * WAIT_MS,
                (unsigned long long)sent, (unsigned long long)got);
        if (!killed && now >= next_send) {
            uint8_t body[16];
            for (int i = 0; i < 8; i++) {
                body[i] = (uint8_t)(sent >> (56 - 8 * i));
                body[8 + i] = (uint8_t)(now >> (56 - 8 * i));
            }
            struct frame f = udp(4, false, 6800, body, sizeof(body), (uint16_t)sent);
            send_rec(p.pri, &f);
            frame_free(&f);
            sent++;
            next_send = now + 5;
        }
        if (!killed && now >= next_status) {
            status_line(line, sizeof(line));
            long commits = commit_field(line, "commits"), barriers = commit_field(line, "barriers");
            long before = commit_field(line, "before_barrier");
            /* A few epochs acknowledged, and one now ended with its
             * acknowledgement on its way: the primary dies. */
            if (commits >= 3 && barriers == commits + 1 && before > 0) {
                released_at_kill = (uint64_t)commit_field(line, "released");
                epoch_frames = (uint64_t)before;
                if (kill(primary, SIGKILL) < 0)
                    DIE("SIGKILL %d: %s", (int)primary, strerror(errno));
                killed = true;
            }
            next_status = now + 10;
        }
        uint8_t fr[FRAME_BUF];
        long n = rd_next(p.outr, vnet ? 8 : 4, fr, sizeof(fr), killed ? WAIT_MS : 2, NULL);
        if (n < 0 && killed)
            break;          /* outdev closed (the primary is gone) or silent */
        if (n < 0)
            continue;
        uint64_t seq = 0, ts = 0;
        for (int i = 0; i < 8; i++) {
            seq = seq << 8 | fr[14 + 20 + 8 + i];
            ts = ts << 8 | fr[14 + 20 + 8 + 8 + i];
        }
        CHECK(seq == got, "remus delay: frame %llu released where %llu was due",
              (unsigned long long)seq, (unsigned long long)got);
        uint64_t lat = now_ms() - ts;
        if (lat < min_lat)
            min_lat = lat;
        got++;
    }
    printf("sent %llu frames, released %llu, the quickest after %llu ms; killed with %llu "
           "released and %llu in the epoch awaiting its acknowledgement\n",
           (unsigned long long)sent, (unsigned long long)got, (unsigned long long)min_lat,
           (unsigned long long)released_at_kill, (unsigned long long)epoch_frames);
    CHECK(got > 0, "remus delay: nothing released");
    CHECK(min_lat >= (uint64_t)(2 * delay_ms),
          "remus delay: a frame released %llu ms after its send, before its acknowledgement "
          "could come (%ld ms each way)", (unsigned long long)min_lat, delay_ms);
    CHECK(got == released_at_kill, "remus delay: %llu frames released, %llu before the kill",
          (unsigned long long)got, (unsigned long long)released_at_kill);
    close_all(&p);
}

/* (t0175) The primary alone: its frames pass through, uncompared (the
 * compare timeout is longer than WAIT_MS), the secondary's are dropped. */
static void scenario_engine_alone(void)
{
    struct peers p = connect_all(false);
    struct frame c = udp(4, false, 6500, payload, 30, 1), d = udp(4, false, 6501, payload, 30, 1);

    send_rec(p.sec, &d);
    send_rec(p.pri, &c);
    expect_released(&p, &c, 1, "alone: the primary's frame");
    frame_free(&c);
    frame_free(&d);
    close_all(&p);
}

int main(int argc, char **argv)
{
    int a = 1;

    if (argc > a && strcmp(argv[a], "--vnet") == 0) {
        vnet = true;
        a++;
    }
    if (argc < a + 2) {
        fprintf(stderr, "usage: proxy-feed [--vnet] DIR SCENARIO [ARG]\n");
        return 2;
    }
    dir = argv[a];
    const char *sc = argv[a + 1];
    fill_payload();
    if (strcmp(sc, "status") == 0)
        return status();
    else if (strcmp(sc, "engine-hold") == 0 && argc > a + 2)
        scenario_engine_hold((pid_t)atol(argv[a + 2]));
    else if (strcmp(sc, "remus") == 0 && argc > a + 3)
        scenario_remus(argv[a + 2], argv[a + 3]);
    else if (strcmp(sc, "remus-alone") == 0 && argc > a + 2)
        scenario_remus_alone((pid_t)atol(argv[a + 2]));
    else if (strcmp(sc, "remus-delay") == 0 && argc > a + 3)
        scenario_remus_delay((pid_t)atol(argv[a + 2]), atol(argv[a + 3]));
    else if (strcmp(sc, "engine-alone") == 0)
        scenario_engine_alone();
    else if (strcmp(sc, "inorder") == 0)
        scenario_inorder();
    else if (strcmp(sc, "nospurious") == 0)
        scenario_nospurious();
    else if (strcmp(sc, "divergence") == 0)
        scenario_divergence();
    else if (strcmp(sc, "stream") == 0)
        scenario_stream();
    else if (strcmp(sc, "malformed") == 0)
        scenario_malformed();
    else if (strcmp(sc, "vnet") == 0)
        scenario_vnet();
    else if (strcmp(sc, "bounds-fill") == 0)
        scenario_bounds_fill();
    else if (strcmp(sc, "bounds-drain") == 0 && argc > a + 2)
        scenario_bounds_drain(atol(argv[a + 2]));
    else if (strcmp(sc, "notify") == 0)
        scenario_notify();
    else {
        fprintf(stderr, "proxy-feed: unknown scenario '%s'\n", sc);
        return 2;
    }
    return failures ? 1 : 0;
}
