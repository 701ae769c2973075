/*
 * xl_colo_cmdtable.c - the commands and their option tables, with their
 * help in the rows (xl's cmd_spec, argp's options), and the printing of
 * that help. getopt_long reads the same rows (xl_colo_options.c), and the
 * defaults printed are the values the parse starts from (xlcolo_init).
 * Lookup is by exact name only: no abbreviations, so a new command can
 * never break a script.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

#define MAX_MS 3600000u          /* an hour */
#define MAX_PAGES (1ull << 40)   /* 4 PiB of 4 KiB pages */

#define FIELD(f) offsetof(struct xlcolo, f)

enum {
    OPT_COLO = XLCOLO_OPT_FIRST_CMD, OPT_REMUS, OPT_KEY, OPT_INSECURE,
    OPT_VERIFY, OPT_MAX_CHECKPOINTS, OPT_HEARTBEAT, OPT_TIMEOUT,
    OPT_PRECOPY_THRESHOLD, OPT_DIRTY_BOUND, OPT_LISTEN, OPT_DISK,
    OPT_REP_DISK, OPT_ENABLE, OPT_DISABLE, OPT_PRIMARY, OPT_SECONDARY, OPT_FAILOVER,
    OPT_PEER, OPT_ARBITER, OPT_ARBITER_PREFIX, OPT_LEASE_TTL, OPT_ARBITER_CACERT,
    OPT_ARBITER_CERT, OPT_ARBITER_KEY, OPT_ARBITER_HOST, OPT_PROXY,
};

#define OPTION_DISK \
    { .name = "disk", .key = OPT_DISK, .arg = "SPEC", .kind = XO_DISK, \
      .help = "a replicated disk, repeatable: NAME[=QMP_SOCKET][,guest=URI], the socket of " \
              "the QEMU running its replication (default: disk-serve's, in the run directory); " \
              "receive: guest=, its secondary domain's disk " \
              "on this host (xen: a path such as /dev/nbd1; sim: an NBD URI)" }

#define OPTION_JSON(text) \
    { .name = "json", .key = 'j', .kind = XO_FLAG, .field = FIELD(json), .help = text }
#define OPTION_HELP { .name = "help", .key = 'h', .kind = XO_HELP, .help = "print this help" }
#define OPTION_KEY \
    { .name = "key", .key = OPT_KEY, .arg = "FILE", .kind = XO_STRING, \
      .field = FIELD(opt.key_file), .help = "pre-shared key authenticating the link" }
#define OPTION_INSECURE \
    { .name = "insecure", .key = OPT_INSECURE, .kind = XO_FLAG, .field = FIELD(opt.insecure), \
      .help = "run without authentication (trusted networks only)" }

/* Ownership (docs/operator-guide.md, "Ownership"): start and receive. */
#define OPTIONS_ARBITER \
    { .name = "arbiter", .key = OPT_ARBITER, .arg = "URL|none", .kind = XO_STRING, \
      .field = FIELD(opt.arbiter), .env = "XLCOLO_ARBITER", \
      .help = "who owns the guest: etcd://HOST:PORT[,HOST:PORT...] (required; none: the " \
              "timeout alone decides, with a warning)" }, \
    { .name = "arbiter-prefix", .key = OPT_ARBITER_PREFIX, .arg = "PATH", .kind = XO_STRING, \
      .field = FIELD(opt.arbiter_prefix), \
      .help = "the owner keys' prefix, default /xen-colo/" }, \
    { .name = "lease-ttl", .key = OPT_LEASE_TTL, .arg = "MS", .kind = XO_U32, \
      .field = FIELD(opt.lease_ttl_ms), .min = 2000, .max = MAX_MS, \
      .help = "the owner's lease; the primary fences before it ends" }, \
    { .name = "arbiter-cacert", .key = OPT_ARBITER_CACERT, .arg = "FILE", .kind = XO_STRING, \
      .field = FIELD(opt.arbiter_ca), .help = "TLS to the arbiter, with this CA" }, \
    { .name = "arbiter-cert", .key = OPT_ARBITER_CERT, .arg = "FILE", .kind = XO_STRING, \
      .field = FIELD(opt.arbiter_cert), .help = "TLS client certificate" }, \
    { .name = "arbiter-key", .key = OPT_ARBITER_KEY, .arg = "FILE", .kind = XO_STRING, \
      .field = FIELD(opt.arbiter_key), .help = "its private key" }, \
    { .name = "arbiter-host", .key = OPT_ARBITER_HOST, .arg = "NAME", .kind = XO_STRING, \
      .field = FIELD(opt.host_name), .help = "this host in the arbiter (default: its hostname)" }

/* parse_global in xl_colo.c handles these keys itself. */
const struct xlcolo_option xlcolo_global_options[] = {
    { .name = "backend", .key = XLCOLO_OPT_BACKEND, .arg = "sim|xen", .kind = XO_STRING,
      .field = FIELD(backend), .help = "default: xen if /dev/xen/privcmd exists, else sim" },
    { .name = "rundir", .key = XLCOLO_OPT_RUNDIR, .arg = "DIR", .kind = XO_STRING,
      .field = FIELD(run_dir), .env = "XLCOLO_RUNDIR", .help = "control sockets" },
    { .name = "verbose", .key = 'v', .kind = XO_OTHER,
      .help = "more logging on stderr (repeatable)" },
    OPTION_JSON("machine output: one JSON object per line"),
    { .name = "help", .key = 'h', .kind = XO_HELP, .help = "this list" },
    {}
};

static const struct xlcolo_option start_options[] = {
    { .name = "interval", .key = 'i', .arg = "MS", .kind = XO_U32,
      .field = FIELD(opt.interval_ms), .min = 1, .max = MAX_MS,
      .help = "checkpoint period (Remus; COLO fallback)" },
    { .name = "colo", .key = OPT_COLO, .kind = XO_MODE, .field = FIELD(opt.mode),
      .value = LIBXLCOLO_MODE_COLO, .excludes = OPT_REMUS,
      .help = "COLO: checkpoint on request, periodic fallback" },
    { .name = "remus", .key = OPT_REMUS, .kind = XO_MODE, .field = FIELD(opt.mode),
      .value = LIBXLCOLO_MODE_REMUS, .help = "Remus: periodic checkpoints (the default)" },
    OPTION_KEY,
    OPTION_INSECURE,
    { .name = "verify", .key = OPT_VERIFY, .kind = XO_FLAG, .field = FIELD(opt.verify),
      .help = "digest guest memory at each checkpoint" },
    { .name = "max-checkpoints", .key = OPT_MAX_CHECKPOINTS, .arg = "N", .kind = XO_U64,
      .field = FIELD(opt.max_checkpoints), .min = 0, .max = UINT64_MAX,
      .help = "stop after N checkpoints", .note = " (never)" },
    { .name = "heartbeat", .key = OPT_HEARTBEAT, .arg = "MS", .kind = XO_U32,
      .field = FIELD(opt.heartbeat_ms), .min = 1, .max = 60000,
      .help = "heartbeat period on the link" },
    { .name = "timeout", .key = OPT_TIMEOUT, .arg = "MS", .kind = XO_U32,
      .field = FIELD(opt.timeout_ms), .min = 1, .max = MAX_MS,
      .help = "peer silent this long is lost" },
    { .name = "precopy-threshold", .key = OPT_PRECOPY_THRESHOLD, .arg = "PAGES", .kind = XO_U64,
      .field = FIELD(opt.precopy_threshold), .min = 0, .max = MAX_PAGES,
      .help = "stop and copy below this many dirty pages" },
    { .name = "dirty-bound", .key = OPT_DIRTY_BOUND, .arg = "PAGES", .kind = XO_U64,
      .field = FIELD(opt.dirty_bound), .min = 0, .max = MAX_PAGES,
      .help = "checkpoint early above this many dirty pages", .note = " (off)" },
    OPTIONS_ARBITER,
    OPTION_DISK,
    { .name = "proxy", .key = OPT_PROXY, .arg = "SPEC", .kind = XO_PROXY,
      .help = "the guest's output, on colo-compare's sockets (colo-proxy(8)): compared with "
              "--colo, held until its checkpoint is acknowledged in Remus; "
              "primary-in=PATH,[secondary-in=PATH (--colo),]outdev=PATH[,status=PATH]"
              "[,compare-timeout=MS][,busy-poll=US][,vnet-hdr]; Remus: client-if=IF[,guest-if=IF] "
              "forwards between the client's interface and the guest's (its vif) here" },
    OPTION_JSON("one JSON object per event"),
    OPTION_HELP,
    {}
};

static const struct xlcolo_option receive_options[] = {
    { .name = "listen", .key = OPT_LISTEN, .arg = "ADDR:PORT", .kind = XO_STRING,
      .field = FIELD(listen), .help = "where to wait for the primary" },
    OPTION_KEY,
    OPTION_INSECURE,
    { .name = "verify", .key = OPT_VERIFY, .kind = XO_FLAG, .field = FIELD(opt.verify),
      .help = "digest guest memory at each applied checkpoint" },
    { .name = "timeout", .key = OPT_TIMEOUT, .arg = "MS", .kind = XO_U32,
      .field = FIELD(opt.timeout_ms), .min = 1, .max = MAX_MS,
      .help = "primary silent this long is lost" },
    OPTIONS_ARBITER,
    OPTION_DISK,
    OPTION_JSON("one JSON object per event"),
    OPTION_HELP,
    {}
};

static const struct xlcolo_option status_options[] = {
    OPTION_JSON("one JSON object per domain"),
    OPTION_HELP,
    {}
};

static const struct xlcolo_option checkpoint_options[] = {
    OPTION_JSON("print {\"domain\":..,\"epoch\":N}"),
    OPTION_HELP,
    {}
};

static const struct xlcolo_option set_replication_options[] = {
    { .name = "disk", .key = OPT_REP_DISK, .arg = "NAME", .kind = XO_STRING,
      .field = FIELD(rep_disk), .help = "this disk only" },
    { .name = "enable", .key = OPT_ENABLE, .kind = XO_FLAG, .field = FIELD(rep_enable),
      .excludes = OPT_DISABLE, .help = "start the replication (enable: true)" },
    { .name = "disable", .key = OPT_DISABLE, .kind = XO_FLAG, .field = FIELD(rep_disable),
      .help = "stop it (enable: false)" },
    { .name = "primary", .key = OPT_PRIMARY, .kind = XO_FLAG, .field = FIELD(role_primary),
      .excludes = OPT_SECONDARY, .help = "the disk is the primary's (primary: true)" },
    { .name = "secondary", .key = OPT_SECONDARY, .kind = XO_FLAG,
      .field = FIELD(role_secondary), .help = "the secondary's (primary: false)" },
    { .name = "failover", .key = OPT_FAILOVER, .kind = XO_FLAG, .field = FIELD(rep_failover),
      .help = "with --disable: stop for a failover (failover: true)" },
    OPTION_JSON("print {\"domain\":..,\"ok\":true}"),
    OPTION_HELP,
    {}
};

static const struct xlcolo_option disk_serve_options[] = {
    { .name = "primary", .key = OPT_PRIMARY, .kind = XO_FLAG, .field = FIELD(role_primary),
      .excludes = OPT_SECONDARY, .help = "the primary's disk: its replication goes to --peer" },
    { .name = "secondary", .key = OPT_SECONDARY, .kind = XO_FLAG,
      .field = FIELD(role_secondary), .help = "the secondary's copy: the primary's comes on --listen" },
    { .name = "listen", .key = OPT_LISTEN, .arg = "ADDR:PORT", .kind = XO_STRING,
      .field = FIELD(serve_listen), .help = "secondary: where the primary's replication connects" },
    { .name = "peer", .key = OPT_PEER, .arg = "HOST[:PORT]", .kind = XO_STRING,
      .field = FIELD(serve_peer), .help = "primary: the secondary's disk-serve, port "
                                          XLCOLO_STR(XLCOLO_DISK_PORT) " by default" },
    OPTION_KEY,
    OPTION_INSECURE,
    OPTION_JSON("one JSON object per event"),
    OPTION_HELP,
    {}
};

static const struct xlcolo_option done_options[] = {
    OPTION_JSON("print {\"domain\":..,\"ok\":true}"),
    OPTION_HELP,
    {}
};

const struct cmd_spec xlcolo_cmdtable[] = {
    { "start", cmd_start, CMD_NEEDS_CTX | CMD_NEEDS_KEY | CMD_NEEDS_ARBITER | CMD_NEEDS_BACKEND,
      start_options, 2, 2, "DOMAIN and HOST[:PORT] are required",
      "protect a domain, replicating it to a secondary",
      "[options] --key FILE|--insecure --arbiter URL|none DOMAIN HOST[:PORT]",
      "HOST[:PORT]                the secondary's `xl-colo receive`, port "
      XLCOLO_STR(XLCOLO_DEFAULT_PORT) " by default;\n"
      "                           IPv6 in brackets: [2001:db8::1]:"
      XLCOLO_STR(XLCOLO_DEFAULT_PORT) },
    { "receive", cmd_receive, CMD_NEEDS_CTX | CMD_NEEDS_KEY | CMD_NEEDS_ARBITER | CMD_NEEDS_BACKEND,
      receive_options, 0, 0, NULL,
      "run the secondary side of a protection",
      "[options] --key FILE|--insecure --arbiter URL|none",
      NULL },
    { "status", cmd_status, CMD_NEEDS_CTX,
      status_options, 0, 1, NULL,
      "report the state of running protections",
      "[-j] [DOMAIN]",
      "DOMAIN                     this one only; default: every protection in the run directory" },
    { "checkpoint", cmd_checkpoint, CMD_NEEDS_CTX,
      checkpoint_options, 1, 1, "DOMAIN is required",
      "take a checkpoint now and wait until it is committed",
      "[-j] DOMAIN",
      NULL },
    { "failover", cmd_failover, CMD_NEEDS_CTX,
      done_options, 1, 1, "DOMAIN is required",
      "fail over by hand: the secondary takes over the guest",
      "[-j] DOMAIN",
      NULL },
    { "stop", cmd_stop, CMD_NEEDS_CTX,
      done_options, 1, 1, "DOMAIN is required",
      "stop protecting a domain; the guest keeps running",
      "[-j] DOMAIN",
      NULL },
    { "set-replication", cmd_set_replication, CMD_NEEDS_CTX,
      set_replication_options, 1, 1, "DOMAIN is required",
      "QMP's xen-set-replication on a protection's disks, through the protection",
      "[--disk NAME] --enable|--disable --primary|--secondary [--failover] [-j] DOMAIN",
      "DOMAIN                     a running protection with replicated disks; every disk\n"
      "                           unless --disk. A disk stopped here is no longer\n"
      "                           replicated: the next checkpoint fails on it" },
    { "disk-serve", cmd_disk_serve, CMD_NEEDS_CTX | CMD_NEEDS_KEY,
      disk_serve_options, 2, 2, "NAME and IMAGE are required",
      "run and supervise one disk's replication sidecar (start the secondary's first)",
      "--primary --peer HOST[:PORT]|--secondary [--listen ADDR:PORT] --key FILE|--insecure NAME IMAGE",
      "NAME                       the disk's name, as start and receive --disk NAME\n"
      "IMAGE                      the local raw image: the primary's disk, the secondary's copy" },
    { "help", cmd_help, 0,
      NULL, 0, 1, NULL,
      "list the commands, or show one command's usage and options",
      "[COMMAND]",
      NULL },
};

const size_t xlcolo_cmdtable_len = ARRAY_SIZE(xlcolo_cmdtable);

void xlcolo_init(struct xlcolo *xc)
{
    memset(xc, 0, sizeof(*xc));
    libxlcolo_options_init(&xc->opt);
    xc->listen = XLCOLO_DEFAULT_LISTEN;
    xc->serve_listen = XLCOLO_DISK_LISTEN;
}

const struct cmd_spec *xlcolo_cmd_lookup(const char *name)
{
    for (size_t i = 0; i < xlcolo_cmdtable_len; i++)
        if (strcmp(xlcolo_cmdtable[i].name, name) == 0)
            return &xlcolo_cmdtable[i];
    return NULL;
}

/* One row: "-i, --interval MS", its help, and its default as the parse
 * starts from it. */
static void print_option(FILE *f, const struct xlcolo_option *o, int width,
                         const struct xlcolo *def)
{
    const char *field = (const char *)def + o->field;
    char left[64], dflt[64] = "";

    if (o->key < 128 && isalnum(o->key))
        snprintf(left, sizeof(left), "-%c, --%s%s%s", o->key, o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
    else
        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
    switch (o->kind) {
    case XO_U32:
        snprintf(dflt, sizeof(dflt), "%" PRIu32, *(const uint32_t *)field);
        break;
    case XO_U64:
        snprintf(dflt, sizeof(dflt), "%" PRIu64, *(const uint64_t *)field);
        break;
    case XO_STRING:
        if (*(const char *const *)field)
            snprintf(dflt, sizeof(dflt), "%s", *(const char *const *)field);
        break;
    default:
        break;
    }
    fprintf(f, "  %-*s %s", width, left, o->help);
    if (*dflt)
        fprintf(f, ", default %s%s%s%s", o->env ? "$" : "", o->env ? o->env : "",
                o->env ? " or " : "", dflt);
    fprintf(f, "%s\n", *dflt && o->note ? o->note : "");
}

void xlcolo_print_help(FILE *f)
{
    struct xlcolo def;

    xlcolo_init(&def);
    def.run_dir = libxlcolo_default_run_dir();
    fputs("usage: xl-colo [--backend sim|xen] [--rundir DIR] [-v] [-j] "
          "COMMAND [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < xlcolo_cmdtable_len; i++)
        fprintf(f, "  %-16s %s\n", xlcolo_cmdtable[i].name,
                xlcolo_cmdtable[i].summary);
    fputs("\nglobal options:\n", f);
    for (const struct xlcolo_option *o = xlcolo_global_options; o->name; o++)
        print_option(f, o, 18, &def);
    fputs("\nSee 'xl-colo help COMMAND' for the options of a command.\n", f);
}

static void print_cmd_help(const struct cmd_spec *spec)
{
    struct xlcolo def;

    xlcolo_init(&def);
    printf("usage: xl-colo %s %s\n\n%s\n", spec->name, spec->usage,
           spec->summary);
    if (!spec->options && !spec->args_help)
        return;
    printf("\noptions:\n");
    for (const struct xlcolo_option *o = spec->options; o && o->name; o++)
        print_option(stdout, o, 26, &def);
    for (const char *s = spec->args_help; s && *s;) {
        size_t n = strcspn(s, "\n");
        printf("  %.*s\n", (int)n, s);
        s += n + (s[n] == '\n');
    }
}

int xlcolo_print_cmd_help(const char *name)
{
    const struct cmd_spec *spec = xlcolo_cmd_lookup(name);
    if (!spec) {
        fprintf(stderr, "xl-colo: unknown command '%s' (see 'xl-colo help')\n",
                name);
        return XLCOLO_EXIT_USAGE;
    }
    print_cmd_help(spec);
    return EXIT_SUCCESS;
}
