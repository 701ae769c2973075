/* packet.c - a held frame and its flow's queue (packet.h). */
#include "config.h"

#include <string.h>

#include "proxy/packet.h"

struct colo_pkt *colo_pkt_new(struct colo_budget *b, uint32_t len, int *r)
{
    size_t size = sizeof(struct colo_pkt) + len;
    struct colo_pkt *p = colo_budget_alloc(b, size, r);

    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->charge = size;
    p->len = len;
    p->frames = 1;
    return p;
}

void colo_pkt_free(struct colo_budget *b, struct colo_pkt *p)
{
    if (p)
        colo_budget_free(b, p, p->charge);
}

void colo_pkt_push(struct colo_pkt_queue *q, struct colo_pkt *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->n++;
}

struct colo_pkt *colo_pkt_pop(struct colo_pkt_queue *q)
{
    struct colo_pkt *p = q->head;

    if (p) {
        q->head = p->next;
        if (!q->head)
            q->tail = NULL;
        p->next = NULL;
        q->n--;
    }
    return p;
}
