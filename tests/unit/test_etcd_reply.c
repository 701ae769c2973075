/* test_etcd_reply: the etcd gateway's replies as the arbiter's driver reads
 * them (arbiter/etcd_reply.c): the texts a real etcd 3.4.23 sent, and each
 * way a reply is refused, with its line. */
#include "config.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arbiter/etcd_reply.h"
#include "unit-util.h"

#define HDR "\"header\":{\"cluster_id\":\"11268629272020816896\",\"revision\":\"2\"}"

static char err[256];

static void test_lease(void)
{
    int64_t id, ttl;
    CU_ASSERT_EQUAL(etcd_reply_lease("{" HDR ",\"ID\":\"1509165723461590790\",\"TTL\":\"5\"}", false,
                                     &id, &ttl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(id, 1509165723461590790LL);
    CU_ASSERT_EQUAL(ttl, 5);
    /* keepalive: inside "result"; a dead lease has no TTL (proto3's zero) */
    CU_ASSERT_EQUAL(etcd_reply_lease("{\"result\":{" HDR ",\"ID\":\"7\",\"TTL\":\"3\"}}", true,
                                     &id, &ttl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(ttl, 3);
    CU_ASSERT_EQUAL(etcd_reply_lease("{\"result\":{" HDR ",\"ID\":\"7\"}}", true, &id, &ttl, err,
                                     sizeof(err)), 0);
    CU_ASSERT_EQUAL(ttl, 0);
}

static void assert_lease_refused(const char *text, bool keepalive, int want, const char *why)
{
    int64_t id, ttl;
    err[0] = '\0';
    int r = etcd_reply_lease(text, keepalive, &id, &ttl, err, sizeof(err));
    if (r != want || strcmp(err, why) != 0)
        fprintf(stderr, "  %s\n  -> %d '%s', not %d '%s'\n", text, r, err, want, why);
    CU_ASSERT_EQUAL(r, want);
    CU_ASSERT_STRING_EQUAL(err, why);
}

static void test_lease_refused(void)
{
    assert_lease_refused("{" HDR ",\"TTL\":\"5\"}", false, -EBADMSG, "missing \"ID\"");
    assert_lease_refused("{" HDR ",\"ID\":\"x7\",\"TTL\":\"5\"}", false, -EBADMSG, "\"ID\" is not an int64");
    assert_lease_refused("{" HDR ",\"ID\":\"99999999999999999999\",\"TTL\":\"5\"}", false, -EBADMSG,
                         "\"ID\" is not an int64");
    assert_lease_refused("{" HDR ",\"ID\":\"7\",\"TTL\":\"-2\"}", false, -EBADMSG, "\"TTL\" is negative");
    assert_lease_refused("{" HDR ",\"ID\":\"7\",\"TTL\":\"5\"}", true, -EBADMSG, "missing \"result\"");
    assert_lease_refused("{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":3}", false,
                         -EREMOTEIO, "etcd: unexpected EOF");
    /* not JSON: json.c's own line */
    int64_t id, ttl;
    err[0] = '\0';
    CU_ASSERT_EQUAL(etcd_reply_lease("{\"ID\":", false, &id, &ttl, err, sizeof(err)), -EBADMSG);
    CU_ASSERT(strlen(err) > 0);
}

static void test_ttl(void)
{
    int64_t ttl;
    CU_ASSERT_EQUAL(etcd_reply_ttl("{" HDR ",\"ID\":\"7\",\"TTL\":\"4\",\"grantedTTL\":\"5\"}", &ttl,
                                   err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(ttl, 4);
    CU_ASSERT_EQUAL(etcd_reply_ttl("{" HDR ",\"ID\":\"7\",\"TTL\":\"-1\"}", &ttl, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(ttl, -1);
}

static void test_txn(void)
{
    struct etcd_kv kv[2];
    bool ok = true;
    /* a failed compare: "succeeded" left out; the owner key present, the
     * generation key absent */
    CU_ASSERT_EQUAL(etcd_reply_txn("{" HDR ",\"responses\":[{\"response_range\":{\"kvs\":[{\"key\":"
                                   "\"L3g=\",\"version\":\"1\",\"value\":\"aG9zdEEgMQ==\",\"lease\":"
                                   "\"1509165723461590790\"}],\"count\":\"1\"}},{\"response_range\":"
                                   "{\"header\":{}}}]}", &ok, kv, 2, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_TRUE(kv[0].present);
    CU_ASSERT_STRING_EQUAL(kv[0].value, "hostA 1");
    CU_ASSERT_EQUAL(kv[0].version, 1);
    CU_ASSERT_EQUAL(kv[0].lease, 1509165723461590790LL);
    CU_ASSERT_FALSE(kv[1].present);
    CU_ASSERT_EQUAL(etcd_reply_txn("{" HDR ",\"succeeded\":true,\"responses\":[{\"response_put\":{}},"
                                   "{\"response_put\":{}}]}", &ok, kv, 2, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(ok);
}

static void assert_txn_refused(const char *text, const char *why)
{
    struct etcd_kv kv[2];
    bool ok;
    err[0] = '\0';
    int r = etcd_reply_txn(text, &ok, kv, 2, err, sizeof(err));
    if (r != -EBADMSG || strcmp(err, why) != 0)
        fprintf(stderr, "  %s\n  -> %d '%s', not '%s'\n", text, r, err, why);
    CU_ASSERT_EQUAL(r, -EBADMSG);
    CU_ASSERT_STRING_EQUAL(err, why);
}

static void test_txn_refused(void)
{
    assert_txn_refused("{\"succeeded\":1,\"responses\":[]}", "\"succeeded\" is not a boolean");
    assert_txn_refused("{\"responses\":{}}", "\"responses\" is not a list");
    assert_txn_refused("{\"responses\":[{\"response_put\":{}}]}", "1 responses where 2 were asked");
    assert_txn_refused("{\"responses\":[{\"response_put\":{}},7]}", "a response that is not an object");
    assert_txn_refused("{\"responses\":[{\"response_put\":{}},{\"x\":{}}]}",
                       "a response that is neither a range nor a put");
    assert_txn_refused("{\"responses\":[{\"response_range\":{\"kvs\":[{\"version\":\"1\",\"value\":\"!!\"}]}},"
                       "{\"response_put\":{}}]}", "a value that is not base64 of at most 127 bytes");
    assert_txn_refused("{\"responses\":[{\"response_range\":{\"kvs\":[{\"version\":\"1\",\"value\":\"YQBi\"}]}},"
                       "{\"response_put\":{}}]}", "a value over 127 bytes or with a NUL");
    assert_txn_refused("{\"responses\":[{\"response_range\":{\"kvs\":[{},{}]}},{\"response_put\":{}}]}",
                       "\"kvs\" is not a list of at most one key");
}

static void test_bound(void)
{
    size_t n = ETCD_REPLY_MAX + 1;
    char *big = malloc(n + 1);
    CU_ASSERT_FATAL(big != NULL);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    assert_txn_refused(big, "a reply over 65536 bytes");
    free(big);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "lease grant and keepalive", test_lease },
        { "a lease reply refused, with its line", test_lease_refused },
        { "timetolive", test_ttl },
        { "txn: ranges and puts", test_txn },
        { "a txn reply refused, with its line", test_txn_refused },
        { "a reply over the bound", test_bound },
        { NULL, NULL },
    };
    return unit_run("etcd_reply", NULL, NULL, tests);
}
