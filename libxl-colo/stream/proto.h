/*
 * proto.h - the xen-colo stream, version 1 (docs/protocol.md is the spec).
 *
 * Every record: a 16-byte little-endian header, the body, and (after the
 * handshake, unless --insecure) a 32-byte HMAC-SHA256 tag.
 *
 *   le16 type | le16 flags | le32 crc32c | le64 length | body | tag
 *
 * crc32c covers the header (crc field as zero) and the body. The tag is
 * HMAC-SHA256(session key of this direction, le64 seq | header | body),
 * seq counting records from 0 in each direction after the handshake.
 * A length above the type's bound is refused before anything is allocated.
 */
#ifndef COLO_PROTO_H
#define COLO_PROTO_H

#include <stdint.h>

#define COLO_STREAM_VERSION_MIN 2
#define COLO_STREAM_VERSION_MAX 2
#define COLO_HELLO_MAGIC "XLCOLO\r\n" /* 8 bytes, no NUL on the wire */

#define COLO_REC_HDR_LEN 16
#define COLO_TAG_LEN 32
#define COLO_NONCE_LEN 32
#define COLO_BATCH_PAGES 1024 /* as Xen's save code */

enum colo_rec_type {
    /* handshake (no tag) */
    COLO_REC_HELLO = 0x0001,
    COLO_REC_AUTH = 0x0002,
    /* setup and initial sync, primary -> secondary */
    COLO_REC_DOMAIN_CONFIG = 0x0010,
    COLO_REC_PAGES = 0x0011,
    COLO_REC_CONTEXT = 0x0012,
    COLO_REC_DEVSTATE = 0x0013,
    /* QEMU COLO's COLOMessage, in its order */
    COLO_REC_CHECKPOINT_READY = 0x0020,   /* sec -> pri */
    COLO_REC_CHECKPOINT_REQUEST = 0x0021, /* pri -> sec */
    COLO_REC_CHECKPOINT_REPLY = 0x0022,   /* sec -> pri */
    COLO_REC_VMSTATE_SEND = 0x0023,       /* pri -> sec, then PAGES/CONTEXT/DEVSTATE */
    COLO_REC_VMSTATE_SIZE = 0x0024,       /* pri -> sec, closes the checkpoint */
    COLO_REC_VMSTATE_RECEIVED = 0x0025,   /* sec -> pri: buffered and verified */
    COLO_REC_VMSTATE_LOADED = 0x0026,     /* sec -> pri: applied */
    /* link */
    COLO_REC_HEARTBEAT = 0x0030, /* both ways */
    COLO_REC_STOP = 0x0031,      /* pri -> sec: protection ended cleanly */
    COLO_REC_ERROR = 0x0032,     /* either way: le32 errno, text */

    /* A disk's replication link (block/nbd_relay.c): the bytes of one NBD
     * connection, both ways, then STOP when a side closes it. */
    COLO_REC_DISK_DATA = 0x0040,

    /* The link between the two hosts' datapaths (proxy/datapath/): one
     * Ethernet frame each. */
    COLO_REC_NET_CLIENT = 0x0050,    /* pri -> sec: the client's, mirrored */
    COLO_REC_NET_PRIMARY = 0x0051,   /* pri -> sec: the primary guest's SYN-ACK */
    COLO_REC_NET_SECONDARY = 0x0052, /* sec -> pri: the secondary guest's, renumbered */
};

/* Record flags. Any other bit is an error. */
#define COLO_REC_F_NONE 0x0000u
#define COLO_REC_F_PRECOPY 0x0001u /* PAGES: a live pre-copy round, applied at once */
#define COLO_REC_F_KNOWN (COLO_REC_F_PRECOPY)

/* HELLO body */
#define COLO_HELLO_F_AUTH 0x1u /* the sender has a key */
struct colo_hello {
    char magic[8];
    uint16_t version_min, version_max; /* server: both = the chosen one */
    uint32_t flags;
    uint8_t nonce[COLO_NONCE_LEN];
    uint8_t tag[COLO_TAG_LEN]; /* server: HMAC(K, "xen-colo server" | nc | ns); else 0 */
} __attribute__((packed));

/* DOMAIN_CONFIG body: fixed part, then extra_len opaque bytes. */
struct colo_wire_domain_config {
    char name[64];
    uint32_t type;
    uint32_t nr_vcpus;
    uint64_t nr_pages;
    uint64_t mem_bytes;
    uint32_t mode;        /* libxlcolo_mode */
    uint32_t interval_ms;
    uint32_t heartbeat_ms;
    uint32_t timeout_ms;
    char backend[16];
    uint32_t extra_len;
    uint32_t pad;
    char uuid[40];        /* the guest's, 8-4-4-4-12 and NULs: its ownership's key */
    uint64_t generation;  /* the owner's with an arbiter, 0 without one */
    char owner[64];       /* the owning host, with an arbiter */
} __attribute__((packed));

/* PAGES body: le32 count, le32 pad, le64 pfn[count], count pages. */
struct colo_wire_pages_hdr {
    uint32_t count;
    uint32_t pad;
} __attribute__((packed));

/* VMSTATE_SEND / VMSTATE_RECEIVED / VMSTATE_LOADED / CHECKPOINT_*: */
struct colo_wire_epoch {
    uint64_t epoch;
} __attribute__((packed));

/* VMSTATE_SIZE body: what the secondary checks before applying. */
#define COLO_VMSTATE_F_DIGEST 0x1u
struct colo_wire_vmstate_size {
    uint64_t epoch;
    uint64_t pages;      /* pages in this checkpoint */
    uint64_t bytes;      /* body bytes of every record since VMSTATE_SEND */
    uint32_t flags;
    uint32_t pad;
    uint8_t digest[32];  /* the primary's digest while paused, if F_DIGEST */
    uint64_t generation; /* the owner's, with an arbiter (0 without) */
} __attribute__((packed));

/* Bounds, checked before allocation. */
#define COLO_MAX_PAGES_BODY \
    (sizeof(struct colo_wire_pages_hdr) + (uint64_t)COLO_BATCH_PAGES * (8 + 4096))
#define COLO_MAX_CONTEXT_BODY (4u << 20)
#define COLO_MAX_DEVSTATE_BODY (64u << 20)
#define COLO_MAX_CONFIG_BODY (sizeof(struct colo_wire_domain_config) + (64u << 10))
#define COLO_MAX_ERROR_BODY 1024u
#define COLO_MAX_DISK_DATA_BODY (64u << 10)
#define COLO_MAX_NET_FRAME_BODY 1518u /* as the datapath's interfaces (ifsock.h) */
#define COLO_MAX_NR_PAGES (1ull << 22) /* 16 GiB of 4 KiB pages */

/* Bound for a type, 0 for an unknown type (every known type has one > 0). */
uint64_t colo_rec_max_length(uint16_t type);
/* Flag bits valid on a type (a subset of COLO_REC_F_KNOWN), 0 if unknown. */
uint16_t colo_rec_valid_flags(uint16_t type);
/* "PAGES", ...; "UNKNOWN" for an unknown type. */
const char *colo_rec_type_name(uint16_t type);

#endif
