/* test_pages.c - PAGES bodies are checked before anything is written, a
 * checkpoint is staged within a bound fixed by the guest's size and applied
 * as it was checked, a pre-copy record takes the same check and write, and
 * reading pages drops unmappable frames and holds mappings as asked. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "engine/pages_copy.h"
#include "engine/staging.h"
#include "unit-util.h"

static struct unit_logger lg;

/* Build a body: count pfns, data for the non-zero ones. */
static size_t make_body(uint8_t *buf, const uint64_t *pfns, uint32_t count)
{
    struct colo_wire_pages_hdr h = { .count = count };
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), pfns, count * 8);
    size_t len = sizeof(h) + count * 8;
    for (uint32_t i = 0; i < count; i++)
        if (!(pfns[i] & COLO_PFN_ZERO)) {
            memset(buf + len, (int)(i + 1), COLO_PAGE_SIZE);
            len += COLO_PAGE_SIZE;
        }
    return len;
}

static void test_parse_good(void)
{
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    static uint8_t body[8 + 3 * 8 + 2 * 4096];
    uint64_t pfns[3] = { 1, 7 | COLO_PFN_ZERO, 9 };
    size_t len = make_body(body, pfns, 3);
    struct colo_pages_view v;
    CU_ASSERT_EQUAL(colo_pages_parse(ctx, body, len, 16, &v), 0);
    CU_ASSERT_EQUAL(v.count, 3);
    CU_ASSERT_EQUAL(v.data_pages, 2);
    CU_ASSERT_EQUAL(v.data[4096], 3); /* the third pfn's page */
    unit_ctx_free(ctx);
}

static void test_parse_bad(void)
{
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    static uint8_t body[8 + 2 * 8 + 2 * 4096];
    uint64_t pfns[2] = { 1, 2 };
    size_t len = make_body(body, pfns, 2);
    struct colo_pages_view v;

    CU_ASSERT_EQUAL(colo_pages_parse(ctx, body, 4, 16, &v), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(lg.last, "PAGES record of 4 bytes is shorter than its header");
    CU_ASSERT_EQUAL(colo_pages_parse(ctx, body, len - 1, 16, &v), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(lg.last, "PAGES record length 8215 does not match its 2 data pages");
    /* A pfn beyond the guest. */
    CU_ASSERT_EQUAL(colo_pages_parse(ctx, body, len, 2, &v), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(lg.last, "PAGES record names pfn 0x2 beyond the guest's 2 pages");
    /* A count over the batch size. */
    struct colo_wire_pages_hdr h = { .count = COLO_BATCH_PAGES + 1 };
    memcpy(body, &h, sizeof(h));
    CU_ASSERT_EQUAL(colo_pages_parse(ctx, body, len, 16, &v), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(lg.last, "PAGES record with a bad page count 1025 (1..1024)");
    unit_ctx_free(ctx);
}

static void test_staging_bound(void)
{
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    colo_staging st;
    int err = 0;
    colo_staging_init(&st, ctx, 4);
    colo_staging_begin(&st, 3);
    CU_ASSERT_PTR_NULL(colo_staging_reserve(&st, 1ull << 40, &err));
    CU_ASSERT_EQUAL(err, -EMSGSIZE);
    CU_ASSERT_EQUAL(st.cap, 0); /* nothing was allocated */

    /* Five pages for a four-page guest: refused at commit. */
    static uint8_t body[8 + 5 * 8 + 5 * 4096];
    uint64_t pfns[5] = { 0, 1, 2, 3, 0 };
    size_t len = make_body(body, pfns, 5);
    uint8_t *dst = colo_staging_reserve(&st, len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
    memcpy(dst, body, len);
    CU_ASSERT_EQUAL(colo_staging_commit(&st, COLO_REC_PAGES, len), -EMSGSIZE);
    CU_ASSERT_STRING_EQUAL(lg.last, "checkpoint 3 carries more pages than the guest has");
    colo_staging_free(&st);
    unit_ctx_free(ctx);
}

/* A backend of map and unmap alone: pfn p reads as page p % 256 (filled
 * with that byte), a pfn with p % 7 == 3 cannot be mapped, and unmaps are
 * counted. */
static uint8_t fake_mem[256][COLO_PAGE_SIZE];
static char fake_token;
static unsigned fake_unmaps, fake_maps;

static int fake_map(colo_backend *be, colo_dom *d, const uint64_t *pfns, unsigned n, int prot,
                    void **pages, int *err, colo_mapping **m, unsigned flags)
{
    fake_maps++;
    for (unsigned i = 0; i < n; i++) {
        bool hole = pfns[i] % 7 == 3;
        pages[i] = hole ? NULL : fake_mem[pfns[i] % 256];
        err[i] = hole ? -EPERM : 0;
    }
    *m = (colo_mapping *)&fake_token;
    return 0;
}

static void fake_unmap(colo_backend *be, colo_dom *d, colo_mapping *m)
{
    fake_unmaps++;
}

static const colo_backend_ops fake_ops = { .name = "fake", .map = fake_map, .unmap = fake_unmap };

static void test_read_drops_holds(void)
{
    enum { N = 2 * COLO_BATCH_PAGES + 5 }; /* three batches */
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    colo_backend be = { .ops = &fake_ops, .ctx = ctx };
    struct colo_held_maps h = { 0 };
    static uint64_t pfns[N];
    uint64_t n = N, skipped = 0, holes = 0;
    uint8_t *dst = malloc((size_t)N * COLO_PAGE_SIZE);

    CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
    for (unsigned p = 0; p < 256; p++)
        memset(fake_mem[p], (int)p, COLO_PAGE_SIZE);
    for (uint64_t i = 0; i < N; i++) {
        pfns[i] = i * 5;
        holes += pfns[i] % 7 == 3;
    }

    /* Unmappable frames are dropped, the rest compacted in order. */
    fake_unmaps = 0;
    CU_ASSERT_EQUAL_FATAL(colo_held_maps_reserve(ctx, &h, N), 0);
    CU_ASSERT_EQUAL(colo_pages_read(&be, NULL, pfns, &n, dst, &skipped, &h), 0);
    CU_ASSERT_EQUAL(skipped, holes);
    CU_ASSERT_EQUAL(n, N - holes);
    for (uint64_t j = 0, want = 0; j < n; j++, want += 5) {
        if (want % 7 == 3)
            want += 5;
        CU_ASSERT_EQUAL_FATAL(pfns[j], want);
        CU_ASSERT_EQUAL_FATAL(dst[j * COLO_PAGE_SIZE], (uint8_t)(want % 256));
        CU_ASSERT_EQUAL_FATAL(dst[j * COLO_PAGE_SIZE + COLO_PAGE_SIZE - 1], (uint8_t)(want % 256));
    }
    /* Every batch's mapping is held until the release. */
    CU_ASSERT_EQUAL(fake_unmaps, 0);
    CU_ASSERT_EQUAL(h.n, 3);
    colo_held_maps_release(&be, NULL, &h);
    CU_ASSERT_EQUAL(fake_unmaps, 3);
    CU_ASSERT_EQUAL(h.n, 0);
    colo_held_maps_free(&h);

    /* Room for two: the third batch is unmapped at once, never dropped. */
    n = N;
    fake_unmaps = 0;
    CU_ASSERT_EQUAL_FATAL(colo_held_maps_reserve(ctx, &h, 0), 0);
    CU_ASSERT_EQUAL(h.cap, 2);
    CU_ASSERT_EQUAL(colo_pages_read(&be, NULL, pfns, &n, dst, &skipped, &h), 0);
    CU_ASSERT_EQUAL(fake_unmaps, 1);
    colo_held_maps_release(&be, NULL, &h);
    CU_ASSERT_EQUAL(fake_unmaps, 3);
    colo_held_maps_free(&h);

    /* No hold: each batch is unmapped as soon as it is copied. */
    n = N;
    fake_unmaps = 0;
    CU_ASSERT_EQUAL(colo_pages_read(&be, NULL, pfns, &n, dst, &skipped, NULL), 0);
    CU_ASSERT_EQUAL(fake_unmaps, 3);
    free(dst);
    unit_ctx_free(ctx);
}

/* A staged checkpoint is written as its commit checked it, and a pre-copy
 * record is checked the same way before a byte of it is written. */
static void test_staging_apply(void)
{
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    colo_backend be = { .ops = &fake_ops, .ctx = ctx };
    colo_staging st;
    int err = 0;
    static uint8_t body[8 + 3 * 8 + 2 * 4096];

    memset(fake_mem, 0xee, sizeof(fake_mem));
    fake_maps = 0;
    colo_staging_init(&st, ctx, 16);
    colo_staging_begin(&st, 0);
    uint64_t a[3] = { 1, 2 | COLO_PFN_ZERO, 4 }, b[1] = { 5 };
    size_t len = make_body(body, a, 3);
    uint8_t *dst = colo_staging_reserve(&st, len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
    memcpy(dst, body, len);
    CU_ASSERT_EQUAL_FATAL(colo_staging_commit(&st, COLO_REC_PAGES, len), 0);
    len = make_body(body, b, 1);
    dst = colo_staging_reserve(&st, len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
    memcpy(dst, body, len);
    CU_ASSERT_EQUAL_FATAL(colo_staging_commit(&st, COLO_REC_PAGES, len), 0);
    CU_ASSERT_EQUAL(st.pages, 4);
    CU_ASSERT_EQUAL(fake_maps, 0); /* nothing written before the apply */
    fake_maps = 0;
    CU_ASSERT_EQUAL(colo_staging_apply(&st, &be, NULL, NULL, NULL), 0);
    CU_ASSERT_EQUAL(fake_maps, 2); /* one map a record */
    CU_ASSERT_EQUAL(fake_mem[1][0], 1);
    CU_ASSERT_EQUAL(fake_mem[1][COLO_PAGE_SIZE - 1], 1);
    CU_ASSERT_EQUAL(fake_mem[2][0], 0);    /* the zero page */
    CU_ASSERT_EQUAL(fake_mem[4][0], 3);    /* data pages in pfn order */
    CU_ASSERT_EQUAL(fake_mem[5][0], 1);
    CU_ASSERT_EQUAL(fake_mem[6][0], 0xee); /* nothing else */
    CU_ASSERT_FALSE(st.open);

    /* Pre-copy, outside a checkpoint: a bad record writes nothing... */
    uint64_t bad[2] = { 6, 16 };
    len = make_body(body, bad, 2);
    dst = colo_staging_reserve(&st, len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
    memcpy(dst, body, len);
    fake_maps = 0;
    CU_ASSERT_EQUAL(colo_staging_apply_now(&st, &be, NULL, COLO_REC_PAGES, len), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(lg.last, "PAGES record names pfn 0x10 beyond the guest's 16 pages");
    CU_ASSERT_EQUAL(fake_maps, 0);
    CU_ASSERT_EQUAL(fake_mem[6][0], 0xee);
    /* ...a good one is written at once, and nothing is kept. */
    uint64_t good[2] = { 6, 7 | COLO_PFN_ZERO };
    uint64_t used = st.used, nrecs = st.nrecs, pages = st.pages;
    len = make_body(body, good, 2);
    dst = colo_staging_reserve(&st, len, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dst);
    memcpy(dst, body, len);
    CU_ASSERT_EQUAL(colo_staging_apply_now(&st, &be, NULL, COLO_REC_PAGES, len), 0);
    CU_ASSERT_EQUAL(fake_maps, 1);
    CU_ASSERT_EQUAL(fake_mem[6][0], 1);
    CU_ASSERT_EQUAL(fake_mem[7][0], 0);
    CU_ASSERT_EQUAL(st.used, used);
    CU_ASSERT_EQUAL(st.nrecs, nrecs);
    CU_ASSERT_EQUAL(st.pages, pages);
    colo_staging_free(&st);
    unit_ctx_free(ctx);
}

int main(void)
{
    return unit_run("pages", NULL, NULL, (const struct unit_test[]){
        { "parse a good body", test_parse_good },
        { "parse refuses bad bodies with one line", test_parse_bad },
        { "staging is bounded by the guest size", test_staging_bound },
        { "a checkpoint is applied as checked, pre-copy checked alike", test_staging_apply },
        { "read drops unmappable frames and holds mappings", test_read_drops_holds },
        { NULL, NULL },
    });
}
