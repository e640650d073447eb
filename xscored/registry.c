/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the configuration registry: built-in "record only" ULP
 * modules for vNIC and vHBA. They create no device; they keep the
 * configuration the director pushed, per resource id, for `xsctl status`.
 * The real xsvnic / xsvhba modules register through the same ULP API
 * (xscore/host.h) and replace these for their type.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "xscored.h"

#define REG_LOG "registry"

struct reg_entry {
	uint64_t installs_ms;
	uint64_t changed_ms;
	uint32_t updates;
	uint32_t last_mask;
};

static int reg_install(void *ctx, struct xs_ulp_dev *dev, struct xs_ulp_result *res)
{
	struct xscored_registry *r = ctx;
	struct reg_entry *e = calloc(1, sizeof(*e));

	if (!e) {
		res->reason = XS_NACK_ALLOC_ERROR;
		snprintf(res->text, sizeof(res->text), "registry: out of memory");
		return -ENOMEM;
	}
	e->installs_ms = xs_now_ms();
	e->changed_ms = e->installs_ms;
	dev->priv = e;
	r->n_entries++;
	r->installs++;
	XS_DEBUG(REG_LOG, "recorded %s %s (%016llx)",
		 dev->xsmp_type == XS_XSMP_VNIC ? "vNIC" : "vHBA", dev->name,
		 (unsigned long long)dev->resource_id);
	return 0;
}

static int reg_update(void *ctx, struct xs_ulp_dev *dev, const union xs_ulp_config *old,
		      uint32_t bitmask, struct xs_ulp_result *res)
{
	struct xscored_registry *r = ctx;
	struct reg_entry *e = dev->priv;

	(void)old, (void)res;
	if (e) {
		e->updates++;
		e->last_mask = bitmask;
		e->changed_ms = xs_now_ms();
	}
	r->updates++;
	return 0;
}

static void reg_remove(void *ctx, struct xs_ulp_dev *dev, enum xs_ulp_remove_why why)
{
	struct xscored_registry *r = ctx;

	(void)why;
	free(dev->priv);
	dev->priv = NULL;
	r->n_entries--;
	r->removes++;
}

static const struct xs_ulp_ops reg_vnic_ops = {
	.name = "registry-vnic",
	.xsmp_type = XS_XSMP_VNIC,
	.install = reg_install,
	.update = reg_update,
	.remove = reg_remove,
};

static const struct xs_ulp_ops reg_vhba_ops = {
	.name = "registry-vhba",
	.xsmp_type = XS_XSMP_VHBA,
	.install = reg_install,
	.update = reg_update,
	.remove = reg_remove,
};

int xscored_registry_attach(struct xscored_registry *r, struct xs_host *h, bool vnic_too,
			    bool vhba_too)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (vnic_too) {
		rc = xs_host_register_ulp(h, &reg_vnic_ops, r);
		if (rc < 0)
			return rc;
	}
	return vhba_too ? xs_host_register_ulp(h, &reg_vhba_ops, r) : 0;
}

uint32_t xscored_registry_updates(const struct xs_ulp_dev *dev)
{
	const struct reg_entry *e = dev->priv;

	return e ? e->updates : 0;
}

uint64_t xscored_registry_changed_ms(const struct xs_ulp_dev *dev)
{
	const struct reg_entry *e = dev->priv;
	const char *mod = xs_host_ulp_name(dev->host, dev->xsmp_type);

	if (!mod || strncmp(mod, "registry-", 9))
		return dev->updated_ms;
	return e ? e->changed_ms : 0;
}
