/* main.c - colo-datapath: a COLO guest's network around colo-proxy, on real
 * interfaces (proxy/datapath/datapath.h). See colo-proxy(8).
 *
 *   colo-datapath --client-if IF --primary-if IF --secondary-if IF
 *                 --primary-in PATH --secondary-in PATH --outdev PATH
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
              "--primary-in PATH --secondary-in PATH --outdev PATH"

static void print_line(void *opaque, enum proxy_level lvl, const char *line)
{
    (void)opaque;
    (void)lvl;
    fprintf(stderr, PROG ": %s\n", line);
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
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const names[] = { "--client-if", "--primary-if", "--secondary-if",
                                         "--primary-in", "--secondary-in", "--outdev" };
    struct colo_datapath_opts o = { .log = { print_line, NULL } };
    const char **slot[] = { &o.ifname[DP_CLIENT], &o.ifname[DP_PRIMARY], &o.ifname[DP_SECONDARY],
                            &o.path[DP_PIN], &o.path[DP_SIN], &o.path[DP_OUT] };
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *k = strchr("cpsPSO", c);
        if (c && k) {
            if (!*optarg)
                return usage("%s needs a value", names[k - "cpsPSO"]);
            *slot[k - "cpsPSO"] = optarg;
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
    for (size_t i = 0; i < ARRAY_SIZE(slot); i++)
        if (!*slot[i])
            return usage("%s is required", names[i]);
    for (int a = 0; a < DP_IF__MAX; a++)
        for (int b = a + 1; b < DP_IF__MAX; b++)
            if (strcmp(o.ifname[a], o.ifname[b]) == 0)
                return usage("%s and %s are the same interface %s", names[a], names[b],
                             o.ifname[a]);
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
    return colo_datapath_run(&o, sigfd, fofd, STDOUT_FILENO);
}
