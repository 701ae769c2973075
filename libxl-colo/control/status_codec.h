/*
 * status_codec.h - libxlcolo_status as JSON: the one place its fields are
 * named.
 *
 * The control socket's reply to "status" is {"ok":true, FIELDS} and
 * `xl-colo status -j` prints {FIELDS}, where FIELDS are, in this order:
 *   "domain":"..","role":"primary|secondary","state":"protected|..",
 *   "mode":"remus|colo","failover":"none|..","backend":"..","epoch":N,
 *   "checkpoints":N,"last_pause_ns":N,"last_pages":N,"peer":"..","pid":N,
 *   "disks":[{"name":"xvdb","error":false,"desc":""}, ...],
 *   "ownership":{"owner":"..","generation":N,"lease_left_ms":N} (an arbiter),
 *   "proxy":{...} (a NIC comparison: colo-proxy --status's object)
 * Each JSON key is the name of the libxlcolo_status member it carries.
 * "disks" may be absent (no disks) when read, and is always written.
 *
 * The server (control.c), the client (client.c) and xl-colo use it;
 * xl-colo builds it in itself, so it needs only json.c and the public
 * libxlcolo_*_name() functions.
 */
#ifndef COLO_STATUS_CODEC_H
#define COLO_STATUS_CODEC_H

#include "json.h"
#include "libxlcolo.h"

/* Add st's fields to the open object j, in the order above. */
void colo_status_to_json(colo_json *j, const libxlcolo_status *st);

/* Read every field from obj (a parsed object; other members, such as
 * "ok", are ignored) into *st. Strict: each field present once, of its
 * type; a string that fits its member (domain 63 bytes, backend 15,
 * peer 79); role, state, mode and failover one of their names; numbers
 * unsigned decimal integers, pid at most INT_MAX. 0, or -EBADMSG with
 * err naming the first field in the order above that is wrong and what
 * is wrong with it; *st is untouched then. */
int colo_status_from_json(yajl_val obj, libxlcolo_status *st,
                          char *err, size_t errsize);

#endif
