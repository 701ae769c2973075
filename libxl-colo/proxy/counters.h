/*
 * counters.h - why a frame was dropped and why a checkpoint was asked,
 * each with a stable name ("bad-ihl", "timeout") for status output and
 * tests, and the errno an input call returns for each drop.
 */
#ifndef COLO_PROXY_COUNTERS_H
#define COLO_PROXY_COUNTERS_H

/* Why a frame was not compared, or was dropped after it was held. */
enum colo_drop_cause {
    COLO_DROP_NONE = 0,         /* not a drop: the frame is good */
    COLO_DROP_EMPTY,            /* "empty": length 0 */
    COLO_DROP_TOO_BIG,          /* "too-big": over the configured frame size */
    COLO_DROP_RUNT,             /* "runt": shorter than its Ethernet header and tags */
    COLO_DROP_TRUNCATED,        /* "truncated": an IP, TCP, UDP or ICMP header cut short */
    COLO_DROP_BAD_IP_VERSION,   /* "bad-ip-version": the version nibble disagrees with the ethertype */
    COLO_DROP_BAD_IHL,          /* "bad-ihl": IHL under 5 or past the end */
    COLO_DROP_BAD_IP_LENGTH,    /* "bad-ip-length": IPv4 total length under IHL or past the end */
    COLO_DROP_BAD_IPV6_LENGTH,  /* "bad-ipv6-length": IPv6 payload length past the end */
    COLO_DROP_BAD_EXT_HEADER,   /* "bad-ext-header": an IPv6 extension header past the end */
    COLO_DROP_BAD_TCP_OFFSET,   /* "bad-tcp-offset": TCP data offset under 5 or past the end */
    COLO_DROP_BAD_UDP_LENGTH,   /* "bad-udp-length": UDP length not the IP payload's */
    COLO_DROP_BAD_PADDING,      /* "bad-padding": bytes after the IP packet that are not zero padding */
    COLO_DROP_BAD_FRAG,         /* "bad-frag": a fragment of a bad size or past 64 KiB */
    COLO_DROP_FRAG_OVERLAP,     /* "frag-overlap": fragments that overlap (the datagram goes) */
    COLO_DROP_FRAG_DUPLICATE,   /* "frag-duplicate": the same fragment again */
    COLO_DROP_FRAG_TIMEOUT,     /* "frag-timeout": its datagram never completed */
    COLO_DROP_FRAG_OVERFLOW,    /* "frag-overflow": too many datagrams, pieces or bytes in reassembly */
    COLO_DROP_FLOW_LIMIT,       /* "flow-limit": the flow table is full */
    COLO_DROP_FLOW_MEMORY,      /* "flow-memory-limit": its flow holds its limit */
    COLO_DROP_MEMORY_LIMIT,     /* "memory-limit": the context holds its limit */
    COLO_DROP_NO_MEMORY,        /* "no-memory": malloc failed */
    COLO_DROP_TCP_UNSYNCED,     /* "tcp-unsynced": a secondary segment before its side's SYN */
    COLO_DROP_CHECKPOINT,       /* "checkpoint-pending": a secondary frame while a checkpoint is due */
    COLO_DROP_BUSY,             /* "busy": called from inside a callback */
    COLO_DROP__MAX
};

/* Why a checkpoint was asked: a divergence or an overflow. */
enum colo_checkpoint_reason {
    COLO_CKPT_NONE = 0,
    COLO_CKPT_TCP_PAYLOAD,      /* "tcp-payload": the two byte streams differ */
    COLO_CKPT_TCP_FLAGS,        /* "tcp-flags": FIN, RST or a byte at the same place differ */
    COLO_CKPT_TCP_SYN,          /* "tcp-syn": the SYNs (flags, options) differ */
    COLO_CKPT_PACKET,           /* "packet": a UDP, ICMP, other IP or non-IP packet differs */
    COLO_CKPT_TIMEOUT,          /* "timeout": a primary packet waited past the timeout */
    COLO_CKPT_FLOW_LIMIT,       /* "flow-limit": no room for a flow */
    COLO_CKPT_MEMORY,           /* "memory-limit": no room for a frame */
    COLO_CKPT__MAX
};

/* The stable name of each; "?" for a value out of range. */
const char *colo_drop_cause_name(enum colo_drop_cause cause);
const char *colo_checkpoint_reason_name(enum colo_checkpoint_reason reason);

/* What an input call returns for a frame it dropped: -EINVAL for a
 * malformed frame, -EMSGSIZE too big, -ENOSPC a limit, -ENOMEM, -EAGAIN
 * while a checkpoint is due, -EBUSY from a callback. */
int colo_drop_cause_errno(enum colo_drop_cause cause);

#endif
