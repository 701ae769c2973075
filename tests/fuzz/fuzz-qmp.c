/* fuzz-qmp: what a QEMU sends on QMP, as the client reads it: the line
 * framing (qmp/qmp_wire.c), then each line classified (qmp/qmp_msg.c) on
 * the JSON reader (json.c), and the message's accessors. */
#include "config.h"

#include <string.h>

#include "colo-time.h"
#include "fuzz-util.h"
#include "qmp/qmp.h"
#include "qmp/qmp_msg.h"
#include "qmp/qmp_wire.h"

static void check_message(struct qmp_msg *m)
{
    char text[64];

    FUZZ_CHECK(m->root && YAJL_IS_OBJECT(m->root));
    FUZZ_CHECK(fuzz_json_depth_ok(m->root, COLO_JSON_DEPTH_MAX));
    qmp_msg_id_text(m, text, sizeof(text));
    FUZZ_CHECK(text[0]);
    (void)qmp_msg_id_is(m, 7);
    FUZZ_CHECK(qmp_msg_kind_name(m->kind)[0]);
    switch (m->kind) {
    case QMP_MSG_GREETING:
        FUZZ_CHECK(YAJL_IS_OBJECT(m->value));
        break;
    case QMP_MSG_ERROR:
        FUZZ_CHECK(m->cls && m->desc);
        break;
    case QMP_MSG_EVENT:
        FUZZ_CHECK(m->event);
        break;
    case QMP_MSG_RETURN: {
        yajl_val v = qmp_msg_take_value(m);
        FUZZ_CHECK(v);
        yajl_tree_free(v);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qmp_wire w = { .fd = -1 };
    char err[256];
    char *line;
    size_t len;
    int peer;

    w.fd = fuzz_socket(data, size, &peer);
    uint64_t deadline = colo_deadline_ms(1000);
    /* Each line takes at least its '\n' of the input. */
    for (size_t n = 0; n <= size; n++) {
        err[0] = '\0';
        int r = qmp_wire_read(&w, deadline, &line, &len, err, sizeof(err));
        if (r < 0) {
            FUZZ_CHECK(r == -ECONNRESET && err[0]);
            break;
        }
        FUZZ_CHECK(len <= COLO_QMP_MSG_MAX && line[len] == '\0');
        struct qmp_msg m;
        err[0] = '\0';
        r = qmp_msg_parse(line, len, &m, err, sizeof(err));
        if (r == 0)
            check_message(&m);
        else
            FUZZ_CHECK((r == -EBADMSG || r == -EPROTO || r == -ENOMEM) && err[0] && !m.root);
        qmp_msg_clear(&m);
    }
    qmp_wire_close(&w);
    close(peer);
    return 0;
}
