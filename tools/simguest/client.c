/* client.c - the client commands: info, hash, pause, unpause, destroy. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/digest.h"
#include "opts.h"
#include "backend/sim/sim-proto.h"
#include "uuid.h"

static int guest_connect(const char *cmd, const struct client_opts *o, int *out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    _cleanup_close_ int fd = -1;

    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/%s.sock",
                         o->rundir, o->name) >= sizeof(sa.sun_path))
        return fail(1, cmd, "socket path %s/sim/%s.sock is too long", o->rundir, o->name);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(1, cmd, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            return fail(1, cmd, "no guest '%s' is running in %s", o->name, o->rundir);
        return fail(1, cmd, "cannot connect to %s: %s", sa.sun_path, strerror(errno));
    }
    *out = TAKE_FD(fd);
    return 0;
}

/* One op; on failure prints the guest's message (or the transport error)
 * and returns 1. */
static int call(const char *cmd, int fd, uint16_t op, uint16_t flags, struct sim_rsp *rsp,
                int timeout_ms)
{
    static struct sim_req req;
    uint32_t seq = 0;
    char msg[SIM_MSG_MAX];
    int r;

    memset(&req, 0, SIM_REQ_HDR);
    req.op = op;
    req.flags = flags;
    rsp->magic = 0;
    r = sim_call(fd, &seq, &req, rsp, NULL, timeout_ms);
    if (r == 0)
        return 0;
    if (rsp->magic == SIM_PROTO_MAGIC && rsp->seq == req.seq && rsp->status == r && rsp->len)
        return fail(1, cmd, "%s", sim_rsp_msg(rsp, msg, sizeof(msg)));
    if (r == -ESRCH)
        return fail(1, cmd, "the guest went away");
    return fail(1, cmd, "%s", strerror(-r));
}

static int get_info(const char *cmd, int fd, struct sim_info *info)
{
    static struct sim_rsp rsp;

    if (call(cmd, fd, SIM_OP_INFO, 0, &rsp, SIM_TIMEOUT_MS))
        return 1;
    if (rsp.len != sizeof(*info))
        return fail(1, cmd, "malformed INFO reply (%u bytes)", rsp.len);
    memcpy(info, rsp.data, sizeof(*info));
    info->name[SIM_NAME_MAX] = '\0';
    if (info->nr_vcpus > SIM_MAX_VCPUS)
        return fail(1, cmd, "malformed INFO reply (%u vCPUs)", info->nr_vcpus);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    struct client_opts o;
    struct sim_info in;
    _cleanup_close_ int fd = -1;
    int r;

    if ((r = client_opts_parse("info", argc, argv, &o)) || (r = guest_connect("info", &o, &fd)) ||
        (r = get_info("info", fd, &in)))
        return r;
    /* "key: value" lines, for people and for grep. */
    printf("name: %s\n", in.name);
    printf("pid: %" PRIu32 "\n", in.pid);
    printf("pages: %" PRIu64 "\n", in.nr_pages);
    printf("mem: %" PRIu64 "\n", in.mem_bytes);
    printf("vcpus: %" PRIu32 "\n", in.nr_vcpus);
    printf("workload: %s\n", sim_workload_name(in.workload));
    printf("rate: %" PRIu64 "\n", in.rate);
    printf("hot-set: %" PRIu64 "\n", in.hot_set);
    printf("seed: %" PRIu64 "\n", in.seed);
    printf("jitter: %" PRIu32 " ppm\n", in.jitter_ppm);
    if (in.flags & SIM_INFO_NIC) {
        printf("nic: random %" PRIu32 " ppm\n", in.nic_random_ppm);
        printf("nic received: %" PRIu64 "\n", in.nic_received);
        printf("nic refused: %" PRIu64 " (peers %" PRIu64 ")\n", in.nic_bad, in.nic_peers);
        printf("nic replies: %" PRIu64 " (%" PRIu64 " random)\n", in.nic_replies, in.nic_randoms);
        printf("nic next seq: %" PRIu64 "\n", in.nic_next_seq);
        printf("nic state: %016" PRIx64 "\n", in.nic_state);
    } else {
        printf("nic: none\n");
    }
    char uuid[COLO_UUID_TEXT_LEN + 1];
    colo_uuid_format(in.uuid, uuid);
    printf("uuid: %s\n", uuid);
    printf("paused: %s\n", in.flags & SIM_INFO_PAUSED ? "yes" : "no");
    printf("checkpoint stop: %s\n", in.flags & SIM_INFO_CKPT_STOP ? "yes" : "no");
    printf("fenced: %s\n", in.flags & SIM_INFO_FENCED ? "yes" : "no");
    printf("incoming: %s\n", in.flags & SIM_INFO_INCOMING ? "yes" : "no");
    printf("context: %s\n", in.flags & SIM_INFO_CTX_VALID ? "valid" : "unset");
    printf("logdirty: %s\n", in.flags & SIM_INFO_LOGDIRTY ? "on" : "off");
    printf("dirty: %" PRIu64 "\n", in.dirty_count);
    printf("ticks: %" PRIu64 "\n", in.ticks);
    for (uint32_t i = 0; i < in.nr_vcpus; i++)
        printf("vcpu%" PRIu32 " counter: %" PRIu64 "\n", i, in.counters[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_hash(int argc, char **argv)
{
    static struct sim_rsp rsp;
    struct client_opts o;
    struct sim_info in;
    _cleanup_close_ int fd = -1;
    char hex[2 * COLO_DIGEST_LEN + 1];
    int r;

    if ((r = client_opts_parse("hash", argc, argv, &o)) || (r = guest_connect("hash", &o, &fd)) ||
        (r = get_info("hash", fd, &in)) ||
        (r = call("hash", fd, SIM_OP_HASH, 0, &rsp, sim_hash_timeout_ms(in.mem_bytes))))
        return r;
    if (rsp.len != COLO_DIGEST_LEN)
        return fail(1, "hash", "malformed HASH reply (%u bytes)", rsp.len);
    colo_digest_hex(rsp.data, hex);
    printf("digest %s\n", hex);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Exit 0 when the disk agrees with the guest's record of it, 1 when not. */
int cmd_disk_verify(int argc, char **argv)
{
    static struct sim_rsp rsp;
    struct client_opts o;
    struct sim_info in;
    _cleanup_close_ int fd = -1;
    int r;

    if ((r = client_opts_parse("disk-verify", argc, argv, &o)) ||
        (r = guest_connect("disk-verify", &o, &fd)) || (r = get_info("disk-verify", fd, &in)) ||
        (r = call("disk-verify", fd, SIM_OP_DISK_VERIFY, 0, &rsp,
                  sim_hash_timeout_ms(in.mem_bytes))))
        return r;
    if (rsp.len == 0 || rsp.len >= sizeof(rsp.data))
        return fail(1, "disk-verify", "malformed DISK_VERIFY reply (%u bytes)", rsp.len);
    printf("%.*s\n", (int)rsp.len, (const char *)rsp.data);
    if (fflush(stdout) != 0)
        return 1;
    return rsp.val == 0 ? 0 : 1;
}

static int simple(const char *cmd, uint16_t op, int argc, char **argv)
{
    static struct sim_rsp rsp;
    struct client_opts o;
    _cleanup_close_ int fd = -1, pidfd = -1;
    int r;

    if ((r = client_opts_parse(cmd, argc, argv, &o)) || (r = guest_connect(cmd, &o, &fd)))
        return r;
    if (op == SIM_OP_DESTROY)
        pidfd = sim_peer_pidfd(fd); /* before DESTROY: the pid is still the guest's */
    if ((r = call(cmd, fd, op, o.checkpoint ? SIM_PAUSE_F_CHECKPOINT : 0, &rsp, SIM_TIMEOUT_MS)))
        return r;
    if (op != SIM_OP_DESTROY)
        return 0;
    /* Gone means exited, not merely that the socket closed. */
    if (sim_pidfd_exited(pidfd, SIM_TIMEOUT_MS))
        return 0;
    if (pidfd >= 0)
        return fail(1, cmd, "guest '%s' did not exit in %d s", o.name, SIM_TIMEOUT_MS / 1000);
    /* No pidfd (a kernel before 5.3): wait for EOF instead. */
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, SIM_TIMEOUT_MS) <= 0)
        return fail(1, cmd, "guest '%s' did not exit", o.name);
    return 0;
}

int cmd_pause(int argc, char **argv) { return simple("pause", SIM_OP_PAUSE, argc, argv); }
int cmd_unpause(int argc, char **argv) { return simple("unpause", SIM_OP_UNPAUSE, argc, argv); }
int cmd_destroy(int argc, char **argv) { return simple("destroy", SIM_OP_DESTROY, argc, argv); }
