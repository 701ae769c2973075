/* workload.c - what a vCPU does: the named workloads and one "touch".
 *
 * Everything a vCPU writes follows from its context (counter, PRNG state):
 * a secondary given the primary's context writes what the primary would
 * have written next. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "guest.h"
#include "macro.h"

/* Per-workload defaults. hot_ppm: the hot set in millionths of the guest's
 * pages (at least one page); rate: touches per second per vCPU, or for
 * rate_total the whole guest's rate, shared among the vCPUs. */
struct wl_def {
    uint64_t hot_pages;  /* a fixed hot set, when not 0 */
    uint64_t hot_ppm;
    uint64_t rate;
    bool rate_total;
};

static const struct wl_def workloads[SIM_WL_MAX_] = {
    [SIM_WL_IDLE] = { .hot_pages = 16, .rate = 50, .rate_total = true },
    [SIM_WL_WEB] = { .hot_ppm = 20000, .rate = 5000 },
    [SIM_WL_KBUILD] = { .hot_ppm = 600000, .rate = 20000 },
    [SIM_WL_MEMSTRESS] = { .hot_ppm = 1000000, .rate = 0 },
    [SIM_WL_CUSTOM] = { .hot_ppm = 1000000, .rate = 1000 },
};

int workload_parse(const char *s, unsigned *out)
{
    for (unsigned w = 0; w < SIM_WL_MAX_; w++)
        if (strcmp(s, sim_workload_name(w)) == 0) {
            *out = w;
            return 0;
        }
    return -EINVAL;
}

int workload_resolve(struct guest *g, const struct sim_params *p, char *why, size_t whylen)
{
    const struct wl_def *d;
    uint64_t hot;

    if (p->workload >= SIM_WL_MAX_) {
        snprintf(why, whylen, "unknown workload %u", p->workload);
        return -EINVAL;
    }
    d = &workloads[p->workload];
    g->workload = p->workload;

    if (p->hot_set_set) {
        if (p->hot_set == 0 || p->hot_set > g->nr_pages) {
            snprintf(why, whylen, "--hot-set %" PRIu64 " must be 1..%" PRIu64
                     " (the guest's pages)", p->hot_set, g->nr_pages);
            return -EINVAL;
        }
        hot = p->hot_set;
    } else if (d->hot_pages) {
        hot = MIN(d->hot_pages, g->nr_pages);
    } else {
        hot = g->nr_pages * d->hot_ppm / 1000000;
    }
    g->hot_set = hot ? hot : 1;

    if (p->rate_set)
        g->rate = p->rate;
    else if (d->rate_total)
        g->rate = d->rate / p->nr_vcpus ? d->rate / p->nr_vcpus : 1;
    else
        g->rate = d->rate;
    return 0;
}

/* splitmix64: one 64-bit state, every value reachable, fast. */
uint64_t sim_prng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void vcpu_seed(struct vcpu *v, uint64_t seed)
{
    uint64_t s = seed ^ (0xd1b54a32d192ed03ull * (v->idx + 1));

    v->prng = sim_prng_next(&s);
    memset(v->regs, 0, sizeof(v->regs));
    atomic_store(&v->counter, 0);
}

void workload_touch(struct guest *g, struct vcpu *v)
{
    uint64_t c = atomic_load_explicit(&v->counter, memory_order_relaxed);
    uint64_t r = sim_prng_next(&v->prng);
    uint64_t pfn, *p;
    unsigned words, off;

    if (g->workload == SIM_WL_MEMSTRESS) /* the vCPUs sweep, interleaved */
        pfn = (c * g->nr_vcpus + v->idx) % g->hot_set;
    else
        pfn = r % g->hot_set;
    /* --jitter: now and then a page that the context does not decide. */
    if (g->jitter_ppm && sim_prng_next(&v->noise) % 1000000 < g->jitter_ppm)
        pfn = sim_prng_next(&v->noise) % g->nr_pages;
    words = 2 + (unsigned)((r >> 32) % 7); /* 16..64 bytes */
    off = (unsigned)((r >> 40) % (SIM_PAGE_SIZE / 8 - words + 1));

    p = (uint64_t *)(g->mem + pfn * SIM_PAGE_SIZE) + off;
    p[0] = c ^ ((uint64_t)v->idx << 56);
    for (unsigned i = 1; i < words; i++)
        p[i] = sim_prng_next(&v->prng);

    /* the fake registers: an instruction pointer, operands, an accumulator */
    v->regs[0] = pfn;
    v->regs[1] = off;
    v->regs[2] = r;
    v->regs[3] += words;
    v->regs[4 + c % (SIM_NR_REGS - 4)] ^= p[words - 1];
    atomic_store_explicit(&v->counter, c + 1, memory_order_relaxed);

    /* After the write, as Xen marks a page once the write has hit it: a
     * CLEAN racing this touch either sees the bit or leaves it set. */
    logdirty_mark(g, pfn);
    if (v->idx == 0)
        atomic_fetch_add_explicit(&g->ticks, 1, memory_order_relaxed);
}
