/* guest.c - the guest's memory and vCPU threads: create, pause, unpause,
 * free. The workload itself is in workload.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "colo-time.h"
#include "guest.h"
#include "macro.h"

#define SLEEP_MIN_NS COLO_NS_PER_MS  /* sleep only when 1 ms ahead */
#define BEHIND_MAX_NS (100 * COLO_NS_PER_MS) /* 100 ms behind: start over, no burst */

static void *vcpu_main(void *arg)
{
    struct vcpu *v = arg;
    struct guest *g = v->g;
    uint64_t t0 = colo_now_ns(), n = 0;

    for (;;) {
        if (atomic_load_explicit(&g->pause_req, memory_order_acquire) ||
            atomic_load_explicit(&g->stop, memory_order_relaxed)) {
            if (!guest_park(g))
                break;
            t0 = colo_now_ns();
            n = 0;
        }
        workload_touch(g, v);
        if (g->rate == 0)
            continue;
        if (++n >= g->rate) { /* keep the arithmetic small: slide a second */
            n -= g->rate;
            t0 += COLO_NS_PER_SEC;
        }
        uint64_t due = t0 + n * COLO_NS_PER_SEC / g->rate;
        uint64_t now = colo_now_ns();
        if (due > now + SLEEP_MIN_NS) {
            guest_sleep_until(g, due);
        } else if (now > due + BEHIND_MAX_NS) {
            t0 = now;
            n = 0;
        }
    }
    return NULL;
}

static int mem_create(struct guest *g)
{
    g->memfd = memfd_create("colo-simguest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (g->memfd < 0)
        return negative_errno();
    if (ftruncate(g->memfd, (off_t)g->mem_bytes) < 0)
        return negative_errno();
    /* The backend maps the whole size: never let it shrink under a mapping. */
    if (fcntl(g->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        return negative_errno();
    void *p = mmap(NULL, g->mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
    if (p == MAP_FAILED)
        return negative_errno();
    g->mem = p;
    return 0;
}

static int sync_init(struct guest *g)
{
    pthread_condattr_t ca;
    int r;

    r = pthread_condattr_init(&ca);
    if (r == 0)
        r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(&g->wake, &ca);
    if (r == 0)
        r = pthread_cond_init(&g->parked_cv, NULL);
    if (r == 0)
        r = pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_destroy(&ca);
    return -r;
}

int guest_new(const struct sim_params *p, struct guest **out)
{
    char why[SIM_MSG_MAX];
    struct guest *g;
    int r;

    g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->memfd = -1;
    snprintf(g->name, sizeof(g->name), "%s", p->name);
    g->mem_bytes = p->mem_bytes;
    g->nr_pages = p->mem_bytes / SIM_PAGE_SIZE;
    g->nr_vcpus = p->nr_vcpus;
    g->seed = p->seed;
    g->jitter_ppm = p->jitter_ppm;
    memcpy(g->uuid, p->uuid, sizeof(g->uuid));
    g->incoming = p->incoming;
    g->ctx_valid = !p->incoming;
    atomic_init(&g->pause_req, p->paused || p->incoming);
    atomic_init(&g->stop, false);
    atomic_init(&g->ld_on, false);
    atomic_init(&g->ld_count, 0);
    atomic_init(&g->ticks, 0);

    r = workload_resolve(g, p, why, sizeof(why));
    if (r < 0) {
        fprintf(stderr, "colo-simguest: %s\n", why);
        goto fail_early;
    }
    g->nr_parkers = g->nr_vcpus + (p->disk_uri ? 1 : 0) + (p->nic ? 1 : 0);
    g->nic_listen = g->nic_peer = g->nic_kick = -1;
    r = sync_init(g);
    if (r < 0) {
        fprintf(stderr, "colo-simguest: cannot set up vCPU locks: %s\n", strerror(-r));
        goto fail_early;
    }
    r = mem_create(g);
    if (r < 0) {
        fprintf(stderr, "colo-simguest: cannot create %" PRIu64 " bytes of guest memory: %s\n",
                g->mem_bytes, strerror(-r));
        goto fail;
    }
    r = logdirty_init(g);
    if (r < 0) {
        fprintf(stderr, "colo-simguest: cannot allocate the dirty bitmap: %s\n", strerror(-r));
        goto fail;
    }
    if (p->disk_uri && (r = disk_open(g, p, why, sizeof(why))) < 0) {
        fprintf(stderr, "colo-simguest: %s\n", why);
        goto fail;
    }
    if (p->nic && (r = nic_open(g, p, why, sizeof(why))) < 0) {
        fprintf(stderr, "colo-simguest: %s\n", why);
        goto fail;
    }
    g->vcpus = calloc(g->nr_vcpus, sizeof(*g->vcpus));
    if (!g->vcpus) {
        r = -ENOMEM;
        fprintf(stderr, "colo-simguest: out of memory\n");
        goto fail;
    }
    for (unsigned i = 0; i < g->nr_vcpus; i++) {
        struct vcpu *v = &g->vcpus[i];
        v->g = g;
        v->idx = i;
        atomic_init(&v->counter, 0);
        if (!p->incoming)
            vcpu_seed(v, g->seed);
        /* --jitter's noise: this process's own, never the context's. */
        if (getrandom(&v->noise, sizeof(v->noise), 0) != sizeof(v->noise))
            v->noise = colo_now_ns() ^ ((uint64_t)getpid() << 20) ^ i;
    }
    for (unsigned i = 0; i < g->nr_vcpus; i++) {
        r = -pthread_create(&g->vcpus[i].tid, NULL, vcpu_main, &g->vcpus[i]);
        if (r < 0) {
            fprintf(stderr, "colo-simguest: cannot start vCPU %u: %s\n", i, strerror(-r));
            goto fail;
        }
        g->vcpus[i].started = true;
    }
    if (g->disk && (r = disk_start(g)) < 0) {
        fprintf(stderr, "colo-simguest: cannot start the disk writer: %s\n", strerror(-r));
        goto fail;
    }
    if (g->nic_ring && (r = nic_start(g)) < 0) {
        fprintf(stderr, "colo-simguest: cannot start the NIC: %s\n", strerror(-r));
        goto fail;
    }
    *out = g;
    return 0;

fail:
    guest_free(g);
    return r;
fail_early:
    free(g);
    return r;
}

void guest_free(struct guest *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    atomic_store(&g->stop, true);
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->lock);
    nic_kick(g);
    for (unsigned i = 0; g->vcpus && i < g->nr_vcpus; i++)
        if (g->vcpus[i].started)
            pthread_join(g->vcpus[i].tid, NULL);
    if (g->disk_started)
        pthread_join(g->disk_tid, NULL);
    if (g->nic_started)
        pthread_join(g->nic_tid, NULL);
    nic_close(g);
    disk_close(g);
    free(g->vcpus);
    free((void *)g->dirty);
    if (g->mem)
        munmap(g->mem, g->mem_bytes);
    closep(&g->memfd);
    pthread_cond_destroy(&g->wake);
    pthread_cond_destroy(&g->parked_cv);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void guest_pause(struct guest *g)
{
    pthread_mutex_lock(&g->lock);
    atomic_store_explicit(&g->pause_req, true, memory_order_release);
    pthread_cond_broadcast(&g->wake);
    nic_kick(g);
    while (g->parked < g->nr_parkers)
        pthread_cond_wait(&g->parked_cv, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

int guest_unpause(struct guest *g, char *why, size_t whylen)
{
    if (!g->ctx_valid) {
        snprintf(why, whylen, "guest %s is incoming and has no context yet: "
                 "set one before unpausing it", g->name);
        return -EINVAL;
    }
    pthread_mutex_lock(&g->lock);
    atomic_store_explicit(&g->pause_req, false, memory_order_release);
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

bool guest_paused(struct guest *g)
{
    return atomic_load(&g->pause_req);
}
