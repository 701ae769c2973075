/* xen_qmp.c - the xen backend's way to its qemu-xen device models, on the
 * QMP client of qmp/.
 *
 * libxl gives every qemu-xen device model a QMP socket at
 * /var/run/xen/qmp-libxl-DOMID. QEMU serves one client at a time on it, and
 * libxl itself connects for its own operations, so a connection is held
 * only for one command (xen_qmp) or for the few commands of one checkpoint
 * stop (xen_qmp_open .. xen_qmp_close). Every line qmp/ logs for it starts
 * "domain D: qmp PATH" and names the command. */
#include "config.h"

#include <stdio.h>

#include "backend/xen/xen_priv.h"
#include "qmp/qmp.h"

int xen_qmp_open(colo_backend *be, uint32_t domid, colo_qmp **out)
{
    char path[64], label[32];

    snprintf(path, sizeof(path), "/var/run/xen/qmp-libxl-%u", domid);
    snprintf(label, sizeof(label), "domain %u", domid);
    return colo_qmp_connect(be->ctx, path, label, COLO_QMP_TIMEOUT_MS, 0, out);
}

int xen_qmp_cmd(colo_backend *be, colo_qmp *q, const char *cmd, const char *args)
{
    return colo_qmp_execute(q, cmd, args, 0, NULL, NULL);
}

void xen_qmp_close(colo_qmp *q)
{
    colo_qmp_close(q);
}

int xen_qmp(colo_backend *be, uint32_t domid, const char *cmd, const char *args)
{
    _cleanup_qmp_ colo_qmp *q = NULL;
    int r = xen_qmp_open(be, domid, &q);
    if (r < 0)
        return r;
    return xen_qmp_cmd(be, q, cmd, args);
}

int xen_dm_qmp(colo_backend *be, colo_dom *d, const char *cmd, const char *args)
{
    return d->qmp ? xen_qmp_cmd(be, d->qmp, cmd, args) : xen_qmp(be, d->domid, cmd, args);
}
