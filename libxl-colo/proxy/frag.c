/* frag.c - IP reassembly, bounded (frag.h). */
#include "config.h"

#include <string.h>

#include "macro.h"
#include "proxy/frag.h"

struct frag_key {                   /* zeroed first: compared as bytes */
    uint8_t src[16], dst[16];
    uint32_t id;
    uint16_t vlan;
    uint8_t ip, proto;
    uint8_t tagged, pad[3];
};

struct colo_frag_dgram {
    struct colo_frag_dgram *older, *newer;
    struct frag_key key;
    uint64_t first_ns;
    struct colo_frag_piece *pieces, *last_piece;   /* arrival order */
    const struct colo_frag_piece *first;           /* the one at offset 0 */
    struct colo_frame first_f;                     /* its parse: where its headers end */
    unsigned n;
    bool have_total;
    uint32_t total;                                /* the data's length, from the last piece */
    uint32_t covered;                              /* data bytes held (pieces never overlap) */
};

static size_t piece_size(uint32_t frame_len)
{
    return sizeof(struct colo_frag_piece) + frame_len;
}

void colo_frag_init(struct colo_frag_table *t, unsigned max, uint64_t timeout_ns,
                    struct colo_budget *budget, uint64_t *drops, uint64_t *held_frames,
                    uint64_t *held_bytes)
{
    *t = (struct colo_frag_table){
        .max = max, .timeout_ns = timeout_ns, .budget = budget, .drops = drops,
        .held_frames = held_frames, .held_bytes = held_bytes,
    };
}

static void key_of(const struct colo_frame *f, struct frag_key *k)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->src, f->src, 16);
    memcpy(k->dst, f->dst, 16);
    k->id = f->frag_id;
    k->vlan = f->vlan;
    k->tagged = f->tagged;
    k->ip = (uint8_t)f->ip;
    k->proto = f->proto;
}

static void unlink_dgram(struct colo_frag_table *t, struct colo_frag_dgram *g)
{
    if (g->older)
        g->older->newer = g->newer;
    else
        t->oldest = g->newer;
    if (g->newer)
        g->newer->older = g->older;
    else
        t->newest = g->older;
    g->older = g->newer = NULL;
    t->count--;
}

void colo_frag_pieces_free(struct colo_frag_table *t, struct colo_frag_piece *p)
{
    while (p) {
        struct colo_frag_piece *next = p->next;
        colo_budget_free(t->budget, p, piece_size(p->frame_len));
        p = next;
    }
}

/* Out of the table and freed, with its pieces: each counted as a drop
 * for cause. */
static void drop_dgram(struct colo_frag_table *t, struct colo_frag_dgram *g,
                       enum colo_drop_cause cause)
{
    for (struct colo_frag_piece *p = g->pieces; p; p = p->next)
        *t->held_bytes -= p->frame_len;
    t->drops[cause] += g->n;
    *t->held_frames -= g->n;
    unlink_dgram(t, g);
    colo_frag_pieces_free(t, g->pieces);
    colo_budget_free(t->budget, g, sizeof(*g));
}

static struct colo_frag_dgram *find(struct colo_frag_table *t, const struct frag_key *k)
{
    for (struct colo_frag_dgram *g = t->newest; g; g = g->older)
        if (memcmp(&g->key, k, sizeof(*k)) == 0)
            return g;
    return NULL;
}

/* The reassembled frame's length, or 0 when it would not be a valid one
 * (an IPv6 payload length past 16 bits). */
static uint32_t built_len(const struct colo_frag_dgram *g)
{
    const struct colo_frame *f = &g->first_f;

    if (f->ip == COLO_L3_IPV4)
        return f->l3 + f->ip_hlen + g->total;  /* within 64 KiB: frame.c checked */
    uint32_t unfrag = f->frag_hdr - f->l3 - 40;
    if (unfrag + g->total > 65535)
        return 0;
    return f->frag_hdr + g->total;
}

enum colo_drop_cause colo_frag_add(struct colo_frag_table *t, const uint8_t *frame, size_t len,
                                   const struct colo_frame *f, uint64_t now_ns,
                                   struct colo_frag_dgram **done)
{
    struct frag_key k;
    int r;

    *done = NULL;
    key_of(f, &k);
    uint32_t off = f->frag_off, n = f->ip_end - f->frag_data, end = off + n;
    struct colo_frag_dgram *g = find(t, &k);
    if (!g) {
        if (t->count >= t->max)
            return COLO_DROP_FRAG_OVERFLOW;
        g = colo_budget_alloc(t->budget, sizeof(*g), &r);
        if (!g)
            return COLO_DROP_FRAG_OVERFLOW;
        *g = (struct colo_frag_dgram){ .key = k, .first_ns = now_ns, .older = t->newest };
        if (t->newest)
            t->newest->newer = g;
        else
            t->oldest = g;
        t->newest = g;
        t->count++;
    }

    /* Where this piece may go: within the end that the last piece set,
     * over no other piece. */
    enum colo_drop_cause bad = COLO_DROP_NONE;
    if (!f->frag_more) {
        if (g->have_total && g->total != end)
            bad = COLO_DROP_BAD_FRAG;
        for (struct colo_frag_piece *p = g->pieces; p && !bad; p = p->next)
            if (p->off + p->len > end)
                bad = COLO_DROP_BAD_FRAG;
    } else if (g->have_total && end > g->total) {
        bad = COLO_DROP_BAD_FRAG;
    }
    for (struct colo_frag_piece *p = g->pieces; p && !bad; p = p->next) {
        if (p->off == off && p->len == n)
            return COLO_DROP_FRAG_DUPLICATE;    /* the datagram stays */
        if (off < p->off + p->len && p->off < end)
            bad = COLO_DROP_FRAG_OVERLAP;
    }
    if (!bad && g->n == COLO_FRAG_PIECES_MAX)
        bad = COLO_DROP_FRAG_OVERFLOW;
    struct colo_frag_piece *piece = NULL;
    if (!bad) {
        piece = colo_budget_alloc(t->budget, piece_size((uint32_t)len), &r);
        if (!piece)
            bad = COLO_DROP_FRAG_OVERFLOW;
    }
    if (bad) {
        /* The datagram cannot complete as sent: it goes with this piece. */
        drop_dgram(t, g, bad);
        return bad;
    }

    *piece = (struct colo_frag_piece){ .off = off, .len = n, .data = f->frag_data,
                                       .frame_len = (uint32_t)len };
    memcpy(piece->frame, frame, len);
    if (g->last_piece)
        g->last_piece->next = piece;
    else
        g->pieces = piece;
    g->last_piece = piece;
    g->n++;
    g->covered += n;
    (*t->held_frames)++;
    *t->held_bytes += len;
    if (off == 0) {
        g->first = piece;
        g->first_f = *f;
    }
    if (!f->frag_more) {
        g->have_total = true;
        g->total = end;
    }
    if (g->have_total && g->covered == g->total) {
        if (!built_len(g)) {
            drop_dgram(t, g, COLO_DROP_BAD_FRAG);
            return COLO_DROP_NONE;  /* this frame was held, then dropped with the rest */
        }
        unlink_dgram(t, g);
        *done = g;
    }
    return COLO_DROP_NONE;
}

uint32_t colo_frag_len(const struct colo_frag_dgram *g)
{
    return built_len(g);
}

void colo_frag_build(const struct colo_frag_dgram *g, uint8_t *out)
{
    const struct colo_frame *f = &g->first_f;
    const uint8_t *first = g->first->frame;
    uint32_t hdr;

    if (f->ip == COLO_L3_IPV4) {
        hdr = f->l3 + f->ip_hlen;
        memcpy(out, first, hdr);
        colo_put_be16(out + f->l3 + 2, (uint16_t)(f->ip_hlen + g->total));
        colo_put_be16(out + f->l3 + 6, colo_be16(first + f->l3 + 6) & 0x4000); /* DF stays */
    } else {
        /* The unfragmentable part, the fragment header taken out: the
         * header that named it names what it carried. */
        hdr = f->frag_hdr;
        memcpy(out, first, hdr);
        out[f->frag_nh] = first[f->frag_hdr];
        colo_put_be16(out + f->l3 + 4, (uint16_t)(hdr - f->l3 - 40 + g->total));
    }
    for (const struct colo_frag_piece *p = g->pieces; p; p = p->next)
        memcpy(out + hdr + p->off, p->frame + p->data, p->len);
}

struct colo_frag_piece *colo_frag_finish(struct colo_frag_table *t, struct colo_frag_dgram *g,
                                         unsigned *n)
{
    struct colo_frag_piece *p = g->pieces;

    for (struct colo_frag_piece *q = p; q; q = q->next)
        *t->held_bytes -= q->frame_len;
    *n = g->n;
    *t->held_frames -= g->n;
    colo_budget_free(t->budget, g, sizeof(*g));
    return p;
}

void colo_frag_expire(struct colo_frag_table *t, uint64_t now_ns)
{
    /* A clock that went back expires nothing. */
    while (t->oldest && now_ns >= t->oldest->first_ns &&
           now_ns - t->oldest->first_ns >= t->timeout_ns)
        drop_dgram(t, t->oldest, COLO_DROP_FRAG_TIMEOUT);
}

void colo_frag_flush(struct colo_frag_table *t,
                     void (*fn)(void *opaque, const struct colo_frag_piece *p), void *opaque)
{
    while (t->oldest) {
        struct colo_frag_dgram *g = t->oldest;
        for (const struct colo_frag_piece *p = g->pieces; p; p = p->next) {
            fn(opaque, p);
            *t->held_bytes -= p->frame_len;
        }
        *t->held_frames -= g->n;
        unlink_dgram(t, g);
        colo_frag_pieces_free(t, g->pieces);
        colo_budget_free(t->budget, g, sizeof(*g));
    }
}
