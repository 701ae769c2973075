/*
 * etcd_reply.c - etcd v3 JSON gateway replies (etcd_reply.h).
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "arbiter/etcd_reply.h"
#include "json.h"

#define BAD(err, errsize, ...) (snprintf((err), (errsize), __VA_ARGS__), -EBADMSG)

/* Refuse etcd's error object, with its words. */
static int check_error(yajl_val root, char *err, size_t errsize)
{
    yajl_val e = NULL, m = NULL;
    if (colo_json_get(root, "error", &e, err, errsize) < 0 ||
        colo_json_get(root, "message", &m, err, errsize) < 0)
        return -EBADMSG;
    if (!e && !m)
        return 0;
    const char *text = YAJL_IS_STRING(m) ? m->u.string : YAJL_IS_STRING(e) ? e->u.string : "";
    snprintf(err, errsize, "etcd: %.200s", text[0] ? text : "an error without a message");
    return -EREMOTEIO;
}

/* An int64 member: proto3 JSON writes it as a decimal string (a number is
 * taken too). Absent: *out = 0, proto3's zero value. */
static int get_i64(yajl_val obj, const char *key, int64_t *out, char *err, size_t errsize)
{
    yajl_val v = NULL;
    *out = 0;
    if (colo_json_get(obj, key, &v, err, errsize) < 0)
        return -EBADMSG;
    if (!v)
        return 0;
    if (YAJL_IS_INTEGER(v)) {
        *out = YAJL_GET_INTEGER(v);
        return 0;
    }
    if (!YAJL_IS_STRING(v))
        return BAD(err, errsize, "\"%s\" is not an integer", key);
    const char *s = v->u.string;
    bool neg = s[0] == '-';
    size_t i = neg, n = strlen(s);
    if (n == i || n - i > 19)
        return BAD(err, errsize, "\"%s\" is not an int64", key);
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BAD(err, errsize, "\"%s\" is not an int64", key);
        acc = acc * 10 + (uint64_t)(s[i] - '0');
    }
    if (acc > (uint64_t)INT64_MAX)
        return BAD(err, errsize, "\"%s\" is over the int64 range", key);
    *out = neg ? -(int64_t)acc : (int64_t)acc;
    return 0;
}

/* An object member (absent: *out = NULL). */
static int get_obj(yajl_val obj, const char *key, yajl_val *out, char *err, size_t errsize)
{
    if (colo_json_get(obj, key, out, err, errsize) < 0)
        return -EBADMSG;
    if (*out && !YAJL_IS_OBJECT(*out))
        return BAD(err, errsize, "\"%s\" is not an object", key);
    return 0;
}

static int parse(const char *text, yajl_val *root, char *err, size_t errsize)
{
    if (strnlen(text, ETCD_REPLY_MAX + 1) > ETCD_REPLY_MAX)
        return BAD(err, errsize, "a reply over %u bytes", ETCD_REPLY_MAX);
    int r = colo_json_parse(text, root, err, errsize);
    if (r < 0)
        return r;
    r = check_error(*root, err, errsize);
    if (r < 0) {
        yajl_tree_free(*root);
        *root = NULL;
    }
    return r;
}

int etcd_reply_lease(const char *text, bool keepalive, int64_t *id, int64_t *ttl,
                     char *err, size_t errsize)
{
    _cleanup_tree_ yajl_val root = NULL;
    int r = parse(text, &root, err, errsize);
    if (r < 0)
        return r;
    yajl_val o = root;
    if (keepalive) {
        if (get_obj(root, "result", &o, err, errsize) < 0)
            return -EBADMSG;
        if (!o)
            return BAD(err, errsize, "missing \"result\"");
    }
    if (get_i64(o, "ID", id, err, errsize) < 0 || get_i64(o, "TTL", ttl, err, errsize) < 0)
        return -EBADMSG;
    if (*id == 0)
        return BAD(err, errsize, "missing \"ID\"");
    if (*ttl < 0)
        return BAD(err, errsize, "\"TTL\" is negative");
    return 0;
}

int etcd_reply_ttl(const char *text, int64_t *ttl, char *err, size_t errsize)
{
    _cleanup_tree_ yajl_val root = NULL;
    int r = parse(text, &root, err, errsize);
    if (r < 0)
        return r;
    /* A lease that is gone says TTL -1; proto3 leaves a 0 out. */
    return get_i64(root, "TTL", ttl, err, errsize) < 0 ? -EBADMSG : 0;
}

static int decode_b64(const char *in, char *out, size_t size, char *err, size_t errsize)
{
    size_t n = strlen(in);
    if (n % 4 || n / 4 * 3 > size + 2)
        return BAD(err, errsize, "a value that is not base64 of at most %zu bytes", size - 1);
    unsigned char buf[ETCD_VALUE_MAX + 4];
    int len = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
    if (len < 0)
        return BAD(err, errsize, "a value that is not base64");
    /* EVP_DecodeBlock counts the padding's zero bytes in. */
    if (n && in[n - 1] == '=')
        len--;
    if (n > 1 && in[n - 2] == '=')
        len--;
    if (len < 0 || (size_t)len >= size || memchr(buf, '\0', (size_t)len))
        return BAD(err, errsize, "a value over %zu bytes or with a NUL", size - 1);
    memcpy(out, buf, (size_t)len);
    out[len] = '\0';
    return 0;
}

/* One response_range: at most one kv (we ask for one key). */
static int read_range(yajl_val rr, struct etcd_kv *kv, char *err, size_t errsize)
{
    yajl_val kvs = NULL;
    if (colo_json_get(rr, "kvs", &kvs, err, errsize) < 0)
        return -EBADMSG;
    if (!kvs)
        return 0; /* no such key */
    if (!YAJL_IS_ARRAY(kvs) || kvs->u.array.len > 1)
        return BAD(err, errsize, "\"kvs\" is not a list of at most one key");
    if (kvs->u.array.len == 0)
        return 0;
    yajl_val k = kvs->u.array.values[0];
    if (!YAJL_IS_OBJECT(k))
        return BAD(err, errsize, "a key that is not an object");
    int64_t version, lease;
    if (get_i64(k, "version", &version, err, errsize) < 0 ||
        get_i64(k, "lease", &lease, err, errsize) < 0)
        return -EBADMSG;
    if (version <= 0)
        return BAD(err, errsize, "a key with version %lld", (long long)version);
    const char *value = "";
    yajl_val v = NULL;
    if (colo_json_get(k, "value", &v, err, errsize) < 0)
        return -EBADMSG;
    if (v) {
        if (!YAJL_IS_STRING(v))
            return BAD(err, errsize, "\"value\" is not a string");
        value = v->u.string;
    }
    if (decode_b64(value, kv->value, sizeof(kv->value), err, errsize) < 0)
        return -EBADMSG;
    kv->present = true;
    kv->version = (uint64_t)version;
    kv->lease = lease;
    return 0;
}

int etcd_reply_txn(const char *text, bool *succeeded, struct etcd_kv *kvs, size_t n,
                   char *err, size_t errsize)
{
    _cleanup_tree_ yajl_val root = NULL;
    int r = parse(text, &root, err, errsize);
    if (r < 0)
        return r;
    memset(kvs, 0, n * sizeof(*kvs));
    yajl_val s = NULL, list = NULL;
    if (colo_json_get(root, "succeeded", &s, err, errsize) < 0 ||
        colo_json_get(root, "responses", &list, err, errsize) < 0)
        return -EBADMSG;
    if (s && !YAJL_IS_TRUE(s) && !YAJL_IS_FALSE(s))
        return BAD(err, errsize, "\"succeeded\" is not a boolean");
    *succeeded = s && YAJL_IS_TRUE(s);
    size_t have = 0;
    if (list) {
        if (!YAJL_IS_ARRAY(list))
            return BAD(err, errsize, "\"responses\" is not a list");
        have = list->u.array.len;
    }
    if (have < n)
        return BAD(err, errsize, "%zu responses where %zu were asked", have, n);
    for (size_t i = 0; i < n; i++) {
        yajl_val item = list->u.array.values[i], rr = NULL, rp = NULL;
        if (!YAJL_IS_OBJECT(item))
            return BAD(err, errsize, "a response that is not an object");
        if (get_obj(item, "response_range", &rr, err, errsize) < 0 ||
            get_obj(item, "response_put", &rp, err, errsize) < 0)
            return -EBADMSG;
        if (!rr && !rp)
            return BAD(err, errsize, "a response that is neither a range nor a put");
        if (rr && read_range(rr, &kvs[i], err, errsize) < 0)
            return -EBADMSG;
    }
    return 0;
}

int etcd_reply_ok(const char *text, char *err, size_t errsize)
{
    _cleanup_tree_ yajl_val root = NULL;
    return parse(text, &root, err, errsize);
}

int etcd_b64_encode(const void *in, size_t len, char *out, size_t size)
{
    if (len > (size_t)INT32_MAX / 2 || DIV_ROUND_UP(len, 3) * 4 + 1 > size)
        return -ENOSPC;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return 0;
}
