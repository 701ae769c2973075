/* nic.h - a COLO primary's NIC comparison (libxlcolo_options.proxy): the
 * proxy service (proxy/service/proxy.h) in a thread of the protection.
 * Its divergence is libxlcolo_request_checkpoint() on the protection's
 * context; the protection's committed checkpoint completes it
 * (colo_nic_checkpoint_done); the primary alone passes frames through
 * (colo_nic_alone). In Remus, the datapath between the client's interface
 * and the guest's may run here too (proxy/datapath/datapath.h). The
 * service's lines go to the context's logger, "NIC of DOMAIN: ...". */
#ifndef COLO_ENGINE_NIC_H
#define COLO_ENGINE_NIC_H

#include <stdbool.h>
#include <stddef.h>

#include "libxlcolo.h"

typedef struct colo_nic colo_nic;

/* Listen on cfg's sockets and start the thread: 0, or -errno (said).
 * COLO compares; Remus buffers the output until its epoch is
 * acknowledged (proxy/service/commit.h). With cfg->client_if (Remus),
 * the datapath too, in a second thread, on the guest's interface
 * cfg->guest_if or vif (the backend's name for it; NULL or "": none),
 * its sockets under run_dir when cfg gives none. */
int colo_nic_start(libxlcolo_ctx *ctx, const libxlcolo_proxy *cfg, libxlcolo_mode mode,
                   const char *domain, const char *run_dir, const char *vif, colo_nic **out);
/* Stop the thread, close the sockets and remove their paths. Takes NULL. */
void colo_nic_stop(colo_nic *n);

/* From the protection's thread (each takes NULL): a checkpoint was
 * committed; the secondary is gone for good. */
void colo_nic_checkpoint_done(colo_nic *n);
void colo_nic_alone(colo_nic *n);
/* Remus: the output buffer's epoch ends, with the guest stopped; returns
 * once the barrier is set: 0, or -EPIPE (said) when the service does not
 * answer. */
int colo_nic_epoch_end(colo_nic *n);
/* It buffers (Remus). NULL: false. */
bool colo_nic_buffers(const colo_nic *n);
/* 0 while the service runs; -EPIPE once its thread has ended (said, by
 * the service, when it ended). NULL: 0. */
int colo_nic_check(colo_nic *n);
/* The service's counters (libxlcolo_status.proxy) into buf; "" for none. */
void colo_nic_status(colo_nic *n, char *buf, size_t size);

#endif
