/* test_crc32c.c - CRC-32C: known vectors, hardware path against the table,
 * chaining. */
#include "config.h"

#include <stdint.h>

#include "stream/crc32c.h"
#include "macro.h"
#include "unit-util.h"

/* Bit at a time, straight from the definition: the reference for both. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
    }
    return ~crc;
}

/* A deterministic xorshift, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

static void test_known_vectors(void)
{
    uint8_t buf[48];

    CU_ASSERT_EQUAL(colo_crc32c(0, "123456789", 9), 0xe3069283u);
    CU_ASSERT_EQUAL(colo_crc32c_sw(0, "123456789", 9), 0xe3069283u);
    CU_ASSERT_EQUAL(colo_crc32c(0, "", 0), 0);

    /* RFC 3720, B.4 */
    memset(buf, 0, 32);
    CU_ASSERT_EQUAL(colo_crc32c(0, buf, 32), 0x8a9136aau);
    memset(buf, 0xff, 32);
    CU_ASSERT_EQUAL(colo_crc32c(0, buf, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    CU_ASSERT_EQUAL(colo_crc32c(0, buf, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    CU_ASSERT_EQUAL(colo_crc32c(0, buf, 32), 0x113fdb5cu);
    static const uint8_t iscsi_read[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    CU_ASSERT_EQUAL(colo_crc32c(0, iscsi_read, sizeof(iscsi_read)), 0xd9963a56u);
}

static void test_table_matches_definition(void)
{
    uint8_t buf[1024];

    fill_random(buf, sizeof(buf));
    for (size_t len = 0; len <= sizeof(buf); len += 17)
        CU_ASSERT_EQUAL(colo_crc32c_sw(0x1234u, buf, len), crc_bitwise(0x1234u, buf, len));
}

/* Odd lengths at odd offsets, across the thresholds of the three-way loop
 * (3 x 256 and 3 x 4096 bytes), and a 4 MiB PAGES body. */
static void test_hw_matches_table(void)
{
    if (!colo_crc32c_hw_available()) {
        fprintf(stderr, "no SSE4.2: only the table is tested\n");
        return;
    }
    size_t big = 4u << 20;
    uint8_t *buf = malloc(big + 64);
    CU_ASSERT_FATAL(buf != NULL);
    fill_random(buf, big + 64);

    unsigned mismatches = 0;
    for (size_t len = 1; len < 40000; len += 2 + rng() % 61) {
        size_t off = rng() % 16;
        uint32_t seed = (uint32_t)rng();
        mismatches += colo_crc32c_hw(seed, buf + off, len) != colo_crc32c_sw(seed, buf + off, len);
    }
    static const size_t edges[] = { 767, 768, 769, 12287, 12288, 12289, 12288 + 768 + 7, 36865 };
    for (size_t i = 0; i < ARRAY_SIZE(edges); i++)
        mismatches += colo_crc32c_hw(0, buf + 3, edges[i]) != colo_crc32c_sw(0, buf + 3, edges[i]);
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT_EQUAL(colo_crc32c_hw(0, buf + 1, big - 1), colo_crc32c_sw(0, buf + 1, big - 1));
    CU_ASSERT_EQUAL(colo_crc32c(0, buf, big), colo_crc32c_sw(0, buf, big));
    free(buf);
}

static void test_chaining(void)
{
    uint8_t buf[20000];

    fill_random(buf, sizeof(buf));
    uint32_t whole = colo_crc32c(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 997) {
        uint32_t c = colo_crc32c(0, buf, cut);
        CU_ASSERT_EQUAL(colo_crc32c(c, buf + cut, sizeof(buf) - cut), whole);
        c = colo_crc32c_sw(0, buf, cut);
        CU_ASSERT_EQUAL(colo_crc32c_sw(c, buf + cut, sizeof(buf) - cut), whole);
    }
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "known vectors", test_known_vectors },
        { "table matches the definition", test_table_matches_definition },
        { "hardware matches the table", test_hw_matches_table },
        { "chaining", test_chaining },
        { NULL, NULL },
    };
    return unit_run("crc32c", NULL, NULL, tests);
}
