/* test_failover.c - the failover state machine: legal edges, CAS, events. */
#include "config.h"

#include <CUnit/Basic.h>
#include <pthread.h>
#include <string.h>

#include "engine/failover.h"
#include "unit-util.h"

struct seen {
    int n;
    libxlcolo_failover_state from[16], to[16];
};

static void record(void *opaque, const libxlcolo_event *ev)
{
    struct seen *s = opaque;
    if (ev->type == LIBXLCOLO_EVENT_FAILOVER && s->n < 16) {
        s->from[s->n] = ev->failover_from;
        s->to[s->n] = ev->failover_to;
        s->n++;
    }
}

static void test_normal_path(void)
{
    struct seen seen = { 0 };
    libxlcolo_ctx *ctx = unit_ctx();
    libxlcolo_set_event_callback(ctx, record, &seen);
    colo_failover f;
    colo_failover_init(&f, ctx, LIBXLCOLO_ROLE_SECONDARY);

    CU_ASSERT_EQUAL(colo_failover_get(&f), LIBXLCOLO_FAILOVER_NONE);
    CU_ASSERT_TRUE(colo_failover_request(&f, false));
    CU_ASSERT_FALSE(colo_failover_request(&f, false)); /* only once */
    CU_ASSERT_TRUE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_REQUIRE, LIBXLCOLO_FAILOVER_ACTIVE));
    CU_ASSERT_TRUE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_ACTIVE, LIBXLCOLO_FAILOVER_COMPLETED));
    CU_ASSERT_EQUAL(colo_failover_get(&f), LIBXLCOLO_FAILOVER_COMPLETED);
    CU_ASSERT_EQUAL(seen.n, 3);
    CU_ASSERT_EQUAL(seen.from[0], LIBXLCOLO_FAILOVER_NONE);
    CU_ASSERT_EQUAL(seen.to[2], LIBXLCOLO_FAILOVER_COMPLETED);
    unit_ctx_free(ctx);
}

static void test_relaunch(void)
{
    libxlcolo_ctx *ctx = unit_ctx();
    colo_failover f;
    colo_failover_init(&f, ctx, LIBXLCOLO_ROLE_SECONDARY);
    CU_ASSERT_TRUE(colo_failover_request(&f, true));
    CU_ASSERT_EQUAL(colo_failover_get(&f), LIBXLCOLO_FAILOVER_RELAUNCH);
    /* RELAUNCH cannot jump to ACTIVE: the load must finish first. */
    CU_ASSERT_FALSE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_RELAUNCH, LIBXLCOLO_FAILOVER_ACTIVE));
    CU_ASSERT_TRUE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_RELAUNCH, LIBXLCOLO_FAILOVER_REQUIRE));
    CU_ASSERT_TRUE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_REQUIRE, LIBXLCOLO_FAILOVER_ACTIVE));
    unit_ctx_free(ctx);
}

static void test_illegal_edges(void)
{
    libxlcolo_ctx *ctx = unit_ctx();
    colo_failover f;
    colo_failover_init(&f, ctx, LIBXLCOLO_ROLE_PRIMARY);
    CU_ASSERT_FALSE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_NONE, LIBXLCOLO_FAILOVER_ACTIVE));
    CU_ASSERT_FALSE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_NONE, LIBXLCOLO_FAILOVER_COMPLETED));
    /* Legal edge but wrong current state: the CAS fails. */
    CU_ASSERT_FALSE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_REQUIRE, LIBXLCOLO_FAILOVER_ACTIVE));
    CU_ASSERT_EQUAL(colo_failover_get(&f), LIBXLCOLO_FAILOVER_NONE);
    CU_ASSERT_TRUE(colo_failover_request(&f, false));
    CU_ASSERT_TRUE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_REQUIRE, LIBXLCOLO_FAILOVER_ACTIVE));
    CU_ASSERT_TRUE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_ACTIVE, LIBXLCOLO_FAILOVER_COMPLETED));
    CU_ASSERT_FALSE(colo_failover_cas(&f, LIBXLCOLO_FAILOVER_COMPLETED, LIBXLCOLO_FAILOVER_NONE));
    unit_ctx_free(ctx);
}

/* Many threads race to request failover: exactly one wins. */
static colo_failover race_f;
static _Atomic int race_wins;
static void *racer(void *arg)
{
    (void)arg;
    if (colo_failover_request(&race_f, false))
        atomic_fetch_add(&race_wins, 1);
    return NULL;
}

static void test_race(void)
{
    libxlcolo_ctx *ctx = unit_ctx();
    for (int round = 0; round < 200; round++) {
        pthread_t t[8];
        colo_failover_init(&race_f, ctx, LIBXLCOLO_ROLE_SECONDARY);
        atomic_store(&race_wins, 0);
        for (int i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, racer, NULL);
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL_FATAL(atomic_load(&race_wins), 1);
    }
    unit_ctx_free(ctx);
}

int main(void)
{
    return unit_run("failover", NULL, NULL, (const struct unit_test[]){
        { "normal path NONE->REQUIRE->ACTIVE->COMPLETED", test_normal_path },
        { "RELAUNCH while loading", test_relaunch },
        { "illegal edges refused", test_illegal_edges },
        { "concurrent requests: one wins", test_race },
        { NULL, NULL },
    });
}
