/* qmp.c - the QMP protocol (qmp.h): connect and the handshake, commands
 * and their replies matched by id, the event queue. The transport is
 * qmp_wire.c's, the shape of each message qmp_msg.c's. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "colo-internal.h"
#include "json.h"
#include "qmp/qmp.h"
#include "qmp/qmp_msg.h"
#include "qmp/qmp_wire.h"

/* One queued event: its text, as it came, and its name. */
struct qmp_event_slot {
    char *text;          /* one allocation: the text, a NUL, the name */
    size_t len;
    const char *name;
};

struct colo_qmp {
    libxlcolo_ctx *ctx;
    char *who;               /* "[LABEL: ]qmp PATH": starts every log line */
    struct qmp_wire w;
    int timeout_ms;          /* of each reply */
    uint64_t last_id;        /* of the last command sent */
    bool may_restart;        /* in colo_qmp_connect's handshake with attempts
                              * left: a second greeting or a late
                              * capabilities' reply mean QEMU opened or lost
                              * the session as it started: start over
                              * (-EAGAIN, not logged) */
    bool may_hang_up;        /* ... and a hang-up before the greeting's end,
                              * with its own attempts left: hung_up set */
    bool hung_up;
    uint64_t connect_deadline; /* of the whole colo_qmp_connect */
    char broken[256];        /* why the connection broke, "" while it works */
    unsigned major, minor, micro; /* QEMU's, from the greeting */
    /* The event queue, a ring: oldest at head. */
    struct qmp_event_slot ev[COLO_QMP_EVENTS_MAX];
    size_t ev_head, ev_count, ev_bytes;
    uint64_t ev_dropped;
    bool ev_warned;          /* a drop was logged since the caller last took one */
};

/* Log WHAT: CAUSE as the connection's error, mark it broken, return r. */
_printf_(3, 4)
static int broke(colo_qmp *q, int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->broken, sizeof(q->broken), fmt, ap);
    va_end(ap);
    if (!q->broken[0])
        snprintf(q->broken, sizeof(q->broken), "error %d", r);
    return LOG_ERRNO(q->ctx, r, "%s: %s", q->who, q->broken);
}

int colo_qmp_log(colo_qmp *q, int r, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return LOG_ERRNO(q->ctx, r, "%s: %s", q->who, what);
}

/* ------------------------------------------------------------ events */

static void slot_free(struct qmp_event_slot *s)
{
    free(s->text);
    *s = (struct qmp_event_slot){ 0 };
}

/* The oldest event out of the queue, into *out (the caller's). */
static void queue_pop(colo_qmp *q, struct qmp_event_slot *out)
{
    struct qmp_event_slot *s = &q->ev[q->ev_head];
    *out = *s;
    *s = (struct qmp_event_slot){ 0 };
    q->ev_head = (q->ev_head + 1) % COLO_QMP_EVENTS_MAX;
    q->ev_count--;
    q->ev_bytes -= out->len;
}

/* Queue an event's text; when it does not fit, drop the oldest. */
static int queue_push(colo_qmp *q, const char *line, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    char *text = malloc(len + 1 + nlen + 1);
    if (!text)
        return broke(q, -ENOMEM, "event %s: out of memory for %zu bytes", name, len);
    memcpy(text, line, len + 1);
    memcpy(text + len + 1, name, nlen + 1);

    while (q->ev_count == COLO_QMP_EVENTS_MAX || q->ev_bytes + len > COLO_QMP_EVENTS_BYTES) {
        struct qmp_event_slot old;
        queue_pop(q, &old);
        q->ev_dropped++;
        if (!q->ev_warned)
            LOG(q->ctx, WARN, "%s: event queue full (%d events, %d bytes): dropping the "
                "oldest, %s first", q->who, COLO_QMP_EVENTS_MAX, COLO_QMP_EVENTS_BYTES,
                old.name);
        q->ev_warned = true;
        slot_free(&old);
    }
    size_t tail = (q->ev_head + q->ev_count) % COLO_QMP_EVENTS_MAX;
    q->ev[tail] = (struct qmp_event_slot){ .text = text, .len = len, .name = text + len + 1 };
    q->ev_count++;
    q->ev_bytes += len;
    return 0;
}

/* Remove the i-th queued event (0: the oldest) and parse it into *ev. */
static int queue_take(colo_qmp *q, size_t i, colo_qmp_event *ev)
{
    struct qmp_event_slot s;
    char why[256];

    /* Bring the i-th to the head, keeping the order of the others. */
    for (size_t k = i; k > 0; k--) {
        size_t a = (q->ev_head + k) % COLO_QMP_EVENTS_MAX;
        size_t b = (q->ev_head + k - 1) % COLO_QMP_EVENTS_MAX;
        struct qmp_event_slot t = q->ev[a];
        q->ev[a] = q->ev[b];
        q->ev[b] = t;
    }
    queue_pop(q, &s);
    q->ev_warned = false;
    struct qmp_msg m;
    int r = qmp_msg_parse(s.text, s.len, &m, why, sizeof(why)); /* parsed once already */
    if (r < 0) {
        r = LOG_ERRNO(q->ctx, r, "%s: event %s: %s", q->who, s.name, why);
        slot_free(&s);
        return r;
    }
    slot_free(&s);
    *ev = (colo_qmp_event){
        .name = m.event,
        .seconds = m.seconds,
        .microseconds = m.microseconds,
        .data = m.value,
        .root = m.root,
    };
    return 0;
}

/* The index in the queue of the oldest event called name (NULL: any), or
 * -1. */
static ssize_t queue_find(const colo_qmp *q, const char *name)
{
    for (size_t i = 0; i < q->ev_count; i++) {
        const struct qmp_event_slot *s = &q->ev[(q->ev_head + i) % COLO_QMP_EVENTS_MAX];
        if (!name || strcmp(s->name, name) == 0)
            return (ssize_t)i;
    }
    return -1;
}

void colo_qmp_event_clear(colo_qmp_event *ev)
{
    if (ev->root)
        yajl_tree_free(ev->root);
    *ev = (colo_qmp_event){ 0 };
}

uint64_t colo_qmp_events_dropped(const colo_qmp *q)
{
    return q->ev_dropped;
}

/* ---------------------------------------------------------- messages */

/* The next message, waiting until the deadline; an event is queued and
 * 0 returned with m->kind QMP_MSG_EVENT and nothing else in m. WHAT names
 * what was waited for in the log line ("reply to stop"); on a timeout,
 * the caller logs. */
static int next_message(colo_qmp *q, const char *what, uint64_t deadline, struct qmp_msg *m)
{
    char why[256];
    char *line;
    size_t len;

    for (;;) {
        int r = qmp_wire_read(&q->w, deadline, &line, &len, why, sizeof(why));
        if (r == -ETIMEDOUT && !why[0])
            return r;
        if (r == -ECONNRESET && q->may_hang_up && !colo_deadline_passed(q->connect_deadline)) {
            q->hung_up = true;
            return -EAGAIN;
        }
        if (r < 0)
            return broke(q, r, "%s: %s", what, why);
        if (len == 0)
            continue; /* an empty line: nothing */
        r = qmp_msg_parse(line, len, m, why, sizeof(why));
        if (r < 0)
            return broke(q, r, "%s: %s", what, why);
        if (m->kind != QMP_MSG_EVENT)
            return 0;
        r = queue_push(q, line, len, m->event);
        qmp_msg_clear(m);
        m->kind = QMP_MSG_EVENT;
        return r;
    }
}

/* The reply to the command sent with id, events before it queued. */
static int await_reply(colo_qmp *q, const char *cmd, uint64_t id, uint64_t deadline,
                       struct qmp_msg *m)
{
    char what[160], got[48];

    snprintf(what, sizeof(what), "reply to %s", cmd);
    for (;;) {
        int r = next_message(q, what, deadline, m);
        if (r == -ETIMEDOUT && q->may_restart && !colo_deadline_passed(q->connect_deadline))
            return -EAGAIN;  /* colo_qmp_connect starts over */
        if (r == -ETIMEDOUT)
            return broke(q, r, "%s: no reply in %d ms", what, q->timeout_ms);
        if (r < 0)
            return r;
        switch (m->kind) {
        case QMP_MSG_EVENT:
            continue;
        case QMP_MSG_GREETING:
            qmp_msg_clear(m);
            if (q->may_restart)
                return -EAGAIN;  /* colo_qmp_connect starts over */
            return broke(q, -EPROTO, "%s: the greeting again", what);
        case QMP_MSG_RETURN:
        case QMP_MSG_ERROR:
            if (qmp_msg_id_is(m, id))
                return 0;
            /* Not ours: the replies no longer follow the commands. QEMU
             * answers a command it cannot parse with an error and no id:
             * its desc says what it could not parse. */
            if (m->id)
                qmp_msg_id_text(m, got, sizeof(got));
            if (m->kind == QMP_MSG_ERROR)
                r = broke(q, -EPROTO, "%s: %s %s%s, expected id %" PRIu64 " (%s: %s)", what,
                          qmp_msg_kind_name(m->kind), m->id ? "with id " : "without an id",
                          m->id ? got : "", id, m->cls, m->desc);
            else
                r = broke(q, -EPROTO, "%s: %s %s%s, expected id %" PRIu64, what,
                          qmp_msg_kind_name(m->kind), m->id ? "with id " : "without an id",
                          m->id ? got : "", id);
            qmp_msg_clear(m);
            return r;
        }
    }
}

/* ---------------------------------------------------------- commands */

/* {"execute":CMD,"arguments":ARGS,"id":N}, made by json.c's generator. */
static int send_command(colo_qmp *q, const char *cmd, const char *args, uint64_t id,
                        uint64_t deadline)
{
    _cleanup_json_ colo_json *j = colo_json_new();
    _cleanup_tree_ yajl_val a = NULL;
    char why[256];
    const char *text;
    size_t len;

    if (args) {
        int r = colo_json_parse(args, &a, why, sizeof(why));
        if (r < 0)
            return LOG_ERRNO(q->ctx, r == -ENOMEM ? r : -EINVAL, "%s: %s: arguments: %s",
                             q->who, cmd, r == -ENOMEM ? "out of memory" : why);
    }
    colo_json_put_str(j, "execute", cmd);
    if (a)
        colo_json_put_value(j, "arguments", a);
    colo_json_put_u64(j, "id", id);
    int r = colo_json_finish(j, &text, &len);
    if (r < 0)
        return LOG_ERRNO(q->ctx, r, "%s: %s: the command's JSON", q->who, cmd);
    if (len + 1 > COLO_QMP_MSG_MAX)
        return LOG_ERRNO(q->ctx, -EMSGSIZE, "%s: %s: the command is over %d bytes", q->who,
                         cmd, COLO_QMP_MSG_MAX);
    r = qmp_wire_send(&q->w, text, len, deadline, why, sizeof(why));
    if (r < 0)
        return broke(q, r, "send %s: %s", cmd, why);
    return 0;
}

/* Send cmd, wait for its reply: 0 with m a QMP_MSG_RETURN or
 * QMP_MSG_ERROR message, or -errno (logged). */
static int command(colo_qmp *q, const char *cmd, const char *args, struct qmp_msg *m)
{
    uint64_t deadline = colo_deadline_ms(q->timeout_ms);
    uint64_t id = q->last_id + 1;

    if (q->broken[0])
        return LOG_ERRNO(q->ctx, -ENOTCONN, "%s: %s: not sent: the connection broke earlier "
                         "(%s)", q->who, cmd, q->broken);
    int r = send_command(q, cmd, args, id, deadline);
    if (r < 0)
        return r;
    q->last_id = id;
    return await_reply(q, cmd, id, deadline, m);
}

int colo_qmp_execute(colo_qmp *q, const char *cmd, const char *args, unsigned flags,
                     yajl_val *ret, colo_qmp_error *err)
{
    struct qmp_msg m;

    if (ret)
        *ret = NULL;
    if (err)
        *err = (colo_qmp_error){ "", "" };
    if (flags & ~COLO_QMP_QUIET)
        return LOG_ERRNO(q->ctx, -EINVAL, "%s: %s: unknown flags %#x", q->who, cmd,
                         flags & ~COLO_QMP_QUIET);
    int r = command(q, cmd, args, &m);
    if (r < 0)
        return r;
    if (m.kind == QMP_MSG_ERROR) {
        if (err) {
            snprintf(err->cls, sizeof(err->cls), "%s", m.cls);
            snprintf(err->desc, sizeof(err->desc), "%s", m.desc);
        }
        if (!(flags & COLO_QMP_QUIET))
            LOG_ERRNO(q->ctx, -EREMOTEIO, "%s: %s failed: %s: %s", q->who, cmd, m.cls, m.desc);
        qmp_msg_clear(&m);
        return -EREMOTEIO;
    }
    if (ret)
        *ret = qmp_msg_take_value(&m);
    qmp_msg_clear(&m);
    return 0;
}

int colo_qmp_next_event(colo_qmp *q, colo_qmp_event *ev)
{
    *ev = (colo_qmp_event){ 0 };
    if (!q->ev_count)
        return 0;
    int r = queue_take(q, 0, ev);
    return r < 0 ? r : 1;
}

int colo_qmp_wait_event(colo_qmp *q, const char *name, int timeout_ms, unsigned flags,
                        colo_qmp_event *ev)
{
    const char *what = name ? name : "any";
    char waiting[128];
    struct qmp_msg m;

    *ev = (colo_qmp_event){ 0 };
    if ((flags & ~COLO_QMP_QUIET) || timeout_ms < 0)
        return LOG_ERRNO(q->ctx, -EINVAL, "%s: waiting for event %s: %s", q->who, what,
                         timeout_ms < 0 ? "a negative timeout" : "unknown flags");
    ssize_t i = queue_find(q, name);
    if (i >= 0)
        return queue_take(q, (size_t)i, ev);
    if (q->broken[0])
        return LOG_ERRNO(q->ctx, -ENOTCONN, "%s: waiting for event %s: the connection broke "
                         "earlier (%s)", q->who, what, q->broken);
    snprintf(waiting, sizeof(waiting), "waiting for event %s", what);
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    for (;;) {
        int r = next_message(q, waiting, deadline, &m);
        if (r == -ETIMEDOUT) {
            if (!(flags & COLO_QMP_QUIET))
                LOG_ERRNO(q->ctx, r, "%s: no %s%sevent in %d ms", q->who, name ? name : "",
                          name ? " " : "", timeout_ms);
            return r;
        }
        if (r < 0)
            return r;
        if (m.kind == QMP_MSG_EVENT) {
            /* The new one is the newest: the last in the queue. */
            struct qmp_event_slot *s =
                &q->ev[(q->ev_head + q->ev_count - 1) % COLO_QMP_EVENTS_MAX];
            if (!name || strcmp(s->name, name) == 0)
                return queue_take(q, q->ev_count - 1, ev);
            continue;
        }
        r = broke(q, -EPROTO, "%s: %s, with no command sent", waiting,
                  qmp_msg_kind_name(m.kind));
        qmp_msg_clear(&m);
        return r;
    }
}

/* ------------------------------------------------- connect and close */

static void read_version(colo_qmp *q, yajl_val greeting)
{
    static const char *const path[] = { "version", "qemu", NULL };
    yajl_val v = yajl_tree_get(greeting, (const char **)path, yajl_t_object);
    uint64_t n;
    char why[64];
    if (!v)
        return;
    if (colo_json_get_u64(v, "major", UINT_MAX, &n, why, sizeof(why)) == 0)
        q->major = (unsigned)n;
    if (colo_json_get_u64(v, "minor", UINT_MAX, &n, why, sizeof(why)) == 0)
        q->minor = (unsigned)n;
    if (colo_json_get_u64(v, "micro", UINT_MAX, &n, why, sizeof(why)) == 0)
        q->micro = (unsigned)n;
}

/* The greeting, then qmp_capabilities, within the deadline. */
/* How many connections colo_qmp_connect tries when QEMU greets twice or
 * loses qmp_capabilities; a hang-up before the greeting's end has its own
 * count (COLO_QMP_HANGUP_ATTEMPTS), each new connection after a pause of
 * QMP_HANGUP_PAUSE_MS times its number: a QEMU still starting hung up on
 * three connections in a row within milliseconds (a sidecar's, in CI). */
#define QMP_CONNECT_ATTEMPTS 3
#define QMP_HANGUP_PAUSE_MS 20

static int handshake(colo_qmp *q, uint64_t deadline)
{
    struct qmp_msg m;
    int r;

    for (;;) {
        r = next_message(q, "greeting", deadline, &m);
        if (r == -ETIMEDOUT)
            return broke(q, r, "greeting: none in %d ms (is another client connected?)",
                         q->timeout_ms);
        if (r < 0)
            return r;
        if (m.kind != QMP_MSG_EVENT)
            break;
    }
    if (m.kind != QMP_MSG_GREETING) {
        r = broke(q, -EPROTO, "greeting: %s came first", qmp_msg_kind_name(m.kind));
        qmp_msg_clear(&m);
        return r;
    }
    read_version(q, m.value);
    qmp_msg_clear(&m);

    uint64_t id = ++q->last_id;
    r = send_command(q, "qmp_capabilities", NULL, id, deadline);
    if (r < 0)
        return r;
    /* With attempts left, a reply a quarter of the timeout late is taken
     * as lost (see colo_qmp_connect). */
    uint64_t wait = deadline;
    if (q->may_restart)
        wait = MIN(deadline, colo_deadline_ms(MAX(q->timeout_ms / 4, 1)));
    r = await_reply(q, "qmp_capabilities", id, wait, &m);
    if (r < 0)
        return r;
    if (m.kind == QMP_MSG_ERROR)
        r = broke(q, -EREMOTEIO, "qmp_capabilities failed: %s: %s", m.cls, m.desc);
    qmp_msg_clear(&m);
    return r;
}

int colo_qmp_connect(libxlcolo_ctx *ctx, const char *path, const char *label,
                     int timeout_ms, unsigned flags, colo_qmp **out)
{
    char why[256];
    int r;

    *out = NULL;
    if (flags || timeout_ms <= 0)
        return LOG_ERRNO(ctx, -EINVAL, "%s%sqmp %s: connect: %s", label ? label : "",
                         label ? ": " : "", path, flags ? "unknown flags" : "a timeout <= 0");
    colo_qmp *q = calloc(1, sizeof(*q));
    if (!q)
        return LOG_ERRNO(ctx, -ENOMEM, "qmp %s: connect", path);
    q->ctx = ctx;
    q->w.fd = -1;
    q->timeout_ms = timeout_ms;
    if (asprintf(&q->who, "%s%sqmp %s", label ? label : "", label ? ": " : "", path) < 0) {
        q->who = NULL;
        free(q);
        return LOG_ERRNO(ctx, -ENOMEM, "qmp %s: connect", path);
    }
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    /* A QEMU that opens the session twice (a client that connected while
     * it was starting, as a sidecar's does: seen on QEMU 7.2 under load)
     * greets twice, and the first qmp_capabilities may be lost with the
     * first session; or it greets once and never answers the command
     * (seen in the same case, under valgrind's load); or it hangs up before
     * the greeting is done (seen in t0160, and three times in a row in
     * CI): start over on a new connection, a few times. A dead QEMU ends
     * it at once: nobody listens, and the connect is refused. */
    q->connect_deadline = deadline;
    unsigned restarts = 0, hangups = 0;
    for (;;) {
        r = qmp_wire_connect(&q->w, path, deadline, why, sizeof(why));
        if (r < 0) {
            r = LOG_ERRNO(ctx, r, "%s: %s", q->who, why);
            break;
        }
        q->may_restart = restarts + 1 < QMP_CONNECT_ATTEMPTS;
        q->may_hang_up = hangups + 1 < COLO_QMP_HANGUP_ATTEMPTS;
        q->hung_up = false;
        r = handshake(q, deadline);
        q->may_restart = q->may_hang_up = false;
        if (r != -EAGAIN)
            break;
        qmp_wire_close(&q->w);
        q->last_id = 0;
        if (!q->hung_up) {
            restarts++;
            continue;
        }
        /* Still starting: a moment for it, inside the deadline. */
        hangups++;
        int ms = MIN((int)hangups * QMP_HANGUP_PAUSE_MS, colo_ms_left(deadline));
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * (long)COLO_NS_PER_MS };
        nanosleep(&ts, NULL);
    }
    if (r < 0) {
        colo_qmp_close(q);
        return r;
    }
    *out = q;
    return 0;
}

void colo_qmp_close(colo_qmp *q)
{
    if (!q)
        return;
    qmp_wire_close(&q->w);
    while (q->ev_count) {
        struct qmp_event_slot s;
        queue_pop(q, &s);
        slot_free(&s);
    }
    free(q->who);
    free(q);
}

void colo_qmp_set_timeout(colo_qmp *q, int timeout_ms)
{
    if (timeout_ms > 0)
        q->timeout_ms = timeout_ms;
}

bool colo_qmp_broken(const colo_qmp *q)
{
    return q->broken[0] != '\0';
}

void colo_qmp_qemu_version(const colo_qmp *q, unsigned *major, unsigned *minor,
                           unsigned *micro)
{
    *major = q->major;
    *minor = q->minor;
    *micro = q->micro;
}
