/* state.c - the guest's context blob, its device state and INFO.
 *
 * Both blobs are little-endian (sim-proto.h) and validated field by field
 * before anything is changed. The control thread calls get/set with the
 * guest paused, so every vCPU is parked and its state is ours to touch. */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

size_t guest_context_size(const struct guest *g)
{
    return SIM_CTX_SIZE(g->nr_vcpus);
}

int guest_context_get(struct guest *g, uint8_t *buf, size_t cap, char *why, size_t whylen)
{
    struct sim_ctx_hdr h = { .magic = SIM_CTX_MAGIC };
    size_t need = guest_context_size(g);

    if (!g->ctx_valid) {
        snprintf(why, whylen, "guest %s is incoming and has no context yet", g->name);
        return -ENODATA;
    }
    if (cap < need) {
        snprintf(why, whylen, "context of %zu bytes does not fit %zu", need, cap);
        return -ENOBUFS;
    }
    h.version = htole32(SIM_CTX_VERSION);
    h.nr_vcpus = htole32(g->nr_vcpus);
    memcpy(buf, &h, sizeof(h));
    for (unsigned i = 0; i < g->nr_vcpus; i++) {
        const struct vcpu *v = &g->vcpus[i];
        struct sim_ctx_vcpu c = {
            .counter = htole64(atomic_load(&v->counter)),
            .prng = htole64(v->prng),
        };
        for (unsigned k = 0; k < SIM_NR_REGS; k++)
            c.regs[k] = htole64(v->regs[k]);
        memcpy(buf + sizeof(h) + i * sizeof(c), &c, sizeof(c));
    }
    return (int)need;
}

int guest_context_set(struct guest *g, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
    struct sim_ctx_hdr h;

    if (len < sizeof(h)) {
        snprintf(why, whylen, "context of %zu bytes is shorter than its %zu-byte header",
                 len, sizeof(h));
        return -EINVAL;
    }
    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, SIM_CTX_MAGIC, sizeof(h.magic)) != 0) {
        snprintf(why, whylen, "not a sim context (bad magic)");
        return -EINVAL;
    }
    if (le32toh(h.version) != SIM_CTX_VERSION) {
        snprintf(why, whylen, "context version %u is not supported (only %u)",
                 le32toh(h.version), SIM_CTX_VERSION);
        return -EINVAL;
    }
    if (le32toh(h.nr_vcpus) != g->nr_vcpus) {
        snprintf(why, whylen, "context is for %u vCPUs, guest %s has %u",
                 le32toh(h.nr_vcpus), g->name, g->nr_vcpus);
        return -EINVAL;
    }
    if (len != guest_context_size(g)) {
        snprintf(why, whylen, "context is %zu bytes, %u vCPUs need %zu",
                 len, g->nr_vcpus, guest_context_size(g));
        return -EINVAL;
    }
    for (unsigned i = 0; i < g->nr_vcpus; i++) {
        struct vcpu *v = &g->vcpus[i];
        struct sim_ctx_vcpu c;

        memcpy(&c, buf + sizeof(h) + i * sizeof(c), sizeof(c));
        atomic_store(&v->counter, le64toh(c.counter));
        v->prng = le64toh(c.prng);
        for (unsigned k = 0; k < SIM_NR_REGS; k++)
            v->regs[k] = le64toh(c.regs[k]);
    }
    g->ctx_valid = true;
    return 0;
}

size_t guest_devstate_get(struct guest *g, uint8_t *buf, size_t cap)
{
    struct sim_devstate d = {
        .magic = SIM_DEV_MAGIC,
        .ticks = htole64(atomic_load(&g->ticks)),
    };

    if (cap < sizeof(d))
        return 0;
    memcpy(buf, &d, sizeof(d));
    return sizeof(d);
}

int guest_devstate_set(struct guest *g, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
    struct sim_devstate d;

    if (len != sizeof(d)) {
        snprintf(why, whylen, "device state is %zu bytes, expected %zu", len, sizeof(d));
        return -EINVAL;
    }
    memcpy(&d, buf, sizeof(d));
    if (memcmp(d.magic, SIM_DEV_MAGIC, sizeof(d.magic)) != 0) {
        snprintf(why, whylen, "not a sim device state (bad magic)");
        return -EINVAL;
    }
    atomic_store(&g->ticks, le64toh(d.ticks));
    return 0;
}

void guest_info(struct guest *g, struct sim_info *info)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", g->name);
    info->pid = (uint32_t)getpid();
    info->nr_vcpus = g->nr_vcpus;
    info->nr_pages = g->nr_pages;
    info->mem_bytes = g->mem_bytes;
    info->workload = g->workload;
    info->flags = (guest_paused(g) ? SIM_INFO_PAUSED : 0) |
                  (atomic_load(&g->ld_on) ? SIM_INFO_LOGDIRTY : 0) |
                  (g->ctx_valid ? SIM_INFO_CTX_VALID : 0) |
                  (g->incoming ? SIM_INFO_INCOMING : 0) |
                  (g->ckpt_stop ? SIM_INFO_CKPT_STOP : 0) |
                  (g->fenced ? SIM_INFO_FENCED : 0);
    info->seed = g->seed;
    info->jitter_ppm = g->jitter_ppm;
    memcpy(info->uuid, g->uuid, sizeof(info->uuid));
    info->rate = g->rate;
    info->hot_set = g->hot_set;
    info->dirty_count = logdirty_count(g);
    info->ticks = atomic_load(&g->ticks);
    for (unsigned i = 0; i < g->nr_vcpus && i < SIM_MAX_VCPUS; i++)
        info->counters[i] = atomic_load_explicit(&g->vcpus[i].counter, memory_order_relaxed);
    nic_info(g, info);
}
