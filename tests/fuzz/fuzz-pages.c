/* fuzz-pages: the check of a received PAGES body (stream/pages_codec.c),
 * the one thing between a peer's record and writes into guest memory.
 *
 * Input: le32 nr_pages (the guest's size), then the body. The body is
 * copied to a buffer of its exact length, 8-aligned as the engine's. */
#include "config.h"

#include <endian.h>
#include <string.h>

#include "fuzz-util.h"
#include "stream/pages_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct colo_pages_view v;
    uint32_t nr;

    if (size < sizeof(nr))
        return 0;
    memcpy(&nr, data, sizeof(nr));
    nr = le32toh(nr);
    size -= sizeof(nr);
    uint8_t *body = malloc(size ? size : 1);
    FUZZ_CHECK(body);
    memcpy(body, data + sizeof(nr), size);
    if (colo_pages_parse(fuzz_ctx(), body, size, nr, &v) == 0) {
        /* What the engine then relies on: every pfn in the guest, and the
         * data pages exactly filling the rest of the body. */
        FUZZ_CHECK(v.count >= 1 && v.count <= COLO_BATCH_PAGES && v.data_pages <= v.count);
        FUZZ_CHECK(v.data + (size_t)v.data_pages * COLO_PAGE_SIZE == body + size);
        uint32_t data_pages = 0;
        for (uint32_t i = 0; i < v.count; i++) {
            FUZZ_CHECK((v.pfns[i] & ~COLO_PFN_ZERO) < nr);
            data_pages += !(v.pfns[i] & COLO_PFN_ZERO);
        }
        FUZZ_CHECK(data_pages == v.data_pages);
        struct colo_pages_view w = colo_pages_view_at(body, v.count, v.data_pages);
        FUZZ_CHECK(w.pfns == v.pfns && w.data == v.data);
    }
    free(body);
    return 0;
}
