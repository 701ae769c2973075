/*
 * arbiter.h - who owns a protected guest: the third party that decides
 * which copy may run (docs/operator-guide.md, "Ownership").
 *
 * One key per guest, keyed by its UUID under a prefix: the owning host and
 * a generation that grows at every change of owner. A live owner holds a
 * lease with a TTL and renews it; a claim is one atomic transaction on the
 * arbiter, so two sides can never both win it:
 *   - the primary claims at start (no live owner but itself) and, when it
 *     loses its secondary, claims again over its own live lease, which
 *     moves the generation past the one the secondary's checkpoints carry;
 *   - the secondary claims before it goes live, only once the owner's lease
 *     has expired, and only from the generation its last checkpoint carried.
 * A side that finds the generation moved past its own has lost the guest.
 *
 * Like the backends, a table of ops (one driver today, etcd v3 on its
 * JSON gateway, in etcd.c), chosen by the URL's scheme. Every op returns 0
 * or a negative errno, with one logged line; the ones callers tell apart:
 *   -EBUSY        another host holds a live lease (*owner says who)
 *   -ESTALE       the generation is not the one expected (*owner: the new)
 *   -ENOLCK       renew: our lease is gone (expired or revoked)
 *   -EHOSTUNREACH no endpoint answered (each tried once)
 *   -EBADMSG      a reply we cannot read (its problem named)
 * The ops may be called from two threads (the lease keeper's renewals and
 * the protection's claims): the wrappers in arbiter.c serialise them.
 */
#ifndef COLO_ARBITER_H
#define COLO_ARBITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "libxlcolo.h"

#define COLO_ARBITER_HOST_MAX 63   /* a host's name in the key */
#define COLO_UUID_STR_LEN 36       /* 8-4-4-4-12 */

struct colo_owner {
    bool live;                      /* a lease holds the owner key now */
    char host[COLO_ARBITER_HOST_MAX + 1]; /* the owner; not live: the last one ("" never) */
    uint64_t generation;            /* the last generation; 0: never owned */
    int64_t lease_left_ms;          /* live: what the arbiter says remains, else 0 */
};

typedef struct colo_arbiter colo_arbiter;

struct colo_arbiter_ops {
    const char *scheme;             /* "etcd" */
    int (*open)(colo_arbiter *a);
    void (*close)(colo_arbiter *a);
    /* Who owns the guest, at which generation. */
    int (*query)(colo_arbiter *a, struct colo_owner *owner);
    /* Become the owner at expect_gen + 1 under a fresh lease. With
     * over_own, our own live lease at expect_gen may stand in the way (the
     * primary moving the generation on); else none may. */
    int (*claim)(colo_arbiter *a, uint64_t expect_gen, bool over_own,
                 struct colo_owner *owner);
    /* Keep our lease; *granted_ms: the TTL it has again. */
    int (*renew)(colo_arbiter *a, int64_t *granted_ms);
    /* Give the lease up (the owner key goes with it). */
    int (*release)(colo_arbiter *a);
};

struct colo_arbiter {
    libxlcolo_ctx *ctx;
    const struct colo_arbiter_ops *ops;
    pthread_mutex_t lock;           /* one request at a time */
    char endpoints[256];            /* the URL after "scheme://" */
    char prefix[128];
    char uuid[COLO_UUID_STR_LEN + 1];
    char host[COLO_ARBITER_HOST_MAX + 1];
    uint32_t ttl_ms;
    const char *ca_file, *cert_file, *key_file; /* TLS, the caller's */
    uint64_t generation;            /* ours, after a claim; 0 before */
    /* When our lease ends at the latest, by this host's monotonic clock:
     * the send time of the request that granted or renewed it, plus the
     * TTL granted. 0: we hold none. */
    uint64_t lease_deadline_ns;
    int64_t granted_ms;
    void *priv;                     /* the driver's */
};

/* What a protection tells its arbiter. */
struct colo_arbiter_params {
    const char *url;                /* "etcd://HOST:PORT[,HOST:PORT...]" */
    const char *prefix;             /* NULL: COLO_ARBITER_PREFIX */
    uint32_t ttl_ms;                /* 0: COLO_ARBITER_TTL_MS */
    const char *ca_file, *cert_file, *key_file;
    const char *uuid;               /* the guest's */
    const char *host;               /* this host's name in the key */
};

#define COLO_ARBITER_PREFIX "/xen-colo/"
#define COLO_ARBITER_TTL_MS 5000u

/* Check url, prefix and host before anything connects: 0, or -EINVAL with
 * one line in err naming the problem. */
int colo_arbiter_check(const struct colo_arbiter_params *p, char *err, size_t errsize);

/* Open the arbiter of p (which must pass colo_arbiter_check). No request
 * is made yet. */
int colo_arbiter_open(libxlcolo_ctx *ctx, const struct colo_arbiter_params *p,
                      colo_arbiter **out);
void colo_arbiter_close(colo_arbiter *a);

int colo_arbiter_query(colo_arbiter *a, struct colo_owner *owner);
int colo_arbiter_claim(colo_arbiter *a, uint64_t expect_gen, bool over_own,
                       struct colo_owner *owner);
int colo_arbiter_renew(colo_arbiter *a, int64_t *granted_ms);
int colo_arbiter_release(colo_arbiter *a);
/* Our lease's deadline (lease_deadline_ns), read under the lock. */
uint64_t colo_arbiter_deadline(colo_arbiter *a);

#endif
