/*
 * fence.c - the fence watchdog (fence.h).
 *
 * Parent and watchdog share a SOCK_SEQPACKET pair. The parent sends one
 * uint64_t per message: the CLOCK_MONOTONIC time at which to fence, 0 to
 * disarm. The watchdog sends one byte: 'R' once it holds the domain, 'F'
 * when it has fenced it. The clock is the host's, so both read the same.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "colo-internal.h"
#include "engine/fence.h"

#define FENCE_READY_MS 10000   /* the watchdog opens its backend and domain */
#define FENCE_EXIT_MS 5000     /* a disarmed watchdog exits at once */

struct colo_fence {
    libxlcolo_ctx *ctx;
    pid_t pid;
    int fd;
    bool fired;
    bool gone;     /* the watchdog exited: nothing fences any more */
};

/* --- the watchdog --- */

static void fence_pidfile(const colo_backend *be, const char *domain, char *path, size_t n)
{
    snprintf(path, n, "%s/%s.fence.pid", be->run_dir, domain);
}

static int fence_now(colo_backend *be, colo_dom *d, const char *domain)
{
    int r = colo_be_pause(be, d, COLO_PAUSE_FENCE);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "fence: cannot pause %s at its lease deadline", domain);
    LOG(be->ctx, WARN, "fence: the lease on %s was not renewed in time: %s is paused "
        "(its output held) before the lease can expire", domain, domain);
    return 0;
}

/* Runs in the child; never returns. */
static _Noreturn void fence_child(libxlcolo_ctx *ctx, const struct colo_backend_params *bp,
                                  const char *domain, int fd)
{
    /* Only the pair: a socket of the parent's held here would keep its
     * peers from seeing the parent die. The logger's stderr stays. */
    if (dup2(fd, 3) < 0)
        _exit(1);
    close_range(4, ~0u, 0);
    fd = 3;
    signal(SIGINT, SIG_IGN);   /* a terminal's ^C is for xl-colo, which disarms */
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    colo_backend *be = NULL;
    colo_dom *d = NULL;
    char pidfile[512] = "";
    int r = colo_backend_open(ctx, bp, 0, &be);
    if (r == 0)
        r = colo_be_domain_open(be, domain, &d, 0);
    if (r == 0) {
        fence_pidfile(be, domain, pidfile, sizeof(pidfile));
        FILE *f = fopen(pidfile, "we");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
            r = LOG_ERRNO(ctx, negative_errno(), "fence: write %s", pidfile);
            pidfile[0] = '\0';
        }
    }
    char c = r == 0 ? 'R' : 'E';
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || r < 0)
        goto out;

    uint64_t at = 0;
    bool parent_gone = false;
    for (;;) {
        int wait_ms = at ? colo_ms_until(colo_now_ns(), at) : -1;
        if (parent_gone) {
            if (!at)
                break;
            /* Nobody can tell us a later time: the last one holds. */
            struct timespec ts = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
            fence_now(be, d, domain);
            break;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, wait_ms);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0) {
            uint64_t v;
            ssize_t got = recv(fd, &v, sizeof(v), 0);
            if (got == (ssize_t)sizeof(v))
                at = v;
            else if (got <= 0)
                parent_gone = true;
            continue;
        }
        if (at && colo_now_ns() >= at) {
            at = 0;
            if (fence_now(be, d, domain) == 0) {
                c = 'F';
                send(fd, &c, 1, MSG_NOSIGNAL);
            }
        }
    }
out:
    if (pidfile[0])
        unlink(pidfile);
    if (d)
        colo_be_domain_close(be, d);
    colo_backend_close(be);
    _exit(r < 0 ? 1 : 0);
}

/* --- the parent's side --- */

int colo_fence_start(libxlcolo_ctx *ctx, const struct colo_backend_params *bp,
                     const char *domain, colo_fence **out)
{
    int sv[2];
    *out = NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return LOG_ERRNO(ctx, negative_errno(), "fence: socketpair");
    pid_t pid = fork();
    if (pid < 0) {
        int r = LOG_ERRNO(ctx, negative_errno(), "fence: fork");
        close(sv[0]);
        close(sv[1]);
        return r;
    }
    if (pid == 0) {
        close(sv[0]);
        fence_child(ctx, bp, domain, sv[1]);
    }
    close(sv[1]);

    colo_fence *f = calloc(1, sizeof(*f));
    if (!f) {
        close(sv[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -ENOMEM;
    }
    *f = (colo_fence){ .ctx = ctx, .pid = pid, .fd = sv[0] };
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    char c = 0;
    int n;
    while ((n = poll(&p, 1, FENCE_READY_MS)) < 0 && errno == EINTR)
        ;
    if (n == 1 && recv(f->fd, &c, 1, 0) == 1 && c == 'R') {
        *out = f;
        return 0;
    }
    /* 'E': the watchdog said why; else say it here. */
    int r = c == 'E' ? -EIO : LOG_ERRNO(ctx, -EIO, "fence: the watchdog for %s did not start "
                                        "within %d ms", domain, FENCE_READY_MS);
    colo_fence_stop(f);
    return r;
}

int colo_fence_arm(colo_fence *f, uint64_t fence_at_ns)
{
    /* Fenced already: the guest stays paused until the fence is lifted
     * (colo_fence_clear), and a second pause would only say it again. */
    if (fence_at_ns && colo_fence_fired(f) && !f->gone)
        return 0;
    if (send(f->fd, &fence_at_ns, sizeof(fence_at_ns), MSG_NOSIGNAL) != (ssize_t)sizeof(fence_at_ns))
        return LOG_ERRNO(f->ctx, negative_errno(), "fence: the watchdog is gone");
    return 0;
}

int colo_fence_fd(const colo_fence *f)
{
    return f->fd;
}

bool colo_fence_fired(colo_fence *f)
{
    char c;
    ssize_t n;
    while ((n = recv(f->fd, &c, 1, MSG_DONTWAIT)) == 1)
        if (c == 'F')
            f->fired = true;
    if (n == 0 && !f->gone) {
        /* Nothing would pause a stalled xl-colo now: as good as fenced. */
        LOG(f->ctx, ERROR, "fence: the watchdog %d exited", (int)f->pid);
        f->gone = true;
    }
    return f->fired || f->gone;
}

void colo_fence_clear(colo_fence *f)
{
    colo_fence_fired(f);
    f->fired = false;
}

void colo_fence_stop(colo_fence *f)
{
    if (!f)
        return;
    uint64_t off = 0;
    send(f->fd, &off, sizeof(off), MSG_NOSIGNAL);
    shutdown(f->fd, SHUT_WR);
    /* Its end closes when it exits. */
    struct pollfd p = { .fd = f->fd, .events = POLLIN };
    uint64_t deadline = colo_deadline_ms(FENCE_EXIT_MS);
    for (;;) {
        int n = poll(&p, 1, colo_ms_until(colo_now_ns(), deadline));
        char c;
        if (n > 0 && recv(f->fd, &c, 1, MSG_DONTWAIT) == 1)
            continue; /* a late 'F' */
        if (n != 0 && !(n < 0 && errno == EINTR))
            break;
        if (n == 0 || colo_deadline_passed(deadline)) {
            LOG(f->ctx, WARN, "fence: the watchdog %d did not exit: killed", (int)f->pid);
            kill(f->pid, SIGKILL);
            break;
        }
    }
    while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(f->fd);
    free(f);
}
