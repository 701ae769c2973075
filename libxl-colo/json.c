/*
 * json.c - the JSON helpers on yajl (json.h). Needs only yajl and libc:
 * xl-colo builds it in itself.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "json.h"

struct colo_json {
    yajl_gen g;
    bool failed;    /* yajl refused a call: the text is not to be used */
    unsigned open;  /* nested objects opened and not yet closed */
};

colo_json *colo_json_new(void)
{
    colo_json *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->g = yajl_gen_alloc(NULL);
    if (!j->g) {
        free(j);
        return NULL;
    }
    /* yajl's defaults, stated: one line, '/' as is. */
    yajl_gen_config(j->g, yajl_gen_beautify, 0);
    yajl_gen_config(j->g, yajl_gen_escape_solidus, 0);
    if (yajl_gen_map_open(j->g) != yajl_gen_status_ok)
        j->failed = true;
    return j;
}

void colo_json_free(colo_json *j)
{
    if (!j)
        return;
    yajl_gen_free(j->g);
    free(j);
}

static void check(colo_json *j, yajl_gen_status s)
{
    if (s != yajl_gen_status_ok)
        j->failed = true;
}

static void put_key(colo_json *j, const char *key)
{
    check(j, yajl_gen_string(j->g, (const unsigned char *)key, strlen(key)));
}

void colo_json_put_str(colo_json *j, const char *key, const char *val)
{
    if (!j)
        return;
    put_key(j, key);
    check(j, yajl_gen_string(j->g, (const unsigned char *)val, strlen(val)));
}

void colo_json_put_u64(colo_json *j, const char *key, uint64_t val)
{
    char num[24];
    if (!j)
        return;
    int n = snprintf(num, sizeof(num), "%" PRIu64, val);
    put_key(j, key);
    check(j, yajl_gen_number(j->g, num, (size_t)n));
}

void colo_json_put_bool(colo_json *j, const char *key, bool val)
{
    if (!j)
        return;
    put_key(j, key);
    check(j, yajl_gen_bool(j->g, val));
}

void colo_json_open(colo_json *j, const char *key)
{
    if (!j)
        return;
    put_key(j, key);
    check(j, yajl_gen_map_open(j->g));
    j->open++;
}

void colo_json_close(colo_json *j)
{
    if (!j)
        return;
    if (j->open == 0) {
        j->failed = true;
        return;
    }
    j->open--;
    check(j, yajl_gen_map_close(j->g));
}

void colo_json_open_list(colo_json *j, const char *key)
{
    if (!j)
        return;
    put_key(j, key);
    check(j, yajl_gen_array_open(j->g));
    j->open++;
}

void colo_json_open_item(colo_json *j)
{
    if (!j)
        return;
    check(j, yajl_gen_map_open(j->g));
    j->open++;
}

void colo_json_close_list(colo_json *j)
{
    if (!j)
        return;
    if (j->open == 0) {
        j->failed = true;
        return;
    }
    j->open--;
    check(j, yajl_gen_array_close(j->g));
}

static void put_value(colo_json *j, yajl_val v)
{
    yajl_gen g = j->g;
    if (!v) {
        check(j, yajl_gen_null(g));
    } else if (YAJL_IS_STRING(v)) {
        check(j, yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string)));
    } else if (YAJL_IS_NUMBER(v)) {
        check(j, yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r)));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        check(j, yajl_gen_bool(g, YAJL_IS_TRUE(v)));
    } else if (YAJL_IS_OBJECT(v)) {
        check(j, yajl_gen_map_open(g));
        for (size_t i = 0; i < v->u.object.len; i++) {
            put_key(j, v->u.object.keys[i]);
            put_value(j, v->u.object.values[i]);
        }
        check(j, yajl_gen_map_close(g));
    } else if (YAJL_IS_ARRAY(v)) {
        check(j, yajl_gen_array_open(g));
        for (size_t i = 0; i < v->u.array.len; i++)
            put_value(j, v->u.array.values[i]);
        check(j, yajl_gen_array_close(g));
    } else {
        check(j, yajl_gen_null(g));
    }
}

void colo_json_put_value(colo_json *j, const char *key, yajl_val val)
{
    if (!j)
        return;
    put_key(j, key);
    put_value(j, val);
}

int colo_json_finish(colo_json *j, const char **buf, size_t *len)
{
    const unsigned char *b;
    if (!j)
        return -ENOMEM;
    check(j, yajl_gen_map_close(j->g));
    if (j->failed || j->open || yajl_gen_get_buf(j->g, &b, len) != yajl_gen_status_ok)
        return -EINVAL;
    *buf = (const char *)b;
    return 0;
}

int colo_json_print(colo_json *j, FILE *f)
{
    const char *buf;
    size_t len;
    int r = colo_json_finish(j, &buf, &len);
    if (r < 0)
        return r;
    if (fwrite(buf, 1, len, f) != len || fputc('\n', f) == EOF ||
        fflush(f) == EOF)
        return negative_errno();
    return 0;
}

/* --- reading ----------------------------------------------------------- */

_printf_(3, 4)
static int refuse(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

/* What yajl_tree must not be given (colo_json_parse). */
enum unsafe { SAFE, TOO_DEEP, COMMENT };

/* Is text nested deeper than max objects and arrays (outside strings), or
 * does it hold a comment? yajl_tree_parse takes comments; JSON has none,
 * and a '"' inside one would hide every bracket after it from this count. */
static enum unsafe unsafe(const char *text, unsigned max)
{
    unsigned depth = 0;
    bool in_str = false;
    for (const char *p = text; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = false;
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == '/') {
            return COMMENT; /* outside a string, yajl reads '/' only as one */
        } else if (*p == '{' || *p == '[') {
            if (++depth > max)
                return TOO_DEEP;
        } else if ((*p == '}' || *p == ']') && depth) {
            depth--;
        }
    }
    return SAFE;
}

int colo_json_parse(const char *text, yajl_val *out, char *err, size_t errsize)
{
    char yerr[128] = "";
    switch (unsafe(text, COLO_JSON_DEPTH_MAX)) {
    case TOO_DEEP:
        return refuse(err, errsize, "nested deeper than %d levels", COLO_JSON_DEPTH_MAX);
    case COMMENT:
        return refuse(err, errsize, "a comment (JSON has none)");
    case SAFE:
        break;
    }
    yajl_val v = yajl_tree_parse(text, yerr, sizeof(yerr));
    if (!v) {
        if (!*yerr) /* yajl says nothing only when out of memory */
            return -ENOMEM;
        /* yajl's message spans lines; keep its first. */
        yerr[strcspn(yerr, "\n")] = '\0';
        return refuse(err, errsize, "%s", yerr);
    }
    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        return refuse(err, errsize, "not a JSON object");
    }
    *out = v;
    return 0;
}

int colo_json_get(yajl_val obj, const char *key, yajl_val *out,
                  char *err, size_t errsize)
{
    yajl_val found = NULL;
    for (size_t i = 0; YAJL_IS_OBJECT(obj) && i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) != 0)
            continue;
        if (found)
            return refuse(err, errsize, "\"%s\" appears twice", key);
        found = obj->u.object.values[i];
    }
    *out = found;
    return 0;
}

static int get_required(yajl_val obj, const char *key, yajl_val *out,
                        char *err, size_t errsize)
{
    int r = colo_json_get(obj, key, out, err, errsize);
    if (r < 0)
        return r;
    if (!*out)
        return refuse(err, errsize, "missing \"%s\"", key);
    return 0;
}

int colo_json_get_str(yajl_val obj, const char *key, const char **out,
                      char *err, size_t errsize)
{
    yajl_val v;
    int r = get_required(obj, key, &v, err, errsize);
    if (r < 0)
        return r;
    if (!YAJL_IS_STRING(v))
        return refuse(err, errsize, "\"%s\" is not a string", key);
    *out = v->u.string;
    return 0;
}

int colo_json_copy_str(yajl_val obj, const char *key, char *dst, size_t size,
                       char *err, size_t errsize)
{
    const char *s;
    int r = colo_json_get_str(obj, key, &s, err, errsize);
    if (r < 0)
        return r;
    size_t len = strlen(s);
    if (len >= size)
        return refuse(err, errsize, "\"%s\" is longer than %zu bytes", key,
                      size - 1);
    memcpy(dst, s, len + 1);
    return 0;
}

int colo_json_get_u64(yajl_val obj, const char *key, uint64_t max,
                      uint64_t *out, char *err, size_t errsize)
{
    yajl_val v;
    int r = get_required(obj, key, &v, err, errsize);
    if (r < 0)
        return r;
    if (!YAJL_IS_NUMBER(v))
        return refuse(err, errsize, "\"%s\" is not a number", key);
    /* yajl keeps the number's text: digits only, then strtoull, which
     * would take a sign itself. */
    const char *s = YAJL_GET_NUMBER(v);
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return refuse(err, errsize, "\"%s\" is not an unsigned integer", key);
    errno = 0;
    unsigned long long x = strtoull(s, NULL, 10);
    if (errno || x > max)
        return refuse(err, errsize, "\"%s\" is over %" PRIu64, key, max);
    *out = x;
    return 0;
}
