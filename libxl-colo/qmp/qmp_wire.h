/*
 * qmp_wire.h - QMP's transport (qmp_wire.c): a unix stream socket that
 * carries one JSON message per line. It knows lines, bounds and deadlines,
 * not JSON.
 *
 * Each call returns 0 or -errno, and on failure puts its cause in
 * err[errsize] ("peer closed the connection mid-message", "message over
 * 1048576 bytes", "read: Connection reset by peer"), for the caller to log
 * with what it was doing; a deadline that passes is -ETIMEDOUT with err
 * left empty, for the caller knows what was not done in time. Deadlines
 * are colo-time.h's (COLO_NO_DEADLINE: none).
 */
#ifndef COLO_QMP_WIRE_H
#define COLO_QMP_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct qmp_wire {
    int fd;          /* non-blocking once connected; -1 when closed */
    char *buf;       /* what was read: lines handed out, then what is not yet */
    size_t cap;      /* allocated: grows to COLO_QMP_MSG_MAX, no further */
    size_t len;      /* held in buf */
    size_t scanned;  /* buf[taken, scanned) holds no '\n' */
    size_t taken;    /* the lines handed out, dropped when room is needed */
};

/* Connect to the unix socket PATH within the deadline; w->fd = -1 first. */
int qmp_wire_connect(struct qmp_wire *w, const char *path, uint64_t deadline,
                     char *err, size_t errsize);

/* The next line, waiting for it until the deadline: *line is its text,
 * its "\n" or "\r\n" replaced by a NUL, and *len its length without them.
 * It lives in w's buffer, valid until the next call. A line longer than
 * COLO_QMP_MSG_MAX with its line end is -EMSGSIZE; the peer's hang-up is
 * -ECONNRESET ("... mid-message" when part of a line was read). */
int qmp_wire_read(struct qmp_wire *w, uint64_t deadline, char **line, size_t *len,
                  char *err, size_t errsize);

/* Send buf[len] and a "\n", within the deadline. */
int qmp_wire_send(struct qmp_wire *w, const char *buf, size_t len, uint64_t deadline,
                  char *err, size_t errsize);

/* Close the socket and free the buffer. */
void qmp_wire_close(struct qmp_wire *w);

#endif
