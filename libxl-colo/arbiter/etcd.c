/*
 * etcd.c - the etcd v3 arbiter, on its JSON gateway (/v3/...) with libcurl.
 *
 * Two keys per guest under PREFIX/UUID/:
 *   owner       "HOST GEN", attached to the owner's lease: it exists only
 *               while that lease lives;
 *   generation  "GEN HOST", never leased: GEN is also its version (one put
 *               per change of owner), so a claim compares the version, an
 *               integer both sides know, and the text says who had it.
 * A claim is one txn: the generation's version is the one expected and the
 * owner key is absent (or, over our own lease, is ours); then both are put.
 * Endpoints are tried in order from the last one that answered.
 */
#include "config.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "arbiter/arbiter.h"
#include "arbiter/etcd_reply.h"
#include "colo-internal.h"

#define ETCD_MAX_ENDPOINTS 8

struct etcd {
    CURL *curl;
    char *ep[ETCD_MAX_ENDPOINTS];
    unsigned nr_ep, good;        /* good: the one that answered last */
    char ep_buf[256];
    int64_t lease;               /* ours, 0 for none */
    char owner_key[64 + 128 + COLO_UUID_STR_LEN]; /* base64 */
    char gen_key[64 + 128 + COLO_UUID_STR_LEN];
    long timeout_ms;             /* each request */
    char reply[ETCD_REPLY_MAX + 1];
    size_t reply_len;
    bool reply_over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct etcd *e = opaque;
    size_t n = size * nmemb;
    if (n > ETCD_REPLY_MAX - e->reply_len) {
        e->reply_over = true;
        return 0; /* curl ends the transfer: CURLE_WRITE_ERROR */
    }
    memcpy(e->reply + e->reply_len, ptr, n);
    e->reply_len += n;
    e->reply[e->reply_len] = '\0';
    return n;
}

/* POST body to PATH on the first endpoint that answers; e->reply has the
 * answer. An HTTP error status still carries etcd's error object. */
static int post(colo_arbiter *a, const char *path, const char *body)
{
    struct etcd *e = a->priv;
    char url[512], errs[1024] = "";
    char cerr[CURL_ERROR_SIZE];
    size_t elen = 0;

    for (unsigned i = 0; i < e->nr_ep; i++) {
        unsigned k = (e->good + i) % e->nr_ep;
        snprintf(url, sizeof(url), "%s://%s%s", a->ca_file ? "https" : "http", e->ep[k], path);
        e->reply_len = 0;
        e->reply[0] = '\0';
        e->reply_over = false;
        cerr[0] = '\0';
        curl_easy_setopt(e->curl, CURLOPT_URL, url);
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, cerr);
        CURLcode c = curl_easy_perform(e->curl);
        if (e->reply_over)
            return LOG_ERRNO(a->ctx, -EBADMSG, "arbiter %s: a reply over %u bytes", e->ep[k],
                             ETCD_REPLY_MAX);
        if (c == CURLE_OK) {
            e->good = k;
            return 0;
        }
        /* Each endpoint's cause, in the order tried (a TLS refusal must
         * not hide behind a dead first endpoint). */
        if (elen < sizeof(errs) - 1) {
            int n = snprintf(errs + elen, sizeof(errs) - elen, "%s%s: %s", elen ? "; " : "",
                             e->ep[k], cerr[0] ? cerr : curl_easy_strerror(c));
            elen = n < 0 ? sizeof(errs) - 1 : MIN(sizeof(errs) - 1, elen + (size_t)n);
        }
    }
    return LOG_ERRNO(a->ctx, -EHOSTUNREACH, "arbiter unreachable: %s", errs);
}

static int logged(colo_arbiter *a, int r, const char *what, const char *err)
{
    return LOG_ERRNO(a->ctx, r, "arbiter: %s: %s", what, err);
}

static int lease_grant(colo_arbiter *a, int64_t *id, int64_t *ttl_s)
{
    struct etcd *e = a->priv;
    char body[64], err[256];
    snprintf(body, sizeof(body), "{\"TTL\":%u}", DIV_ROUND_UP(a->ttl_ms, 1000));
    int r = post(a, "/v3/lease/grant", body);
    if (r < 0)
        return r;
    r = etcd_reply_lease(e->reply, false, id, ttl_s, err, sizeof(err));
    if (r < 0)
        return logged(a, r, "lease grant", err);
    if (*ttl_s <= 0)
        return logged(a, -EBADMSG, "lease grant", "a lease with no TTL");
    return 0;
}

static void lease_revoke(colo_arbiter *a, int64_t id)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", id);
    post(a, "/v3/lease/revoke", body); /* a lease we fail to revoke expires */
}

/* "HOST GEN" or "GEN HOST" of a key, for the owner it names. */
static void owner_of(const struct etcd_kv *own, const struct etcd_kv *gen, struct colo_owner *o)
{
    memset(o, 0, sizeof(*o));
    o->generation = gen->present ? gen->version : 0;
    if (own->present) {
        o->live = true;
        sscanf(own->value, "%63s", o->host);
    } else if (gen->present) {
        sscanf(gen->value, "%*s %63s", o->host); /* the last owner, its lease ended */
    }
}

/* The live owner's lease's time left (best effort: 0 when unknown). */
static void owner_ttl(colo_arbiter *a, const struct etcd_kv *own, struct colo_owner *o)
{
    struct etcd *e = a->priv;
    char body[64], err[256];
    int64_t ttl = 0;
    if (!own->present || own->lease == 0)
        return;
    snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", own->lease);
    if (post(a, "/v3/lease/timetolive", body) == 0 &&
        etcd_reply_ttl(e->reply, &ttl, err, sizeof(err)) == 0 && ttl > 0)
        o->lease_left_ms = ttl * 1000;
}

/* The two keys' ranges, in a txn with no compare: one revision. */
static int read_keys(colo_arbiter *a, struct etcd_kv kv[2])
{
    struct etcd *e = a->priv;
    char body[1024], err[256];
    bool ok;
    snprintf(body, sizeof(body),
             "{\"success\":[{\"requestRange\":{\"key\":\"%s\"}},{\"requestRange\":{\"key\":\"%s\"}}]}",
             e->owner_key, e->gen_key);
    int r = post(a, "/v3/kv/txn", body);
    if (r < 0)
        return r;
    r = etcd_reply_txn(e->reply, &ok, kv, 2, err, sizeof(err));
    if (r < 0)
        return logged(a, r, "read", err);
    return 0;
}

static int etcd_query(colo_arbiter *a, struct colo_owner *o)
{
    struct etcd_kv kv[2];
    int r = read_keys(a, kv);
    if (r < 0)
        return r;
    owner_of(&kv[0], &kv[1], o);
    owner_ttl(a, &kv[0], o);
    return 0;
}

static int etcd_claim(colo_arbiter *a, uint64_t expect_gen, bool over_own, struct colo_owner *o)
{
    struct etcd *e = a->priv;
    char body[4096], err[256], text[ETCD_VALUE_MAX + 1];
    char own_now[200], gen_new[200], own_new[200];
    int64_t lease, ttl_s;
    uint64_t t0 = colo_now_ns();

    int r = lease_grant(a, &lease, &ttl_s);
    if (r < 0)
        return r;
    /* The compare on the owner key: absent, or ours at expect_gen. */
    char own_cmp[640];
    if (over_own) {
        snprintf(text, sizeof(text), "%s %" PRIu64, a->host, expect_gen);
        etcd_b64_encode(text, strlen(text), own_now, sizeof(own_now));
        snprintf(own_cmp, sizeof(own_cmp),
                 "{\"key\":\"%s\",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":\"%s\"}",
                 e->owner_key, own_now);
    } else {
        snprintf(own_cmp, sizeof(own_cmp),
                 "{\"key\":\"%s\",\"target\":\"VERSION\",\"result\":\"EQUAL\",\"version\":\"0\"}",
                 e->owner_key);
    }
    snprintf(text, sizeof(text), "%" PRIu64 " %s", expect_gen + 1, a->host);
    etcd_b64_encode(text, strlen(text), gen_new, sizeof(gen_new));
    snprintf(text, sizeof(text), "%s %" PRIu64, a->host, expect_gen + 1);
    etcd_b64_encode(text, strlen(text), own_new, sizeof(own_new));
    snprintf(body, sizeof(body),
             "{\"compare\":[%s,{\"key\":\"%s\",\"target\":\"VERSION\",\"result\":\"EQUAL\","
             "\"version\":\"%" PRIu64 "\"}],"
             "\"success\":[{\"requestPut\":{\"key\":\"%s\",\"value\":\"%s\"}},"
             "{\"requestPut\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" PRId64 "\"}}],"
             "\"failure\":[{\"requestRange\":{\"key\":\"%s\"}},{\"requestRange\":{\"key\":\"%s\"}}]}",
             own_cmp, e->gen_key, expect_gen, e->gen_key, gen_new, e->owner_key, own_new, lease,
             e->owner_key, e->gen_key);
    r = post(a, "/v3/kv/txn", body);
    struct etcd_kv kv[2];
    bool won = false;
    if (r == 0) {
        r = etcd_reply_txn(e->reply, &won, kv, 2, err, sizeof(err));
        if (r < 0)
            logged(a, r, "claim", err);
    }
    if (r < 0 || !won) {
        lease_revoke(a, lease);
        if (r < 0)
            return r;
        owner_of(&kv[0], &kv[1], o);
        owner_ttl(a, &kv[0], o);
        /* A live lease in the way (another host's, or, unless over_own,
         * ours from before), else a generation that has moved. */
        if (o->live && (!over_own || strcmp(o->host, a->host) != 0))
            return -EBUSY;
        return -ESTALE;
    }
    if (e->lease && e->lease != lease)
        lease_revoke(a, e->lease); /* the owner key has moved to the new one */
    e->lease = lease;
    a->generation = expect_gen + 1;
    a->lease_deadline_ns = t0 + colo_ms_to_ns((uint32_t)(ttl_s * 1000));
    a->granted_ms = ttl_s * 1000;
    memset(o, 0, sizeof(*o));
    o->live = true;
    snprintf(o->host, sizeof(o->host), "%s", a->host);
    o->generation = a->generation;
    o->lease_left_ms = a->granted_ms;
    return 0;
}

static int etcd_renew(colo_arbiter *a, int64_t *granted_ms)
{
    struct etcd *e = a->priv;
    char body[64], err[256];
    int64_t id, ttl_s;
    uint64_t t0 = colo_now_ns();
    if (!e->lease)
        return LOG_ERRNO(a->ctx, -ENOLCK, "arbiter: no lease to renew");
    snprintf(body, sizeof(body), "{\"ID\":\"%" PRId64 "\"}", e->lease);
    int r = post(a, "/v3/lease/keepalive", body);
    if (r < 0)
        return r;
    r = etcd_reply_lease(e->reply, true, &id, &ttl_s, err, sizeof(err));
    if (r < 0)
        return logged(a, r, "lease keepalive", err);
    if (id != e->lease)
        return logged(a, -EBADMSG, "lease keepalive", "the reply is for another lease");
    if (ttl_s == 0)
        return LOG_ERRNO(a->ctx, -ENOLCK, "arbiter: our lease has expired");
    a->lease_deadline_ns = t0 + colo_ms_to_ns((uint32_t)(ttl_s * 1000));
    a->granted_ms = ttl_s * 1000;
    *granted_ms = a->granted_ms;
    return 0;
}

static int etcd_release(colo_arbiter *a)
{
    struct etcd *e = a->priv;
    if (e->lease)
        lease_revoke(a, e->lease);
    e->lease = 0;
    a->lease_deadline_ns = 0;
    return 0;
}

static int etcd_open(colo_arbiter *a)
{
    struct etcd *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    a->priv = e;
    snprintf(e->ep_buf, sizeof(e->ep_buf), "%s", a->endpoints);
    for (char *save = NULL, *t = strtok_r(e->ep_buf, ",", &save); t && e->nr_ep < ETCD_MAX_ENDPOINTS;
         t = strtok_r(NULL, ",", &save))
        e->ep[e->nr_ep++] = t;
    char key[256 + 16];
    snprintf(key, sizeof(key), "%s%s/owner", a->prefix, a->uuid);
    etcd_b64_encode(key, strlen(key), e->owner_key, sizeof(e->owner_key));
    snprintf(key, sizeof(key), "%s%s/generation", a->prefix, a->uuid);
    etcd_b64_encode(key, strlen(key), e->gen_key, sizeof(e->gen_key));
    /* A request is short: a quarter of the TTL, so that a renewal that
     * fails leaves time for the next, and never over 2 s. */
    e->timeout_ms = MAX(100L, MIN(2000L, (long)a->ttl_ms / 4));

    e->curl = curl_easy_init();
    if (!e->curl)
        return LOG_ERRNO(a->ctx, -ENOMEM, "arbiter: curl_easy_init");
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e->curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (a->ca_file)
        curl_easy_setopt(e->curl, CURLOPT_CAINFO, a->ca_file);
    if (a->cert_file)
        curl_easy_setopt(e->curl, CURLOPT_SSLCERT, a->cert_file);
    if (a->key_file)
        curl_easy_setopt(e->curl, CURLOPT_SSLKEY, a->key_file);
    return 0;
}

static void etcd_close(colo_arbiter *a)
{
    struct etcd *e = a->priv;
    if (!e)
        return;
    if (e->curl)
        curl_easy_cleanup(e->curl);
    free(e);
    a->priv = NULL;
}

const struct colo_arbiter_ops colo_arbiter_etcd_ops = {
    .scheme = "etcd",
    .open = etcd_open,
    .close = etcd_close,
    .query = etcd_query,
    .claim = etcd_claim,
    .renew = etcd_renew,
    .release = etcd_release,
};
