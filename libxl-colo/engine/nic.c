/* nic.c - the NIC comparison in the protection's process (nic.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo-internal.h"
#include "engine/nic.h"
#include "proxy/datapath/datapath.h"
#include "proxy/service/proxy.h"

/* The datapath's thread (libxlcolo_proxy.client_if): colo-datapath's
 * Remus role on the proxy's sockets. */
struct nic_datapath {
    struct colo_datapath_opts o;
    char pin[108], out[108];     /* default socket paths, sun_path's size */
    char guest_if[16];
    int stop_fd;
    int counters[2];             /* a pipe: its counters at the end */
    pthread_t thread;
    bool started;
};

struct colo_nic {
    libxlcolo_ctx *ctx;
    char domain[64];
    struct proxy *svc;
    int stop_fd;                /* eventfd: ends proxy_run */
    pthread_t thread;
    bool started;
    bool buffer;                /* Remus: the output buffer */
    atomic_bool ended;
    struct nic_datapath dp;
};

static void nic_line(void *opaque, enum proxy_level lvl, const char *line)
{
    colo_nic *n = opaque;
    static const xentoollog_level map[] = {
        [PROXY_LOG_INFO] = XTL_INFO,
        [PROXY_LOG_WARN] = XTL_WARN,
        [PROXY_LOG_ERROR] = XTL_ERROR,
    };

    colo_log(n->ctx, map[lvl], -1, "NIC of %s: %s", n->domain, line);
}

/* In the service's thread: a divergence. The checkpoint is the
 * protection's to take; it says when it is done. */
static void nic_checkpoint(void *opaque)
{
    colo_nic *n = opaque;

    libxlcolo_request_checkpoint(n->ctx);
}

static void *nic_thread(void *opaque)
{
    colo_nic *n = opaque;

    proxy_run(n->svc, n->stop_fd);
    atomic_store(&n->ended, true);
    return NULL;
}

/* Make a thread's stop eventfd readable. */
static void nic_wake(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one)) {
        /* An eventfd at its maximum is readable already. */
    }
}

static void *nic_datapath_thread(void *opaque)
{
    colo_nic *n = opaque;

    /* Its failure is said through the log; colo_nic_check() sees it ended. */
    colo_datapath_run(&n->dp.o, n->dp.stop_fd, -1, n->dp.counters[1]);
    atomic_store(&n->ended, true);
    return NULL;
}

/* The datapath's options: the guest's interface is the backend's vif
 * unless given; the sockets default to RUN_DIR/nic/DOMAIN.*.sock. */
static int nic_datapath_prepare(colo_nic *n, const libxlcolo_proxy *cfg, const char *run_dir,
                                const char *vif, struct proxy_opts *po)
{
    struct nic_datapath *dp = &n->dp;
    const char *guest = cfg->guest_if ? cfg->guest_if : vif;

    if (!n->buffer)
        return LOG_ERRNO(n->ctx, -EOPNOTSUPP, "NIC of %s: client-if runs the datapath in Remus "
                         "mode only: with --colo, run colo-datapath beside the protection "
                         "(colo-proxy(8))", n->domain);
    if (!guest || !guest[0])
        return LOG_ERRNO(n->ctx, -EINVAL, "NIC of %s: no guest-if, and the backend knows no "
                         "vif of the domain", n->domain);
    if (strlen(guest) >= sizeof(dp->guest_if) || strlen(cfg->client_if) >= sizeof(dp->guest_if))
        return LOG_ERRNO(n->ctx, -ENAMETOOLONG, "NIC of %s: an interface name is longer than "
                         "15 characters", n->domain);
    snprintf(dp->guest_if, sizeof(dp->guest_if), "%s", guest);
    char dir[sizeof(dp->pin)];
    if ((size_t)snprintf(dir, sizeof(dir), "%s/nic", run_dir) >= sizeof(dir))
        return LOG_ERRNO(n->ctx, -ENAMETOOLONG, "NIC of %s: %s/nic is too long for a socket "
                         "path", n->domain, run_dir);
    if (!po->path[EP_PRIMARY] || !po->path[EP_OUTDEV]) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return LOG_ERRNO(n->ctx, negative_errno(), "NIC of %s: mkdir %s", n->domain, dir);
        if ((size_t)snprintf(dp->pin, sizeof(dp->pin), "%s/%s.pin.sock", dir, n->domain) >=
                sizeof(dp->pin) ||
            (size_t)snprintf(dp->out, sizeof(dp->out), "%s/%s.out.sock", dir, n->domain) >=
                sizeof(dp->out))
            return LOG_ERRNO(n->ctx, -ENAMETOOLONG, "NIC of %s: %s/%s.*.sock is too long for a "
                             "socket path: give primary-in= and outdev=", n->domain, dir,
                             n->domain);
        if (!po->path[EP_PRIMARY])
            po->path[EP_PRIMARY] = dp->pin;
        if (!po->path[EP_OUTDEV])
            po->path[EP_OUTDEV] = dp->out;
    }
    dp->o = (struct colo_datapath_opts){
        .ifname = { [DP_CLIENT] = cfg->client_if, [DP_PRIMARY] = dp->guest_if },
        .path = { [DP_PIN] = po->path[EP_PRIMARY], [DP_OUT] = po->path[EP_OUTDEV] },
        .ctx = n->ctx,
        .log = { nic_line, n },
    };
    return 0;
}

static int nic_datapath_start(colo_nic *n)
{
    struct nic_datapath *dp = &n->dp;

    dp->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (dp->stop_fd < 0 || pipe2(dp->counters, O_CLOEXEC) < 0)
        return LOG_ERRNO(n->ctx, negative_errno(), "NIC of %s: the datapath's eventfd or pipe",
                         n->domain);
    int r = pthread_create(&dp->thread, NULL, nic_datapath_thread, n);
    if (r)
        return LOG_ERRNO(n->ctx, -r, "NIC of %s: cannot start the datapath's thread", n->domain);
    dp->started = true;
    return 0;
}

/* Stop the datapath's thread; its counters go to the log, once. */
static void nic_datapath_stop(colo_nic *n)
{
    struct nic_datapath *dp = &n->dp;
    char text[4096];

    if (dp->started) {
        nic_wake(dp->stop_fd);
        pthread_join(dp->thread, NULL);
        close_reset(&dp->counters[1]);
        ssize_t len = read(dp->counters[0], text, sizeof(text) - 1);
        if (len > 0) {
            text[len] = '\0';
            text[strcspn(text, "\n")] = '\0';
            LOG(n->ctx, INFO, "NIC of %s: the datapath's counters: %s", n->domain, text);
        }
        dp->started = false;
    }
    close_reset(&dp->stop_fd);
    close_reset(&dp->counters[0]);
    close_reset(&dp->counters[1]);
}

/* How long the service may take to set an epoch's barrier: the guest
 * is stopped meanwhile. */
#define NIC_BARRIER_TIMEOUT_MS 1000
/* How long a status waits for the service's own counters. */
#define NIC_STATUS_TIMEOUT_MS 200

int colo_nic_start(libxlcolo_ctx *ctx, const libxlcolo_proxy *cfg, libxlcolo_mode mode,
                   const char *domain, const char *run_dir, const char *vif, colo_nic **out)
{
    bool buffer = mode == LIBXLCOLO_MODE_REMUS;

    *out = NULL;
    if (((!cfg->primary_in || !cfg->outdev) && !cfg->client_if) || (!buffer && !cfg->secondary_in))
        return LOG_ERRNO(ctx, -EINVAL, "NIC of %s: the primary-in, %soutdev sockets are "
                         "required", domain, buffer ? "" : "secondary-in and ");
    if (buffer && cfg->secondary_in)
        return LOG_ERRNO(ctx, -EINVAL, "NIC of %s: Remus compares nothing: no secondary-in",
                         domain);
    colo_nic *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->ctx = ctx;
    n->buffer = buffer;
    n->stop_fd = -1;
    n->dp.stop_fd = n->dp.counters[0] = n->dp.counters[1] = -1;
    snprintf(n->domain, sizeof(n->domain), "%s", domain);
    struct proxy_opts o = {
        .path = {
            [EP_PRIMARY] = cfg->primary_in,
            [EP_SECONDARY] = cfg->secondary_in,
            [EP_OUTDEV] = cfg->outdev,
            [EP_STATUS] = cfg->status,
        },
        .vnet_hdr = cfg->vnet_hdr,
        .timeout_ms = cfg->compare_timeout_ms,
        .max_flows = cfg->max_flows,
        .max_mem = cfg->max_mem,
        .busy_poll_us = cfg->busy_poll_us,
        .buffer = buffer,
        .log = { nic_line, n },
        .checkpoint = nic_checkpoint,
        .checkpoint_opaque = n,
    };
    if (cfg->client_if) {
        int r = nic_datapath_prepare(n, cfg, run_dir, vif, &o);
        if (r < 0) {
            free(n);
            return r;
        }
    }
    /* The same path twice would be two listeners on one socket. */
    for (int a = 0; a < EP__MAX; a++)
        for (int b = a + 1; b < EP__MAX; b++)
            if (o.path[a] && o.path[b] && strcmp(o.path[a], o.path[b]) == 0) {
                free(n);
                return LOG_ERRNO(ctx, -EINVAL, "NIC of %s: %s and %s are the same path %s",
                                 domain, proxy_endpoint_option(a), proxy_endpoint_option(b),
                                 o.path[a]);
            }
    if (proxy_open(&o, &n->svc) != 0) {
        free(n);
        return -EINVAL;         /* said by the service */
    }
    n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->stop_fd < 0) {
        int r = LOG_ERRNO(ctx, negative_errno(), "NIC of %s: eventfd", domain);
        colo_nic_stop(n);
        return r;
    }
    int r = pthread_create(&n->thread, NULL, nic_thread, n);
    if (r) {
        colo_nic_stop(n);
        return LOG_ERRNO(ctx, -r, "NIC of %s: cannot start its thread", domain);
    }
    n->started = true;
    if (cfg->client_if) {
        r = nic_datapath_start(n);
        if (r < 0) {
            colo_nic_stop(n);
            return r;
        }
    }
    if (buffer)
        LOG(ctx, INFO, "NIC of %s: %s held until its checkpoint is acknowledged, then released "
            "to %s", domain, o.path[EP_PRIMARY], o.path[EP_OUTDEV]);
    else
        LOG(ctx, INFO, "NIC of %s: comparing %s and %s, released to %s", domain,
            cfg->primary_in, cfg->secondary_in, cfg->outdev);
    *out = n;
    return 0;
}

void colo_nic_stop(colo_nic *n)
{
    if (!n)
        return;
    nic_datapath_stop(n);
    if (n->started) {
        nic_wake(n->stop_fd);
        pthread_join(n->thread, NULL);
    }
    proxy_free(n->svc);
    if (n->stop_fd >= 0)
        close(n->stop_fd);
    free(n);
}

void colo_nic_checkpoint_done(colo_nic *n)
{
    if (n)
        proxy_checkpoint_complete(n->svc);
}

void colo_nic_alone(colo_nic *n)
{
    if (n)
        proxy_go_alone(n->svc);
}

int colo_nic_epoch_end(colo_nic *n)
{
    int r = proxy_epoch_end(n->svc, NIC_BARRIER_TIMEOUT_MS);

    if (r < 0)
        return LOG_ERRNO(n->ctx, -EPIPE, "NIC of %s: the output buffer did not end its epoch "
                         "within %d ms", n->domain, NIC_BARRIER_TIMEOUT_MS);
    return 0;
}

bool colo_nic_buffers(const colo_nic *n)
{
    return n && n->buffer;
}

int colo_nic_check(colo_nic *n)
{
    return n && atomic_load(&n->ended) ? -EPIPE : 0;
}

void colo_nic_status(colo_nic *n, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (n && proxy_status_fresh(n->svc, buf, size, NIC_STATUS_TIMEOUT_MS) < 0)
        buf[0] = '\0';
}
