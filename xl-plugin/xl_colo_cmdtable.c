/*
 * xl_colo_cmdtable.c - the commands, with their help in the row (xl's
 * cmd_spec). Lookup is by exact name only: no abbreviations, so a new
 * command can never break a script.
 */
#include "config.h"

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
