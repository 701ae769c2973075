/* ifsock.c - an interface's frames, on AF_PACKET (ifsock.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "proxy/checksum.h"
#include "proxy/datapath/ifsock.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int colo_ifsock_open(struct colo_ifsock *s, const char *name, char *why, size_t whylen)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    snprintf(s->name, sizeof(s->name), "%s", name);
    unsigned idx = strlen(name) < IFNAMSIZ ? if_nametoindex(name) : 0;
    if (!idx) {
        snprintf(why, whylen, "interface %s: %s", name, strlen(name) < IFNAMSIZ ?
                 "no such interface" : "the name is too long");
        return -ENODEV;
    }
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0) {
        int r = negative_errno();
        snprintf(why, whylen, "interface %s: AF_PACKET socket: %s", name, strerror(-r));
        return r;
    }
    struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = (int)idx };
    struct packet_mreq mr = { .mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC };
    int one = 1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
        int r = negative_errno();
        close(fd);
        snprintf(why, whylen, "interface %s: %s", name, strerror(-r));
        return r;
    }
    s->fd = fd;
    return 0;
}

void colo_ifsock_close(struct colo_ifsock *s)
{
    close_reset(&s->fd);
}

ssize_t colo_ifsock_recv(struct colo_ifsock *s, uint8_t *buf)
{
    union {
        struct cmsghdr h;
        uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = COLO_IF_FRAME_MAX };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
                        .msg_controllen = sizeof(ctl) };

    for (;;) {
        ssize_t n = recvmsg(s->fd, &m, MSG_TRUNC);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 0 : negative_errno();
        if ((size_t)n > COLO_IF_FRAME_MAX) {
            s->rx_big++;
            return 0;
        }
        s->rx++;
        /* Its checksum left to an offload: completed here. */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
                continue;
            struct tpacket_auxdata aux;
            memcpy(&aux, CMSG_DATA(c), sizeof(aux));
            struct colo_frame f;
            if ((aux.tp_status & TP_STATUS_CSUMNOTREADY) &&
                colo_frame_parse(buf, (size_t)n, &f) == COLO_DROP_NONE &&
                colo_l4_checksum_fill(buf, &f))
                s->csum_filled++;
        }
        return n;
    }
}

int colo_ifsock_send(struct colo_ifsock *s, const uint8_t *frame, size_t len)
{
    if (send(s->fd, frame, len, MSG_DONTWAIT) == (ssize_t)len) {
        s->tx++;
        return 0;
    }
    s->tx_err++;
    return errno ? negative_errno() : -EIO;
}
