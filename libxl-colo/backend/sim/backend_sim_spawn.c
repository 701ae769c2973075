/*
 * backend_sim_spawn.c - the sim backend's domain_config and domain_create
 * halves: a guest's configuration as cfg->extra (struct sim_config, sent in
 * the stream), and starting a colo-simguest for it on the secondary.
 */
#include "config.h"

#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "backend/sim/backend_sim.h"
#include "colo-internal.h"

extern char **environ;

#define SPAWN_OUT_MAX 256

int colo_sim_config_encode(colo_backend *be, const struct sim_info *in, void **extra,
                           size_t *len)
{
    struct sim_config *c = calloc(1, sizeof(*c));

    if (!c)
        return LOG_ERRNO(be->ctx, -ENOMEM, "sim %s: config: out of memory", in->name);
    memcpy(c->magic, SIM_CFG_MAGIC, sizeof(c->magic));
    c->version = htole32(SIM_CFG_VERSION);
    c->workload = htole32(in->workload);
    c->seed = htole64(in->seed);
    c->rate = htole64(in->rate);
    c->hot_set = htole64(in->hot_set);
    c->jitter_ppm = htole32(in->jitter_ppm);
    c->flags = htole32(in->flags & SIM_INFO_NIC ? SIM_CFG_NIC : 0);
    c->nic_random_ppm = htole32(in->nic_random_ppm);
    c->mem_bytes = htole64(in->mem_bytes);
    c->nr_vcpus = htole32(in->nr_vcpus);
    memcpy(c->uuid, in->uuid, sizeof(c->uuid));
    *extra = c;
    *len = sizeof(*c);
    return 0;
}

/* cfg->extra, decoded and checked against cfg (it came off the wire). */
static int config_decode(colo_backend *be, const struct colo_domain_config *cfg,
                         struct sim_config *c)
{
    if (cfg->extra_len != sizeof(*c) || !cfg->extra)
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: create: configuration of %zu bytes, "
                         "expected %zu", cfg->name, cfg->extra_len, sizeof(*c));
    memcpy(c, cfg->extra, sizeof(*c));
    c->version = le32toh(c->version);
    c->workload = le32toh(c->workload);
    c->seed = le64toh(c->seed);
    c->rate = le64toh(c->rate);
    c->hot_set = le64toh(c->hot_set);
    c->mem_bytes = le64toh(c->mem_bytes);
    c->nr_vcpus = le32toh(c->nr_vcpus);
    c->jitter_ppm = le32toh(c->jitter_ppm);
    c->flags = le32toh(c->flags);
    c->nic_random_ppm = le32toh(c->nic_random_ppm);
    if (memcmp(c->magic, SIM_CFG_MAGIC, sizeof(c->magic)) || c->version != SIM_CFG_VERSION ||
        c->workload >= SIM_WL_MAX_ || c->nr_vcpus != cfg->nr_vcpus ||
        c->mem_bytes != cfg->nr_pages * COLO_PAGE_SIZE || c->mem_bytes < SIM_MEM_MIN ||
        c->mem_bytes > SIM_MEM_MAX || c->hot_set < 1 || c->hot_set > cfg->nr_pages ||
        c->rate > 1000000000 || c->jitter_ppm > 1000000 || (c->flags & ~SIM_CFG_NIC) ||
        c->nic_random_ppm > 1000000 || (c->nic_random_ppm && !(c->flags & SIM_CFG_NIC)))
        return LOG_ERRNO(be->ctx, -EINVAL, "sim %s: create: the configuration is not a "
                         "valid sim guest's, or disagrees with the domain's", cfg->name);
    return 0;
}

/* Read the child's output (stdout and stderr, one pipe) until EOF. */
static int spawn_read(int fd, char *buf, size_t cap, int timeout_ms)
{
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    size_t have = 0;

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (colo_deadline_passed(deadline))
            return -ETIMEDOUT;
        if (poll(&p, 1, colo_ms_left(deadline)) < 0 && errno != EINTR)
            return negative_errno();
        char tmp[256];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n == 0)
            break;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return negative_errno();
        size_t k = MIN((size_t)n, cap - 1 - have);
        memcpy(buf + have, tmp, k);
        have += k;
    }
    buf[have] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* colo-simguest run --daemon ...: it exits 0, printing the guest's pid,
 * once the guest listens. be->simguest, else colo-simguest from PATH. */
static int spawn_guest(colo_backend *be, const char *name, const struct sim_config *c)
{
    const char *bin = be->simguest;
    bool search = !bin || !*bin;
    char mem[32], vcpus[16], wl[32], seed[32], rate[32], hot[32], jitter[16], nic[16];
    char out[SPAWN_OUT_MAX];
    char uuid[COLO_UUID_TEXT_LEN + 1];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    _cleanup_close_ int rd = -1;
    int pfd[2], st = 0, r;
    pid_t pid;

    if (search)
        bin = "colo-simguest";
    snprintf(mem, sizeof(mem), "%" PRIu64 "K", c->mem_bytes >> 10);
    snprintf(vcpus, sizeof(vcpus), "%u", c->nr_vcpus);
    snprintf(wl, sizeof(wl), "%s", sim_workload_name(c->workload));
    snprintf(seed, sizeof(seed), "%" PRIu64, c->seed);
    snprintf(rate, sizeof(rate), "%" PRIu64, c->rate);
    snprintf(hot, sizeof(hot), "%" PRIu64, c->hot_set);
    snprintf(jitter, sizeof(jitter), "%" PRIu32, c->jitter_ppm);
    snprintf(nic, sizeof(nic), "%" PRIu32, c->nic_random_ppm);
    colo_uuid_format(c->uuid, uuid);
    char *argv[32] = {
        (char *)bin, "run", "--daemon", "--incoming", "--paused",
        "--name", (char *)name, "--rundir", (char *)be->run_dir, "--mem", mem,
        "--vcpus", vcpus, "--workload", wl, "--seed", seed, "--rate", rate,
        "--hot-set", hot, "--jitter", jitter, "--uuid", uuid,
    };
    size_t argc = 25;
    /* The guest's disk and its NIC, if it has them. */
    if (be->nr_disks && be->disks[0].guest_uri) {
        argv[argc++] = "--disk";
        argv[argc++] = (char *)be->disks[0].guest_uri;
    }
    if (c->flags & SIM_CFG_NIC) {
        argv[argc++] = "--nic";
        argv[argc++] = "--nic-random";
        argv[argc++] = nic;
    }
    argv[argc] = NULL;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return LOG_ERRNO(be->ctx, negative_errno(), "sim %s: create: pipe", name);
    rd = pfd[0];
    /* The caller's blocked or ignored signals must not reach the guest. */
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    r = search ? posix_spawnp(&pid, bin, &fa, &at, argv, environ)
               : posix_spawn(&pid, bin, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (r)
        return LOG_ERRNO(be->ctx, -r, "sim %s: create: cannot run %s (set XLCOLO_SIMGUEST, "
                         "or put colo-simguest on PATH)", name, bin);

    r = spawn_read(rd, out, sizeof(out), SIM_TIMEOUT_MS);
    if (r == -ETIMEDOUT)
        kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "sim %s: create: %s did not start the guest", name, bin);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strspn(out, "0123456789") == 0)
        return LOG_ERRNO(be->ctx, -EIO, "sim %s: create: %s", name,
                         *out ? out : "colo-simguest failed");
    return 0;
}

int colo_sim_spawn(colo_backend *be, const struct colo_domain_config *cfg)
{
    struct sim_config c;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int r;

    if (!sim_name_valid(cfg->name))
        return LOG_ERRNO(be->ctx, -EINVAL, "sim: create: '%s' is not a guest name", cfg->name);
    if ((r = config_decode(be, cfg, &c)) < 0)
        return r;
    /* A live guest of that name: refuse with a clear word, not the child's. */
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/%s.sock", be->run_dir,
                         cfg->name) < sizeof(sa.sun_path)) {
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return LOG_ERRNO(be->ctx, -EEXIST, "sim %s: create: a guest of that name "
                             "already runs in %s/sim", cfg->name, be->run_dir);
    }
    return spawn_guest(be, cfg->name, &c);
}
