/* SPDX-License-Identifier: MIT */
/*
 * sim.h - a simulated host (memory, log, IRQL, spinlock) and a simulated
 * PnP manager that drives the winib core the way Windows drives a bus
 * driver: query bus relations, then for each new PDO the ID and text
 * queries and START_DEVICE; for a PDO no longer reported, REMOVE_DEVICE.
 */
#ifndef WINIB_TEST_SIM_H
#define WINIB_TEST_SIM_H

#include "winib/bus.h"
#include "winib/inf.h"

#define SIM_LOG_LINES 128
#define SIM_DEVS 64

struct sim_host {
	struct winib_env env;
	unsigned irql;
	unsigned long spin_locks, spin_unlocks;
	int spin_depth;
	unsigned long host_allocs, host_frees;
	long live_blocks;
	char log[SIM_LOG_LINES][WINIB_LOG_LINE_MAX];
	size_t nlog;
};

struct sim_dev {
	bool used;
	struct winib_child *child;
	char device_id[WINIB_ID_MAX];
	char hardware_ids[512];
	int hardware_len;
	char compatible_ids[512];
	int compatible_len;       /* -ENOENT when the child has none */
	char instance_id[64];
	char path[WINIB_ID_MAX + 64]; /* device instance path: DeviceId\InstanceId */
	char description[256];
	char location[128];
	bool started;
};

struct sim_pnp {
	struct winib_bus *bus;
	struct sim_dev devs[SIM_DEVS];
	unsigned long removes_sent, pdos_deleted, pdos_created;
};

void sim_host_init(struct sim_host *h);
/* Is there a log line equal to text? */
bool sim_log_has(const struct sim_host *h, const char *text);
void sim_log_dump(const struct sim_host *h);

/* Read a whole file; NULL on failure. free() the result. */
char *sim_read_file(const char *path, size_t *len);
/* Parse INF text, apply the section (an install section when its name has
 * ".Install", else an AddReg section) and load the config. */
struct winib_config *sim_config_from_inf(struct sim_host *h, const char *file, const char *text,
					 const char *section, struct winib_inf_error *einfo,
					 int *err);

/* One PnP pass (relations, queries, start, removes). Returns the number
 * of devices present afterwards or a negative errno. */
int sim_pnp_enumerate(struct sim_pnp *pm);
struct sim_dev *sim_pnp_find(struct sim_pnp *pm, const char *path);
int sim_pnp_count(const struct sim_pnp *pm);
/* Bus teardown as the FDO's REMOVE_DEVICE does it: every PDO deleted. */
void sim_pnp_teardown(struct sim_pnp *pm);

#endif /* WINIB_TEST_SIM_H */
