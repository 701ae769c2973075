/*
 * backend_sim.c - the "sim" backend: each domain is a colo-simguest process
 * (tools/simguest) reached through $run_dir/sim/NAME.sock (sim-proto.h).
 *
 * domain_open maps the guest's memfd once, whole, twice: a read-only view
 * for PROT_READ maps (a stray write to a primary faults) and a writable one
 * for PROT_WRITE maps; map() is pointer arithmetic and unmap() nothing. The
 * log-dirty bitmap comes back through a shared transfer memfd, never the
 * socket. A guest that dies makes every later op -ESRCH, never a crash:
 * both memfds stay mapped until domain_close.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "backend/sim/backend_sim.h"
#include "colo-internal.h"

#define BITS_PER_LONG (sizeof(unsigned long) * 8)

struct colo_dom {
    char name[SIM_NAME_MAX + 1];
    int sock;
    int memfd;               /* the guest's memory: for SEEK_DATA */
    int pidfd;               /* the guest process, or -1 */
    uint32_t seq;
    atomic_bool gone;        /* the guest died or was destroyed */
    pthread_mutex_t lock;    /* one request at a time on sock */
    struct sim_info info;    /* the last good INFO */
    uint64_t nr_pages;
    size_t mem_len;
    uint8_t *ro, *rw;        /* the whole memory, two views */
    const unsigned long *xfer;
    size_t xfer_len;
    struct sim_req req;
    struct sim_rsp rsp;
};

static pthread_mutex_t *lock_dom(colo_dom *d)
{
    pthread_mutex_lock(&d->lock);
    return &d->lock;
}
static void unlockp(pthread_mutex_t **m) { pthread_mutex_unlock(*m); }
#define LOCKED(d) _cleanup_(unlockp) _unused_ pthread_mutex_t *_locked = lock_dom(d)

#define CALL_QUIET_GONE 0x1u /* -ESRCH is an answer, not a failure: no log */

/* One round trip, with d->lock held. Logs one line on failure: the
 * guest's own message when it sent one. */
static int dom_call(colo_backend *be, colo_dom *d, const char *what, uint16_t op,
                    uint16_t flags, const void *data, size_t len, int *fd, int timeout_ms,
                    unsigned how)
{
    char msg[SIM_MSG_MAX];
    int r;

    if (fd)
        *fd = -1;
    if (d->gone)
        return (how & CALL_QUIET_GONE) ? -ESRCH
            : LOG_ERRNO(be->ctx, -ESRCH, "sim %s: %s: the guest is gone", d->name, what);
    if (len > SIM_DATA_MAX)
        return LOG_ERRNO(be->ctx, -E2BIG, "sim %s: %s: %zu bytes, at most %u",
                         d->name, what, len, SIM_DATA_MAX);
    memset(&d->req, 0, SIM_REQ_HDR);
    d->req.op = op;
    d->req.flags = flags;
    d->req.len = (uint32_t)len;
    if (len)
        memcpy(d->req.data, data, len);
    d->rsp.magic = 0;
    r = sim_call(d->sock, &d->seq, &d->req, &d->rsp, fd, timeout_ms);
    if (r == 0)
        return 0;
    if (r == -ESRCH) {
        d->gone = true;
        return (how & CALL_QUIET_GONE) ? r
            : LOG_ERRNO(be->ctx, r, "sim %s: %s: the guest is gone", d->name, what);
    }
    if (d->rsp.magic == SIM_PROTO_MAGIC && d->rsp.seq == d->req.seq &&
        d->rsp.status == r && d->rsp.len)
        return LOG_ERRNO(be->ctx, r, "sim %s: %s: %s", d->name, what,
                         sim_rsp_msg(&d->rsp, msg, sizeof(msg)));
    return LOG_ERRNO(be->ctx, r, "sim %s: %s failed", d->name, what);
}

/* INFO, checked, into d->info. */
static int dom_info(colo_backend *be, colo_dom *d, unsigned how)
{
    struct sim_info in;
    int r = dom_call(be, d, "info", SIM_OP_INFO, 0, NULL, 0, NULL, SIM_TIMEOUT_MS, how);

    if (r < 0)
        return r;
    if (d->rsp.len != sizeof(in))
        return LOG_ERRNO(be->ctx, -EPROTO, "sim %s: info: %u bytes, expected %zu",
                         d->name, d->rsp.len, sizeof(in));
    memcpy(&in, d->rsp.data, sizeof(in));
    in.name[SIM_NAME_MAX] = '\0';
    if (in.nr_vcpus < 1 || in.nr_vcpus > SIM_MAX_VCPUS ||
        in.mem_bytes < SIM_MEM_MIN || in.mem_bytes > SIM_MEM_MAX ||
        in.nr_pages != in.mem_bytes / COLO_PAGE_SIZE || in.workload >= SIM_WL_MAX_ ||
        (d->nr_pages && in.nr_pages != d->nr_pages))
        return LOG_ERRNO(be->ctx, -EPROTO, "sim %s: info: inconsistent reply "
                         "(%u vCPUs, %" PRIu64 " pages)", d->name, in.nr_vcpus, in.nr_pages);
    d->info = in;
    return 0;
}

static void dom_free(colo_dom *d)
{
    if (!d)
        return;
    if (d->ro)
        munmap(d->ro, d->mem_len);
    if (d->rw)
        munmap(d->rw, d->mem_len);
    if (d->xfer)
        munmap((void *)d->xfer, d->xfer_len);
    closep(&d->sock);
    closep(&d->memfd);
    closep(&d->pidfd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
static void dom_freep(colo_dom **d) { dom_free(*d); }

/* Map a sealed memfd the guest sent: it must be `len` bytes and unable to
 * shrink, or a mapping of it could SIGBUS. */
static int map_memfd(colo_backend *be, colo_dom *d, const char *what, int fd, size_t len,
                     int prot, void **out)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);

    if (fstat(fd, &st) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "sim %s: %s: fstat", d->name, what);
    if ((uint64_t)st.st_size != len || seals < 0 || !(seals & F_SEAL_SHRINK))
        return LOG_ERRNO(be->ctx, -EPROTO, "sim %s: %s: the guest sent a %jd-byte "
                         "unsealed or wrong-sized memfd (expected %zu)", d->name, what,
                         (intmax_t)st.st_size, len);
    void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return LOG_ERRNO(be->ctx, negative_errno(), "sim %s: %s: mmap of %zu bytes",
                         d->name, what, len);
    *out = p;
    return 0;
}

static int dom_connect(colo_backend *be, colo_dom *d)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/%s.sock", be->run_dir,
                         d->name) >= sizeof(sa.sun_path))
        return LOG_ERRNO(be->ctx, -ENAMETOOLONG, "sim %s: open: socket path too long", d->name);
    d->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (d->sock < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "sim %s: open: socket", d->name);
    if (connect(d->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            return LOG_ERRNO(be->ctx, -ESRCH, "sim %s: open: no such guest in %s/sim",
                             d->name, be->run_dir);
        return LOG_ERRNO(be->ctx, negative_errno(), "sim %s: open: connect %s",
                         d->name, sa.sun_path);
    }
    d->pidfd = sim_peer_pidfd(d->sock);
    return 0;
}

static int sim_domain_open(colo_backend *be, const char *name, colo_dom **out, unsigned flags)
{
    _cleanup_(dom_freep) colo_dom *d = NULL;
    _cleanup_close_ int memfd = -1, xfd = -1;
    void *p;
    int r;

    COLO_CHECK_FLAGS(be, flags, 0, "domain_open");
    if (!sim_name_valid(name))
        return LOG_ERRNO(be->ctx, -EINVAL, "sim: '%s' is not a guest name", name);
    d = calloc(1, sizeof(*d));
    if (!d)
        return LOG_ERRNO(be->ctx, -ENOMEM, "sim %s: open: out of memory", name);
    d->sock = d->memfd = d->pidfd = -1;
    pthread_mutex_init(&d->lock, NULL);
    snprintf(d->name, sizeof(d->name), "%s", name);

    LOCKED(d);
    if ((r = dom_connect(be, d)) < 0 || (r = dom_info(be, d, 0)) < 0)
        return r;
    d->nr_pages = d->info.nr_pages;
    d->mem_len = d->info.mem_bytes;

    r = dom_call(be, d, "get memory", SIM_OP_GET_MEMFD, 0, NULL, 0, &memfd, SIM_TIMEOUT_MS, 0);
    if (r < 0)
        return r;
    if (memfd < 0 || d->rsp.val != d->nr_pages)
        return LOG_ERRNO(be->ctx, -EPROTO, "sim %s: get memory: no fd or wrong size", name);
    if ((r = map_memfd(be, d, "map memory", memfd, d->mem_len, PROT_READ, &p)) < 0)
        return r;
    d->ro = p;
    if ((r = map_memfd(be, d, "map memory", memfd, d->mem_len, PROT_READ | PROT_WRITE, &p)) < 0)
        return r;
    d->rw = p;
    d->memfd = TAKE_FD(memfd);

    r = dom_call(be, d, "get bitmap", SIM_OP_GET_BITMAP_FD, 0, NULL, 0, &xfd, SIM_TIMEOUT_MS, 0);
    if (r < 0)
        return r;
    size_t need = DIV_ROUND_UP(d->nr_pages, BITS_PER_LONG) * sizeof(unsigned long);
    if (xfd < 0 || d->rsp.val < need || d->rsp.val > need + COLO_PAGE_SIZE)
        return LOG_ERRNO(be->ctx, -EPROTO, "sim %s: get bitmap: no fd or wrong size", name);
    if ((r = map_memfd(be, d, "map bitmap", xfd, (size_t)d->rsp.val, PROT_READ, &p)) < 0)
        return r;
    d->xfer = p;
    d->xfer_len = (size_t)d->rsp.val;

    *out = TAKE_PTR(d);
    return 0;
}

static void sim_domain_close(colo_backend *be, colo_dom *d)
{
    dom_free(d);
}

/* --- domain_config / domain_create (the rest: backend_sim_spawn.c) --- */

static int sim_domain_config(colo_backend *be, colo_dom *d, struct colo_domain_config *cfg,
                             void **extra_owned, unsigned flags)
{
    struct sim_info in;
    size_t len;
    void *extra;
    int r;

    COLO_CHECK_FLAGS(be, flags, 0, "domain_config");
    if (!cfg || !extra_owned)
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: config: no place for it", d->name);
    {
        LOCKED(d);
        if ((r = dom_info(be, d, 0)) < 0)
            return r;
        in = d->info;
    }
    if ((r = colo_sim_config_encode(be, &in, &extra, &len)) < 0)
        return r;
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "%s", d->name);
    cfg->type = COLO_DOM_PVH;
    cfg->nr_pages = in.nr_pages;
    cfg->mem_bytes = in.mem_bytes;
    cfg->nr_vcpus = in.nr_vcpus;
    cfg->extra = extra;
    cfg->extra_len = len;
    *extra_owned = extra;
    return 0;
}

static int sim_domain_create(colo_backend *be, const struct colo_domain_config *cfg,
                             colo_dom **out, unsigned flags)
{
    int r;

    /* Created paused, always: an incoming guest has no context to run. */
    COLO_CHECK_FLAGS(be, flags, COLO_CREATE_PAUSED, "domain_create");
    if ((r = colo_sim_spawn(be, cfg)) < 0)
        return r;
    return sim_domain_open(be, cfg->name, out, 0);
}

static int sim_domain_destroy(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "domain_destroy");
    LOCKED(d);
    int r;

    if (sim_pidfd_exited(d->pidfd, 0)) {
        d->gone = true;
        return 0;
    }
    r = dom_call(be, d, "destroy", SIM_OP_DESTROY, 0, NULL, 0, NULL, SIM_TIMEOUT_MS,
                 CALL_QUIET_GONE);
    if (r < 0 && r != -ESRCH)
        return r;
    d->gone = true;
    if (d->pidfd < 0) {
        /* No pidfd (a kernel before 5.3): EOF is the best sign we have. */
        struct pollfd p = { .fd = d->sock, .events = POLLIN };
        if (poll(&p, 1, SIM_TIMEOUT_MS) <= 0)
            return LOG_ERRNO(be->ctx, -ETIMEDOUT, "sim %s: destroy: the guest did not exit",
                             d->name);
        return 0;
    }
    if (sim_pidfd_exited(d->pidfd, SIM_TIMEOUT_MS))
        return 0;
    syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
    sim_pidfd_exited(d->pidfd, 1000);
    return LOG_ERRNO(be->ctx, -ETIMEDOUT, "sim %s: destroy: the guest did not exit in %d s; "
                     "killed", d->name, SIM_TIMEOUT_MS / 1000);
}

static int sim_domain_info(colo_backend *be, colo_dom *d, struct colo_domain_info *info,
                           unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "domain_info");
    LOCKED(d);
    int r = dom_info(be, d, CALL_QUIET_GONE);

    if (r < 0 && r != -ESRCH)
        return r;
    memset(info, 0, sizeof(*info));
    info->domid = d->info.pid;
    snprintf(info->name, sizeof(info->name), "%s", d->name);
    info->type = COLO_DOM_PVH;
    info->nr_pages = d->info.nr_pages;
    info->mem_bytes = d->info.mem_bytes;
    info->nr_vcpus = d->info.nr_vcpus;
    info->paused = !!(d->info.flags & SIM_INFO_PAUSED);
    info->fenced = !!(d->info.flags & SIM_INFO_FENCED);
    info->shutdown = d->gone; /* the socket is gone: so is the guest */
    colo_uuid_format(d->info.uuid, info->uuid);
    return 0;
}

/* --- run state, log-dirty --- */

/* An op without data: wire_flags go with the request. */
static int simple_op(colo_backend *be, colo_dom *d, const char *what, uint16_t op,
                     uint16_t wire_flags)
{
    LOCKED(d);
    return dom_call(be, d, what, op, wire_flags, NULL, 0, NULL, SIM_TIMEOUT_MS, 0);
}

static int sim_pause(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, COLO_PAUSE_CHECKPOINT | COLO_PAUSE_FENCE, "pause");
    return simple_op(be, d, "pause", SIM_OP_PAUSE,
                     ((flags & COLO_PAUSE_CHECKPOINT) ? SIM_PAUSE_F_CHECKPOINT : 0) |
                     ((flags & COLO_PAUSE_FENCE) ? SIM_PAUSE_F_FENCE : 0));
}

static int sim_unpause(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, COLO_PAUSE_CHECKPOINT | COLO_PAUSE_FENCE, "unpause");
    return simple_op(be, d, "unpause", SIM_OP_UNPAUSE,
                     (flags & COLO_PAUSE_FENCE) ? SIM_UNPAUSE_F_FENCE : 0);
}

/* A checkpoint stop that nobody will end: the guest recorded it. */
static int sim_recover(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "recover");
    LOCKED(d);
    int r = dom_info(be, d, 0);

    if (r < 0 || !(d->info.flags & SIM_INFO_CKPT_STOP))
        return r;
    LOG(be->ctx, WARN, "sim %s: was left stopped (pause) by an xl-colo that did not "
        "finish its checkpoint; restarting it", d->name);
    return dom_call(be, d, "unpause", SIM_OP_UNPAUSE, 0, NULL, 0, NULL, SIM_TIMEOUT_MS, 0);
}

/* Taking up protection: log-dirty left on by a killed toolstack is turned
 * off and on again, as the xen backend does. */
static int sim_logdirty_enable(colo_backend *be, colo_dom *d, unsigned flags)
{
    int r;

    COLO_CHECK_FLAGS(be, flags, 0, "logdirty_enable");
    LOCKED(d);
    if ((r = dom_info(be, d, 0)) < 0)
        return r;
    if (d->info.flags & SIM_INFO_LOGDIRTY) {
        LOG(be->ctx, WARN, "sim %s: log-dirty was left on; turning it off and on again",
            d->name);
        if ((r = dom_call(be, d, "log-dirty off", SIM_OP_LOGDIRTY_OFF, 0, NULL, 0, NULL,
                          SIM_TIMEOUT_MS, 0)) < 0)
            return r;
    }
    return dom_call(be, d, "log-dirty enable", SIM_OP_LOGDIRTY_ENABLE, 0, NULL, 0, NULL,
                    SIM_TIMEOUT_MS, 0);
}

static int sim_logdirty_off(colo_backend *be, colo_dom *d, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "logdirty_off");
    return simple_op(be, d, "log-dirty off", SIM_OP_LOGDIRTY_OFF, 0);
}

static int logdirty_op(colo_backend *be, colo_dom *d, const char *what, uint16_t op,
                       unsigned long *bitmap, uint64_t nr_pages, uint64_t *count)
{
    LOCKED(d);
    int r;

    if (bitmap && nr_pages == 0)
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: %s: a bitmap of 0 pages", d->name, what);
    r = dom_call(be, d, what, op, bitmap ? SIM_LD_F_BITMAP : 0, NULL, 0, NULL,
                 SIM_TIMEOUT_MS, 0);
    if (r < 0)
        return r;
    *count = d->rsp.val;
    if (bitmap) {
        /* As Xen: nr_pages bits of the log, the rest of the caller's words 0. */
        size_t words = DIV_ROUND_UP(nr_pages, BITS_PER_LONG);
        size_t have = MIN(words, DIV_ROUND_UP(d->nr_pages, BITS_PER_LONG));
        memcpy(bitmap, d->xfer, have * sizeof(unsigned long));
        memset(bitmap + have, 0, (words - have) * sizeof(unsigned long));
        if (nr_pages % BITS_PER_LONG)
            bitmap[words - 1] &= (1ul << (nr_pages % BITS_PER_LONG)) - 1;
    }
    return 0;
}

static int sim_logdirty_peek(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                             uint64_t nr_pages, uint64_t *count, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "logdirty_peek");
    return logdirty_op(be, d, "log-dirty peek", SIM_OP_LOGDIRTY_PEEK, bitmap, nr_pages,
                       count);
}

static int sim_logdirty_clean(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                              uint64_t nr_pages, uint64_t *count, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "logdirty_clean");
    return logdirty_op(be, d, "log-dirty clean", SIM_OP_LOGDIRTY_CLEAN, bitmap, nr_pages,
                       count);
}

/* --- memory --- */

static int sim_map(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n, int prot,
                   void **pages, int *err, colo_mapping **m, unsigned flags)
{
    uint8_t *base = (prot & PROT_WRITE) ? d->rw : d->ro;

    COLO_CHECK_FLAGS(be, flags, 0, "map");
    if (!(prot & PROT_READ))
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: map: prot %#x without PROT_READ",
                         d->name, (unsigned)prot);
    if (d->gone || sim_pidfd_exited(d->pidfd, 0)) {
        d->gone = true;
        return LOG_ERRNO(be->ctx, -ESRCH, "sim %s: map: the guest is gone", d->name);
    }
    for (unsigned i = 0; i < n; i++) {
        bool ok = pfns[i] < d->nr_pages;
        pages[i] = ok ? base + pfns[i] * COLO_PAGE_SIZE : NULL;
        err[i] = ok ? 0 : -EINVAL;
    }
    *m = (colo_mapping *)d; /* nothing to undo: a token for unmap */
    return 0;
}

static void sim_unmap(colo_backend *be, colo_dom *d, colo_mapping *m)
{
}

/* The memfd's data ranges: what the guest ever touched (or a reader of a
 * hole faulted in). Holes are zero pages the first copy may skip. */
static int sim_populated(colo_backend *be, colo_dom *d, unsigned long *bitmap,
                         uint64_t nr_pages, unsigned flags)
{
    off_t pos = 0, end = (off_t)(MIN(nr_pages, d->nr_pages) * COLO_PAGE_SIZE);

    COLO_CHECK_FLAGS(be, flags, 0, "populated");
    if (!bitmap)
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: populated: no bitmap", d->name);
    memset(bitmap, 0, DIV_ROUND_UP(nr_pages, BITS_PER_LONG) * sizeof(unsigned long));
    while (pos < end) {
        off_t data = lseek(d->memfd, pos, SEEK_DATA), hole;
        if (data < 0 && errno == ENXIO)
            break;
        if (data < 0 || (hole = lseek(d->memfd, data, SEEK_HOLE)) < 0)
            return LOG_ERRNO(be->ctx, negative_errno(), "sim %s: populated: lseek", d->name);
        uint64_t last = DIV_ROUND_UP((uint64_t)MIN(hole, end), COLO_PAGE_SIZE);
        for (uint64_t pfn = (uint64_t)data / COLO_PAGE_SIZE; pfn < last; pfn++)
            bitmap[pfn / BITS_PER_LONG] |= 1ul << (pfn % BITS_PER_LONG);
        pos = (off_t)(last * COLO_PAGE_SIZE);
    }
    return 0;
}

/* --- context, device state, digest --- */

static ssize_t get_blob(colo_backend *be, colo_dom *d, const char *what, uint16_t op,
                        uint8_t **buf)
{
    LOCKED(d);
    int r = dom_call(be, d, what, op, 0, NULL, 0, NULL, SIM_TIMEOUT_MS, 0);

    if (r < 0)
        return r;
    *buf = malloc(d->rsp.len ? d->rsp.len : 1);
    if (!*buf)
        return LOG_ERRNO(be->ctx, -ENOMEM, "sim %s: %s: out of memory", d->name, what);
    memcpy(*buf, d->rsp.data, d->rsp.len);
    return (ssize_t)d->rsp.len;
}

static int set_blob(colo_backend *be, colo_dom *d, const char *what, uint16_t op,
                    const uint8_t *buf, size_t len)
{
    if (!buf && len)
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: %s: no buffer", d->name, what);
    LOCKED(d);
    return dom_call(be, d, what, op, 0, buf, len, NULL, SIM_TIMEOUT_MS, 0);
}

static ssize_t sim_context_get(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "context_get");
    return get_blob(be, d, "context get", SIM_OP_CONTEXT_GET, buf);
}

static int sim_context_set(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                           unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "context_set");
    return set_blob(be, d, "context set", SIM_OP_CONTEXT_SET, buf, len);
}

static ssize_t sim_devstate_save(colo_backend *be, colo_dom *d, uint8_t **buf, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "devstate_save");
    return get_blob(be, d, "devstate save", SIM_OP_DEVSTATE_SAVE, buf);
}

static int sim_devstate_load(colo_backend *be, colo_dom *d, const uint8_t *buf, size_t len,
                             unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "devstate_load");
    return set_blob(be, d, "devstate load", SIM_OP_DEVSTATE_LOAD, buf, len);
}

static int sim_digest(colo_backend *be, colo_dom *d, uint8_t out[32], unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "digest");
    LOCKED(d);
    int r = dom_call(be, d, "digest", SIM_OP_HASH, 0, NULL, 0, NULL,
                     sim_hash_timeout_ms(d->mem_len), 0);

    if (r < 0)
        return r;
    if (d->rsp.len != 32)
        return LOG_ERRNO(be->ctx, -EPROTO, "sim %s: digest: %u bytes, expected 32",
                         d->name, d->rsp.len);
    memcpy(out, d->rsp.data, 32);
    return 0;
}

/* --- the backend --- */

static int sim_open(colo_backend *be, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "open");
    if (!be->run_dir || !*be->run_dir)
        return LOG_ERRNO(be->ctx, -EINVAL, "sim: open: no run directory");
    return 0;
}

static void sim_close(colo_backend *be)
{
}

const colo_backend_ops colo_backend_sim_ops = {
    .name = "sim",
    .colo_secondary_runs = true,
    .open = sim_open,
    .close = sim_close,
    .domain_open = sim_domain_open,
    .domain_close = sim_domain_close,
    .domain_create = sim_domain_create,
    .domain_config = sim_domain_config,
    .domain_destroy = sim_domain_destroy,
    .domain_info = sim_domain_info,
    .pause = sim_pause,
    .unpause = sim_unpause,
    .recover = sim_recover,
    .logdirty_enable = sim_logdirty_enable,
    .logdirty_off = sim_logdirty_off,
    .logdirty_peek = sim_logdirty_peek,
    .logdirty_clean = sim_logdirty_clean,
    .map = sim_map,
    .unmap = sim_unmap,
    .context_get = sim_context_get,
    .context_set = sim_context_set,
    .devstate_save = sim_devstate_save,
    .devstate_load = sim_devstate_load,
    .digest = sim_digest,
    .populated = sim_populated,
};
