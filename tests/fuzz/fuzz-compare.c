/* fuzz-compare: the NIC compare engine (proxy/compare.c, and below it
 * frame.c, packet.c, frag.c, flow.c, tcp_stream.c, normalise.c) on a
 * sequence of calls: frames from either guest, ticks and checkpoints,
 * with small limits so that every bound is met. After each call the
 * counters must add up (compare.h); at the end, with every frame gone,
 * the memory is back.
 *
 * Input: ops, each one byte (low 2 bits: primary frame, secondary frame,
 * tick, checkpoint done; the rest: milliseconds that pass first), a
 * frame's op followed by its le16 length and its bytes (cut at the end
 * of the input). */
#include "config.h"

#include <string.h>

#include "fuzz-util.h"
#include "proxy/compare.h"
#include "proxy/frame.h"

#define MS 1000000ull

struct run {
    size_t released;
    unsigned checkpoints;
};

static void on_release(void *opaque, const uint8_t *frame, size_t len)
{
    struct run *run = opaque;
    uint8_t sum = 0;

    FUZZ_CHECK(frame && len > 0 && len <= COLO_FRAME_MAX);
    for (size_t i = 0; i < len; i++) /* every byte readable */
        sum ^= frame[i];
    (void)sum;
    run->released++;
}

static void on_checkpoint(void *opaque, enum colo_checkpoint_reason reason)
{
    struct run *run = opaque;

    FUZZ_CHECK(reason > COLO_CKPT_NONE && reason < COLO_CKPT__MAX);
    run->checkpoints++;
}

/* Every frame given is dropped, held or done (compare.h). */
static void check_counters(const colo_compare *c, const struct run *run)
{
    struct colo_compare_counters n;

    colo_compare_get_counters(c, &n);
    for (int side = 0; side < 2; side++) {
        uint64_t drops = 0;
        for (int k = 0; k < COLO_DROP__MAX; k++)
            drops += n.drops[side][k];
        uint64_t done = side == COLO_PRIMARY ? n.released : n.secondary_done;
        FUZZ_CHECK(n.frames_in[side] == drops + n.frames_held[side] + done);
    }
    FUZZ_CHECK(n.released == run->released && n.checkpoints == run->checkpoints);
    FUZZ_CHECK(n.compared <= n.released && n.mem_used <= n.mem_limit);
    FUZZ_CHECK(n.mem_peak <= n.mem_limit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run run = { 0 };
    struct colo_compare_config cfg = {
        .release = on_release, .checkpoint = on_checkpoint, .opaque = &run,
        .max_mem = 1 << 20, .max_flow_mem = 128 << 10, .max_flows = 16, .frag_max = 4,
        .timeout_ms = 50, .frag_timeout_ms = 20, .idle_ms = 500, .closed_ms = 100,
        .hash_seed = 0x9e3779b97f4a7c15ull,
    };
    colo_compare *c = NULL;
    uint64_t now = MS;

    FUZZ_CHECK(colo_compare_new(&cfg, &c) == 0);
    struct colo_compare_counters start;
    colo_compare_get_counters(c, &start);
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        now += (uint64_t)(op >> 2) * MS;
        int r = 0;
        switch (op & 3) {
        case 0:
        case 1: {
            size_t len = 0;
            if (i + 2 <= size)
                len = (size_t)data[i] | (size_t)data[i + 1] << 8;
            i = MIN(i + 2, size);
            len = MIN(len, size - i);
            /* A frame of exactly its length, as a socket reader has it. */
            uint8_t *frame = malloc(len ? len : 1);
            FUZZ_CHECK(frame);
            memcpy(frame, data + i, len);
            i += len;
            r = (op & 3) == 0 ? colo_compare_primary(c, frame, len, now)
                              : colo_compare_secondary(c, frame, len, now);
            free(frame);
            FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EMSGSIZE || r == -ENOSPC ||
                       r == -EAGAIN);
            break;
        }
        case 2:
            FUZZ_CHECK(colo_compare_tick(c, now) == 0);
            break;
        case 3:
            FUZZ_CHECK(colo_compare_checkpoint_done(c, now) == 0);
            break;
        }
        check_counters(c, &run);
    }
    /* A checkpoint releases what the primary holds; time ends the rest. */
    FUZZ_CHECK(colo_compare_checkpoint_done(c, now) == 0);
    now += 1000 * MS;
    FUZZ_CHECK(colo_compare_tick(c, now) == 0);
    now += 1000 * MS;
    FUZZ_CHECK(colo_compare_tick(c, now) == 0);
    check_counters(c, &run);
    struct colo_compare_counters end;
    colo_compare_get_counters(c, &end);
    FUZZ_CHECK(end.frames_held[COLO_PRIMARY] == 0 && end.frames_held[COLO_SECONDARY] == 0);
    FUZZ_CHECK(end.flows == 0 && end.mem_used == start.mem_used);
    colo_compare_free(c);
    return 0;
}
