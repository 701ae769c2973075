/*
 * colo-bench-disk.c - the disk part of a checkpoint against the number of
 * dirty blocks, on a real pair of replication sidecars (block/), with its
 * baseline measured in the same run.
 *
 * Each round writes N random 64 KiB blocks through the primary's guest
 * export (libnbd, as a guest would; not timed), then times one disk
 * checkpoint. Rounds alternate between:
 *   xen-colo  colo_rep_checkpoint() on the secondary then the primary:
 *             xen-colo-do-checkpoint and query-xen-replication-status on
 *             each, the status's error read (what the engine does)
 *   bare      xen-colo-do-checkpoint on the secondary alone, nothing read
 *             after: the plain QEMU secondary checkpoint that
 *             ../shared/qemu-colo/rep_demo.py times (about 10 ms there)
 * and the table gives the median and p90 of each, and their ratio.
 */
#include "config.h"

#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/replication.h"
#include "block/sidecar.h"
#include "colo-time.h"

#define DISK_BYTES (256ull << 20)
#define BLOCK (64u << 10)
#define NR_BLOCKS (DISK_BYTES / BLOCK)

static const unsigned dirty_counts[] = { 0, 16, 256, 1024 };

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, unsigned n, unsigned p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    return (double)v[(n - 1) * p / 100] / 1e6;
}


static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static int make_image(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int r = fd < 0 ? -1 : ftruncate(fd, (off_t)DISK_BYTES);
    if (fd >= 0)
        close(fd);
    return r;
}

static int dirty(struct nbd_handle *h, unsigned n, const char *buf)
{
    for (unsigned i = 0; i < n; i++)
        if (nbd_pwrite(h, buf, BLOCK, (rng() % NR_BLOCKS) * BLOCK, 0) < 0)
            return -1;
    return nbd_flush(h, 0);
}

int main(int argc, char **argv)
{
    unsigned rounds = 20;
    int c;
    static const struct option lopts[] = { { "rounds", required_argument, NULL, 'r' },
                                           { "help", no_argument, NULL, 'h' },
                                           { NULL, 0, NULL, 0 } };
    while ((c = getopt_long(argc, argv, "r:h", lopts, NULL)) != -1) {
        if (c == 'r' && atoi(optarg) >= 2 && atoi(optarg) <= 10000) {
            rounds = (unsigned)atoi(optarg);
        } else {
            fprintf(c == 'h' ? stdout : stderr, "usage: colo-bench-disk [--rounds N (2..10000)]\n");
            return c == 'h' ? 0 : 2;
        }
    }

    /* libxentoollog's own stderr logger, warnings and worse. */
    xentoollog_logger_stdiostream *lg = xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
    libxlcolo_ctx *ctx = NULL;
    if (!lg || libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, (xentoollog_logger *)lg) < 0)
        return 1;

    char dir[] = "/tmp/colo-bench-disk-XXXXXX", pimg[64], simg[64], pdir[64], sdir[64], uri[160];
    if (!mkdtemp(dir)) {
        perror("colo-bench-disk: mkdtemp");
        return 1;
    }
    snprintf(pimg, sizeof(pimg), "%s/p.raw", dir);
    snprintf(simg, sizeof(simg), "%s/s.raw", dir);
    snprintf(pdir, sizeof(pdir), "%s/p", dir);
    snprintf(sdir, sizeof(sdir), "%s/s", dir);
    colo_sidecar *p = NULL, *s = NULL;
    struct nbd_handle *h = NULL;
    int rc = 1;
    colo_sidecar_spec ps = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "bench", .image = pimg,
                             .dir = pdir };
    colo_sidecar_spec ss = { .role = LIBXLCOLO_ROLE_SECONDARY, .name = "bench", .image = simg,
                             .dir = sdir };
    if (make_image(pimg) < 0 || make_image(simg) < 0 ||
        colo_sidecar_start(ctx, &ss, &s) < 0 || colo_sidecar_start(ctx, &ps, &p) < 0 ||
        colo_rep_secondary_start(colo_sidecar_qmp(s), COLO_SIDECAR_DISK, COLO_SIDECAR_EXPORT_REP) < 0 ||
        colo_rep_primary_start(colo_sidecar_qmp(p), colo_sidecar_nbd(s), COLO_SIDECAR_EXPORT_REP,
                               COLO_SIDECAR_DISK, COLO_SIDECAR_CLIENT) < 0)
        goto out;
    snprintf(uri, sizeof(uri), "nbd+unix:///" COLO_SIDECAR_EXPORT_GUEST "?socket=%s",
             colo_sidecar_nbd(p)->path);
    if (!(h = nbd_create()) || nbd_connect_uri(h, uri) < 0) {
        fprintf(stderr, "colo-bench-disk: %s: %s\n", uri, nbd_get_error());
        goto out;
    }

    static char buf[BLOCK];
    memset(buf, 0xa5, sizeof(buf));
    uint64_t *ours = calloc(rounds, sizeof(*ours)), *bare = calloc(rounds, sizeof(*bare));
    if (!ours || !bare)
        goto out_free;
    printf("# disk checkpoint: %u rounds per row; %llu MiB disk, %u KiB blocks; sidecars "
           "qemu-system-x86_64 -M none, NBD on unix sockets\n", rounds,
           (unsigned long long)(DISK_BYTES >> 20), BLOCK >> 10);
    printf("%-12s %12s %12s %12s %12s %10s\n", "dirty blocks", "xen-colo p50", "xen-colo p90",
           "bare p50", "bare p90", "ratio p50");
    for (size_t k = 0; k < sizeof(dirty_counts) / sizeof(dirty_counts[0]); k++) {
        unsigned n = dirty_counts[k];
        for (unsigned i = 0; i < 2 * rounds; i++) {
            if (dirty(h, n, buf) < 0) {
                fprintf(stderr, "colo-bench-disk: write: %s\n", nbd_get_error());
                goto out_free;
            }
            uint64_t t0 = colo_now_ns();
            int r;
            if (i % 2 == 0) {
                r = colo_rep_checkpoint(colo_sidecar_qmp(s));
                if (r == 0)
                    r = colo_rep_checkpoint(colo_sidecar_qmp(p));
                ours[i / 2] = colo_now_ns() - t0;
            } else {
                r = colo_qmp_execute(colo_sidecar_qmp(s), "xen-colo-do-checkpoint", NULL, 0,
                                     NULL, NULL);
                bare[i / 2] = colo_now_ns() - t0;
            }
            if (r < 0)
                goto out_free;
        }
        double o50 = pct_ms(ours, rounds, 50), o90 = pct_ms(ours, rounds, 90);
        double b50 = pct_ms(bare, rounds, 50), b90 = pct_ms(bare, rounds, 90);
        printf("%-12u %9.2f ms %9.2f ms %9.2f ms %9.2f ms %9.2fx\n", n, o50, o90, b50, b90,
               b50 > 0 ? o50 / b50 : 0.0);
    }
    rc = 0;
out_free:
    free(ours);
    free(bare);
out:
    if (h)
        nbd_close(h);
    colo_sidecar_stop(p);
    colo_sidecar_stop(s);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    libxlcolo_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return rc;
}
