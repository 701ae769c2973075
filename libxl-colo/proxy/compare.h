/*
 * compare.h - the COLO NIC compare engine: the frames the primary and the
 * secondary guests send go in; the primary's go out to the client, in
 * order per flow and byte for byte as the primary sent them, once the
 * secondary has sent the same; a divergence asks for a checkpoint.
 *
 * A library with no I/O, no clock, no thread and no global state: the
 * caller feeds frames (plain Ethernet, any vnet header stripped) with the
 * time, calls colo_compare_tick() now and then, and is called back. Every
 * context is single-threaded: one caller at a time.
 *
 * - Flows: TCP and UDP by 5-tuple, ICMP and other IP protocols by address
 *   pair (and protocol), IPv4 and IPv6, the 802.1Q VLAN id in the key;
 *   frames that are not IP (ARP, ...) by ethertype and VLAN. Nothing is
 *   passed through unchecked.
 * - TCP is compared as a byte stream (tcp_stream.h: ISN offsets, acks,
 *   SYN, FIN and RST); UDP, ICMP and the rest packet against packet, in
 *   order, with the IP ID, the IPv6 flow label and the checksums masked
 *   (normalise.h). IP fragments are reassembled first (frag.h).
 * - A divergence: a content mismatch at once, or a primary packet
 *   unmatched for timeout_ms. Then one checkpoint request, and no other
 *   until colo_compare_checkpoint_done(); meanwhile the primary's frames
 *   are held and the secondary's dropped. The checkpoint done, every held
 *   primary frame goes out (oldest first) and the secondary's side is
 *   reset to a copy of the primary's (TCP offsets none).
 * - Bounds: every header length is checked before use (frame.h); memory
 *   per flow and in all, flows and reassembly are limited, and running
 *   out is a drop and a checkpoint request, never an unbounded
 *   allocation. Every drop is counted by cause (counters.h).
 */
#ifndef COLO_PROXY_COMPARE_H
#define COLO_PROXY_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/counters.h"

enum colo_side {
    COLO_PRIMARY = 0,
    COLO_SECONDARY = 1,
};

/* The defaults, for a config field left 0. */
#define COLO_COMPARE_TIMEOUT_MS 3000            /* colo-compare's compare_timeout */
#define COLO_COMPARE_MAX_FLOWS 65536
#define COLO_COMPARE_MAX_MEM ((size_t)128 << 20)
#define COLO_COMPARE_MAX_FLOW_MEM ((size_t)8 << 20)
#define COLO_COMPARE_FRAG_TIMEOUT_MS 1000
#define COLO_COMPARE_FRAG_MAX 256
#define COLO_COMPARE_IDLE_MS 120000
#define COLO_COMPARE_CLOSED_MS 5000

/* A primary frame for the client: the primary's bytes, as they came. */
typedef void colo_compare_release_cb(void *opaque, const uint8_t *frame, size_t len);
/* A checkpoint is needed. The callback must not call into the context:
 * the checkpoint is done later, with colo_compare_checkpoint_done(). */
typedef void colo_compare_checkpoint_cb(void *opaque, enum colo_checkpoint_reason reason);

struct colo_compare_config {
    uint32_t timeout_ms;        /* a primary packet unmatched this long diverges */
    uint32_t max_flows;         /* flows at once */
    size_t max_mem;             /* bytes held in all: frames, flows, the table */
    size_t max_flow_mem;        /* bytes one flow may hold */
    uint32_t max_frame;         /* the largest frame taken (default COLO_FRAME_MAX) */
    uint32_t frag_timeout_ms;   /* an incomplete datagram is dropped after this */
    uint32_t frag_max;          /* datagrams in reassembly at once, per input */
    uint32_t idle_ms;           /* a flow holding nothing goes after this */
    uint32_t closed_ms;         /* a closed TCP flow holding nothing, after this */
    uint64_t hash_seed;         /* the flow hash's key: pass a random one */
    colo_compare_release_cb *release;           /* required */
    colo_compare_checkpoint_cb *checkpoint;     /* required */
    void *opaque;
};

struct colo_compare_counters {
    uint64_t frames_in[2];                      /* frames given, per input */
    uint64_t drops[2][COLO_DROP__MAX];          /* frames dropped, per input and cause */
    uint64_t frames_held[2];                    /* frames held now */
    uint64_t bytes_held[2];                     /* their bytes */
    uint64_t released;                          /* primary frames sent to the client */
    uint64_t compared;                          /* of which matched (the others at a checkpoint) */
    uint64_t secondary_done;                    /* secondary frames matched, redundant, or
                                                 * reset at a checkpoint */
    uint64_t checkpoints;                       /* checkpoint requests */
    uint64_t checkpoint_reasons[COLO_CKPT__MAX];
    uint64_t checkpoints_done;
    uint64_t flows;                             /* flows now */
    uint64_t flows_created;
    uint64_t mem_used, mem_peak, mem_limit;     /* bytes charged to the budget */
};
/* Every frame given is dropped, held or done: for each input,
 * frames_in == sum(drops) + frames_held + (released | secondary_done). */

typedef struct colo_compare colo_compare;

/* A context: 0, -EINVAL (no callback; limits that leave no room for the
 * flow table itself), -ENOMEM. */
int colo_compare_new(const struct colo_compare_config *cfg, colo_compare **out);
/* Free it; held frames are dropped, not released. NULL is fine. */
void colo_compare_free(colo_compare *c);

/* A frame from each guest. 0 when taken (held, matched or released), or
 * the drop's -errno, the drop counted (counters.h's colo_drop_cause_errno).
 * Callbacks may run inside. */
int colo_compare_primary(colo_compare *c, const uint8_t *frame, size_t len, uint64_t now_ns);
int colo_compare_secondary(colo_compare *c, const uint8_t *frame, size_t len, uint64_t now_ns);

/* Timeouts: unmatched primary packets (a checkpoint request), incomplete
 * datagrams, idle and closed flows. 0, or -EBUSY from a callback. */
int colo_compare_tick(colo_compare *c, uint64_t now_ns);

/* The checkpoint completed (asked for or not): the held primary frames
 * go out, oldest first, and the secondary's side is reset. The caller has
 * fed every primary frame sent before the checkpoint. 0, or -EBUSY from a
 * callback. */
int colo_compare_checkpoint_done(colo_compare *c, uint64_t now_ns);

/* A checkpoint was asked and is not done yet. */
bool colo_compare_checkpoint_pending(const colo_compare *c);

void colo_compare_get_counters(const colo_compare *c, struct colo_compare_counters *out);

#endif
