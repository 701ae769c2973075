/* unit-util.h - what every CUnit program here shares: a context whose
 * logger keeps the last message (so tests assert the exact error line), and
 * a runner that registers a NULL-terminated table of tests. */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libxlcolo.h"

struct unit_test {
    const char *name;
    void (*fn)(void);
};

struct unit_logger {
    xentoollog_logger vtable;
    char last[512];
    int errors;
};

static void unit_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                          const char *context, const char *format, va_list al)
{
    struct unit_logger *u = (struct unit_logger *)lg;
    (void)errnoval;
    (void)context;
    vsnprintf(u->last, sizeof(u->last), format, al);
    if (level >= XTL_ERROR)
        u->errors++;
    if (getenv("UNIT_VERBOSE"))
        fprintf(stderr, "log: %s\n", u->last);
}

static void unit_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total)
{
    (void)lg; (void)context; (void)doing_what; (void)percent; (void)done; (void)total;
}

static void unit_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

static inline libxlcolo_ctx *unit_ctx_with(struct unit_logger *lg)
{
    libxlcolo_ctx *ctx = NULL;
    memset(lg, 0, sizeof(*lg));
    lg->vtable.vmessage = unit_vmessage;
    lg->vtable.progress = unit_progress;
    lg->vtable.destroy = unit_destroy;
    if (libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, &lg->vtable) < 0)
        abort();
    return ctx;
}

static struct unit_logger unit_default_logger;
static inline libxlcolo_ctx *unit_ctx(void)
{
    return unit_ctx_with(&unit_default_logger);
}

static inline void unit_ctx_free(libxlcolo_ctx *ctx)
{
    libxlcolo_ctx_free(ctx);
}

static inline int unit_run(const char *suite_name, const struct unit_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    for (const struct unit_test *t = tests; t->name; t++)
        CU_add_test(suite, t->name, t->fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#endif
