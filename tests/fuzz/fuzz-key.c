/* fuzz-key: the key file reader (stream/key.c) on any content and any
 * permission bits. The file is a memfd, opened by its /proc path: no file
 * outlives a run.
 *
 * Input: le16 mode (its low 9 bits), then the file's content. */
#include "config.h"

#include <endian.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fuzz-util.h"
#include "stream/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    uint16_t mode;
    uint8_t *key = NULL;
    size_t keylen = 0;

    if (size < sizeof(mode))
        return 0;
    memcpy(&mode, data, sizeof(mode));
    mode = le16toh(mode) & 0777;
    data += sizeof(mode);
    size -= sizeof(mode);

    int fd = memfd_create("fuzz-key", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    FUZZ_CHECK(fchmod(fd, mode) == 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (colo_key_load(fuzz_ctx(), path, &key, &keylen) == 0) {
        FUZZ_CHECK(!(mode & 066)); /* group and others may only execute */
        FUZZ_CHECK(keylen >= 16 && keylen <= 4096 && keylen == size);
        FUZZ_CHECK(memcmp(key, data, keylen) == 0);
        colo_key_free(key, keylen);
    }
    close(fd);
    return 0;
}
