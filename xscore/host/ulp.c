/* SPDX-License-Identifier: MIT */
/*
 * ulp.c - the ULP API and the device table of a host: module registration,
 * INSTALL/UPDATE/DELETE/ADMIN dispatch with ACK/NACK replies, resync
 * (SYNC_BEGIN marks stale, SYNC_END sweeps) and RESOURCE_LIST.
 *
 * The library owns the table of devices (bound by resource id); modules get
 * callbacks and keep their own state in dev->priv. A device outlives the
 * session that configured it: only DELETE, a resync that does not
 * re-announce it, or the host stopping removes it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "host_int.h"

/* ------------------------------------------------------------ per type */

struct ulp_type_desc {
	uint8_t sync_begin, sync_end, install, update, del, admin_up, admin_down;
	uint8_t code_max;
	const char *(*code_str)(uint8_t code);
};

static const struct ulp_type_desc vnic_desc = {
	XS_VNIC_SYNC_BEGIN, XS_VNIC_SYNC_END, XS_VNIC_INSTALL, XS_VNIC_UPDATE,
	XS_VNIC_DELETE, XS_VNIC_ADMIN_UP, XS_VNIC_ADMIN_DOWN, XS_VNIC_CODE_MAX,
	xs_vnic_code_str,
};
static const struct ulp_type_desc vhba_desc = {
	XS_VHBA_SYNC_BEGIN, XS_VHBA_SYNC_END, XS_VHBA_INSTALL, XS_VHBA_UPDATE,
	XS_VHBA_DELETE, XS_VHBA_ADMIN_UP, XS_VHBA_ADMIN_DOWN, XS_VHBA_CODE_MAX,
	xs_vhba_code_str,
};

static const struct ulp_type_desc *type_desc(uint8_t xsmp_type)
{
	if (xsmp_type == XS_XSMP_VNIC)
		return &vnic_desc;
	if (xsmp_type == XS_XSMP_VHBA)
		return &vhba_desc;
	return NULL;
}

static const char *type_name(uint8_t xsmp_type)
{
	return xsmp_type == XS_XSMP_VNIC ? "vNIC" : xsmp_type == XS_XSMP_VHBA ? "vHBA" : "?";
}

/* Decode into cfg; returns 0 or -errno. */
static int cfg_decode(uint8_t xsmp_type, const uint8_t *body, size_t len,
		      union xs_ulp_config *cfg)
{
	if (xsmp_type == XS_XSMP_VNIC)
		return xs_vnic_msg_decode(body, len, &cfg->vnic);
	return xs_vhba_msg_decode(body, len, &cfg->vhba);
}

/* Configuration part only: clear the per-message fields before comparing. */
static void cfg_normalise(uint8_t xsmp_type, union xs_ulp_config *cfg)
{
	if (xsmp_type == XS_XSMP_VNIC) {
		struct xs_vnic_msg *m = &cfg->vnic;

		m->type = 0, m->code = 0, m->length = 0, m->bitmask = 0, m->ext_version = 0;
		m->reason = 0;
		memset(m->reason_text, 0, sizeof(m->reason_text));
	} else {
		struct xs_vhba_msg *m = &cfg->vhba;

		m->type = 0, m->code = 0, m->length = 0, m->bitmask = 0, m->ext_version = 0;
		m->reason = 0;
		memset(m->reason_text, 0, sizeof(m->reason_text));
	}
}

/* Append @what to the comma list in @buf when the two fields differ. */
#define DIFF(field, what)                                                       \
	do {                                                                    \
		if (memcmp(&a->field, &b->field, sizeof(a->field)) != 0)        \
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", \
					      n ? "," : "", what);              \
	} while (0)

/* Names of the configuration fields that differ (for logs and ACK texts). */
static void cfg_diff(uint8_t xsmp_type, const union xs_ulp_config *x,
		     const union xs_ulp_config *y, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (xsmp_type == XS_XSMP_VNIC) {
		const struct xs_vnic_msg *a = &x->vnic, *b = &y->vnic;

		DIFF(name, "name");
		DIFF(mac, "mac");
		DIFF(mtu, "mtu");
		DIFF(admin_state, "admin");
		DIFF(admin_rate, "rate");
		DIFF(tca_guid, "tca");
		DIFF(tca_lid, "tca");
		DIFF(install_flags, "flags");
		DIFF(service_level, "sl");
		DIFF(cir, "qos");
		DIFF(pir, "qos");
		DIFF(cbs, "qos");
		DIFF(pbs, "qos");
		DIFF(fc_active, "qos");
		DIFF(mp_flag, "ha");
		DIFF(mp_group, "ha");
		DIFF(vlan_mode, "vlan");
		DIFF(vlan_count, "vlan");
		DIFF(vlans, "vlan");
		DIFF(uplink, "uplink");
		DIFF(encap, "encap");
		DIFF(vm_index, "vm_index");
	} else {
		const struct xs_vhba_msg *a = &x->vhba, *b = &y->vhba;

		DIFF(name, "name");
		DIFF(wwpn, "wwpn");
		DIFF(wwnn, "wwnn");
		DIFF(admin_state, "admin");
		DIFF(bandwidth, "bandwidth");
		DIFF(tca_guid, "tca");
		DIFF(tca_lid, "tca");
		DIFF(queue_depth, "queue_depth");
		DIFF(exec_throttle, "throttle");
		DIFF(link_down_timeout, "link_down_timeout");
		DIFF(target_reset, "target_reset");
		DIFF(max_luns_per_target, "luns_per_target");
		DIFF(num_queues, "queues");
		DIFF(lunmask_enable, "lun_masking");
		DIFF(mtu, "mtu");
		DIFF(target_count, "targets");
		DIFF(targets, "targets");
		DIFF(qclass, "qclass");
		DIFF(tape_support, "tape");
		DIFF(interrupt_delay, "idt");
		DIFF(vhba_flag, "flags");
		DIFF(tca_slot, "tca");
		DIFF(vm_index, "vm_index");
	}
	if (!n)
		snprintf(buf, len, "other");
}
#undef DIFF

static const char *cfg_name(uint8_t xsmp_type, const union xs_ulp_config *cfg)
{
	return xsmp_type == XS_XSMP_VNIC ? cfg->vnic.name : cfg->vhba.name;
}

/* ------------------------------------------------------ registration */

int xs_host_register_ulp(struct xs_host *h, const struct xs_ulp_ops *ops, void *ctx)
{
	if (!h || !ops || !type_desc(ops->xsmp_type))
		return -EINVAL;
	if (h->ulps[ops->xsmp_type].ops)
		return -EEXIST;
	h->ulps[ops->xsmp_type].ops = ops;
	h->ulps[ops->xsmp_type].ctx = ctx;
	XS_DEBUG(XS_HOST_LOG, "%s: module %s registered for XSMP type %u", h->session_name,
		 ops->name ? ops->name : "?", ops->xsmp_type);
	return 0;
}

const char *xs_host_ulp_name(const struct xs_host *h, uint8_t xsmp_type)
{
	if (xsmp_type >= XS_ARRAY_SIZE(h->ulps) || !h->ulps[xsmp_type].ops)
		return NULL;
	return h->ulps[xsmp_type].ops->name ? h->ulps[xsmp_type].ops->name : "?";
}

uint32_t xs_host_resource_flags(const struct xs_host *h)
{
	uint32_t f = 0;

	if (h->ulps[XS_XSMP_VNIC].ops)
		f |= 1u << XS_RES_VNIC;
	if (h->ulps[XS_XSMP_VHBA].ops)
		f |= 1u << XS_RES_VHBA;
	return f;
}

struct xs_ulp_dev *xs_host_devices(struct xs_host *h)
{
	return h->devs;
}

static struct xs_ulp_dev *dev_find(struct xs_host *h, uint64_t rid)
{
	struct xs_ulp_dev *d;

	for (d = h->devs; d; d = d->next)
		if (d->resource_id == rid)
			return d;
	return NULL;
}

static struct xs_ulp_dev *dev_find_name(struct xs_host *h, uint8_t type, const char *name,
					uint64_t not_rid)
{
	struct xs_ulp_dev *d;

	for (d = h->devs; d; d = d->next)
		if (d->xsmp_type == type && d->resource_id != not_rid && name[0] &&
		    strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

int xs_host_unregister_ulp(struct xs_host *h, uint8_t xsmp_type)
{
	struct xs_ulp_dev *d;

	if (xsmp_type >= XS_ARRAY_SIZE(h->ulps) || !h->ulps[xsmp_type].ops)
		return -ENOENT;
	for (d = h->devs; d; d = d->next)
		if (d->xsmp_type == xsmp_type)
			return -EBUSY;
	h->ulps[xsmp_type].ops = NULL;
	h->ulps[xsmp_type].ctx = NULL;
	return 0;
}

struct xs_ulp_dev *xs_host_device(struct xs_host *h, uint64_t resource_id)
{
	return dev_find(h, resource_id);
}

static void dev_unlink(struct xs_host *h, struct xs_ulp_dev *dev)
{
	struct xs_ulp_dev **pp;

	for (pp = &h->devs; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			h->n_devs--;
			return;
		}
	}
}

static void dev_remove(struct xs_host *h, struct xs_ulp_dev *dev, enum xs_ulp_remove_why why)
{
	struct xs_ulp_slot *slot = &h->ulps[dev->xsmp_type];

	XS_INFO(XS_HOST_LOG, "%s: %s %s (resource %016llx) removed (%s)", h->session_name,
		type_name(dev->xsmp_type), dev->name, (unsigned long long)dev->resource_id,
		why == XS_ULP_REMOVE_DELETE ? "DELETE" :
		why == XS_ULP_REMOVE_STALE ? "not re-announced in resync" : "host stopping");
	dev_unlink(h, dev);
	if (slot->ops && slot->ops->remove)
		slot->ops->remove(slot->ctx, dev, why);
	free(dev);
}

void xs_host_remove_all_devices(struct xs_host *h)
{
	while (h->devs)
		dev_remove(h, h->devs, XS_ULP_REMOVE_HOST_STOP);
}

/* ------------------------------------------------------------ replies */

/*
 * Echo the request back with ACK / NACK. @dec is the decoded request, or
 * NULL when it did not decode: then the first 16 bytes of @body (type,
 * bitmask, resource id) are echoed and the rest is zero.
 */
static void reply_to(struct xs_xsmp_client *c, uint8_t xsmp_type, const union xs_ulp_config *dec,
		     const uint8_t *body, size_t len, bool ack, uint32_t reason, const char *text)
{
	union xs_ulp_config m;
	uint8_t out[XS_XSMP_MAX_BODY];
	struct xs_ulp_peek p;
	int rc;

	if (dec) {
		m = *dec;
	} else {
		if (xs_ulp_peek(body, len, &p) < 0)
			return;
		memset(&m, 0, sizeof(m));
		if (xsmp_type == XS_XSMP_VNIC) {
			m.vnic.type = p.type, m.vnic.bitmask = p.bitmask;
			m.vnic.resource_id = p.resource_id;
		} else {
			m.vhba.type = p.type, m.vhba.bitmask = p.bitmask;
			m.vhba.resource_id = p.resource_id;
		}
	}
	if (xsmp_type == XS_XSMP_VNIC) {
		if (m.vnic.type == 0 || m.vnic.type >= XS_VNIC_CODE_MAX)
			m.vnic.type = XS_VNIC_INSTALL; /* cannot echo an invalid code */
		m.vnic.code = ack ? XS_XSMP_ACK : (uint8_t)(XS_XSMP_NACK | (reason & 0x3f));
		m.vnic.reason = ack ? 0 : reason;
		snprintf(m.vnic.reason_text, sizeof(m.vnic.reason_text), "%s", text ? text : "");
		m.vnic.length = 0;
		rc = xs_vnic_msg_encode(&m.vnic, out, sizeof(out));
	} else {
		if (m.vhba.type == 0 || m.vhba.type >= XS_VHBA_CODE_MAX)
			m.vhba.type = XS_VHBA_INSTALL;
		m.vhba.code = ack ? XS_XSMP_ACK : (uint8_t)(XS_XSMP_NACK | (reason & 0x3f));
		m.vhba.reason = ack ? 0 : reason;
		snprintf(m.vhba.reason_text, sizeof(m.vhba.reason_text), "%s", text ? text : "");
		m.vhba.length = 0;
		rc = xs_vhba_msg_encode(&m.vhba, out, sizeof(out));
	}
	if (rc < 0) {
		XS_ERR(XS_HOST_LOG, "%s: cannot encode a reply: %s", c->host->session_name,
		       xs_strerror(rc));
		return;
	}
	rc = xs_xsmp_client_send(c, xsmp_type, out, (size_t)rc);
	if (rc < 0)
		XS_WARN(XS_HOST_LOG, "%s: reply not sent: %s", c->host->session_name,
			xs_strerror(rc));
}

static void result_default(struct xs_ulp_result *res, int rc)
{
	if (res->reason == 0)
		res->reason = rc == -ENOMEM ? XS_NACK_ALLOC_ERROR : XS_NACK_GENERAL_ERROR;
	if (!res->text[0])
		snprintf(res->text, sizeof(res->text), "%s", xs_strerror(rc));
}

/* ------------------------------------------------------------ handlers */

static void on_install(struct xs_host *h, struct xs_xsmp_client *c, uint8_t type,
		       const uint8_t *body, size_t len, const union xs_ulp_config *cfg,
		       uint64_t now)
{
	struct xs_ulp_slot *slot = &h->ulps[type];
	const char *name = cfg_name(type, cfg);
	uint64_t rid = type == XS_XSMP_VNIC ? cfg->vnic.resource_id : cfg->vhba.resource_id;
	struct xs_ulp_result res = { 0, "" };
	union xs_ulp_config norm = *cfg, old;
	struct xs_ulp_dev *dev = dev_find(h, rid), *other;
	char text[XS_ULP_REASON_TEXT_LEN + 1], diff[48];
	int rc;

	cfg_normalise(type, &norm);
	if (dev && dev->xsmp_type != type) {
		snprintf(text, sizeof(text), "resource id %016llx is a %s on this host",
			 (unsigned long long)rid, type_name(dev->xsmp_type));
		reply_to(c, type, cfg, body, len, false, XS_NACK_DUP_VID, text);
		return;
	}
	other = dev_find_name(h, type, name, rid);
	if (other) {
		snprintf(text, sizeof(text), "name %s is used by resource %016llx", name,
			 (unsigned long long)other->resource_id);
		reply_to(c, type, cfg, body, len, false, XS_NACK_DUP_NAME, text);
		return;
	}
	if (dev) {
		dev->stale = false;
		dev->xcm_guid = c->xcm_guid;
		if (memcmp(&dev->cfg, &norm, sizeof(norm)) == 0) {
			reply_to(c, type, cfg, body, len, true, 0, "unchanged");
			return;
		}
		/* Re-announced with a different configuration: update in place. */
		cfg_diff(type, &dev->cfg, &norm, diff, sizeof(diff));
		old = dev->cfg;
		dev->cfg = norm;
		snprintf(dev->name, sizeof(dev->name), "%s", name);
		rc = 0;
		if (slot->ops->update)
			rc = slot->ops->update(slot->ctx, dev, &old, 0xffffffffu, &res);
		if (rc < 0) {
			dev->cfg = old;
			snprintf(dev->name, sizeof(dev->name), "%s", cfg_name(type, &old));
			result_default(&res, rc);
			reply_to(c, type, cfg, body, len, false, res.reason, res.text);
			return;
		}
		dev->updated_ms = now;
		dev->n_updates++;
		XS_INFO(XS_HOST_LOG, "%s: %s %s (resource %016llx) updated in place (%s)",
			h->session_name, type_name(type), dev->name, (unsigned long long)rid, diff);
		snprintf(text, sizeof(text), "updated (%s)", diff);
		reply_to(c, type, cfg, body, len, true, 0, text);
		return;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		reply_to(c, type, cfg, body, len, false, XS_NACK_ALLOC_ERROR, "out of memory");
		return;
	}
	dev->resource_id = rid;
	dev->xsmp_type = type;
	dev->cfg = norm;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->state = XS_RES_STATE_CONFIGURED;
	dev->xcm_guid = c->xcm_guid;
	dev->installed_ms = now;
	dev->updated_ms = now;
	dev->host = h;
	rc = 0;
	if (slot->ops->install)
		rc = slot->ops->install(slot->ctx, dev, &res);
	if (rc < 0) {
		result_default(&res, rc);
		XS_WARN(XS_HOST_LOG, "%s: %s %s (resource %016llx) refused: %s", h->session_name,
			type_name(type), name, (unsigned long long)rid, res.text);
		free(dev);
		reply_to(c, type, cfg, body, len, false, res.reason, res.text);
		return;
	}
	dev->next = h->devs;
	h->devs = dev;
	h->n_devs++;
	XS_INFO(XS_HOST_LOG, "%s: %s %s (resource %016llx) installed", h->session_name,
		type_name(type), name, (unsigned long long)rid);
	reply_to(c, type, cfg, body, len, true, 0, "installed");
}

static void on_update(struct xs_host *h, struct xs_xsmp_client *c, uint8_t type,
		      const uint8_t *body, size_t len, const union xs_ulp_config *cfg,
		      uint32_t bitmask, uint64_t now)
{
	struct xs_ulp_slot *slot = &h->ulps[type];
	uint64_t rid = type == XS_XSMP_VNIC ? cfg->vnic.resource_id : cfg->vhba.resource_id;
	struct xs_ulp_dev *dev = dev_find(h, rid);
	struct xs_ulp_result res = { 0, "" };
	union xs_ulp_config norm = *cfg, old;
	char text[XS_ULP_REASON_TEXT_LEN + 1], diff[48];
	int rc = 0;

	if (!dev || dev->xsmp_type != type) {
		snprintf(text, sizeof(text), "no %s with resource id %016llx", type_name(type),
			 (unsigned long long)rid);
		reply_to(c, type, cfg, body, len, false, XS_NACK_UNKNOWN_RESOURCE, text);
		return;
	}
	if (dev_find_name(h, type, cfg_name(type, cfg), rid)) {
		snprintf(text, sizeof(text), "name %s is already used", cfg_name(type, cfg));
		reply_to(c, type, cfg, body, len, false, XS_NACK_DUP_NAME, text);
		return;
	}
	cfg_normalise(type, &norm);
	cfg_diff(type, &dev->cfg, &norm, diff, sizeof(diff));
	old = dev->cfg;
	dev->cfg = norm;
	snprintf(dev->name, sizeof(dev->name), "%s", cfg_name(type, &norm));
	if (slot->ops->update)
		rc = slot->ops->update(slot->ctx, dev, &old, bitmask, &res);
	if (rc < 0) {
		dev->cfg = old;
		snprintf(dev->name, sizeof(dev->name), "%s", cfg_name(type, &old));
		result_default(&res, rc);
		reply_to(c, type, cfg, body, len, false, res.reason, res.text);
		return;
	}
	dev->stale = false;
	dev->updated_ms = now;
	dev->n_updates++;
	snprintf(text, sizeof(text), "updated (%s)", diff);
	reply_to(c, type, cfg, body, len, true, 0, text);
}

static void on_admin(struct xs_host *h, struct xs_xsmp_client *c, uint8_t type,
		     const uint8_t *body, size_t len, const union xs_ulp_config *cfg, uint64_t rid,
		     bool up, uint64_t now)
{
	struct xs_ulp_slot *slot = &h->ulps[type];
	struct xs_ulp_dev *dev = dev_find(h, rid);
	struct xs_ulp_result res = { 0, "" };
	union xs_ulp_config old;
	uint32_t mask;
	int rc = 0;

	if (!dev || dev->xsmp_type != type) {
		reply_to(c, type, cfg, body, len, false, XS_NACK_UNKNOWN_RESOURCE, "unknown resource id");
		return;
	}
	old = dev->cfg;
	if (type == XS_XSMP_VNIC) {
		dev->cfg.vnic.admin_state = up ? XS_ADMIN_UP : XS_ADMIN_DOWN;
		mask = XS_VNIC_UPDATE_ADMIN_STATE;
	} else {
		dev->cfg.vhba.admin_state = up ? XS_ADMIN_UP : XS_ADMIN_DOWN;
		mask = XS_VHBA_UPDATE_ADMIN_STATE;
	}
	if (slot->ops->update)
		rc = slot->ops->update(slot->ctx, dev, &old, mask, &res);
	if (rc < 0) {
		dev->cfg = old;
		result_default(&res, rc);
		reply_to(c, type, cfg, body, len, false, res.reason, res.text);
		return;
	}
	dev->updated_ms = now;
	reply_to(c, type, cfg, body, len, true, 0, up ? "admin up" : "admin down");
}

static void on_sync_begin(struct xs_host *h, struct xs_xsmp_client *c, uint8_t type,
			  const uint8_t *body, size_t len, const union xs_ulp_config *cfg)
{
	struct xs_ulp_dev *d;
	int n = 0;

	/* Only what this XCM configured: another XCM's devices are its business. */
	for (d = h->devs; d; d = d->next) {
		if (d->xsmp_type == type && d->xcm_guid == c->xcm_guid) {
			d->stale = true;
			n++;
		}
	}
	XS_DEBUG(XS_HOST_LOG, "%s: %s SYNC_BEGIN from %016llx: %d devices marked stale",
		 h->session_name, type_name(type), (unsigned long long)c->xcm_guid, n);
	reply_to(c, type, cfg, body, len, true, 0, "sync begin");
}

static void on_sync_end(struct xs_host *h, struct xs_xsmp_client *c, uint8_t type,
			const uint8_t *body, size_t len, const union xs_ulp_config *cfg)
{
	struct xs_ulp_dev *d, *next;
	char text[XS_ULP_REASON_TEXT_LEN + 1];
	int n = 0;

	for (d = h->devs; d; d = next) {
		next = d->next;
		if (d->xsmp_type == type && d->stale) {
			dev_remove(h, d, XS_ULP_REMOVE_STALE);
			n++;
		}
	}
	snprintf(text, sizeof(text), "removed %d stale", n);
	reply_to(c, type, cfg, body, len, true, 0, text);
	(void)xs_host_send_resource_list(h, c);
}

void xs_host_ulp_message(struct xs_host *h, struct xs_xsmp_client *c, uint8_t type,
			 const uint8_t *body, size_t len)
{
	const struct ulp_type_desc *td = type_desc(type);
	struct xs_ulp_slot *slot = &h->ulps[type];
	union xs_ulp_config cfg;
	struct xs_ulp_peek p;
	uint64_t now = c->last_rx_ms;
	char text[XS_ULP_REASON_TEXT_LEN + 1];
	struct xs_ulp_dev *dev;
	int rc;

	/* the decoders clear only their own struct: zero the whole union so
	 * that configurations compare equal byte for byte (resync) */
	memset(&cfg, 0, sizeof(cfg));
	if (xs_ulp_peek(body, len, &p) < 0) {
		c->bad_msgs++;
		XS_WARN(XS_HOST_LOG, "%s: %s message of %zu bytes dropped (too short)",
			h->session_name, type_name(type), len);
		return;
	}
	if (p.code & (XS_XSMP_ACK | XS_XSMP_NACK)) {
		/* The director acknowledging something we sent (OPER_*): nothing to do. */
		XS_DEBUG(XS_HOST_LOG, "%s: %s %s %s for %016llx", h->session_name,
			 type_name(type), td->code_str(p.type),
			 (p.code & XS_XSMP_ACK) ? "ACK" : "NACK", (unsigned long long)p.resource_id);
		return;
	}
	if (!slot->ops) {
		snprintf(text, sizeof(text), "no %s module on this host", type_name(type));
		reply_to(c, type, NULL, body, len, false, XS_NACK_NO_HANDLER, text);
		return;
	}
	rc = cfg_decode(type, body, len, &cfg);
	if (rc < 0) {
		c->bad_msgs++;
		snprintf(text, sizeof(text), "malformed %s %s message (%s)", type_name(type),
			 td->code_str(p.type), xs_strerror(rc));
		XS_WARN(XS_HOST_LOG, "%s: %s", h->session_name, text);
		reply_to(c, type, NULL, body, len, false, XS_NACK_MALFORMED, text);
		return;
	}
	XS_DEBUG(XS_HOST_LOG, "%s: %s %s for %016llx", h->session_name, type_name(type),
		 td->code_str(p.type), (unsigned long long)p.resource_id);
	if (p.type == td->install) {
		on_install(h, c, type, body, len, &cfg, now);
	} else if (p.type == td->update) {
		on_update(h, c, type, body, len, &cfg, p.bitmask, now);
	} else if (p.type == td->del) {
		dev = dev_find(h, p.resource_id);
		if (dev && dev->xsmp_type == type) {
			dev_remove(h, dev, XS_ULP_REMOVE_DELETE);
			reply_to(c, type, &cfg, body, len, true, 0, "deleted");
		} else {
			reply_to(c, type, &cfg, body, len, true, 0, "not present");
		}
	} else if (p.type == td->admin_up || p.type == td->admin_down) {
		on_admin(h, c, type, body, len, &cfg, p.resource_id, p.type == td->admin_up, now);
	} else if (p.type == td->sync_begin) {
		on_sync_begin(h, c, type, body, len, &cfg);
	} else if (p.type == td->sync_end) {
		on_sync_end(h, c, type, body, len, &cfg);
	} else {
		snprintf(text, sizeof(text), "%s %s is not handled by this host", type_name(type),
			 td->code_str(p.type));
		reply_to(c, type, &cfg, body, len, false, XS_NACK_UNSUPPORTED, text);
	}
}

/* ------------------------------------------------------ session hooks */

void xs_host_session_up(struct xs_host *h, struct xs_xsmp_client *c)
{
	size_t i;

	for (i = 0; i < XS_ARRAY_SIZE(h->ulps); i++)
		if (h->ulps[i].ops && h->ulps[i].ops->session)
			h->ulps[i].ops->session(h->ulps[i].ctx, c->xcm_guid, true);
}

void xs_host_session_down(struct xs_host *h, struct xs_xsmp_client *c)
{
	struct xs_ulp_dev *d;
	size_t i;

	/* A resync cut short decides nothing: the next one will. */
	for (d = h->devs; d; d = d->next)
		d->stale = false;
	for (i = 0; i < XS_ARRAY_SIZE(h->ulps); i++)
		if (h->ulps[i].ops && h->ulps[i].ops->session)
			h->ulps[i].ops->session(h->ulps[i].ctx, c->xcm_guid, false);
}

int xs_host_send_resource_list(struct xs_host *h, struct xs_xsmp_client *c)
{
	uint8_t body[XS_XSMP_MAX_BODY];
	struct xs_xsmp_session s;
	struct xs_reslist rl;
	struct xs_ulp_dev *d = h->devs;
	int rc, n;

	memset(&s, 0, sizeof(s));
	s.type = XS_XSMP_RESOURCE_LIST;
	s.resource_flags = xs_host_resource_flags(h);
	s.version = XS_HOST_AGENT_VERSION;
	s.xsmp_version = XS_XSMP_VERSION;
	snprintf(s.session_name, sizeof(s.session_name), "%s", h->session_name);
	rc = xs_xsmp_session_encode(&s, body, sizeof(body));
	if (rc < 0)
		return rc;
	memset(&rl, 0, sizeof(rl));
	rl.flags = XS_RESLIST_FIRST;
	rl.total = h->n_devs;
	for (;;) {
		rl.count = 0;
		while (d && rl.count < XS_RESLIST_MAX_ENTRIES) {
			rl.entries[rl.count].xsmp_type = d->xsmp_type;
			rl.entries[rl.count].state = (uint8_t)d->state;
			rl.entries[rl.count].resource_id = d->resource_id;
			rl.count++;
			d = d->next;
		}
		if (!d)
			rl.flags |= XS_RESLIST_LAST;
		n = xs_reslist_encode(&rl, body + XS_XSMP_SESSION_LEN,
				      sizeof(body) - XS_XSMP_SESSION_LEN);
		if (n < 0)
			return n;
		rc = xs_xsmp_client_send(c, XS_XSMP_SESSION, body,
					 (size_t)(XS_XSMP_SESSION_LEN + n));
		if (rc < 0)
			return rc;
		if (!d)
			return 0;
		rl.flags = 0;
	}
}

int xs_ulp_send(struct xs_ulp_dev *dev, uint8_t code)
{
	struct xs_host *h = dev->host;
	struct xs_xsmp_client *c = NULL;
	uint8_t out[XS_XSMP_MAX_BODY];
	union xs_ulp_config m = dev->cfg;
	int i, rc;

	for (i = 0; i < h->n_clients; i++)
		if (h->clients[i]->xcm_guid == dev->xcm_guid)
			c = h->clients[i];
	if (!c || c->state != XS_SESS_UP)
		return -ENOTCONN;
	if (dev->xsmp_type == XS_XSMP_VNIC) {
		m.vnic.type = code;
		rc = xs_vnic_msg_encode(&m.vnic, out, sizeof(out));
	} else {
		m.vhba.type = code;
		rc = xs_vhba_msg_encode(&m.vhba, out, sizeof(out));
	}
	if (rc < 0)
		return rc;
	return xs_xsmp_client_send(c, dev->xsmp_type, out, (size_t)rc);
}
