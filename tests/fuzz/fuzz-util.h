/* fuzz-util.h - what the libFuzzer targets share: a context whose logger
 * formats every line and prints none (a bad format argument still shows
 * under ASan), the fuzz input as what a peer sent on a socket, and the
 * checks the JSON readers promise. One process runs one target; libFuzzer's
 * callback has no argument for a context, so the context is a static. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "libxlcolo.h"

/* A broken promise of the code under test: libFuzzer reports the abort
 * as a crash, with its input. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                           \
        }                                                                      \
    } while (0)

static void fuzz_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                          const char *context, const char *format, va_list al)
{
    char line[512];
    (void)lg; (void)level; (void)errnoval; (void)context;
    vsnprintf(line, sizeof(line), format, al);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "log: %s\n", line);
}

static void fuzz_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total)
{
    (void)lg; (void)context; (void)doing_what; (void)percent; (void)done; (void)total;
}

static void fuzz_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

/* The process's context, made at the first call and never freed (the
 * process ends with the run). */
static inline libxlcolo_ctx *fuzz_ctx(void)
{
    static xentoollog_logger lg = { fuzz_vmessage, fuzz_progress, fuzz_destroy };
    static libxlcolo_ctx *ctx;

    if (!ctx && libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, &lg) < 0)
        abort();
    return ctx;
}

/* A connected socket on which the peer has sent data[size] and shut its
 * side: reads see the bytes, then EOF, so no parser ever waits. The
 * peer's end stays open in *peer, for what the code under test sends
 * back (a HELLO, an ERROR); close both. */
static inline int fuzz_socket(const uint8_t *data, size_t size, int *peer)
{
    int sv[2];
    int buf = 1 << 20;

    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    while (size > 0) {
        ssize_t n = write(sv[1], data, size);
        if (n < 0 && errno == EINTR)
            continue;
        FUZZ_CHECK(n > 0); /* -max_len keeps the input within the buffer */
        data += n;
        size -= (size_t)n;
    }
    FUZZ_CHECK(shutdown(sv[1], SHUT_WR) == 0);
    *peer = sv[1];
    return sv[0];
}

/* Is v nested at most max levels deep (objects and arrays)? Recurses at
 * most max + 1 levels, whatever v's depth. */
static inline int fuzz_json_depth_ok(yajl_val v, unsigned max)
{
    size_t n = 0;
    yajl_val *items = NULL;

    if (YAJL_IS_OBJECT(v)) {
        n = v->u.object.len;
        items = v->u.object.values;
    } else if (YAJL_IS_ARRAY(v)) {
        n = v->u.array.len;
        items = v->u.array.values;
    } else {
        return 1;
    }
    if (max == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (items[i] && !fuzz_json_depth_ok(items[i], max - 1))
            return 0;
    return 1;
}

/* colo_json_parse as json.h promises it: an object no deeper than
 * COLO_JSON_DEPTH_MAX, or a refusal with its cause. */
static inline int fuzz_json_parse(const char *text, yajl_val *out)
{
    char err[160] = "";
    int r = colo_json_parse(text, out, err, sizeof(err));

    if (r == 0) {
        FUZZ_CHECK(YAJL_IS_OBJECT(*out));
        FUZZ_CHECK(fuzz_json_depth_ok(*out, COLO_JSON_DEPTH_MAX));
    } else {
        FUZZ_CHECK(r == -ENOMEM || (r == -EBADMSG && err[0]));
    }
    return r;
}

#endif
