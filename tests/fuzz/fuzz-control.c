/* fuzz-control: the control socket's request, as the server reads it:
 * the line reader (colo_ctl_recv_line) on what a client sent, then the
 * request parser (colo_ctl_parse_request), control/control.c. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "control/control.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[COLO_CTL_REQUEST_MAX + 1], msg[COLO_CTL_REQUEST_MAX + 96];
    colo_ctl_request req;
    int peer;
    int fd = fuzz_socket(data, size, &peer);

    int r = colo_ctl_recv_line(fd, line, sizeof(line), 1000);
    FUZZ_CHECK(r == 0 || r == -ENODATA || r == -E2BIG);
    if (r == 0) {
        FUZZ_CHECK(strlen(line) < sizeof(line) && !strchr(line, '\n'));
        msg[0] = '\0';
        r = colo_ctl_parse_request(line, &req, msg, sizeof(msg));
        if (r == 0) {
            FUZZ_CHECK(req.cmd >= COLO_CTL_STATUS && req.cmd <= COLO_CTL_SET_REPLICATION);
            FUZZ_CHECK(strlen(req.disk) < sizeof(req.disk));
            if (req.cmd != COLO_CTL_SET_REPLICATION)
                FUZZ_CHECK(!req.disk[0]);
            else
                FUZZ_CHECK(!req.disk[0] || colo_name_valid(req.disk, LIBXLCOLO_DISK_NAME_MAX));
        } else {
            /* The refusal goes back in a JSON reply: printable, and said. */
            FUZZ_CHECK(r == -EPROTO && msg[0]);
            for (const char *p = msg; *p; p++)
                FUZZ_CHECK(isprint((unsigned char)*p));
        }
    }
    close(fd);
    close(peer);
    return 0;
}
