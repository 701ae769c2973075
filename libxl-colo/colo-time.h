/*
 * colo-time.h - monotonic time and deadlines, for every layer (and for
 * colo-simguest, which builds sim-proto.c without the library).
 *
 * Times are CLOCK_MONOTONIC nanoseconds. A deadline is such a time, made by
 * colo_deadline_ms(); a negative timeout makes none (COLO_NO_DEADLINE: wait
 * for ever), which colo_ms_left() turns into poll()'s -1.
 */
#ifndef COLO_TIME_H
#define COLO_TIME_H

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define COLO_NS_PER_MS 1000000ull
#define COLO_NS_PER_SEC 1000000000ull
#define COLO_NO_DEADLINE UINT64_MAX

static inline uint64_t colo_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * COLO_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t colo_ms_to_ns(uint64_t ms)
{
    return ms * COLO_NS_PER_MS;
}

/* The deadline ms milliseconds from now; ms < 0: none. */
static inline uint64_t colo_deadline_ms(int64_t ms)
{
    return ms < 0 ? COLO_NO_DEADLINE : colo_now_ns() + colo_ms_to_ns((uint64_t)ms);
}

/* Milliseconds from now until deadline, rounded up (a poll() timeout that
 * does not wake early): 0 once it has passed, -1 for none. */
static inline int colo_ms_until(uint64_t now, uint64_t deadline)
{
    if (deadline == COLO_NO_DEADLINE)
        return -1;
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + COLO_NS_PER_MS - 1) / COLO_NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static inline int colo_ms_left(uint64_t deadline)
{
    return colo_ms_until(colo_now_ns(), deadline);
}

static inline bool colo_deadline_passed(uint64_t deadline)
{
    return deadline != COLO_NO_DEADLINE && colo_now_ns() >= deadline;
}

/* poll() one fd until it is ready for EVENTS or the deadline passes: 0,
 * -ETIMEDOUT, or poll's -errno. A deadline just passed still looks once
 * (timeout 0); EINTR looks again. */
static inline int colo_wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, colo_ms_left(deadline));
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return errno > 0 ? -errno : -EIO;
    }
}

#endif
