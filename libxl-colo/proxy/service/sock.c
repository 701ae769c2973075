/* sock.c - listening Unix sockets (sock.h), as control/control.c makes
 * its own: a path that is not a socket is refused, a socket someone
 * answers on is refused, a stale one is removed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/service/log.h"
#include "proxy/service/sock.h"

#define BACKLOG 4

/* Does a live process answer at sa? 1 yes, 0 no (stale), or -errno. */
static int is_live(const struct sockaddr_un *sa)
{
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return negative_errno();
    if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
        return 1;
    if (errno == ECONNREFUSED || errno == ENOENT)
        return 0;
    return negative_errno();
}

int proxy_sock_listen(const struct proxy_log *l, const char *what, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return proxy_fail(l, 1, "%s %s: the path is longer than %zu bytes", what, path,
                    sizeof(sa.sun_path) - 1), -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return proxy_fail(l, 1, "%s %s: exists and is not a socket", what, path), -EEXIST;
        r = is_live(&sa);
        if (r > 0)
            return proxy_fail(l, 1, "%s %s: another program is listening there", what, path),
                   -EADDRINUSE;
        if (r < 0)
            return proxy_fail(l, 1, "%s %s: cannot probe the socket there: %s", what, path,
                        strerror(-r)), r;
        if (unlink(path) < 0 && errno != ENOENT)
            return r = negative_errno(), proxy_fail(l, 1, "%s %s: cannot remove the stale socket: %s",
                                              what, path, strerror(-r)), r;
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return r = negative_errno(), proxy_fail(l, 1, "%s: socket: %s", what, strerror(-r)), r;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return r = negative_errno(), proxy_fail(l, 1, "%s %s: cannot bind: %s", what, path,
                                          strerror(-r)), r;
    /* 0600 whatever the umask. */
    if (chmod(path, 0600) < 0 || listen(fd, BACKLOG) < 0) {
        r = negative_errno();
        unlink(path);
        return proxy_fail(l, 1, "%s %s: cannot listen: %s", what, path, strerror(-r)), r;
    }
    return TAKE_FD(fd);
}

int proxy_sock_accept(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : negative_errno();
    return fd;
}
