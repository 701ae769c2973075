/* nic.c - the guest's network service (--nic): a request/response server
 * on a NIC whose wire is a Unix socket (guest.h has the protocol), with its
 * state in guest memory, so that a checkpoint carries it, and a thread that
 * parks with the vCPUs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "colo-time.h"
#include "guest.h"
#include "macro.h"

#define L2 14
#define L3 20
#define L4 8
#define REQ_PAYLOAD 20          /* "SNRQ", be64 seq, be64 arg */
#define RSP_PAYLOAD 24          /* "SNRP", be64 seq, be64 value, be32 flags */
#define NIC_OUT_MAX (256u << 10)

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x5e, 0x00, 0x02 };

static struct sim_nic_hdr *hdr_of(struct guest *g)
{
    return (struct sim_nic_hdr *)(g->mem + g->nic_pfn * SIM_PAGE_SIZE);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)); wr16(p + 2, (uint16_t)v); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)(v >> 32)); wr32(p + 4, (uint32_t)v); }

static uint16_t ip_csum(const uint8_t *ip)
{
    uint32_t s = 0;
    for (int i = 0; i < L3; i += 2)
        s += rd16(ip + i);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

int nic_open(struct guest *g, const struct sim_params *p, char *why, size_t whylen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    g->nic_listen = g->nic_peer = g->nic_kick = -1;
    g->nic_random_ppm = p->nic_random_ppm;
    uint64_t below = g->disk ? g->disk_pfn : g->nr_pages;
    if (below < 2) {
        snprintf(why, whylen, "--nic: the guest is too small for the NIC's record");
        return -EINVAL;
    }
    g->nic_pfn = below - 1;
    if (g->hot_set > g->nic_pfn)
        g->hot_set = g->nic_pfn;    /* the vCPUs' workload stays below it */
    g->nic_ring = calloc(SIM_NIC_RETAIN, sizeof(*g->nic_ring));
    g->nic_out = malloc(NIC_OUT_MAX);
    if (!g->nic_ring || !g->nic_out) {
        snprintf(why, whylen, "--nic: out of memory");
        return -ENOMEM;
    }
    if (getrandom(&g->nic_noise, sizeof(g->nic_noise), 0) != sizeof(g->nic_noise))
        g->nic_noise = colo_now_ns() ^ ((uint64_t)getpid() << 24);
    if ((size_t)snprintf(g->nic_path, sizeof(g->nic_path), "%s/sim/%s.nic", p->rundir, p->name) >=
        sizeof(sa.sun_path)) {
        snprintf(why, whylen, "--nic: socket path %s/sim/%s.nic is too long", p->rundir, p->name);
        g->nic_path[0] = '\0';
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, g->nic_path, strlen(g->nic_path) + 1);
    g->nic_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g->nic_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    /* The guest's pidfile is held: a socket left here is a dead guest's. */
    if (g->nic_kick < 0 || g->nic_listen < 0 || (unlink(g->nic_path) < 0 && errno != ENOENT) ||
        bind(g->nic_listen, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(g->nic_listen, 4) < 0) {
        int r = negative_errno();
        snprintf(why, whylen, "--nic: cannot listen on %s: %s", g->nic_path, strerror(-r));
        return r;
    }
    if (g->incoming)
        return 0;  /* the record comes with the checkpoints */
    struct sim_nic_hdr *h = hdr_of(g);
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, SIM_NIC_MAGIC, sizeof(h->magic));
    h->next_seq = 1;
    h->state = g->seed ^ 0xbb67ae8584caa73bull;
    logdirty_mark(g, g->nic_pfn);
    return 0;
}

void nic_close(struct guest *g)
{
    close_reset(&g->nic_peer);
    close_reset(&g->nic_listen);
    close_reset(&g->nic_kick);
    if (g->nic_path[0])
        unlink(g->nic_path);
    g->nic_path[0] = '\0';
    free(g->nic_ring);
    free(g->nic_out);
    g->nic_ring = NULL;
    g->nic_out = NULL;
}

void nic_kick(struct guest *g)
{
    uint64_t one = 1;
    if (g->nic_kick >= 0 && write(g->nic_kick, &one, sizeof(one)) < 0) {
        /* EAGAIN: a kick is pending already */
    }
}

/* A request frame: kept in the ring by its seq (a later copy of a seq
 * replaces nothing: the wire's copies are the same request). */
static void take_request(struct guest *g, const uint8_t *f, size_t len)
{
    if (len < L2 + L3 + L4 + REQ_PAYLOAD || rd16(f + 12) != 0x0800) {
        g->nic_bad++;
        return;
    }
    const uint8_t *ip = f + L2, *udp = ip + L3, *pl = udp + L4;
    if (ip[0] != 0x45 || ip[9] != 17 || rd16(udp + 2) != SIM_NIC_PORT ||
        memcmp(pl, "SNRQ", 4) != 0) {
        g->nic_bad++;
        return;
    }
    uint64_t seq = rd64(pl + 4);
    struct sim_nic_slot *s = &g->nic_ring[seq % SIM_NIC_RETAIN];
    if (seq == 0 || s->seq == seq)
        return;
    s->seq = seq;
    s->arg = rd64(pl + 12);
    memcpy(s->client_mac, f + 6, 6);
    memcpy(s->client_ip, ip + 12, 4);
    s->client_port = rd16(udp);
    g->nic_received++;
}

/* Read what the wire has: 0, or -1 when the peer has gone. */
static int read_wire(struct guest *g)
{
    for (;;) {
        ssize_t n = read(g->nic_peer, g->nic_in + g->nic_in_len, sizeof(g->nic_in) - g->nic_in_len);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        g->nic_in_len += (size_t)n;
        size_t off = 0;
        while (g->nic_in_len - off >= 4) {
            uint32_t len = rd32(g->nic_in + off);
            if (len == 0 || len > SIM_NIC_FRAME_MAX) {
                g->nic_bad++;
                return -1;      /* not this wire's framing: drop the peer */
            }
            if (g->nic_in_len - off < 4 + (size_t)len)
                break;
            take_request(g, g->nic_in + off + 4, len);
            off += 4 + len;
        }
        memmove(g->nic_in, g->nic_in + off, g->nic_in_len - off);
        g->nic_in_len -= off;
    }
}

static void flush_out(struct guest *g)
{
    size_t off = 0;
    while (g->nic_peer >= 0 && off < g->nic_out_len) {
        ssize_t n = send(g->nic_peer, g->nic_out + off, g->nic_out_len - off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    memmove(g->nic_out, g->nic_out + off, g->nic_out_len - off);
    g->nic_out_len -= off;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Serve the next request, if the ring has it and the reply has room: its
 * state in guest memory first, then the reply queued. false: nothing to
 * do now. */
static bool serve_one(struct guest *g)
{
    struct sim_nic_hdr *h = hdr_of(g);
    if (memcmp(h->magic, SIM_NIC_MAGIC, sizeof(h->magic)) != 0)
        return false;   /* no record (yet): an incoming guest before its state */
    const struct sim_nic_slot *s = &g->nic_ring[h->next_seq % SIM_NIC_RETAIN];
    size_t rlen = L2 + L3 + L4 + RSP_PAYLOAD;
    if (s->seq != h->next_seq || g->nic_out_len + 4 + rlen > NIC_OUT_MAX)
        return false;
    /* Relaxed atomics: INFO reads them from the control thread. */
    uint64_t state = mix(h->state ^ mix(s->seq ^ s->arg));
    __atomic_store_n(&h->state, state, __ATOMIC_RELAXED);
    h->served++;
    uint64_t value = state;
    uint32_t flags = 0;
    /* The nondeterministic reply: this process's own dice, not the memory's. */
    if (g->nic_random_ppm && mix(g->nic_noise++) % 1000000 < g->nic_random_ppm) {
        value = mix(g->nic_noise++ ^ colo_now_ns());
        flags = SIM_NIC_RANDOM;
        g->nic_randoms++;
    }
    __atomic_store_n(&h->next_seq, h->next_seq + 1, __ATOMIC_RELAXED);
    logdirty_mark(g, g->nic_pfn);
    g->nic_replies++;

    uint8_t *r = g->nic_out + g->nic_out_len;
    wr32(r, (uint32_t)rlen);
    uint8_t *f = r + 4, *ip = f + L2, *udp = ip + L3, *pl = udp + L4;
    memcpy(f, s->client_mac, 6);
    memcpy(f + 6, guest_mac, 6);
    wr16(f + 12, 0x0800);
    memset(ip, 0, L3);
    ip[0] = 0x45;
    wr16(ip + 2, L3 + L4 + RSP_PAYLOAD);
    wr16(ip + 4, (uint16_t)s->seq);
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, SIM_NIC_GUEST_IP, 4);
    memcpy(ip + 16, s->client_ip, 4);
    wr16(ip + 10, ip_csum(ip));
    wr16(udp, SIM_NIC_PORT);
    wr16(udp + 2, s->client_port);
    wr16(udp + 4, L4 + RSP_PAYLOAD);
    wr16(udp + 6, 0);           /* no checksum: UDP over IPv4 allows it */
    memcpy(pl, "SNRP", 4);
    wr64(pl + 4, s->seq);
    wr64(pl + 12, value);
    wr32(pl + 20, flags);
    g->nic_out_len += 4 + rlen;
    return true;
}

static void *nic_main(void *arg)
{
    struct guest *g = arg;

    for (;;) {
        if (atomic_load_explicit(&g->pause_req, memory_order_acquire) ||
            atomic_load_explicit(&g->stop, memory_order_relaxed)) {
            flush_out(g);
            if (!guest_park(g))
                break;
        }
        /* Everything the ring holds in order, then what the wire brings. */
        while (!atomic_load_explicit(&g->pause_req, memory_order_acquire) && serve_one(g))
            ;
        flush_out(g);
        struct pollfd fds[2] = {
            { .fd = g->nic_kick, .events = POLLIN },
            { .fd = g->nic_peer >= 0 ? g->nic_peer : g->nic_listen,
              .events = (short)(POLLIN | (g->nic_out_len && g->nic_peer >= 0 ? POLLOUT : 0)) },
        };
        if (atomic_load_explicit(&g->pause_req, memory_order_acquire))
            continue;
        int n = poll(fds, 2, 1000);
        if (n <= 0)
            continue;
        if (fds[0].revents) {
            uint64_t v;
            if (read(g->nic_kick, &v, sizeof(v)) < 0) {
                /* EAGAIN: taken already */
            }
        }
        if (g->nic_peer < 0 && (fds[1].revents & POLLIN)) {
            g->nic_peer = accept4(g->nic_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            g->nic_in_len = 0;
            g->nic_out_len = 0;     /* what was queued for the last peer is its */
            if (g->nic_peer >= 0)
                g->nic_peers++;
        } else if (g->nic_peer >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) &&
                   read_wire(g) < 0) {
            close_reset(&g->nic_peer);
        }
    }
    return NULL;
}

int nic_start(struct guest *g)
{
    int r = -pthread_create(&g->nic_tid, NULL, nic_main, g);
    if (r == 0)
        g->nic_started = true;
    return r;
}

void nic_info(struct guest *g, struct sim_info *info)
{
    if (!g->nic_ring)
        return;
    info->flags |= SIM_INFO_NIC;
    info->nic_random_ppm = g->nic_random_ppm;
    info->nic_replies = g->nic_replies;
    info->nic_randoms = g->nic_randoms;
    info->nic_received = g->nic_received;
    info->nic_bad = g->nic_bad;
    info->nic_peers = g->nic_peers;
    const struct sim_nic_hdr *h = hdr_of(g);
    if (memcmp(h->magic, SIM_NIC_MAGIC, sizeof(h->magic)) == 0) {
        info->nic_next_seq = __atomic_load_n(&h->next_seq, __ATOMIC_RELAXED);
        info->nic_state = __atomic_load_n(&h->state, __ATOMIC_RELAXED);
    }
}
