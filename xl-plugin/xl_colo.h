/*
 * xl_colo.h - the xl-colo command line: one context, one command table.
 *
 * Every command is `int fn(struct xlcolo *xc, int argc, char **argv)` with
 * argv[0] the command name, and returns an exit status: EXIT_SUCCESS,
 * EXIT_FAILURE (a runtime failure, one line on stderr) or XLCOLO_EXIT_USAGE
 * (bad usage: one line plus the usage line on stderr). There is no global
 * state: what the global options set lives in struct xlcolo.
 */
#ifndef XL_COLO_H
#define XL_COLO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "libxlcolo.h"
#include "macro.h"

#define XLCOLO_EXIT_USAGE 2
#define XLCOLO_DEFAULT_PORT 7878

struct xlcolo {
    libxlcolo_ctx *ctx;
    xentoollog_logger *lg;  /* stderr, counting what it logs at ERROR */
    atomic_uint errors_logged;
    const char *backend;    /* "sim" or "xen", as chosen */
    bool backend_auto;      /* libxlcolo_default_backend(): /dev/xen/privcmd is (not) there */
    const char *run_dir;    /* --rundir, $XLCOLO_RUNDIR or libxlcolo_default_run_dir() */
    const char *simguest;   /* $XLCOLO_SIMGUEST, or NULL */
    libxlcolo_xen_stop xen_stop;    /* $XLCOLO_XEN_STOP */
    bool xen_stop_old_name; /* it came as $LIBXLCOLO_XEN_STOP: warn */
    int verbose;
    bool json;
};

struct cmd_spec {
    const char *name;
    int (*fn)(struct xlcolo *xc, int argc, char **argv);
    const char *summary;    /* one line, for `xl-colo help` */
    const char *usage;      /* after "xl-colo NAME " */
    const char *options;    /* one option per line, for `xl-colo help NAME` */
};

extern const struct cmd_spec xlcolo_cmdtable[];
extern const size_t xlcolo_cmdtable_len;

/* Exact-name lookup; NULL if there is no such command. */
const struct cmd_spec *xlcolo_cmd_lookup(const char *name);

/* `xl-colo help`: the commands and the global options. */
void xlcolo_print_help(FILE *f);
/* `xl-colo help NAME` on stdout: EXIT_SUCCESS, or XLCOLO_EXIT_USAGE with
 * one line on stderr if there is no such command. The commands' -h too. */
int xlcolo_print_cmd_help(const char *name);

int cmd_start(struct xlcolo *xc, int argc, char **argv);
int cmd_receive(struct xlcolo *xc, int argc, char **argv);
int cmd_status(struct xlcolo *xc, int argc, char **argv);
int cmd_checkpoint(struct xlcolo *xc, int argc, char **argv);
int cmd_failover(struct xlcolo *xc, int argc, char **argv);
int cmd_stop(struct xlcolo *xc, int argc, char **argv);
int cmd_help(struct xlcolo *xc, int argc, char **argv);

/* --- xl_colo_util.c ------------------------------------------------- */

/* "xl-colo: CMD: MSG" and the command's usage line on stderr; returns
 * XLCOLO_EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);

/* "xl-colo: CMD: MSG" on stderr; returns EXIT_FAILURE. */
int fail(const char *cmd, const char *fmt, ...) _printf_(2, 3);

/* The one line for a failed library call r: none if the library already
 * logged the failure at ERROR (that line is the clear one), else
 * "xl-colo: CMD: " + libxlcolo_last_error(), or strerror(-r). Returns
 * EXIT_FAILURE. */
int fail_errno(struct xlcolo *xc, const char *cmd, int r);

/* The getopt loop's complaint about argv[optind - 1]: unknown option or
 * missing value. Returns XLCOLO_EXIT_USAGE. */
int bad_option(const char *cmd, int c, char **argv);

/* Options of the commands that take only -j/--json and -h/--help, then
 * min..max positional arguments (described by what). 1 to go on with
 * argv[optind..], 0 to exit with *status. */
int parse_plain(struct xlcolo *xc, const char *cmd, int argc, char **argv,
                int min, int max, const char *what, int *status);

/* Strict decimal: digits only, in [min, max]. -EINVAL if not. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* parse_u64, or a usage error naming the option: returns 0 or
 * XLCOLO_EXIT_USAGE. */
int option_u64(const char *cmd, const char *opt, const char *s,
               uint64_t min, uint64_t max, uint64_t *out);

/* HOST, HOST:PORT, [V6] or [V6]:PORT (a bare V6 address is all host).
 * host gets the address without brackets. -EINVAL if malformed. */
int parse_host_port(const char *s, char *host, size_t size, uint16_t *port,
                    uint16_t default_port);

/* The domains with a control socket in run_dir (names without ".ctl"),
 * sorted, NULL-terminated; an absent run_dir is an empty list. */
int list_protections(const char *run_dir, char ***out);
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }

/* --- xl_colo_run.c: what start and receive share, JSON output -------- */

/* Both or neither of --key and --insecure: a usage error. */
int check_auth(const char *cmd, const libxlcolo_options *opt);

/* "xl-colo: backend sim (no /dev/xen/privcmd)" on stderr, and a warning
 * if the environment used an old name. */
void announce_backend(const struct xlcolo *xc);

/* What start and receive tell the library beside their own options: the
 * global options and the environment. */
void fill_options(const struct xlcolo *xc, libxlcolo_options *opt);

/* Prints one line per event on stdout, flushed (JSON with xc->json). */
libxlcolo_event_cb print_event;

/* JSON line helpers over yajl_gen, for status and the simple commands. */
struct json_line;
struct json_line *json_begin(void);
void json_str(struct json_line *j, const char *key, const char *val);
void json_u64(struct json_line *j, const char *key, uint64_t val);
void json_bool(struct json_line *j, const char *key, bool val);
/* Prints the object and a newline on stdout, flushes and frees. */
void json_end(struct json_line *j);

/* SIGINT/SIGTERM during a protection: a thread waits for them and asks
 * the protection of this process to stop through its control socket. */
struct stop_watch;
int stop_watch_start(struct xlcolo *xc, const char *cmd,
                     struct stop_watch **out);
void stop_watch_end(struct stop_watch *w);

#endif
