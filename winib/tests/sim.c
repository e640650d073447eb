/* SPDX-License-Identifier: MIT */
/* sim.c - simulated host and PnP manager for the winib core tests. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *sim_alloc(void *ctx, size_t size)
{
	struct sim_host *h = ctx;
	void *p = calloc(1, size == 0 ? 1 : size);

	if (p != NULL) {
		h->host_allocs++;
		h->live_blocks++;
	}
	return p;
}

static void sim_free(void *ctx, void *p)
{
	struct sim_host *h = ctx;

	h->host_frees++;
	h->live_blocks--;
	free(p);
}

static void sim_log(void *ctx, enum winib_log_level level, const char *line)
{
	struct sim_host *h = ctx;

	if (getenv("WINIB_TEST_VERBOSE") != NULL)
		(void)fprintf(stderr, "winib[%d]: %s\n", (int)level, line);
	if (h->nlog < SIM_LOG_LINES)
		(void)snprintf(h->log[h->nlog++], WINIB_LOG_LINE_MAX, "%s", line);
}

static unsigned sim_irql(void *ctx)
{
	return ((struct sim_host *)ctx)->irql;
}

static void sim_lock(void *ctx, void *os_lock, unsigned *old_irql)
{
	struct sim_host *h = ctx;

	/* A real spinlock raises to DISPATCH_LEVEL; a second holder on one
	 * CPU would deadlock, which the depth check turns into a test abort. */
	if (h->spin_depth != 0)
		abort();
	h->spin_depth++;
	h->spin_locks++;
	*old_irql = h->irql;
	h->irql = WINIB_DISPATCH_LEVEL;
	(void)os_lock;
}

static void sim_unlock(void *ctx, void *os_lock, unsigned old_irql)
{
	struct sim_host *h = ctx;

	h->spin_depth--;
	h->spin_unlocks++;
	h->irql = old_irql;
	(void)os_lock;
}

static const struct winib_env_ops sim_ops = {
	.alloc = sim_alloc,
	.free = sim_free,
	.log = sim_log,
	.irql = sim_irql,
	.lock = sim_lock,
	.unlock = sim_unlock,
};

void sim_host_init(struct sim_host *h)
{
	memset(h, 0, sizeof(*h));
	winib_env_init(&h->env, &sim_ops, h);
	h->env.log_level = WINIB_LOG_DEBUG;
}

bool sim_log_has(const struct sim_host *h, const char *text)
{
	size_t i;

	for (i = 0; i < h->nlog; i++)
		if (strcmp(h->log[i], text) == 0)
			return true;
	return false;
}

void sim_log_dump(const struct sim_host *h)
{
	size_t i;

	for (i = 0; i < h->nlog; i++)
		(void)fprintf(stderr, "  log: %s\n", h->log[i]);
}

char *sim_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		(void)fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	(void)fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

struct winib_config *sim_config_from_inf(struct sim_host *h, const char *file, const char *text,
					 const char *section, struct winib_inf_error *einfo,
					 int *err)
{
	struct winib_inf *inf;
	struct winib_reg *reg;
	struct winib_config *cfg = NULL;
	int rc;

	inf = winib_inf_parse(&h->env, file, text, strlen(text), einfo, err);
	if (inf == NULL)
		return NULL;
	reg = winib_reg_create(&h->env, err);
	if (reg == NULL)
		goto out_inf;
	/* "X.Install..." sections name their AddReg sections; others are one. */
	if (strstr(section, ".Install") != NULL)
		rc = winib_inf_apply_install(inf, section, reg, einfo);
	else
		rc = winib_inf_apply_addreg(inf, section, reg, einfo);
	if (rc < 0) {
		*err = rc;
		goto out_reg;
	}
	cfg = winib_config_load(&h->env, reg, 8, err);
out_reg:
	winib_reg_destroy(reg);
out_inf:
	winib_inf_destroy(inf);
	return cfg;
}

/* Ask the ID and text queries the way the PnP manager does, and check the
 * wide (UTF-16) answer the driver returns matches the narrow one. */
static int query_all(struct sim_dev *d)
{
	struct winib_child *c = d->child;
	uint16_t wide[512];
	int n, w, i;

	n = winib_child_query_id(c, WINIB_ID_DEVICE, d->device_id, sizeof(d->device_id));
	if (n < 0)
		return n;
	d->hardware_len = winib_child_query_id(c, WINIB_ID_HARDWARE, d->hardware_ids,
					       sizeof(d->hardware_ids));
	if (d->hardware_len < 0)
		return d->hardware_len;
	d->compatible_len = winib_child_query_id(c, WINIB_ID_COMPATIBLE, d->compatible_ids,
						 sizeof(d->compatible_ids));
	if (d->compatible_len < 0 && d->compatible_len != -ENOENT)
		return d->compatible_len;
	n = winib_child_query_id(c, WINIB_ID_INSTANCE, d->instance_id, sizeof(d->instance_id));
	if (n < 0)
		return n;
	n = winib_child_query_text(c, WINIB_TEXT_DESCRIPTION, d->description,
				   sizeof(d->description));
	if (n < 0)
		return n;
	n = winib_child_query_text(c, WINIB_TEXT_LOCATION, d->location, sizeof(d->location));
	if (n < 0)
		return n;
	/* ASCII IDs: the wide hardware-ID answer is the narrow one, unit for byte. */
	w = winib_child_query_id_w(c, WINIB_ID_HARDWARE, wide, 512);
	if (w != d->hardware_len)
		return -EPROTO;
	for (i = 0; i < w; i++)
		if (wide[i] != (unsigned char)d->hardware_ids[i])
			return -EPROTO;
	{
		size_t a = strlen(d->device_id), b = strlen(d->instance_id);

		if (a + 1 + b >= sizeof(d->path))
			return -ENAMETOOLONG;
		memcpy(d->path, d->device_id, a);
		d->path[a] = '\\';
		memcpy(d->path + a + 1, d->instance_id, b + 1);
	}
	return 0;
}

int sim_pnp_enumerate(struct sim_pnp *pm)
{
	struct winib_child *rel[SIM_DEVS];
	bool seen[SIM_DEVS];
	int n, i, j, rc;

	n = winib_bus_relations(pm->bus, rel, SIM_DEVS);
	if (n < 0)
		return n;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		struct sim_dev *d = rel[i]->os_pdo;

		if (d == NULL) {
			/* A new PDO: the glue would IoCreateDevice here. */
			for (j = 0; j < SIM_DEVS && pm->devs[j].used; j++)
				;
			if (j == SIM_DEVS)
				return -ENOSPC;
			d = &pm->devs[j];
			memset(d, 0, sizeof(*d));
			d->used = true;
			d->child = rel[i];
			winib_child_set_pdo(rel[i], d);
			pm->pdos_created++;
			rc = query_all(d);
			if (rc < 0)
				return rc;
			rc = winib_child_start(rel[i]);
			if (rc < 0)
				return rc;
			d->started = true;
		}
		seen[d - pm->devs] = true;
	}
	for (j = 0; j < SIM_DEVS; j++) {
		struct sim_dev *d = &pm->devs[j];

		if (!d->used || seen[j])
			continue;
		/* Not reported any more: PnP removes the device. */
		pm->removes_sent++;
		if (winib_child_remove(d->child) != WINIB_REMOVE_DELETE_PDO)
			return -EPROTO; /* a vanished child must let its PDO go */
		pm->pdos_deleted++;
		d->used = false;
	}
	return sim_pnp_count(pm);
}

struct sim_dev *sim_pnp_find(struct sim_pnp *pm, const char *path)
{
	size_t i;

	for (i = 0; i < SIM_DEVS; i++)
		if (pm->devs[i].used && strcmp(pm->devs[i].path, path) == 0)
			return &pm->devs[i];
	return NULL;
}

int sim_pnp_count(const struct sim_pnp *pm)
{
	int i, n = 0;

	for (i = 0; i < SIM_DEVS; i++)
		n += pm->devs[i].used;
	return n;
}

void sim_pnp_teardown(struct sim_pnp *pm)
{
	size_t i;

	for (i = 0; i < SIM_DEVS; i++)
		pm->devs[i].used = false;
	winib_bus_destroy(pm->bus);
	pm->bus = NULL;
}
