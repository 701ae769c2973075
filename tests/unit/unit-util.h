/* unit-util.h - what every CUnit program here shares: a context whose
 * logger keeps the last message (so tests assert the exact error line), and
 * unit_run, the one main of every program: it runs one suite and fails the
 * program when anything did not run or did not pass. */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <CUnit/Basic.h>
#include <stdarg.h>
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

/* The suite unit_run is running, and why its init or cleanup failed. */
static struct {
    const char *name;
    int (*init)(void);
    int (*clean)(void);
    char cause[256];
} unit_suite;

/* For a suite's init or cleanup: records why it failed, for the one line
 * unit_run prints, and returns 1, for `return unit_setup_error(...)`.
 * "%m" is strerror(errno). */
__attribute__((format(printf, 1, 2)))
static inline int unit_setup_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(unit_suite.cause, sizeof(unit_suite.cause), fmt, ap);
    va_end(ap);
    return 1;
}

/* UNIT_FAIL=init, clean or test, read only here: the suite's init fails
 * (before the real one runs), its cleanup fails (after the real one ran), or
 * one more test fails an assert. tests/unit/test_unit_run.sh uses it to check
 * that every program then fails. */
static inline bool unit_fail(const char *what)
{
    const char *v = getenv("UNIT_FAIL");
    return v && strcmp(v, what) == 0;
}

/* The one line for a failed init or cleanup, in its place among CUnit's. */
static void unit_suite_said(const char *what)
{
    fflush(stdout);
    fprintf(stderr, "suite %s: %s failed: %s\n", unit_suite.name, what,
            unit_suite.cause[0] ? unit_suite.cause : "(no cause given)");
}

static int unit_suite_init(void)
{
    int r;

    unit_suite.cause[0] = '\0';
    if (unit_fail("init"))
        r = unit_setup_error("UNIT_FAIL=init is set");
    else
        r = unit_suite.init ? unit_suite.init() : 0;
    if (r)
        unit_suite_said("init");
    return r;
}

static int unit_suite_clean(void)
{
    int r;

    unit_suite.cause[0] = '\0';
    r = unit_suite.clean ? unit_suite.clean() : 0;
    if (!r && unit_fail("clean"))
        r = unit_setup_error("UNIT_FAIL=clean is set");
    if (r)
        unit_suite_said("cleanup");
    return r;
}

static void unit_failing_test(void)
{
    CU_FAIL("UNIT_FAIL=test is set");
}

/* Runs the suite NAME: init (NULL for none; 0 or, through
 * unit_setup_error, its cause), the NULL-terminated table of tests, then
 * clean (likewise). The exit status for main: 99 if the suite's init or
 * cleanup failed or a test did not run (the automake harness's hard error),
 * 1 if a test or an assert failed, 0 only when every test ran and passed. */
static inline int unit_run(const char *name, int (*init)(void), int (*clean)(void),
                           const struct unit_test *tests)
{
    unsigned registered = 0;

    unit_suite.name = name;
    unit_suite.init = init;
    unit_suite.clean = clean;
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "suite %s: %s\n", name, CU_get_error_msg());
        return 99;
    }
    CU_pSuite suite = CU_add_suite(name, unit_suite_init, unit_suite_clean);
    for (const struct unit_test *t = tests; suite && t->name; t++, registered++)
        if (!CU_add_test(suite, t->name, t->fn))
            break;
    if (suite && unit_fail("test") && CU_add_test(suite, "UNIT_FAIL=test", unit_failing_test))
        registered++;
    if (CU_get_error() != CUE_SUCCESS) {
        fprintf(stderr, "suite %s: %s\n", name, CU_get_error_msg());
        CU_cleanup_registry();
        return 99;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned suites_failed = CU_get_number_of_suites_failed(); /* inits and cleanups */
    unsigned ran = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
    CU_cleanup_registry();
    if (ran != registered && !suites_failed)
        fprintf(stderr, "suite %s: %u of %u tests ran\n", name, ran, registered);
    if (suites_failed || ran != registered)
        return 99;
    return failed ? 1 : 0;
}

#endif
