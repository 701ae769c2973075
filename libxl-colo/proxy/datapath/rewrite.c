/* rewrite.c - the secondary's TCP, renumbered as the primary's (rewrite.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/checksum.h"
#include "proxy/datapath/rewrite.h"

/* After a failover the client sees the secondary's timestamp clock: a
 * little ahead of the primary's rather than behind, as the client drops a
 * segment whose value is older than the last it saw (PAWS). Not before:
 * the handshake's echo must be the secondary's SYN-ACK's value exactly,
 * or its stack resets the connection. */
#define TS_MARGIN 100u
#define PROBES 16

struct conn {
    bool used, have_p, have_s, ready;
    uint8_t alen;
    uint8_t guest[16], client[16];
    uint16_t gport, cport;
    uint32_t isn_p, isn_s, tsv_p, tsv_s;
    bool ts_p, ts_s;
    uint32_t seq_off, ts_off;   /* ts_off: the primary's clock less the secondary's */
    uint8_t *held;
    size_t held_len;
};

struct colo_rewriter {
    struct conn *t;
    colo_rewrite_ready_cb *ready;
    void *opaque;
    bool failover;
    struct colo_rewrite_counters n;
};

static uint32_t rd32(const uint8_t *p) { return colo_be32(p); }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int colo_rewriter_new(colo_rewrite_ready_cb *ready, void *opaque, colo_rewriter **out)
{
    colo_rewriter *r = calloc(1, sizeof(*r));
    if (!r || !(r->t = calloc(COLO_REWRITE_CONNS, sizeof(*r->t)))) {
        free(r);
        return -ENOMEM;
    }
    r->ready = ready;
    r->opaque = opaque;
    *out = r;
    return 0;
}

void colo_rewriter_free(colo_rewriter *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < COLO_REWRITE_CONNS; i++)
        free(r->t[i].held);
    free(r->t);
    free(r);
}

static bool is_tcp(const struct colo_frame *f)
{
    return !f->frag && f->proto == COLO_IPPROTO_TCP && f->l4_hlen >= 20 &&
           (f->ip == COLO_L3_IPV4 || f->ip == COLO_L3_IPV6);
}

/* The connection of guest g:gp and client c:cp; create: a free slot for it
 * if it has none. NULL when none (or the table is full). */
static struct conn *find(colo_rewriter *r, const struct colo_frame *f, bool from_guest, bool create)
{
    uint8_t alen = f->ip == COLO_L3_IPV4 ? 4 : 16;
    const uint8_t *g = from_guest ? f->src : f->dst, *c = from_guest ? f->dst : f->src;
    uint16_t gp = from_guest ? f->sport : f->dport, cp = from_guest ? f->dport : f->sport;
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < alen; i++)
        h = (h ^ g[i] ^ (uint32_t)c[i] << 8) * 16777619u;
    h = (h ^ gp ^ (uint32_t)cp << 16) * 16777619u;
    struct conn *free_slot = NULL;
    for (unsigned k = 0; k < PROBES; k++) {
        struct conn *x = &r->t[(h + k) % COLO_REWRITE_CONNS];
        if (!x->used) {
            free_slot = free_slot ? free_slot : x;
            continue;
        }
        if (x->alen == alen && x->gport == gp && x->cport == cp && !memcmp(x->guest, g, alen) &&
            !memcmp(x->client, c, alen))
            return x;
    }
    if (!create)
        return NULL;
    if (!free_slot) {
        r->n.table_full++;
        return NULL;
    }
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    free_slot->alen = alen;
    memcpy(free_slot->guest, g, alen);
    memcpy(free_slot->client, c, alen);
    free_slot->gport = gp;
    free_slot->cport = cp;
    return free_slot;
}

/* The TCP options of frame's segment: each with its kind at opt[i]. */
static uint8_t *ts_option(uint8_t *frame, const struct colo_frame *f)
{
    uint8_t *o = frame + f->l4 + 20, *end = frame + f->l4 + f->l4_hlen;
    while (o < end) {
        if (*o == 0)
            break;
        if (*o == 1) {
            o++;
            continue;
        }
        if (o + 1 >= end || o[1] < 2 || o + o[1] > end)
            break;
        if (o[0] == 8 && o[1] == 10)
            return o;
        o += o[1];
    }
    return NULL;
}

static void sack_shift(uint8_t *frame, const struct colo_frame *f, uint32_t off)
{
    uint8_t *o = frame + f->l4 + 20, *end = frame + f->l4 + f->l4_hlen;
    while (o < end && *o != 0) {
        if (*o == 1) {
            o++;
            continue;
        }
        if (o + 1 >= end || o[1] < 2 || o + o[1] > end)
            return;
        if (o[0] == 5)
            for (uint8_t *b = o + 2; b + 8 <= o + o[1]; b += 8) {
                wr32(b, rd32(b) + off);
                wr32(b + 4, rd32(b + 4) + off);
            }
        o += o[1];
    }
}

/* seq and the timestamp value of a secondary segment, as the primary's. */
static void renumber_secondary(colo_rewriter *r, const struct conn *x, uint8_t *frame,
                               const struct colo_frame *f)
{
    uint8_t *tcp = frame + f->l4;
    wr32(tcp + 4, rd32(tcp + 4) - x->seq_off);
    uint8_t *ts = ts_option(frame, f);
    if (ts)
        wr32(ts + 2, rd32(ts + 2) + x->ts_off + (r->failover ? TS_MARGIN : 0));
    colo_l4_checksum_fill(frame, f);
    r->n.rewritten_from_secondary++;
}

static void learn(colo_rewriter *r, struct conn *x, const uint8_t *frame, const struct colo_frame *f,
                  bool primary)
{
    const uint8_t *ts = ts_option((uint8_t *)frame, f);
    if (primary) {
        /* Another SYN-ACK of the primary's: a new connection on the same
         * addresses, or the same one again. */
        if (x->have_p && x->isn_p != f->seq) {
            x->have_s = x->ready = false;
            free(x->held);
            x->held = NULL;
        }
        x->have_p = true;
        x->isn_p = f->seq;
        x->ts_p = ts != NULL;
        x->tsv_p = ts ? rd32(ts + 2) : 0;
    } else {
        x->have_s = true;
        x->isn_s = f->seq;
        x->ts_s = ts != NULL;
        x->tsv_s = ts ? rd32(ts + 2) : 0;
    }
    if (!x->have_p || !x->have_s || x->ready)
        return;
    x->seq_off = x->isn_s - x->isn_p;
    x->ts_off = x->ts_p && x->ts_s ? x->tsv_p - x->tsv_s : 0;
    x->ready = true;
    r->n.connections++;
    if (x->held) {
        struct colo_frame hf;
        if (colo_frame_parse(x->held, x->held_len, &hf) == COLO_DROP_NONE) {
            renumber_secondary(r, x, x->held, &hf);
            r->ready(r->opaque, x->held, x->held_len);
        }
        free(x->held);
        x->held = NULL;
    }
}

static bool syn_ack(const struct colo_frame *f)
{
    return (f->tcp_flags & (COLO_TCP_SYN | COLO_TCP_ACK)) == (COLO_TCP_SYN | COLO_TCP_ACK);
}

bool colo_rewrite_learns_from(const struct colo_frame *f)
{
    return is_tcp(f) && syn_ack(f);
}

void colo_rewrite_from_primary(colo_rewriter *r, const uint8_t *frame, const struct colo_frame *f)
{
    if (!colo_rewrite_learns_from(f))
        return;
    struct conn *x = find(r, f, true, true);
    if (x)
        learn(r, x, frame, f, true);
}

int colo_rewrite_from_secondary(colo_rewriter *r, uint8_t *frame, size_t len,
                                const struct colo_frame *f)
{
    if (!is_tcp(f))
        return 0;
    struct conn *x = find(r, f, true, syn_ack(f));
    if (!x)
        return 0;
    if (syn_ack(f) && !x->ready) {
        learn(r, x, frame, f, false);
        if (!x->ready) {
            /* Before the primary's: kept (the last one) until it comes. */
            uint8_t *copy = malloc(len);
            if (!copy)
                return 0;
            memcpy(copy, frame, len);
            free(x->held);
            x->held = copy;
            x->held_len = len;
            r->n.held++;
            return 1;
        }
    }
    if (x->ready)
        renumber_secondary(r, x, frame, f);
    return 0;
}

void colo_rewrite_to_secondary(colo_rewriter *r, uint8_t *frame, const struct colo_frame *f)
{
    if (!is_tcp(f))
        return;
    struct conn *x = find(r, f, false, false);
    if (!x || !x->ready)
        return;
    uint8_t *tcp = frame + f->l4;
    if (f->tcp_flags & COLO_TCP_ACK)
        wr32(tcp + 8, rd32(tcp + 8) + x->seq_off);
    sack_shift(frame, f, x->seq_off);
    uint8_t *ts = ts_option(frame, f);
    if (ts && rd32(ts + 6))
        wr32(ts + 6, rd32(ts + 6) - x->ts_off - (r->failover ? TS_MARGIN : 0));
    colo_l4_checksum_fill(frame, f);
    r->n.rewritten_to_secondary++;
}

void colo_rewriter_checkpoint(colo_rewriter *r)
{
    for (unsigned i = 0; i < COLO_REWRITE_CONNS; i++)
        if (r->t[i].ready)
            r->t[i].seq_off = r->t[i].ts_off = 0;
}

void colo_rewriter_failover(colo_rewriter *r)
{
    r->failover = true;
}

void colo_rewriter_counters(const colo_rewriter *r, struct colo_rewrite_counters *out)
{
    *out = r->n;
}
