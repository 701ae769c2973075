/* net.c - TCP for the replication link (net.h). */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "colo-time.h"
#include "stream/net.h"

static void freeaddrinfop(struct addrinfo **ai)
{
    if (*ai)
        freeaddrinfo(*ai);
}

/* Best effort: a socket without them still works. Buffers are forced only
 * where we may (CAP_NET_ADMIN); a plain SO_RCVBUF would be clamped to
 * rmem_max and switch off autotuning, which does better. */
static void tune(int fd, bool buffers)
{
    int one = 1, size = COLO_NET_SOCKBUF;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (buffers) {
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
    }
}

static int resolve(libxlcolo_ctx *ctx, const char *host, uint16_t port, bool passive,
                   struct addrinfo **res)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
    };
    char service[8];
    int r;

    snprintf(service, sizeof(service), "%u", port);
    int g = getaddrinfo(host, service, &hints, res);
    switch (g) {
    case 0:
        return 0;
    case EAI_SYSTEM:
        return LOG_ERRNO(ctx, negative_errno(), "cannot resolve %s", host);
    case EAI_MEMORY:
        r = -ENOMEM;
        break;
    case EAI_AGAIN:
        r = -EAGAIN;
        break;
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_FAIL:
        r = -EHOSTUNREACH;
        break;
    default:
        r = -EINVAL;
        break;
    }
    colo_log(ctx, XTL_ERROR, -1, "cannot resolve %s: %s", host, gai_strerror(g));
    return r;
}

static int connect_one(const struct addrinfo *a, uint64_t deadline)
{
    _cleanup_close_ int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                                    a->ai_protocol);
    int err = 0, r;
    socklen_t len = sizeof(err);

    if (fd < 0)
        return negative_errno();
    tune(fd, true);
    if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            return negative_errno();
        r = colo_wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            return negative_errno();
        if (err)
            return -err;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return negative_errno();
    return TAKE_FD(fd);
}

int colo_net_connect(libxlcolo_ctx *ctx, const char *host, uint16_t port,
                     int timeout_ms)
{
    _cleanup_(freeaddrinfop) struct addrinfo *res = NULL;
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    int r = resolve(ctx, host, port, false, &res);

    if (r < 0)
        return r;
    /* A peer that is still starting refuses: try again, backing off, until
     * the deadline. Only the final failure is logged. */
    unsigned backoff_ms = 10;
    for (;;) {
        r = -EHOSTUNREACH;
        for (const struct addrinfo *a = res; a; a = a->ai_next) {
            r = connect_one(a, deadline);
            if (r >= 0 || r == -ETIMEDOUT)
                break;
        }
        if (r != -ECONNREFUSED || timeout_ms <= 0 ||
            colo_now_ns() + colo_ms_to_ns(backoff_ms) >= deadline)
            break;
        struct timespec ts = { .tv_nsec = (long)colo_ms_to_ns(backoff_ms) };
        nanosleep(&ts, NULL);
        backoff_ms = MIN(backoff_ms * 2, 500u);
    }
    if (r == -ETIMEDOUT)
        return LOG_ERRNO(ctx, r, "cannot connect to %s port %u within %d ms", host, port,
                         timeout_ms);
    if (r < 0)
        return LOG_ERRNO(ctx, r, "cannot connect to %s port %u", host, port);
    return r;
}

static int listen_one(int family, const struct sockaddr *sa, socklen_t salen, bool dual)
{
    _cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, v6only = !dual;

    if (fd < 0)
        return negative_errno();
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return negative_errno();
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
        return negative_errno();
    tune(fd, true); /* before listen(): accepted sockets inherit the buffers */
    if (bind(fd, sa, salen) < 0 || listen(fd, 8) < 0)
        return negative_errno();
    return TAKE_FD(fd);
}

int colo_net_listen(libxlcolo_ctx *ctx, const char *addr, uint16_t port)
{
    int r;

    if (!addr || !*addr || strcmp(addr, "*") == 0) {
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
                                    .sin6_addr = IN6ADDR_ANY_INIT };
        struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_ANY) };
        r = listen_one(AF_INET6, (struct sockaddr *)&in6, sizeof(in6), true);
        if (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL) /* a host without IPv6 */
            r = listen_one(AF_INET, (struct sockaddr *)&in4, sizeof(in4), false);
        if (r < 0)
            return LOG_ERRNO(ctx, r, "cannot listen on port %u", port);
        return r;
    }

    _cleanup_(freeaddrinfop) struct addrinfo *res = NULL;
    r = resolve(ctx, addr, port, true, &res);
    if (r < 0)
        return r;
    r = -EADDRNOTAVAIL;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        r = listen_one(a->ai_family, a->ai_addr, a->ai_addrlen, false);
        if (r >= 0)
            return r;
    }
    return LOG_ERRNO(ctx, r, "cannot listen on %s port %u", addr, port);
}

static void format_peer(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t outlen)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(out, outlen, "?");
    else if (ss->ss_family == AF_INET6)
        snprintf(out, outlen, "[%s]:%s", host, serv);
    else
        snprintf(out, outlen, "%s:%s", host, serv);
}

int colo_net_accept(libxlcolo_ctx *ctx, int lfd, int timeout_ms, char *peer,
                    size_t peerlen)
{
    uint64_t deadline = colo_deadline_ms(timeout_ms);

    for (;;) {
        int r = colo_wait_fd(lfd, POLLIN, deadline);
        if (r == -ETIMEDOUT)
            return LOG_ERRNO(ctx, r, "no connection within %d ms", timeout_ms);
        if (r < 0)
            return LOG_ERRNO(ctx, r, "waiting for a connection failed");

        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            /* Gone before we took it, or a signal: wait again. */
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ||
                errno == ECONNABORTED)
                continue;
            return LOG_ERRNO(ctx, negative_errno(), "accept failed");
        }
        tune(fd, false);
        if (peer && peerlen)
            format_peer(&ss, len, peer, peerlen);
        return fd;
    }
}

int colo_net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return negative_errno();
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;

    if (!*s)
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return -ERANGE;
    }
    if (v == 0)
        return -ERANGE;
    *port = (uint16_t)v;
    return 0;
}

int colo_net_parse_hostport(libxlcolo_ctx *ctx, const char *spec,
                            uint16_t default_port, char **host, uint16_t *port)
{
    const char *h = spec, *p = NULL;
    size_t hl;

    if (!spec || !*spec)
        return LOG_ERRNO(ctx, -EINVAL, "empty address (HOST[:PORT] expected)");
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end)
            return LOG_ERRNO(ctx, -EINVAL, "bad address '%s': no closing ']'", spec);
        h = spec + 1;
        hl = (size_t)(end - h);
        if (end[1] == ':')
            p = end + 2;
        else if (end[1])
            return LOG_ERRNO(ctx, -EINVAL, "bad address '%s': ':PORT' expected after ']'", spec);
    } else {
        const char *colon = strchr(spec, ':');
        if (colon && !strchr(colon + 1, ':')) {
            hl = (size_t)(colon - spec);
            p = colon + 1;
        } else {
            hl = strlen(spec); /* a name, or a bare IPv6 address */
        }
    }
    if (hl == 0)
        return LOG_ERRNO(ctx, -EINVAL, "bad address '%s': no host", spec);

    uint16_t pt = default_port;
    if (p && parse_port(p, &pt) < 0)
        return LOG_ERRNO(ctx, -EINVAL, "bad address '%s': port '%s' is not 1..65535", spec, p);
    char *s = strndup(h, hl);
    if (!s)
        return LOG_ERRNO(ctx, -ENOMEM, "cannot allocate an address");
    *host = s;
    *port = pt;
    return 0;
}
