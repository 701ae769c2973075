/* replication.c - the QMP sequences of QEMU's block replication, per role
 * (replication.h). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "block/replication.h"
#include "colo-internal.h"

/* The status is polled this often while a secondary's failover commits. */
#define REP_POLL_NS (2 * COLO_NS_PER_MS)

/* One command whose arguments the caller built in j. */
static int run(colo_qmp *q, const char *cmd, colo_json *j, yajl_val *ret)
{
    const char *args = NULL;
    size_t len;

    if (j) {
        int r = colo_json_finish(j, &args, &len);
        if (r < 0)
            return colo_qmp_log(q, r, "%s: cannot build its arguments", cmd);
    }
    return colo_qmp_execute(q, cmd, args, 0, ret, NULL);
}

int colo_rep_status_read(colo_qmp *q, colo_rep_status *st)
{
    _cleanup_tree_ yajl_val ret = NULL;
    yajl_val err = NULL, desc = NULL;
    char why[128];
    int r = run(q, "query-xen-replication-status", NULL, &ret);

    if (r < 0)
        return r;
    memset(st, 0, sizeof(*st));
    if (!YAJL_IS_OBJECT(ret))
        return colo_qmp_log(q, -EBADMSG, "query-xen-replication-status: the reply is "
                            "no object");
    if (colo_json_get(ret, "error", &err, why, sizeof(why)) < 0 ||
        colo_json_get(ret, "desc", &desc, why, sizeof(why)) < 0)
        return colo_qmp_log(q, -EBADMSG, "query-xen-replication-status: %s", why);
    if (!err || !(YAJL_IS_TRUE(err) || YAJL_IS_FALSE(err)))
        return colo_qmp_log(q, -EBADMSG, "query-xen-replication-status: %s",
                            err ? "\"error\" is not a boolean" : "missing \"error\"");
    if (desc && !YAJL_IS_STRING(desc))
        return colo_qmp_log(q, -EBADMSG, "query-xen-replication-status: \"desc\" is "
                            "not a string");
    st->error = YAJL_IS_TRUE(err);
    if (st->error)
        snprintf(st->desc, sizeof(st->desc), "%s",
                 desc ? desc->u.string : "(QEMU gave no description)");
    return 0;
}

/* The status after a step that must leave replication healthy. */
static int status_clean(colo_qmp *q, const char *after)
{
    colo_rep_status st;
    int r = colo_rep_status_read(q, &st);

    if (r < 0)
        return r;
    if (st.error)
        return colo_qmp_log(q, -EIO, "replication status after %s: error: %s", after,
                            st.desc);
    return 0;
}

int colo_rep_set(colo_qmp *q, bool enable, bool primary, bool failover)
{
    /* QEMU refuses "failover" with enable whatever its value, and ignores
     * every error of a stop with failover: say the first ourselves, and
     * send failover only when true. */
    if (enable && failover)
        return colo_qmp_log(q, -EINVAL, "xen-set-replication: Parameter 'failover' is "
                            "only for stopping replication");
    _cleanup_json_ colo_json *j = colo_json_new();
    colo_json_put_bool(j, "enable", enable);
    colo_json_put_bool(j, "primary", primary);
    if (failover)
        colo_json_put_bool(j, "failover", true);
    return run(q, "xen-set-replication", j, NULL);
}

int colo_rep_secondary_export(colo_qmp *q, const char *disk, const char *export_name)
{
    _cleanup_json_ colo_json *a = colo_json_new();

    colo_json_put_str(a, "device", disk);
    colo_json_put_str(a, "name", export_name);
    colo_json_put_bool(a, "writable", true);
    return run(q, "nbd-server-add", a, NULL);
}

int colo_rep_secondary_enable(colo_qmp *q)
{
    int r = colo_rep_set(q, true, false, false);
    return r < 0 ? r : status_clean(q, "the secondary's start");
}

int colo_rep_secondary_start(colo_qmp *q, const char *disk, const char *export_name)
{
    int r = colo_rep_secondary_export(q, disk, export_name);
    return r < 0 ? r : colo_rep_secondary_enable(q);
}

/* CMD with one string argument: {"KEY": "VAL"}. */
static int run_one(colo_qmp *q, const char *cmd, const char *key, const char *val)
{
    _cleanup_json_ colo_json *j = colo_json_new();
    colo_json_put_str(j, key, val);
    return run(q, cmd, j, NULL);
}

/* An nbd node on EXPORT at addr, into the object j has open. */
static void put_nbd(colo_json *j, const colo_rep_addr *addr, const char *export_name)
{
    colo_json_put_str(j, "driver", "nbd");
    colo_json_put_str(j, "export", export_name);
    colo_json_open(j, "server");
    colo_json_put_str(j, "type", "unix");
    colo_json_put_str(j, "path", addr->path);
    colo_json_close(j);
}

int colo_rep_sync_start(colo_qmp *q, const colo_rep_addr *addr, const char *export_name,
                        const char *disk, const char *node)
{
    _cleanup_json_ colo_json *t = colo_json_new();
    int r;

    colo_json_put_str(t, "node-name", node);
    put_nbd(t, addr, export_name);
    if ((r = run(q, "blockdev-add", t, NULL)) < 0)
        return r;
    _cleanup_json_ colo_json *m = colo_json_new();
    colo_json_put_str(m, "job-id", node);
    colo_json_put_str(m, "device", disk);
    colo_json_put_str(m, "target", node);
    colo_json_put_str(m, "sync", "full");
    colo_json_put_str(m, "copy-mode", "write-blocking");
    /* Kept once it ends, so that its error can be read. */
    colo_json_put_bool(m, "auto-dismiss", false);
    return run(q, "blockdev-mirror", m, NULL);
}

/* The job ID in query-jobs: 0 with *job pointing into *list (the caller
 * frees *list), -ENOENT when there is none (logged). */
static int job_find(colo_qmp *q, const char *id, yajl_val *list, yajl_val *job)
{
    char why[128];
    int r = run(q, "query-jobs", NULL, list);

    if (r < 0)
        return r;
    if (!YAJL_IS_ARRAY(*list))
        return colo_qmp_log(q, -EBADMSG, "query-jobs: the reply is no array");
    for (size_t i = 0; i < (*list)->u.array.len; i++) {
        yajl_val j = (*list)->u.array.values[i];
        const char *jid;
        if (YAJL_IS_OBJECT(j) && colo_json_get_str(j, "id", &jid, why, sizeof(why)) == 0 &&
            strcmp(jid, id) == 0) {
            *job = j;
            return 0;
        }
    }
    return colo_qmp_log(q, -ENOENT, "query-jobs: no job %s", id);
}

/* Its status, and QEMU's error once it has ended with one. */
static int job_status(colo_qmp *q, yajl_val job, const char **status, const char **error)
{
    char why[128];
    yajl_val e = NULL;

    if (colo_json_get_str(job, "status", status, why, sizeof(why)) < 0 ||
        colo_json_get(job, "error", &e, why, sizeof(why)) < 0)
        return colo_qmp_log(q, -EBADMSG, "query-jobs: %s", why);
    if (e && !YAJL_IS_STRING(e))
        return colo_qmp_log(q, -EBADMSG, "query-jobs: \"error\" is not a string");
    *error = e ? e->u.string : NULL;
    return 0;
}

/* A job's next state change is an event: wait up to wait_ms for one. */
static int job_change_wait(colo_qmp *q, int wait_ms)
{
    _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
    int r = wait_ms > 0 ? colo_qmp_wait_event(q, "JOB_STATUS_CHANGE", wait_ms, COLO_QMP_QUIET,
                                              &ev)
                        : 0;
    return r == -ETIMEDOUT ? 0 : r;
}

int colo_rep_sync_poll(colo_qmp *q, const char *node, int wait_ms, colo_rep_sync *st)
{
    _cleanup_tree_ yajl_val list = NULL;
    yajl_val job = NULL;
    const char *status, *error;
    char why[128];
    int r;

    if ((r = job_change_wait(q, wait_ms)) < 0 || (r = job_find(q, node, &list, &job)) < 0 ||
        (r = job_status(q, job, &status, &error)) < 0)
        return r;
    if (colo_json_get_u64(job, "current-progress", UINT64_MAX, &st->done, why, sizeof(why)) < 0 ||
        colo_json_get_u64(job, "total-progress", UINT64_MAX, &st->total, why, sizeof(why)) < 0)
        return colo_qmp_log(q, -EBADMSG, "query-jobs: %s", why);
    if (error)
        return colo_qmp_log(q, -EIO, "the initial sync failed: %s", error);
    /* It ends only when told to: ended now, it was cut short. */
    if (strcmp(status, "concluded") == 0 || strcmp(status, "null") == 0 ||
        strcmp(status, "aborting") == 0)
        return colo_qmp_log(q, -EIO, "the initial sync ended (%s) at %" PRIu64 " of %" PRIu64
                            " bytes", status, st->done, st->total);
    st->ready = strcmp(status, "ready") == 0;
    return 0;
}

int colo_rep_sync_finish(colo_qmp *q, const char *node, int timeout_ms)
{
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    int r;

    if ((r = run_one(q, "block-job-cancel", "device", node)) < 0)
        return r;
    for (;;) {
        _cleanup_tree_ yajl_val list = NULL;
        yajl_val job = NULL;
        const char *status, *error;
        if ((r = job_find(q, node, &list, &job)) < 0 ||
            (r = job_status(q, job, &status, &error)) < 0)
            return r;
        if (error)
            return colo_qmp_log(q, -EIO, "the initial sync's end failed: %s", error);
        if (strcmp(status, "concluded") == 0)
            break;
        int left = colo_ms_left(deadline);
        if (left <= 0)
            return colo_qmp_log(q, -ETIMEDOUT, "the initial sync's job is still %s %d ms "
                                "after block-job-cancel", status, timeout_ms);
        if ((r = job_change_wait(q, left < 100 ? left : 100)) < 0)
            return r;
    }
    if ((r = run_one(q, "job-dismiss", "id", node)) < 0)
        return r;
    return run_one(q, "blockdev-del", "node-name", node);
}

int colo_rep_primary_start(colo_qmp *q, const colo_rep_addr *addr, const char *export_name,
                           const char *disk, const char *client)
{
    _cleanup_json_ colo_json *j = colo_json_new();
    int r;

    colo_json_put_str(j, "driver", "replication");
    colo_json_put_str(j, "node-name", client);
    colo_json_put_str(j, "mode", "primary");
    colo_json_open(j, "file");
    put_nbd(j, addr, export_name);
    colo_json_close(j);
    if ((r = run(q, "blockdev-add", j, NULL)) < 0)
        return r;

    _cleanup_json_ colo_json *c = colo_json_new();
    colo_json_put_str(c, "parent", disk);
    colo_json_put_str(c, "node", client);
    if ((r = run(q, "x-blockdev-change", c, NULL)) < 0)
        return r;
    if ((r = colo_rep_set(q, true, true, false)) < 0)
        return r;
    return status_clean(q, "the primary's start");
}

int colo_rep_checkpoint(colo_qmp *q)
{
    int r = run(q, "xen-colo-do-checkpoint", NULL, NULL);
    if (r < 0)
        return r;
    return status_clean(q, "the checkpoint");
}

int colo_rep_failover_secondary(colo_qmp *q, const char *export_name, int timeout_ms)
{
    _cleanup_json_ colo_json *j = colo_json_new();
    uint64_t deadline = colo_deadline_ms(timeout_ms);
    colo_rep_status st;
    int r;

    colo_json_put_str(j, "name", export_name);
    colo_json_put_str(j, "mode", "hard");
    if ((r = run(q, "nbd-server-remove", j, NULL)) < 0)
        return r;
    if ((r = colo_rep_set(q, false, false, true)) < 0)
        return r;
    for (;;) {
        if ((r = colo_rep_status_read(q, &st)) < 0)
            return r;
        if (!st.error)
            return 0;
        if (colo_deadline_passed(deadline))
            return colo_qmp_log(q, -ETIMEDOUT, "failover: the replication status still "
                                "reads an error after %d ms: %s", timeout_ms, st.desc);
        struct timespec ts = { 0, REP_POLL_NS };
        nanosleep(&ts, NULL);
    }
}

/* The name of the edge from CLIENT's parent to CLIENT in the block graph,
 * and that parent's node name: what x-blockdev-change needs. */
static int find_child_edge(colo_qmp *q, const char *client, char *parent, size_t psize,
                           char *child, size_t csize, bool quiet)
{
    _cleanup_tree_ yajl_val g = NULL;
    const char *nodes_path[] = { "nodes", NULL }, *edges_path[] = { "edges", NULL };
    int r = run(q, "x-debug-query-block-graph", NULL, &g);

    if (r < 0)
        return r;
    yajl_val nodes = yajl_tree_get(g, nodes_path, yajl_t_array);
    yajl_val edges = yajl_tree_get(g, edges_path, yajl_t_array);
    if (!nodes || !edges)
        return colo_qmp_log(q, -EBADMSG, "x-debug-query-block-graph: no \"nodes\" and "
                            "\"edges\" arrays in the reply");

    /* Node ids are QEMU's integers; look the names up as text. */
    const char *id_path[] = { "id", NULL }, *name_path[] = { "name", NULL };
    const char *client_id = NULL;
    for (size_t i = 0; i < nodes->u.array.len; i++) {
        yajl_val n = nodes->u.array.values[i];
        yajl_val id = yajl_tree_get(n, id_path, yajl_t_number);
        yajl_val name = yajl_tree_get(n, name_path, yajl_t_string);
        if (id && name && strcmp(name->u.string, client) == 0)
            client_id = id->u.number.r;
    }
    if (!client_id)
        return quiet ? -ENOENT
                     : colo_qmp_log(q, -ENOENT, "x-debug-query-block-graph: no node %s", client);

    const char *parent_path[] = { "parent", NULL }, *child_path[] = { "child", NULL };
    for (size_t i = 0; i < edges->u.array.len; i++) {
        yajl_val e = edges->u.array.values[i];
        yajl_val c = yajl_tree_get(e, child_path, yajl_t_number);
        yajl_val p = yajl_tree_get(e, parent_path, yajl_t_number);
        yajl_val name = yajl_tree_get(e, name_path, yajl_t_string);
        if (!c || !p || !name || strcmp(c->u.number.r, client_id) != 0)
            continue;
        for (size_t k = 0; k < nodes->u.array.len; k++) {
            yajl_val n = nodes->u.array.values[k];
            yajl_val id = yajl_tree_get(n, id_path, yajl_t_number);
            yajl_val pn = yajl_tree_get(n, name_path, yajl_t_string);
            if (!id || !pn || strcmp(id->u.number.r, p->u.number.r) != 0)
                continue;
            if ((size_t)snprintf(parent, psize, "%s", pn->u.string) >= psize ||
                (size_t)snprintf(child, csize, "%s", name->u.string) >= csize)
                return colo_qmp_log(q, -EBADMSG, "x-debug-query-block-graph: the name "
                                    "of %s's parent or edge is too long", client);
            return 0;
        }
    }
    return quiet ? -ENOENT
                 : colo_qmp_log(q, -ENOENT, "x-debug-query-block-graph: %s has no parent", client);
}

bool colo_rep_primary_running(colo_qmp *q, const char *client)
{
    char parent[COLO_REP_NAME_MAX * 2], child[COLO_REP_NAME_MAX * 2];
    return find_child_edge(q, client, parent, sizeof(parent), child, sizeof(child), true) == 0;
}

/* CLIENT out of its quorum, under the child name the graph gives, then
 * deleted. */
static int detach_client(colo_qmp *q, const char *client)
{
    char parent[COLO_REP_NAME_MAX * 2], child[COLO_REP_NAME_MAX * 2];
    int r;

    if ((r = find_child_edge(q, client, parent, sizeof(parent), child, sizeof(child), false)) < 0)
        return r;
    _cleanup_json_ colo_json *c = colo_json_new();
    colo_json_put_str(c, "parent", parent);
    colo_json_put_str(c, "child", child);
    if ((r = run(q, "x-blockdev-change", c, NULL)) < 0)
        return r;
    return run_one(q, "blockdev-del", "node-name", client);
}

int colo_rep_failover_primary(colo_qmp *q, const char *client)
{
    int r = colo_rep_set(q, false, true, true);
    return r < 0 ? r : detach_client(q, client);
}

int colo_rep_stop_primary(colo_qmp *q, const char *client)
{
    int r = colo_rep_set(q, false, true, false);
    return r < 0 ? r : detach_client(q, client);
}
