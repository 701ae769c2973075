/* xen_dm.c - give a secondary HVM domain the primary's device state.
 *
 * At failover the secondary's qemu-xen, started by libxl for the new domain
 * and never run, is replaced by one started with the same command line plus
 * "-incoming fd:N" on the newest device state the primary saved
 * (xen-save-devices-state): QEMU's own incoming path, the one libxl's
 * restore uses. QMP xen-load-devices-state into the running device model
 * would be the direct way, but it aborts Debian 12's QEMU 7.2.
 *
 * The new process is a daemon, as libxl's device models are, and its pid
 * goes where libxl looks for it (/local/domain/D/image/device-model-pid),
 * so `xl destroy` ends it. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "backend/xen/xen_priv.h"

#define DM_START_TIMEOUT_MS 30000
#define CMDLINE_MAX (64 * 1024)

static void closep_ign(int *fd) { if (*fd >= 0) close(*fd); }

/* Read /proc/PID/cmdline: NUL-separated arguments. */
static ssize_t read_proc_file(pid_t pid, const char *what, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return negative_errno();
        if (n == 0 || (got += (size_t)n) == len)
            break;
    }
    return (ssize_t)got;
}

/* Gone, or a zombie nobody has reaped yet. */
static bool pid_alive(pid_t pid)
{
    char st[512];
    ssize_t n = read_proc_file(pid, "stat", st, sizeof(st) - 1);
    if (n <= 0)
        return false;
    st[n] = '\0';
    char *p = strrchr(st, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool cmdline_has_domid(const char *buf, size_t len, uint32_t domid)
{
    char want[16];
    snprintf(want, sizeof(want), "%u", domid);
    for (size_t i = 0; i < len;) {
        const char *a = buf + i;
        size_t al = strnlen(a, len - i);
        if (strcmp(a, "-xen-domid") == 0 && i + al + 1 < len &&
            strcmp(buf + i + al + 1, want) == 0)
            return true;
        i += al + 1;
    }
    return false;
}

static pid_t find_dm(struct xen_be *x, uint32_t domid, char *cmd, size_t cmdlen, size_t *got)
{
    char path[64];
    unsigned n = 0;
    snprintf(path, sizeof(path), "/local/domain/%u/image/device-model-pid", domid);
    _cleanup_free_ char *v = xs_read(x->xsh, XBT_NULL, path, &n);
    pid_t pid = v ? (pid_t)atoi(v) : 0;
    ssize_t r;
    if (pid > 0 && (r = read_proc_file(pid, "cmdline", cmd, cmdlen)) > 0 &&
        cmdline_has_domid(cmd, (size_t)r, domid)) {
        *got = (size_t)r;
        return pid;
    }
    DIR *dir = opendir("/proc");
    if (!dir)
        return -1;
    struct dirent *e;
    pid = -1;
    while ((e = readdir(dir))) {
        pid_t p = (pid_t)atoi(e->d_name);
        if (p <= 0 || !pid_alive(p))
            continue;
        r = read_proc_file(p, "cmdline", cmd, cmdlen);
        if (r > 0 && cmdline_has_domid(cmd, (size_t)r, domid)) {
            *got = (size_t)r;
            pid = p;
            break;
        }
    }
    closedir(dir);
    return pid;
}

static int stop_dm(pid_t pid)
{
    int sig = SIGTERM;
    for (int i = 0; i < 500; i++) { /* 5 s */
        if (!pid_alive(pid))
            return 0;
        if (i == 0 || i == 300) {
            if (kill(pid, sig) < 0 && errno != ESRCH)
                return negative_errno();
            sig = SIGKILL;
        }
        usleep(10000);
    }
    return -ETIMEDOUT;
}

int xen_dm_restart_incoming(colo_backend *be, colo_dom *d, const char *state_file)
{
    struct xen_be *x = xen_be(be);
    _cleanup_free_ char *cmd = malloc(CMDLINE_MAX);
    _cleanup_free_ char **argv = NULL;
    size_t len = 0, argc = 0;
    char incoming[32], path[96], logf[160];
    int r;

    if (!cmd)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: failover: device model", d->domid);
    pid_t old = find_dm(x, d->domid, cmd, CMDLINE_MAX - 1, &len);
    if (old <= 0)
        return LOG_ERRNO(be->ctx, -ESRCH, "domain %u: failover: its device model is not running",
                         d->domid);
    cmd[len] = '\0';
    for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
        argc++;
    argv = calloc(argc + 3, sizeof(*argv));
    if (!argv)
        return LOG_ERRNO(be->ctx, -ENOMEM, "domain %u: failover: device model", d->domid);
    argc = 0;
    for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
        argv[argc++] = cmd + i;

    _cleanup_(closep_ign) int sfd = open(state_file, O_RDONLY | O_CLOEXEC);
    if (sfd < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: failover: open %s", d->domid,
                         state_file);
    /* In the new process the state is fd 3, the pipe fd 4, and nothing else
     * of ours leaks into a daemon that outlives us (sockets, handles). */
    snprintf(incoming, sizeof(incoming), "fd:3");
    argv[argc++] = (char *)"-incoming";
    argv[argc++] = incoming;
    argv[argc] = NULL;

    r = stop_dm(old);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "domain %u: failover: stop device model %d", d->domid, (int)old);
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", d->domid);
    xs_rm(x->xsh, XBT_NULL, path);
    for (int i = 0; i < 2; i++) {
        char sock[96];
        snprintf(sock, sizeof(sock), "/var/run/xen/qmp-%s-%u", i ? "libxenstat" : "libxl", d->domid);
        unlink(sock);
    }
    snprintf(logf, sizeof(logf), "/var/log/xen/qemu-dm-%s.log", d->name);

    /* Daemonize: fork, setsid, fork; the grandchild sends its pid, then execs.
     * The pipe is close-on-exec, so a successful exec closes it. */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "domain %u: failover: pipe", d->domid);
    pid_t child = fork();
    if (child < 0) {
        r = negative_errno();
        close(pfd[0]);
        close(pfd[1]);
        return LOG_ERRNO(be->ctx, r, "domain %u: failover: fork", d->domid);
    }
    if (child == 0) {
        close(pfd[0]);
        setsid();
        if (fork() != 0)
            _exit(0);
        int nul = open("/dev/null", O_RDONLY);
        int log = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (nul >= 0)
            dup2(nul, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        int wfd = fcntl(pfd[1], F_DUPFD_CLOEXEC, 10), sf = fcntl(sfd, F_DUPFD, 10);
        if (wfd < 0 || sf < 0 || dup2(sf, 3) < 0 || dup3(wfd, 4, O_CLOEXEC) < 0)
            _exit(126);
        close_range(5, ~0U, 0);
        int msg[2] = { (int)getpid(), 0 };
        if (write(4, msg, sizeof(msg)) < 0)
            _exit(126);
        execv(argv[0], argv);
        msg[1] = errno;
        if (write(4, msg, sizeof(msg)) < 0)
            _exit(126);
        _exit(127);
    }
    close(pfd[1]);
    waitpid(child, NULL, 0);
    int msg[2] = { 0, 0 }, err = 0;
    ssize_t n = read(pfd[0], msg, sizeof(msg));
    pid_t pid = n == (ssize_t)sizeof(msg) ? msg[0] : -1;
    if (read(pfd[0], msg, sizeof(msg)) == (ssize_t)sizeof(msg))
        err = msg[1];
    close(pfd[0]);
    if (pid <= 0 || err)
        return LOG_ERRNO(be->ctx, err ? -err : -ECHILD, "domain %u: failover: start %s",
                         d->domid, argv[0]);

    /* qemu-xen writes "running" once it has loaded the state and is ready. */
    uint64_t deadline = colo_deadline_ms(DM_START_TIMEOUT_MS);
    for (;;) {
        unsigned vl = 0;
        _cleanup_free_ char *v = xs_read(x->xsh, XBT_NULL, path, &vl);
        if (v && strcmp(v, "running") == 0)
            break;
        if (!pid_alive(pid))
            return LOG_ERRNO(be->ctx, -ECHILD, "domain %u: failover: the device model exited "
                             "while loading the device state (see %s)", d->domid, logf);
        if (colo_deadline_passed(deadline))
            return LOG_ERRNO(be->ctx, -ETIMEDOUT, "domain %u: failover: the device model is "
                             "not ready after %d ms (see %s)", d->domid, DM_START_TIMEOUT_MS, logf);
        usleep(20000);
    }
    char pidpath[96], pidval[16];
    snprintf(pidpath, sizeof(pidpath), "/local/domain/%u/image/device-model-pid", d->domid);
    snprintf(pidval, sizeof(pidval), "%d", (int)pid);
    if (!xs_write(x->xsh, XBT_NULL, pidpath, pidval, strlen(pidval)))
        LOG(be->ctx, WARN, "domain %u: could not record the device model's pid %d in %s",
            d->domid, (int)pid, pidpath);
    LOG(be->ctx, INFO, "domain %u: device model restarted (pid %d) with the primary's device "
        "state", d->domid, (int)pid);
    return 0;
}
