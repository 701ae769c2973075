/*
 * flow.h - the flow table: one flow per key of what the guests send (only
 * their output is compared, and both send the same 5-tuple, so the key
 * keeps its direction), in chained buckets sized at creation for the
 * configured maximum of flows, so it never rehashes.
 *
 * A flow holding nothing (no frame queued, no TCP bytes pending) sits on
 * the idle list, or the closed list once its TCP connection has closed,
 * each oldest first: those are the flows that may go, when idle long
 * enough or when room is needed. A flow holding frames is on neither and
 * is never evicted.
 */
#ifndef COLO_PROXY_FLOW_H
#define COLO_PROXY_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/budget.h"
#include "proxy/frame.h"
#include "proxy/packet.h"

enum colo_flow_kind {
    COLO_FLOW_L2 = 1,   /* not IP: one flow per ethertype and VLAN */
    COLO_FLOW_TCP,
    COLO_FLOW_UDP,
    COLO_FLOW_ICMP,     /* ICMP and ICMPv6: one flow per address pair */
    COLO_FLOW_IP,       /* any other IP protocol: per address pair and protocol */
};

struct colo_flow_key {  /* zeroed first: hashed and compared as bytes */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint16_t vlan;
    uint16_t ethertype;
    uint8_t kind, ip, proto, tagged;
};

enum colo_flow_list {
    COLO_FLOW_BUSY = 0, /* holds something: on no list */
    COLO_FLOW_IDLE,
    COLO_FLOW_CLOSED,
    COLO_FLOW__LISTS
};

struct colo_flow {
    struct colo_flow *hnext;            /* its bucket's chain */
    struct colo_flow *prev, *next;      /* its idle or closed list */
    enum colo_flow_list list;
    struct colo_flow_key key;
    uint64_t hash;
    uint64_t last_ns;                   /* when it was last parked */
    struct colo_pkt_queue q[2];         /* [COLO_PRIMARY], [COLO_SECONDARY] */
    struct colo_tcp_stream *tcp;            /* TCP flows only */
    struct colo_budget budget;          /* its limit; the context's is the parent */
};

struct colo_flow_table {
    struct colo_flow **buckets;
    size_t mask;                        /* buckets - 1, a power of two less one */
    size_t count, max;
    uint64_t seed;
    struct {
        struct colo_flow *oldest, *newest;
    } lists[COLO_FLOW__LISTS];
};

/* The key of a parsed frame (not a fragment). */
void colo_flow_key_of(const struct colo_frame *f, struct colo_flow_key *k);

/* A table for max flows, its buckets charged to b: 0, -ENOSPC or -ENOMEM. */
int colo_flow_table_init(struct colo_flow_table *t, size_t max, uint64_t seed,
                         struct colo_budget *b);
/* Free the buckets; the flows are the caller's to free first. */
void colo_flow_table_fini(struct colo_flow_table *t, struct colo_budget *b);

uint64_t colo_flow_hash(const struct colo_flow_table *t, const struct colo_flow_key *k);
struct colo_flow *colo_flow_find(const struct colo_flow_table *t, const struct colo_flow_key *k,
                                 uint64_t hash);
/* Insert f (its key and hash set; count < max is the caller's check), busy. */
void colo_flow_insert(struct colo_flow_table *t, struct colo_flow *f);
/* Out of its bucket and its list; the caller frees it. */
void colo_flow_remove(struct colo_flow_table *t, struct colo_flow *f);

/* Put f on list (last, as the newest, stamped now), or on none for
 * COLO_FLOW_BUSY. */
void colo_flow_park(struct colo_flow_table *t, struct colo_flow *f, enum colo_flow_list list,
                    uint64_t now_ns);
static inline struct colo_flow *colo_flow_oldest(const struct colo_flow_table *t,
                                                 enum colo_flow_list list)
{
    return t->lists[list].oldest;
}

/* fn on every flow; fn may remove the flow it is given. */
void colo_flow_foreach(struct colo_flow_table *t, void (*fn)(void *opaque, struct colo_flow *f),
                       void *opaque);

#endif
