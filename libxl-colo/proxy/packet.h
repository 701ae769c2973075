/*
 * packet.h - a frame held by the compare: a primary frame until it is
 * released, a secondary frame of a packet-compared flow until it is
 * matched. It keeps its own copy of the bytes (for a reassembled datagram,
 * the rebuilt frame, and the primary's original fragments beside it).
 */
#ifndef COLO_PROXY_PACKET_H
#define COLO_PROXY_PACKET_H

#include <stdint.h>

#include "proxy/budget.h"
#include "proxy/frag.h"
#include "proxy/frame.h"
#include "proxy/tcp_stream.h"

struct colo_flow;

struct colo_pkt {
    struct colo_pkt *next;              /* its flow's queue, oldest first */
    struct colo_pkt *older, *newer;     /* primary: all held, by arrival */
    struct colo_flow *flow;
    uint64_t arrival_ns;
    struct colo_frame f;                /* data, parsed */
    struct colo_tcp_mark mark;          /* primary TCP: what must match before release */
    struct colo_frag_piece *pieces;     /* primary, reassembled: what is released */
    unsigned frames;                    /* the frames it stands for */
    uint32_t wire_bytes;                /* their bytes, as they came */
    size_t charge;                      /* bytes charged to its flow's budget */
    uint32_t len;
    uint8_t data[];
};

struct colo_pkt_queue {
    struct colo_pkt *head, *tail;
    unsigned n;
};

/* A packet of len bytes, charged to b, data not yet copied: NULL with *r
 * -ENOSPC (over budget) or -ENOMEM. */
struct colo_pkt *colo_pkt_new(struct colo_budget *b, uint32_t len, int *r);
/* Free it (not its pieces: they belong to the frag table's budget). */
void colo_pkt_free(struct colo_budget *b, struct colo_pkt *p);

void colo_pkt_push(struct colo_pkt_queue *q, struct colo_pkt *p);
struct colo_pkt *colo_pkt_pop(struct colo_pkt_queue *q);

#endif
