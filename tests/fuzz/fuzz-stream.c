/* fuzz-stream: the record stream's receiving side (stream/stream.c,
 * stream-handshake.c, proto.c) on what a peer sends: the handshake as
 * either end, with a key or without, then records until the stream fails.
 *
 * Input: one byte of mode, then the peer's bytes. Mode bit 0: we hold a
 * key; bit 1: we are the client (else the server); bit 2: records are
 * read whole into a 4 KiB buffer (colo_stream_recv) rather than header
 * and then body into a buffer of exactly its length. The key's tags
 * depend on our random nonce, so keyed runs stop at the peer's proof;
 * the records after the handshake are the keyless ones, where libFuzzer
 * can meet the CRC32C. */
#include "config.h"

#include <string.h>

#include "fuzz-util.h"
#include "stream/stream.h"

#define RECV_CAP 4096

static const uint8_t key[32] = "fuzz-key-0123456789abcdef-fuzzed";

static void read_records(colo_stream *s, bool whole, size_t input)
{
    /* Each record takes at least its 16-byte header of the input. */
    for (size_t n = 0; n <= input / COLO_REC_HDR_LEN; n++) {
        struct colo_rec_hdr h;
        int r;
        if (whole) {
            uint8_t buf[RECV_CAP];
            r = colo_stream_recv(s, &h, buf, sizeof(buf), 1000);
            if (r == 0)
                FUZZ_CHECK(h.length <= sizeof(buf));
        } else {
            r = colo_stream_recv_hdr(s, &h, 1000);
            if (r < 0)
                break;
            FUZZ_CHECK(h.length <= colo_rec_max_length(h.type));
            FUZZ_CHECK(!(h.flags & ~colo_rec_valid_flags(h.type)));
            uint8_t *body = malloc(h.length ? h.length : 1);
            FUZZ_CHECK(body);
            r = colo_stream_recv_body(s, &h, body, 1000);
            free(body);
        }
        if (r < 0)
            break;
        FUZZ_CHECK(h.type != COLO_REC_HELLO && h.type != COLO_REC_AUTH &&
                   h.type != COLO_REC_ERROR);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    libxlcolo_ctx *ctx = fuzz_ctx();
    colo_stream *s = NULL;
    unsigned version = 0;
    int peer, r;

    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    int fd = fuzz_socket(data + 1, size - 1, &peer);
    FUZZ_CHECK(colo_stream_new(ctx, fd, &s) == 0);
    const uint8_t *k = mode & 1 ? key : NULL;
    if (mode & 2)
        r = colo_stream_handshake_client(s, k, k ? sizeof(key) : 0, 1000, &version);
    else
        r = colo_stream_handshake_server(s, k, k ? sizeof(key) : 0, 1000, &version);
    if (r == 0) {
        FUZZ_CHECK(version >= COLO_STREAM_VERSION_MIN && version <= COLO_STREAM_VERSION_MAX);
        read_records(s, mode & 4, size);
    }
    int err;
    const char *text = colo_stream_peer_error(s, &err);
    if (text)
        FUZZ_CHECK(strlen(text) <= COLO_MAX_ERROR_BODY && err >= 0 && err <= 4095);
    colo_stream_free(s);
    close(peer);
    return 0;
}
