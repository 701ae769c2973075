/* flow.c - the flow table (flow.h). */
#include "config.h"

#include <string.h>

#include "proxy/flow.h"

void colo_flow_key_of(const struct colo_frame *f, struct colo_flow_key *k)
{
    memset(k, 0, sizeof(*k));
    k->vlan = f->vlan;
    k->tagged = f->tagged;
    if (f->ip == COLO_L3_NONE) {
        k->kind = COLO_FLOW_L2;
        /* An 802.3 length field instead of a type: all such frames are one flow. */
        k->ethertype = f->ethertype >= 0x0600 ? f->ethertype : 0;
        return;
    }
    k->ip = (uint8_t)f->ip;
    k->proto = f->proto;
    memcpy(k->src, f->src, 16);
    memcpy(k->dst, f->dst, 16);
    switch (f->proto) {
    case COLO_IPPROTO_TCP:
    case COLO_IPPROTO_UDP:
        k->kind = f->proto == COLO_IPPROTO_TCP ? COLO_FLOW_TCP : COLO_FLOW_UDP;
        k->sport = f->sport;
        k->dport = f->dport;
        break;
    case COLO_IPPROTO_ICMP:
    case COLO_IPPROTO_ICMPV6:
        k->kind = COLO_FLOW_ICMP;
        break;
    default:
        k->kind = COLO_FLOW_IP;
        break;
    }
}

int colo_flow_table_init(struct colo_flow_table *t, size_t max, uint64_t seed,
                         struct colo_budget *b)
{
    size_t n = 16;
    int r;

    memset(t, 0, sizeof(*t));
    while (n < max)
        n <<= 1;
    t->buckets = colo_budget_alloc(b, n * sizeof(*t->buckets), &r);
    if (!t->buckets)
        return r;
    memset(t->buckets, 0, n * sizeof(*t->buckets));
    t->mask = n - 1;
    t->max = max;
    t->seed = seed;
    return 0;
}

void colo_flow_table_fini(struct colo_flow_table *t, struct colo_budget *b)
{
    colo_budget_free(b, t->buckets, (t->mask + 1) * sizeof(*t->buckets));
    t->buckets = NULL;
}

/* A keyed mix of the key's words (murmur3's finaliser at the end). The
 * seed keeps a guest from aiming at one chain, to the extent a caller
 * passes a random one; a chain is bounded by the flow count anyway. */
uint64_t colo_flow_hash(const struct colo_flow_table *t, const struct colo_flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = t->seed ^ 0x9e3779b97f4a7c15ull;
    size_t i;

    for (i = 0; i + 8 <= sizeof(*k); i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h ^= w * 0x87c37b91114253d5ull;
        h = (h << 31 | h >> 33) * 0x4cf5ad432745937full;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, sizeof(*k) - i);
    h ^= w;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

struct colo_flow *colo_flow_find(const struct colo_flow_table *t, const struct colo_flow_key *k,
                                 uint64_t hash)
{
    for (struct colo_flow *f = t->buckets[hash & t->mask]; f; f = f->hnext)
        if (f->hash == hash && memcmp(&f->key, k, sizeof(*k)) == 0)
            return f;
    return NULL;
}

void colo_flow_insert(struct colo_flow_table *t, struct colo_flow *f)
{
    struct colo_flow **b = &t->buckets[f->hash & t->mask];

    f->hnext = *b;
    *b = f;
    f->list = COLO_FLOW_BUSY;
    f->prev = f->next = NULL;
    t->count++;
}

static void unlist(struct colo_flow_table *t, struct colo_flow *f)
{
    if (f->list == COLO_FLOW_BUSY)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        t->lists[f->list].oldest = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        t->lists[f->list].newest = f->prev;
    f->prev = f->next = NULL;
    f->list = COLO_FLOW_BUSY;
}

void colo_flow_remove(struct colo_flow_table *t, struct colo_flow *f)
{
    struct colo_flow **b = &t->buckets[f->hash & t->mask];

    while (*b != f)
        b = &(*b)->hnext;
    *b = f->hnext;
    f->hnext = NULL;
    unlist(t, f);
    t->count--;
}

void colo_flow_park(struct colo_flow_table *t, struct colo_flow *f, enum colo_flow_list list,
                    uint64_t now_ns)
{
    unlist(t, f);
    f->last_ns = now_ns;
    if (list == COLO_FLOW_BUSY)
        return;
    f->list = list;
    f->prev = t->lists[list].newest;
    if (f->prev)
        f->prev->next = f;
    else
        t->lists[list].oldest = f;
    t->lists[list].newest = f;
}

void colo_flow_foreach(struct colo_flow_table *t, void (*fn)(void *opaque, struct colo_flow *f),
                       void *opaque)
{
    for (size_t i = 0; i <= t->mask; i++)
        for (struct colo_flow *f = t->buckets[i], *next; f; f = next) {
            next = f->hnext;
            fn(opaque, f);
        }
}
