/*
 * guest.h - a simulated guest: memory in a memfd, vCPU threads running a
 * workload, Xen's log-dirty semantics, a context blob and a small device.
 *
 * Threading: the vCPU threads only touch memory, their own struct vcpu, the
 * log-dirty bitmap and the tick counter. Everything else - pause, context,
 * devstate, hash, log-dirty control - is called from one control thread.
 * A vCPU checks pause_req before each touch and parks under g->lock; a
 * paused guest writes nothing, and the state of every parked vCPU may be
 * read and changed by the control thread.
 */
#ifndef SIMGUEST_GUEST_H
#define SIMGUEST_GUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/sim/sim-proto.h"
#include "uuid.h"

#define SIM_PAGE_SIZE 4096u
#define SIM_BITS_PER_LONG (sizeof(unsigned long) * 8)

/*
 * The NIC (--nic): the guest listens on RUNDIR/sim/NAME.nic, one peer at a
 * time, the wire: frames both ways as colo-compare's records (be32 length,
 * then an Ethernet frame). A request is Ethernet + IPv4 + UDP to port
 * SIM_NIC_PORT with the payload "SNRQ", be64 seq (1, 2, ...), be64 arg;
 * its reply goes back to the sender's addresses with "SNRP", be64 seq,
 * be64 value, be32 flags. The guest serves requests in seq order, each
 * once: value is the new state, mix(state ^ mix(seq ^ arg)), kept in guest
 * memory with the next seq (so that after a checkpoint a secondary serves
 * exactly what its primary has not yet). With --nic-random PPM, a reply
 * in a million carries a random value instead, flags SIM_NIC_RANDOM (from
 * this process's dice: the two guests of a COLO pair differ there). The
 * requests are kept outside guest memory by seq (the last SIM_NIC_RETAIN),
 * as a NIC's receive queue: a secondary that a checkpoint (or a failover)
 * took back serves them again from there.
 */
#define SIM_NIC_PORT 7007
#define SIM_NIC_GUEST_IP "\x0a\x00\x00\x02"
#define SIM_NIC_FRAME_MAX 1514u
#define SIM_NIC_RETAIN 65536u
#define SIM_NIC_RANDOM 0x1u
#define SIM_NIC_MAGIC "SIMNIC01"
struct sim_nic_hdr {
    char magic[8];
    uint64_t next_seq;
    uint64_t state;
    uint64_t served;
};
struct sim_nic_slot {
    uint64_t seq, arg;
    uint8_t client_mac[6];
    uint16_t client_port;
    uint8_t client_ip[4];
};

struct sim_params {
    const char *name;
    const char *rundir;
    uint64_t mem_bytes;
    unsigned nr_vcpus;
    unsigned workload;
    uint64_t rate;        /* touches/s per vCPU, 0 = unlimited */
    bool rate_set;        /* --rate given: overrides the workload's */
    uint64_t hot_set;     /* pages */
    bool hot_set_set;
    uint64_t seed;
    bool paused;
    bool incoming;        /* a secondary being built: zero, paused, no context */
    bool daemon;
    const char *disk_uri; /* --disk: an NBD URI (libnbd), or NULL for none */
    uint64_t disk_rate;   /* block writes/s */
    uint8_t uuid[16];     /* --uuid, else random */
    bool uuid_set;
    uint32_t jitter_ppm;  /* --jitter */
    bool nic;             /* --nic */
    uint32_t nic_random_ppm; /* --nic-random */
};

struct guest;

struct vcpu {
    struct guest *g;
    unsigned idx;
    pthread_t tid;
    bool started;
    _Atomic uint64_t counter; /* relaxed: read by INFO while running */
    uint64_t prng;
    uint64_t regs[SIM_NR_REGS];
    uint64_t noise;          /* --jitter's own PRNG: not in the context, so it differs */
};

struct guest {
    char name[SIM_NAME_MAX + 1];
    uint8_t uuid[16];
    uint64_t nr_pages;
    uint64_t mem_bytes;
    int memfd;
    uint8_t *mem;

    /* the workload, resolved */
    unsigned workload;
    uint64_t rate, hot_set, seed;
    uint32_t jitter_ppm;

    unsigned nr_vcpus;
    struct vcpu *vcpus;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* to vCPUs: unpause, stop, or a pause to see */
    pthread_cond_t parked_cv; /* to the pauser: one more vCPU parked */
    unsigned parked;
    atomic_bool pause_req;
    atomic_bool stop;
    bool incoming;
    bool ctx_valid;
    bool ckpt_stop;          /* paused for a checkpoint, not yet unpaused */
    bool fenced;             /* paused by a fence: only its unpause runs it */

    /* log-dirty */
    _Atomic unsigned long *dirty;
    size_t dirty_words;
    atomic_bool ld_on;
    _Atomic int64_t ld_count; /* may dip below 0 for an instant: see logdirty.c */

    /* the device */
    _Atomic uint64_t ticks;

    /* the disk (disk.c): its writer parks with the vCPUs */
    struct nbd_handle *disk;
    uint64_t disk_rate;
    uint64_t disk_pfn;       /* first page of its record in guest memory */
    pthread_t disk_tid;
    bool disk_started;
    unsigned nr_parkers;     /* vCPUs, the disk writer and the NIC if any */

    /* the NIC (nic.c): its thread parks with the vCPUs */
    uint64_t nic_pfn;        /* its record's page in guest memory */
    uint32_t nic_random_ppm;
    char nic_path[108];
    int nic_listen, nic_peer, nic_kick;
    struct sim_nic_slot *nic_ring; /* the requests the wire brought, by seq */
    uint8_t nic_in[2 * (4 + SIM_NIC_FRAME_MAX)];
    size_t nic_in_len;
    uint8_t *nic_out;        /* replies not yet written */
    size_t nic_out_len;
    uint64_t nic_noise;      /* the nondeterministic replies' dice: this process's */
    _Atomic uint64_t nic_received, nic_replies, nic_randoms, nic_bad, nic_peers;
    pthread_t nic_tid;
    bool nic_started;
};


/*
 * The disk's record, in guest memory (so that a checkpoint carries it):
 * the last SIM_DISK_PAGES pages hold this header, then le64 seq[block],
 * the sequence number of the last write to each block (0: never written).
 * Block b written as write number seq holds sim_disk_block_head {magic,
 * b, seq}, then bytes (seq * 31 + b) & 0xff. The writer parks only
 * before a write, never between a write and its record, so a paused
 * guest's record and its disk agree: what disk-verify checks.
 */
#define SIM_DISK_BLOCK 4096u
#define SIM_DISK_BLOCKS_MAX 4096u
#define SIM_DISK_PAGES (1 + SIM_DISK_BLOCKS_MAX * 8 / SIM_PAGE_SIZE)
#define SIM_DISK_MAGIC "SIMDISK1"
#define SIM_DISK_BLOCK_MAGIC "SIMBLK01"
struct sim_disk_hdr {
    char magic[8];
    uint64_t nr_blocks;
    uint64_t seq;      /* of the last write */
    uint64_t prng;
    uint64_t errors;   /* writes the disk refused */
};
struct sim_disk_block_head {
    char magic[8];
    uint64_t block;
    uint64_t seq;
};

/* guest.c */
int guest_new(const struct sim_params *p, struct guest **out);
/* Stops and joins the vCPUs, frees everything. */
void guest_free(struct guest *g);
/* For a thread that parks with the vCPUs: park until unpaused (false:
 * told to stop), and sleep until due unless a pause or stop comes. */
bool guest_park(struct guest *g);
void guest_sleep_until(struct guest *g, uint64_t due);
/* Returns once every vCPU is parked. Idempotent. */
void guest_pause(struct guest *g);
/* -EINVAL (with why) when the context was never set on an incoming guest. */
int guest_unpause(struct guest *g, char *why, size_t whylen);
bool guest_paused(struct guest *g);

/* workload.c */
/* Fill g->workload/rate/hot_set from p and the workload table; -EINVAL with
 * why if --hot-set exceeds the guest. */
int workload_resolve(struct guest *g, const struct sim_params *p, char *why, size_t whylen);
int workload_parse(const char *s, unsigned *out);
uint64_t sim_prng_next(uint64_t *state);
void vcpu_seed(struct vcpu *v, uint64_t seed);
/* One touch: write 16-64 bytes into a page, update the registers, mark dirty. */
void workload_touch(struct guest *g, struct vcpu *v);

/* logdirty.c */
int logdirty_init(struct guest *g);
void logdirty_mark(struct guest *g, uint64_t pfn);
int logdirty_enable(struct guest *g);
void logdirty_off(struct guest *g);
/* PEEK (clean=false) or CLEAN; copies the log into dst (dirty_words words)
 * when dst is not NULL and returns the number of bits copied or cleared.
 * PEEK without dst is the cheap estimate: the counter, no scan. */
uint64_t logdirty_copy(struct guest *g, unsigned long *dst, bool clean);
uint64_t logdirty_count(struct guest *g);

/* state.c: every call here wants the guest paused, except info */
size_t guest_context_size(const struct guest *g);
int guest_context_get(struct guest *g, uint8_t *buf, size_t cap, char *why, size_t whylen);
int guest_context_set(struct guest *g, const uint8_t *buf, size_t len, char *why, size_t whylen);
size_t guest_devstate_get(struct guest *g, uint8_t *buf, size_t cap);
int guest_devstate_set(struct guest *g, const uint8_t *buf, size_t len, char *why, size_t whylen);
void guest_info(struct guest *g, struct sim_info *info);

/* disk.c: --disk. open: connect (and, unless incoming, lay out the record
 * in memory, clamping the workload's hot set below it); start: the writer
 * thread; verify (paused): the record against the disk, 0 or the number of
 * mismatches, with a line in why. */
int disk_open(struct guest *g, const struct sim_params *p, char *why, size_t whylen);
int disk_start(struct guest *g);
void disk_close(struct guest *g);
int64_t disk_verify(struct guest *g, char *out, size_t outlen);

/* nic.c: --nic. open: listen (and, unless incoming, lay out the record in
 * memory, below the disk's, clamping the workload's hot set below it);
 * start: the NIC's thread; kick: wake it for a pause or a stop. */
int nic_open(struct guest *g, const struct sim_params *p, char *why, size_t whylen);
int nic_start(struct guest *g);
void nic_kick(struct guest *g);
void nic_close(struct guest *g);
void nic_info(struct guest *g, struct sim_info *info);

/* hash.c */
int guest_hash(struct guest *g, uint8_t out[32], char *why, size_t whylen);

#endif
