/*
 * qmp.h - the one QMP client of xen-colo, on yajl, for every layer that
 * speaks to a QEMU: the xen backend's device model
 * (/var/run/xen/qmp-libxl-DOMID) and, later, the block replication
 * sidecars.
 *
 * A connection is a unix socket to QEMU's QMP monitor. colo_qmp_connect()
 * reads the greeting ({"QMP": ...}) and negotiates with qmp_capabilities;
 * then each colo_qmp_execute() sends one command with an "id" of its own
 * (1, 2, 3 ... on each connection) and waits for the reply that carries
 * that id. Events ({"event": ...}) that arrive meanwhile are queued for
 * colo_qmp_next_event() and colo_qmp_wait_event(), in the order they came.
 *
 * Bounds: a message is at most COLO_QMP_MSG_MAX bytes, its line end
 * included, and nested at most COLO_JSON_DEPTH_MAX deep; the connection's
 * read buffer grows to that size and no further. The event queue holds at
 * most COLO_QMP_EVENTS_MAX events and COLO_QMP_EVENTS_BYTES bytes of their
 * text: when a new event does not fit, the oldest are dropped, counted
 * (colo_qmp_events_dropped) and, once until the caller next takes an event,
 * named in a warning. Every reply has a deadline for the whole of it (the
 * connection's timeout, from sending the command to the reply's last byte),
 * not for each read.
 *
 * Errors: every call returns 0 (or a count) or -errno, and logs the failure
 * once, as one line through the context's logger:
 *     [LABEL: ]qmp PATH: WHAT: CAUSE
 * e.g. "qmp /run/q.sock: reply to query-status: no reply in 30000 ms". A
 * QMP error reply is -EREMOTEIO, with its class and description given to
 * the caller ("CommandNotFound", "The command nosuch has not been found");
 * the connection stays usable. Anything else the peer does wrong breaks
 * the connection, since its replies may no longer match the commands: a
 * message over the bound (-EMSGSIZE), an unparsable one (-EBADMSG), one
 * that is no QMP message or a reply with another id (-EPROTO), a hang-up
 * (-ECONNRESET), no reply in time (-ETIMEDOUT), a failed read or send (its
 * errno). Later calls on a broken connection fail at once with -ENOTCONN,
 * in a line that repeats the first cause.
 *
 * A connection is not thread-safe: one thread uses it at a time.
 */
#ifndef COLO_QMP_H
#define COLO_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "libxlcolo.h"
#include "macro.h"

/* The longest message, in bytes, its line end ("\r\n") included. */
#define COLO_QMP_MSG_MAX (1024 * 1024)
/* The event queue: at most this many events, and this many bytes of their
 * text; beyond, the oldest are dropped. */
#define COLO_QMP_EVENTS_MAX 64
#define COLO_QMP_EVENTS_BYTES COLO_QMP_MSG_MAX
/* How many connections colo_qmp_connect() makes, at most, to a QEMU that
 * hangs up before its greeting is done (one still starting). */
#define COLO_QMP_HANGUP_ATTEMPTS 10
/* A reply's timeout when the caller has no better one. */
#define COLO_QMP_TIMEOUT_MS 30000

/* Flags of colo_qmp_execute() and colo_qmp_wait_event(): the failure the
 * caller expects and reports itself is not logged - a QMP error reply
 * (execute), no such event in time (wait_event). The peer's faults are
 * always logged. */
#define COLO_QMP_QUIET (1u << 0)

typedef struct colo_qmp colo_qmp;

/* A QMP error reply: {"error": {"class": CLS, "desc": DESC}}, each cut to
 * its buffer. */
typedef struct {
    char cls[64];
    char desc[512];
} colo_qmp_error;

/* An event taken from the queue. Everything points into root, which the
 * event owns: free it with colo_qmp_event_clear(). */
typedef struct {
    const char *name;      /* "STOP" */
    uint64_t seconds;      /* QEMU's timestamp; 0 and 0 when it gave none */
    uint64_t microseconds;
    yajl_val data;         /* the event's "data", NULL when it has none */
    yajl_val root;         /* the whole message */
} colo_qmp_event;

/* Connect to the QMP monitor at the unix socket PATH, read its greeting
 * and send qmp_capabilities, all within timeout_ms (> 0), which is also
 * the timeout of every reply after (colo_qmp_set_timeout). LABEL, if not
 * NULL, starts every log line of the connection ("domain 5"), which
 * otherwise start "qmp PATH". flags must be 0. QEMU serves one client at a
 * time: a second one waits for its greeting until the first has gone. */
int colo_qmp_connect(libxlcolo_ctx *ctx, const char *path, const char *label,
                     int timeout_ms, unsigned flags, colo_qmp **out);

/* Close the socket and free the connection, its queued events with it.
 * Takes NULL. */
void colo_qmp_close(colo_qmp *q);
static inline void colo_qmp_closep(colo_qmp **q) { colo_qmp_close(*q); }
#define _cleanup_qmp_ _cleanup_(colo_qmp_closep)

/* The timeout of each later reply, in ms (> 0). */
void colo_qmp_set_timeout(colo_qmp *q, int timeout_ms);

/* Run CMD, with ARGS (the text of a JSON object, or NULL for none) as its
 * "arguments", and wait for its reply.
 *  0           {"return": V}; if ret is not NULL, *ret = V, the caller's to
 *              free (yajl_tree_free, _cleanup_tree_)
 *  -EREMOTEIO  {"error": ...}: *err (if not NULL) has its class and desc;
 *              logged as "CMD failed: CLASS: DESC" unless COLO_QMP_QUIET
 *  -EINVAL     ARGS is no JSON object, or unknown flags (nothing was sent)
 *  -ENOTCONN   the connection broke earlier
 *  other       the connection broke now (see above) */
int colo_qmp_execute(colo_qmp *q, const char *cmd, const char *args, unsigned flags,
                     yajl_val *ret, colo_qmp_error *err);

/* Take the oldest queued event: 1 when there was one (*ev is the caller's),
 * 0 when the queue is empty; -ENOMEM. Reads nothing from the socket. */
int colo_qmp_next_event(colo_qmp *q, colo_qmp_event *ev);

/* Take the oldest queued event called NAME (NULL: any), reading the socket
 * for up to timeout_ms (0: only what has already arrived; > 0) until one
 * comes. Other events stay queued, in order. 0 (*ev is the caller's);
 * -ETIMEDOUT when none came, the connection still usable ("no STOP event in
 * 200 ms", not logged with COLO_QMP_QUIET); -EPROTO for a reply, since no
 * command waits for one; -EINVAL for unknown flags or a negative timeout;
 * the connection's errors as for execute. */
int colo_qmp_wait_event(colo_qmp *q, const char *name, int timeout_ms, unsigned flags,
                        colo_qmp_event *ev);

/* Free what an event holds; takes a cleared or zeroed event. */
void colo_qmp_event_clear(colo_qmp_event *ev);
#define _cleanup_qmp_event_ _cleanup_(colo_qmp_event_clear)

/* Log, in the connection's words ("[LABEL: ]qmp PATH: WHAT"), what its
 * caller found wrong in a reply that qmp/ took as good (a member of the
 * wrong type, a status that reads an error), and return r (< 0). The
 * connection stays usable: the caller decides what the finding means. */
int colo_qmp_log(colo_qmp *q, int r, const char *fmt, ...) _printf_(3, 4);

/* Events dropped from the full queue on this connection so far. */
uint64_t colo_qmp_events_dropped(const colo_qmp *q);

/* Whether an error broke the connection: every later call fails. */
bool colo_qmp_broken(const colo_qmp *q);

/* QEMU's version, as its greeting gave it (0.0.0 if it did not). */
void colo_qmp_qemu_version(const colo_qmp *q, unsigned *major, unsigned *minor,
                           unsigned *micro);

#endif
