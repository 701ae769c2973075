/*
 * status_codec.c - libxlcolo_status to JSON and back (status_codec.h).
 *
 * One table is the schema: each row names a member of libxlcolo_status
 * (its name is the JSON key) and how it is carried. Encoding and decoding
 * both walk it, so the order on the wire is the table's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "control/status_codec.h"

typedef enum {
    F_STR,       /* char[]: a string that fits */
    F_U64,       /* uint64_t */
    F_PID,       /* int: 0..INT_MAX, a pid <= 0 is sent as 0 */
    F_ROLE,      /* the enums, by name */
    F_STATE,
    F_MODE,
    F_FAILOVER,
} field_kind;

typedef struct {
    const char *key;
    field_kind kind;
    size_t offset;
    size_t size;
} status_field;

#define FIELD(kind, member) \
    { #member, kind, offsetof(libxlcolo_status, member), \
      sizeof(((libxlcolo_status *)0)->member) }

static const status_field fields[] = {
    FIELD(F_STR, domain),
    FIELD(F_ROLE, role),
    FIELD(F_STATE, state),
    FIELD(F_MODE, mode),
    FIELD(F_FAILOVER, failover),
    FIELD(F_STR, backend),
    FIELD(F_U64, epoch),
    FIELD(F_U64, checkpoints),
    FIELD(F_U64, last_pause_ns),
    FIELD(F_U64, last_pages),
    FIELD(F_STR, peer),
    FIELD(F_PID, pid),
};

/* The enums' names come from the public *_name() functions, over the
 * values 0..count-1. */
static const char *role_name(int i) { return libxlcolo_role_name(i); }
static const char *state_name(int i) { return libxlcolo_state_name(i); }
static const char *mode_name(int i) { return libxlcolo_mode_name(i); }
static const char *failover_name(int i) { return libxlcolo_failover_name(i); }

static const struct {
    const char *(*name)(int);
    int count;
} enums[] = {
    [F_ROLE] = { role_name, LIBXLCOLO_ROLE_SECONDARY + 1 },
    [F_STATE] = { state_name, LIBXLCOLO_STATE_AWAITING_OWNERSHIP + 1 },
    [F_MODE] = { mode_name, LIBXLCOLO_MODE_COLO + 1 },
    [F_FAILOVER] = { failover_name, LIBXLCOLO_FAILOVER_RELAUNCH + 1 },
};

/* The member of st that f describes. */
#define MEMBER(st, f, type) ((type *)((char *)(st) + (f)->offset))
#define CMEMBER(st, f, type) ((const type *)((const char *)(st) + (f)->offset))

/* An enum member's value as an int, and back. */
static int enum_get(const libxlcolo_status *st, const status_field *f)
{
    switch (f->kind) {
    case F_ROLE: return (int)*CMEMBER(st, f, libxlcolo_role);
    case F_STATE: return (int)*CMEMBER(st, f, libxlcolo_state);
    case F_MODE: return (int)*CMEMBER(st, f, libxlcolo_mode);
    case F_FAILOVER: return (int)*CMEMBER(st, f, libxlcolo_failover_state);
    default: return -1;
    }
}

static void enum_set(libxlcolo_status *st, const status_field *f, int v)
{
    switch (f->kind) {
    case F_ROLE: *MEMBER(st, f, libxlcolo_role) = v; break;
    case F_STATE: *MEMBER(st, f, libxlcolo_state) = v; break;
    case F_MODE: *MEMBER(st, f, libxlcolo_mode) = v; break;
    case F_FAILOVER: *MEMBER(st, f, libxlcolo_failover_state) = v; break;
    default: break;
    }
}

/* "disks":[{"name":..,"error":bool,"desc":..}, ...], after the fields. */
static void disks_to_json(colo_json *j, const libxlcolo_status *st)
{
    colo_json_open_list(j, "disks");
    for (unsigned i = 0; i < st->nr_disks && i < LIBXLCOLO_DISKS_MAX; i++) {
        colo_json_open_item(j);
        colo_json_put_str(j, "name", st->disks[i].name);
        colo_json_put_bool(j, "error", st->disks[i].error);
        colo_json_put_str(j, "desc", st->disks[i].desc);
        colo_json_close(j);
    }
    colo_json_close_list(j);
}

/* ... and back: absent is no disks (a status of before block
 * replication); present, it is read as strictly as the fields. */
static int disks_from_json(yajl_val obj, libxlcolo_status *s, char *err, size_t errsize)
{
    yajl_val list;
    int r = colo_json_get(obj, "disks", &list, err, errsize);
    if (r < 0 || !list)
        return r;
    if (!YAJL_IS_ARRAY(list)) {
        snprintf(err, errsize, "\"disks\" is not an array");
        return -EBADMSG;
    }
    if (list->u.array.len > LIBXLCOLO_DISKS_MAX) {
        snprintf(err, errsize, "\"disks\" has %zu disks, more than %d", list->u.array.len,
                 LIBXLCOLO_DISKS_MAX);
        return -EBADMSG;
    }
    for (size_t i = 0; i < list->u.array.len; i++) {
        yajl_val d = list->u.array.values[i], e = NULL;
        libxlcolo_disk_status *ds = &s->disks[i];
        char why[96] = "";
        if (!YAJL_IS_OBJECT(d))
            snprintf(why, sizeof(why), "not an object");
        else if (colo_json_copy_str(d, "name", ds->name, sizeof(ds->name), why, sizeof(why)) < 0 ||
                 colo_json_copy_str(d, "desc", ds->desc, sizeof(ds->desc), why, sizeof(why)) < 0 ||
                 colo_json_get(d, "error", &e, why, sizeof(why)) < 0)
            ; /* why says it */
        else if (!e)
            snprintf(why, sizeof(why), "missing \"error\"");
        else if (!YAJL_IS_TRUE(e) && !YAJL_IS_FALSE(e))
            snprintf(why, sizeof(why), "\"error\" is not a boolean");
        if (why[0]) {
            snprintf(err, errsize, "disks[%zu]: %s", i, why);
            return -EBADMSG;
        }
        ds->error = YAJL_IS_TRUE(e);
    }
    s->nr_disks = (unsigned)list->u.array.len;
    return 0;
}

/* "ownership":{"owner":..,"generation":N,"lease_left_ms":N}, after the
 * disks, only with an arbiter. */
static void ownership_to_json(colo_json *j, const libxlcolo_status *st)
{
    if (!st->has_arbiter)
        return;
    colo_json_open(j, "ownership");
    colo_json_put_str(j, "owner", st->owner);
    colo_json_put_u64(j, "generation", st->generation);
    colo_json_put_u64(j, "lease_left_ms", st->lease_left_ms);
    colo_json_close(j);
}

static int ownership_from_json(yajl_val obj, libxlcolo_status *s, char *err, size_t errsize)
{
    yajl_val o;
    char why[96] = "";
    int r = colo_json_get(obj, "ownership", &o, err, errsize);
    if (r < 0 || !o)
        return r;
    if (!YAJL_IS_OBJECT(o))
        snprintf(why, sizeof(why), "not an object");
    /* On failure, why says it. */
    bool bad = why[0] ||
               colo_json_copy_str(o, "owner", s->owner, sizeof(s->owner), why, sizeof(why)) < 0 ||
               colo_json_get_u64(o, "generation", UINT64_MAX, &s->generation, why, sizeof(why)) < 0 ||
               colo_json_get_u64(o, "lease_left_ms", UINT32_MAX, &s->lease_left_ms, why,
                                 sizeof(why)) < 0;
    if (bad) {
        snprintf(err, errsize, "ownership: %s", why);
        return -EBADMSG;
    }
    s->has_arbiter = true;
    return 0;
}

/* "proxy":{...}, last, only with a NIC comparison: its counters as the
 * service gave them (proxy/service/status.c names them), carried as
 * they are. */
static void proxy_to_json(colo_json *j, const libxlcolo_status *st)
{
    _cleanup_tree_ yajl_val v = NULL;
    char err[64];

    if (st->proxy[0] && colo_json_parse(st->proxy, &v, err, sizeof(err)) == 0 &&
        YAJL_IS_OBJECT(v))
        colo_json_put_value(j, "proxy", v);
}

static int proxy_from_json(yajl_val obj, libxlcolo_status *s, char *err, size_t errsize)
{
    yajl_val o;
    const char *text;
    size_t len;
    int r = colo_json_get(obj, "proxy", &o, err, errsize);
    if (r < 0 || !o)
        return r;
    if (!YAJL_IS_OBJECT(o)) {
        snprintf(err, errsize, "\"proxy\" is not an object");
        return -EBADMSG;
    }
    _cleanup_json_ colo_json *j = colo_json_new();
    for (size_t i = 0; i < o->u.object.len; i++)
        colo_json_put_value(j, o->u.object.keys[i], o->u.object.values[i]);
    r = colo_json_finish(j, &text, &len);
    if (r < 0) {
        snprintf(err, errsize, "\"proxy\": %s", strerror(-r));
        return -EBADMSG;
    }
    if (len >= sizeof(s->proxy)) {
        snprintf(err, errsize, "\"proxy\" is over %zu bytes", sizeof(s->proxy) - 1);
        return -EBADMSG;
    }
    memcpy(s->proxy, text, len + 1);
    return 0;
}

void colo_status_to_json(colo_json *j, const libxlcolo_status *st)
{
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        const status_field *f = &fields[i];
        int pid;
        switch (f->kind) {
        case F_STR:
            colo_json_put_str(j, f->key, CMEMBER(st, f, char));
            break;
        case F_U64:
            colo_json_put_u64(j, f->key, *CMEMBER(st, f, uint64_t));
            break;
        case F_PID:
            pid = *CMEMBER(st, f, int);
            colo_json_put_u64(j, f->key, pid > 0 ? (uint64_t)pid : 0);
            break;
        default:
            colo_json_put_str(j, f->key, enums[f->kind].name(enum_get(st, f)));
            break;
        }
    }
    disks_to_json(j, st);
    ownership_to_json(j, st);
    proxy_to_json(j, st);
}

/* The value of the enum field f named by obj's member, or -EBADMSG:
 * "\"role\" is not one of primary, secondary". */
static int get_enum(yajl_val obj, const status_field *f, int *out,
                    char *err, size_t errsize)
{
    const int n = enums[f->kind].count;
    const char *name;
    char list[128];
    size_t len = 0;

    int r = colo_json_get_str(obj, f->key, &name, err, errsize);
    if (r < 0)
        return r;
    for (int i = 0; i < n; i++)
        if (strcmp(enums[f->kind].name(i), name) == 0) {
            *out = i;
            return 0;
        }
    list[0] = '\0';
    for (int i = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
                                i ? ", " : "", enums[f->kind].name(i));
    snprintf(err, errsize, "\"%s\" is not one of %s", f->key, list);
    return -EBADMSG;
}

int colo_status_from_json(yajl_val obj, libxlcolo_status *st,
                          char *err, size_t errsize)
{
    libxlcolo_status s;
    uint64_t u;
    int v, r = 0;

    memset(&s, 0, sizeof(s));
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(fields); i++) {
        const status_field *f = &fields[i];
        switch (f->kind) {
        case F_STR:
            r = colo_json_copy_str(obj, f->key, MEMBER(&s, f, char), f->size,
                                   err, errsize);
            break;
        case F_U64:
            r = colo_json_get_u64(obj, f->key, UINT64_MAX,
                                  MEMBER(&s, f, uint64_t), err, errsize);
            break;
        case F_PID:
            r = colo_json_get_u64(obj, f->key, INT_MAX, &u, err, errsize);
            if (r == 0)
                *MEMBER(&s, f, int) = (int)u;
            break;
        default:
            r = get_enum(obj, f, &v, err, errsize);
            if (r == 0)
                enum_set(&s, f, v);
            break;
        }
    }
    if (r == 0)
        r = disks_from_json(obj, &s, err, errsize);
    if (r == 0)
        r = ownership_from_json(obj, &s, err, errsize);
    if (r == 0)
        r = proxy_from_json(obj, &s, err, errsize);
    if (r < 0)
        return r;
    *st = s;
    return 0;
}
