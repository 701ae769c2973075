/* qmp_msg.c - classify one parsed QMP message (qmp_msg.h), with the strict
 * readers of json.h. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "qmp/qmp_msg.h"

_printf_(4, 5)
static int refuse(int r, char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return r;
}

/* The four members that say what a message is; exactly one must be there. */
static const struct {
    const char *key;
    qmp_msg_kind kind;
} shapes[] = {
    { "QMP", QMP_MSG_GREETING },
    { "return", QMP_MSG_RETURN },
    { "error", QMP_MSG_ERROR },
    { "event", QMP_MSG_EVENT },
};

static int parse_error(struct qmp_msg *m, yajl_val e, char *err, size_t errsize)
{
    char why[128];
    if (!YAJL_IS_OBJECT(e))
        return refuse(-EPROTO, err, errsize, "malformed error: \"error\" is not an object");
    if (colo_json_get_str(e, "class", &m->cls, why, sizeof(why)) < 0 ||
        colo_json_get_str(e, "desc", &m->desc, why, sizeof(why)) < 0)
        return refuse(-EPROTO, err, errsize, "malformed error: %s", why);
    return 0;
}

/* A timestamp is optional; when there, {"seconds": S, "microseconds": U}. */
static int parse_event(struct qmp_msg *m, char *err, size_t errsize)
{
    char why[128];
    yajl_val ts;
    if (colo_json_get_str(m->root, "event", &m->event, why, sizeof(why)) < 0 ||
        colo_json_get(m->root, "data", &m->value, why, sizeof(why)) < 0 ||
        colo_json_get(m->root, "timestamp", &ts, why, sizeof(why)) < 0)
        return refuse(-EPROTO, err, errsize, "malformed event: %s", why);
    if (ts && (colo_json_get_u64(ts, "seconds", UINT64_MAX, &m->seconds, why, sizeof(why)) < 0 ||
               colo_json_get_u64(ts, "microseconds", UINT64_MAX, &m->microseconds, why,
                                 sizeof(why)) < 0))
        return refuse(-EPROTO, err, errsize, "malformed event %s: timestamp: %s", m->event, why);
    return 0;
}

static int classify(struct qmp_msg *m, char *err, size_t errsize)
{
    const char *found = NULL;
    char why[128];
    yajl_val v;

    for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
        if (colo_json_get(m->root, shapes[i].key, &v, why, sizeof(why)) < 0)
            return refuse(-EPROTO, err, errsize, "not a QMP message: %s", why);
        if (!v)
            continue;
        if (found)
            return refuse(-EPROTO, err, errsize, "not a QMP message: both \"%s\" and \"%s\"",
                          found, shapes[i].key);
        found = shapes[i].key;
        m->kind = shapes[i].kind;
        m->value = v;
    }
    if (!found)
        return refuse(-EPROTO, err, errsize, "not a QMP message: no \"return\", \"error\", "
                      "\"event\" or \"QMP\"");
    if (colo_json_get(m->root, "id", &m->id, why, sizeof(why)) < 0)
        return refuse(-EPROTO, err, errsize, "not a QMP message: %s", why);
    switch (m->kind) {
    case QMP_MSG_GREETING:
        if (!YAJL_IS_OBJECT(m->value))
            return refuse(-EPROTO, err, errsize, "malformed greeting: \"QMP\" is not an object");
        return 0;
    case QMP_MSG_ERROR:
        return parse_error(m, m->value, err, errsize);
    case QMP_MSG_EVENT:
        m->value = NULL;
        return parse_event(m, err, errsize);
    case QMP_MSG_RETURN:
        return 0;
    }
    return 0;
}

int qmp_msg_parse(const char *line, size_t len, struct qmp_msg *m, char *err, size_t errsize)
{
    char why[160];
    const char *nul = memchr(line, '\0', len);

    *m = (struct qmp_msg){ 0 };
    if (nul)
        return refuse(-EBADMSG, err, errsize, "unparsable message: a NUL byte at offset %zu",
                      (size_t)(nul - line));
    int r = colo_json_parse(line, &m->root, why, sizeof(why));
    if (r == -ENOMEM)
        return refuse(r, err, errsize, "out of memory for a message of %zu bytes", len);
    if (r < 0)
        return refuse(r, err, errsize, "unparsable message: %s", why);
    r = classify(m, err, errsize);
    if (r < 0)
        qmp_msg_clear(m);
    return r;
}

void qmp_msg_clear(struct qmp_msg *m)
{
    if (m->root)
        yajl_tree_free(m->root);
    *m = (struct qmp_msg){ 0 };
}

bool qmp_msg_id_is(const struct qmp_msg *m, uint64_t id)
{
    char want[24];
    if (!m->id || !YAJL_IS_NUMBER(m->id))
        return false;
    snprintf(want, sizeof(want), "%" PRIu64, id);
    return strcmp(YAJL_GET_NUMBER(m->id), want) == 0;
}

void qmp_msg_id_text(const struct qmp_msg *m, char *buf, size_t size)
{
    yajl_val id = m->id;
    if (!id)
        snprintf(buf, size, "none");
    else if (YAJL_IS_NUMBER(id))
        snprintf(buf, size, "%.32s", YAJL_GET_NUMBER(id));
    else if (YAJL_IS_STRING(id))
        snprintf(buf, size, "\"%.32s\"", YAJL_GET_STRING(id));
    else
        snprintf(buf, size, "of type %s", YAJL_IS_OBJECT(id) ? "object" :
                 YAJL_IS_ARRAY(id) ? "array" : "true/false/null");
}

yajl_val qmp_msg_take_value(struct qmp_msg *m)
{
    yajl_val root = m->root, v = NULL;
    for (size_t i = 0; m->kind == QMP_MSG_RETURN && i < root->u.object.len; i++) {
        if (strcmp(root->u.object.keys[i], "return") == 0) {
            v = root->u.object.values[i];
            root->u.object.values[i] = NULL; /* yajl_tree_free skips a NULL */
            break;
        }
    }
    m->value = NULL;
    return v;
}

const char *qmp_msg_kind_name(qmp_msg_kind k)
{
    switch (k) {
    case QMP_MSG_GREETING:
        return "the greeting";
    case QMP_MSG_RETURN:
        return "a reply";
    case QMP_MSG_ERROR:
        return "an error reply";
    case QMP_MSG_EVENT:
        return "an event";
    }
    return "a message";
}
