/* main.c - colo-datapath: a COLO guest's network around colo-proxy, on real
 * interfaces (proxy/datapath/datapath.h). See colo-proxy(8).
 *
 *   one host:    --client-if IF --primary-if IF --secondary-if IF
 *                --primary-in PATH --secondary-in PATH --outdev PATH
 *   Remus:       --client-if IF --primary-if IF --primary-in PATH --outdev PATH
 *   the primary's host:   --client-if IF --primary-if IF
 *                --secondary-link HOST[:PORT] (--key FILE | --insecure)
 *                --primary-in PATH --secondary-in PATH --outdev PATH
 *   the secondary's host: --secondary-if IF --client-if IF
 *                --listen ADDR[:PORT] (--key FILE | --insecure)
 *
 * SIGUSR1: the primary is gone (failover). Exit 0 after SIGTERM or SIGINT,
 * its counters as one JSON line on stdout; 1 when it cannot start or go on
 * (one line on stderr); 2 for a usage error. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "macro.h"
#include "proxy/datapath/datapath.h"

#define PROG "colo-datapath"
#define USAGE "usage: " PROG " --client-if IF --primary-if IF --secondary-if IF " \
              "--primary-in PATH --secondary-in PATH --outdev PATH\n" \
              "       " PROG " --client-if IF --primary-if IF --primary-in PATH --outdev PATH\n" \
              "       " PROG " --client-if IF --primary-if IF --secondary-link HOST[:PORT] " \
              "(--key FILE | --insecure) --primary-in PATH --secondary-in PATH --outdev PATH\n" \
              "       " PROG " --secondary-if IF --client-if IF --listen ADDR[:PORT] " \
              "(--key FILE | --insecure)"

static void print_line(void *opaque, enum proxy_level lvl, const char *line)
{
    (void)opaque;
    (void)lvl;
    fprintf(stderr, PROG ": %s\n", line);
}

/* The link's stream logs through a context: its lines are this program's
 * too, warnings and errors, with the errno's text. */
static void link_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                          const char *context, const char *format, va_list al)
{
    (void)lg;
    (void)context;
    if (level < XTL_WARN)
        return;
    fputs(PROG ": ", stderr);
    vfprintf(stderr, format, al);
    if (errnoval >= 0)
        fprintf(stderr, ": %s", strerror(errnoval));
    fputc('\n', stderr);
}

static void link_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total)
{
    (void)lg, (void)context, (void)doing_what, (void)percent, (void)done, (void)total;
}

static void link_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

static int usage(const char *fmt, ...) _printf_(1, 2);
static int usage(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n" USAGE "\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "client-if", required_argument, NULL, 'c' },
        { "primary-if", required_argument, NULL, 'p' },
        { "secondary-if", required_argument, NULL, 's' },
        { "primary-in", required_argument, NULL, 'P' },
        { "secondary-in", required_argument, NULL, 'S' },
        { "outdev", required_argument, NULL, 'O' },
        { "secondary-link", required_argument, NULL, 'l' },
        { "listen", required_argument, NULL, 'L' },
        { "key", required_argument, NULL, 'k' },
        { "insecure", no_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const names[] = { "--client-if", "--primary-if", "--secondary-if",
                                         "--primary-in", "--secondary-in", "--outdev",
                                         "--secondary-link", "--listen", "--key" };
    libxlcolo_options lo = { .timeout_ms = 3000 };
    struct colo_datapath_opts o = { .log = { print_line, NULL }, .link_opt = &lo };
    const char **slot[] = { &o.ifname[DP_CLIENT], &o.ifname[DP_PRIMARY], &o.ifname[DP_SECONDARY],
                            &o.path[DP_PIN], &o.path[DP_SIN], &o.path[DP_OUT],
                            &o.link_to, &o.link_listen, &lo.key_file };
    static const char keys[] = "cpsPSOlLk";
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *k = c ? strchr(keys, c) : NULL;
        if (k) {
            if (!*optarg)
                return usage("%s needs a value", names[k - keys]);
            *slot[k - keys] = optarg;
        } else if (c == 'i') {
            lo.insecure = true;
        } else if (c == 'h') {
            puts(USAGE);
            return 0;
        } else if (c == ':') {
            return usage("option '%s' needs a value", argv[optind - 1]);
        } else {
            return usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage("unexpected argument '%s'", argv[optind]);
    /* What each role needs (1) and refuses (0); the rest is the link's. */
    static const char role_needs[4][6] = {
        { 1, 1, 1, 1, 1, 1 },   /* one host */
        { 1, 1, 0, 1, 1, 1 },   /* the primary's host */
        { 1, 0, 1, 0, 0, 0 },   /* the secondary's host */
        { 1, 1, 0, 1, 0, 1 },   /* Remus: no secondary */
    };
    static const char *const role_name[4] = { "", " with --secondary-link", " with --listen",
                                               " (Remus: no secondary)" };
    if (o.link_to && o.link_listen)
        return usage("--secondary-link and --listen are the two hosts' roles: one of them");
    int role = o.link_to ? 1
               : o.link_listen ? 2
               : o.ifname[DP_SECONDARY] || o.path[DP_SIN] ? 0 : 3;
    for (size_t i = 0; i < 6; i++) {
        if (role_needs[role][i] && !*slot[i])
            return usage("%s is required%s", names[i], role_name[role]);
        if (!role_needs[role][i] && *slot[i])
            return usage("%s has no place%s", names[i], role_name[role]);
    }
    if ((role == 0 || role == 3) && (lo.key_file || lo.insecure))
        return usage("%s is the link's: it needs --secondary-link or --listen",
                     lo.key_file ? "--key" : "--insecure");
    if ((role == 1 || role == 2) && !lo.key_file && !lo.insecure)
        return usage("the link needs --key FILE (or --insecure)");
    if (lo.key_file && lo.insecure)
        return usage("--key and --insecure: one of them");
    for (int a = 0; a < DP_IF__MAX; a++)
        for (int b = a + 1; b < DP_IF__MAX; b++)
            if (o.ifname[a] && o.ifname[b] && strcmp(o.ifname[a], o.ifname[b]) == 0)
                return usage("%s and %s are the same interface %s", names[a], names[b],
                             o.ifname[a]);
    if (lo.insecure)
        fprintf(stderr, PROG ": warning: the link is not authenticated (--insecure): anyone "
                "who reaches it can send frames to the guests\n");
    signal(SIGPIPE, SIG_IGN);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigset_t fo;
    sigemptyset(&fo);
    sigaddset(&fo, SIGUSR1);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    sigprocmask(SIG_BLOCK, &fo, NULL);
    _cleanup_close_ int sigfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    _cleanup_close_ int fofd = signalfd(-1, &fo, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0 || fofd < 0) {
        fprintf(stderr, PROG ": signalfd: %s\n", strerror(errno));
        return 1;
    }
    xentoollog_logger lg = { .vmessage = link_vmessage, .progress = link_progress,
                             .destroy = link_destroy };
    if (libxlcolo_ctx_alloc(&o.ctx, LIBXLCOLO_VERSION, 0, &lg) < 0) {
        fprintf(stderr, PROG ": no context\n");
        return 1;
    }
    int rc = colo_datapath_run(&o, sigfd, fofd, STDOUT_FILENO);
    libxlcolo_ctx_free(o.ctx);
    return rc;
}
