/*
 * tcp_stream.h - one direction of a TCP connection, as the two guests
 * send it, compared as a byte stream: the bytes each side sent are held by
 * their place in the stream, and the two are compared as far as both
 * reach, whatever the segments they came in. A primary segment may go to
 * the client once every place it covers has matched.
 *
 * Places are sequence numbers taken relative to each side's own initial
 * sequence number, learnt from its SYN: that is the ISN offset, applied to
 * seq (and, from each side's first ACK, to ack). A stream met without its
 * handshake (it began before the protection, or at a checkpoint) has both
 * sides share one base, the primary's: their numbers are then equal. At
 * every checkpoint the secondary becomes the primary's copy, and so does
 * its side of the stream.
 *
 * What is compared: the bytes, the SYN (its flags and options, timestamp
 * values masked), FIN and RST at their places (a FIN against a RST, or
 * against a byte, diverges), and acks cumulatively: a primary segment that
 * acks A waits until the secondary has acked as far. Not compared: the
 * window, PSH, and the options of other segments (timestamps and SACK
 * blocks follow timing and segmentation, not the guest's state), nor the
 * IP header fields of a segment (TTL, DSCP): segments do not pair up.
 * Retransmitted bytes (before the matched point) are not compared again,
 * and a place held by one side keeps its first copy.
 */
#ifndef COLO_PROXY_TCP_STREAM_H
#define COLO_PROXY_TCP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/budget.h"
#include "proxy/counters.h"

/* What a primary segment needs matched before its release. */
struct colo_tcp_mark {
    uint32_t end;       /* the sequence number just past it (SYN, data, FIN) */
    uint32_t ack;
    uint8_t flags;
    bool placed;        /* false: its side had no base; it cannot match */
};

/* A segment, from frame.c's parse. */
struct colo_tcp_seg {
    uint32_t seq, ack;
    uint8_t flags;
    const uint8_t *payload;
    uint32_t len;
    const uint8_t *opt;
    uint32_t opt_len;
    unsigned frames;    /* secondary: the frames it stands for */
};

struct colo_tcp_stream;

/* A stream, charged to b: NULL with *r -ENOSPC or -ENOMEM. */
struct colo_tcp_stream *colo_tcp_stream_new(struct colo_budget *b, int *r);
void colo_tcp_stream_free(struct colo_tcp_stream *s, struct colo_budget *b);

/* A primary segment. Its bytes are referenced, not copied: they live in
 * the packet the caller holds, and that packet goes only once they have
 * all matched, when the stream has let them go. quiet: the flow holds no
 * primary packet (a new SYN may then start the stream anew). Fills *m.
 * 0, or -ENOSPC/-ENOMEM when some bytes found no room: the packet must
 * still be held (some are referenced), and it cannot match. */
int colo_tcp_primary(struct colo_tcp_stream *s, const struct colo_tcp_seg *g, bool quiet,
                     struct colo_budget *b, struct colo_tcp_mark *m);

/* A secondary segment, its new bytes copied (quiet as for the primary).
 * 0 and *kept the bytes kept
 * (0: the segment added nothing to hold: an ACK, a retransmission);
 * -ENOENT when its side has no base yet (before its SYN, on a stream
 * that had one); -ENOSPC/-ENOMEM when its copy found no room, and nothing
 * of it is held. *overflow: some of it found no room after all. */
int colo_tcp_secondary(struct colo_tcp_stream *s, const struct colo_tcp_seg *g, bool quiet,
                       struct colo_budget *b, uint32_t *kept, bool *overflow);

/* Compare as far as both sides reach, letting go what matched:
 * COLO_CKPT_NONE, or the divergence found. */
enum colo_checkpoint_reason colo_tcp_match(struct colo_tcp_stream *s, struct colo_budget *b);

/* The primary segment of mark m may be released. */
bool colo_tcp_releasable(const struct colo_tcp_stream *s, const struct colo_tcp_mark *m);

/* The checkpoint completed: the secondary's side becomes the primary's
 * (offsets none, matched as far as the primary has sent), and no bytes
 * are held on either side. Called before the caller releases its held
 * primary packets, whose bytes it lets go. */
void colo_tcp_checkpoint(struct colo_tcp_stream *s, struct colo_budget *b);

/* Let go of every byte held on both sides (before freeing the stream of
 * a flow that goes: what it frees is then counted by take_freed). */
void colo_tcp_clear(struct colo_tcp_stream *s, struct colo_budget *b);

/* Bytes held on either side. */
bool colo_tcp_pending(const struct colo_tcp_stream *s);
/* FIN matched, or RST. */
bool colo_tcp_closed(const struct colo_tcp_stream *s);

/* The secondary frames, and their bytes, whose copies were let go since
 * the last call. */
void colo_tcp_take_freed(struct colo_tcp_stream *s, uint64_t *frames, uint64_t *bytes);

#endif
