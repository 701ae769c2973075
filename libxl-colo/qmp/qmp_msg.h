/*
 * qmp_msg.h - what one QMP message is (qmp_msg.c): a line parsed and
 * classified as the greeting, a reply (return or error) or an event, with
 * its id, the error's class and desc, the event's name, timestamp and data.
 * It knows JSON and QMP's four shapes, not sockets or commands.
 */
#ifndef COLO_QMP_MSG_H
#define COLO_QMP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

typedef enum {
    QMP_MSG_GREETING = 0,  /* {"QMP": {...}} */
    QMP_MSG_RETURN,        /* {"return": V, "id": I} */
    QMP_MSG_ERROR,         /* {"error": {"class": C, "desc": D}, "id": I} */
    QMP_MSG_EVENT,         /* {"event": N, "data": D, "timestamp": T} */
} qmp_msg_kind;

/* Everything points into root, which the message owns. */
struct qmp_msg {
    qmp_msg_kind kind;
    yajl_val root;
    yajl_val id;           /* NULL when the message has none */
    yajl_val value;        /* greeting: the "QMP" object; return: its value;
                            * event: "data" (NULL when none) */
    const char *cls, *desc;            /* error */
    const char *event;                 /* event: its name */
    uint64_t seconds, microseconds;    /* event: its timestamp, or 0 */
};

/* Parse line[len] (NUL-terminated) into m. -EBADMSG, err = "unparsable
 * message: ..." (a NUL byte, a JSON error, nesting too deep, not an
 * object); -EPROTO, err = "not a QMP message ..." or "malformed error:
 * ..." (and the like for an event or greeting); -ENOMEM. */
int qmp_msg_parse(const char *line, size_t len, struct qmp_msg *m, char *err, size_t errsize);

/* Free m's tree; takes a cleared message. */
void qmp_msg_clear(struct qmp_msg *m);

/* Does m carry the id a command was sent with (the number id)? */
bool qmp_msg_id_is(const struct qmp_msg *m, uint64_t id);

/* m's id for a log line: 7, "abc" (quoted, cut), "none", or "of type T". */
void qmp_msg_id_text(const struct qmp_msg *m, char *buf, size_t size);

/* Take the return value out of a QMP_MSG_RETURN message: the caller owns
 * it, and m no longer does. */
yajl_val qmp_msg_take_value(struct qmp_msg *m);

/* "the greeting", "a reply", "an error reply", "an event": for log lines. */
const char *qmp_msg_kind_name(qmp_msg_kind k);

#endif
