/*
 * disk-pair.c - for the shell tests: a primary and a secondary replication
 * sidecar (block/sidecar.h) over two fresh, equal raw images, with their
 * replication started (the secondary first), as an operator would set
 * them up before `xl-colo start --disk`. Then it lets go of their QMP
 * sockets (QEMU serves one client at a time: xl-colo's) and waits for
 * SIGTERM or SIGINT, on which it stops both and removes DIR's files.
 *
 *   disk-pair DIR MIB
 * prints, then "ready":
 *   primary-qmp PATH      secondary-qmp PATH
 *   primary-guest URI     secondary-guest URI    (NBD, for --disk)
 *   primary-pid PID       secondary-pid PID      (the sidecars' QEMUs)
 * Exit 1 with one line when the setup fails.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/replication.h"
#include "block/sidecar.h"


int main(int argc, char **argv)
{
    char pimg[256], simg[256], pdir[256], sdir[256];
    long mib = argc == 3 ? atol(argv[2]) : 0;
    if (argc != 3 || mib < 1 || mib > 1024) {
        fprintf(stderr, "usage: disk-pair DIR MIB (1..1024)\n");
        return 2;
    }
    /* Block the stop signals now; sigwait takes them at the end. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    snprintf(pimg, sizeof(pimg), "%s/p.raw", argv[1]);
    snprintf(simg, sizeof(simg), "%s/s.raw", argv[1]);
    snprintf(pdir, sizeof(pdir), "%s/p", argv[1]);
    snprintf(sdir, sizeof(sdir), "%s/s", argv[1]);
    for (int i = 0; i < 2; i++) {
        int fd = open(i ? simg : pimg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)mib << 20) < 0) {
            perror("disk-pair: image");
            return 1;
        }
        close(fd);
    }
    /* libxentoollog's own stderr logger, warnings and worse. */
    xentoollog_logger_stdiostream *lg = xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
    libxlcolo_ctx *ctx = NULL;
    if (!lg || libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, (xentoollog_logger *)lg) < 0)
        return 1;
    colo_sidecar *p = NULL, *s = NULL;
    colo_sidecar_spec ps = { .role = LIBXLCOLO_ROLE_PRIMARY, .name = "xvda", .image = pimg,
                             .dir = pdir };
    colo_sidecar_spec ss = { .role = LIBXLCOLO_ROLE_SECONDARY, .name = "xvda", .image = simg,
                             .dir = sdir };
    int rc = 1;
    if (colo_sidecar_start(ctx, &ss, &s) < 0 || colo_sidecar_start(ctx, &ps, &p) < 0 ||
        colo_rep_secondary_start(colo_sidecar_qmp(s), COLO_SIDECAR_DISK, COLO_SIDECAR_EXPORT_REP) < 0 ||
        colo_rep_primary_start(colo_sidecar_qmp(p), colo_sidecar_nbd(s), COLO_SIDECAR_EXPORT_REP,
                               COLO_SIDECAR_QUORUM, COLO_SIDECAR_CLIENT) < 0)
        goto out;
    colo_sidecar_release_qmp(p);
    colo_sidecar_release_qmp(s);
    printf("primary-qmp %s/qmp.sock\nsecondary-qmp %s/qmp.sock\n", pdir, sdir);
    printf("primary-guest nbd+unix:///" COLO_SIDECAR_EXPORT_GUEST "?socket=%s\n",
           colo_sidecar_nbd(p)->path);
    printf("secondary-guest nbd+unix:///" COLO_SIDECAR_EXPORT_GUEST "?socket=%s\n",
           colo_sidecar_nbd(s)->path);
    printf("primary-pid %d\nsecondary-pid %d\nready\n", (int)colo_sidecar_pid(p),
           (int)colo_sidecar_pid(s));
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    rc = 0;
out:
    colo_sidecar_stop(p);
    colo_sidecar_stop(s);
    unlink(pimg);
    unlink(simg);
    libxlcolo_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return rc;
}
