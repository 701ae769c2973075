/*
 * libxlcolo.h - non-stop service (COLO and Remus) for Xen HVM/PVH guests.
 *
 * The API for libxl callers. Its shape follows libxl: a context carrying a
 * xentoollog logger, every call taking the context first, and every call
 * returning 0 (or a count) on success and a negative errno on failure. The
 * library never prints: it logs through the caller's logger and reports
 * state changes through an event callback.
 *
 * Threading: one protection (start or receive) runs per context, in the
 * calling thread, until it ends. libxlcolo_request_checkpoint() may be called
 * from any thread while it runs, and libxlcolo_request_stop() from any
 * thread or signal handler. The control-client calls (status,
 * checkpoint, failover, stop) talk to a protection in another process
 * through its per-domain control socket.
 */
#ifndef LIBXLCOLO_H
#define LIBXLCOLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xentoollog.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBXLCOLO_VERSION 1

/* Feature macros, in libxl's LIBXL_HAVE_ manner. */
#define LIBXLCOLO_HAVE_REMUS 1
#define LIBXLCOLO_HAVE_COLO 1
#define LIBXLCOLO_HAVE_EVENT_CALLBACK 1
#define LIBXLCOLO_HAVE_REQUEST_STOP 1
/* libxlcolo_options.simguest and .xen_stop; libxlcolo_default_backend(). */
#define LIBXLCOLO_HAVE_BACKEND_OPTIONS 1
/* libxlcolo_options.disks: each checkpoint checkpoints the guest's disks
 * through QEMU's block replication, and failover switches them. */
#define LIBXLCOLO_HAVE_BLOCK_REPLICATION 1
/* libxlcolo_options.arbiter: ownership through a third party (etcd), so
 * that a partition or a stalled primary never leaves two live copies. */
#define LIBXLCOLO_HAVE_ARBITER 1

/* libxlcolo_options.proxy: the NIC comparison in the protection's own
 * process (below). */
#define LIBXLCOLO_HAVE_PROXY 1
#define LIBXLCOLO_HAVE_PROXY_DATAPATH 1

typedef struct libxlcolo_ctx libxlcolo_ctx;

typedef enum {
    LIBXLCOLO_MODE_REMUS = 0, /* periodic checkpoints; output held until acked */
    LIBXLCOLO_MODE_COLO = 1,  /* checkpoint on request, periodic fallback */
} libxlcolo_mode;

/* QEMU COLO's failover states (migration/colo.c), plus NONE. */
typedef enum {
    LIBXLCOLO_FAILOVER_NONE = 0,
    LIBXLCOLO_FAILOVER_REQUIRE,
    LIBXLCOLO_FAILOVER_ACTIVE,
    LIBXLCOLO_FAILOVER_COMPLETED,
    LIBXLCOLO_FAILOVER_RELAUNCH, /* requested while a checkpoint was loading */
} libxlcolo_failover_state;

typedef enum {
    LIBXLCOLO_ROLE_PRIMARY = 0,
    LIBXLCOLO_ROLE_SECONDARY,
} libxlcolo_role;

/* Where a protection is in its life. */
typedef enum {
    LIBXLCOLO_STATE_CONNECTING = 0,
    LIBXLCOLO_STATE_PRECOPY,      /* initial live sync */
    LIBXLCOLO_STATE_PROTECTED,    /* checkpointing */
    LIBXLCOLO_STATE_UNPROTECTED,  /* primary going on alone: secondary lost */
    LIBXLCOLO_STATE_FAILED_OVER,  /* secondary now runs the guest */
    LIBXLCOLO_STATE_STOPPED,
    LIBXLCOLO_STATE_FENCED,       /* primary: guest paused, the lease not renewed */
    LIBXLCOLO_STATE_AWAITING_OWNERSHIP, /* secondary: primary lost, the arbiter not yet won */
} libxlcolo_state;

typedef enum {
    LIBXLCOLO_EVENT_STATE = 0,     /* .state changed */
    LIBXLCOLO_EVENT_PRECOPY_ROUND, /* .round, .pages, .estimate */
    LIBXLCOLO_EVENT_CHECKPOINT,    /* epoch committed (primary: acked; secondary: applied) */
    LIBXLCOLO_EVENT_FAILOVER,      /* .failover_from -> .failover_to */
    LIBXLCOLO_EVENT_PEER_LOST,     /* .message says why */
    LIBXLCOLO_EVENT_DISK_READY,    /* libxlcolo_disk_serve: .message, the guest's NBD URI */
} libxlcolo_event_type;

#define LIBXLCOLO_DIGEST_LEN 32

typedef struct {
    libxlcolo_event_type type;
    libxlcolo_role role;
    libxlcolo_state state;
    uint64_t epoch;       /* checkpoint number; 0 is the end of the initial sync */
    uint64_t pages;       /* pages in this checkpoint or pre-copy round */
    uint64_t bytes;       /* bytes on the wire for it */
    uint64_t pause_ns;    /* how long the guest was stopped */
    uint64_t verify_ns;   /* of pause_ns, the time --verify spent hashing */
    /* Of pause_ns, on the primary: stopping the guest (a suspend waits for
     * the guest), taking the dirty log and copying its pages, and reading
     * the context and device state. The rest is the restart. */
    uint64_t stop_ns, copy_ns, state_ns;
    uint64_t total_ns;    /* request to acknowledgement */
    uint64_t restored;    /* secondary, COLO: pages its running guest wrote, put back */
    unsigned round;       /* pre-copy round */
    uint64_t estimate;    /* pre-copy: the cheap pending estimate */
    libxlcolo_failover_state failover_from, failover_to;
    bool has_digest;      /* set when verification was asked for */
    uint8_t digest[LIBXLCOLO_DIGEST_LEN]; /* this side's guest digest at epoch */
    bool has_peer_digest; /* secondary: the primary's digest for epoch */
    uint8_t peer_digest[LIBXLCOLO_DIGEST_LEN];
    const char *message;  /* valid during the callback only */
} libxlcolo_event;

typedef void libxlcolo_event_cb(void *opaque, const libxlcolo_event *ev);

/* How the xen backend stops a guest at a checkpoint. */
typedef enum {
    LIBXLCOLO_XEN_STOP_AUTO = 0, /* suspend a guest with PV drivers, pause the rest */
    LIBXLCOLO_XEN_STOP_PAUSE,    /* xc_domain_pause, always */
    LIBXLCOLO_XEN_STOP_SUSPEND,  /* cooperative suspend, always */
} libxlcolo_xen_stop;

/*
 * A replicated disk. Its replication runs in a QEMU that holds its graph:
 * a sidecar (one qemu-system-x86_64 -M none per disk, its graph named as
 * block/sidecar.h names it) or a device model built with replication, set
 * running before the protection starts (the secondary first). The
 * protection checkpoints it inside every checkpoint, and its failover (or,
 * on the primary, a lost secondary) fails it over; a clean stop ends the
 * primary's replication.
 */
#define LIBXLCOLO_DISKS_MAX 16
#define LIBXLCOLO_DISK_NAME_MAX 31  /* characters of [A-Za-z0-9_.-] */
typedef struct {
    const char *name;      /* "xvdb", the same on both sides */
    const char *qmp;       /* the QMP socket of the QEMU holding its graph; NULL:
                            * RUN_DIR/disk/NAME/qmp.sock, libxlcolo_disk_serve's */
    const char *guest_uri; /* the secondary's guest's disk on its host: sim, the NBD
                            * URI of its --disk; xen, the target (/dev/nbd1) that
                            * the vdev NAME of the secondary domain gets */
} libxlcolo_disk;

/*
 * LIBXLCOLO_HAVE_PROXY: the primary's NIC service, run in a thread of the
 * protection (colo-proxy(8) is the same service as a daemon). In COLO
 * mode it compares the two guests' output; in Remus mode it is the output
 * buffer: every frame the guest sends on primary_in during epoch N is
 * held until the secondary has acknowledged checkpoint N, then released
 * on outdev in order (the epoch ends while the guest is stopped for its
 * checkpoint; secondary_in must be NULL), and a buffer past half of
 * max_mem asks for a checkpoint. For COLO: It listens on colo-compare's Unix sockets: the primary's and
 * the secondary's frames come in on primary_in and secondary_in (be32
 * length, with vnet_hdr a be32 vnet header length, then the frame), and
 * the primary's go out on outdev once the secondary's match. A divergence
 * asks this protection for a checkpoint (libxlcolo_request_checkpoint),
 * once per episode; each committed checkpoint releases what was held and
 * resets the secondary's side. When the secondary is lost and the primary
 * goes on alone, the primary's frames pass through uncompared. A socket
 * that cannot be set up fails the start; the service's thread failing
 * ends the protection as a disk that cannot be checkpointed does (the
 * secondary is told to stop). Its counters are in libxlcolo_status.proxy.
 */
typedef struct {
    const char *primary_in;     /* required */
    const char *secondary_in;   /* COLO: required; Remus: NULL */
    const char *outdev;         /* required */
    const char *status;         /* optional: one JSON line of counters per client */
    bool vnet_hdr;
    uint32_t compare_timeout_ms; /* a primary frame unmatched this long diverges; 0: 3000 */
    uint32_t max_flows;         /* 0: 65536 */
    uint64_t max_mem;           /* bytes held in all; 0: 128 MiB */
    uint32_t busy_poll_us;      /* after work, poll this long before sleeping; 0: off, 10000 at most */
    /* LIBXLCOLO_HAVE_PROXY_DATAPATH: the datapath in the protection
     * (colo-datapath's Remus role, in a thread): the client's frames
     * from client_if to the guest's interface, the guest's to primary_in,
     * what outdev releases to client_if. Remus only. NULL: the sockets
     * are fed from outside. With it, primary_in and outdev may be NULL:
     * RUN_DIR/nic/DOMAIN.pin.sock and DOMAIN.out.sock. */
    const char *client_if;
    const char *guest_if;       /* NULL: the backend's name for the domain's first vif
                                 * (xen: vifDOMID.0; sim has none) */
} libxlcolo_proxy;

/* Everything a protection can be told. Fill with libxlcolo_options_init().
 * The library reads no environment: what the strings point to is the
 * caller's, and must outlive the protection. */
typedef struct {
    const char *backend;        /* "sim", "xen" or NULL: libxlcolo_default_backend() */
    const char *run_dir;        /* control and sim sockets; NULL: libxlcolo_default_run_dir() */
    const char *key_file;       /* pre-shared key; required unless insecure */
    bool insecure;              /* run without authentication (warned) */
    libxlcolo_mode mode;
    uint32_t interval_ms;       /* Remus period; COLO periodic fallback */
    uint64_t precopy_threshold; /* pages: stop-and-copy below this */
    unsigned precopy_max_rounds;
    uint64_t dirty_bound;       /* checkpoint early above this many dirty pages; 0 = off */
    uint32_t heartbeat_ms;      /* heartbeat period on the link */
    uint32_t timeout_ms;        /* peer silent this long = lost */
    bool verify;                /* digest the guest at each checkpoint (tests, demo) */
    uint64_t max_checkpoints;   /* stop after this many; 0 = run until told */
    /* LIBXLCOLO_HAVE_BACKEND_OPTIONS (added last, as libxl adds fields) */
    const char *simguest;       /* sim: the colo-simguest that builds a secondary's
                                 * guest; NULL: colo-simguest on PATH */
    libxlcolo_xen_stop xen_stop; /* xen: how a checkpoint stops the guest */
    /* LIBXLCOLO_HAVE_BLOCK_REPLICATION */
    const libxlcolo_disk *disks; /* nr_disks of them, at most LIBXLCOLO_DISKS_MAX */
    unsigned nr_disks;
    /* LIBXLCOLO_HAVE_ARBITER: who may run the guest. NULL: nobody decides,
     * and a partition or a stalled primary can leave two live copies. */
    const char *arbiter;        /* "etcd://HOST:PORT[,HOST:PORT...]" */
    const char *arbiter_prefix; /* NULL: "/xen-colo/"; the key is PREFIX UUID/ */
    uint32_t lease_ttl_ms;      /* 5000 by options_init (0: the same); etcd grants whole seconds, at least 2 */
    const char *arbiter_ca;     /* TLS (https) when set: the CA of etcd's certificate */
    const char *arbiter_cert;   /* TLS client certificate and its key, or NULL */
    const char *arbiter_key;
    const char *host_name;      /* this host in the arbiter; NULL: gethostname() */
    /* LIBXLCOLO_HAVE_PROXY: the primary only; NULL: none */
    const libxlcolo_proxy *proxy;
} libxlcolo_options;

void libxlcolo_options_init(libxlcolo_options *opt);
/* LIBXLCOLO_HAVE_ARBITER: check opt's arbiter, prefix, TTL, host name and
 * TLS files before anything connects: 0 (also for none), or -EINVAL with
 * one line in err naming the problem. */
int libxlcolo_arbiter_check(const libxlcolo_options *opt, char *err, size_t errsize);

#define LIBXLCOLO_PROXY_STATUS_MAX 4096

/* A replicated disk in a status: its replication as QEMU reports it. */
typedef struct {
    char name[32];
    bool error;           /* query-xen-replication-status's, or its QEMU unreachable */
    char desc[96];        /* QEMU's description of the error, else "" */
} libxlcolo_disk_status;

/* A snapshot of a running protection, as `xl-colo status` shows it. */
typedef struct {
    char domain[64];
    libxlcolo_role role;
    libxlcolo_state state;
    libxlcolo_mode mode;
    libxlcolo_failover_state failover;
    char backend[16];
    uint64_t epoch;           /* last committed checkpoint */
    uint64_t checkpoints;
    uint64_t last_pause_ns;
    uint64_t last_pages;
    char peer[80];
    int pid;
    /* LIBXLCOLO_HAVE_BLOCK_REPLICATION */
    unsigned nr_disks;
    libxlcolo_disk_status disks[LIBXLCOLO_DISKS_MAX];
    /* LIBXLCOLO_HAVE_ARBITER: has_arbiter, then the owner as this side
     * last saw it, its generation, and this side's lease time left (the
     * primary's; 0 when it holds none). */
    bool has_arbiter;
    char owner[64];
    uint64_t generation;
    uint64_t lease_left_ms;
    /* LIBXLCOLO_HAVE_PROXY: the NIC service's counters as it says them
     * when asked (or, if it does not answer within 200 ms, as it last
     * did), one JSON object as colo-proxy --status gives it
     * (colo-proxy(8)), or "". */
    char proxy[LIBXLCOLO_PROXY_STATUS_MAX];
} libxlcolo_status;

/* LIBXLCOLO_HAVE_DISK_SERVE: the replication sidecar of one disk on this
 * host, launched and supervised by libxlcolo_disk_serve(): a
 * qemu-system-x86_64 -M none over the local raw image, its files in
 * RUN_DIR/disk/NAME (mode 0700): qmp.sock, which `--disk NAME` of start
 * and receive finds there, and nbd.sock, whose export "guest" is the
 * guest's disk. The secondary's replication is started and its export
 * offered, on LISTEN, to the primary's sidecar over the authenticated
 * record stream (the same key and handshake as the memory link; a peer
 * without the key reaches nothing); the primary's replication is started
 * through PEER, the secondary's disk_serve, which must run first. */
#define LIBXLCOLO_HAVE_DISK_SERVE 1
typedef struct {
    libxlcolo_role role;
    const char *name;          /* the disk's name, as start and receive --disk NAME */
    const char *image;         /* the local raw image: the primary's disk, the secondary's copy */
    const char *run_dir;       /* NULL: libxlcolo_default_run_dir() */
    const char *listen_addr;   /* secondary: where the primary's sidecar connects; NULL: any */
    uint16_t listen_port;      /* secondary: required */
    const char *peer_host;     /* primary: the secondary's disk_serve */
    uint16_t peer_port;
    const char *key_file;      /* the protection's key; required unless insecure */
    bool insecure;
    const char *qemu;          /* NULL: /usr/bin/qemu-system-x86_64 */
} libxlcolo_disk_serve_options;

#define LIBXLCOLO_DISK_DIR "disk" /* RUN_DIR/disk/NAME */

/* Allocate a context. version must be LIBXLCOLO_VERSION; flags must be 0.
 * lg is borrowed and must outlive the context. */
int libxlcolo_ctx_alloc(libxlcolo_ctx **pctx, int version, unsigned flags,
                        xentoollog_logger *lg);
void libxlcolo_ctx_free(libxlcolo_ctx *ctx);

/* cb is called from the thread running the protection. */
void libxlcolo_set_event_callback(libxlcolo_ctx *ctx, libxlcolo_event_cb *cb,
                                  void *opaque);

/* Protect DOMAIN (name or id), replicating to HOST:PORT. Runs until stopped,
 * until max_checkpoints, or until the guest dies. Returns 0 on a clean stop. */
int libxlcolo_start(libxlcolo_ctx *ctx, const char *domain, const char *host,
                    uint16_t port, const libxlcolo_options *opt);

/* Run the secondary side: accept one primary on ADDR:PORT, build the
 * secondary domain and apply checkpoints until failover or stop. Returns 0
 * after a failover or a clean stop by the primary. */
int libxlcolo_receive(libxlcolo_ctx *ctx, const char *addr, uint16_t port,
                      const libxlcolo_options *opt);

/* Serve one disk's replication sidecar (above) until libxlcolo_request_stop()
 * (0) or a failure: its QEMU dying is one line and -ESRCH; the sidecar
 * never outlives the call, nor a SIGKILL of its caller. A
 * LIBXLCOLO_EVENT_DISK_READY event says when the sidecar serves (the
 * protection may start). Runs in the context as a protection does: one
 * at a time. */
int libxlcolo_disk_serve(libxlcolo_ctx *ctx, const libxlcolo_disk_serve_options *o);

/* Ask the protection running in this context for a checkpoint now. Safe
 * from any thread and from the event callback; the NIC comparison calls it. */
int libxlcolo_request_checkpoint(libxlcolo_ctx *ctx);

/* End the protection running in this context cleanly, as the control
 * socket's stop (libxlcolo_stop, `xl-colo stop`) does: the primary sends
 * STOP to its secondary, turns log-dirty off, leaves its guest running, and
 * libxlcolo_start() returns 0; the secondary destroys its copy of the guest
 * and libxlcolo_receive() returns 0. It only asks: the protection's own
 * thread ends it, at once between checkpoints (a checkpoint under way is
 * finished first). Safe from any thread and async-signal-safe (a lock-free
 * atomic and one write(2) to an eventfd; errno is left as it was), so a
 * SIGINT handler may call it.
 * Returns 0 when the stop was asked (or already had been), -EAGAIN when a
 * protection is starting but not yet up (still connecting: there is
 * nothing to stop cleanly yet, and nothing was asked), -ESRCH when none
 * runs in this context. */
int libxlcolo_request_stop(libxlcolo_ctx *ctx);

/* Control clients: reach the protection of DOMAIN through the control socket
 * in run_dir (NULL: default). */
int libxlcolo_status_get(libxlcolo_ctx *ctx, const char *run_dir,
                         const char *domain, libxlcolo_status *st);
/* Take a checkpoint and wait until it is committed; *epoch gets its number. */
int libxlcolo_checkpoint(libxlcolo_ctx *ctx, const char *run_dir,
                         const char *domain, uint64_t *epoch);
int libxlcolo_failover(libxlcolo_ctx *ctx, const char *run_dir,
                       const char *domain);
int libxlcolo_stop(libxlcolo_ctx *ctx, const char *run_dir,
                   const char *domain);
/* LIBXLCOLO_HAVE_BLOCK_REPLICATION: QMP's xen-set-replication on the disk
 * DISK (NULL: every disk, in order) of the protection of DOMAIN, through
 * the protection, which holds the disk's QMP connection. QEMU's semantics
 * and its errors: failover only with !enable (-EINVAL, refused before any
 * request, in QEMU's words), the role must be the disk's, a replication
 * once stopped does not start again. A disk whose replication an operator
 * stopped is no longer replicated: the protection's next checkpoint fails
 * (the primary goes on alone), and a secondary whose disk was stopped
 * without failover refuses to take over on it. */
int libxlcolo_set_replication(libxlcolo_ctx *ctx, const char *run_dir,
                              const char *domain, const char *disk,
                              bool enable, bool primary, bool failover);

/* The run directory used when none is given: /run/xen-colo. The string is
 * static. */
const char *libxlcolo_default_run_dir(void);

/* The backend used when none is given: "xen" when /dev/xen/privcmd exists,
 * else "sim". The string is static. */
const char *libxlcolo_default_backend(void);

const char *libxlcolo_state_name(libxlcolo_state s);
const char *libxlcolo_failover_name(libxlcolo_failover_state s);
const char *libxlcolo_mode_name(libxlcolo_mode m);
const char *libxlcolo_role_name(libxlcolo_role r);

/* The last error a control client received from the peer, for one clear
 * line on the command line; valid until the next call on ctx. */
const char *libxlcolo_last_error(libxlcolo_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif /* LIBXLCOLO_H */
