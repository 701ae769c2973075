/*
 * json.h - the JSON helpers, on yajl: one flat object on one line.
 *
 * Every JSON text xen-colo writes is made here: the control socket's
 * replies (control/control.c), the status object (control/status_codec.h)
 * and xl-colo's -j lines (xl-plugin/ builds this file in itself, as it
 * links only the public library). yajl_gen is configured in one place:
 * no spaces or newlines, '/' not escaped, keys in the order they are
 * added - the lines that tests and the real-Xen harness match with awk
 * ("event":"checkpoint", "epoch":N) depend on it.
 *
 * The readers take a yajl_tree object from colo_json_parse() and are
 * strict: a member must appear once, with the type asked for, within the
 * bound asked for; every refusal is -EBADMSG with one line in err that
 * names the member and the problem. They allocate nothing: the caller
 * bounds the text (the control socket reads at most COLO_CTL_REPLY_MAX
 * bytes), and yajl_tree's allocation follows its size.
 */
#ifndef COLO_JSON_H
#define COLO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yajl/yajl_tree.h>

#include "macro.h"

/* --- writing ----------------------------------------------------------- */

typedef struct colo_json colo_json;

/* A new generator with its object opened; NULL when out of memory. Every
 * function below takes NULL and does nothing, so a caller checks once, at
 * colo_json_finish() (-ENOMEM). */
colo_json *colo_json_new(void);
void colo_json_free(colo_json *j);
static inline void colo_json_freep(colo_json **j) { colo_json_free(*j); }
#define _cleanup_json_ _cleanup_(colo_json_freep)

/* "key":"val" (escaped as JSON needs), "key":N, "key":true|false. */
void colo_json_put_str(colo_json *j, const char *key, const char *val);
void colo_json_put_u64(colo_json *j, const char *key, uint64_t val);
void colo_json_put_bool(colo_json *j, const char *key, bool val);
/* "key":{ ... }: the members put until colo_json_close() go into a nested
 * object (QMP's "file":{"driver":"nbd", ...} in block/replication.c). An
 * open left unclosed makes colo_json_finish() fail (-EINVAL). */
void colo_json_open(colo_json *j, const char *key);
void colo_json_close(colo_json *j);
/* "key":[ {...}, ... ]: open_list, then for each item open_item, its
 * members, colo_json_close; then close_list. */
void colo_json_open_list(colo_json *j, const char *key);
void colo_json_open_item(colo_json *j);
void colo_json_close_list(colo_json *j);
/* "key":V for any value of a yajl_tree (an object or array nested as
 * deep as it is, a number as its own text): how a QMP command carries its
 * "arguments" (qmp/qmp.c). */
void colo_json_put_value(colo_json *j, const char *key, yajl_val val);

/* Close the object and give its text, without a newline: *buf stays j's
 * and is valid until colo_json_free(j). Call once. -ENOMEM for a NULL j,
 * -EINVAL if yajl refused any call before. */
int colo_json_finish(colo_json *j, const char **buf, size_t *len);

/* colo_json_finish(), then the text and a newline on f, flushed. */
int colo_json_print(colo_json *j, FILE *f);

/* --- reading ----------------------------------------------------------- */

static inline void colo_json_tree_freep(yajl_val *v)
{
    if (*v)
        yajl_tree_free(*v);
}
#define _cleanup_tree_ _cleanup_(colo_json_tree_freep)

/* The deepest nesting of objects and arrays colo_json_parse() takes. yajl
 * parses any depth, but yajl_tree_free() recurses once per level: a line
 * of a million '[' would overflow the stack. */
#define COLO_JSON_DEPTH_MAX 64

/* Parse text, which must be one JSON object, into *out (free it with
 * yajl_tree_free). -EBADMSG with err = the first line of yajl's message
 * ("parse error: premature EOF"), "not a JSON object", or, checked
 * before yajl sees the text, "nested deeper than 64 levels" or "a comment
 * (JSON has none)": yajl_tree takes comments, which could hide brackets
 * from the depth's count; -ENOMEM. */
int colo_json_parse(const char *text, yajl_val *out, char *err, size_t errsize);

/* The value of obj's member key, or NULL if it has none. -EBADMSG if
 * the key appears more than once ("\"key\" appears twice"). */
int colo_json_get(yajl_val obj, const char *key, yajl_val *out,
                  char *err, size_t errsize);

/* A string member that must be there: *out is obj's (valid while obj
 * is). 0, or -EBADMSG with one of
 *   missing "key" | "key" appears twice | "key" is not a string */
int colo_json_get_str(yajl_val obj, const char *key, const char **out,
                      char *err, size_t errsize);
/* ... copied into dst[size]; or also "key" is longer than N bytes
 * (N = size - 1). */
int colo_json_copy_str(yajl_val obj, const char *key, char *dst, size_t size,
                       char *err, size_t errsize);
/* ... or, for a decimal integer in [0, max]:
 *   missing "key" | "key" appears twice | "key" is not a number
 *   "key" is not an unsigned integer (a sign, fraction or exponent)
 *   "key" is over MAX */
int colo_json_get_u64(yajl_val obj, const char *key, uint64_t max,
                      uint64_t *out, char *err, size_t errsize);

#endif
