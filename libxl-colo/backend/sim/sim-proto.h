/*
 * sim-proto.h - the control protocol of a simulated guest (colo-simguest),
 * shared by the guest, its client subcommands and the sim backend.
 *
 * $run_dir/sim/NAME.sock is a unix SOCK_SEQPACKET socket (dir 0700, socket
 * 0600). A client sends one struct sim_req and reads one struct sim_rsp, in
 * turn; both are sent as their fixed header plus `len` bytes of data, and a
 * receiver refuses any message whose size is not exactly that, whose len is
 * above SIM_DATA_MAX, or that was truncated. status is 0 or -errno; on an
 * error, data holds a one-line message (not NUL-terminated on the wire).
 *
 *   op               request data      response
 *   INFO             -                 struct sim_info
 *   PAUSE, UNPAUSE   flags (PAUSE)     - (PAUSE returns once every vCPU is parked)
 *   DESTROY          -                 - (socket and pidfile are gone; then it exits)
 *   GET_MEMFD        -                 val = nr_pages, fd: the guest's memory
 *   GET_BITMAP_FD    -                 val = bytes, fd: this connection's
 *                                      transfer bitmap (unsigned long words)
 *   LOGDIRTY_ENABLE  -                 - (-EINVAL if already enabled, as Xen)
 *   LOGDIRTY_OFF     -                 -
 *   LOGDIRTY_PEEK    flags             val = dirty count; with SIM_LD_F_BITMAP
 *   LOGDIRTY_CLEAN   flags             the log is copied into the transfer bitmap
 *   CONTEXT_GET      -                 the context blob (below)
 *   CONTEXT_SET      the context blob  - (guest paused)
 *   DEVSTATE_SAVE    -                 the devstate blob (below)
 *   DEVSTATE_LOAD    the devstate blob - (guest paused)
 *   HASH             -                 32-byte digest (digest.h) of memory +
 *                                      context; pauses and resumes if running
 *   DISK_VERIFY      -                 val = mismatches between the disk's
 *                                      record in memory and the disk, data =
 *                                      a line saying so; pauses and resumes
 *                                      if running (colo-simguest disk.c)
 *
 * Memory and bitmap memfds are sealed against shrinking, so a mapping of
 * their whole size can never fault with SIGBUS.
 *
 * The code both ends share (framing, fd passing, one round trip) is in
 * sim-proto.c, which colo-simguest builds into itself as it does digest.c.
 */
#ifndef COLO_SIM_PROTO_H
#define COLO_SIM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_PROTO_MAGIC 0x314d4953u /* "SIM1" */
#define SIM_DATA_MAX (16u * 1024)
#define SIM_MSG_MAX 160             /* error message bytes */
#define SIM_NAME_MAX 63             /* guest name characters */
#define SIM_MAX_VCPUS 64
#define SIM_MEM_MIN (16ull << 20)
#define SIM_MEM_MAX (16ull << 30)
#define SIM_MAX_CLIENTS 16
#define SIM_TIMEOUT_MS 10000        /* any op but HASH */

enum sim_op {
    SIM_OP_INFO = 1,
    SIM_OP_PAUSE,
    SIM_OP_UNPAUSE,
    SIM_OP_DESTROY,
    SIM_OP_GET_MEMFD,
    SIM_OP_GET_BITMAP_FD,
    SIM_OP_LOGDIRTY_ENABLE,
    SIM_OP_LOGDIRTY_OFF,
    SIM_OP_LOGDIRTY_PEEK,
    SIM_OP_LOGDIRTY_CLEAN,
    SIM_OP_CONTEXT_GET,
    SIM_OP_CONTEXT_SET,
    SIM_OP_DEVSTATE_SAVE,
    SIM_OP_DEVSTATE_LOAD,
    SIM_OP_HASH,
    SIM_OP_DISK_VERIFY,
    SIM_OP_MAX_,
};

/* LOGDIRTY_PEEK/CLEAN flags */
#define SIM_LD_F_BITMAP 0x1u /* copy the log into the transfer bitmap */
/* PAUSE flags */
#define SIM_PAUSE_F_CHECKPOINT 0x1u /* a toolstack's checkpoint stop: recorded
                                     * (SIM_INFO_CKPT_STOP) until UNPAUSE, so a
                                     * toolstack killed meanwhile is seen */
#define SIM_PAUSE_F_FENCE 0x2u      /* the fence watchdog's stop (engine/fence.h):
                                     * an UNPAUSE without SIM_UNPAUSE_F_FENCE
                                     * leaves the guest stopped */
/* UNPAUSE flags */
#define SIM_UNPAUSE_F_FENCE 0x2u    /* lift the fence, and run */

struct sim_req {
    uint32_t magic;
    uint16_t op;
    uint16_t flags;
    uint32_t seq;  /* echoed in the response */
    uint32_t len;  /* bytes of data that follow */
    uint8_t data[SIM_DATA_MAX];
};
#define SIM_REQ_HDR offsetof(struct sim_req, data)

struct sim_rsp {
    uint32_t magic;
    uint16_t op;
    uint16_t reserved;
    uint32_t seq;
    int32_t status; /* 0 or -errno */
    uint64_t val;
    uint32_t len;
    uint32_t reserved2;
    uint8_t data[SIM_DATA_MAX];
};
#define SIM_RSP_HDR offsetof(struct sim_rsp, data)

enum sim_workload {
    SIM_WL_IDLE = 0,
    SIM_WL_WEB,
    SIM_WL_KBUILD,
    SIM_WL_MEMSTRESS,
    SIM_WL_CUSTOM,
    SIM_WL_MAX_,
};

const char *sim_workload_name(unsigned w);

/* sim_info.flags */
#define SIM_INFO_PAUSED 0x1u
#define SIM_INFO_LOGDIRTY 0x2u
#define SIM_INFO_CTX_VALID 0x4u
#define SIM_INFO_INCOMING 0x8u
#define SIM_INFO_CKPT_STOP 0x10u
#define SIM_INFO_FENCED 0x20u
#define SIM_INFO_NIC 0x40u

struct sim_info {
    char name[SIM_NAME_MAX + 1];
    uint32_t pid;
    uint32_t nr_vcpus;
    uint64_t nr_pages;
    uint64_t mem_bytes;
    uint32_t workload;
    uint32_t flags;
    uint64_t seed;
    uint64_t rate;        /* touches per second per vCPU; 0 = unlimited */
    uint64_t hot_set;     /* pages */
    uint64_t dirty_count; /* the log's count (0 when log-dirty is off) */
    uint64_t ticks;       /* the device's tick counter */
    uint64_t counters[SIM_MAX_VCPUS];
    uint8_t uuid[16];     /* the guest's (--uuid), kept across checkpoints */
    uint32_t jitter_ppm;  /* touches in a million that land on a random page */
    uint32_t nic_random_ppm; /* SIM_INFO_NIC: replies in a million that are random */
    /* SIM_INFO_NIC: this process's NIC counters, and its record in memory */
    uint64_t nic_received, nic_replies, nic_randoms;
    uint64_t nic_next_seq, nic_state;
    uint64_t nic_bad, nic_peers;     /* frames not a request; wire peers taken */
};

/* The context blob, little-endian: header, then nr_vcpus records. */
#define SIM_CTX_MAGIC "SIMCTX\r\n"
#define SIM_CTX_VERSION 1
#define SIM_NR_REGS 16
struct sim_ctx_hdr {
    char magic[8];
    uint32_t version;
    uint32_t nr_vcpus;
};
struct sim_ctx_vcpu {
    uint64_t counter; /* touches done */
    uint64_t prng;    /* splitmix64 state */
    uint64_t regs[SIM_NR_REGS];
};
#define SIM_CTX_SIZE(n) (sizeof(struct sim_ctx_hdr) + (size_t)(n) * sizeof(struct sim_ctx_vcpu))

/* The devstate blob, little-endian. */
#define SIM_DEV_MAGIC "SIMDEV\r\n"
struct sim_devstate {
    char magic[8];
    uint64_t ticks;
};

/* The sim backend's cfg->extra (colo_domain_config), little-endian. */
#define SIM_CFG_MAGIC "SIMCFG\r\n"
#define SIM_CFG_VERSION 2
#define SIM_CFG_NIC 0x1u
struct sim_config {
    char magic[8];
    uint32_t version;
    uint32_t workload;
    uint64_t seed;
    uint64_t rate;
    uint64_t hot_set;
    uint64_t mem_bytes;
    uint32_t nr_vcpus;
    uint32_t jitter_ppm;
    uint8_t uuid[16];
    uint32_t flags;             /* SIM_CFG_NIC */
    uint32_t nic_random_ppm;
};

_Static_assert(SIM_CTX_SIZE(SIM_MAX_VCPUS) <= SIM_DATA_MAX, "context fits a message");
_Static_assert(sizeof(struct sim_info) <= SIM_DATA_MAX, "info fits a message");

/* A name is 1..SIM_NAME_MAX of [A-Za-z0-9_.-], not starting with '.'. */
int sim_name_valid(const char *s);

/* Send one message, with fd attached when fd >= 0. 0 or -errno. */
int sim_send(int sock, const void *msg, size_t len, int fd);

/* Receive one message of at most cap bytes. Returns its length (0: the peer
 * closed) or -errno. An attached fd goes to *fd (else -1); if fd is NULL, or
 * more than one fd came, or the message was truncated, every received fd is
 * closed and the message refused. */
ssize_t sim_recv(int sock, void *buf, size_t cap, int *fd);

/* A pidfd for the process listening on the other end of sock, or -1. A
 * pidfd, unlike the pid, cannot come to name another process. */
int sim_peer_pidfd(int sock);

/* Has the process behind pidfd exited, within timeout_ms? The socket's EOF
 * is not enough: a process goes on (atexit, sanitizer reports) after it
 * closes its sockets. */
bool sim_pidfd_exited(int pidfd, int timeout_ms);

/* One round trip. Fills magic and seq (from *seq), sends, and waits up to
 * timeout_ms for the matching response, which it checks (size, magic, op,
 * status range); stale responses to earlier timed-out requests are dropped.
 * Returns rsp->status (0 or -errno from the guest) or a transport error:
 * -ESRCH when the guest is gone, -ETIMEDOUT, -EPROTO. */
int sim_call(int sock, uint32_t *seq, struct sim_req *req,
             struct sim_rsp *rsp, int *fd, int timeout_ms);

/* HASH reads every populated page: 4 ms per MiB on top of the usual. */
int sim_hash_timeout_ms(uint64_t mem_bytes);

/* The error message of a failed response, NUL-terminated into buf. */
const char *sim_rsp_msg(const struct sim_rsp *rsp, char *buf, size_t cap);

#endif
