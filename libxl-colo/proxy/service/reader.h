/*
 * reader.h - colo-compare's framing, read from a stream socket with every
 * length bounded: records of be32 length L, with --vnet-hdr a be32 vnet
 * header length V, then L bytes: V of vnet header and L - V of frame (as
 * QEMU's net_fill_rstate() reads them). The frames are handed on in place,
 * out of the reader's buffer, never copied.
 *
 * A record that cannot be a frame is dropped and counted by cause, and
 * its L bytes are skipped, exactly: the next record is read where its
 * length says, on the same connection. A connection that ends inside a
 * record counts it as cut. A new connection starts with fresh framing
 * (proxy_reader_reset); the counters go on.
 */
#ifndef COLO_PROXY_READER_H
#define COLO_PROXY_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest vnet header taken (virtio_net_hdr_v1_hash is 20 bytes). */
#define PROXY_VNET_HDR_MAX 64u

/* Why a record was dropped before any frame reached the engine. */
enum proxy_drop {
    PROXY_DROP_EMPTY = 0,       /* "empty": no frame bytes (L == V) */
    PROXY_DROP_TOO_BIG,         /* "too-big": a frame over the largest taken; L bytes skipped */
    PROXY_DROP_BAD_VNET,        /* "bad-vnet-length": V over PROXY_VNET_HDR_MAX or over L */
    PROXY_DROP_CUT_HEADER,      /* "cut-header": the connection ended inside the length fields */
    PROXY_DROP_CUT_FRAME,       /* "cut-frame": the connection ended inside the frame */
    PROXY_DROP__MAX
};

const char *proxy_drop_name(enum proxy_drop d);

struct proxy_reader {
    bool vnet;                  /* records carry V */
    uint32_t max_frame;         /* the largest L - V taken */
    uint8_t *buf;
    size_t cap, start, end;     /* unread bytes at buf[start, end) */
    uint64_t skip;              /* bytes of a dropped record still to skip */
    uint64_t records;           /* records read, good or not */
    uint64_t frames;            /* frames handed on */
    uint64_t bytes;             /* bytes read */
    uint64_t drops[PROXY_DROP__MAX];
};

/* frame[len], and the vnet header before it (vnet_len bytes, at
 * frame - vnet_len). */
typedef void proxy_frame_cb(void *opaque, const uint8_t *frame, size_t len);

/* A reader of frames up to max_frame bytes: 0 or -ENOMEM. */
int proxy_reader_init(struct proxy_reader *r, bool vnet, uint32_t max_frame);
void proxy_reader_fini(struct proxy_reader *r);

/* A new connection: fresh framing, nothing buffered. */
void proxy_reader_reset(struct proxy_reader *r);

/* One read() from fd, each whole frame in it to cb: 1 when the peer
 * closed (a record it cut counted), 0 when it may have more (or none
 * now), -errno on an error. */
int proxy_reader_read(struct proxy_reader *r, int fd, proxy_frame_cb *cb, void *opaque);

/* The peer closed: count the record it cut, if any, and reset. */
void proxy_reader_eof(struct proxy_reader *r);

#endif
