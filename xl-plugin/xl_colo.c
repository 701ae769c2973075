/*
 * xl_colo.c - xl-colo: global options, the environment, the logger, the
 * context, and the dispatcher, which parses a command's options from its
 * table and does what its row's flags ask before it calls the command.
 *
 *   xl-colo [--backend sim|xen] [--rundir DIR] [-v]... [-j] COMMAND [ARGS]
 *
 * Exit status: 0 success, 1 runtime failure (one line on stderr),
 * 2 bad usage (one line and the usage line on stderr).
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

int cmd_help(struct xlcolo *xc, int nargs, char **args)
{
    if (nargs == 0) {
        xlcolo_print_help(stdout);
        return EXIT_SUCCESS;
    }
    return xlcolo_print_cmd_help(args[0]);
}

/* The stdiostream logger on stderr, wrapped to count ERROR lines: a
 * failure the library logged needs no second line from us. */
struct counting_logger {
    xentoollog_logger vtable;       /* first: we are cast to it */
    xentoollog_logger *inner;
    struct xlcolo *xc;
};

static void counting_vmessage(xentoollog_logger *lg, xentoollog_level level,
                              int errnoval, const char *context,
                              const char *format, va_list al)
{
    struct counting_logger *cl = (struct counting_logger *)lg;
    if (level >= XTL_ERROR)
        atomic_fetch_add(&cl->xc->errors_logged, 1);
    cl->inner->vmessage(cl->inner, level, errnoval, context, format, al);
}

static void counting_progress(xentoollog_logger *lg, const char *context,
                              const char *doing_what, int percent,
                              unsigned long done, unsigned long total)
{
    struct counting_logger *cl = (struct counting_logger *)lg;
    if (cl->inner->progress)
        cl->inner->progress(cl->inner, context, doing_what, percent, done, total);
}

static void counting_destroy(xentoollog_logger *lg)
{
    struct counting_logger *cl = (struct counting_logger *)lg;
    xtl_logger_destroy(cl->inner);
}

static void logger_freep(struct counting_logger **cl)
{
    if (*cl) {
        xtl_logger_destroy(&(*cl)->vtable);
        free(*cl);
    }
}

/* WARN by default; each -v one level lower, down to DEBUG. */
static struct counting_logger *logger_new(struct xlcolo *xc)
{
    int level = XTL_WARN - xc->verbose;
    struct counting_logger *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return NULL;
    cl->inner = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr,
                    level < XTL_DEBUG ? XTL_DEBUG : level,
                    XTL_STDIOSTREAM_HIDE_PROGRESS);
    if (!cl->inner) {
        free(cl);
        return NULL;
    }
    cl->vtable.vmessage = counting_vmessage;
    cl->vtable.progress = counting_progress;
    cl->vtable.destroy = counting_destroy;
    cl->xc = xc;
    return cl;
}

static void ctx_freep(libxlcolo_ctx **ctx)
{
    libxlcolo_ctx_free(*ctx);
}

/* The environment, read here and nowhere else (the library reads none):
 * XLCOLO_RUNDIR (when there is no --rundir), XLCOLO_ARBITER (until an
 * --arbiter), XLCOLO_SIMGUEST and XLCOLO_XEN_STOP, whose old name
 * LIBXLCOLO_XEN_STOP works for one more release, with a warning. */
static void read_environment(struct xlcolo *xc)
{
    const char *v = getenv("XLCOLO_RUNDIR");
    if (!xc->run_dir && v && *v)
        xc->run_dir = v;
    v = getenv("XLCOLO_ARBITER");
    if (v && *v)
        xc->opt.arbiter = v;
    v = getenv("XLCOLO_SIMGUEST");
    if (v && *v)
        xc->simguest = v;
    v = getenv("XLCOLO_XEN_STOP");
    const char *old = getenv("LIBXLCOLO_XEN_STOP");
    if (old && *old) {
        xc->xen_stop_old_name = true;
        if (!v || !*v)
            v = old;
    }
    if (v && strcmp(v, "pause") == 0)
        xc->xen_stop = LIBXLCOLO_XEN_STOP_PAUSE;
    else if (v && strcmp(v, "suspend") == 0)
        xc->xen_stop = LIBXLCOLO_XEN_STOP_SUSPEND;
    else
        xc->xen_stop = LIBXLCOLO_XEN_STOP_AUTO;
}

/* As systemd's parse_argv: 1 to go on with the command, 0 to exit with
 * *status (help printed, or a usage error reported). */
static int parse_global(struct xlcolo *xc, int argc, char **argv, int *status)
{
    struct opt_parser p;
    const struct xlcolo_option *o;
    int c;

    opt_parser_init(&p, xlcolo_global_options, true);
    while ((c = opt_parser_next(&p, argc, argv, &o)) != -1) {
        if (!o) {
            *status = bad_option(NULL, c, argv);
            return 0;
        }
        switch (c) {
        case XLCOLO_OPT_BACKEND:
            if (strcmp(optarg, "sim") != 0 && strcmp(optarg, "xen") != 0) {
                *status = usage_error(NULL, "--backend: '%s' is not one of "
                                      "sim, xen", optarg);
                return 0;
            }
            xc->backend = optarg;
            break;
        case XLCOLO_OPT_RUNDIR:
            if (!*optarg) {
                *status = usage_error(NULL, "--rundir: empty directory name");
                return 0;
            }
            xc->run_dir = optarg;
            break;
        case 'v':
            xc->verbose++;
            break;
        case 'j':
            xc->json = true;
            break;
        case 'h':
            xlcolo_print_help(stdout);
            *status = EXIT_SUCCESS;
            return 0;
        default:
            *status = bad_option(NULL, c, argv);
            return 0;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "xl-colo: no command given (see 'xl-colo help')\n");
        *status = XLCOLO_EXIT_USAGE;
        return 0;
    }
    read_environment(xc);
    if (!xc->run_dir)
        xc->run_dir = libxlcolo_default_run_dir();
    return 1;
}

/* As git's run_builtin: the command's options from its table, its
 * operands, and what the row's flags ask, in one place for every command;
 * then the command. Returns its exit status. */
static int run_command(struct xlcolo *xc, const struct cmd_spec *spec, int argc,
                       char **argv)
{
    _cleanup_(logger_freep) struct counting_logger *lg = NULL;
    _cleanup_(ctx_freep) libxlcolo_ctx *ctx = NULL;
    int status = EXIT_SUCCESS, r;
    char **args = argv + 1;

    if (spec->options) {
        optind = 0; /* glibc: a full getopt reset for the command's options */
        if (parse_cmd_options(xc, spec, argc, argv, &status) <= 0)
            return status;
        args = argv + optind;
    }
    int nargs = argc - (int)(args - argv);
    if (nargs < spec->min_args)
        return usage_error(spec->name, "%s", spec->missing);
    if (nargs > spec->max_args)
        return usage_error(spec->name, "unexpected argument '%s'", args[spec->max_args]);
    if ((spec->flags & CMD_NEEDS_KEY) && (status = check_auth(spec->name, &xc->opt)) != 0)
        return status;
    if ((spec->flags & CMD_NEEDS_ARBITER) && (status = check_arbiter(spec->name, &xc->opt)) != 0)
        return status;
    if (spec->flags & CMD_NEEDS_BACKEND) {
        if (!xc->backend) {
            xc->backend_auto = true;
            xc->backend = libxlcolo_default_backend();
        }
        xc->opt.backend = xc->backend;
        xc->opt.run_dir = xc->run_dir;
        xc->opt.simguest = xc->simguest;
        xc->opt.xen_stop = xc->xen_stop;
    }
    if (spec->flags & CMD_NEEDS_CTX) {
        lg = logger_new(xc);
        if (!lg)
            return fail(NULL, "cannot create a logger: %s", strerror(errno));
        r = libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, &lg->vtable);
        if (r < 0)
            return fail(NULL, "cannot create the libxlcolo context: %s", strerror(-r));
        xc->lg = &lg->vtable;
        xc->ctx = ctx;
    }
    status = spec->fn(xc, nargs, args);
    xc->ctx = NULL;
    xc->lg = NULL;
    return status;
}

int main(int argc, char **argv)
{
    struct xlcolo xc;

    xlcolo_init(&xc);
    int r = EXIT_SUCCESS;
    if (parse_global(&xc, argc, argv, &r) <= 0)
        return r;

    char **cargv = argv + optind;
    int cargc = argc - optind;
    const struct cmd_spec *spec = xlcolo_cmd_lookup(cargv[0]);
    if (!spec) {
        fprintf(stderr, "xl-colo: unknown command '%s' (see 'xl-colo help')\n",
                cargv[0]);
        return XLCOLO_EXIT_USAGE;
    }
    r = run_command(&xc, spec, cargc, cargv);

    /* As git's run_builtin: output lost on a full disk is a failure too. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail(NULL, "write error on standard output: %s", strerror(errno));
        return EXIT_FAILURE;
    }
    return r;
}
