/* disk.c - the guest's virtual disk (--disk URI): an NBD export reached
 * with libnbd (in xen-colo, a replication sidecar's "guest" export), a
 * writer thread that parks with the vCPUs, and the record of its writes in
 * guest memory (guest.h), which disk-verify checks against the disk. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-time.h"
#include "guest.h"
#include "macro.h"

static struct sim_disk_hdr *hdr_of(struct guest *g)
{
    return (struct sim_disk_hdr *)(g->mem + g->disk_pfn * SIM_PAGE_SIZE);
}

static uint64_t *table_of(struct guest *g)
{
    return (uint64_t *)(g->mem + (g->disk_pfn + 1) * SIM_PAGE_SIZE);
}

static void mark_record(struct guest *g, uint64_t block)
{
    logdirty_mark(g, g->disk_pfn);
    logdirty_mark(g, g->disk_pfn + 1 + block * 8 / SIM_PAGE_SIZE);
}

static void block_fill(uint8_t *buf, uint64_t block, uint64_t seq)
{
    struct sim_disk_block_head h = { .block = block, .seq = seq };
    memcpy(h.magic, SIM_DISK_BLOCK_MAGIC, sizeof(h.magic));
    memset(buf, (int)((seq * 31 + block) & 0xff), SIM_DISK_BLOCK);
    memcpy(buf, &h, sizeof(h));
}

int disk_open(struct guest *g, const struct sim_params *p, char *why, size_t whylen)
{
    if (g->nr_pages <= SIM_DISK_PAGES + 1) {
        snprintf(why, whylen, "--disk: the guest is too small for the disk's record");
        return -EINVAL;
    }
    g->disk = nbd_create();
    if (!g->disk || nbd_connect_uri(g->disk, p->disk_uri) < 0) {
        snprintf(why, whylen, "--disk %s: %s", p->disk_uri, nbd_get_error());
        return -EIO;
    }
    int64_t size = nbd_get_size(g->disk);
    if (size < (int64_t)SIM_DISK_BLOCK || nbd_is_read_only(g->disk) != 0) {
        snprintf(why, whylen, "--disk %s: %s", p->disk_uri,
                 size < 0 ? nbd_get_error() : size < (int64_t)SIM_DISK_BLOCK
                     ? "smaller than one block" : "read-only");
        return -EINVAL;
    }
    g->disk_rate = p->disk_rate;
    g->disk_pfn = g->nr_pages - SIM_DISK_PAGES;
    /* The vCPUs' workload stays below the record. */
    if (g->hot_set > g->disk_pfn)
        g->hot_set = g->disk_pfn;
    if (g->incoming)
        return 0;  /* the record comes with the checkpoints */
    struct sim_disk_hdr *h = hdr_of(g);
    memcpy(h->magic, SIM_DISK_MAGIC, sizeof(h->magic));
    h->nr_blocks = MIN((uint64_t)size / SIM_DISK_BLOCK, SIM_DISK_BLOCKS_MAX);
    h->seq = 0;
    h->errors = 0;
    h->prng = g->seed ^ 0x6a09e667f3bcc909ull;
    logdirty_mark(g, g->disk_pfn);
    return 0;
}

/* One write and its record. The record's header is read afresh each time:
 * on a secondary it arrives with each checkpoint. */
static void disk_write_one(struct guest *g, uint8_t *buf)
{
    struct sim_disk_hdr *h = hdr_of(g);
    if (memcmp(h->magic, SIM_DISK_MAGIC, sizeof(h->magic)) != 0 || h->nr_blocks == 0 ||
        h->nr_blocks > SIM_DISK_BLOCKS_MAX)
        return;  /* no record (yet): an incoming guest before its state */
    uint64_t block = sim_prng_next(&h->prng) % h->nr_blocks, seq = h->seq + 1;
    block_fill(buf, block, seq);
    if (nbd_pwrite(g->disk, buf, SIM_DISK_BLOCK, block * SIM_DISK_BLOCK, 0) < 0) {
        h->errors++;
        logdirty_mark(g, g->disk_pfn);
        return;
    }
    table_of(g)[block] = seq;
    h->seq = seq;
    mark_record(g, block);
}

static void *disk_main(void *arg)
{
    struct guest *g = arg;
    static _Thread_local uint8_t buf[SIM_DISK_BLOCK];
    uint64_t period = g->disk_rate ? COLO_NS_PER_SEC / g->disk_rate : 0;
    uint64_t due = colo_now_ns();

    for (;;) {
        if (atomic_load_explicit(&g->pause_req, memory_order_acquire) ||
            atomic_load_explicit(&g->stop, memory_order_relaxed)) {
            if (!guest_park(g))
                break;
            due = colo_now_ns();
        }
        disk_write_one(g, buf);
        due += period;
        if (due > colo_now_ns())
            guest_sleep_until(g, due);
        else
            due = colo_now_ns();
    }
    return NULL;
}

int disk_start(struct guest *g)
{
    int r = -pthread_create(&g->disk_tid, NULL, disk_main, g);
    if (r == 0)
        g->disk_started = true;
    return r;
}

void disk_close(struct guest *g)
{
    if (g->disk)
        nbd_close(g->disk);
    g->disk = NULL;
}

int64_t disk_verify(struct guest *g, char *out, size_t outlen)
{
    static uint8_t got[SIM_DISK_BLOCK], want[SIM_DISK_BLOCK];
    struct sim_disk_hdr *h = hdr_of(g);
    uint64_t written = 0;
    int64_t bad = 0;
    char first[160] = "";

    if (!g->disk) {
        snprintf(out, outlen, "the guest has no disk (run --disk)");
        return -EINVAL;
    }
    if (memcmp(h->magic, SIM_DISK_MAGIC, sizeof(h->magic)) != 0 || h->nr_blocks == 0 ||
        h->nr_blocks > SIM_DISK_BLOCKS_MAX) {
        snprintf(out, outlen, "the guest's memory holds no disk record");
        return -EINVAL;
    }
    const uint64_t *table = table_of(g);
    for (uint64_t b = 0; b < h->nr_blocks; b++) {
        if (nbd_pread(g->disk, got, SIM_DISK_BLOCK, b * SIM_DISK_BLOCK, 0) < 0) {
            snprintf(out, outlen, "block %" PRIu64 ": %s", b, nbd_get_error());
            return -EIO;
        }
        if (table[b])
            block_fill(want, b, table[b]), written++;
        else
            memset(want, 0, sizeof(want));
        if (memcmp(got, want, SIM_DISK_BLOCK) == 0)
            continue;
        if (bad++ == 0) {
            struct sim_disk_block_head dh;
            memcpy(&dh, got, sizeof(dh));
            bool ours = memcmp(dh.magic, SIM_DISK_BLOCK_MAGIC, sizeof(dh.magic)) == 0;
            snprintf(first, sizeof(first), "; first: block %" PRIu64 ": memory says write %"
                     PRIu64 ", the disk holds %s %" PRIu64, b, table[b],
                     ours ? "write" : "no write of ours, byte 0 =", ours ? dh.seq : got[0]);
        }
    }
    snprintf(out, outlen, "disk: %" PRIu64 " blocks, %" PRIu64 " written, last write %" PRIu64
             ", %" PRIu64 " refused, %" PRId64 " mismatches%s", h->nr_blocks, written, h->seq,
             h->errors, bad, first);
    return bad;
}
