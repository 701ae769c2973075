/*
 * crc32c.h - CRC-32C (Castagnoli, iSCSI), the stream's integrity check.
 *
 * colo_crc32c(0, buf, len) is the standard CRC-32C of buf ("123456789"
 * gives 0xe3069283). The value chains: passing the CRC of a prefix as crc
 * continues it, so colo_crc32c(colo_crc32c(0, a, n), b, m) is the CRC of
 * a followed by b.
 *
 * On x86-64 with SSE4.2 the CRC32 instruction is used, three streams
 * interleaved on long buffers (with PCLMULQDQ to join them); elsewhere a
 * table. The choice is made per call from the CPU features libgcc caches at
 * start-up: there is no state of our own.
 */
#ifndef COLO_CRC32C_H
#define COLO_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t colo_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, for tests and the bench. colo_crc32c_hw() may
 * only be called when colo_crc32c_hw_available() is true. */
uint32_t colo_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t colo_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool colo_crc32c_hw_available(void);

#endif
