/* opts.h - command-line helpers shared by colo-simguest's commands.
 *
 * Exit status: 0 success, 1 failure (a bad value, a guest that is not
 * there), 2 usage (unknown option, missing argument). Every error is one
 * line on stderr. */
#ifndef SIMGUEST_OPTS_H
#define SIMGUEST_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define EXIT_USAGE 2
#define PROG "colo-simguest"

/* Print one line, "colo-simguest CMD: ...", and return the exit status. */
int fail(int status, const char *cmd, const char *fmt, ...) _printf_(3, 4);

/* A whole decimal number, no sign. */
int parse_u64(const char *s, uint64_t *out);
/* A size: a number with a K, M or G suffix (binary); a bare number is MiB,
 * as xl's memory=. */
int parse_size(const char *s, uint64_t *out);
/* --rundir, $XLCOLO_RUNDIR or /run/xen-colo, made absolute. */
int rundir_resolve(const char *given, char *out, size_t cap);

/* --name N [--rundir D]: the options of every client command. Returns 0 or
 * the exit status to return. */
struct client_opts {
    const char *name;
    char rundir[4096];
    bool checkpoint;      /* pause --checkpoint */
};
int client_opts_parse(const char *cmd, int argc, char **argv, struct client_opts *o);

/* The commands (main.c: run; client.c: the rest). */
int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_hash(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_disk_verify(int argc, char **argv);
int cmd_sample(int argc, char **argv);  /* sample.c */

#endif
