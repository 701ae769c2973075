/* sim-util.h - for test_sim: a fixture of real colo-simguest processes.
 *
 * fx holds a mkdtemp run directory, a sim backend on it, and a logger that
 * keeps the last line and counts errors. This process becomes a child
 * subreaper, so the guests' daemons are its children: reap() proves one
 * exited, and sim_fixture_fini() SIGKILLs (by PID) any tracked guest left,
 * then removes the directory. */
#ifndef TEST_SIM_UTIL_H
#define TEST_SIM_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "backend/backend.h"
#include "colo-internal.h"
#include "backend/sim/sim-proto.h"
#include "unit-util.h"

#ifndef SIMGUEST_BIN
#define SIMGUEST_BIN "colo-simguest"
#endif
#define MAX_PIDS 32
#define WAIT_MS 10000
#define BPL (sizeof(unsigned long) * 8)

extern char **environ;

static struct {
    char dir[64];
    pid_t pids[MAX_PIDS];
    int npids;
    struct unit_logger lg; /* keeps the last line, counts errors */
    libxlcolo_ctx *ctx;
    colo_backend *be;
    struct colo_backend_params params; /* sim, in dir, this build's colo-simguest */
} fx;

static inline void track(pid_t pid)
{
    if (pid > 0 && fx.npids < MAX_PIDS)
        fx.pids[fx.npids++] = pid;
}

/* Wait (bounded) for a child to exit and reap it: its status, or -1. */
static inline int reap(pid_t pid, int timeout_ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0), st;
    struct pollfd p = { .fd = fd, .events = POLLIN };

    if (fd < 0)
        return -1;
    int r = poll(&p, 1, timeout_ms);
    close(fd);
    if (r != 1 || waitpid(pid, &st, 0) != pid)
        return -1;
    for (int i = 0; i < fx.npids; i++)
        if (fx.pids[i] == pid)
            fx.pids[i] = 0;
    return st;
}

/* Run colo-simguest ARGS... (NULL-terminated); stdout and stderr into out.
 * Returns the exit status, or -1. */
static inline int sg(char *out, size_t cap, ...)
{
    const char *argv[32] = { SIMGUEST_BIN };
    posix_spawn_file_actions_t fa;
    int n = 1, pfd[2], st;
    size_t have = 0;
    va_list ap;
    pid_t pid;

    va_start(ap, cap);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    int r = posix_spawn(&pid, SIMGUEST_BIN, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (r) {
        close(pfd[0]);
        return -1;
    }
    for (;;) {
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        if (poll(&p, 1, WAIT_MS) != 1)
            break;
        ssize_t k = read(pfd[0], out + have, cap - 1 - have);
        if (k <= 0)
            break;
        have += (size_t)k;
        if (have == cap - 1)
            break;
    }
    out[have] = '\0';
    close(pfd[0]);
    st = reap(pid, WAIT_MS);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* colo-simguest run --daemon --rundir DIR --name NAME ARGS...: the pid. */
#define start_guest(name, ...) start_guest_(name, __VA_ARGS__, NULL)
static inline pid_t start_guest_(const char *name, ...)
{
    char out[256];
    const char *a[12] = { NULL };
    va_list ap;
    int n = 0;

    va_start(ap, name);
    while (n < 11 && (a[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    int r = sg(out, sizeof(out), "run", "--daemon", "--rundir", fx.dir, "--name", name,
               a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], NULL);
    pid_t pid = r == 0 ? (pid_t)atoi(out) : -1;
    if (pid <= 0)
        fprintf(stderr, "start_guest %s: status %d: %s\n", name, r, out);
    track(pid);
    return pid;
}

/* One op straight to the guest, past the backend: its status (0 or
 * -errno), or -ENOTCONN when the guest cannot be reached. */
static inline int raw_op(const char *name, uint16_t op, uint16_t flags, struct sim_rsp *rsp)
{
    static struct sim_req req;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint32_t seq = 0;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r = -ENOTCONN;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/%s.sock", fx.dir, name);
    memset(&req, 0, SIM_REQ_HDR);
    req.op = op;
    req.flags = flags;
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        r = sim_call(s, &seq, &req, rsp, NULL, WAIT_MS);
    close(s);
    return r;
}

/* The guest's own INFO, through the protocol directly. */
static inline int raw_info(const char *name, struct sim_info *in)
{
    static struct sim_rsp rsp;

    if (raw_op(name, SIM_OP_INFO, 0, &rsp) != 0 || rsp.len != sizeof(*in))
        return -1;
    memcpy(in, rsp.data, sizeof(*in));
    return 0;
}

static inline void window_ms(long ms) /* a measurement window, not a synchronisation */
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static inline void sim_fixture_fini(void)
{
    for (int i = 0; i < fx.npids; i++)
        if (fx.pids[i] > 0 && kill(fx.pids[i], SIGKILL) == 0)
            reap(fx.pids[i], WAIT_MS);
    colo_backend_close(fx.be);
    fx.be = NULL;
    libxlcolo_ctx_free(fx.ctx);
    fx.ctx = NULL;
    if (fx.dir[0])
        nftw(fx.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    fx.dir[0] = '\0';
}

/* A suite's init (see unit_run): 0, or non-zero with its cause given and
 * nothing left behind, as CUnit runs no cleanup after a failed init. */
static inline int sim_fixture_init(void)
{
    static const char tmpl[] = "/tmp/test_sim.XXXXXX";

    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return unit_setup_error("prctl(PR_SET_CHILD_SUBREAPER): %m");
    snprintf(fx.dir, sizeof(fx.dir), "%s", tmpl);
    if (!mkdtemp(fx.dir)) {
        fx.dir[0] = '\0';
        return unit_setup_error("mkdtemp %s: %m", tmpl);
    }
    signal(SIGPIPE, SIG_IGN);
    fx.ctx = unit_ctx_with(&fx.lg);
    fx.params = (struct colo_backend_params){
        .name = "sim", .run_dir = fx.dir, .simguest = SIMGUEST_BIN, /* for domain_create */
    };
    int r = colo_backend_open(fx.ctx, &fx.params, 0, &fx.be);
    if (r < 0) {
        unit_setup_error("the sim backend on %s: %s", fx.dir,
                         fx.lg.last[0] ? fx.lg.last : strerror(-r));
        sim_fixture_fini();
        return 1;
    }
    return 0;
}

#endif
