/* server.h - the guest's control socket ($rundir/sim/NAME.sock) and pidfile. */
#ifndef SIMGUEST_SERVER_H
#define SIMGUEST_SERVER_H

#include "guest.h"

struct server;

/* Creates $rundir and $rundir/sim (0700), takes the pidfile's lock (-EEXIST
 * with one line on stderr when a live guest has the name) and listens.
 * rundir must be absolute. */
int server_open(const char *rundir, const char *name, struct server **out);
/* Serve until DESTROY or a signal on sigfd. Returns 0. */
int server_run(struct server *s, struct guest *g, int sigfd);
/* Removes the socket and pidfile (if still there) and frees. */
void server_free(struct server *s);

#endif
