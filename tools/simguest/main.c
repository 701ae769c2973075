/* main.c - colo-simguest: a simulated guest for the sim backend, and the
 * client commands that talk to one. The command table follows xl's: name,
 * function, summary, usage. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "opts.h"
#include "server.h"

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;
};

#define CLIENT_USAGE "--name N [--rundir DIR]"

static const struct cmd cmds[] = {
    { "run", cmd_run, "run a simulated guest",
      "--name N [--rundir DIR] [--mem SIZE] [--vcpus K]\n"
      "        [--workload idle|web|kernel-build|memstress|custom] [--rate PAGES_PER_SEC]\n"
      "        [--hot-set PAGES] [--seed S] [--jitter PPM] [--uuid UUID] [--paused] [--incoming]\n"
      "        [--daemon]\n"
      "        [--disk NBD_URI [--disk-rate WRITES_PER_SEC]] [--nic [--nic-random PPM]]\n"
      "    SIZE: 16M..16G, with a K, M or G suffix (a bare number is MiB); default 256M.\n"
      "    --rate is per vCPU (0: unlimited); --rate and --hot-set override the workload's.\n"
      "    --jitter: touches in a million that land on a random page of the whole guest,\n"
      "    not the context's (a real guest's nondeterminism: a COLO secondary diverges).\n"
      "    --incoming: a secondary being built (zero memory, paused, no context).\n"
      "    --daemon: detach once listening and print the guest's pid.\n"
      "    --disk: a disk on an NBD export (libnbd URI), written at --disk-rate\n"
      "    (default 100) 4 KiB blocks/s; the guest records each write in its memory.\n"
      "    --nic: a request/response service on DIR/sim/NAME.nic (its state in guest\n"
      "    memory); --nic-random: replies in a million with a random value instead." },
    { "info", cmd_info, "show a guest's state", CLIENT_USAGE },
    { "hash", cmd_hash, "print the digest of a guest's memory and context", CLIENT_USAGE },
    { "pause", cmd_pause, "pause a guest (returns once every vCPU is parked)",
      CLIENT_USAGE " [--checkpoint]\n"
      "    --checkpoint: as a toolstack's checkpoint stop, recorded until unpause" },
    { "unpause", cmd_unpause, "unpause a guest", CLIENT_USAGE },
    { "destroy", cmd_destroy, "stop a guest and wait until it is gone", CLIENT_USAGE },
    { "sample", cmd_sample, "print the run state of guests every few ms, a line each time",
      "[--every MS] [--for SECS] RUNDIR/NAME...\n"
      "    each line: run|paused|none per guest, then the time (ns since the epoch);\n"
      "    every 10 ms for 120 s by default, until SIGTERM or SIGINT" },
    { "disk-verify", cmd_disk_verify, "check a guest's disk against its record of its writes "
      "(exit 1 on a mismatch)", CLIENT_USAGE },
};

static const struct cmd *cmd_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

static int help(const char *which)
{
    const struct cmd *c = which ? cmd_find(which) : NULL;

    if (which && !c)
        return fail(EXIT_USAGE, NULL, "no command '%s' (try '" PROG " help')", which);
    if (c) {
        printf("usage: " PROG " %s %s\n%s\n", c->name, c->usage, c->summary);
        return 0;
    }
    printf("usage: " PROG " COMMAND [options]\n\n");
    for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
        printf("  %-8s %s\n", cmds[i].name, cmds[i].summary);
    printf("\nThe run directory is --rundir, else $XLCOLO_RUNDIR, else /run/xen-colo;\n"
           "a guest listens on DIR/sim/NAME.sock. '" PROG " help COMMAND' for more.\n");
    return 0;
}

/* --- run --- */

static int run_parse(int argc, char **argv, struct sim_params *p, char *rundir, size_t cap)
{
    static const struct option longopts[] = {
        { "name", required_argument, NULL, 'n' },
        { "rundir", required_argument, NULL, 'd' },
        { "mem", required_argument, NULL, 'm' },
        { "vcpus", required_argument, NULL, 'c' },
        { "workload", required_argument, NULL, 'w' },
        { "rate", required_argument, NULL, 'r' },
        { "hot-set", required_argument, NULL, 'h' },
        { "seed", required_argument, NULL, 's' },
        { "jitter", required_argument, NULL, 'j' },
        { "paused", no_argument, NULL, 'p' },
        { "incoming", no_argument, NULL, 'i' },
        { "daemon", no_argument, NULL, 'D' },
        { "disk", required_argument, NULL, 'k' },
        { "disk-rate", required_argument, NULL, 'K' },
        { "uuid", required_argument, NULL, 'u' },
        { "nic", no_argument, NULL, 'N' },
        { "nic-random", required_argument, NULL, 'R' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    uint64_t v;
    int c, r;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': p->name = optarg; break;
        case 'd': dir = optarg; break;
        case 'm':
            if (parse_size(optarg, &p->mem_bytes) < 0 || p->mem_bytes < SIM_MEM_MIN ||
                p->mem_bytes > SIM_MEM_MAX || p->mem_bytes % SIM_PAGE_SIZE)
                return fail(1, "run", "--mem %s: must be 16M..16G in whole pages "
                            "(K, M or G suffix)", optarg);
            break;
        case 'c':
            if (parse_u64(optarg, &v) < 0 || v < 1 || v > SIM_MAX_VCPUS)
                return fail(1, "run", "--vcpus %s: must be 1..%d", optarg, SIM_MAX_VCPUS);
            p->nr_vcpus = (unsigned)v;
            break;
        case 'w':
            if (workload_parse(optarg, &p->workload) < 0)
                return fail(1, "run", "--workload %s: must be idle, web, kernel-build, "
                            "memstress or custom", optarg);
            break;
        case 'r':
            if (parse_u64(optarg, &p->rate) < 0 || p->rate > 1000000000)
                return fail(1, "run", "--rate %s: must be 0..1000000000 touches/s "
                            "(0: unlimited)", optarg);
            p->rate_set = true;
            break;
        case 'h':
            if (parse_u64(optarg, &p->hot_set) < 0 || p->hot_set == 0)
                return fail(1, "run", "--hot-set %s: must be a number of pages, at least 1",
                            optarg);
            p->hot_set_set = true;
            break;
        case 's':
            if (parse_u64(optarg, &p->seed) < 0)
                return fail(1, "run", "--seed %s: must be a number", optarg);
            break;
        case 'j': {
            uint64_t ppm;
            if (parse_u64(optarg, &ppm) < 0 || ppm > 1000000)
                return fail(1, "run", "--jitter %s: must be 0..1000000 (touches in a million)",
                            optarg);
            p->jitter_ppm = (uint32_t)ppm;
            break;
        }
        case 'p': p->paused = true; break;
        case 'i': p->incoming = true; break;
        case 'D': p->daemon = true; break;
        case 'k': p->disk_uri = optarg; break;
        case 'K':
            if (parse_u64(optarg, &p->disk_rate) < 0 || p->disk_rate < 1 ||
                p->disk_rate > 100000)
                return fail(1, "run", "--disk-rate %s: must be 1..100000 writes/s", optarg);
            break;
        case 'N': p->nic = true; break;
        case 'R':
            if (parse_u64(optarg, &v) < 0 || v > 1000000)
                return fail(1, "run", "--nic-random %s: must be 0..1000000 (replies in a million)",
                            optarg);
            p->nic_random_ppm = (uint32_t)v;
            break;
        case 'u':
            if (!colo_uuid_parse(optarg, p->uuid))
                return fail(1, "run", "--uuid %s: not a UUID (8-4-4-4-12 hex digits)", optarg);
            p->uuid_set = true;
            break;
        case ':':
            return fail(EXIT_USAGE, "run", "option '%s' needs a value", argv[optind - 1]);
        default:
            return fail(EXIT_USAGE, "run", "unknown option '%s' (try '" PROG " help run')",
                        argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(EXIT_USAGE, "run", "unexpected argument '%s'", argv[optind]);
    if (p->nic_random_ppm && !p->nic)
        return fail(EXIT_USAGE, "run", "--nic-random needs --nic");
    if (!p->name)
        return fail(EXIT_USAGE, "run", "--name is required");
    if (!sim_name_valid(p->name))
        return fail(1, "run", "invalid guest name '%s' (1-%d of A-Z a-z 0-9 _ . -, "
                    "not starting with '.')", p->name, SIM_NAME_MAX);
    if (p->hot_set_set && p->hot_set > p->mem_bytes / SIM_PAGE_SIZE)
        return fail(1, "run", "--hot-set %" PRIu64 ": the guest has only %" PRIu64 " pages",
                    p->hot_set, p->mem_bytes / SIM_PAGE_SIZE);
    r = rundir_resolve(dir, rundir, cap);
    if (r < 0)
        return fail(1, "run", "cannot resolve the run directory: %s", strerror(-r));
    p->rundir = rundir;
    return 0;
}

/* --daemon: the parent waits for one byte on the pipe, written by the child
 * once it listens, and prints the child's pid; EOF without it means the
 * child failed (and said why on stderr). */
static int daemonize(int *notify_fd)
{
    int pfd[2], st;
    pid_t pid;
    char b;

    fflush(NULL);
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return fail(1, "run", "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        return fail(1, "run", "fork: %s", strerror(errno));
    if (pid == 0) {
        close(pfd[0]);
        setsid();
        /* Keep nothing the spawner left open but stdio and the pipe. */
        if (pfd[1] > 3)
            close_range(3, (unsigned)pfd[1] - 1, 0);
        close_range((unsigned)pfd[1] + 1, ~0u, 0);
        *notify_fd = pfd[1];
        return -1; /* go on as the guest */
    }
    close(pfd[1]);
    ssize_t n;
    do
        n = read(pfd[0], &b, 1);
    while (n < 0 && errno == EINTR);
    close(pfd[0]);
    if (n == 1) {
        printf("%d\n", (int)pid);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return 1;
}

static void detach_stdio(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}

static int run_guest(const struct sim_params *p, int notify_fd)
{
    struct server *srv = NULL;
    struct guest *g = NULL;
    sigset_t ss;
    int sigfd;

    umask(077);
    signal(SIGPIPE, SIG_IGN);
    /* Block before the vCPU threads exist, so they inherit the mask and
     * the signals arrive only on the signalfd. */
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
    sigfd = signalfd(-1, &ss, SFD_CLOEXEC);
    if (sigfd < 0)
        return fail(1, "run", "signalfd: %s", strerror(errno));
    if (server_open(p->rundir, p->name, &srv) < 0)
        return 1;
    if (guest_new(p, &g) < 0) {
        server_free(srv);
        return 1;
    }
    if (notify_fd >= 0) {
        detach_stdio();
        if (write(notify_fd, "1", 1) != 1) {
            server_free(srv);
            guest_free(g);
            return 1;
        }
        close(notify_fd);
    }
    server_run(srv, g, sigfd);
    server_free(srv); /* socket and pidfile go first */
    guest_free(g);
    close(sigfd);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    struct sim_params p = {
        .mem_bytes = 256ull << 20,
        .nr_vcpus = 1,
        .workload = SIM_WL_IDLE,
        .seed = 1,
        .disk_rate = 100,
    };
    char rundir[4096];
    int notify_fd = -1, r;

    r = run_parse(argc, argv, &p, rundir, sizeof(rundir));
    if (r)
        return r;
    /* A guest's identity, as Xen gives a domain one: random, version 4. */
    if (!p.uuid_set) {
        if (getrandom(p.uuid, sizeof(p.uuid), 0) != sizeof(p.uuid))
            return fail(1, "run", "getrandom: %s", strerror(errno));
        p.uuid[6] = (uint8_t)((p.uuid[6] & 0x0f) | 0x40);
        p.uuid[8] = (uint8_t)((p.uuid[8] & 0x3f) | 0x80);
    }
    if (p.daemon) {
        r = daemonize(&notify_fd);
        if (r >= 0)
            return r; /* the parent's exit status */
        if (chdir("/") < 0)
            return 1;
    }
    return run_guest(&p, notify_fd);
}

int main(int argc, char **argv)
{
    const struct cmd *c;

    if (argc < 2)
        return fail(EXIT_USAGE, NULL, "no command given (try '" PROG " help')");
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0)
        return argc > 3 ? fail(EXIT_USAGE, "help", "takes at most one command")
                        : help(argc == 3 ? argv[2] : NULL);
    c = cmd_find(argv[1]);
    if (!c)
        return fail(EXIT_USAGE, NULL, "unknown command '%s' (try '" PROG " help')", argv[1]);
    return c->fn(argc - 1, argv + 1);
}
