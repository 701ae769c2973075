/*
 * xl_colo_cmdtable.c - the commands, with their help in the row (xl's
 * cmd_spec), and the printing of that help. Lookup is by exact name only:
 * no abbreviations, so a new command can never break a script.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "xl_colo.h"

const struct cmd_spec xlcolo_cmdtable[] = {
    { "start", cmd_start,
      "protect a domain, replicating it to a secondary",
      "[options] --key FILE|--insecure DOMAIN HOST[:PORT]",
      "-i, --interval MS          checkpoint period (Remus; COLO fallback), default 100\n"
      "--colo                     COLO: checkpoint on request, periodic fallback\n"
      "--remus                    Remus: periodic checkpoints (the default)\n"
      "--key FILE                 pre-shared key authenticating the link\n"
      "--insecure                 run without authentication (trusted networks only)\n"
      "--verify                   digest guest memory at each checkpoint\n"
      "--max-checkpoints N        stop after N checkpoints, default 0 (never)\n"
      "--heartbeat MS             heartbeat period on the link, default 100\n"
      "--timeout MS               peer silent this long is lost, default 1000\n"
      "--precopy-threshold PAGES  stop and copy below this many dirty pages, default 256\n"
      "--dirty-bound PAGES        checkpoint early above this many dirty pages, default 0 (off)\n"
      "-j, --json                 one JSON object per event\n"
      "HOST[:PORT]                the secondary's `xl-colo receive`, port 7878 by default;\n"
      "                           IPv6 in brackets: [2001:db8::1]:7878" },
    { "receive", cmd_receive,
      "run the secondary side of a protection",
      "[options] --key FILE|--insecure",
      "--listen ADDR:PORT         where to wait for the primary, default 0.0.0.0:7878\n"
      "--key FILE                 pre-shared key authenticating the link\n"
      "--insecure                 run without authentication (trusted networks only)\n"
      "--verify                   digest guest memory at each applied checkpoint\n"
      "--timeout MS               primary silent this long is lost, default 1000\n"
      "-j, --json                 one JSON object per event" },
    { "status", cmd_status,
      "report the state of running protections",
      "[-j] [DOMAIN]",
      "-j, --json                 one JSON object per domain\n"
      "DOMAIN                     this one only; default: every protection in the run directory" },
    { "checkpoint", cmd_checkpoint,
      "take a checkpoint now and wait until it is committed",
      "[-j] DOMAIN",
      "-j, --json                 print {\"domain\":..,\"epoch\":N}" },
    { "failover", cmd_failover,
      "fail over by hand: the secondary takes over the guest",
      "[-j] DOMAIN",
      "-j, --json                 print {\"domain\":..,\"ok\":true}" },
    { "stop", cmd_stop,
      "stop protecting a domain; the guest keeps running",
      "[-j] DOMAIN",
      "-j, --json                 print {\"domain\":..,\"ok\":true}" },
    { "help", cmd_help,
      "list the commands, or show one command's usage and options",
      "[COMMAND]",
      "" },
};

const size_t xlcolo_cmdtable_len = ARRAY_SIZE(xlcolo_cmdtable);

const struct cmd_spec *xlcolo_cmd_lookup(const char *name)
{
    for (size_t i = 0; i < xlcolo_cmdtable_len; i++)
        if (strcmp(xlcolo_cmdtable[i].name, name) == 0)
            return &xlcolo_cmdtable[i];
    return NULL;
}

void xlcolo_print_help(FILE *f)
{
    fputs("usage: xl-colo [--backend sim|xen] [--rundir DIR] [-v] [-j] "
          "COMMAND [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < xlcolo_cmdtable_len; i++)
        fprintf(f, "  %-12s %s\n", xlcolo_cmdtable[i].name,
                xlcolo_cmdtable[i].summary);
    fprintf(f, "\nglobal options:\n"
            "  --backend sim|xen  default: xen if /dev/xen/privcmd exists, else sim\n"
            "  --rundir DIR       control sockets, default $XLCOLO_RUNDIR or %s\n"
            "  -v, --verbose      more logging on stderr (repeatable)\n"
            "  -j, --json         machine output: one JSON object per line\n"
            "\nSee 'xl-colo help COMMAND' for the options of a command.\n",
            libxlcolo_default_run_dir());
}

static void print_cmd_help(const struct cmd_spec *spec)
{
    printf("usage: xl-colo %s %s\n\n%s\n", spec->name, spec->usage,
           spec->summary);
    if (*spec->options) {
        printf("\noptions:\n");
        for (const char *s = spec->options; *s;) {
            size_t n = strcspn(s, "\n");
            printf("  %.*s\n", (int)n, s);
            s += n + (s[n] == '\n');
        }
    }
}

int xlcolo_print_cmd_help(const char *name)
{
    const struct cmd_spec *spec = xlcolo_cmd_lookup(name);
    if (!spec) {
        fprintf(stderr, "xl-colo: unknown command '%s' (see 'xl-colo help')\n",
                name);
        return XLCOLO_EXIT_USAGE;
    }
    print_cmd_help(spec);
    return EXIT_SUCCESS;
}
