/* hash.c - the guest digest (digest.h) computed inside the guest.
 *
 * Only the memfd's data ranges are read (SEEK_DATA/SEEK_HOLE): reading a
 * tmpfs hole through the mapping would allocate it, and a hole is an
 * all-zero page the digest skips anyway. The caller pauses the guest. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend/digest.h"
#include "guest.h"
#include "macro.h"

static void digest_freep(colo_digest **d) { colo_digest_free(*d); }

int guest_hash(struct guest *g, uint8_t out[32], char *why, size_t whylen)
{
    _cleanup_(digest_freep) colo_digest *d = NULL;
    uint8_t ctx[SIM_CTX_SIZE(SIM_MAX_VCPUS)];
    off_t pos = 0, end = (off_t)g->mem_bytes;
    int len, r;

    len = guest_context_get(g, ctx, sizeof(ctx), why, whylen);
    if (len < 0)
        return len;
    r = colo_digest_new(&d);
    if (r < 0) {
        snprintf(why, whylen, "cannot set up SHA-256");
        return r;
    }
    while (pos < end) {
        off_t data = lseek(g->memfd, pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            break; /* only holes from here on */
        if (data < 0) {
            r = negative_errno();
            snprintf(why, whylen, "SEEK_DATA on guest memory: %s", strerror(-r));
            return r;
        }
        off_t hole = lseek(g->memfd, data, SEEK_HOLE);
        if (hole < 0) {
            r = negative_errno();
            snprintf(why, whylen, "SEEK_HOLE on guest memory: %s", strerror(-r));
            return r;
        }
        uint64_t first = (uint64_t)data / SIM_PAGE_SIZE;
        uint64_t last = DIV_ROUND_UP((uint64_t)MIN(hole, end), SIM_PAGE_SIZE);
        for (uint64_t pfn = first; pfn < last; pfn++)
            colo_digest_page(d, pfn, g->mem + pfn * SIM_PAGE_SIZE);
        pos = (off_t)(last * SIM_PAGE_SIZE);
    }
    colo_digest_context(d, ctx, (size_t)len);
    colo_digest_final(d, out);
    return 0;
}
