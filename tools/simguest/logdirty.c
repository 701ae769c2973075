/* logdirty.c - Xen's log-dirty semantics over a bitmap of atomic words.
 *
 * A touch sets its pfn's bit after the write (fetch_or) and counts a 0->1
 * transition. CLEAN exchanges each word with 0 and subtracts the popcount
 * of what it took, so a write racing a CLEAN is either in this round's copy
 * or still set for the next: never lost. The counter can dip below zero for
 * the instant between another thread's fetch_or and its increment; it is
 * read clamped at 0, and is exact whenever the guest is paused. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "guest.h"

int logdirty_init(struct guest *g)
{
    g->dirty_words = (g->nr_pages + SIM_BITS_PER_LONG - 1) / SIM_BITS_PER_LONG;
    g->dirty = calloc(g->dirty_words, sizeof(*g->dirty));
    return g->dirty ? 0 : -ENOMEM;
}

void logdirty_mark(struct guest *g, uint64_t pfn)
{
    unsigned long bit = 1ul << (pfn % SIM_BITS_PER_LONG);
    unsigned long old;

    if (!atomic_load_explicit(&g->ld_on, memory_order_relaxed))
        return;
    old = atomic_fetch_or_explicit(&g->dirty[pfn / SIM_BITS_PER_LONG], bit,
                                   memory_order_release);
    if (!(old & bit))
        atomic_fetch_add_explicit(&g->ld_count, 1, memory_order_relaxed);
}

static void clear_all(struct guest *g)
{
    for (size_t i = 0; i < g->dirty_words; i++)
        atomic_store_explicit(&g->dirty[i], 0, memory_order_relaxed);
    atomic_store(&g->ld_count, 0);
}

/* Enabling starts an empty log; enabling twice is EINVAL, as in Xen (a
 * toolstack killed mid-protection leaves it on: turn it off first). */
int logdirty_enable(struct guest *g)
{
    if (atomic_load(&g->ld_on))
        return -EINVAL;
    clear_all(g);
    atomic_store(&g->ld_on, true);
    return 0;
}

void logdirty_off(struct guest *g)
{
    atomic_store(&g->ld_on, false);
    clear_all(g);
}

uint64_t logdirty_count(struct guest *g)
{
    int64_t n = atomic_load(&g->ld_count);
    return n > 0 ? (uint64_t)n : 0;
}

/* With log-dirty off the log is empty: PEEK and CLEAN return zeros and a
 * zero count, as Xen does. */
uint64_t logdirty_copy(struct guest *g, unsigned long *dst, bool clean)
{
    uint64_t n = 0;

    if (!dst && !clean)
        return logdirty_count(g);
    for (size_t i = 0; i < g->dirty_words; i++) {
        unsigned long w = clean
            ? atomic_exchange_explicit(&g->dirty[i], 0, memory_order_acq_rel)
            : atomic_load_explicit(&g->dirty[i], memory_order_acquire);
        if (dst)
            dst[i] = w;
        n += (uint64_t)__builtin_popcountl(w);
    }
    if (clean)
        atomic_fetch_sub(&g->ld_count, (int64_t)n);
    return n;
}
