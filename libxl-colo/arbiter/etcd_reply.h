/*
 * etcd_reply.h - reading etcd v3's JSON gateway replies, and nothing else:
 * no I/O, so that the fuzzer and the unit tests drive it as the driver
 * does (etcd.c). The gateway writes proto3 JSON: an int64 is a decimal
 * string, a field at its zero value is left out (a failed txn has no
 * "succeeded", a dead lease's keepalive no "TTL"), and bytes are base64.
 * Every refusal is -EBADMSG with one line in err naming the problem; an
 * error object from etcd ({"error":..,"code":N,"message":..}) is -EREMOTEIO
 * with its message.
 */
#ifndef COLO_ETCD_REPLY_H
#define COLO_ETCD_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_REPLY_MAX (64u << 10)  /* a reply longer than this is refused */
#define ETCD_VALUE_MAX 127          /* our values: "HOST GEN" */

/* One key as a range saw it. */
struct etcd_kv {
    bool present;
    char value[ETCD_VALUE_MAX + 1]; /* decoded, NUL-terminated */
    uint64_t version;               /* puts since its creation */
    int64_t lease;                  /* 0: none */
};

/* /v3/lease/grant, or /v3/lease/keepalive (its {"result":{..}}): the
 * lease's ID and TTL in seconds (0: the lease is gone). */
int etcd_reply_lease(const char *text, bool keepalive, int64_t *id, int64_t *ttl,
                     char *err, size_t errsize);

/* /v3/lease/timetolive: TTL left in seconds (-1: the lease is gone). */
int etcd_reply_ttl(const char *text, int64_t *ttl, char *err, size_t errsize);

/* /v3/kv/txn: whether it succeeded, and the first n responses, each a
 * response_range of one key (kvs[i]) or a response_put (kvs[i] absent). */
int etcd_reply_txn(const char *text, bool *succeeded, struct etcd_kv *kvs, size_t n,
                   char *err, size_t errsize);

/* Any other reply that must simply not be an error (/v3/lease/revoke). */
int etcd_reply_ok(const char *text, char *err, size_t errsize);

/* base64 of len bytes into out[size] (NUL-terminated): -ENOSPC if short. */
int etcd_b64_encode(const void *in, size_t len, char *out, size_t size);

#endif
