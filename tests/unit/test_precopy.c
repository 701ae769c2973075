/* test_precopy.c - the estimate/exact split: the costly exact sync is paid
 * only when the cheap estimate is under the threshold. */
#include "config.h"

#include "engine/precopy.h"
#include "unit-util.h"

static void test_high_estimate_sends_without_exact(void)
{
    colo_precopy p;
    colo_precopy_init(&p, 100, 5);
    /* Plenty queued: keep sending, never sync. */
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 5000, 300), COLO_PRECOPY_SEND);
    CU_ASSERT_EQUAL(p.estimate, 5300);
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 10, 300), COLO_PRECOPY_SEND);
    CU_ASSERT_EQUAL(p.syncs, 0);
    CU_ASSERT_EQUAL(p.exacts, 0);
    /* Queue empty but the estimate is high: a plain sync, not an exact check. */
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 0, 300), COLO_PRECOPY_SYNC);
    CU_ASSERT_EQUAL(colo_precopy_synced(&p, COLO_PRECOPY_SYNC, 300), COLO_PRECOPY_SEND);
    CU_ASSERT_EQUAL(p.syncs, 1);
    CU_ASSERT_EQUAL(p.exacts, 0);
}

static void test_low_estimate_pays_exact(void)
{
    colo_precopy p;
    colo_precopy_init(&p, 100, 5);
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 20, 30), COLO_PRECOPY_EXACT);
    /* The exact figure is still low: stop and copy. */
    CU_ASSERT_EQUAL(colo_precopy_synced(&p, COLO_PRECOPY_EXACT, 90), COLO_PRECOPY_STOP);
    CU_ASSERT_EQUAL(p.exacts, 1);
}

static void test_exact_above_threshold_keeps_going(void)
{
    colo_precopy p;
    colo_precopy_init(&p, 100, 5);
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 0, 99), COLO_PRECOPY_EXACT);
    /* The estimate was optimistic: the log held more. Send it. */
    CU_ASSERT_EQUAL(colo_precopy_synced(&p, COLO_PRECOPY_EXACT, 4000), COLO_PRECOPY_SEND);
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 4000, 10), COLO_PRECOPY_SEND);
}

static void test_boundary_is_inclusive(void)
{
    colo_precopy p;
    colo_precopy_init(&p, 100, 5);
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 60, 40), COLO_PRECOPY_EXACT);
    CU_ASSERT_EQUAL(colo_precopy_synced(&p, COLO_PRECOPY_EXACT, 100), COLO_PRECOPY_STOP);
    colo_precopy_init(&p, 100, 5);
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 61, 40), COLO_PRECOPY_SEND);
}

static void test_not_converging_stops(void)
{
    colo_precopy p;
    colo_precopy_init(&p, 100, 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL_FATAL(colo_precopy_step(&p, 0, 1000), COLO_PRECOPY_SYNC);
        CU_ASSERT_EQUAL(colo_precopy_synced(&p, COLO_PRECOPY_SYNC, 1000), COLO_PRECOPY_SEND);
        CU_ASSERT_EQUAL(colo_precopy_step(&p, 1000, 1000), COLO_PRECOPY_SEND);
    }
    /* A guest dirtying faster than we send: give up after max syncs. */
    CU_ASSERT_EQUAL(colo_precopy_step(&p, 0, 1000), COLO_PRECOPY_STOP);
    CU_ASSERT_EQUAL(p.syncs, 3);
    CU_ASSERT_EQUAL(p.exacts, 0);
}

/* Syncs that found exact[0..n) pages: each must say go on sending. */
static void expect_send(colo_precopy *p, const uint64_t *exact, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        CU_ASSERT_EQUAL(colo_precopy_synced(p, COLO_PRECOPY_SYNC, exact[i]), COLO_PRECOPY_SEND);
}

static void test_stalled_stops_early(void)
{
    colo_precopy p;
    colo_precopy_init(&p, 100, 30);
    /* Converging (4000, 2000 beat the best so far), then a steady dirty
     * set: three rounds without a new best, and the third stops. */
    expect_send(&p, (const uint64_t[]){ 4000, 2000, 2049, 2000 }, 4);
    CU_ASSERT_EQUAL(colo_precopy_synced(&p, COLO_PRECOPY_SYNC, 2100), COLO_PRECOPY_STOP);
    CU_ASSERT_EQUAL(p.syncs, 5);
    /* A new best resets the count. */
    colo_precopy_init(&p, 100, 30);
    expect_send(&p, (const uint64_t[]){ 3000, 3000, 3000, 1000, 1500 }, 5);
    CU_ASSERT_EQUAL(p.stalled, 1);
}

int main(void)
{
    return unit_run("precopy", NULL, NULL, (const struct unit_test[]){
        { "high estimate: send, no exact sync", test_high_estimate_sends_without_exact },
        { "low estimate: exact sync, then stop", test_low_estimate_pays_exact },
        { "exact above threshold: keep sending", test_exact_above_threshold_keeps_going },
        { "threshold is inclusive", test_boundary_is_inclusive },
        { "not converging: stop after max syncs", test_not_converging_stops },
        { "stalled: stop after rounds without a new best", test_stalled_stops_early },
        { NULL, NULL },
    });
}
