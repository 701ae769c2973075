/* compare.c - the NIC compare engine (compare.h). */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "proxy/budget.h"
#include "proxy/compare.h"
#include "proxy/flow.h"
#include "proxy/frag.h"
#include "proxy/frame.h"
#include "proxy/normalise.h"
#include "proxy/packet.h"
#include "proxy/tcp_stream.h"

#define MS 1000000ull

/* The idle flows evicted at most to make room for one frame or flow. */
#define RECLAIM_MAX 4

struct colo_compare {
    struct colo_compare_config cfg;     /* with the defaults filled in */
    struct colo_budget budget;
    struct colo_pool pool;              /* the budget tree's (budget.h) */
    struct colo_flow_table flows;
    struct colo_frag_table frag[2];
    struct colo_pkt *oldest, *newest;   /* the held primary packets, by arrival */
    bool pending;                       /* a checkpoint asked and not done */
    bool in_callback;
    struct colo_compare_counters n;
};

static bool passed(uint64_t now, uint64_t since, uint64_t d)
{
    return now >= since && now - since >= d;
}

/* --- what happens to a frame --------------------------------------------- */

static int drop(colo_compare *c, enum colo_side side, enum colo_drop_cause cause, unsigned frames)
{
    c->n.drops[side][cause] += frames;
    return colo_drop_cause_errno(cause);
}

/* The cause of a charge refused: the flow's own limit, or the total. */
static enum colo_drop_cause refused(int r, const struct colo_flow *f, unsigned long before)
{
    if (r == -ENOMEM)
        return COLO_DROP_NO_MEMORY;
    return f && f->budget.refused != before ? COLO_DROP_FLOW_MEMORY : COLO_DROP_MEMORY_LIMIT;
}

static void request_checkpoint(colo_compare *c, enum colo_checkpoint_reason reason)
{
    if (c->pending)
        return;
    c->pending = true;
    c->n.checkpoints++;
    c->n.checkpoint_reasons[reason]++;
    c->in_callback = true;
    c->cfg.checkpoint(c->cfg.opaque, reason);
    c->in_callback = false;
}

static void emit(colo_compare *c, const uint8_t *frame, size_t len)
{
    c->in_callback = true;
    c->cfg.release(c->cfg.opaque, frame, len);
    c->in_callback = false;
}

static void unlink_primary(colo_compare *c, struct colo_pkt *p)
{
    if (p->older)
        p->older->newer = p->newer;
    else
        c->oldest = p->newer;
    if (p->newer)
        p->newer->older = p->older;
    else
        c->newest = p->older;
    p->older = p->newer = NULL;
}

/* Send the head of its flow's primary queue to the client, and free it. */
static void release(colo_compare *c, struct colo_flow *f, bool matched)
{
    struct colo_pkt *p = colo_pkt_pop(&f->q[COLO_PRIMARY]);

    unlink_primary(c, p);
    if (p->pieces)
        for (const struct colo_frag_piece *x = p->pieces; x; x = x->next)
            emit(c, x->frame, x->frame_len);
    else
        emit(c, p->data, p->len);
    c->n.released += p->frames;
    if (matched)
        c->n.compared += p->frames;
    c->n.frames_held[COLO_PRIMARY] -= p->frames;
    c->n.bytes_held[COLO_PRIMARY] -= p->wire_bytes;
    colo_frag_pieces_free(&c->frag[COLO_PRIMARY], p->pieces);
    colo_pkt_free(&f->budget, p);
}

/* A secondary packet compared, or let go at a checkpoint. */
static void secondary_done(colo_compare *c, struct colo_flow *f)
{
    struct colo_pkt *p = colo_pkt_pop(&f->q[COLO_SECONDARY]);

    c->n.secondary_done += p->frames;
    c->n.frames_held[COLO_SECONDARY] -= p->frames;
    c->n.bytes_held[COLO_SECONDARY] -= p->wire_bytes;
    colo_pkt_free(&f->budget, p);
}

/* The secondary TCP copies the stream let go of. */
static void tcp_freed(colo_compare *c, struct colo_flow *f)
{
    uint64_t frames, bytes;

    colo_tcp_take_freed(f->tcp, &frames, &bytes);
    c->n.secondary_done += frames;
    c->n.frames_held[COLO_SECONDARY] -= frames;
    c->n.bytes_held[COLO_SECONDARY] -= bytes;
}

/* --- flows ----------------------------------------------------------------- */

static bool holds(const struct colo_flow *f)
{
    return f->q[COLO_PRIMARY].n || f->q[COLO_SECONDARY].n || (f->tcp && colo_tcp_pending(f->tcp));
}

/* On the list its state says: busy, idle, or closed. */
static void settle(colo_compare *c, struct colo_flow *f, uint64_t now)
{
    enum colo_flow_list l = COLO_FLOW_BUSY;

    if (!holds(f))
        l = f->tcp && colo_tcp_closed(f->tcp) ? COLO_FLOW_CLOSED : COLO_FLOW_IDLE;
    colo_flow_park(&c->flows, f, l, now);
}

/* Free a flow; it holds nothing but what is left over below. */
static void flow_free(colo_compare *c, struct colo_flow *f)
{
    if (f->tcp) {
        colo_tcp_clear(f->tcp, &f->budget);     /* before its packets: it points into them */
        tcp_freed(c, f);
        colo_tcp_stream_free(f->tcp, &f->budget);
    }
    while (f->q[COLO_SECONDARY].head)
        secondary_done(c, f);
    while (f->q[COLO_PRIMARY].head) {
        struct colo_pkt *p = colo_pkt_pop(&f->q[COLO_PRIMARY]);
        unlink_primary(c, p);
        c->n.frames_held[COLO_PRIMARY] -= p->frames;
        c->n.bytes_held[COLO_PRIMARY] -= p->wire_bytes;
        colo_frag_pieces_free(&c->frag[COLO_PRIMARY], p->pieces);
        colo_pkt_free(&f->budget, p);
    }
    colo_budget_free(&c->budget, f, sizeof(*f));
}

static void flow_remove(colo_compare *c, struct colo_flow *f)
{
    colo_flow_remove(&c->flows, f);
    flow_free(c, f);
}

/* Evict the flow holding nothing that was used least recently, closed
 * first: false if there is none. */
static bool reclaim(colo_compare *c)
{
    struct colo_flow *f = colo_flow_oldest(&c->flows, COLO_FLOW_CLOSED);

    if (!f)
        f = colo_flow_oldest(&c->flows, COLO_FLOW_IDLE);
    if (!f)
        return false;
    flow_remove(c, f);
    return true;
}

/* The flow of key k, made if new: NULL and *cause when there is no room. */
static struct colo_flow *flow_get(colo_compare *c, const struct colo_flow_key *k,
                                  enum colo_drop_cause *cause)
{
    uint64_t h = colo_flow_hash(&c->flows, k);
    struct colo_flow *f = colo_flow_find(&c->flows, k, h);
    int r = 0;

    if (f) {
        colo_flow_park(&c->flows, f, COLO_FLOW_BUSY, f->last_ns);  /* not evicted while in use */
        return f;
    }
    if (c->flows.count >= c->flows.max && !reclaim(c)) {
        *cause = COLO_DROP_FLOW_LIMIT;
        return NULL;
    }
    for (int i = 0; !f && i <= RECLAIM_MAX; i++) {
        f = colo_budget_alloc(&c->budget, sizeof(*f), &r);
        if (!f && (r != -ENOSPC || !reclaim(c)))
            break;
    }
    if (!f) {
        *cause = refused(r, NULL, 0);
        return NULL;
    }
    memset(f, 0, sizeof(*f));
    f->key = *k;
    f->hash = h;
    f->budget = (struct colo_budget){ .limit = c->cfg.max_flow_mem, .parent = &c->budget,
                                      .pool = c->budget.pool };
    if (k->kind == COLO_FLOW_TCP) {
        f->tcp = colo_tcp_stream_new(&f->budget, &r);
        if (!f->tcp) {
            colo_budget_free(&c->budget, f, sizeof(*f));
            *cause = refused(r, NULL, 0);
            return NULL;
        }
    }
    colo_flow_insert(&c->flows, f);
    c->n.flows_created++;
    return f;
}

/* --- the compare ------------------------------------------------------------ */

/* Compare what the flow holds, and release what matched, in order. */
static void compare_flow(colo_compare *c, struct colo_flow *f)
{
    struct colo_pkt_queue *pq = &f->q[COLO_PRIMARY], *sq = &f->q[COLO_SECONDARY];

    if (c->pending)
        return;
    if (f->tcp) {
        enum colo_checkpoint_reason why = colo_tcp_match(f->tcp, &f->budget);
        tcp_freed(c, f);
        if (why != COLO_CKPT_NONE) {
            request_checkpoint(c, why);
            return;
        }
        while (pq->head && colo_tcp_releasable(f->tcp, &pq->head->mark))
            release(c, f, true);
        return;
    }
    while (pq->head && sq->head) {
        if (!colo_packet_equal(pq->head->data, &pq->head->f, sq->head->data, &sq->head->f)) {
            request_checkpoint(c, COLO_CKPT_PACKET);
            return;
        }
        release(c, f, true);
        secondary_done(c, f);
    }
}

/* A packet of frame[len] for flow f, held: NULL and the cause if no room. */
static struct colo_pkt *hold(colo_compare *c, struct colo_flow *f, const uint8_t *frame,
                             uint32_t len, const struct colo_frame *parsed,
                             enum colo_drop_cause *cause)
{
    unsigned long before = f->budget.refused;
    struct colo_pkt *p = NULL;
    int r = 0;

    for (int i = 0; !p && i <= RECLAIM_MAX; i++) {
        p = colo_pkt_new(&f->budget, len, &r);
        if (!p && (r != -ENOSPC || f->budget.refused != before || !reclaim(c)))
            break;
    }
    if (!p) {
        *cause = refused(r, f, before);
        return NULL;
    }
    memcpy(p->data, frame, len);
    p->f = *parsed;
    p->flow = f;
    return p;
}

static void tcp_seg_of(const uint8_t *d, const struct colo_frame *f, unsigned frames,
                       struct colo_tcp_seg *g)
{
    *g = (struct colo_tcp_seg){
        .seq = f->seq, .ack = f->ack, .flags = f->tcp_flags,
        .payload = d + f->payload, .len = f->payload_len,
        .opt = d + f->l4 + 20, .opt_len = f->l4_hlen - 20, .frames = frames,
    };
}

/* A whole frame (or a rebuilt datagram) parsed as *pf, for its flow.
 * frames and wire: what it stands for; pieces: the primary's fragments,
 * taken over whatever happens. The drop's -errno if it goes. */
static int deliver(colo_compare *c, enum colo_side side, const uint8_t *frame, uint32_t len,
                   const struct colo_frame *pf, unsigned frames, uint32_t wire,
                   struct colo_frag_piece *pieces, uint64_t now)
{
    struct colo_flow_key k;
    enum colo_drop_cause cause = COLO_DROP_NONE;
    struct colo_frag_table *ft = &c->frag[COLO_PRIMARY];

    colo_flow_key_of(pf, &k);
    struct colo_flow *f = flow_get(c, &k, &cause);
    if (!f) {
        colo_frag_pieces_free(ft, pieces);
        request_checkpoint(c, cause == COLO_DROP_FLOW_LIMIT ? COLO_CKPT_FLOW_LIMIT
                                                            : COLO_CKPT_MEMORY);
        return drop(c, side, cause, frames);
    }

    if (side == COLO_SECONDARY && f->tcp) {
        struct colo_tcp_seg g;
        uint32_t kept;
        bool overflow;
        unsigned long before = f->budget.refused;
        tcp_seg_of(frame, pf, frames, &g);
        int r = colo_tcp_secondary(f->tcp, &g, f->q[COLO_PRIMARY].n == 0, &f->budget, &kept,
                                   &overflow);
        if (r == -ENOENT) {
            settle(c, f, now);
            return drop(c, side, COLO_DROP_TCP_UNSYNCED, frames);
        }
        if (r < 0 || (overflow && !kept)) {
            request_checkpoint(c, COLO_CKPT_MEMORY);
            settle(c, f, now);
            return drop(c, side, refused(r < 0 ? r : -ENOSPC, f, before), frames);
        }
        if (overflow)
            request_checkpoint(c, COLO_CKPT_MEMORY);
        if (kept) {
            c->n.frames_held[side] += frames;
            c->n.bytes_held[side] += kept;
        } else {
            c->n.secondary_done += frames;
        }
    } else {
        struct colo_pkt *p = hold(c, f, frame, len, pf, &cause);
        if (!p) {
            colo_frag_pieces_free(ft, pieces);
            request_checkpoint(c, COLO_CKPT_MEMORY);
            settle(c, f, now);
            return drop(c, side, cause, frames);
        }
        p->frames = frames;
        p->wire_bytes = wire;
        p->arrival_ns = now;
        p->pieces = pieces;
        if (side == COLO_PRIMARY && f->tcp) {
            struct colo_tcp_seg g;
            tcp_seg_of(p->data, &p->f, frames, &g);
            if (colo_tcp_primary(f->tcp, &g, f->q[COLO_PRIMARY].n == 0, &f->budget, &p->mark) < 0)
                request_checkpoint(c, COLO_CKPT_MEMORY);    /* held, and cannot match */
        }
        colo_pkt_push(&f->q[side], p);
        if (side == COLO_PRIMARY) {
            p->older = c->newest;
            if (c->newest)
                c->newest->newer = p;
            else
                c->oldest = p;
            c->newest = p;
        }
        c->n.frames_held[side] += frames;
        c->n.bytes_held[side] += wire;
    }
    compare_flow(c, f);
    settle(c, f, now);
    return 0;
}

/* A datagram the frag table completed: rebuilt, parsed, delivered. */
static void deliver_datagram(colo_compare *c, enum colo_side side, struct colo_frag_dgram *g,
                             uint64_t now)
{
    struct colo_frag_table *ft = &c->frag[side];
    uint32_t len = colo_frag_len(g);
    unsigned n;
    int r;
    uint8_t *buf = colo_budget_alloc(&c->budget, len, &r);

    if (buf)
        colo_frag_build(g, buf);
    struct colo_frag_piece *pieces = colo_frag_finish(ft, g, &n);
    if (!buf) {
        colo_frag_pieces_free(ft, pieces);
        request_checkpoint(c, COLO_CKPT_MEMORY);
        drop(c, side, refused(r, NULL, 0), n);
        return;
    }
    uint32_t wire = 0;
    for (const struct colo_frag_piece *x = pieces; x; x = x->next)
        wire += x->frame_len;
    struct colo_frame f;
    enum colo_drop_cause cause = colo_frame_parse(buf, len, &f);
    if (cause != COLO_DROP_NONE) {
        colo_frag_pieces_free(ft, pieces);
        drop(c, side, cause, n);
    } else if (side == COLO_PRIMARY) {
        deliver(c, side, buf, len, &f, n, wire, pieces, now);
    } else {
        colo_frag_pieces_free(ft, pieces);
        deliver(c, side, buf, len, &f, n, wire, NULL, now);
    }
    colo_budget_free(&c->budget, buf, len);
}

/* A primary packet waiting past the timeout is a divergence. */
static void check_timeout(colo_compare *c, uint64_t now)
{
    if (!c->pending && c->oldest && passed(now, c->oldest->arrival_ns, c->cfg.timeout_ms * MS))
        request_checkpoint(c, COLO_CKPT_TIMEOUT);
}

static int input(colo_compare *c, enum colo_side side, const uint8_t *frame, size_t len,
                 uint64_t now)
{
    struct colo_frame f;

    c->n.frames_in[side]++;
    if (c->in_callback)
        return drop(c, side, COLO_DROP_BUSY, 1);
    if (len == 0 || !frame)
        return drop(c, side, COLO_DROP_EMPTY, 1);
    if (len > c->cfg.max_frame)
        return drop(c, side, COLO_DROP_TOO_BIG, 1);
    check_timeout(c, now);
    if (side == COLO_SECONDARY && c->pending)
        return drop(c, side, COLO_DROP_CHECKPOINT, 1);
    enum colo_drop_cause cause = colo_frame_parse(frame, len, &f);
    if (cause != COLO_DROP_NONE)
        return drop(c, side, cause, 1);
    if (!f.frag)
        return deliver(c, side, frame, (uint32_t)len, &f, 1, (uint32_t)len, NULL, now);
    struct colo_frag_dgram *g;
    cause = colo_frag_add(&c->frag[side], frame, len, &f, now, &g);
    if (cause == COLO_DROP_FRAG_OVERFLOW)
        request_checkpoint(c, COLO_CKPT_MEMORY);
    if (cause != COLO_DROP_NONE)
        return drop(c, side, cause, 1);
    if (g)
        deliver_datagram(c, side, g, now);
    return 0;
}

int colo_compare_primary(colo_compare *c, const uint8_t *frame, size_t len, uint64_t now_ns)
{
    return input(c, COLO_PRIMARY, frame, len, now_ns);
}

int colo_compare_secondary(colo_compare *c, const uint8_t *frame, size_t len, uint64_t now_ns)
{
    return input(c, COLO_SECONDARY, frame, len, now_ns);
}

/* --- time and checkpoints ---------------------------------------------------- */

int colo_compare_tick(colo_compare *c, uint64_t now_ns)
{
    if (c->in_callback)
        return -EBUSY;
    check_timeout(c, now_ns);
    colo_frag_expire(&c->frag[COLO_PRIMARY], now_ns);
    colo_frag_expire(&c->frag[COLO_SECONDARY], now_ns);
    struct colo_flow *f;
    while ((f = colo_flow_oldest(&c->flows, COLO_FLOW_CLOSED)) &&
           passed(now_ns, f->last_ns, c->cfg.closed_ms * MS))
        flow_remove(c, f);
    while ((f = colo_flow_oldest(&c->flows, COLO_FLOW_IDLE)) &&
           passed(now_ns, f->last_ns, c->cfg.idle_ms * MS))
        flow_remove(c, f);
    return 0;
}

/* The secondary's side of a flow becomes the primary's. */
static void reset_secondary(void *opaque, struct colo_flow *f)
{
    colo_compare *c = opaque;

    if (f->tcp) {
        colo_tcp_checkpoint(f->tcp, &f->budget);
        tcp_freed(c, f);
    }
    while (f->q[COLO_SECONDARY].head)
        secondary_done(c, f);
}

struct settle_all {
    colo_compare *c;
    uint64_t now;
};

static void settle_one(void *opaque, struct colo_flow *f)
{
    struct settle_all *a = opaque;

    settle(a->c, f, a->now);
}

static void release_piece(void *opaque, const struct colo_frag_piece *p)
{
    colo_compare *c = opaque;

    emit(c, p->frame, p->frame_len);
    c->n.released++;
}

static void drop_piece(void *opaque, const struct colo_frag_piece *p)
{
    colo_compare *c = opaque;

    c->n.drops[COLO_SECONDARY][COLO_DROP_CHECKPOINT]++;
}

int colo_compare_checkpoint_done(colo_compare *c, uint64_t now_ns)
{
    if (c->in_callback)
        return -EBUSY;
    colo_flow_foreach(&c->flows, reset_secondary, c);
    /* Oldest first across flows, which is each flow's own order too. */
    while (c->oldest)
        release(c, c->oldest->flow, false);
    colo_frag_flush(&c->frag[COLO_PRIMARY], release_piece, c);
    colo_frag_flush(&c->frag[COLO_SECONDARY], drop_piece, c);
    c->pending = false;
    c->n.checkpoints_done++;
    colo_flow_foreach(&c->flows, settle_one, &(struct settle_all){ c, now_ns });
    return 0;
}

bool colo_compare_checkpoint_pending(const colo_compare *c)
{
    return c->pending;
}

void colo_compare_get_counters(const colo_compare *c, struct colo_compare_counters *out)
{
    *out = c->n;
    out->flows = c->flows.count;
    out->mem_used = c->budget.used;
    out->mem_peak = c->budget.peak;
    out->mem_limit = c->budget.limit;
}

/* --- life ------------------------------------------------------------------------ */

#define DEFAULT(field, value) \
    do { if (!cfg.field) cfg.field = (value); } while (0)

int colo_compare_new(const struct colo_compare_config *config, colo_compare **out)
{
    struct colo_compare_config cfg = *config;

    *out = NULL;
    if (!cfg.release || !cfg.checkpoint)
        return -EINVAL;
    DEFAULT(timeout_ms, COLO_COMPARE_TIMEOUT_MS);
    DEFAULT(max_flows, COLO_COMPARE_MAX_FLOWS);
    DEFAULT(max_mem, COLO_COMPARE_MAX_MEM);
    DEFAULT(max_flow_mem, COLO_COMPARE_MAX_FLOW_MEM);
    DEFAULT(max_frame, COLO_FRAME_MAX);
    DEFAULT(frag_timeout_ms, COLO_COMPARE_FRAG_TIMEOUT_MS);
    DEFAULT(frag_max, COLO_COMPARE_FRAG_MAX);
    DEFAULT(idle_ms, COLO_COMPARE_IDLE_MS);
    DEFAULT(closed_ms, COLO_COMPARE_CLOSED_MS);
    if (cfg.max_frame > COLO_FRAME_MAX)
        return -EINVAL;
    colo_compare *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cfg = cfg;
    c->budget.limit = cfg.max_mem;
    c->budget.pool = &c->pool;
    int r = colo_flow_table_init(&c->flows, cfg.max_flows, cfg.hash_seed, &c->budget);
    if (r < 0) {
        free(c);
        return r == -ENOSPC ? -EINVAL : r;
    }
    for (int i = COLO_PRIMARY; i <= COLO_SECONDARY; i++)
        colo_frag_init(&c->frag[i], cfg.frag_max, cfg.frag_timeout_ms * MS, &c->budget,
                       c->n.drops[i], &c->n.frames_held[i], &c->n.bytes_held[i]);
    *out = c;
    return 0;
}

static void free_one(void *opaque, struct colo_flow *f)
{
    flow_remove(opaque, f);
}

static void forget_piece(void *opaque, const struct colo_frag_piece *p)
{
}

void colo_compare_free(colo_compare *c)
{
    if (!c)
        return;
    colo_flow_foreach(&c->flows, free_one, c);
    colo_frag_flush(&c->frag[COLO_PRIMARY], forget_piece, c);
    colo_frag_flush(&c->frag[COLO_SECONDARY], forget_piece, c);
    colo_flow_table_fini(&c->flows, &c->budget);
    colo_pool_drain(&c->pool);
    free(c);
}
