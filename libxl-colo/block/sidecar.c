/* sidecar.c - one QEMU per replicated disk: its directory, its process,
 * its QMP and its NBD server (sidecar.h). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "block/sidecar.h"
#include "colo-internal.h"

struct colo_sidecar {
    libxlcolo_ctx *ctx;
    libxlcolo_role role;
    char name[32];
    char dir[108 - 16];     /* room for "/active.qcow2" in a sun_path */
    colo_rep_addr nbd;
    pid_t pid;
    int watch_fd;           /* the death pipe: EOF once QEMU has exited */
    bool dead;              /* reaped (and said) */
    bool own_dir;           /* dir passed dir_prepare: stop may clean it */
    colo_qmp *qmp;
};

/* The files a sidecar makes in its directory: all that stop removes. */
static const char *const dir_files[] = {
    "qmp.sock", "nbd.sock", "qemu.pid", "qemu.log", "active.qcow2", "hidden.qcow2",
};

static bool name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 31 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_.-") == n;
}

static int path_in(char *buf, size_t size, const char *dir, const char *file)
{
    return (size_t)snprintf(buf, size, "%s/%s", dir, file) < size ? 0 : -ENAMETOOLONG;
}

/* A QemuOpts value: ',' doubled. */
static int opt_escape(char *dst, size_t size, const char *src)
{
    size_t k = 0;
    for (; *src; src++) {
        size_t need = *src == ',' ? 2 : 1;
        if (k + need >= size)
            return -ENAMETOOLONG;
        dst[k++] = *src;
        if (*src == ',')
            dst[k++] = ',';
    }
    dst[k] = '\0';
    return 0;
}

/* DIR: made 0700, or, if it exists, a directory of ours with that mode
 * and nothing in it but a sidecar's files. */
static int dir_prepare(colo_sidecar *sc)
{
    struct stat st;

    if (mkdir(sc->dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: sidecar directory %s", sc->name,
                         sc->dir);
    if (lstat(sc->dir, &st) < 0)
        return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: sidecar directory %s", sc->name,
                         sc->dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0777) != 0700)
        return LOG_ERRNO(sc->ctx, -EPERM, "disk %s: sidecar directory %s is not a directory "
                         "of ours with mode 0700", sc->name, sc->dir);
    return 0;
}

static void dir_clean(colo_sidecar *sc)
{
    char p[PATH_MAX];
    for (size_t i = 0; i < ARRAY_SIZE(dir_files); i++)
        if (path_in(p, sizeof(p), sc->dir, dir_files[i]) == 0)
            unlink(p);
}

/* The -name QEMU runs under: it names DIR, which is what recovery checks. */
static int marker(char *buf, size_t size, const char *dir)
{
    return (size_t)snprintf(buf, size, "xen-colo-sidecar:%s", dir) < size ? 0 : -ENAMETOOLONG;
}

/* The process is there and not a zombie. */
static bool proc_alive(pid_t pid)
{
    char p[64], st[512];
    snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, st, sizeof(st) - 1) : -1;
    if (n <= 0)
        return false;
    st[n] = '\0';
    const char *rp = strrchr(st, ')');   /* the state follows "(comm) " */
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/* A crashed earlier run's QEMU, if DIR/qemu.pid names one that still runs
 * with DIR in its command line: kill it and wait until it has gone. */
static int recover(colo_sidecar *sc)
{
    char p[PATH_MAX], buf[32], want[PATH_MAX], esc[PATH_MAX];
    _cleanup_close_ int fd = -1;

    if (path_in(p, sizeof(p), sc->dir, "qemu.pid") < 0)
        return -ENAMETOOLONG;
    fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    if (pid <= 1 || (*end && *end != '\n'))
        return 0;

    /* Is it still the sidecar of this directory? */
    char cmdline[8192];
    snprintf(p, sizeof(p), "/proc/%ld/cmdline", pid);
    _cleanup_close_ int cfd = open(p, O_RDONLY | O_CLOEXEC);
    if (cfd < 0)
        return 0;
    ssize_t len = read(cfd, cmdline, sizeof(cmdline) - 1);
    if (len <= 0)
        return 0;
    cmdline[len] = '\0';
    if (opt_escape(esc, sizeof(esc), sc->dir) < 0 || marker(want, sizeof(want), esc) < 0)
        return 0;
    bool ours = false;
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(cmdline + i) + 1)
        if (strcmp(cmdline + i, want) == 0)
            ours = true;
    if (!ours)
        return 0;

    LOG(sc->ctx, WARN, "disk %s: killing the sidecar an earlier run left (pid %ld)", sc->name,
        pid);
    if (kill((pid_t)pid, SIGKILL) < 0 && errno != ESRCH)
        return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: cannot kill the earlier sidecar "
                         "(pid %ld)", sc->name, pid);
    /* Not our child: nothing to wait on but its /proc entry, until it is
     * gone or a zombie (dead, its parent yet to reap it). */
    uint64_t deadline = colo_deadline_ms(COLO_SIDECAR_TIMEOUT_MS);
    while (proc_alive((pid_t)pid)) {
        if (colo_deadline_passed(deadline))
            return LOG_ERRNO(sc->ctx, -ETIMEDOUT, "disk %s: the earlier sidecar (pid %ld) "
                             "does not exit", sc->name, pid);
        struct timespec ts = { 0, 5 * COLO_NS_PER_MS };
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The size of the image: of the file, or of the block device. */
static int image_size(colo_sidecar *sc, const char *image, uint64_t *size)
{
    struct stat st;
    _cleanup_close_ int fd = open(image, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0)
        return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: image %s", sc->name, image);
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, size) < 0)
            return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: image %s: size", sc->name,
                             image);
    } else {
        return LOG_ERRNO(sc->ctx, -EINVAL, "disk %s: image %s is neither a file nor a block "
                         "device", sc->name, image);
    }
    if (*size == 0 || *size % 512)
        return LOG_ERRNO(sc->ctx, -EINVAL, "disk %s: image %s has %" PRIu64 " bytes, not a "
                         "positive multiple of 512", sc->name, image, *size);
    return 0;
}

/* The last line a process left in DIR/qemu.log, or "". */
static void last_log_line(colo_sidecar *sc, char *out, size_t size)
{
    char p[PATH_MAX], buf[4096];
    _cleanup_close_ int fd = -1;

    out[0] = '\0';
    if (path_in(p, sizeof(p), sc->dir, "qemu.log") < 0 ||
        (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    const char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    size_t k = MIN(strlen(line), size - 1);
    memcpy(out, line, k);
    out[k] = '\0';
}

/* How a reaped process ended, in words. */
static void exit_words(int st, char *out, size_t size)
{
    if (WIFEXITED(st))
        snprintf(out, size, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, size, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(out, size, "ended (wait status %#x)", st);
}

/*
 * Run argv in a child: stdin /dev/null, stdout and stderr to DIR/qemu.log,
 * keep_fd (if >= 0) open as itself, every other fd closed, signals
 * default, and SIGKILL when the calling thread goes. *pid: the child's;
 * *watch: the read end of a pipe whose write end only the child holds, so
 * it reads EOF once the child has exited (a pidfd would do, but valgrind
 * 3.19 knows no pidfd_open). An exec failure comes back through a
 * close-on-exec pipe.
 */
static int spawn(colo_sidecar *sc, char *const argv[], int keep_fd, pid_t *pid, int *watch)
{
    char logp[PATH_MAX];
    int ep[2], dp[2], child_errno = 0;
    pid_t parent = getpid();

    if (path_in(logp, sizeof(logp), sc->dir, "qemu.log") < 0)
        return LOG_ERRNO(sc->ctx, -ENAMETOOLONG, "disk %s: sidecar path too long", sc->name);
    _cleanup_close_ int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: %s", sc->name, logp);
    if (pipe2(ep, O_CLOEXEC) < 0)
        return LOG_ERRNO(sc->ctx, negative_errno(), "disk %s: pipe", sc->name);
    if (pipe2(dp, O_CLOEXEC) < 0) {
        int r = negative_errno();
        close(ep[0]);
        close(ep[1]);
        return LOG_ERRNO(sc->ctx, r, "disk %s: pipe", sc->name);
    }

    pid_t c = fork();
    if (c < 0) {
        int r = negative_errno();
        close(ep[0]);
        close(ep[1]);
        close(dp[0]);
        close(dp[1]);
        return LOG_ERRNO(sc->ctx, r, "disk %s: fork", sc->name);
    }
    if (c == 0) {
        /* The child: async-signal-safe calls only. */
        sigset_t none;
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || devnull < 0)
            goto fail;
        for (int s = 1; s < NSIG; s++)
            signal(s, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            goto fail;
        /* Only keep_fd crosses the exec, whatever the caller left open. */
        (void)close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
        if ((keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0) || fcntl(dp[1], F_SETFD, 0) < 0)
            goto fail;
        execv(argv[0], argv);
    fail:
        child_errno = errno;
        (void)!write(ep[1], &child_errno, sizeof(child_errno));
        _exit(127);
    }
    close(ep[1]);
    close(dp[1]);
    ssize_t n;
    while ((n = read(ep[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
        ;
    close(ep[0]);
    if (n > 0) {
        close(dp[0]);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
        return LOG_ERRNO(sc->ctx, -child_errno, "disk %s: cannot run %s", sc->name, argv[0]);
    }
    *pid = c;
    *watch = dp[0];
    return 0;
}

/* Wait for a child through its death pipe until the deadline; reap it. */
static int reap(int watch, pid_t pid, uint64_t deadline, int *status)
{
    int r = colo_wait_fd(watch, POLLIN, deadline);
    if (r < 0)
        return r;
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return negative_errno();
    return 0;
}

/* qemu-img create -f qcow2 PATH SIZE, bounded in time. */
static int make_overlay(colo_sidecar *sc, const char *qemu_img, const char *file,
                        uint64_t size)
{
    char path[PATH_MAX], sz[32], bin[PATH_MAX], why[256];
    int watch = -1, st = 0, r;
    pid_t pid;

    if (path_in(path, sizeof(path), sc->dir, file) < 0)
        return LOG_ERRNO(sc->ctx, -ENAMETOOLONG, "disk %s: sidecar path too long", sc->name);
    snprintf(sz, sizeof(sz), "%" PRIu64, size);
    /* execv takes a path: find qemu-img on PATH when it is a bare name. */
    if (!strchr(qemu_img, '/')) {
        const char *pathenv = getenv("PATH");
        bool found = false;
        for (const char *s = pathenv ? pathenv : "/usr/bin:/bin"; s && *s;) {
            const char *e = strchr(s, ':');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            if ((size_t)snprintf(bin, sizeof(bin), "%.*s/%s", (int)l, s, qemu_img) <
                    sizeof(bin) && access(bin, X_OK) == 0) {
                found = true;
                break;
            }
            s = e ? e + 1 : NULL;
        }
        if (!found)
            return LOG_ERRNO(sc->ctx, -ENOENT, "disk %s: %s is not on PATH (Debian package "
                             "qemu-utils)", sc->name, qemu_img);
    } else {
        snprintf(bin, sizeof(bin), "%s", qemu_img);
    }
    char *const argv[] = { bin, "create", "-q", "-f", "qcow2", path, sz, NULL };
    if ((r = spawn(sc, argv, -1, &pid, &watch)) < 0)
        return r;
    r = reap(watch, pid, colo_deadline_ms(COLO_SIDECAR_TIMEOUT_MS), &st);
    if (r == -ETIMEDOUT) {
        kill(pid, SIGKILL);
        reap(watch, pid, COLO_NO_DEADLINE, &st);
    }
    close(watch);
    if (r < 0)
        return LOG_ERRNO(sc->ctx, r, "disk %s: qemu-img create %s", sc->name, file);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        last_log_line(sc, why, sizeof(why));
        return LOG_ERRNO(sc->ctx, -EIO, "disk %s: qemu-img create %s failed: %s", sc->name,
                         file, why);
    }
    return 0;
}

/* A listening unix socket at DIR/FILE, for QEMU to inherit. */
static int listen_at(colo_sidecar *sc, const char *file)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (path_in(sa.sun_path, sizeof(sa.sun_path), sc->dir, file) < 0)
        return LOG_ERRNO(sc->ctx, -ENAMETOOLONG, "disk %s: sidecar path too long", sc->name);
    unlink(sa.sun_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int r = negative_errno();
        if (fd >= 0)
            close(fd);
        return LOG_ERRNO(sc->ctx, r, "disk %s: socket %s", sc->name, sa.sun_path);
    }
    return fd;
}

/* QEMU's -drive lines for the role. */
static int drive_args(colo_sidecar *sc, const char *image, char *d1, char *d2, char *d3,
                      size_t size)
{
    char img[PATH_MAX], dir[PATH_MAX];

    if (opt_escape(img, sizeof(img), image) < 0 || opt_escape(dir, sizeof(dir), sc->dir) < 0)
        return -ENAMETOOLONG;
    if (sc->role == LIBXLCOLO_ROLE_PRIMARY) {
        d2[0] = d3[0] = '\0';
        return (size_t)snprintf(d1, size, "if=none,id=" COLO_SIDECAR_DISK ",node-name="
                                COLO_SIDECAR_QUORUM ",driver=quorum,"
                                "read-pattern=fifo,vote-threshold=1,children.0.driver=raw,"
                                "children.0.file.filename=%s", img) < size ? 0 : -ENAMETOOLONG;
    }
    if ((size_t)snprintf(d1, size, "if=none,id=" COLO_SIDECAR_DISK ",driver=raw,"
                         "file.filename=%s", img) >= size ||
        (size_t)snprintf(d2, size, "if=none,id=" COLO_SIDECAR_REP ",driver=replication,"
                         "mode=secondary,top-id=" COLO_SIDECAR_TOP ",file.driver=qcow2,"
                         "file.file.filename=%s/active.qcow2,file.backing.driver=qcow2,"
                         "file.backing.file.filename=%s/hidden.qcow2,"
                         "file.backing.backing=" COLO_SIDECAR_DISK, dir, dir) >= size ||
        (size_t)snprintf(d3, size, "if=none,id=" COLO_SIDECAR_TOP ",driver=quorum,"
                         "read-pattern=fifo,vote-threshold=1,children.0=" COLO_SIDECAR_REP)
            >= size)
        return -ENAMETOOLONG;
    return 0;
}

static int write_pidfile(colo_sidecar *sc)
{
    char p[PATH_MAX], buf[32];
    if (path_in(p, sizeof(p), sc->dir, "qemu.pid") < 0)
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                                  0600);
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)sc->pid);
    if (fd < 0 || write(fd, buf, (size_t)n) != n)
        return LOG_ERRNO(sc->ctx, fd < 0 ? negative_errno() : -EIO, "disk %s: %s", sc->name, p);
    return 0;
}

/* The NBD server, and the guest's export of the top node. */
static int serve_guest(colo_sidecar *sc)
{
    const char *args;
    size_t len;
    int r;

    _cleanup_json_ colo_json *j = colo_json_new();
    colo_json_open(j, "addr");
    colo_json_put_str(j, "type", "unix");
    colo_json_open(j, "data");
    colo_json_put_str(j, "path", sc->nbd.path);
    colo_json_close(j);
    colo_json_close(j);
    if ((r = colo_json_finish(j, &args, &len)) < 0 ||
        (r = colo_qmp_execute(sc->qmp, "nbd-server-start", args, 0, NULL, NULL)) < 0)
        return r;
    _cleanup_json_ colo_json *a = colo_json_new();
    colo_json_put_str(a, "device", sc->role == LIBXLCOLO_ROLE_PRIMARY ? COLO_SIDECAR_DISK
                                                                        : COLO_SIDECAR_TOP);
    colo_json_put_str(a, "name", COLO_SIDECAR_EXPORT_GUEST);
    colo_json_put_bool(a, "writable", true);
    if ((r = colo_json_finish(a, &args, &len)) < 0)
        return r;
    return colo_qmp_execute(sc->qmp, "nbd-server-add", args, 0, NULL, NULL);
}

int colo_sidecar_start(libxlcolo_ctx *ctx, const colo_sidecar_spec *spec, colo_sidecar **out)
{
    char d1[PATH_MAX + 256], d2[2 * PATH_MAX + 256], d3[256], qmpopt[64], name[PATH_MAX + 32];
    char esc[PATH_MAX], label[64], why[256];
    _cleanup_close_ int qmp_fd = -1;
    uint64_t size = 0;
    int r;

    if (!name_valid(spec->name))
        return LOG_ERRNO(ctx, -EINVAL, "sidecar: '%s' is not a disk name ([A-Za-z0-9_.-], "
                         "1 to 31 characters)", spec->name ? spec->name : "");
    if (!spec->dir || !spec->image)
        return LOG_ERRNO(ctx, -EINVAL, "disk %s: sidecar: no directory or image", spec->name);

    colo_sidecar *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return LOG_ERRNO(ctx, -ENOMEM, "disk %s: sidecar: out of memory", spec->name);
    sc->ctx = ctx;
    sc->role = spec->role;
    sc->watch_fd = -1;
    sc->pid = -1;
    snprintf(sc->name, sizeof(sc->name), "%s", spec->name);
    if ((size_t)snprintf(sc->dir, sizeof(sc->dir), "%s", spec->dir) >= sizeof(sc->dir) ||
        path_in(sc->nbd.path, sizeof(sc->nbd.path), sc->dir, "nbd.sock") < 0) {
        r = LOG_ERRNO(ctx, -ENAMETOOLONG, "disk %s: sidecar directory %s: too long for a "
                      "socket path", spec->name, spec->dir);
        goto fail;
    }
    if ((r = dir_prepare(sc)) < 0)
        goto fail;
    sc->own_dir = true;
    if ((r = recover(sc)) < 0)
        goto fail;
    dir_clean(sc);
    if ((r = image_size(sc, spec->image, &size)) < 0)
        goto fail;
    if (sc->role == LIBXLCOLO_ROLE_SECONDARY) {
        const char *img = spec->qemu_img ? spec->qemu_img : "qemu-img";
        if ((r = make_overlay(sc, img, "active.qcow2", size)) < 0 ||
            (r = make_overlay(sc, img, "hidden.qcow2", size)) < 0)
            goto fail;
    }
    if ((r = drive_args(sc, spec->image, d1, d2, d3, sizeof(d1))) < 0 ||
        opt_escape(esc, sizeof(esc), sc->dir) < 0 || marker(name, sizeof(name), esc) < 0) {
        r = LOG_ERRNO(ctx, -ENAMETOOLONG, "disk %s: sidecar: a path is too long", sc->name);
        goto fail;
    }
    if ((qmp_fd = listen_at(sc, "qmp.sock")) < 0) {
        r = qmp_fd;
        goto fail;
    }
    snprintf(qmpopt, sizeof(qmpopt), "socket,id=mon,fd=%d,server=on,wait=off", qmp_fd);
    char *argv[24];
    size_t n = 0;
    argv[n++] = (char *)(spec->qemu ? spec->qemu : COLO_SIDECAR_QEMU);
    argv[n++] = "-M";
    argv[n++] = "none";
    argv[n++] = "-nodefaults";
    argv[n++] = "-no-user-config";
    argv[n++] = "-display";
    argv[n++] = "none";
    argv[n++] = "-name";
    argv[n++] = name;
    argv[n++] = "-chardev";
    argv[n++] = qmpopt;
    argv[n++] = "-mon";
    argv[n++] = "chardev=mon,mode=control";
    argv[n++] = "-drive";
    argv[n++] = d1;
    if (d2[0]) {
        argv[n++] = "-drive";
        argv[n++] = d2;
        argv[n++] = "-drive";
        argv[n++] = d3;
    }
    argv[n] = NULL;
    if ((r = spawn(sc, argv, qmp_fd, &sc->pid, &sc->watch_fd)) < 0)
        goto fail;
    /* Only QEMU holds the listening socket now: if it dies, connecting
     * fails at once instead of waiting for a greeting. */
    closep(&qmp_fd);
    qmp_fd = -1;
    if ((r = write_pidfile(sc)) < 0)
        goto fail;

    char qpath[PATH_MAX];
    path_in(qpath, sizeof(qpath), sc->dir, "qmp.sock");
    snprintf(label, sizeof(label), "disk %s", sc->name);
    r = colo_qmp_connect(ctx, qpath, label, COLO_SIDECAR_TIMEOUT_MS, 0, &sc->qmp);
    if (r < 0) {
        /* Say why QEMU went, if it did: its own last line. */
        if (colo_wait_fd(sc->watch_fd, POLLIN, colo_deadline_ms(0)) == 0) {
            last_log_line(sc, why, sizeof(why));
            LOG(ctx, ERROR, "disk %s: the sidecar QEMU exited: %s", sc->name,
                why[0] ? why : "(no output)");
        }
        goto fail;
    }
    if ((r = serve_guest(sc)) < 0)
        goto fail;
    *out = sc;
    return 0;
fail:
    colo_sidecar_stop(sc);
    return r;
}

int colo_sidecar_check(colo_sidecar *sc)
{
    int st = 0;
    char how[64], why[256];

    if (sc->dead)
        return -ESRCH;
    if (colo_wait_fd(sc->watch_fd, POLLIN, colo_deadline_ms(0)) < 0)
        return 0;
    if (reap(sc->watch_fd, sc->pid, COLO_NO_DEADLINE, &st) < 0)
        return 0;
    sc->dead = true;
    exit_words(st, how, sizeof(how));
    last_log_line(sc, why, sizeof(why));
    return LOG_ERRNO(sc->ctx, -ESRCH, "disk %s: sidecar (pid %d) died: %s%s%s", sc->name,
                     (int)sc->pid, how, why[0] ? "; its last words: " : "", why);
}

void colo_sidecar_release_qmp(colo_sidecar *sc)
{
    colo_qmp_close(sc->qmp);
    sc->qmp = NULL;
}

void colo_sidecar_stop(colo_sidecar *sc)
{
    int st;

    if (!sc)
        return;
    if (sc->pid > 0 && !sc->dead) {
        bool gone = false;
        char qpath[PATH_MAX], label[64];
        /* Released: connect again for the quit, if no one else holds it. */
        if (!sc->qmp && path_in(qpath, sizeof(qpath), sc->dir, "qmp.sock") == 0) {
            snprintf(label, sizeof(label), "disk %s", sc->name);
            colo_qmp_connect(sc->ctx, qpath, label, 1000, 0, &sc->qmp);
        }
        if (sc->qmp && !colo_qmp_broken(sc->qmp)) {
            colo_qmp_set_timeout(sc->qmp, 2000);
            colo_qmp_execute(sc->qmp, "quit", NULL, COLO_QMP_QUIET, NULL, NULL);
            gone = reap(sc->watch_fd, sc->pid, colo_deadline_ms(COLO_SIDECAR_TIMEOUT_MS),
                        &st) == 0;
        }
        if (!gone) {
            kill(sc->pid, SIGKILL);  /* not reaped yet: the pid is still its */
            reap(sc->watch_fd, sc->pid, COLO_NO_DEADLINE, &st);
        }
    }
    colo_qmp_close(sc->qmp);
    if (sc->watch_fd >= 0)
        close(sc->watch_fd);
    if (sc->own_dir) {
        dir_clean(sc);
        rmdir(sc->dir);
    }
    free(sc);
}

int colo_sidecar_watch_fd(const colo_sidecar *sc) { return sc->watch_fd; }
pid_t colo_sidecar_pid(const colo_sidecar *sc) { return sc->pid; }
colo_qmp *colo_sidecar_qmp(colo_sidecar *sc) { return sc->qmp; }
const char *colo_sidecar_name(const colo_sidecar *sc) { return sc->name; }
libxlcolo_role colo_sidecar_role(const colo_sidecar *sc) { return sc->role; }
const colo_rep_addr *colo_sidecar_nbd(const colo_sidecar *sc) { return &sc->nbd; }
