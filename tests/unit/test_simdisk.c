/*
 * test_simdisk.c - the sim guest's virtual disk (colo-simguest run --disk):
 * real colo-simguest processes writing through libnbd to a real
 * replication sidecar pair's primary export (block/), and disk-verify, the
 * check of the guest's record of its writes against the disk.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <libnbd.h>

#include "sim-util.h"
#include "block/replication.h"
#include "block/sidecar.h"

#define DISK_BYTES (4u << 20)
#define PROGRESS_MS 20000  /* bound on waiting for the guest's writes */

static colo_sidecar *pri, *sec;
static char uri_p[200];

static int make_image(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int r = fd < 0 ? -1 : ftruncate(fd, DISK_BYTES);
    if (fd >= 0)
        close(fd);
    return r;
}

/* disk-verify's line and exit status. */
static int verify(const char *name, char *out, size_t cap)
{
    return sg(out, cap, "disk-verify", "--rundir", fx.dir, "--name", name, NULL);
}

/* "... N written ...": the number of blocks written, or -1. */
static long written_of(const char *line)
{
    const char *w = strstr(line, " written");
    if (!w)
        return -1;
    while (w > line && w[-1] >= '0' && w[-1] <= '9')
        w--;
    return atol(w);
}

/* Pause, verify, unpause, until the guest has written at least n blocks
 * (bounded by PROGRESS_MS): the last line, and whether it got there. */
static bool wait_written(const char *name, long n, char *out, size_t cap)
{
    uint64_t deadline = colo_deadline_ms(PROGRESS_MS);
    do {
        if (verify(name, out, cap) != 0)
            return false;
        if (written_of(out) >= n)
            return true;
        window_ms(20);
    } while (!colo_deadline_passed(deadline));
    return false;
}

/* Read both guest views whole. */
static bool views_equal(void)
{
    static char a[DISK_BYTES], b[DISK_BYTES];
    char u[200];
    struct nbd_handle *p = nbd_create(), *s = nbd_create();
    snprintf(u, sizeof(u), "nbd+unix:///guest?socket=%s", colo_sidecar_nbd(sec)->path);
    bool ok = p && s && nbd_connect_uri(p, uri_p) == 0 && nbd_connect_uri(s, u) == 0 &&
              nbd_pread(p, a, DISK_BYTES, 0, 0) == 0 && nbd_pread(s, b, DISK_BYTES, 0, 0) == 0 &&
              memcmp(a, b, DISK_BYTES) == 0;
    if (p)
        nbd_close(p);
    if (s)
        nbd_close(s);
    return ok;
}

static void test_writes_recorded_and_verified(void)
{
    char out[512];
    pid_t pid = start_guest("d1", "--mem", "32M", "--disk", uri_p, "--disk-rate", "2000");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT(wait_written("d1", 50, out, sizeof(out)));
    CU_ASSERT(strstr(out, "disk: 1024 blocks, ") == out);
    CU_ASSERT(NULL != strstr(out, " 0 refused, 0 mismatches"));

    /* The guest's writes went through replication: after a disk
     * checkpoint with the guest paused, the secondary sees what it wrote. */
    CU_ASSERT(sg(out, sizeof(out), "pause", "--rundir", fx.dir, "--name", "d1", NULL) == 0);
    CU_ASSERT(colo_rep_checkpoint(colo_sidecar_qmp(sec)) == 0);
    CU_ASSERT(colo_rep_checkpoint(colo_sidecar_qmp(pri)) == 0);
    CU_ASSERT(views_equal());
    CU_ASSERT(verify("d1", out, sizeof(out)) == 0);

    /* A write behind the guest's back: disk-verify says which block. */
    struct nbd_handle *h = nbd_create();
    static char junk[4096];
    memset(junk, 0x5a, sizeof(junk));
    CU_ASSERT_FATAL(h && nbd_connect_uri(h, uri_p) == 0);
    CU_ASSERT(nbd_pwrite(h, junk, sizeof(junk), 7 * 4096, 0) == 0);
    nbd_close(h);
    CU_ASSERT(verify("d1", out, sizeof(out)) == 1);
    CU_ASSERT(NULL != strstr(out, " 1 mismatches; first: block 7: memory says write "));
    CU_ASSERT(NULL != strstr(out, ", the disk holds no write of ours, byte 0 = 90\n"));
    CU_ASSERT(sg(out, sizeof(out), "destroy", "--rundir", fx.dir, "--name", "d1", NULL) == 0);
    CU_ASSERT(reap(pid, WAIT_MS) >= 0);
}

static void test_bad_disk(void)
{
    char out[512];
    CU_ASSERT(sg(out, sizeof(out), "run", "--rundir", fx.dir, "--name", "d2", "--disk",
                 "nbd+unix:///guest?socket=/nonexistent.sock", NULL) == 1);
    CU_ASSERT(strstr(out, "colo-simguest: --disk nbd+unix:///guest?socket=/nonexistent.sock: ")
              == out);
    CU_ASSERT(sg(out, sizeof(out), "run", "--rundir", fx.dir, "--name", "d2", "--disk", uri_p,
                 "--disk-rate", "0", NULL) == 1);
    CU_ASSERT_STRING_EQUAL(out, "colo-simguest run: --disk-rate 0: must be 1..100000 "
                           "writes/s\n");
    /* A guest without a disk has nothing to verify. */
    pid_t pid = start_guest("d3", "--mem", "16M");
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT(verify("d3", out, sizeof(out)) == 1);
    CU_ASSERT(NULL != strstr(out, "the guest has no disk (run --disk)"));
    CU_ASSERT(sg(out, sizeof(out), "destroy", "--rundir", fx.dir, "--name", "d3", NULL) == 0);
    CU_ASSERT(reap(pid, WAIT_MS) >= 0);
}

static int suite_init(void)
{
    char pimg[128], simg[128], pdir[128], sdir[128];
    if (sim_fixture_init())
        return 1;
    snprintf(pimg, sizeof(pimg), "%s/p.raw", fx.dir);
    snprintf(simg, sizeof(simg), "%s/s.raw", fx.dir);
    snprintf(pdir, sizeof(pdir), "%s/p", fx.dir);
    snprintf(sdir, sizeof(sdir), "%s/s", fx.dir);
    colo_sidecar_spec ps = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "xvda", .image = pimg,
                             .dir = pdir };
    colo_sidecar_spec ss = { .role = LIBXLCOLO_ROLE_SECONDARY, .name = "xvda", .image = simg,
                             .dir = sdir };
    if (make_image(pimg) < 0 || make_image(simg) < 0 ||
        colo_sidecar_start(fx.ctx, &ss, &sec) < 0 || colo_sidecar_start(fx.ctx, &ps, &pri) < 0 ||
        colo_rep_secondary_start(colo_sidecar_qmp(sec), COLO_SIDECAR_DISK, COLO_SIDECAR_EXPORT_REP) < 0 ||
        colo_rep_primary_start(colo_sidecar_qmp(pri), colo_sidecar_nbd(sec),
                               COLO_SIDECAR_EXPORT_REP, COLO_SIDECAR_QUORUM,
                               COLO_SIDECAR_CLIENT) < 0) {
        unit_setup_error("replication sidecars: %s", fx.lg.last);
        colo_sidecar_stop(pri);
        colo_sidecar_stop(sec);
        sim_fixture_fini();
        return 1;
    }
    snprintf(uri_p, sizeof(uri_p), "nbd+unix:///guest?socket=%s", colo_sidecar_nbd(pri)->path);
    return 0;
}

static int suite_clean(void)
{
    colo_sidecar_stop(pri);
    colo_sidecar_stop(sec);
    sim_fixture_fini();
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "a sim guest's disk writes: recorded, replicated, verified",
          test_writes_recorded_and_verified },
        { "bad --disk, --disk-rate; verify without a disk", test_bad_disk },
        { NULL, NULL },
    };
    return unit_run("simdisk", suite_init, suite_clean, tests);
}
