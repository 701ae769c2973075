/*
 * frag.h - IPv4 and IPv6 reassembly, one table per input, so that the
 * same datagram cut in different places compares equal: the compare sees
 * the whole datagram, rebuilt as one frame, and the primary's original
 * fragments are what is released.
 *
 * Bounded: at most `max` datagrams at a time, COLO_FRAG_PIECES_MAX pieces
 * each, their bytes charged to the context's budget, and a datagram not
 * complete within the timeout is dropped. Overlapping pieces drop their
 * datagram (RFC 5722's rule, for IPv4 too: the two guests could not be
 * told to agree on which copy wins).
 */
#ifndef COLO_PROXY_FRAG_H
#define COLO_PROXY_FRAG_H

#include <stdint.h>

#include "proxy/budget.h"
#include "proxy/frame.h"

#define COLO_FRAG_PIECES_MAX 64

/* One fragment as it came, whole. */
struct colo_frag_piece {
    struct colo_frag_piece *next;   /* in arrival order */
    uint32_t off, len;              /* its data's place in the datagram */
    uint32_t data;                  /* offset of that data in frame */
    uint32_t frame_len;
    uint8_t frame[];
};

struct colo_frag_dgram;

struct colo_frag_table {
    struct colo_frag_dgram *oldest, *newest;
    unsigned count, max;
    uint64_t timeout_ns;
    struct colo_budget *budget;
    /* The input's counters: the drops the table makes by itself (a
     * datagram that overlaps, overflows or times out), and the frames it
     * holds. */
    uint64_t *drops;                /* [COLO_DROP__MAX] */
    uint64_t *held_frames;
    uint64_t *held_bytes;
};

void colo_frag_init(struct colo_frag_table *t, unsigned max, uint64_t timeout_ns,
                    struct colo_budget *budget, uint64_t *drops, uint64_t *held_frames,
                    uint64_t *held_bytes);

/* Take the fragment frame[len] (parsed as *f, f->frag set). COLO_DROP_NONE
 * when it is held; then *done is NULL, or the datagram it completed,
 * out of the table, for colo_frag_build and colo_frag_finish. Otherwise
 * the cause for which this frame is dropped (the caller counts it; the
 * pieces its datagram loses with it are counted here). */
enum colo_drop_cause colo_frag_add(struct colo_frag_table *t, const uint8_t *frame, size_t len,
                                   const struct colo_frame *f, uint64_t now_ns,
                                   struct colo_frag_dgram **done);

/* A completed datagram as one frame: its length, and its bytes into
 * out[colo_frag_len(g)] (the first piece's headers, the fragment fields
 * cleared, the lengths those of the whole). */
uint32_t colo_frag_len(const struct colo_frag_dgram *g);
void colo_frag_build(const struct colo_frag_dgram *g, uint8_t *out);

/* Free a completed datagram and hand back its pieces in arrival order, n
 * of them: the caller owns them (and counts them held) from here. */
struct colo_frag_piece *colo_frag_finish(struct colo_frag_table *t, struct colo_frag_dgram *g,
                                         unsigned *n);

/* Free pieces the caller owns (their charge goes back to the budget). */
void colo_frag_pieces_free(struct colo_frag_table *t, struct colo_frag_piece *p);

/* Drop the datagrams older than the timeout, counted frag-timeout. */
void colo_frag_expire(struct colo_frag_table *t, uint64_t now_ns);

/* Empty the table at a checkpoint: each piece of each datagram, oldest
 * datagram first and its pieces in arrival order, to fn (the primary
 * releases them, the secondary drops them), then freed. */
void colo_frag_flush(struct colo_frag_table *t,
                     void (*fn)(void *opaque, const struct colo_frag_piece *p), void *opaque);

#endif
