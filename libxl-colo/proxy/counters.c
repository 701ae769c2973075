/* counters.c - the names of the drop causes and checkpoint reasons
 * (counters.h). */
#include "config.h"

#include <errno.h>

#include "macro.h"
#include "proxy/counters.h"

static const char *const drop_names[COLO_DROP__MAX] = {
    [COLO_DROP_NONE] = "none",
    [COLO_DROP_EMPTY] = "empty",
    [COLO_DROP_TOO_BIG] = "too-big",
    [COLO_DROP_RUNT] = "runt",
    [COLO_DROP_TRUNCATED] = "truncated",
    [COLO_DROP_BAD_IP_VERSION] = "bad-ip-version",
    [COLO_DROP_BAD_IHL] = "bad-ihl",
    [COLO_DROP_BAD_IP_LENGTH] = "bad-ip-length",
    [COLO_DROP_BAD_IPV6_LENGTH] = "bad-ipv6-length",
    [COLO_DROP_BAD_EXT_HEADER] = "bad-ext-header",
    [COLO_DROP_BAD_TCP_OFFSET] = "bad-tcp-offset",
    [COLO_DROP_BAD_UDP_LENGTH] = "bad-udp-length",
    [COLO_DROP_BAD_PADDING] = "bad-padding",
    [COLO_DROP_BAD_FRAG] = "bad-frag",
    [COLO_DROP_FRAG_OVERLAP] = "frag-overlap",
    [COLO_DROP_FRAG_DUPLICATE] = "frag-duplicate",
    [COLO_DROP_FRAG_TIMEOUT] = "frag-timeout",
    [COLO_DROP_FRAG_OVERFLOW] = "frag-overflow",
    [COLO_DROP_FLOW_LIMIT] = "flow-limit",
    [COLO_DROP_FLOW_MEMORY] = "flow-memory-limit",
    [COLO_DROP_MEMORY_LIMIT] = "memory-limit",
    [COLO_DROP_NO_MEMORY] = "no-memory",
    [COLO_DROP_TCP_UNSYNCED] = "tcp-unsynced",
    [COLO_DROP_CHECKPOINT] = "checkpoint-pending",
    [COLO_DROP_BUSY] = "busy",
};

static const char *const reason_names[COLO_CKPT__MAX] = {
    [COLO_CKPT_NONE] = "none",
    [COLO_CKPT_TCP_PAYLOAD] = "tcp-payload",
    [COLO_CKPT_TCP_FLAGS] = "tcp-flags",
    [COLO_CKPT_TCP_SYN] = "tcp-syn",
    [COLO_CKPT_PACKET] = "packet",
    [COLO_CKPT_TIMEOUT] = "timeout",
    [COLO_CKPT_FLOW_LIMIT] = "flow-limit",
    [COLO_CKPT_MEMORY] = "memory-limit",
};

const char *colo_drop_cause_name(enum colo_drop_cause cause)
{
    return (unsigned)cause < ARRAY_SIZE(drop_names) ? drop_names[cause] : "?";
}

const char *colo_checkpoint_reason_name(enum colo_checkpoint_reason reason)
{
    return (unsigned)reason < ARRAY_SIZE(reason_names) ? reason_names[reason] : "?";
}

int colo_drop_cause_errno(enum colo_drop_cause cause)
{
    switch (cause) {
    case COLO_DROP_NONE:
        return 0;
    case COLO_DROP_TOO_BIG:
        return -EMSGSIZE;
    case COLO_DROP_FRAG_OVERFLOW:
    case COLO_DROP_FLOW_LIMIT:
    case COLO_DROP_FLOW_MEMORY:
    case COLO_DROP_MEMORY_LIMIT:
        return -ENOSPC;
    case COLO_DROP_NO_MEMORY:
        return -ENOMEM;
    case COLO_DROP_CHECKPOINT:
        return -EAGAIN;
    case COLO_DROP_BUSY:
        return -EBUSY;
    default:
        return -EINVAL;
    }
}
