/* bitmap.h - pfn bitmaps in unsigned long words, as Xen's log-dirty uses. */
#ifndef COLO_BITMAP_H
#define COLO_BITMAP_H

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COLO_BITS_PER_LONG (sizeof(unsigned long) * CHAR_BIT)

static inline size_t colo_bitmap_longs(uint64_t nbits)
{
    return (nbits + COLO_BITS_PER_LONG - 1) / COLO_BITS_PER_LONG;
}

static inline unsigned long *colo_bitmap_alloc(uint64_t nbits)
{
    return calloc(colo_bitmap_longs(nbits) ? colo_bitmap_longs(nbits) : 1,
                  sizeof(unsigned long));
}

static inline void colo_bitmap_set(unsigned long *b, uint64_t bit)
{
    b[bit / COLO_BITS_PER_LONG] |= 1ul << (bit % COLO_BITS_PER_LONG);
}

static inline int colo_bitmap_test(const unsigned long *b, uint64_t bit)
{
    return (b[bit / COLO_BITS_PER_LONG] >> (bit % COLO_BITS_PER_LONG)) & 1;
}

static inline void colo_bitmap_clear_all(unsigned long *b, uint64_t nbits)
{
    memset(b, 0, colo_bitmap_longs(nbits) * sizeof(unsigned long));
}

static inline void colo_bitmap_fill(unsigned long *b, uint64_t nbits)
{
    size_t n = colo_bitmap_longs(nbits);
    memset(b, 0xff, n * sizeof(unsigned long));
    if (nbits % COLO_BITS_PER_LONG)
        b[n - 1] = (1ul << (nbits % COLO_BITS_PER_LONG)) - 1;
}

/* dst |= src; returns the number of bits set in dst afterwards. */
static inline uint64_t colo_bitmap_or(unsigned long *dst, const unsigned long *src,
                                      uint64_t nbits)
{
    uint64_t n = 0;
    for (size_t i = 0; i < colo_bitmap_longs(nbits); i++) {
        dst[i] |= src[i];
        n += (uint64_t)__builtin_popcountl(dst[i]);
    }
    return n;
}

static inline uint64_t colo_bitmap_weight(const unsigned long *b, uint64_t nbits)
{
    uint64_t n = 0;
    for (size_t i = 0; i < colo_bitmap_longs(nbits); i++)
        n += (uint64_t)__builtin_popcountl(b[i]);
    return n;
}

/* Append the set bits of b, from *cursor on, to pfns[] (at most max), clearing
 * them; returns how many. *cursor advances so calls walk the map once. */
static inline unsigned colo_bitmap_take(unsigned long *b, uint64_t nbits,
                                        uint64_t *cursor, uint64_t *pfns,
                                        unsigned max)
{
    unsigned n = 0;
    size_t nl = colo_bitmap_longs(nbits);
    for (size_t i = *cursor / COLO_BITS_PER_LONG; i < nl && n < max; i++) {
        while (b[i] && n < max) {
            unsigned bit = (unsigned)__builtin_ctzl(b[i]);
            b[i] &= b[i] - 1;
            pfns[n++] = i * COLO_BITS_PER_LONG + bit;
        }
        *cursor = i * COLO_BITS_PER_LONG;
    }
    return n;
}

#endif
