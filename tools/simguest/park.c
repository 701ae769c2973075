/* park.c - where the guest's threads (the vCPUs, the disk writer) wait:
 * parked while the guest is paused, or asleep until a due time unless a
 * pause or stop comes. guest.c and disk.c both call it. */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "colo-time.h"
#include "guest.h"

bool guest_park(struct guest *g)
{
    bool go;

    pthread_mutex_lock(&g->lock);
    g->parked++;
    pthread_cond_broadcast(&g->parked_cv);
    while (atomic_load(&g->pause_req) && !atomic_load(&g->stop))
        pthread_cond_wait(&g->wake, &g->lock);
    g->parked--;
    go = !atomic_load(&g->stop);
    pthread_mutex_unlock(&g->lock);
    return go;
}

/* Rate limiting: sleep until `due` (CLOCK_MONOTONIC ns) on the condition a
 * pause or a stop broadcasts, so neither waits for the sleep to end. */
void guest_sleep_until(struct guest *g, uint64_t due)
{
    struct timespec ts = {
        .tv_sec = (time_t)(due / COLO_NS_PER_SEC),
        .tv_nsec = (long)(due % COLO_NS_PER_SEC),
    };

    pthread_mutex_lock(&g->lock);
    while (!atomic_load(&g->pause_req) && !atomic_load(&g->stop))
        if (pthread_cond_timedwait(&g->wake, &g->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&g->lock);
}
