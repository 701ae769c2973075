/* sock.h - the Unix sockets colo-proxy listens on: made 0600, refused
 * when a live listener has the path, a stale one removed; removed again
 * at exit. */
#ifndef COLO_PROXY_SOCK_H
#define COLO_PROXY_SOCK_H

#include "proxy/service/log.h"

/* A non-blocking listening socket at path: its fd, or -errno with one
 * line said through l, naming what (the option that asked for it) and why. */
int proxy_sock_listen(const struct proxy_log *l, const char *what, const char *path);

/* Accept one peer, non-blocking and close-on-exec: its fd, -EAGAIN when
 * none is waiting, or another -errno. */
int proxy_sock_accept(int lfd);

#endif
