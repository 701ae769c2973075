/* proxy-util.h - what the compare engine's tests share: a builder of
 * Ethernet frames (802.1Q, IPv4, IPv6, TCP with timestamps, UDP, ICMP,
 * ARP, fragments), checksums included, and a context whose callbacks
 * record every released frame and checkpoint request. */
#ifndef PROXY_UTIL_H
#define PROXY_UTIL_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/compare.h"
#include "proxy/frame.h"

#define MSEC 1000000ull
#include "frame-build.h"

/* --- a recording context ----------------------------------------------------- */

struct rec {
    struct frame *out;          /* released, in order */
    size_t n, cap;
    unsigned ckpts;
    enum colo_checkpoint_reason reason[16];
    bool keep;                  /* copy each released frame (else only count) */
    colo_compare *c;            /* for the reentrancy test */
    int inner;                  /* what a call from inside a callback returned */
};

static void rec_release(void *opaque, const uint8_t *frame, size_t len)
{
    struct rec *r = opaque;

    if (r->keep) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            r->out = realloc(r->out, r->cap * sizeof(*r->out));
        }
        r->out[r->n] = mk_raw(frame, len);
    }
    r->n++;
}

static void rec_checkpoint(void *opaque, enum colo_checkpoint_reason reason)
{
    struct rec *r = opaque;

    if (r->ckpts < 16)
        r->reason[r->ckpts] = reason;
    r->ckpts++;
}

static inline void rec_clear(struct rec *r)
{
    for (size_t i = 0; r->keep && i < r->n; i++)
        frame_free(&r->out[i]);
    r->n = 0;
}

static inline void rec_free(struct rec *r)
{
    rec_clear(r);
    free(r->out);
    r->out = NULL;
    r->cap = 0;
}

static inline struct colo_compare_config rec_config(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    r->keep = true;
    return (struct colo_compare_config){
        .release = rec_release, .checkpoint = rec_checkpoint, .opaque = r,
    };
}

static inline colo_compare *rec_new_with(struct rec *r, struct colo_compare_config cfg)
{
    colo_compare *c = NULL;
    CU_ASSERT_FATAL(colo_compare_new(&cfg, &c) == 0);
    r->c = c;
    return c;
}

/* A context with the defaults (and a 100 ms timeout), recording into r. */
static inline colo_compare *rec_new(struct rec *r)
{
    struct colo_compare_config cfg = rec_config(r);
    cfg.timeout_ms = 100;
    return rec_new_with(r, cfg);
}

/* The frames released since the last rec_clear are exactly want[0..n),
 * byte for byte and in order. */
static inline bool released_exactly(const struct rec *r, const struct frame *want, size_t n)
{
    if (r->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (r->out[i].len != want[i].len || memcmp(r->out[i].d, want[i].d, want[i].len) != 0)
            return false;
    return true;
}

static inline struct colo_compare_counters counters(const colo_compare *c)
{
    struct colo_compare_counters n;
    colo_compare_get_counters(c, &n);
    return n;
}

static inline uint64_t drops_total(const struct colo_compare_counters *n, int side)
{
    uint64_t t = 0;
    for (int i = 0; i < COLO_DROP__MAX; i++)
        t += n->drops[side][i];
    return t;
}

/* Every frame given is dropped, held, or done (compare.h). */
static inline bool counters_consistent(const colo_compare *c)
{
    struct colo_compare_counters n = counters(c);
    return n.frames_in[COLO_PRIMARY] ==
               drops_total(&n, COLO_PRIMARY) + n.frames_held[COLO_PRIMARY] + n.released &&
           n.frames_in[COLO_SECONDARY] ==
               drops_total(&n, COLO_SECONDARY) + n.frames_held[COLO_SECONDARY] +
                   n.secondary_done &&
           n.mem_used <= n.mem_limit && n.mem_peak <= n.mem_limit;
}

static inline int P(colo_compare *c, const struct frame *f, uint64_t now)
{
    return colo_compare_primary(c, f->d, f->len, now);
}

static inline int S(colo_compare *c, const struct frame *f, uint64_t now)
{
    return colo_compare_secondary(c, f->d, f->len, now);
}

#endif
