/*
 * control.h - the per-domain control socket of a running protection.
 *
 * $run_dir/<domain>.ctl is a unix stream socket (mode 0600). A client sends
 * one request line ("status\n", "checkpoint\n", "failover\n", "stop\n",
 * "set-replication DISK ENABLE PRIMARY FAILOVER\n", DISK a disk's name or
 * "*" for all, the others 0 or 1) and reads one reply line, a JSON object of at most COLO_CTL_REPLY_MAX bytes:
 * {"ok":true,...} or {"ok":false,"error":"...","errno":N}; the status
 * reply's fields are the status codec's (control/status_codec.h). The
 * engine polls the listening fd in its loop, accepts a request with
 * colo_control_accept() and answers it - at once, or later (a checkpoint
 * is answered when it is committed) - with one of the reply functions,
 * which also close the client.
 */
#ifndef COLO_CONTROL_H
#define COLO_CONTROL_H

#include "colo-internal.h"
#include <stdbool.h>

/* The longest reply line, its newline not counted: the client refuses a
 * longer one (-EMSGSIZE), and the server does not send one. */
#define COLO_CTL_REPLY_MAX 16384
/* The longest request line, in bytes, its newline included. */
#define COLO_CTL_REQUEST_MAX 64

typedef enum {
    COLO_CTL_STATUS = 1,
    COLO_CTL_CHECKPOINT,
    COLO_CTL_FAILOVER,
    COLO_CTL_STOP,
    COLO_CTL_SET_REPLICATION,
} colo_ctl_cmd;

/* A request, its arguments parsed. */
typedef struct {
    colo_ctl_cmd cmd;
    /* COLO_CTL_SET_REPLICATION: the disk ("" for every disk) and
     * xen-set-replication's three arguments. */
    char disk[32];
    bool enable, primary, failover;
} colo_ctl_request;

typedef struct colo_control colo_control;

/* Creates run_dir (0700) if missing. Refuses (-EADDRINUSE) when a live
 * protection already answers on the socket; removes a stale one. */
int colo_control_listen(libxlcolo_ctx *ctx, const char *run_dir,
                        const char *domain, colo_control **out);
/* Unlinks the socket. */
void colo_control_free(colo_control *c);
int colo_control_fd(const colo_control *c);

/* Accept one client and read its request (bounded in size and time).
 * Returns the client fd (>= 0) with *req set, or -errno; a malformed
 * request is answered with an error and -EPROTO is returned. */
int colo_control_accept(colo_control *c, colo_ctl_request *req);

/* Parse one request line (colo_ctl_recv_line's, modified) into *req: 0,
 * or -EPROTO with msg[msgsize] the refusal for the client, the line
 * quoted printable. colo_control_accept's parser, on its own so that it
 * is tested (and fuzzed, tests/fuzz/) without a socket. */
int colo_ctl_parse_request(char *line, colo_ctl_request *req, char *msg, size_t msgsize);

/* Replies; each closes client_fd. */
int colo_control_reply_status(colo_control *c, int client_fd,
                              const libxlcolo_status *st);
int colo_control_reply_ok(colo_control *c, int client_fd, uint64_t epoch);
int colo_control_reply_error(colo_control *c, int client_fd, int err,
                             const char *msg);

/* 1..63 characters of [A-Za-z0-9_.-]. */
bool colo_domain_name_valid(const char *d);

/* Read one line (newline stripped, NUL-terminated) from fd within
 * timeout_ms; an unterminated line at EOF counts. -ENODATA: EOF before any
 * byte; -E2BIG: longer than size - 1; -ETIMEDOUT. Shared by the server
 * (requests) and the clients (replies). */
int colo_ctl_recv_line(int fd, char *buf, size_t size, int timeout_ms);

#endif
