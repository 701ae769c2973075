/* backend_sim.h - between the sim backend's two files: backend_sim.c (the
 * ops) and backend_sim_spawn.c (a guest's configuration, and starting one). */
#ifndef COLO_BACKEND_SIM_H
#define COLO_BACKEND_SIM_H

#include "backend/backend.h"
#include "backend/sim/sim-proto.h"

/* cfg->extra for the guest INFO described: a malloc'd struct sim_config. */
int colo_sim_config_encode(colo_backend *be, const struct sim_info *in, void **extra,
                           size_t *len);

/* Check cfg (its extra came off the wire), refuse a name a live guest holds
 * (-EEXIST), and run `colo-simguest run --daemon --incoming --paused` with
 * its configuration in be->run_dir: be->simguest, else colo-simguest on
 * PATH. Returns once the guest listens. */
int colo_sim_spawn(colo_backend *be, const struct colo_domain_config *cfg);

#endif
