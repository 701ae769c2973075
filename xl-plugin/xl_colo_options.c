/*
 * xl_colo_options.c - getopt_long from an option table, and a command's
 * options parsed from its table into struct xlcolo. The help is printed
 * from the same rows (xl_colo_cmdtable.c), so the two cannot drift.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xl_colo.h"

static bool has_short(const struct xlcolo_option *o)
{
    return o->key > 0 && o->key < 128 && isalnum(o->key);
}

void opt_parser_init(struct opt_parser *p, const struct xlcolo_option *table,
                     bool stop_at_operand)
{
    size_t n = 0, k = 0;

    memset(p, 0, sizeof(*p));
    p->table = table;
    if (stop_at_operand)
        p->shortopts[k++] = '+';
    p->shortopts[k++] = ':'; /* a missing value is ':', told apart from '?' */
    for (const struct xlcolo_option *o = table; o->name; o++, n++) {
        if (n == XLCOLO_MAX_OPTIONS)
            abort(); /* a table too long for its arrays: a bug */
        p->longopts[n] = (struct option){
            .name = o->name,
            .has_arg = o->arg ? required_argument : no_argument,
            .val = o->key,
        };
        if (has_short(o)) {
            p->shortopts[k++] = (char)o->key;
            if (o->arg)
                p->shortopts[k++] = ':';
        }
    }
}

int opt_parser_next(struct opt_parser *p, int argc, char **argv,
                    const struct xlcolo_option **row)
{
    opterr = 0;
    int c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
    *row = NULL;
    if (c == -1 || c == ':' || c == '?')
        return c;
    for (const struct xlcolo_option *o = p->table; o->name; o++)
        if (o->key == c) {
            *row = o;
            return c;
        }
    return '?';
}

/* How a number's usage error names its option: "-i", else "--heartbeat". */
static void display_name(const struct xlcolo_option *o, char *buf, size_t len)
{
    if (has_short(o))
        snprintf(buf, len, "-%c", o->key);
    else
        snprintf(buf, len, "--%s", o->name);
}

/* --disk NAME[=QMP_SOCKET][,guest=URI]: one more of xc->disks. Without a
 * socket, the library finds disk-serve's in the run directory. */
static int store_disk(struct xlcolo *xc, const char *cmd, const char *arg)
{
    unsigned n = xc->opt.nr_disks;
    if (n >= LIBXLCOLO_DISKS_MAX)
        return usage_error(cmd, "--disk: at most %d disks", LIBXLCOLO_DISKS_MAX);
    char *t = xc->disk_text[n];
    if ((size_t)snprintf(t, sizeof(xc->disk_text[n]), "%s", arg) >= sizeof(xc->disk_text[n]))
        return usage_error(cmd, "--disk %.40s...: too long", arg);
    char *guest = NULL, *qmp = NULL, *comma = strchr(t, ',');
    if (comma) {
        *comma = '\0';
        if (strncmp(comma + 1, "guest=", 6) != 0 || !comma[7])
            return usage_error(cmd, "--disk %s: after the name or the socket, only guest=URI", arg);
        guest = comma + 7;
    }
    char *eq = strchr(t, '=');
    if (eq) {
        *eq = '\0';
        qmp = eq + 1;
    }
    if (!t[0] || (eq && !qmp[0]))
        return usage_error(cmd, "--disk %s: not NAME[=QMP_SOCKET][,guest=URI]", arg);
    xc->disks[n] = (libxlcolo_disk){ .name = t, .qmp = qmp, .guest_uri = guest };
    xc->opt.disks = xc->disks;
    xc->opt.nr_disks = n + 1;
    return 0;
}

/* --proxy primary-in=PATH,secondary-in=PATH,outdev=PATH[,status=PATH]
 * [,client-if=IF[,guest-if=IF]][,compare-timeout=MS][,busy-poll=US][,vnet-hdr]:
 * the NIC comparison, once. */
static int store_proxy(struct xlcolo *xc, const char *cmd, const char *arg)
{
    libxlcolo_proxy *px = &xc->proxy;
    char *t = xc->proxy_text, *save = NULL;
    uint64_t v;

    if (xc->opt.proxy)
        return usage_error(cmd, "--proxy: given twice");
    if ((size_t)snprintf(t, sizeof(xc->proxy_text), "%s", arg) >= sizeof(xc->proxy_text))
        return usage_error(cmd, "--proxy %.40s...: too long", arg);
    memset(px, 0, sizeof(*px));
    for (char *item = strtok_r(t, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        const char **path = NULL;
        if (strcmp(item, "vnet-hdr") == 0) {
            px->vnet_hdr = true;
            continue;
        }
        if (!eq || !eq[1])
            return usage_error(cmd, "--proxy: '%s' is not KEY=VALUE", item);
        *eq = '\0';
        if (strcmp(item, "primary-in") == 0)
            path = &px->primary_in;
        else if (strcmp(item, "secondary-in") == 0)
            path = &px->secondary_in;
        else if (strcmp(item, "outdev") == 0)
            path = &px->outdev;
        else if (strcmp(item, "status") == 0)
            path = &px->status;
        else if (strcmp(item, "client-if") == 0)
            path = &px->client_if;
        else if (strcmp(item, "guest-if") == 0)
            path = &px->guest_if;
        if (path) {
            if (*path)
                return usage_error(cmd, "--proxy: %s given twice", item);
            *path = eq + 1;
        } else if (strcmp(item, "compare-timeout") == 0) {
            int r = option_u64(cmd, "--proxy compare-timeout", eq + 1, 1, 3600000, &v);
            if (r)
                return r;
            px->compare_timeout_ms = (uint32_t)v;
        } else if (strcmp(item, "busy-poll") == 0) {
            int r = option_u64(cmd, "--proxy busy-poll", eq + 1, 0, 10000, &v);
            if (r)
                return r;
            px->busy_poll_us = (uint32_t)v;
        } else {
            return usage_error(cmd, "--proxy: unknown key '%s' (primary-in, secondary-in, "
                               "outdev, status, client-if, guest-if, compare-timeout, busy-poll, "
                               "vnet-hdr)", item);
        }
    }
    xc->opt.proxy = px;     /* what the mode needs: cmd_start */
    return 0;
}

/* One option's value into xc: 0, or a usage status. */
static int store(struct xlcolo *xc, const char *cmd, const struct xlcolo_option *o,
                 const char *arg)
{
    char *field = (char *)xc + o->field;
    char name[64];
    uint64_t v = 0;
    int r;

    switch (o->kind) {
    case XO_FLAG:
        *(bool *)field = true;
        return 0;
    case XO_STRING:
        *(const char **)field = arg;
        return 0;
    case XO_MODE:
        *(libxlcolo_mode *)field = (libxlcolo_mode)o->value;
        return 0;
    case XO_DISK:
        return store_disk(xc, cmd, arg);
    case XO_PROXY:
        return store_proxy(xc, cmd, arg);
    case XO_U32:
    case XO_U64:
        display_name(o, name, sizeof(name));
        r = option_u64(cmd, name, arg, o->min, o->max, &v);
        if (r)
            return r;
        if (o->kind == XO_U32)
            *(uint32_t *)field = (uint32_t)v;
        else
            *(uint64_t *)field = v;
        return 0;
    case XO_HELP:
    case XO_OTHER:
        break;
    }
    return 0;
}

int parse_cmd_options(struct xlcolo *xc, const struct cmd_spec *spec, int argc,
                      char **argv, int *status)
{
    struct opt_parser p;
    const struct xlcolo_option *o;
    uint32_t seen = 0;
    int c;

    opt_parser_init(&p, spec->options, false);
    while ((c = opt_parser_next(&p, argc, argv, &o)) != -1) {
        if (!o) {
            *status = bad_option(spec->name, c, argv);
            return 0;
        }
        if (o->kind == XO_HELP) {
            *status = xlcolo_print_cmd_help(spec->name);
            return 0;
        }
        int r = store(xc, spec->name, o, optarg);
        if (r) {
            *status = r;
            return 0;
        }
        seen |= 1u << (o - spec->options);
    }
    /* Options that exclude each other, as the rows say. */
    for (o = spec->options; o->name; o++) {
        if (!o->excludes || !(seen & (1u << (o - spec->options))))
            continue;
        for (const struct xlcolo_option *x = spec->options; x->name; x++)
            if (x->key == o->excludes && (seen & (1u << (x - spec->options)))) {
                *status = usage_error(spec->name, "--%s and --%s are exclusive",
                                      o->name, x->name);
                return 0;
            }
    }
    return 1;
}
