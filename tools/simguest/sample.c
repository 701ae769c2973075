/* sample.c - `colo-simguest sample`: the run state of several guests,
 * every few ms, one line a sample: what a split-brain test watches (never
 * two live copies at any sample). One process holds one connection per
 * guest, so a sample costs two round trips on open sockets, not two
 * programs started (t0180's shell sampler managed one per ~35 ms). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "colo-time.h"
#include "opts.h"
#include "backend/sim/sim-proto.h"

#define SAMPLE_GUESTS_MAX 8
#define SAMPLE_TIMEOUT_MS 1000

struct watched {
    char path[108];
    int fd;
    uint32_t seq;
};

/* "run", "paused" (stopped: fenced, checkpointing, built; not serving), or
 * "none" (no guest there, or one that does not answer). Reconnects to a
 * guest that was not there yet. */
static const char *sample_one(struct watched *w)
{
    static struct sim_req req;
    static struct sim_rsp rsp;

    if (w->fd < 0) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        memcpy(sa.sun_path, w->path, sizeof(w->path));
        w->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (w->fd >= 0 && connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            close(w->fd);
            w->fd = -1;
        }
        if (w->fd < 0)
            return "none";
    }
    memset(&req, 0, SIM_REQ_HDR);
    req.op = SIM_OP_INFO;
    if (sim_call(w->fd, &w->seq, &req, &rsp, NULL, SAMPLE_TIMEOUT_MS) < 0 ||
        rsp.len != sizeof(struct sim_info)) {
        close(w->fd);
        w->fd = -1;
        return "none";
    }
    struct sim_info in;
    memcpy(&in, rsp.data, sizeof(in));
    /* A fence pauses the guest: a fenced one that ran would be live. */
    return in.flags & SIM_INFO_PAUSED ? "paused" : "run";
}

int cmd_sample(int argc, char **argv)
{
    struct watched w[SAMPLE_GUESTS_MAX];
    uint64_t every = 10, secs = 120;
    int n = 0, i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        uint64_t *v = strcmp(argv[i], "--every") == 0 ? &every
                      : strcmp(argv[i], "--for") == 0 ? &secs : NULL;
        if (!v)
            return fail(EXIT_USAGE, "sample", "unknown option '%s'", argv[i]);
        if (i + 1 >= argc || parse_u64(argv[i + 1], v) < 0 || *v == 0 || *v > 3600000)
            return fail(EXIT_USAGE, "sample", "%s needs a number from 1 to 3600000", argv[i]);
        i++;
    }
    for (; i < argc; i++) {
        char *slash = strrchr(argv[i], '/');
        if (n == SAMPLE_GUESTS_MAX)
            return fail(EXIT_USAGE, "sample", "at most %d guests", SAMPLE_GUESTS_MAX);
        if (!slash || slash == argv[i] || !slash[1])
            return fail(EXIT_USAGE, "sample", "'%s' is not RUNDIR/NAME", argv[i]);
        if ((size_t)snprintf(w[n].path, sizeof(w[n].path), "%.*s/sim/%s.sock",
                             (int)(slash - argv[i]), argv[i], slash + 1) >= sizeof(w[n].path))
            return fail(1, "sample", "the socket path of '%s' is too long", argv[i]);
        w[n].fd = -1;
        w[n].seq = 0;
        n++;
    }
    if (n == 0)
        return fail(EXIT_USAGE, "sample", "no guest to sample (RUNDIR/NAME...)");

    /* SIGTERM or SIGINT ends it, between two samples. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    uint64_t end = colo_now_ns() + secs * COLO_NS_PER_SEC, next = colo_now_ns();
    for (;;) {
        struct timespec real;
        for (int k = 0; k < n; k++)
            fputs(sample_one(&w[k]), stdout), fputc(' ', stdout);
        clock_gettime(CLOCK_REALTIME, &real);
        printf("%" PRIu64 "\n", (uint64_t)((uint64_t)real.tv_sec * COLO_NS_PER_SEC +
                                           (uint64_t)real.tv_nsec));
        fflush(stdout);
        next += every * COLO_NS_PER_MS;
        uint64_t now = colo_now_ns();
        if (now >= end)
            break;
        uint64_t wait = next > now ? next - now : 0;
        struct timespec ts = { (time_t)(wait / COLO_NS_PER_SEC), (long)(wait % COLO_NS_PER_SEC) };
        if (sigtimedwait(&stop, NULL, &ts) >= 0)
            break;
    }
    for (int k = 0; k < n; k++)
        if (w[k].fd >= 0)
            close(w[k].fd);
    return ferror(stdout) ? 1 : 0;
}
