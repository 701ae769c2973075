/* test_digest.c - digest.c against vectors computed independently (Python's
 * hashlib over the digest.h framing), and the zero-page rule. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/digest.h"
#include "unit-util.h"

static void hex_of(colo_digest *d, char *hex)
{
    uint8_t out[COLO_DIGEST_LEN];

    colo_digest_final(d, out);
    colo_digest_hex(out, hex);
    colo_digest_free(d);
}

/* SHA-256(le64 0): a guest with no pages and an empty context. */
static void test_empty_vector(void)
{
    colo_digest *d = NULL;
    char hex[65];

    CU_ASSERT_EQUAL_FATAL(colo_digest_new(&d), 0);
    colo_digest_context(d, NULL, 0);
    hex_of(d, hex);
    CU_ASSERT_STRING_EQUAL(hex, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc");
}

/* pfn 0 all 0x01, pfn 3 all zero (skipped), pfn 7 bytes i & 0xff,
 * context "abc":
 *   SHA-256(le64 0 | p0 | le64 7 | p7 | le64 3 | "abc") */
static void test_pages_vector(void)
{
    static uint8_t p0[COLO_PAGE_SIZE], p3[COLO_PAGE_SIZE], p7[COLO_PAGE_SIZE];
    colo_digest *d = NULL;
    char hex[65];

    memset(p0, 1, sizeof(p0));
    for (unsigned i = 0; i < sizeof(p7); i++)
        p7[i] = (uint8_t)i;
    CU_ASSERT_EQUAL_FATAL(colo_digest_new(&d), 0);
    colo_digest_page(d, 0, p0);
    colo_digest_page(d, 3, p3);
    colo_digest_page(d, 7, p7);
    colo_digest_context(d, "abc", 3);
    hex_of(d, hex);
    CU_ASSERT_STRING_EQUAL(hex, "968b4b5facd0765c38dbf00ec2e66f5111cc4746b49a84ba095c8e2ad0633196");
}

/* A sparse guest and a fully written copy of it agree. */
static void test_zero_pages_skipped(void)
{
    static uint8_t zero[COLO_PAGE_SIZE], data[COLO_PAGE_SIZE];
    colo_digest *a = NULL, *b = NULL;
    char ha[65], hb[65];

    data[100] = 7;
    CU_ASSERT_EQUAL_FATAL(colo_digest_new(&a), 0);
    CU_ASSERT_EQUAL_FATAL(colo_digest_new(&b), 0);
    colo_digest_page(a, 5, data);
    for (uint64_t pfn = 0; pfn < 16; pfn++)
        colo_digest_page(b, pfn, pfn == 5 ? data : zero);
    colo_digest_context(a, "x", 1);
    colo_digest_context(b, "x", 1);
    hex_of(a, ha);
    hex_of(b, hb);
    CU_ASSERT_STRING_EQUAL(ha, hb);

    /* ...but the pfn is part of it: the same page elsewhere differs. */
    CU_ASSERT_EQUAL_FATAL(colo_digest_new(&a), 0);
    colo_digest_page(a, 6, data);
    colo_digest_context(a, "x", 1);
    hex_of(a, ha);
    CU_ASSERT_STRING_NOT_EQUAL(ha, hb);
}

static void test_page_is_zero(void)
{
    uint64_t *page = aligned_alloc(COLO_PAGE_SIZE, COLO_PAGE_SIZE);
    uint8_t *b = (uint8_t *)page;

    CU_ASSERT_PTR_NOT_NULL_FATAL(page);
    memset(page, 0, COLO_PAGE_SIZE);
    CU_ASSERT_TRUE(colo_page_is_zero(page));
    const unsigned where[] = { 0, 1, 63, 64, 2047, 4088, 4095 };
    for (unsigned i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        b[where[i]] = 0x80;
        CU_ASSERT_FALSE(colo_page_is_zero(page));
        b[where[i]] = 0;
        CU_ASSERT_TRUE(colo_page_is_zero(page));
    }
    free(page);
}

static void test_hex(void)
{
    uint8_t dg[COLO_DIGEST_LEN];
    char hex[65];

    for (unsigned i = 0; i < sizeof(dg); i++)
        dg[i] = (uint8_t)(i * 9);
    memset(hex, 'z', sizeof(hex));
    colo_digest_hex(dg, hex);
    CU_ASSERT_EQUAL(strlen(hex), 64);
    CU_ASSERT_NSTRING_EQUAL(hex, "0009121b242d363f", 16);
    CU_ASSERT_STRING_EQUAL(hex + 62, "17");
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "SHA-256 vector: empty guest", test_empty_vector },
        { "SHA-256 vector: pages and context", test_pages_vector },
        { "zero pages are skipped", test_zero_pages_skipped },
        { "colo_page_is_zero", test_page_is_zero },
        { "hex", test_hex },
        { NULL, NULL },
    };
    return unit_run("digest", NULL, NULL, tests);
}
