/* key.c - the pre-shared key file (stream.h: colo_key_load). */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "stream/stream.h"

#define KEY_MIN 16
#define KEY_MAX 4096

void colo_key_free(uint8_t *key, size_t keylen)
{
    if (!key)
        return;
    explicit_bzero(key, keylen);
    free(key);
}

/* A buffer of KEY_MAX + 1 bytes, wiped when it goes out of scope. */
static void key_bufp(uint8_t **p)
{
    colo_key_free(*p, KEY_MAX + 1);
}

int colo_key_load(libxlcolo_ctx *ctx, const char *path, uint8_t **key,
                  size_t *keylen)
{
    _cleanup_close_ int fd = -1;
    _cleanup_(key_bufp) uint8_t *buf = NULL;
    struct stat st;
    size_t len = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return LOG_ERRNO(ctx, negative_errno(), "cannot open key file %s", path);
    if (fstat(fd, &st) < 0)
        return LOG_ERRNO(ctx, negative_errno(), "cannot stat key file %s", path);
    if (!S_ISREG(st.st_mode))
        return LOG_ERRNO(ctx, -EPERM, "key file %s is not a regular file", path);
    if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH))
        return LOG_ERRNO(ctx, -EPERM,
                         "key file %s is readable or writable by group or others "
                         "(mode %04o): run chmod 600 %s",
                         path, (unsigned)(st.st_mode & 07777), path);

    buf = malloc(KEY_MAX + 1);
    if (!buf)
        return LOG_ERRNO(ctx, -ENOMEM, "cannot allocate the key");
    /* Read to EOF, one byte past the bound to see an oversized file. */
    while (len < KEY_MAX + 1) {
        ssize_t n = read(fd, buf + len, KEY_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return LOG_ERRNO(ctx, negative_errno(), "cannot read key file %s", path);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len < KEY_MIN || len > KEY_MAX)
        return LOG_ERRNO(ctx, -EINVAL, "key file %s holds %s%zu bytes; a key is %d..%d bytes",
                         path, len > KEY_MAX ? "more than " : "", MIN(len, (size_t)KEY_MAX),
                         KEY_MIN, KEY_MAX);

    uint8_t *k = malloc(len);
    if (!k)
        return LOG_ERRNO(ctx, -ENOMEM, "cannot allocate the key");
    memcpy(k, buf, len);
    *key = k;
    *keylen = len;
    return 0;
}
