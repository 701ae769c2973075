/* macro.h - the five systemd-style helpers we use, and nothing more. */
#ifndef COLO_MACRO_H
#define COLO_MACRO_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(x) __attribute__((__cleanup__(x)))
#define _unused_ __attribute__((__unused__))
#define _printf_(a, b) __attribute__((__format__(printf, a, b)))

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define _cleanup_close_ _cleanup_(closep)
/* Close a descriptor kept in a struct, and forget it: closing it again
 * later would close whatever took its number. */
static inline void close_reset(int *fd)
{
    closep(fd);
    *fd = -1;
}

/* Hand a cleanup-owned value to someone else. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* errno as a negative return, never 0 (a failed call that left errno 0). */
static inline int negative_errno(void) { return errno > 0 ? -errno : -EIO; }

#endif
