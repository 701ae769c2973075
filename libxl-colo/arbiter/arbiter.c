/*
 * arbiter.c - the arbiter's drivers by scheme, and the wrappers that
 * serialise their requests (arbiter.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "arbiter/arbiter.h"
#include "colo-internal.h"

extern const struct colo_arbiter_ops colo_arbiter_etcd_ops;

static const struct colo_arbiter_ops *const drivers[] = {
    &colo_arbiter_etcd_ops,
};

static const struct colo_arbiter_ops *driver_of(const char *url, const char **rest)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
        size_t n = strlen(drivers[i]->scheme);
        if (strncmp(url, drivers[i]->scheme, n) == 0 && strncmp(url + n, "://", 3) == 0) {
            *rest = url + n + 3;
            return drivers[i];
        }
    }
    return NULL;
}

#define BAD(...) (snprintf(err, errsize, __VA_ARGS__), -EINVAL)

/* HOST:PORT[,HOST:PORT...]: names, IPv4 or [IPv6], a port 1..65535. */
static int check_endpoints(const char *list, char *err, size_t errsize)
{
    char buf[256];
    if (!list[0] || (size_t)snprintf(buf, sizeof(buf), "%s", list) >= sizeof(buf))
        return BAD("the arbiter's endpoint list is empty or over 255 bytes");
    unsigned n = 0;
    for (char *save = NULL, *ep = strtok_r(buf, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(ep, ':');
        if (++n > 8)
            return BAD("at most 8 arbiter endpoints");
        if (!colon || colon == ep)
            return BAD("arbiter endpoint \"%s\" is not HOST:PORT", ep);
        char *end;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || port == 0 || port > 65535)
            return BAD("arbiter endpoint \"%s\": the port is not 1..65535", ep);
        for (char *c = ep; c < colon; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  strchr(".-_[]:", *c)))
                return BAD("arbiter endpoint \"%s\": a host may hold only letters, digits, "
                           "'.', '-', '_' and an [IPv6] address", ep);
    }
    if (strstr(list, ",,") || list[strlen(list) - 1] == ',')
        return BAD("an empty arbiter endpoint in \"%s\"", list);
    return 0;
}

int colo_arbiter_check(const struct colo_arbiter_params *p, char *err, size_t errsize)
{
    const char *rest;
    if (!p->url || !driver_of(p->url, &rest))
        return BAD("arbiter \"%s\": not etcd://HOST:PORT[,HOST:PORT...]", p->url ? p->url : "");
    int r = check_endpoints(rest, err, errsize);
    if (r < 0)
        return r;
    const char *prefix = p->prefix ? p->prefix : COLO_ARBITER_PREFIX;
    if (prefix[0] != '/' || strlen(prefix) > 100 || strchr(prefix, '"') || strchr(prefix, '\\'))
        return BAD("arbiter prefix \"%s\": must start with '/', at most 100 bytes, no quote or "
                   "backslash", prefix);
    if (p->ttl_ms && (p->ttl_ms < 2000 || p->ttl_ms > 3600000))
        return BAD("lease TTL %u ms: must be 2000..3600000 (etcd grants whole seconds, at least 2)",
                   p->ttl_ms);
    if (!p->host || !colo_name_valid(p->host, COLO_ARBITER_HOST_MAX))
        return BAD("this host's name \"%s\" cannot name an owner: 1..63 of [A-Za-z0-9_.-]",
                   p->host ? p->host : "");
    if ((p->cert_file || p->key_file) && !p->ca_file)
        return BAD("an arbiter client certificate needs --arbiter-cacert (TLS)");
    if (!p->cert_file != !p->key_file)
        return BAD("--arbiter-cert and --arbiter-key go together");
    return 0;
}

int colo_arbiter_open(libxlcolo_ctx *ctx, const struct colo_arbiter_params *p,
                      colo_arbiter **out)
{
    char err[256];
    const char *rest;
    if (colo_arbiter_check(p, err, sizeof(err)) < 0)
        return LOG_ERRNO(ctx, -EINVAL, "%s", err);
    if (!p->uuid || strlen(p->uuid) != COLO_UUID_STR_LEN)
        return LOG_ERRNO(ctx, -EINVAL, "arbiter: the guest has no UUID to key its ownership by");
    colo_arbiter *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->ctx = ctx;
    a->ops = driver_of(p->url, &rest);
    pthread_mutex_init(&a->lock, NULL);
    snprintf(a->endpoints, sizeof(a->endpoints), "%s", rest);
    snprintf(a->prefix, sizeof(a->prefix), "%s", p->prefix ? p->prefix : COLO_ARBITER_PREFIX);
    snprintf(a->uuid, sizeof(a->uuid), "%s", p->uuid);
    snprintf(a->host, sizeof(a->host), "%s", p->host);
    a->ttl_ms = p->ttl_ms ? p->ttl_ms : COLO_ARBITER_TTL_MS;
    a->ca_file = p->ca_file;
    a->cert_file = p->cert_file;
    a->key_file = p->key_file;
    int r = a->ops->open(a);
    if (r < 0) {
        colo_arbiter_close(a);
        return r;
    }
    *out = a;
    return 0;
}

void colo_arbiter_close(colo_arbiter *a)
{
    if (!a)
        return;
    a->ops->close(a);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

#define LOCKED(a, call)                      \
    ({                                       \
        pthread_mutex_lock(&(a)->lock);      \
        int _r = (call);                     \
        pthread_mutex_unlock(&(a)->lock);    \
        _r;                                  \
    })

int colo_arbiter_query(colo_arbiter *a, struct colo_owner *owner)
{
    return LOCKED(a, a->ops->query(a, owner));
}

int colo_arbiter_claim(colo_arbiter *a, uint64_t expect_gen, bool over_own,
                       struct colo_owner *owner)
{
    return LOCKED(a, a->ops->claim(a, expect_gen, over_own, owner));
}

int colo_arbiter_renew(colo_arbiter *a, int64_t *granted_ms)
{
    return LOCKED(a, a->ops->renew(a, granted_ms));
}

int colo_arbiter_release(colo_arbiter *a)
{
    return LOCKED(a, a->ops->release(a));
}

uint64_t colo_arbiter_deadline(colo_arbiter *a)
{
    pthread_mutex_lock(&a->lock);
    uint64_t d = a->lease_deadline_ns;
    pthread_mutex_unlock(&a->lock);
    return d;
}
