/* unix_sock.h - a connection to a Unix stream socket at a path, blocking
 * (the descriptor close-on-exec): the fd, or -errno (-ENAMETOOLONG for a
 * path that does not fit a sun_path). */
#ifndef COLO_UNIX_SOCK_H
#define COLO_UNIX_SOCK_H

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"

static inline int colo_unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return negative_errno();
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = negative_errno();
        close(fd);
        return r;
    }
    return fd;
}

#endif
