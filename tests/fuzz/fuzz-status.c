/* fuzz-status: a control reply as the client reads it: the line reader
 * at the reply's bound, the JSON reader (json.c) and the status codec
 * (control/status_codec.c). A status read is written again, read again
 * and written a third time: the two texts must be equal. */
#include "config.h"

#include <string.h>

#include "control/control.h"
#include "control/status_codec.h"
#include "fuzz-util.h"

/* st as JSON, in a malloc'ed string. */
static char *encode(const libxlcolo_status *st)
{
    colo_json *j = colo_json_new();
    const char *buf;
    size_t len;

    colo_status_to_json(j, st);
    FUZZ_CHECK(colo_json_finish(j, &buf, &len) == 0);
    char *text = strndup(buf, len);
    FUZZ_CHECK(text);
    colo_json_free(j);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[COLO_CTL_REPLY_MAX + 1], err[128];
    libxlcolo_status st, again;
    yajl_val v = NULL, w = NULL;
    int peer;
    int fd = fuzz_socket(data, size, &peer);

    int r = colo_ctl_recv_line(fd, line, sizeof(line), 1000);
    close(fd);
    close(peer);
    if (r < 0 || fuzz_json_parse(line, &v) < 0)
        return 0;
    err[0] = '\0';
    r = colo_status_from_json(v, &st, err, sizeof(err));
    yajl_tree_free(v);
    if (r < 0) {
        FUZZ_CHECK(r == -EBADMSG && err[0]);
        return 0;
    }
    FUZZ_CHECK(st.nr_disks <= LIBXLCOLO_DISKS_MAX);
    char *first = encode(&st);
    FUZZ_CHECK(fuzz_json_parse(first, &w) == 0);
    FUZZ_CHECK(colo_status_from_json(w, &again, err, sizeof(err)) == 0);
    yajl_tree_free(w);
    char *second = encode(&again);
    FUZZ_CHECK(strcmp(first, second) == 0);
    free(first);
    free(second);
    return 0;
}
