/*
 * test_block.c - block replication (block/) on real QEMU processes: a
 * primary and a secondary sidecar (qemu-system-x86_64 -M none), each over
 * its own raw image in a mkdtemp directory, replicating over NBD on a unix
 * socket. The "guest" is libnbd on each sidecar's guest export, which is
 * what dom0's nbd-client and the sim guest use. Every test builds its own
 * pair and tears it down; the suite's cleanup removes the directory.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <fcntl.h>
#include <ftw.h>
#include <libnbd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/replication.h"
#include "block/sidecar.h"
#include "colo-time.h"
#include "unit-util.h"

#define DISK_BYTES (8u << 20)
#define CHUNK (64u << 10)

static char dir[64];
static struct unit_logger lg;
static libxlcolo_ctx *ctx;

struct pair {
    char pimg[128], simg[128];
    colo_sidecar *p, *s;
    struct nbd_handle *pg, *sg;  /* the guests' views */
};

static int make_image(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int r = ftruncate(fd, DISK_BYTES);
    close(fd);
    return r;
}

static struct nbd_handle *guest_of(colo_sidecar *sc)
{
    char uri[256];
    struct nbd_handle *h = nbd_create();
    snprintf(uri, sizeof(uri), "nbd+unix:///" COLO_SIDECAR_EXPORT_GUEST "?socket=%s",
             colo_sidecar_nbd(sc)->path);
    if (h && nbd_connect_uri(h, uri) < 0) {
        fprintf(stderr, "nbd %s: %s\n", uri, nbd_get_error());
        nbd_close(h);
        return NULL;
    }
    return h;
}

static void pair_down(struct pair *x)
{
    if (x->pg)
        nbd_close(x->pg);
    if (x->sg)
        nbd_close(x->sg);
    colo_sidecar_stop(x->p);
    colo_sidecar_stop(x->s);
    unlink(x->pimg);
    unlink(x->simg);
    memset(x, 0, sizeof(*x));
}

/* Both sidecars up, each with its guest's view; no replication yet. */
static bool sidecars_up(struct pair *x, const char *tag)
{
    char pdir[128], sdir[128];
    memset(x, 0, sizeof(*x));
    snprintf(x->pimg, sizeof(x->pimg), "%s/%s-p.raw", dir, tag);
    snprintf(x->simg, sizeof(x->simg), "%s/%s-s.raw", dir, tag);
    snprintf(pdir, sizeof(pdir), "%s/%s-p", dir, tag);
    snprintf(sdir, sizeof(sdir), "%s/%s-s", dir, tag);
    colo_sidecar_spec ps = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "xvda",
                             .image = x->pimg, .dir = pdir };
    colo_sidecar_spec ss = { .role = LIBXLCOLO_ROLE_SECONDARY, .name = "xvda",
                             .image = x->simg, .dir = sdir };
    if (make_image(x->pimg) < 0 || make_image(x->simg) < 0 ||
        colo_sidecar_start(ctx, &ss, &x->s) < 0 || colo_sidecar_start(ctx, &ps, &x->p) < 0 ||
        !(x->pg = guest_of(x->p)) || !(x->sg = guest_of(x->s))) {
        fprintf(stderr, "pair %s: %s\n", tag, lg.last);
        pair_down(x);
        return false;
    }
    return true;
}

/* Both sidecars up and replicating, as xl-colo starts them: the secondary
 * first, since the primary's replication node connects to it. */
static bool pair_up(struct pair *x, const char *tag)
{
    if (!sidecars_up(x, tag))
        return false;
    if (colo_rep_secondary_start(colo_sidecar_qmp(x->s), COLO_SIDECAR_DISK,
                                 COLO_SIDECAR_EXPORT_REP) < 0 ||
        colo_rep_primary_start(colo_sidecar_qmp(x->p), colo_sidecar_nbd(x->s),
                               COLO_SIDECAR_EXPORT_REP, COLO_SIDECAR_QUORUM,
                               COLO_SIDECAR_CLIENT) < 0) {
        fprintf(stderr, "pair %s: %s\n", tag, lg.last);
        pair_down(x);
        return false;
    }
    return true;
}

static int fill(struct nbd_handle *h, int byte, uint64_t off, size_t len)
{
    static char buf[DISK_BYTES];
    memset(buf, byte, len);
    return nbd_pwrite(h, buf, len, off, 0) < 0 || nbd_flush(h, 0) < 0 ? -1 : 0;
}

/* Every byte of [off, off+len) is BYTE, through the guest's view. */
static bool reads(struct nbd_handle *h, int byte, uint64_t off, size_t len)
{
    static char buf[DISK_BYTES];
    if (nbd_pread(h, buf, len, off, 0) < 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] != (unsigned char)byte)
            return false;
    return true;
}

/* ... in the image file itself. */
static bool file_holds(const char *path, int byte, uint64_t off, size_t len)
{
    static char buf[DISK_BYTES];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, buf, len, (off_t)off) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] != (unsigned char)byte)
            return false;
    return true;
}

/* A whole view, for comparing two. */
static bool view(struct nbd_handle *h, char *out)
{
    return nbd_pread(h, out, DISK_BYTES, 0, 0) == 0;
}

static int checkpoint(struct pair *x)
{
    int r = colo_rep_checkpoint(colo_sidecar_qmp(x->s));
    return r < 0 ? r : colo_rep_checkpoint(colo_sidecar_qmp(x->p));
}

static void kill_sidecar(colo_sidecar *sc)
{
    CU_ASSERT(kill(colo_sidecar_pid(sc), SIGKILL) == 0);
    CU_ASSERT(colo_wait_fd(colo_sidecar_watch_fd(sc), POLLIN, colo_deadline_ms(10000)) == 0);
}

/* The two image files hold the same bytes. */
static bool files_equal(const char *a, const char *b)
{
    static char ba[DISK_BYTES], bb[DISK_BYTES];
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    bool eq = fa >= 0 && fb >= 0 && pread(fa, ba, DISK_BYTES, 0) == DISK_BYTES &&
              pread(fb, bb, DISK_BYTES, 0) == DISK_BYTES && memcmp(ba, bb, DISK_BYTES) == 0;
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return eq;
}

/* The initial sync's state until its mirror is ready, or, with
 * until_error, until it reads an error (bounded by 20 s). */
static int sync_wait(colo_qmp *p, colo_rep_sync *st, bool until_error)
{
    uint64_t deadline = colo_deadline_ms(20000);
    int r;
    while ((r = colo_rep_sync_poll(p, COLO_SIDECAR_SYNC, 200, st)) == 0 &&
           (until_error || !st->ready))
        if (colo_deadline_passed(deadline))
            return -ETIMEDOUT;
    return r;
}

/* The initial sync: a primary disk with data, a secondary's of zeros; the
 * mirror, the replication joining while it runs, the secondary's
 * replication started last. Then the two are one disk, byte for byte,
 * with every write made before, during and after. */
static void test_initial_sync(void)
{
    static char pv[DISK_BYTES], sv[DISK_BYTES];
    struct pair x;
    colo_rep_sync st = { 0 };
    CU_ASSERT_FATAL(sidecars_up(&x, "t0"));
    colo_qmp *p = colo_sidecar_qmp(x.p), *s = colo_sidecar_qmp(x.s);
    for (unsigned i = 0; i < DISK_BYTES / CHUNK; i++)
        CU_ASSERT(fill(x.pg, 0x80 + (int)(i % 64), (uint64_t)i * CHUNK, CHUNK) == 0);
    CU_ASSERT(file_holds(x.simg, 0, 0, DISK_BYTES));
    CU_ASSERT_FATAL(colo_rep_secondary_export(s, COLO_SIDECAR_DISK, COLO_SIDECAR_EXPORT_REP) == 0);
    CU_ASSERT_FATAL(colo_rep_sync_start(p, colo_sidecar_nbd(x.s), COLO_SIDECAR_EXPORT_REP,
                                        COLO_SIDECAR_DISK, COLO_SIDECAR_SYNC) == 0);
    CU_ASSERT(fill(x.pg, 0x11, 1u << 20, CHUNK) == 0);
    CU_ASSERT(sync_wait(p, &st, false) == 0);
    CU_ASSERT(st.ready && st.total >= DISK_BYTES && st.done == st.total);
    /* Ready: a write completes on both sides at once. */
    CU_ASSERT(fill(x.pg, 0x12, 2u << 20, CHUNK) == 0);
    CU_ASSERT(file_holds(x.simg, 0x12, 2u << 20, CHUNK));
    CU_ASSERT(colo_rep_primary_start(p, colo_sidecar_nbd(x.s), COLO_SIDECAR_EXPORT_REP,
                                     COLO_SIDECAR_QUORUM, COLO_SIDECAR_CLIENT) == 0);
    CU_ASSERT(fill(x.pg, 0x13, 3u << 20, CHUNK) == 0);
    CU_ASSERT(colo_rep_sync_finish(p, COLO_SIDECAR_SYNC, 10000) == 0);
    /* The mirror gone, the replication alone carries the writes. */
    CU_ASSERT(fill(x.pg, 0x14, 4u << 20, CHUNK) == 0);
    CU_ASSERT(file_holds(x.simg, 0x14, 4u << 20, CHUNK));
    CU_ASSERT(colo_rep_secondary_enable(s) == 0);
    CU_ASSERT(fill(x.pg, 0x15, 5u << 20, CHUNK) == 0);
    CU_ASSERT(checkpoint(&x) == 0);
    CU_ASSERT(view(x.pg, pv) && view(x.sg, sv));
    CU_ASSERT(memcmp(pv, sv, DISK_BYTES) == 0);
    CU_ASSERT(files_equal(x.pimg, x.simg));
    pair_down(&x);
}

/* A sync whose secondary dies: the poll says so, in QEMU's words. */
static void test_initial_sync_secondary_dies(void)
{
    char want[256];
    struct pair x;
    colo_rep_sync st = { 0 };
    CU_ASSERT_FATAL(sidecars_up(&x, "t9"));
    colo_qmp *p = colo_sidecar_qmp(x.p);
    CU_ASSERT_FATAL(colo_rep_secondary_export(colo_sidecar_qmp(x.s), COLO_SIDECAR_DISK,
                                              COLO_SIDECAR_EXPORT_REP) == 0);
    CU_ASSERT_FATAL(colo_rep_sync_start(p, colo_sidecar_nbd(x.s), COLO_SIDECAR_EXPORT_REP,
                                        COLO_SIDECAR_DISK, COLO_SIDECAR_SYNC) == 0);
    CU_ASSERT(sync_wait(p, &st, false) == 0);
    kill_sidecar(x.s);
    CU_ASSERT(colo_sidecar_check(x.s) == -ESRCH);
    /* The next guest write is the mirror's too: it cannot reach the
     * target, and the job ends (within its 100 ms slice). */
    (void)fill(x.pg, 0x21, 0, CHUNK);
    CU_ASSERT(sync_wait(p, &st, true) == -EIO);
    snprintf(want, sizeof(want), "disk xvda: qmp %s/t9-p/qmp.sock: the initial sync failed: "
             "Input/output error", dir);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    pair_down(&x);
}

/* 1. */
static void test_primary_write_reaches_secondary(void)
{
    struct pair x;
    CU_ASSERT_FATAL(pair_up(&x, "t1"));
    CU_ASSERT(fill(x.pg, 0x5a, 0, CHUNK) == 0);
    CU_ASSERT(file_holds(x.pimg, 0x5a, 0, CHUNK));
    CU_ASSERT(file_holds(x.simg, 0x5a, 0, CHUNK));
    pair_down(&x);
}

/* 2. */
static void test_secondary_write_stays_in_active_disk(void)
{
    struct pair x;
    CU_ASSERT_FATAL(pair_up(&x, "t2"));
    CU_ASSERT(fill(x.sg, 0x77, 4u << 20, CHUNK) == 0);
    CU_ASSERT(reads(x.sg, 0x77, 4u << 20, CHUNK));
    CU_ASSERT(file_holds(x.simg, 0, 4u << 20, CHUNK));
    CU_ASSERT(reads(x.pg, 0, 4u << 20, CHUNK));
    /* The checkpoint drops it: the secondary's view is the primary's again. */
    CU_ASSERT(checkpoint(&x) == 0);
    CU_ASSERT(reads(x.sg, 0, 4u << 20, CHUNK));
    pair_down(&x);
}

/* 3. */
static void test_checkpoint_makes_views_equal(void)
{
    static char pv[DISK_BYTES], sv[DISK_BYTES];
    struct pair x;
    CU_ASSERT_FATAL(pair_up(&x, "t3"));
    for (unsigned i = 0; i < 16; i++) {
        CU_ASSERT(fill(x.pg, 0x10 + i, (uint64_t)(i * 7 % 128) * CHUNK, CHUNK) == 0);
        CU_ASSERT(fill(x.sg, 0xe0 + i, (uint64_t)(i * 5 % 128) * CHUNK, CHUNK) == 0);
    }
    CU_ASSERT(view(x.pg, pv) && view(x.sg, sv));
    CU_ASSERT(memcmp(pv, sv, DISK_BYTES) != 0);
    CU_ASSERT(checkpoint(&x) == 0);
    CU_ASSERT(view(x.pg, pv) && view(x.sg, sv));
    CU_ASSERT(memcmp(pv, sv, DISK_BYTES) == 0);
    pair_down(&x);
}

/* 4. */
static void test_primary_killed_secondary_at_checkpoint(void)
{
    static char at_ckpt[DISK_BYTES], after[DISK_BYTES];
    struct pair x;
    CU_ASSERT_FATAL(pair_up(&x, "t4"));
    CU_ASSERT(fill(x.pg, 0x5a, 0, 1u << 20) == 0);
    CU_ASSERT(checkpoint(&x) == 0);
    CU_ASSERT(view(x.pg, at_ckpt));
    /* After the checkpoint: the primary writes, which must roll back. */
    CU_ASSERT(fill(x.pg, 0x33, 2u << 20, CHUNK) == 0);
    CU_ASSERT(fill(x.pg, 0x34, 0, CHUNK) == 0);
    CU_ASSERT(file_holds(x.simg, 0x33, 2u << 20, CHUNK));
    kill_sidecar(x.p);
    CU_ASSERT(colo_sidecar_check(x.p) == -ESRCH);
    CU_ASSERT(strstr(lg.last, "disk xvda: sidecar (pid ") != NULL &&
              strstr(lg.last, ") died: killed by signal 9") != NULL);
    CU_ASSERT(colo_rep_failover_secondary(colo_sidecar_qmp(x.s), COLO_SIDECAR_EXPORT_REP,
                                          10000) == 0);
    CU_ASSERT(view(x.sg, after));
    CU_ASSERT(memcmp(at_ckpt, after, DISK_BYTES) == 0);
    /* The secondary is the disk now: its writes stay, down to the image. */
    CU_ASSERT(fill(x.sg, 0x44, 6u << 20, CHUNK) == 0);
    CU_ASSERT(reads(x.sg, 0x44, 6u << 20, CHUNK));
    CU_ASSERT(file_holds(x.simg, 0x44, 6u << 20, CHUNK));
    CU_ASSERT(file_holds(x.simg, 0, 2u << 20, CHUNK));
    colo_rep_status st;
    CU_ASSERT(colo_rep_status_read(colo_sidecar_qmp(x.s), &st) == 0 && !st.error);
    pair_down(&x);
}

/* 5, and the status error read on a real QEMU. */
static void test_secondary_killed_primary_fails_over(void)
{
    struct pair x;
    colo_rep_status st;
    CU_ASSERT_FATAL(pair_up(&x, "t5"));
    CU_ASSERT(fill(x.pg, 0x5a, 0, CHUNK) == 0);
    CU_ASSERT(checkpoint(&x) == 0);
    nbd_close(x.sg);
    x.sg = NULL;
    kill_sidecar(x.s);
    /* The guest's writes go on, but replication is broken, and says so. */
    CU_ASSERT(fill(x.pg, 0x66, 3u << 20, CHUNK) == 0);
    CU_ASSERT(colo_rep_status_read(colo_sidecar_qmp(x.p), &st) == 0);
    CU_ASSERT(st.error);
    CU_ASSERT_STRING_EQUAL(st.desc, "I/O error occurred");
    CU_ASSERT(colo_rep_checkpoint(colo_sidecar_qmp(x.p)) == -EIO);
    char want[256];
    snprintf(want, sizeof(want), "disk xvda: qmp %s/t5-p/qmp.sock: replication status after "
             "the checkpoint: error: I/O error occurred", dir);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT(colo_rep_failover_primary(colo_sidecar_qmp(x.p), COLO_SIDECAR_CLIENT) == 0);
    CU_ASSERT(colo_rep_status_read(colo_sidecar_qmp(x.p), &st) == 0 && !st.error);
    CU_ASSERT(fill(x.pg, 0x67, 3u << 20, CHUNK) == 0);
    CU_ASSERT(reads(x.pg, 0x67, 3u << 20, CHUNK));
    CU_ASSERT(file_holds(x.pimg, 0x67, 3u << 20, CHUNK));
    /* The client is out of the graph: a second removal finds nothing. */
    CU_ASSERT(colo_rep_failover_primary(colo_sidecar_qmp(x.p), COLO_SIDECAR_CLIENT) ==
              -ENOENT);
    snprintf(want, sizeof(want), "disk xvda: qmp %s/t5-p/qmp.sock: x-debug-query-block-graph: "
             "no node " COLO_SIDECAR_CLIENT, dir);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    pair_down(&x);
}

/* 7: each misuse of xen-set-replication gets QEMU's refusal, or ours for
 * the one QEMU would pass over. */
/* One misuse: r is expect and the line logged has want in it; else what
 * came, on stderr (CUnit shows only the expression). */
static void misuse_is(int r, int expect, const char *want, const char *what)
{
    bool ok = r == expect && strstr(lg.last, want) != NULL;
    if (!ok)
        fprintf(stderr, "%s: %d (%s), expected %d and \"%s\"\n", what, r, lg.last, expect,
                want);
    CU_ASSERT(ok);
}

static void test_set_replication_misuse(void)
{
    struct pair x;
    char want[256];
    CU_ASSERT_FATAL(pair_up(&x, "t7"));
    colo_qmp *p = colo_sidecar_qmp(x.p), *s = colo_sidecar_qmp(x.s);

    snprintf(want, sizeof(want), "disk xvda: qmp %s/t7-p/qmp.sock: xen-set-replication: "
             "Parameter 'failover' is only for stopping replication", dir);
    misuse_is(colo_rep_set(p, true, true, true), -EINVAL, want, "primary enable failover");
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    snprintf(want, sizeof(want), "disk xvda: qmp %s/t7-s/qmp.sock: xen-set-replication "
             "failed: GenericError: Block replication is running or done", dir);
    misuse_is(colo_rep_set(s, true, false, false), -EREMOTEIO, want, "secondary enable");
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    misuse_is(colo_rep_set(s, true, true, false), -EREMOTEIO,
              "Block replication is running or done", "secondary enable primary");
    misuse_is(colo_rep_set(p, true, false, false), -EREMOTEIO,
              "Block replication is running or done", "primary enable secondary");
    /* A secondary cannot stop without failover: QEMU's words. */
    misuse_is(colo_rep_set(s, false, false, false), -EREMOTEIO,
              "Backup job was cancelled unexpectedly", "secondary stop");
    pair_down(&x);
}

/* The primary's clean stop: replication off, the client out of the graph,
 * the guest's disk going on alone. */
static void test_primary_clean_stop(void)
{
    struct pair x;
    colo_rep_status st;
    CU_ASSERT_FATAL(pair_up(&x, "t6"));
    colo_qmp *p = colo_sidecar_qmp(x.p);
    CU_ASSERT(fill(x.pg, 0x21, 0, CHUNK) == 0);
    CU_ASSERT(checkpoint(&x) == 0);
    CU_ASSERT(reads(x.sg, 0x21, 0, CHUNK));
    CU_ASSERT(colo_rep_stop_primary(p, COLO_SIDECAR_CLIENT) == 0);
    CU_ASSERT(colo_rep_status_read(p, &st) == 0 && !st.error);
    CU_ASSERT(fill(x.pg, 0x22, CHUNK, CHUNK) == 0);
    CU_ASSERT(file_holds(x.pimg, 0x22, CHUNK, CHUNK));
    CU_ASSERT(file_holds(x.simg, 0, CHUNK, CHUNK));
    pair_down(&x);
}

/* 7: a sidecar that hangs mid-checkpoint is a timeout in one line, and its
 * death is said in one line. */
static void test_sidecar_hangs_then_dies(void)
{
    struct pair x;
    char want[256];
    CU_ASSERT_FATAL(pair_up(&x, "t8"));
    colo_qmp *s = colo_sidecar_qmp(x.s);
    CU_ASSERT(colo_sidecar_check(x.s) == 0);
    CU_ASSERT(kill(colo_sidecar_pid(x.s), SIGSTOP) == 0);
    colo_qmp_set_timeout(s, 300);
    CU_ASSERT(colo_rep_checkpoint(s) == -ETIMEDOUT);
    snprintf(want, sizeof(want), "disk xvda: qmp %s/t8-s/qmp.sock: reply to "
             "xen-colo-do-checkpoint: no reply in 300 ms", dir);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    kill_sidecar(x.s);
    CU_ASSERT(colo_sidecar_check(x.s) == -ESRCH);
    snprintf(want, sizeof(want), "disk xvda: sidecar (pid %d) died: killed by signal 9",
             (int)colo_sidecar_pid(x.s));
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT(colo_rep_checkpoint(s) == -ENOTCONN);
    pair_down(&x);
}

/* The sidecar's own refusals, and its recovery of a crashed run's QEMU. */
static void test_sidecar_start_errors_and_recovery(void)
{
    char img[128], sdir[128], want[300];
    colo_sidecar *sc = NULL, *sc2 = NULL;
    snprintf(img, sizeof(img), "%s/r.raw", dir);
    snprintf(sdir, sizeof(sdir), "%s/r", dir);
    CU_ASSERT_FATAL(make_image(img) == 0);

    colo_sidecar_spec bad = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "a/b", .image = img,
                              .dir = sdir };
    CU_ASSERT(colo_sidecar_start(ctx, &bad, &sc) == -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "sidecar: 'a/b' is not a disk name ([A-Za-z0-9_.-], "
                           "1 to 31 characters)");
    colo_sidecar_spec noimg = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "d", .image = "/nonexistent",
                                .dir = sdir };
    CU_ASSERT(colo_sidecar_start(ctx, &noimg, &sc) == -ENOENT);
    CU_ASSERT_STRING_EQUAL(lg.last, "disk d: image /nonexistent");
    colo_sidecar_spec noqemu = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "d", .image = img,
                                 .dir = sdir, .qemu = "/nonexistent/qemu" };
    CU_ASSERT(colo_sidecar_start(ctx, &noqemu, &sc) == -ENOENT);
    CU_ASSERT_STRING_EQUAL(lg.last, "disk d: cannot run /nonexistent/qemu");
    struct stat st;
    CU_ASSERT(stat(sdir, &st) < 0 && errno == ENOENT);
    /* A directory that is not private is refused, and left as it was. */
    char open_dir[128], kept[160];
    snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
    snprintf(kept, sizeof(kept), "%s/qemu.log", open_dir);
    CU_ASSERT_FATAL(mkdir(open_dir, 0755) == 0 && make_image(kept) == 0);
    colo_sidecar_spec shared = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "d", .image = img,
                                 .dir = open_dir };
    CU_ASSERT(colo_sidecar_start(ctx, &shared, &sc) == -EPERM);
    snprintf(want, sizeof(want), "disk d: sidecar directory %s is not a directory of ours "
             "with mode 0700", open_dir);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT(stat(kept, &st) == 0);

    /* A run that "crashed": its QEMU is still there, its directory kept. */
    colo_sidecar_spec ok = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "d", .image = img,
                             .dir = sdir };
    CU_ASSERT_FATAL(colo_sidecar_start(ctx, &ok, &sc) == 0);
    pid_t old = colo_sidecar_pid(sc);
    CU_ASSERT(colo_sidecar_start(ctx, &ok, &sc2) == 0);
    snprintf(want, sizeof(want), "disk d: killing the sidecar an earlier run left (pid %d)",
             (int)old);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT(colo_wait_fd(colo_sidecar_watch_fd(sc), POLLIN, colo_deadline_ms(0)) == 0);
    CU_ASSERT(colo_sidecar_check(sc) == -ESRCH);
    CU_ASSERT(sc2 && colo_sidecar_check(sc2) == 0);
    colo_sidecar_stop(sc2);
    CU_ASSERT(stat(sdir, &st) < 0 && errno == ENOENT);
    /* sc's directory is sc2's, gone already; sc only reaps and frees. */
    colo_sidecar_stop(sc);
    unlink(img);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int suite_init(void)
{
    snprintf(dir, sizeof(dir), "/tmp/colo-block-XXXXXX");
    if (!mkdtemp(dir))
        return unit_setup_error("mkdtemp: %m");
    if (access(COLO_SIDECAR_QEMU, X_OK) < 0)
        return unit_setup_error("%s: %m (Debian package qemu-system-x86)", COLO_SIDECAR_QEMU);
    ctx = unit_ctx_with(&lg);
    return 0;
}

static int suite_clean(void)
{
    unit_ctx_free(ctx);
    if (dir[0] && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return unit_setup_error("remove %s: %m", dir);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the initial sync: the secondary's disk becomes the primary's", test_initial_sync },
        { "the initial sync: its secondary dies", test_initial_sync_secondary_dies },
        { "1. a primary write reaches the secondary's disk", test_primary_write_reaches_secondary },
        { "2. a secondary write stays in the active disk until a checkpoint",
          test_secondary_write_stays_in_active_disk },
        { "3. after a checkpoint the views are equal", test_checkpoint_makes_views_equal },
        { "4. primary SIGKILLed: the secondary's disk is the last checkpoint",
          test_primary_killed_secondary_at_checkpoint },
        { "5. secondary SIGKILLed: status error, primary fails over and goes on",
          test_secondary_killed_primary_fails_over },
        { "7. set-replication misuse: one line each", test_set_replication_misuse },
        { "the primary's clean stop", test_primary_clean_stop },
        { "7. a sidecar hangs mid-checkpoint, then dies", test_sidecar_hangs_then_dies },
        { "sidecar: bad spec, no QEMU, recovery of a crashed run's",
          test_sidecar_start_errors_and_recovery },
        { NULL, NULL },
    };
    return unit_run("block", suite_init, suite_clean, tests);
}
