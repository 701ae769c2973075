/*
 * rewrite.h - the secondary's TCP, renumbered as the primary's (QEMU's
 * filter-rewriter). The two guests' stacks pick their own initial
 * sequence numbers and timestamp clocks; the client knows only the
 * primary's. Per connection, the offsets are learnt from the two guests'
 * SYN-ACKs; then
 *   - what the secondary sends is renumbered as the primary's (seq, and
 *     the timestamp value), so that the compare sees one numbering and a
 *     client after a failover sees the numbers it knows;
 *   - what the client sends the secondary is renumbered as the
 *     secondary's (ack, SACK blocks, the timestamp echo), so that its
 *     stack takes it.
 * A secondary SYN-ACK that comes before the primary's is held until the
 * primary's gives the offsets. Checksums are filled in again. No I/O.
 *
 * The offsets stay what the handshake gave: the guests here are not made
 * copies of each other by checkpoints (a protection that checkpoints
 * must reset them then: colo_rewriter_checkpoint).
 */
#ifndef COLO_PROXY_DATAPATH_REWRITE_H
#define COLO_PROXY_DATAPATH_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/frame.h"

#define COLO_REWRITE_CONNS 4096u

typedef struct colo_rewriter colo_rewriter;

/* A held secondary frame the offsets now let go, renumbered. */
typedef void colo_rewrite_ready_cb(void *opaque, const uint8_t *frame, size_t len);

struct colo_rewrite_counters {
    uint64_t connections;       /* learnt from both SYN-ACKs */
    uint64_t rewritten_from_secondary, rewritten_to_secondary;
    uint64_t held, table_full;
};

int colo_rewriter_new(colo_rewrite_ready_cb *ready, void *opaque, colo_rewriter **out);
void colo_rewriter_free(colo_rewriter *r);

/* Is f a frame of the primary's that the rewriter learns from (a TCP
 * SYN-ACK)? The others it ignores: a primary's host sends only these to
 * a rewriter on the secondary's host. */
bool colo_rewrite_learns_from(const struct colo_frame *f);
/* The primary guest's frame f (parsed): its SYN-ACK's numbers learnt. */
void colo_rewrite_from_primary(colo_rewriter *r, const uint8_t *frame, const struct colo_frame *f);
/* The secondary guest's frame, renumbered in place: 0 to send it on, 1
 * when the rewriter keeps it (a SYN-ACK before the primary's: it comes
 * back through the ready callback). */
int colo_rewrite_from_secondary(colo_rewriter *r, uint8_t *frame, size_t len,
                                const struct colo_frame *f);
/* The client's frame, on its way to the secondary: renumbered in place. */
void colo_rewrite_to_secondary(colo_rewriter *r, uint8_t *frame, const struct colo_frame *f);
/* The primary is gone: from now on the client sees the secondary's
 * timestamps (a margin ahead of the primary's). */
void colo_rewriter_failover(colo_rewriter *r);
/* The secondary has become the primary's copy: every offset is none. */
void colo_rewriter_checkpoint(colo_rewriter *r);
void colo_rewriter_counters(const colo_rewriter *r, struct colo_rewrite_counters *out);

#endif
