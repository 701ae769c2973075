/* digest.c - the guest digest of digest.h: SHA-256 through OpenSSL's EVP
 * interface. Standalone (no context, no logging): colo-simguest builds it
 * in too, so that the guest's own HASH is this very code. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "backend/backend.h"
#include "backend/digest.h"

struct colo_digest {
    EVP_MD_CTX *md;
};

int colo_digest_new(colo_digest **out)
{
    colo_digest *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->md = EVP_MD_CTX_new();
    if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
        colo_digest_free(d);
        return -ENOMEM;
    }
    *out = d;
    return 0;
}

void colo_digest_free(colo_digest *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->md);
    free(d);
}

static void put_le64(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* SHA-256 updates cannot fail for in-memory input with a software
 * implementation; the API keeps them void like the rest of digest.h. */
void colo_digest_page(colo_digest *d, uint64_t pfn, const void *page)
{
    uint8_t le[8];

    if (colo_page_is_zero(page))
        return;
    put_le64(le, pfn);
    EVP_DigestUpdate(d->md, le, sizeof(le));
    EVP_DigestUpdate(d->md, page, COLO_PAGE_SIZE);
}

void colo_digest_context(colo_digest *d, const void *ctx, size_t len)
{
    uint8_t le[8];

    put_le64(le, len);
    EVP_DigestUpdate(d->md, le, sizeof(le));
    if (len)
        EVP_DigestUpdate(d->md, ctx, len);
}

void colo_digest_final(colo_digest *d, uint8_t out[COLO_DIGEST_LEN])
{
    unsigned n = 0;

    if (EVP_DigestFinal_ex(d->md, out, &n) != 1 || n != COLO_DIGEST_LEN)
        memset(out, 0, COLO_DIGEST_LEN);
}

bool colo_page_is_zero(const void *page)
{
    const uint64_t *p = page;

    /* 64 bytes a step, ORed: the compiler turns this into vector code, and a
     * written page usually fails on the first line. */
    for (size_t i = 0; i < COLO_PAGE_SIZE / sizeof(*p); i += 8)
        if (p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] |
            p[i + 6] | p[i + 7])
            return false;
    return true;
}

void colo_digest_hex(const uint8_t digest[COLO_DIGEST_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < COLO_DIGEST_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[2 * COLO_DIGEST_LEN] = '\0';
}
