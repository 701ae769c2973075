/* sock.h - the Unix sockets colo-proxy listens on: made 0600, refused
 * when a live listener has the path, a stale one removed; removed again
 * at exit. */
#ifndef COLO_PROXY_SOCK_H
#define COLO_PROXY_SOCK_H

/* A non-blocking listening socket at path: its fd, or -errno with one
 * line on stderr naming what (the option that asked for it) and why. */
int sock_listen(const char *what, const char *path);

/* Accept one peer, non-blocking and close-on-exec: its fd, -EAGAIN when
 * none is waiting, or another -errno. */
int sock_accept(int lfd);

#endif
