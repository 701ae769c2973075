/* test_hmac.c - HMAC-SHA256: RFC 4231 vectors, reset and dup, iovecs. */
#include "config.h"

#include <stdint.h>

#include "stream/hmac.h"
#include "macro.h"
#include "unit-util.h"

static void unhex(const char *hex, uint8_t *out)
{
    for (size_t i = 0; hex[2 * i]; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

struct vector {
    uint8_t key_byte; /* 0: key is key_text */
    size_t key_len;
    const char *key_text;
    uint8_t data_byte; /* 0: data is data_text */
    size_t data_len;
    const char *data_text;
    const char *mac;   /* hex; may be truncated (case 5) */
};

/* RFC 4231, section 4: test cases 1 to 7, HMAC-SHA-256. */
static const struct vector rfc4231[] = {
    { 0x0b, 20, NULL, 0, 0, "Hi There",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { 0, 0, "Jefe", 0, 0, "what do ya want for nothing?",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
    { 0xaa, 20, NULL, 0xdd, 50, NULL,
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
    { 1, 25, NULL, 0xcd, 50, NULL, /* key 0x01..0x19 */
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
    { 0x0c, 20, NULL, 0, 0, "Test With Truncation", "a3b6167473100ee06e0c796c2955552b" },
    { 0xaa, 131, NULL, 0, 0, "Test Using Larger Than Block-Size Key - Hash Key First",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
    { 0xaa, 131, NULL, 0, 0,
      "This is a test using a larger than block-size key and a larger than block-size data. "
      "The key needs to be hashed before being used by the HMAC algorithm.",
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static size_t vector_key(const struct vector *v, uint8_t *key)
{
    if (v->key_text) {
        memcpy(key, v->key_text, strlen(v->key_text));
        return strlen(v->key_text);
    }
    for (size_t i = 0; i < v->key_len; i++)
        key[i] = v->key_byte == 1 ? (uint8_t)(i + 1) : v->key_byte;
    return v->key_len;
}

static size_t vector_data(const struct vector *v, uint8_t *data)
{
    if (v->data_text) {
        memcpy(data, v->data_text, strlen(v->data_text));
        return strlen(v->data_text);
    }
    memset(data, v->data_byte, v->data_len);
    return v->data_len;
}

static void test_rfc4231(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(rfc4231); i++) {
        const struct vector *v = &rfc4231[i];
        uint8_t key[256], data[256], want[32], got[32];
        size_t klen = vector_key(v, key), dlen = vector_data(v, data);
        size_t mlen = strlen(v->mac) / 2;
        unhex(v->mac, want);

        struct iovec iov = { data, dlen };
        CU_ASSERT_EQUAL(colo_hmac_sha256(key, klen, &iov, 1, got), 0);
        CU_ASSERT(memcmp(got, want, mlen) == 0);
        if (memcmp(got, want, mlen) != 0)
            fprintf(stderr, "RFC 4231 case %zu differs\n", i + 1);

        /* The same through a keyed context, in pieces, twice. */
        colo_hmac *h = NULL;
        CU_ASSERT_FATAL(colo_hmac_new(key, klen, &h) == 0);
        for (int round = 0; round < 2; round++) {
            CU_ASSERT_EQUAL(colo_hmac_reset(h), 0);
            struct iovec parts[3] = {
                { data, dlen / 3 }, { data + dlen / 3, 0 }, { data + dlen / 3, dlen - dlen / 3 },
            };
            CU_ASSERT_EQUAL(colo_hmac_updatev(h, parts, 3), 0);
            memset(got, 0, sizeof(got));
            CU_ASSERT_EQUAL(colo_hmac_final(h, got), 0);
            CU_ASSERT(memcmp(got, want, mlen) == 0);
        }
        colo_hmac_free(h);
    }
}

/* A dup is independent of its template, and reset forgets a message half
 * written. */
static void test_dup_and_reset(void)
{
    static const uint8_t key[32] = { 1, 2, 3 };
    uint8_t a[32], b[32], c[32];
    colo_hmac *t = NULL, *d = NULL;

    CU_ASSERT_FATAL(colo_hmac_new(key, sizeof(key), &t) == 0);
    CU_ASSERT_FATAL(colo_hmac_dup(t, &d) == 0);
    CU_ASSERT_EQUAL(colo_hmac_update(t, "junk", 4), 0);
    CU_ASSERT_EQUAL(colo_hmac_update(d, "message", 7), 0);
    CU_ASSERT_EQUAL(colo_hmac_final(d, a), 0);
    CU_ASSERT_EQUAL(colo_hmac_reset(t), 0);
    CU_ASSERT_EQUAL(colo_hmac_update(t, "message", 7), 0);
    CU_ASSERT_EQUAL(colo_hmac_final(t, b), 0);
    struct iovec iov = { (void *)"message", 7 };
    CU_ASSERT_EQUAL(colo_hmac_sha256(key, sizeof(key), &iov, 1, c), 0);
    CU_ASSERT(colo_hmac_equal(a, b));
    CU_ASSERT(colo_hmac_equal(a, c));
    c[31] ^= 1;
    CU_ASSERT(!colo_hmac_equal(a, c));
    colo_hmac_free(t);
    colo_hmac_free(d);
    colo_hmac_free(NULL);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "RFC 4231 vectors", test_rfc4231 },
        { "dup and reset", test_dup_and_reset },
        { NULL, NULL },
    };
    return unit_run("hmac", NULL, NULL, tests);
}
