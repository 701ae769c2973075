/* tcp_stream.c - TCP compared as a byte stream (tcp_stream.h). */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "proxy/frame.h"
#include "proxy/normalise.h"
#include "proxy/tcp_stream.h"

enum { P = 0, S = 1 };

/* Places further ahead of the matched point than this are not held: no
 * window is that large, and it keeps every comparison of places well
 * within the sign of a 32-bit difference. */
#define WINDOW_MAX (1u << 30)

/* A secondary segment's copy, shared by the ranges cut from it. */
struct tcp_buf {
    uint32_t refs;
    uint32_t frames;
    uint32_t len;
    uint8_t data[];
};

/* Bytes held at places [pos, pos + len) of one side. */
struct tcp_range {
    struct tcp_range *next;
    uint32_t pos, len;
    const uint8_t *data;
    struct tcp_buf *buf;        /* secondary; NULL: the primary's packet holds the bytes */
};

struct tcp_side {
    bool based;                 /* base known */
    uint32_t base;              /* the sequence number of place 0 */
    bool ack_based;
    uint32_t ack_base;          /* acks are taken relative to this */
    bool has_ack;
    uint32_t ack_hi;            /* the highest ack, relative */
    bool syn;
    uint8_t syn_flags, syn_opt_len;
    uint8_t syn_opt[COLO_TCP_OPT_MAX];  /* normalised */
    bool fin;
    uint32_t fin_pos;
    bool rst;
    uint32_t rst_pos, rst_ack;
    uint8_t rst_flags;
    bool seen;
    uint32_t next;              /* the furthest place sent, plus one */
    struct tcp_range *head, *tail;  /* held, sorted, disjoint, all at or past the match */
};

enum tcp_mode {
    TCP_NEW,                    /* nothing seen */
    TCP_SYN,                    /* from the handshake: each side its own base */
    TCP_SHARED,                 /* met later: one base for both */
};

struct colo_tcp_stream {
    enum tcp_mode mode;
    bool anchored;              /* shared: the base is the primary's, not yet the secondary's */
    uint32_t match;             /* places before it have matched */
    bool syn_matched, fin_matched, rst_matched;
    struct tcp_side side[2];
    uint64_t freed_frames, freed_bytes;
};

static inline int32_t sdiff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

struct colo_tcp_stream *colo_tcp_stream_new(struct colo_budget *b, int *r)
{
    struct colo_tcp_stream *s = colo_budget_alloc(b, sizeof(*s), r);

    if (s)
        memset(s, 0, sizeof(*s));
    return s;
}

static void buf_put(struct colo_tcp_stream *s, struct tcp_buf *buf, struct colo_budget *b)
{
    if (--buf->refs)
        return;
    s->freed_frames += buf->frames;
    s->freed_bytes += buf->len;
    colo_budget_free(b, buf, sizeof(*buf) + buf->len);
}

static void range_free(struct colo_tcp_stream *s, struct tcp_range *r, struct colo_budget *b)
{
    if (r->buf)
        buf_put(s, r->buf, b);
    colo_budget_free(b, r, sizeof(*r));
}

static void side_clear(struct colo_tcp_stream *s, struct tcp_side *x, struct colo_budget *b)
{
    for (struct tcp_range *r = x->head, *next; r; r = next) {
        next = r->next;
        range_free(s, r, b);
    }
    x->head = x->tail = NULL;
}

void colo_tcp_stream_free(struct colo_tcp_stream *s, struct colo_budget *b)
{
    if (!s)
        return;
    side_clear(s, &s->side[P], b);
    side_clear(s, &s->side[S], b);
    colo_budget_free(b, s, sizeof(*s));
}

/* Let go of the bytes before the matched point. */
static void trim(struct colo_tcp_stream *s, struct tcp_side *x, struct colo_budget *b)
{
    while (x->head && sdiff(x->head->pos + x->head->len, s->match) <= 0) {
        struct tcp_range *r = x->head;
        x->head = r->next;
        range_free(s, r, b);
    }
    if (!x->head) {
        x->tail = NULL;
    } else if (sdiff(x->head->pos, s->match) < 0) {
        uint32_t cut = s->match - x->head->pos;
        x->head->pos += cut;
        x->head->data += cut;
        x->head->len -= cut;
    }
}

static int range_new(struct tcp_side *x, struct tcp_range *prev, uint32_t pos, const uint8_t *data,
                     uint32_t len, struct tcp_buf *buf, struct colo_budget *b)
{
    int r;
    struct tcp_range *n = colo_budget_alloc(b, sizeof(*n), &r);

    if (!n)
        return r;
    *n = (struct tcp_range){ .pos = pos, .len = len, .data = data, .buf = buf };
    if (buf)
        buf->refs++;
    n->next = prev ? prev->next : x->head;
    if (prev)
        prev->next = n;
    else
        x->head = n;
    if (!n->next)
        x->tail = n;
    return 0;
}

/* Hold the bytes data[len] at place pos, but only where this side holds
 * nothing yet and at or past the matched point: the first copy stays. */
static int place(struct colo_tcp_stream *s, struct tcp_side *x, uint32_t pos, const uint8_t *data,
                 uint32_t len, struct tcp_buf *buf, struct colo_budget *b)
{
    int32_t before = sdiff(pos, s->match);

    if (before < 0) {
        if ((uint32_t)-(int64_t)before >= len)
            return 0;               /* all matched already: a retransmission */
        data += (uint32_t)-(int64_t)before;
        len -= (uint32_t)-(int64_t)before;
        pos = s->match;
    }
    if (len == 0 || (uint32_t)(pos + len - s->match) > WINDOW_MAX)
        return 0;
    if (!x->tail || sdiff(pos, x->tail->pos + x->tail->len) >= 0)
        return range_new(x, x->tail, pos, data, len, buf, b);   /* in order: the usual case */

    struct tcp_range *prev = NULL, *cur = x->head;
    while (len > 0) {
        while (cur && sdiff(cur->pos + cur->len, pos) <= 0) {
            prev = cur;
            cur = cur->next;
        }
        uint32_t step;
        if (!cur || sdiff(cur->pos, pos) > 0) {
            /* A gap before cur (or the end): these bytes are new. */
            step = cur ? MIN(len, cur->pos - pos) : len;
            int r = range_new(x, prev, pos, data, step, buf, b);
            if (r < 0)
                return r;
            prev = prev ? prev->next : x->head;
        } else {
            step = MIN(len, cur->pos + cur->len - pos);     /* held already */
        }
        pos += step;
        data += step;
        len -= step;
    }
    return 0;
}

static void note_ack(struct tcp_side *x, const struct colo_tcp_seg *g)
{
    if (!(g->flags & COLO_TCP_ACK))
        return;
    if (!x->ack_based) {
        x->ack_based = true;
        x->ack_base = g->ack;
    }
    uint32_t rel = g->ack - x->ack_base;
    if (!x->has_ack || sdiff(rel, x->ack_hi) > 0)
        x->ack_hi = rel;
    x->has_ack = true;
}

static void reset(struct colo_tcp_stream *s, struct colo_budget *b)
{
    side_clear(s, &s->side[P], b);
    side_clear(s, &s->side[S], b);
    uint64_t frames = s->freed_frames, bytes = s->freed_bytes;
    memset(s, 0, sizeof(*s));
    s->freed_frames = frames;
    s->freed_bytes = bytes;
}

static void share_base(struct colo_tcp_stream *s, uint32_t base, bool anchored)
{
    s->mode = TCP_SHARED;
    s->anchored = anchored;
    for (int i = P; i <= S; i++) {
        struct tcp_side *x = &s->side[i];
        x->based = true;
        x->base = base;
        x->ack_based = true;
        x->ack_base = 0;        /* both ack the same numbers: the client's */
    }
}

/* The secondary came first and set the shared base; the primary's first
 * segment sets it for good: move the secondary's places to it. */
static void rebase(struct colo_tcp_stream *s, uint32_t base, struct colo_budget *b)
{
    struct tcp_side *x = &s->side[S];
    uint32_t d = base - x->base;

    for (struct tcp_range *r = x->head; r; r = r->next)
        r->pos -= d;
    x->fin_pos -= d;
    x->rst_pos -= d;
    x->next -= d;
    s->side[P].base = x->base = base;
    s->anchored = true;
    s->match = 0;
    trim(s, x, b);
}

/* A SYN from side i: the start of the stream, or of a new one on the same
 * ports. false: it starts nothing (the segment is placed as any other). */
static bool take_syn(struct colo_tcp_stream *s, int i, const struct colo_tcp_seg *g, bool quiet,
                     struct colo_budget *b)
{
    struct tcp_side *x = &s->side[i];

    if (s->mode == TCP_SYN && x->syn && x->base == g->seq)
        return true;                /* retransmitted */
    bool held = s->side[P].head || s->side[S].head;
    if (s->mode == TCP_NEW || (s->mode == TCP_SYN && !x->syn)) {
        /* the first SYN, or this side's after the other's */
    } else if ((quiet && !held) || (i == P && s->mode == TCP_SHARED && !s->anchored)) {
        reset(s, b);                /* a new connection; or a secondary that ran ahead alone */
    } else {
        return false;
    }
    if (s->mode != TCP_SYN) {
        s->mode = TCP_SYN;
        s->match = 0;
    }
    *x = (struct tcp_side){ .based = true, .base = g->seq, .syn = true,
                            .syn_flags = g->flags & (uint8_t)~COLO_TCP_PSH,
                            .syn_opt_len = (uint8_t)MIN(g->opt_len, COLO_TCP_OPT_MAX) };
    colo_tcp_options_normalise(g->opt, x->syn_opt_len, x->syn_opt);
    return true;
}

/* Side i's base for a segment that is not a SYN it took: false if none. */
static bool find_base(struct colo_tcp_stream *s, int i, const struct colo_tcp_seg *g,
                      struct colo_budget *b)
{
    if (s->mode == TCP_NEW)
        share_base(s, g->seq, i == P);
    else if (i == P && s->mode == TCP_SHARED && !s->anchored)
        rebase(s, g->seq, b);
    return s->side[i].based;
}

/* The stream's record of one segment of side i (already based): its
 * ack, FIN, RST and how far the side has sent. Returns where its data
 * goes. */
static uint32_t note_segment(struct colo_tcp_stream *s, int i, const struct colo_tcp_seg *g,
                             bool syn, uint32_t *end)
{
    struct tcp_side *x = &s->side[i];
    uint32_t pos = g->seq - x->base + (syn ? 1 : 0);

    *end = pos + g->len + (g->flags & COLO_TCP_FIN ? 1 : 0);
    if (!x->seen || sdiff(*end, x->next) > 0)
        x->next = *end;
    x->seen = true;
    note_ack(x, g);
    if ((g->flags & COLO_TCP_FIN) && !x->fin) {
        x->fin = true;
        x->fin_pos = pos + g->len;
    }
    if ((g->flags & COLO_TCP_RST) && !x->rst) {
        x->rst = true;
        x->rst_pos = g->seq - x->base;
        x->rst_flags = g->flags & (COLO_TCP_RST | COLO_TCP_ACK);
        x->rst_ack = g->ack - x->ack_base;
    }
    return pos;
}

int colo_tcp_primary(struct colo_tcp_stream *s, const struct colo_tcp_seg *g, bool quiet,
                     struct colo_budget *b, struct colo_tcp_mark *m)
{
    bool syn = (g->flags & COLO_TCP_SYN) && take_syn(s, P, g, quiet, b);
    uint32_t end;

    *m = (struct colo_tcp_mark){ .ack = g->ack, .flags = g->flags };
    if (!syn && !find_base(s, P, g, b))
        return 0;
    uint32_t pos = note_segment(s, P, g, syn, &end);
    m->placed = true;
    m->end = end + s->side[P].base;
    return place(s, &s->side[P], pos, g->payload, g->len, NULL, b);
}

int colo_tcp_secondary(struct colo_tcp_stream *s, const struct colo_tcp_seg *g, bool quiet,
                       struct colo_budget *b, uint32_t *kept, bool *overflow)
{
    bool syn = (g->flags & COLO_TCP_SYN) && take_syn(s, S, g, quiet, b);
    uint32_t end;
    int r;

    *kept = 0;
    *overflow = false;
    if (!syn && !find_base(s, S, g, b))
        return -ENOENT;
    struct tcp_buf *buf = NULL;
    if (g->len) {
        buf = colo_budget_alloc(b, sizeof(*buf) + g->len, &r);
        if (!buf)
            return r;
        *buf = (struct tcp_buf){ .refs = 1, .frames = g->frames, .len = g->len };
        memcpy(buf->data, g->payload, g->len);
    }
    uint32_t pos = note_segment(s, S, g, syn, &end);
    if (!buf)
        return 0;
    r = place(s, &s->side[S], pos, buf->data, g->len, buf, b);
    *overflow = r < 0;
    if (buf->refs > 1)
        *kept = buf->len;
    /* Our own reference: when no range took any byte, this frees the
     * copy, and it counts as let go rather than kept. */
    if (buf->refs == 1) {
        colo_budget_free(b, buf, sizeof(*buf) + buf->len);
        return 0;
    }
    buf->refs--;
    return 0;
}

static bool syn_equal(const struct tcp_side *a, const struct tcp_side *b)
{
    return a->syn_flags == b->syn_flags && a->syn_opt_len == b->syn_opt_len &&
           memcmp(a->syn_opt, b->syn_opt, a->syn_opt_len) == 0;
}

static bool rst_reached(const struct colo_tcp_stream *s, const struct tcp_side *x)
{
    return x->rst && sdiff(x->rst_pos, s->match) <= 0;
}

enum colo_checkpoint_reason colo_tcp_match(struct colo_tcp_stream *s, struct colo_budget *b)
{
    struct tcp_side *p = &s->side[P], *q = &s->side[S];

    if (s->mode == TCP_NEW || s->rst_matched)
        return COLO_CKPT_NONE;
    if (s->mode == TCP_SYN && !s->syn_matched) {
        if (!p->syn || !q->syn)
            return COLO_CKPT_NONE;
        if (!syn_equal(p, q))
            return COLO_CKPT_TCP_SYN;
        s->syn_matched = true;
        s->match = 1;
        trim(s, p, b);
        trim(s, q, b);
    }
    for (;;) {
        bool pd = p->head && p->head->pos == s->match, qd = q->head && q->head->pos == s->match;
        bool pf = p->fin && p->fin_pos == s->match, qf = q->fin && q->fin_pos == s->match;
        bool pr = rst_reached(s, p), qr = rst_reached(s, q);

        if (pr || qr) {
            if (pr && qr) {
                if (p->rst_pos != q->rst_pos || p->rst_flags != q->rst_flags ||
                    ((p->rst_flags & COLO_TCP_ACK) && p->rst_ack != q->rst_ack))
                    return COLO_CKPT_TCP_FLAGS;
                s->rst_matched = true;
                return COLO_CKPT_NONE;
            }
            /* One side reset where the other goes on. */
            if ((pr && (qd || qf)) || (qr && (pd || pf)))
                return COLO_CKPT_TCP_FLAGS;
            return COLO_CKPT_NONE;
        }
        if (pf || qf) {
            if (pf && qf) {
                s->match++;
                s->fin_matched = true;
                continue;
            }
            return pd || qd ? COLO_CKPT_TCP_FLAGS : COLO_CKPT_NONE;
        }
        if (!pd || !qd)
            return COLO_CKPT_NONE;
        uint32_t n = MIN(p->head->len, q->head->len);
        if (memcmp(p->head->data, q->head->data, n) != 0)
            return COLO_CKPT_TCP_PAYLOAD;
        s->match += n;
        trim(s, p, b);
        trim(s, q, b);
    }
}

bool colo_tcp_releasable(const struct colo_tcp_stream *s, const struct colo_tcp_mark *m)
{
    const struct tcp_side *p = &s->side[P], *q = &s->side[S];

    if (!m->placed || sdiff(m->end - p->base, s->match) > 0)
        return false;
    if (s->mode == TCP_SYN && !s->syn_matched)
        return false;
    if ((m->flags & COLO_TCP_RST) && !s->rst_matched)
        return false;
    if (m->flags & COLO_TCP_ACK)
        return q->has_ack && sdiff(m->ack - p->ack_base, q->ack_hi) <= 0;
    return true;
}

void colo_tcp_checkpoint(struct colo_tcp_stream *s, struct colo_budget *b)
{
    struct tcp_side *p = &s->side[P];

    side_clear(s, p, b);
    side_clear(s, &s->side[S], b);
    if (!p->based) {
        reset(s, b);
        return;
    }
    s->side[S] = *p;
    if (s->mode == TCP_SHARED)
        s->anchored = true;
    s->match = p->seen ? p->next : 0;
    s->syn_matched = p->syn;
    s->fin_matched = p->fin && sdiff(p->fin_pos, s->match) < 0;
    s->rst_matched = p->rst;
}

void colo_tcp_clear(struct colo_tcp_stream *s, struct colo_budget *b)
{
    side_clear(s, &s->side[P], b);
    side_clear(s, &s->side[S], b);
}

bool colo_tcp_pending(const struct colo_tcp_stream *s)
{
    return s->side[P].head || s->side[S].head;
}

bool colo_tcp_closed(const struct colo_tcp_stream *s)
{
    return s->fin_matched || s->rst_matched;
}

void colo_tcp_take_freed(struct colo_tcp_stream *s, uint64_t *frames, uint64_t *bytes)
{
    *frames = s->freed_frames;
    *bytes = s->freed_bytes;
    s->freed_frames = s->freed_bytes = 0;
}
