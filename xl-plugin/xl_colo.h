/*
 * xl_colo.h - the xl-colo command line: one context, one command table.
 *
 * Every command is `int fn(struct xlcolo *xc, int nargs, char **args)`,
 * called by the dispatcher (xl_colo.c) once it has parsed the command's
 * options from its table and done what the row's flags ask; args are the
 * operands. It returns an exit status: EXIT_SUCCESS, EXIT_FAILURE (a runtime
 * failure, one line on stderr) or XLCOLO_EXIT_USAGE (bad usage: one line
 * plus the usage line on stderr). There is no global state: what the
 * options and the environment set lives in struct xlcolo.
 */
#ifndef XL_COLO_H
#define XL_COLO_H

#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libxlcolo.h"
#include "macro.h"

#define XLCOLO_EXIT_USAGE 2
#define XLCOLO_DEFAULT_PORT 7878
#define XLCOLO_STR_(x) #x
#define XLCOLO_STR(x) XLCOLO_STR_(x)
#define XLCOLO_DEFAULT_LISTEN "0.0.0.0:" XLCOLO_STR(XLCOLO_DEFAULT_PORT)
#define XLCOLO_DISK_PORT 7879   /* disk-serve's replication link */
#define XLCOLO_DISK_LISTEN "0.0.0.0:" XLCOLO_STR(XLCOLO_DISK_PORT)

struct xlcolo {
    libxlcolo_ctx *ctx;     /* CMD_NEEDS_CTX */
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
    /* What the command's options set (the option tables point here). */
    libxlcolo_options opt;  /* start, receive */
    const char *listen;     /* receive --listen */
    /* set-replication: the disk (NULL: all) and QMP's three arguments;
     * disk-serve: the role, and where the replication link goes. */
    const char *rep_disk;
    bool rep_enable, rep_disable, role_primary, role_secondary, rep_failover;
    const char *serve_listen, *serve_peer;
    /* --disk, repeatable: opt.disks points here, with the text they name. */
    libxlcolo_disk disks[LIBXLCOLO_DISKS_MAX];
    char disk_text[LIBXLCOLO_DISKS_MAX][512];
    /* --proxy: opt.proxy points here, with the text it names. */
    libxlcolo_proxy proxy;
    char proxy_text[1024];
};

/* struct xlcolo with every default: the library's options
 * (libxlcolo_options_init) and the CLI's own. The help prints these. */
void xlcolo_init(struct xlcolo *xc);

/* --- the option tables ----------------------------------------------
 * One row per option, in argp's manner: getopt_long's arrays are built from
 * the rows (xl_colo_options.c), and so is the help (xl_colo_cmdtable.c),
 * with the default printed from xlcolo_init()'s values. */

enum xlcolo_opt_kind {
    XO_FLAG,        /* sets the bool at field */
    XO_STRING,      /* stores the value, a const char *, at field */
    XO_U32,         /* a number in min..max, into the uint32_t at field */
    XO_U64,         /* a number in min..max, into the uint64_t at field */
    XO_MODE,        /* sets the libxlcolo_mode at field to value */
    XO_DISK,        /* one more replicated disk: NAME=QMP_SOCKET[,guest=URI] */
    XO_PROXY,       /* the NIC comparison: primary-in=PATH,secondary-in=PATH,outdev=PATH,... */
    XO_HELP,        /* prints the command's help */
    XO_OTHER,       /* the global parser's own (-v) */
};

struct xlcolo_option {
    const char *name;       /* the long option, without "--" */
    int key;                /* getopt's value; a letter is also the short option */
    const char *arg;        /* the value's name in the help; NULL: it takes none */
    enum xlcolo_opt_kind kind;
    size_t field;           /* offsetof(struct xlcolo, ...) */
    uint64_t min, max;      /* XO_U32, XO_U64 */
    int value;              /* XO_MODE */
    int excludes;           /* the key of an option this one cannot go with */
    const char *help;       /* one line */
    const char *env;        /* a default from the environment first: "$ENV or" */
    const char *note;       /* after the default: " (never)" */
};

#define XLCOLO_MAX_OPTIONS 32

/* The keys of the global options without a letter; the commands' own
 * follow (xl_colo_cmdtable.c). */
enum { XLCOLO_OPT_BACKEND = 256, XLCOLO_OPT_RUNDIR, XLCOLO_OPT_FIRST_CMD };

/* getopt_long's arrays for one table (at most XLCOLO_MAX_OPTIONS rows,
 * ended by a row without name). */
struct opt_parser {
    const struct xlcolo_option *table;
    struct option longopts[XLCOLO_MAX_OPTIONS + 1];
    char shortopts[2 * XLCOLO_MAX_OPTIONS + 3];
};

/* The command row, as xl's cmd_spec and git's cmd_struct: the function,
 * what the dispatcher does before it (flags), its options and its
 * arguments, and its help. */
#define CMD_NEEDS_CTX (1u << 0)     /* a logger and a libxlcolo context */
#define CMD_NEEDS_KEY (1u << 1)     /* exactly one of --key FILE and --insecure */
#define CMD_NEEDS_ARBITER (1u << 3) /* --arbiter URL|none (check_arbiter) */
#define CMD_NEEDS_BACKEND (1u << 2) /* runs a protection: xc->opt gets the backend,
                                     * the run directory and the environment's */

struct cmd_spec {
    const char *name;
    /* args: the operands, after the options, nargs of them within
     * min_args..max_args; returns an exit status. */
    int (*fn)(struct xlcolo *xc, int nargs, char **args);
    unsigned flags;         /* CMD_NEEDS_* */
    const struct xlcolo_option *options; /* NULL: takes none, not even -h */
    int min_args, max_args;
    const char *missing;    /* the usage error for fewer than min_args */
    const char *summary;    /* one line, for `xl-colo help` */
    const char *usage;      /* after "xl-colo NAME " */
    const char *args_help;  /* the operands, for `xl-colo help NAME` */
};

extern const struct cmd_spec xlcolo_cmdtable[];
extern const size_t xlcolo_cmdtable_len;
extern const struct xlcolo_option xlcolo_global_options[];

/* Exact-name lookup; NULL if there is no such command. */
const struct cmd_spec *xlcolo_cmd_lookup(const char *name);

/* `xl-colo help`: the commands and the global options. */
void xlcolo_print_help(FILE *f);
/* `xl-colo help NAME` on stdout: EXIT_SUCCESS, or XLCOLO_EXIT_USAGE with
 * one line on stderr if there is no such command. The commands' -h too. */
int xlcolo_print_cmd_help(const char *name);

int cmd_start(struct xlcolo *xc, int nargs, char **args);
int cmd_receive(struct xlcolo *xc, int nargs, char **args);
int cmd_status(struct xlcolo *xc, int nargs, char **args);
int cmd_checkpoint(struct xlcolo *xc, int nargs, char **args);
int cmd_failover(struct xlcolo *xc, int nargs, char **args);
int cmd_stop(struct xlcolo *xc, int nargs, char **args);
int cmd_set_replication(struct xlcolo *xc, int nargs, char **args);
int cmd_disk_serve(struct xlcolo *xc, int nargs, char **args);
int cmd_help(struct xlcolo *xc, int nargs, char **args);

/* --- xl_colo_options.c ---------------------------------------------- */

/* stop_at_operand: "+" (the global options end at the command). */
void opt_parser_init(struct opt_parser *p, const struct xlcolo_option *table,
                     bool stop_at_operand);
/* getopt_long over the table: the key and *row, -1 at the end, ':' or '?'
 * (with *row NULL) for a missing value or an unknown option. */
int opt_parser_next(struct opt_parser *p, int argc, char **argv,
                    const struct xlcolo_option **row);

/* A command's options (spec->options) into xc, and the options that
 * exclude each other: 1 to go on with argv[optind..], 0 to exit with
 * *status (help printed, or a usage error reported). */
int parse_cmd_options(struct xlcolo *xc, const struct cmd_spec *spec, int argc,
                      char **argv, int *status);

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

/* --- xl_colo_run.c: what start and receive share -------------------- */

/* Both or neither of --key and --insecure: a usage error. */
int check_auth(const char *cmd, const libxlcolo_options *opt);
/* --arbiter: required on start and receive; "none" warns. */
int check_arbiter(const char *cmd, const libxlcolo_options *opt);

/* "xl-colo: backend sim (no /dev/xen/privcmd)" on stderr, and a warning
 * if the environment used an old name. */
void announce_backend(const struct xlcolo *xc, const char *cmd);

/* Prints one line per event on stdout, flushed (JSON with xc->json). */
libxlcolo_event_cb print_event;

/* SIGINT/SIGTERM during a protection: a thread waits for them and asks
 * the protection running in xc->ctx to stop (libxlcolo_request_stop). */
struct stop_watch;
int stop_watch_start(struct xlcolo *xc, const char *cmd,
                     struct stop_watch **out);
void stop_watch_end(struct stop_watch *w);

#endif
