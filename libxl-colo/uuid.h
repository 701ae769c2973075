/* uuid.h - a guest's UUID, 16 bytes, and its 8-4-4-4-12 text: the key of
 * its ownership (arbiter/arbiter.h). */
#ifndef COLO_UUID_H
#define COLO_UUID_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define COLO_UUID_TEXT_LEN 36

static inline void colo_uuid_format(const uint8_t u[16], char out[COLO_UUID_TEXT_LEN + 1])
{
    snprintf(out, COLO_UUID_TEXT_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
             u[12], u[13], u[14], u[15]);
}

/* The 8-4-4-4-12 text, hex digits of either case; false if it is not. */
static inline bool colo_uuid_parse(const char *s, uint8_t u[16])
{
    unsigned k = 0;
    for (unsigned i = 0; i < COLO_UUID_TEXT_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
            continue;
        }
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
                c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return false;
        if (k % 2 == 0)
            u[k / 2] = (uint8_t)(v << 4);
        else
            u[k / 2] |= (uint8_t)v;
        k++;
    }
    return s[COLO_UUID_TEXT_LEN] == '\0';
}

static inline bool colo_uuid_is_null(const uint8_t u[16])
{
    for (int i = 0; i < 16; i++)
        if (u[i])
            return false;
    return true;
}

#endif
