/* fuzz-frame: the Ethernet/IP/TCP/UDP/ICMP parser (proxy/frame.c) on any
 * bytes, copied to a buffer of their exact length. A frame taken keeps
 * every offset it gives within its bytes. */
#include "config.h"

#include <string.h>

#include "fuzz-util.h"
#include "proxy/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct colo_frame f;
    uint8_t *d = malloc(size ? size : 1);

    FUZZ_CHECK(d);
    memcpy(d, data, size);
    enum colo_drop_cause r = colo_frame_parse(d, size, &f);
    FUZZ_CHECK(r < COLO_DROP__MAX && colo_drop_cause_name(r)[0] != '?');
    if (r == COLO_DROP_NONE) {
        FUZZ_CHECK(f.len == size && f.l3 <= f.len && f.ip_end <= f.len);
        if (f.ip != COLO_L3_NONE) {
            FUZZ_CHECK(f.ethertype == (f.ip == COLO_L3_IPV4 ? COLO_ETH_IPV4 : COLO_ETH_IPV6));
            FUZZ_CHECK(f.l3 + f.ip_hlen <= f.ip_end && f.l4 == f.l3 + f.ip_hlen);
            if (f.frag) {
                FUZZ_CHECK(f.frag_data <= f.ip_end);
                FUZZ_CHECK(f.frag_off + (f.ip_end - f.frag_data) <= 65535);
            } else {
                FUZZ_CHECK(f.l4 + f.l4_hlen == f.payload);
                FUZZ_CHECK(f.payload + f.payload_len == f.ip_end);
            }
            /* Past the IP packet: only zeros, and only as padding. */
            for (uint32_t i = f.ip_end; i < f.len; i++)
                FUZZ_CHECK(d[i] == 0 && f.len <= 64);
        }
    }
    free(d);
    return 0;
}
