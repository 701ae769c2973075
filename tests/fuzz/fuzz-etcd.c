/* fuzz-etcd: the arbiter's reply parser (arbiter/etcd_reply.c), as the
 * etcd driver calls it on what a gateway (or anyone on its address)
 * answers. The first byte picks the request the reply answers; the rest is
 * the reply's text, cut at the driver's bound. A refusal is -EBADMSG or
 * -EREMOTEIO (etcd's own error) with its line; a reply taken must give
 * values the driver can use as they are. */
#include "config.h"

#include <string.h>

#include "arbiter/etcd_reply.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[ETCD_REPLY_MAX + 2];
    char err[256];
    if (size < 1)
        return 0;
    size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    err[0] = '\0';

    int r;
    int64_t id = 0, ttl = 0;
    bool ok = false;
    struct etcd_kv kv[2];
    memset(kv, 0x5a, sizeof(kv)); /* whatever the parser leaves must not be read */
    switch (data[0] % 5) {
    case 0:
    case 1:
        r = etcd_reply_lease(text, data[0] % 5 == 1, &id, &ttl, err, sizeof(err));
        break;
    case 2:
        r = etcd_reply_ttl(text, &ttl, err, sizeof(err));
        break;
    case 3:
        r = etcd_reply_txn(text, &ok, kv, 2, err, sizeof(err));
        if (r == 0)
            for (int i = 0; i < 2; i++)
                if (kv[i].present)
                    FUZZ_CHECK(memchr(kv[i].value, 0, sizeof(kv[i].value)) != NULL);
        break;
    default:
        r = etcd_reply_ok(text, err, sizeof(err));
        break;
    }
    if (r < 0)
        FUZZ_CHECK((r == -EBADMSG || r == -EREMOTEIO) && err[0]);
    else
        FUZZ_CHECK(r == 0);
    return 0;
}
