/* test_backend.c - backend.c itself, with fake ops tables: the contract
 * checked at open (name, open and close are required), an empty slot, and
 * the flags of the optional ops' fallbacks. */
#include "config.h"

#include <errno.h>

#include "backend/backend.h"
#include "unit-util.h"

static unsigned fake_opens, fake_closes;

static int fake_open(colo_backend *be, unsigned flags)
{
    COLO_CHECK_FLAGS(be, flags, 0, "open");
    fake_opens++;
    return 0;
}

static void fake_close(colo_backend *be)
{
    fake_closes++;
}

static const struct colo_backend_params params = { .run_dir = "/nonexistent" };

static void test_contract_checked_at_open(void)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    const colo_backend_ops no_close = { .name = "fake", .open = fake_open };
    const colo_backend_ops no_open = { .name = "fake", .close = fake_close };
    const colo_backend_ops no_name = { .open = fake_open, .close = fake_close };
    colo_backend *be = NULL;

    fake_opens = 0;
    CU_ASSERT_EQUAL(colo_backend_open_ops(ctx, &no_close, &params, 0, &be), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "backend fake: the ops table has no close (name, open "
                                    "and close are required)");
    CU_ASSERT_EQUAL(lg.errors, 1);
    CU_ASSERT_EQUAL(colo_backend_open_ops(ctx, &no_open, &params, 0, &be), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "backend fake: the ops table has no open (name, open "
                                    "and close are required)");
    CU_ASSERT_EQUAL(colo_backend_open_ops(ctx, &no_name, &params, 0, &be), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "backend (unnamed): the ops table has no name (name, "
                                    "open and close are required)");
    CU_ASSERT_PTR_NULL(be);
    CU_ASSERT_EQUAL(fake_opens, 0); /* refused before anything ran */
    unit_ctx_free(ctx);
}

static void test_minimal_table(void)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    const colo_backend_ops minimal = { .name = "fake", .open = fake_open, .close = fake_close };
    colo_backend *be = NULL;
    struct colo_domain_info di;
    unsigned long bm[2] = { 0 };
    uint8_t dg[32];

    fake_opens = fake_closes = 0;
    /* open's flags reach the op. */
    CU_ASSERT_EQUAL(colo_backend_open_ops(ctx, &minimal, &params, 2, &be), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "fake backend: open: unknown flags 0x2");
    CU_ASSERT_EQUAL_FATAL(colo_backend_open_ops(ctx, &minimal, &params, 0, &be), 0);
    CU_ASSERT_EQUAL(fake_opens, 1);

    /* An empty slot. */
    CU_ASSERT_EQUAL(colo_be_domain_info(be, NULL, &di, 0), -EOPNOTSUPP);
    CU_ASSERT_STRING_EQUAL(lg.last, "backend fake does not support domain_info");
    /* The optional ops' fallbacks check flags as an op would. */
    CU_ASSERT_EQUAL(colo_be_recover(be, NULL, 0), 0);
    CU_ASSERT_EQUAL(colo_be_recover(be, NULL, 4), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "fake backend: recover: unknown flags 0x4");
    CU_ASSERT_EQUAL(colo_be_populated(be, NULL, bm, 70, 0), 0);
    CU_ASSERT_EQUAL(bm[0], ~0ul);
    CU_ASSERT_EQUAL(colo_be_populated(be, NULL, bm, 70, 1), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "fake backend: populated: unknown flags 0x1");
    CU_ASSERT_EQUAL(colo_be_digest(be, NULL, dg, 8), -EINVAL);
    CU_ASSERT_STRING_EQUAL(lg.last, "fake backend: digest: unknown flags 0x8");

    colo_backend_close(be);
    CU_ASSERT_EQUAL(fake_closes, 1);
    unit_ctx_free(ctx);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "the contract is checked at open", test_contract_checked_at_open },
        { "a table of name, open and close", test_minimal_table },
        { NULL, NULL },
    };
    return unit_run("backend", NULL, NULL, tests);
}
