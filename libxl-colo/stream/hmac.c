/* hmac.c - HMAC-SHA256 over OpenSSL 3's EVP_MAC (hmac.h).
 *
 * A colo_hmac is an EVP_MAC_CTX. Keying it hashes the inner and outer pads
 * once; EVP_MAC_init() with a NULL key then restarts a message from those
 * saved states (the provider's "just reinit" path), which is what makes
 * colo_hmac_reset() cheap. */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "stream/hmac.h"
#include "macro.h"

static inline EVP_MAC_CTX *mctx(const colo_hmac *h) { return (EVP_MAC_CTX *)h; }

/* OpenSSL reported a failure: drop its queue so it cannot surface later
 * under another call. */
static int ossl_fail(void)
{
    ERR_clear_error();
    return -EIO;
}

int colo_hmac_new(const void *key, size_t keylen, colo_hmac **out)
{
    static const unsigned char nokey[1];
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return ossl_fail();
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    if (!ctx)
        return -ENOMEM;
    if (!EVP_MAC_init(ctx, keylen ? key : nokey, keylen, params)) {
        EVP_MAC_CTX_free(ctx);
        return ossl_fail();
    }
    *out = (colo_hmac *)ctx;
    return 0;
}

int colo_hmac_dup(const colo_hmac *h, colo_hmac **out)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(mctx(h));
    if (!ctx)
        return -ENOMEM;
    *out = (colo_hmac *)ctx;
    return 0;
}

void colo_hmac_free(colo_hmac *h)
{
    EVP_MAC_CTX_free(mctx(h)); /* NULL is fine; the pads are cleansed */
}

int colo_hmac_reset(colo_hmac *h)
{
    return EVP_MAC_init(mctx(h), NULL, 0, NULL) ? 0 : ossl_fail();
}

int colo_hmac_update(colo_hmac *h, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    return EVP_MAC_update(mctx(h), data, len) ? 0 : ossl_fail();
}

int colo_hmac_updatev(colo_hmac *h, const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        int r = colo_hmac_update(h, iov[i].iov_base, iov[i].iov_len);
        if (r < 0)
            return r;
    }
    return 0;
}

int colo_hmac_final(colo_hmac *h, uint8_t tag[COLO_HMAC_LEN])
{
    size_t n = 0;

    if (!EVP_MAC_final(mctx(h), tag, &n, COLO_HMAC_LEN))
        return ossl_fail();
    return n == COLO_HMAC_LEN ? 0 : -EIO;
}

int colo_hmac_sha256(const void *key, size_t keylen, const struct iovec *iov,
                     int iovcnt, uint8_t tag[COLO_HMAC_LEN])
{
    _cleanup_hmac_ colo_hmac *h = NULL;
    int r;

    r = colo_hmac_new(key, keylen, &h);
    if (r < 0)
        return r;
    r = colo_hmac_updatev(h, iov, iovcnt);
    if (r < 0)
        return r;
    return colo_hmac_final(h, tag);
}

bool colo_hmac_equal(const uint8_t a[COLO_HMAC_LEN], const uint8_t b[COLO_HMAC_LEN])
{
    return CRYPTO_memcmp(a, b, COLO_HMAC_LEN) == 0;
}
