/* proto.c - what the stream knows about each record type: its name, the
 * bound on its body and the flags it may carry (proto.h, docs/protocol.md). */
#include "config.h"

#include "macro.h"
#include "stream/proto.h"

struct rec_info {
    uint16_t type;
    uint16_t flags;   /* flag bits valid on this type */
    uint64_t max_len; /* bound on the body, checked before allocation */
    const char *name;
};

#define EPOCH_BODY sizeof(struct colo_wire_epoch)

static const struct rec_info rec_info[] = {
    { COLO_REC_HELLO, 0, sizeof(struct colo_hello), "HELLO" },
    { COLO_REC_AUTH, 0, COLO_TAG_LEN, "AUTH" },
    { COLO_REC_DOMAIN_CONFIG, 0, COLO_MAX_CONFIG_BODY, "DOMAIN_CONFIG" },
    { COLO_REC_PAGES, COLO_REC_F_PRECOPY, COLO_MAX_PAGES_BODY, "PAGES" },
    { COLO_REC_CONTEXT, 0, COLO_MAX_CONTEXT_BODY, "CONTEXT" },
    { COLO_REC_DEVSTATE, 0, COLO_MAX_DEVSTATE_BODY, "DEVSTATE" },
    { COLO_REC_CHECKPOINT_READY, 0, EPOCH_BODY, "CHECKPOINT_READY" },
    { COLO_REC_CHECKPOINT_REQUEST, 0, EPOCH_BODY, "CHECKPOINT_REQUEST" },
    { COLO_REC_CHECKPOINT_REPLY, 0, EPOCH_BODY, "CHECKPOINT_REPLY" },
    { COLO_REC_VMSTATE_SEND, 0, EPOCH_BODY, "VMSTATE_SEND" },
    { COLO_REC_VMSTATE_SIZE, 0, sizeof(struct colo_wire_vmstate_size), "VMSTATE_SIZE" },
    { COLO_REC_VMSTATE_RECEIVED, 0, EPOCH_BODY, "VMSTATE_RECEIVED" },
    { COLO_REC_VMSTATE_LOADED, 0, EPOCH_BODY, "VMSTATE_LOADED" },
    { COLO_REC_HEARTBEAT, 0, EPOCH_BODY, "HEARTBEAT" },
    { COLO_REC_STOP, 0, EPOCH_BODY, "STOP" },
    { COLO_REC_ERROR, 0, COLO_MAX_ERROR_BODY, "ERROR" },
    { COLO_REC_DISK_DATA, 0, COLO_MAX_DISK_DATA_BODY, "DISK_DATA" },
    { COLO_REC_NET_CLIENT, 0, COLO_MAX_NET_FRAME_BODY, "NET_CLIENT" },
    { COLO_REC_NET_PRIMARY, 0, COLO_MAX_NET_FRAME_BODY, "NET_PRIMARY" },
    { COLO_REC_NET_SECONDARY, 0, COLO_MAX_NET_FRAME_BODY, "NET_SECONDARY" },
};

static const struct rec_info *rec_lookup(uint16_t type)
{
    for (size_t i = 0; i < ARRAY_SIZE(rec_info); i++)
        if (rec_info[i].type == type)
            return &rec_info[i];
    return NULL;
}

uint64_t colo_rec_max_length(uint16_t type)
{
    const struct rec_info *ri = rec_lookup(type);
    return ri ? ri->max_len : 0;
}

uint16_t colo_rec_valid_flags(uint16_t type)
{
    const struct rec_info *ri = rec_lookup(type);
    return ri ? ri->flags : 0;
}

const char *colo_rec_type_name(uint16_t type)
{
    const struct rec_info *ri = rec_lookup(type);
    return ri ? ri->name : "UNKNOWN";
}
