/* digest.c - the guest digest of digest.h (SHA-256 through OpenSSL EVP),
 * and the generic colo_be_digest() that computes it through a backend's
 * map() and context_get() when the backend has no digest op of its own. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/evp.h>

#include "backend.h"
#include "colo-internal.h"
#include "digest.h"

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

static void colo_digest_freep(colo_digest **d) { colo_digest_free(*d); }

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

#define DIGEST_BATCH 1024

/* The generic path: every pfn through map(), frames that cannot be mapped
 * skipped (as zero pages are), then the context. */
static int digest_generic(colo_backend *be, colo_dom *d, uint8_t out[COLO_DIGEST_LEN])
{
    _cleanup_(colo_digest_freep) colo_digest *dg = NULL;
    _cleanup_free_ uint8_t *ctxbuf = NULL;
    struct colo_domain_info info;
    uint64_t pfns[DIGEST_BATCH];
    void *pages[DIGEST_BATCH];
    int err[DIGEST_BATCH];
    int r;

    r = colo_be_domain_info(be, d, &info);
    if (r < 0)
        return r;
    r = colo_digest_new(&dg);
    if (r < 0)
        return LOG_ERRNO(be->ctx, r, "digest: cannot set up SHA-256");
    for (uint64_t base = 0; base < info.nr_pages; base += DIGEST_BATCH) {
        unsigned n = (unsigned)MIN((uint64_t)DIGEST_BATCH, info.nr_pages - base);
        colo_mapping *m = NULL;

        for (unsigned i = 0; i < n; i++)
            pfns[i] = base + i;
        r = colo_be_map(be, d, pfns, n, PROT_READ, pages, err, &m);
        if (r < 0)
            return r;
        for (unsigned i = 0; i < n; i++)
            if (err[i] == 0 && pages[i])
                colo_digest_page(dg, pfns[i], pages[i]);
        colo_be_unmap(be, d, m);
    }
    ssize_t len = colo_be_context_get(be, d, &ctxbuf);
    if (len < 0)
        return (int)len;
    colo_digest_context(dg, ctxbuf, (size_t)len);
    colo_digest_final(dg, out);
    return 0;
}

int colo_be_digest(colo_backend *be, colo_dom *d, uint8_t out[32])
{
    if (!d || !out)
        return -EINVAL;
    if (be->ops->digest)
        return be->ops->digest(be, d, out);
    return digest_generic(be, d, out);
}
