/* fuzz-rewrite: the datapath's TCP renumbering (proxy/datapath/rewrite.c,
 * on checksum.c) on a sequence of frames, each from the primary guest,
 * the secondary guest or the client, with a failover and a checkpoint
 * among them. A frame renumbered keeps its length and its parse, and its
 * checksum is good; a held frame comes back once, renumbered, parsed as
 * it was; at the end nothing is left allocated.
 *
 * Input: ops, each one byte (its value mod 5: a frame from the primary,
 * the secondary or the client; a failover; a checkpoint), a frame's op
 * followed by its le16 length and its bytes (cut at the end of the
 * input). */
#include "config.h"

#include <string.h>

#include "fuzz-util.h"
#include "proxy/checksum.h"
#include "proxy/datapath/ifsock.h"
#include "proxy/datapath/rewrite.h"
#include "proxy/frame.h"

struct run {
    unsigned ready;
};

/* A frame the rewriter wrote: it parses as it did, with a good checksum. */
static void check_written(const uint8_t *frame, size_t len, const struct colo_frame *before)
{
    struct colo_frame f;
    FUZZ_CHECK(colo_frame_parse(frame, len, &f) == COLO_DROP_NONE);
    FUZZ_CHECK(f.l4 == before->l4 && f.payload == before->payload && f.ip_end == before->ip_end);
    uint8_t copy[COLO_IF_FRAME_MAX];
    memcpy(copy, frame, len);
    FUZZ_CHECK(colo_l4_checksum_fill(copy, &f) && memcmp(copy, frame, len) == 0);
}

static void on_ready(void *opaque, const uint8_t *frame, size_t len)
{
    struct run *run = opaque;
    struct colo_frame f;
    FUZZ_CHECK(len <= COLO_IF_FRAME_MAX && colo_frame_parse(frame, len, &f) == COLO_DROP_NONE);
    check_written(frame, len, &f);
    run->ready++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run run = { 0 };
    colo_rewriter *r;
    uint8_t buf[COLO_IF_FRAME_MAX];

    FUZZ_CHECK(colo_rewriter_new(on_ready, &run, &r) == 0);
    for (size_t i = 0; i < size;) {
        uint8_t op = data[i++] % 5;
        if (op == 3) {
            colo_rewriter_failover(r);
            continue;
        }
        if (op == 4) {
            colo_rewriter_checkpoint(r);
            continue;
        }
        if (size - i < 2)
            break;
        size_t len = (size_t)data[i] | (size_t)data[i + 1] << 8;
        i += 2;
        len = len < size - i ? len : size - i;
        len = len < sizeof(buf) ? len : sizeof(buf);
        memcpy(buf, data + i, len);
        i += len;
        struct colo_frame f;
        if (colo_frame_parse(buf, len, &f) != COLO_DROP_NONE)
            continue;
        struct colo_rewrite_counters a, b;
        colo_rewriter_counters(r, &a);
        unsigned ready = run.ready;
        int held = 0;
        if (op == 0)
            colo_rewrite_from_primary(r, buf, &f);
        else if (op == 1)
            held = colo_rewrite_from_secondary(r, buf, len, &f);
        else
            colo_rewrite_to_secondary(r, buf, &f);
        colo_rewriter_counters(r, &b);
        FUZZ_CHECK(held == 0 || held == 1);
        FUZZ_CHECK(b.held == a.held + (unsigned)held);
        /* A held frame comes back only when the primary's SYN-ACK gives
         * the offsets. */
        FUZZ_CHECK(run.ready == ready || op == 0);
        if (b.rewritten_from_secondary + b.rewritten_to_secondary >
            a.rewritten_from_secondary + a.rewritten_to_secondary + (run.ready - ready))
            check_written(buf, len, &f);
    }
    colo_rewriter_free(r);
    return 0;
}
