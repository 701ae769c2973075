/* main.c - colo-proxy: QEMU colo-compare's sockets, on xen-colo's compare
 * engine. See colo-proxy(8). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "opts.h"
#include "proxy/service/proxy.h"

int main(int argc, char **argv)
{
    struct proxy_opts o;
    struct proxy *p = NULL;
    sigset_t ss;
    int r;

    r = proxy_opts_parse(argc, argv, &o);
    if (r)
        return r < 0 ? 0 : r;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&ss);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    _cleanup_close_ int sigfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        return fail(1, "signalfd: %s", strerror(errno));
    umask(077);
    r = proxy_open(&o, &p);
    if (r)
        return r;
    r = proxy_run(p, sigfd);
    proxy_free(p); /* the sockets' paths go */
    return r;
}
