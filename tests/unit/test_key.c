/* test_key.c - the key file: sizes, modes, wiping on free. */
#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "stream/stream.h"
#include "unit-util.h"

static char dir[] = "/tmp/xlcolo-key-XXXXXX";

/* Write n bytes to dir/name with the given mode; returns the path. */
static const char *key_file(const char *name, size_t n, mode_t mode)
{
    static char path[256];
    uint8_t buf[8192];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    memset(buf, 'k', sizeof(buf));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, buf, n) == (ssize_t)n);
    CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
    close(fd);
    return path;
}

static void test_sizes(void)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    uint8_t *key = NULL;
    size_t len = 0;
    char want[512];

    CU_ASSERT_EQUAL(colo_key_load(ctx, key_file("k16", 16, 0600), &key, &len), 0);
    CU_ASSERT_EQUAL(len, 16);
    CU_ASSERT(key && key[0] == 'k' && key[15] == 'k');
    colo_key_free(key, len);
    CU_ASSERT_EQUAL(colo_key_load(ctx, key_file("k4096", 4096, 0400), &key, &len), 0);
    CU_ASSERT_EQUAL(len, 4096);
    colo_key_free(key, len);
    colo_key_free(NULL, 0);

    const char *p = key_file("k15", 15, 0600);
    key = NULL;
    CU_ASSERT_EQUAL(colo_key_load(ctx, p, &key, &len), -EINVAL);
    CU_ASSERT_PTR_NULL(key);
    snprintf(want, sizeof(want), "key file %s holds 15 bytes; a key is 16..4096 bytes", p);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    p = key_file("k4097", 4097, 0600);
    CU_ASSERT_EQUAL(colo_key_load(ctx, p, &key, &len), -EINVAL);
    snprintf(want, sizeof(want), "key file %s holds more than 4096 bytes; a key is 16..4096 bytes", p);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    unit_ctx_free(ctx);
}

static void test_modes(void)
{
    struct unit_logger lg;
    libxlcolo_ctx *ctx = unit_ctx_with(&lg);
    uint8_t *key = NULL;
    size_t len = 0;
    char want[512];

    static const mode_t refused[] = { 0640, 0604, 0620, 0602, 0644 };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *p = key_file("open", 32, refused[i]);
        CU_ASSERT_EQUAL(colo_key_load(ctx, p, &key, &len), -EPERM);
        snprintf(want, sizeof(want),
                 "key file %s is readable or writable by group or others (mode %04o): "
                 "run chmod 600 %s", p, (unsigned)refused[i], p);
        CU_ASSERT_STRING_EQUAL(lg.last, want);
    }
    CU_ASSERT_EQUAL(colo_key_load(ctx, dir, &key, &len), -EPERM);
    CU_ASSERT_EQUAL(colo_key_load(ctx, "/nonexistent/key", &key, &len), -ENOENT);
    CU_ASSERT_STRING_EQUAL(lg.last, "cannot open key file /nonexistent/key");
    CU_ASSERT_PTR_NULL(key);
    unit_ctx_free(ctx);
}

/* The key files' directory: made before the tests, emptied and removed after. */
static int suite_init(void)
{
    if (!mkdtemp(dir))
        return unit_setup_error("mkdtemp %s: %m", dir);
    return 0;
}

static int suite_clean(void)
{
    static const char *const names[] = { "k16", "k4096", "k15", "k4097", "open" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "sizes", test_sizes },
        { "modes", test_modes },
        { NULL, NULL },
    };
    return unit_run("key", suite_init, suite_clean, tests);
}
