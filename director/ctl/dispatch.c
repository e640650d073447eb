/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - control requests: parse one JSON line, check every field,
 * run it against the store, build the reply. Table-driven: each op names
 * its handler and the fields it accepts, so a typo in a field name is an
 * error rather than silently ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xscore/log.h>

#include "ctl/ctl.h"

#define COMP "ctl"
#define BAD_REQUEST (-EPROTO) /* structural problem: counted as bad_request */

struct dreq {
	struct xsd_ctl_ctx *ctx;
	json_t *in;
	json_t *reply;
	const struct xsd_actor *who;
	struct xsd_ctl_req *req;
	struct xsd_err err;
	const char *op;
};

/* ----------------------------------------------------- request objects */

struct xsd_ctl_req_full {
	struct xsd_ctl_req req;
};

void xsd_ctl_req_get(struct xsd_ctl_req *req)
{
	req->refs++;
}

void xsd_ctl_req_put(struct xsd_ctl_req *req)
{
	if (--req->refs > 0)
		return;
	if (req->complete)
		req->complete(req, req->complete_arg);
	json_decref(req->reply);
	free(req);
}

void xsd_ctl_req_push_result(struct xsd_ctl_req *req, const char *device, const char *host,
			     const char *action, const char *result, const char *reason)
{
	json_t *arr = json_object_get(req->reply, "push");

	if (!arr) {
		arr = json_array();
		json_object_set_new(req->reply, "push", arr);
	}
	json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "device", device,
					     "host", host ? host : "", "action", action, "result",
					     result, "reason", reason ? reason : ""));
}

/* ------------------------------------------------------- field helpers */

/* 1 present, 0 absent (err set if required), <0 bad type. */
static int f_str(struct dreq *d, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(d->in, key);

	if (!v || json_is_null(v)) {
		if (required)
			return xsd_fail(&d->err, BAD_REQUEST, "missing field '%s' for %s", key, d->op);
		return 0;
	}
	if (!json_is_string(v))
		return xsd_fail(&d->err, BAD_REQUEST, "field '%s' must be a string", key);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return xsd_fail(&d->err, BAD_REQUEST, "field '%s' contains a NUL byte", key);
	return 1;
}

/* A number as JSON integer or decimal string; range errors read like the CLI's. */
static int f_uint(struct dreq *d, const char *key, const char *what, uint64_t lo, uint64_t hi,
		  uint64_t *out)
{
	json_t *v = json_object_get(d->in, key);
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0)
			return xsd_fail(&d->err, -EINVAL, "%s %" JSON_INTEGER_FORMAT
					" out of range; allowed %" PRIu64 "..%" PRIu64, what, i, lo, hi);
		*out = (uint64_t)i;
		rc = xsd_check_range(what, *out, lo, hi, &d->err);
	} else if (json_is_string(v)) {
		rc = xsd_parse_uint(what, json_string_value(v), lo, hi, out, &d->err);
	} else {
		return xsd_fail(&d->err, BAD_REQUEST, "field '%s' must be a number", key);
	}
	return rc ? rc : 1;
}

/* A name that must fit a fixed buffer: checked before it is copied. */
static int f_name(struct dreq *d, const char *key, const char *what, size_t max, bool required,
		  char *out, size_t cap)
{
	const char *s = NULL; /* set when f_str returns 1 */
	int rc = f_str(d, key, required, &s);

	if (rc <= 0)
		return rc;
	rc = xsd_check_name(what, s, max, &d->err);
	if (rc)
		return rc;
	snprintf(out, cap, "%s", s);
	return 1;
}

/* An optional name where "" means none. */
static int f_opt_name(struct dreq *d, const char *key, const char *what, size_t max, char *out,
		      size_t cap)
{
	const char *s = NULL; /* set when f_str returns 1 */
	int rc = f_str(d, key, false, &s);

	if (rc <= 0)
		return rc;
	if (!*s || !strcmp(s, "none")) {
		out[0] = 0;
		return 1;
	}
	rc = xsd_check_name(what, s, max, &d->err);
	if (rc)
		return rc;
	snprintf(out, cap, "%s", s);
	return 1;
}

static int f_admin(struct dreq *d, bool *up)
{
	const char *s;
	int rc = f_str(d, "admin", false, &s);

	if (rc <= 0)
		return rc;
	rc = xsd_parse_updown(s, up, &d->err);
	return rc ? rc : 1;
}

/* Text list or array of strings joined by ','. */
static int f_list(struct dreq *d, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(d->in, key);
	size_t off = 0, i;
	json_t *e;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (json_string_length(v) >= cap)
			return xsd_fail(&d->err, -EINVAL, "field '%s' is too long", key);
		snprintf(out, cap, "%s", json_string_value(v));
		return 1;
	}
	if (!json_is_array(v))
		return xsd_fail(&d->err, BAD_REQUEST, "field '%s' must be a string or an array", key);
	out[0] = 0;
	json_array_foreach(v, i, e) {
		size_t n;

		if (!json_is_string(e))
			return xsd_fail(&d->err, BAD_REQUEST, "field '%s' must hold strings", key);
		n = json_string_length(e);
		if (off + n + 2 > cap)
			return xsd_fail(&d->err, -EINVAL, "field '%s' is too long", key);
		off += (size_t)snprintf(out + off, cap - off, "%s%s", off ? "," : "",
					json_string_value(e));
	}
	return 1;
}

static int f_guids(struct dreq *d, uint64_t *guids, int *n)
{
	json_t *v = json_object_get(d->in, "host_guids");
	size_t i;
	json_t *e;

	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return xsd_fail(&d->err, BAD_REQUEST, "field 'host_guids' must be an array");
	if (json_array_size(v) > XSD_PROFILE_GUIDS_MAX)
		return xsd_fail(&d->err, -EINVAL, "a profile binds at most %d host GUIDs",
				XSD_PROFILE_GUIDS_MAX);
	json_array_foreach(v, i, e) {
		int rc;

		if (!json_is_string(e))
			return xsd_fail(&d->err, BAD_REQUEST, "field 'host_guids' must hold strings");
		rc = xsd_parse_guid(json_string_value(e), &guids[*n], &d->err);
		if (rc)
			return rc;
		for (int j = 0; j < *n; j++)
			if (guids[j] == guids[*n]) {
				char g[20];

				xsd_format_guid(guids[*n], g);
				return xsd_fail(&d->err, -EINVAL, "host GUID %s is given twice", g);
			}
		(*n)++;
	}
	return 1;
}

/* ---------------------------------------------------------- to JSON */

static json_t *hex64(uint64_t v)
{
	char s[20];

	xsd_format_guid(v, s);
	return json_string(s);
}

static json_t *wwn_json(uint64_t v)
{
	char s[24];

	xsd_format_wwn(v, s);
	return json_string(s);
}

static json_t *device_status(struct dreq *d, uint64_t rid)
{
	const struct xsd_ctl_hooks *h = d->ctx->hooks;
	json_t *s = h && h->device_status ? h->device_status(d->ctx->hooks_arg, rid) : NULL;

	return s ? s : json_array();
}

static json_t *vnic_json(struct dreq *d, const struct xsd_vnic *v)
{
	char mac[18];

	xsd_format_mac(v->mac, mac);
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:I, s:o}",
			 "name", v->name, "profile", v->profile, "mac", mac, "mtu",
			 (json_int_t)v->mtu, "vlan_mode", v->trunk ? "trunk" : "access", "vlans",
			 v->vlans, "uplink", v->uplink, "cir", (json_int_t)v->cir_mbps, "pir",
			 (json_int_t)v->pir_mbps, "ha_group", v->ha_group, "admin",
			 v->admin_up ? "up" : "down", "resource_id", hex64(v->resource_id),
			 "generation", (json_int_t)v->generation, "status",
			 device_status(d, v->resource_id));
}

/* The WWPN of each target the vHBA names (its SRP service ID), in order;
 * "" for a name the store does not know. */
static json_t *target_wwpns(struct dreq *d, const char *list)
{
	char t[XSD_TARGETS_TEXT], *save = NULL;
	json_t *a = json_array();

	snprintf(t, sizeof(t), "%s", list);
	for (char *n = strtok_r(t, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		struct xsd_target tg;

		json_array_append_new(a, xsd_store_target_get(d->ctx->store, n, &tg, NULL) == 0
					 ? wwn_json(tg.wwpn) : json_string(""));
	}
	return a;
}

static json_t *vhba_json(struct dreq *d, const struct xsd_vhba *v)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:I, s:I, s:s, s:o, s:I, s:o}",
			 "name", v->name, "profile", v->profile, "wwnn", wwn_json(v->wwnn), "wwpn",
			 wwn_json(v->wwpn), "targets", v->targets, "target_wwpns",
			 target_wwpns(d, v->targets), "lun_mask", v->lun_mask,
			 "queue_depth", (json_int_t)v->queue_depth, "link_down_timeout",
			 (json_int_t)v->link_down_timeout, "admin", v->admin_up ? "up" : "down",
			 "resource_id", hex64(v->resource_id), "generation",
			 (json_int_t)v->generation, "status", device_status(d, v->resource_id));
}

static void changed(struct dreq *d, enum xsd_change_kind kind, enum xsd_change_action action,
		    const char *name, uint64_t rid, const char *profile, const char *old_profile)
{
	const struct xsd_ctl_hooks *h = d->ctx->hooks;
	struct xsd_change c = {
		.kind = kind, .action = action, .name = name, .resource_id = rid,
		.profile = profile, .old_profile = old_profile,
	};

	if (h && h->changed)
		h->changed(d->ctx->hooks_arg, &c, d->req);
}

/* ------------------------------------------------------------- ops */

static int op_ping(struct dreq *d)
{
	json_object_set_new(d->reply, "version", json_string("0.1.0"));
	json_object_set_new(d->reply, "schema", json_integer(xsd_store_schema_version(d->ctx->store)));
	return 0;
}

static int op_stats(struct dreq *d)
{
	const struct xsd_ctl_counters *c = &d->ctx->counters;
	const struct xsd_ctl_hooks *h = d->ctx->hooks;
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests",
			      (json_int_t)c->requests, "ok", (json_int_t)c->ok, "refused",
			      (json_int_t)c->refused, "bad_json", (json_int_t)c->bad_json,
			      "bad_request", (json_int_t)c->bad_request, "too_long",
			      (json_int_t)c->too_long, "connections", (json_int_t)c->connections);

	if (h && h->stats) {
		json_t *x = h->stats(d->ctx->hooks_arg);

		if (x)
			json_object_update(o, x);
		json_decref(x);
	}
	json_object_set_new(d->reply, "stats", o);
	return 0;
}

static int op_profile_add(struct dreq *d)
{
	struct xsd_profile p = { 0 };
	const char *h;
	int rc;

	rc = f_name(d, "name", "profile", XSD_NAME_MAX, true, p.name, sizeof(p.name));
	if (rc < 0)
		return rc;
	rc = f_str(d, "hostname", false, &h);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		rc = xsd_check_hostname(h, &d->err);
		if (rc)
			return rc;
		snprintf(p.hostname, sizeof(p.hostname), "%s", h);
	}
	rc = f_guids(d, p.guids, &p.n_guids);
	if (rc < 0)
		return rc;
	rc = xsd_store_profile_add(d->ctx->store, d->who, &p, &d->err);
	if (!rc)
		changed(d, XSD_CHANGE_PROFILE, XSD_CHANGE_ADD, p.name, 0, p.name, NULL);
	return rc;
}

static int op_profile_set(struct dreq *d)
{
	char name[XSD_NAME_MAX + 1];
	uint64_t guids[XSD_PROFILE_GUIDS_MAX];
	int n = 0, rh, rg, rc;
	const char *h = NULL;

	rc = f_name(d, "name", "profile", XSD_NAME_MAX, true, name, sizeof(name));
	if (rc < 0)
		return rc;
	rh = f_str(d, "hostname", false, &h);
	if (rh < 0)
		return rh;
	if (rh == 1 && (!strcmp(h, "none") || !*h))
		h = "";
	else if (rh == 1 && (rc = xsd_check_hostname(h, &d->err)))
		return rc;
	rg = f_guids(d, guids, &n);
	if (rg < 0)
		return rg;
	if (rg == 0 && json_object_get(d->in, "host_guids"))
		rg = 1; /* explicit null: clear */
	rc = xsd_store_profile_set(d->ctx->store, d->who, name, rh == 1, h, rg == 1, guids, n,
				   &d->err);
	if (!rc)
		changed(d, XSD_CHANGE_PROFILE, XSD_CHANGE_SET, name, 0, name, NULL);
	return rc;
}

static int op_profile_delete(struct dreq *d)
{
	char name[XSD_NAME_MAX + 1];
	int rc = f_name(d, "name", "profile", XSD_NAME_MAX, true, name, sizeof(name));

	if (rc < 0)
		return rc;
	rc = xsd_store_profile_delete(d->ctx->store, d->who, name, &d->err);
	if (!rc)
		changed(d, XSD_CHANGE_PROFILE, XSD_CHANGE_DELETE, name, 0, name, NULL);
	return rc;
}

struct ctl_type;

struct show_ctx {
	struct dreq *d;
	json_t *arr;
	const struct ctl_type *t;
};

static int count_vnic(const struct xsd_vnic *v, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int count_vhba(const struct xsd_vhba *v, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int profile_row(const struct xsd_profile *p, void *arg)
{
	struct show_ctx *s = arg;
	json_t *g = json_array();
	int nv = 0, nh = 0;

	for (int i = 0; i < p->n_guids; i++)
		json_array_append_new(g, hex64(p->guids[i]));
	xsd_store_vnic_each(s->d->ctx->store, p->name, count_vnic, &nv, NULL);
	xsd_store_vhba_each(s->d->ctx->store, p->name, count_vhba, &nh, NULL);
	json_array_append_new(s->arr, json_pack("{s:s, s:s, s:o, s:i, s:i, s:I}", "name", p->name,
						"hostname", p->hostname, "host_guids", g, "vnics",
						nv, "vhbas", nh, "created",
						(json_int_t)p->created));
	return 0;
}

static int op_profile_show(struct dreq *d)
{
	struct show_ctx s = { d, json_array(), NULL };
	char name[XSD_NAME_MAX + 1];
	int rc;

	json_object_set_new(d->reply, "profiles", s.arr);
	rc = f_name(d, "name", "profile", XSD_NAME_MAX, false, name, sizeof(name));
	if (rc < 0)
		return rc;
	if (rc == 1) {
		struct xsd_profile p;

		rc = xsd_store_profile_get(d->ctx->store, name, &p, &d->err);
		return rc ? rc : profile_row(&p, &s);
	}
	return xsd_store_profile_each(d->ctx->store, profile_row, &s, &d->err);
}

/* Fields of a vnic request into v/have. */
static int vnic_fields(struct dreq *d, void *row, unsigned int *have, bool add)
{
	struct xsd_vnic *v = row;
	const char *s;
	uint64_t n;
	int rc;

	*have = 0;
	rc = f_name(d, "profile", "profile", XSD_NAME_MAX, add, v->profile, sizeof(v->profile));
	if (rc < 0)
		return rc;
	if (rc == 1)
		*have |= XSD_VNIC_PROFILE;
	rc = f_str(d, "mac", false, &s);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		rc = xsd_parse_mac(s, v->mac, &d->err);
		if (rc)
			return rc;
		*have |= XSD_VNIC_MAC;
	}
	rc = f_uint(d, "mtu", "MTU", XSD_MTU_MIN, XSD_MTU_MAX, &n);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		v->mtu = (uint32_t)n;
		*have |= XSD_VNIC_MTU;
	}
	rc = f_str(d, "vlan_mode", false, &s);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		rc = xsd_parse_vlan_mode(s, &v->trunk, &d->err);
		if (rc)
			return rc;
		*have |= XSD_VNIC_VLAN_MODE;
	}
	rc = f_str(d, "vlans", false, &s);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		unsigned int cnt;

		if (!*s || !strcmp(s, "none"))
			v->vlans[0] = 0;
		else if ((rc = xsd_parse_vlans(s, v->vlans, sizeof(v->vlans), &cnt, &d->err)))
			return rc;
		*have |= XSD_VNIC_VLANS;
	}
	rc = f_opt_name(d, "uplink", "uplink", XSD_UPLINK_MAX, v->uplink, sizeof(v->uplink));
	if (rc < 0)
		return rc;
	if (rc == 1)
		*have |= XSD_VNIC_UPLINK;
	rc = f_uint(d, "cir", "CIR", 0, XSD_RATE_MAX, &n);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		v->cir_mbps = (uint32_t)n;
		*have |= XSD_VNIC_CIR;
	}
	rc = f_uint(d, "pir", "PIR", 0, XSD_RATE_MAX, &n);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		v->pir_mbps = (uint32_t)n;
		*have |= XSD_VNIC_PIR;
	}
	rc = f_opt_name(d, "ha_group", "HA group", XSD_HA_GROUP_MAX, v->ha_group, sizeof(v->ha_group));
	if (rc < 0)
		return rc;
	if (rc == 1)
		*have |= XSD_VNIC_HA_GROUP;
	rc = f_admin(d, &v->admin_up);
	if (rc < 0)
		return rc;
	if (rc == 1)
		*have |= XSD_VNIC_ADMIN;
	return 0;
}

static int vhba_fields(struct dreq *d, void *row, unsigned int *have, bool add)
{
	struct xsd_vhba *v = row;
	const char *s;
	uint64_t n;
	int rc;

	*have = 0;
	rc = f_name(d, "profile", "profile", XSD_NAME_MAX, add, v->profile, sizeof(v->profile));
	if (rc < 0)
		return rc;
	if (rc == 1)
		*have |= XSD_VHBA_PROFILE;
	rc = f_str(d, "wwnn", false, &s);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if ((rc = xsd_parse_wwn(s, &v->wwnn, &d->err)))
			return rc;
		*have |= XSD_VHBA_WWNN;
	}
	rc = f_str(d, "wwpn", false, &s);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if ((rc = xsd_parse_wwn(s, &v->wwpn, &d->err)))
			return rc;
		*have |= XSD_VHBA_WWPN;
	}
	rc = f_list(d, "targets", v->targets, sizeof(v->targets));
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (!strcmp(v->targets, "none"))
			v->targets[0] = 0;
		*have |= XSD_VHBA_TARGETS;
	}
	rc = f_list(d, "lun_mask", v->lun_mask, sizeof(v->lun_mask));
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (!strcmp(v->lun_mask, "none"))
			v->lun_mask[0] = 0;
		*have |= XSD_VHBA_LUNS;
	}
	rc = f_uint(d, "queue_depth", "queue depth", XSD_QDEPTH_MIN, XSD_QDEPTH_MAX, &n);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		v->queue_depth = (uint32_t)n;
		*have |= XSD_VHBA_QDEPTH;
	}
	rc = f_uint(d, "link_down_timeout", "link-down timeout", 0, XSD_LDTO_MAX, &n);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		v->link_down_timeout = (uint32_t)n;
		*have |= XSD_VHBA_LDTO;
	}
	rc = f_admin(d, &v->admin_up);
	if (rc < 0)
		return rc;
	if (rc == 1)
		*have |= XSD_VHBA_ADMIN;
	return 0;
}


/* ------------------------------------------------ storage, targets, LUNs */

/* true/false, or absent (0). */
static int f_bool(struct dreq *d, const char *key, bool *out)
{
	json_t *v = json_object_get(d->in, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return xsd_fail(&d->err, BAD_REQUEST, "field '%s' must be true or false", key);
	*out = json_is_true(v);
	return 1;
}

/* A byte count as JSON integer or a string with a K/M/G/T suffix. */
static int f_size(struct dreq *d, const char *key, const char *what, uint64_t *out)
{
	json_t *v = json_object_get(d->in, key);
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0)
			return xsd_fail(&d->err, -EINVAL, "%s must be more than 0 bytes", what);
		*out = (uint64_t)json_integer_value(v);
		return 1;
	}
	if (!json_is_string(v))
		return xsd_fail(&d->err, BAD_REQUEST, "field '%s' must be a number or a string", key);
	rc = xsd_parse_size(what, json_string_value(v), out, &d->err);
	return rc ? rc : 1;
}

static json_t *storage_status(struct dreq *d, enum xsd_obj type, const char *name)
{
	const struct xsd_ctl_hooks *h = d->ctx->hooks;
	json_t *s = h && h->storage_status ? h->storage_status(d->ctx->hooks_arg, type, name)
					   : NULL;

	return s ? s : json_null();
}

static json_t *storage_json(struct dreq *d, const void *row)
{
	const struct xsd_storage *o = row;
	json_t *lun = o->lun_target[0] ? json_pack("{s:s, s:i}", "target", o->lun_target, "lun",
						   (int)o->lun)
				       : json_null();

	return json_pack("{s:s, s:s, s:s, s:I, s:b, s:o, s:o}", "name", o->name, "type",
			 xsd_storage_type_name(o->type), "location", o->location, "size",
			 (json_int_t)o->size, "direct", o->direct, "lun", lun, "status",
			 storage_status(d, XSD_OBJ_STORAGE, o->name));
}

static int lun_row(const void *row, void *arg)
{
	const struct xsd_lun *l = row;

	json_array_append_new(arg, json_pack("{s:i, s:s, s:b}", "lun", (int)l->lun, "storage",
					     l->storage, "read_only", l->read_only));
	return 0;
}

struct vhba_users {
	const char *target;
	json_t *arr;
};

static int vhba_user_row(const struct xsd_vhba *v, void *arg)
{
	struct vhba_users *u = arg;
	char t[XSD_TARGETS_TEXT], *save = NULL;

	snprintf(t, sizeof(t), "%s", v->targets);
	for (char *n = strtok_r(t, ",", &save); n; n = strtok_r(NULL, ",", &save))
		if (!strcmp(n, u->target))
			json_array_append_new(u->arr, json_pack("{s:s, s:o, s:s}", "name", v->name,
								"wwpn", wwn_json(v->wwpn),
								"lun_mask", v->lun_mask));
	return 0;
}

static json_t *target_json(struct dreq *d, const void *row)
{
	const struct xsd_target *t = row;
	struct vhba_users u = { t->name, json_array() };
	json_t *luns = json_array();

	xsd_store_each(d->ctx->store, XSD_OBJ_LUN, t->name, lun_row, luns, NULL);
	xsd_store_vhba_each(d->ctx->store, NULL, vhba_user_row, &u, NULL);
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", t->name, "wwpn", wwn_json(t->wwpn),
			 "luns", luns, "vhbas", u.arr, "status",
			 storage_status(d, XSD_OBJ_TARGET, t->name));
}

static json_t *vnic_json_row(struct dreq *d, const void *row) { return vnic_json(d, row); }
static json_t *vhba_json_row(struct dreq *d, const void *row) { return vhba_json(d, row); }

static void vdev_deleted(struct dreq *d, enum xsd_change_kind kind, const char *name,
			 uint64_t rid, const char *profile)
{
	json_object_set_new(d->reply, "resource_id", hex64(rid));
	changed(d, kind, XSD_CHANGE_DELETE, name, rid, profile, profile);
}

static void vnic_deleted(struct dreq *d, const char *name, const void *old)
{
	const struct xsd_vnic *v = old;

	vdev_deleted(d, XSD_CHANGE_VNIC, name, v->resource_id, v->profile);
}

static void vhba_deleted(struct dreq *d, const char *name, const void *old)
{
	const struct xsd_vhba *v = old;

	vdev_deleted(d, XSD_CHANGE_VHBA, name, v->resource_id, v->profile);
}

static void storage_deleted(struct dreq *d, const char *name, const void *old)
{
	changed(d, XSD_CHANGE_STORAGE, XSD_CHANGE_DELETE, name, 0, NULL, NULL);
}

static void target_deleted(struct dreq *d, const char *name, const void *old)
{
	changed(d, XSD_CHANGE_TARGET, XSD_CHANGE_DELETE, name, 0, NULL, NULL);
}

/* Any row of the store's object types. */
union any_row {
	struct xsd_vnic vnic;
	struct xsd_vhba vhba;
	struct xsd_storage storage;
	struct xsd_target target;
	struct xsd_lun lun;
};

/*
 * Per object type: what show and delete need. The store's table
 * (xsd_store_get/each/delete) does the rest, so these two requests exist
 * once for every type.
 */
static const struct ctl_type {
	enum xsd_obj obj;
	const char *kind;         /* "vnic": name checks */
	const char *reply_key;    /* "vnics": the show reply's array */
	size_t name_max;
	const char *filter_key;   /* show's filter field, NULL = none */
	json_t *(*to_json)(struct dreq *d, const void *row);
	void (*deleted)(struct dreq *d, const char *name, const void *old);
} ctl_types[] = {
	[XSD_OBJ_VNIC] = { XSD_OBJ_VNIC, "vnic", "vnics", XSD_DEV_NAME_MAX, "profile",
			   vnic_json_row, vnic_deleted },
	[XSD_OBJ_VHBA] = { XSD_OBJ_VHBA, "vhba", "vhbas", XSD_DEV_NAME_MAX, "profile",
			   vhba_json_row, vhba_deleted },
	[XSD_OBJ_STORAGE] = { XSD_OBJ_STORAGE, "storage", "storage", XSD_NAME_MAX, NULL,
			      storage_json, storage_deleted },
	[XSD_OBJ_TARGET] = { XSD_OBJ_TARGET, "target", "targets", XSD_TARGET_NAME_MAX, NULL,
			     target_json, target_deleted },
};

/* The two device types, for add and set (their checks differ, their
 * request handling does not). */
static int vnic_add(struct xsd_store *st, const struct xsd_actor *who, void *row,
		    unsigned int have, struct xsd_err *err)
{
	return xsd_store_vnic_add(st, who, row, have, err);
}

static int vnic_set(struct xsd_store *st, const struct xsd_actor *who, void *row,
		    unsigned int have, struct xsd_err *err)
{
	return xsd_store_vnic_set(st, who, row, have, err);
}

static int vhba_add(struct xsd_store *st, const struct xsd_actor *who, void *row,
		    unsigned int have, struct xsd_err *err)
{
	return xsd_store_vhba_add(st, who, row, have, err);
}

static int vhba_set(struct xsd_store *st, const struct xsd_actor *who, void *row,
		    unsigned int have, struct xsd_err *err)
{
	return xsd_store_vhba_set(st, who, row, have, err);
}

/* name, profile and resource id of a vnic or vhba row */
struct dev_ids {
	const char *name, *profile;
	uint64_t rid;
};

static struct dev_ids vnic_ids(const void *row)
{
	const struct xsd_vnic *v = row;

	return (struct dev_ids){ v->name, v->profile, v->resource_id };
}

static struct dev_ids vhba_ids(const void *row)
{
	const struct xsd_vhba *v = row;

	return (struct dev_ids){ v->name, v->profile, v->resource_id };
}

static const struct dev_type {
	enum xsd_obj obj;
	enum xsd_change_kind change;
	int (*fields)(struct dreq *d, void *row, unsigned int *have, bool add);
	int (*add)(struct xsd_store *st, const struct xsd_actor *who, void *row,
		   unsigned int have, struct xsd_err *err);
	int (*set)(struct xsd_store *st, const struct xsd_actor *who, void *row,
		   unsigned int have, struct xsd_err *err);
	struct dev_ids (*ids)(const void *row);
	size_t name_off;             /* of the row's name[XSD_DEV_NAME_MAX + 1] */
} dev_types[] = {
	{ XSD_OBJ_VNIC, XSD_CHANGE_VNIC, vnic_fields, vnic_add, vnic_set, vnic_ids,
	  offsetof(struct xsd_vnic, name) },
	{ XSD_OBJ_VHBA, XSD_CHANGE_VHBA, vhba_fields, vhba_add, vhba_set, vhba_ids,
	  offsetof(struct xsd_vhba, name) },
};

static int dev_add_set(struct dreq *d, const struct dev_type *dt, bool add)
{
	const struct ctl_type *t = &ctl_types[dt->obj];
	union any_row *v = calloc(1, sizeof(*v)), *cur = NULL;
	char old_profile[XSD_NAME_MAX + 1] = "";
	struct dev_ids id;
	unsigned int have;
	int rc;

	if (!v)
		return xsd_fail(&d->err, -ENOMEM, "out of memory");
	rc = f_name(d, "name", t->kind, XSD_DEV_NAME_MAX, true, (char *)v + dt->name_off,
		    XSD_DEV_NAME_MAX + 1);
	if (rc >= 0)
		rc = dt->fields(d, v, &have, add);
	if (rc >= 0 && !add) {
		cur = malloc(sizeof(*cur));
		if (cur && !xsd_store_get(d->ctx->store, dt->obj, dt->ids(v).name, cur, NULL))
			snprintf(old_profile, sizeof(old_profile), "%s", dt->ids(cur).profile);
		free(cur);
	}
	if (rc >= 0)
		rc = (add ? dt->add : dt->set)(d->ctx->store, d->who, v, have, &d->err);
	if (rc >= 0) {
		id = dt->ids(v);
		changed(d, dt->change, add ? XSD_CHANGE_ADD : XSD_CHANGE_SET, id.name, id.rid,
			id.profile, add ? NULL : old_profile);
		json_object_set_new(d->reply, t->kind, t->to_json(d, v));
	}
	free(v);
	return rc < 0 ? rc : 0;
}

static int op_vnic_add(struct dreq *d) { return dev_add_set(d, &dev_types[0], true); }
static int op_vnic_set(struct dreq *d) { return dev_add_set(d, &dev_types[0], false); }
static int op_vhba_add(struct dreq *d) { return dev_add_set(d, &dev_types[1], true); }
static int op_vhba_set(struct dreq *d) { return dev_add_set(d, &dev_types[1], false); }

static int obj_row(const void *row, void *arg)
{
	struct show_ctx *s = arg;

	json_array_append_new(s->arr, s->t->to_json(s->d, row));
	return 0;
}

static int obj_show(struct dreq *d, enum xsd_obj obj)
{
	const struct ctl_type *t = &ctl_types[obj];
	struct show_ctx s = { d, json_array(), t };
	char name[XSD_NAME_MAX + 1], filter[XSD_NAME_MAX + 1];
	int rc, rf = 0;

	json_object_set_new(d->reply, t->reply_key, s.arr);
	rc = f_name(d, "name", t->kind, t->name_max, false, name, sizeof(name));
	if (rc < 0)
		return rc;
	if (t->filter_key) {
		rf = f_name(d, t->filter_key, t->filter_key, XSD_NAME_MAX, false, filter,
			    sizeof(filter));
		if (rf < 0)
			return rf;
	}
	if (rc == 1) {
		union any_row *row = malloc(sizeof(*row));

		if (!row)
			return xsd_fail(&d->err, -ENOMEM, "out of memory");
		rc = xsd_store_get(d->ctx->store, obj, name, row, &d->err);
		if (!rc)
			obj_row(row, &s);
		free(row);
		return rc;
	}
	return xsd_store_each(d->ctx->store, obj, rf == 1 ? filter : NULL, obj_row, &s, &d->err);
}

static int obj_delete(struct dreq *d, enum xsd_obj obj)
{
	const struct ctl_type *t = &ctl_types[obj];
	union any_row *old = calloc(1, sizeof(*old));
	char name[XSD_NAME_MAX + 1];
	int rc;

	if (!old)
		return xsd_fail(&d->err, -ENOMEM, "out of memory");
	rc = f_name(d, "name", t->kind, t->name_max, true, name, sizeof(name));
	if (rc >= 0)
		rc = xsd_store_delete(d->ctx->store, d->who, obj, name, old, &d->err);
	if (rc >= 0)
		t->deleted(d, name, old);
	free(old);
	return rc < 0 ? rc : 0;
}

static int op_vnic_delete(struct dreq *d) { return obj_delete(d, XSD_OBJ_VNIC); }
static int op_vnic_show(struct dreq *d) { return obj_show(d, XSD_OBJ_VNIC); }
static int op_vhba_delete(struct dreq *d) { return obj_delete(d, XSD_OBJ_VHBA); }
static int op_vhba_show(struct dreq *d) { return obj_show(d, XSD_OBJ_VHBA); }
static int op_storage_delete(struct dreq *d) { return obj_delete(d, XSD_OBJ_STORAGE); }
static int op_storage_show(struct dreq *d) { return obj_show(d, XSD_OBJ_STORAGE); }
static int op_target_delete(struct dreq *d) { return obj_delete(d, XSD_OBJ_TARGET); }
static int op_target_show(struct dreq *d) { return obj_show(d, XSD_OBJ_TARGET); }

/* The back end keys of storage.add, indexed by enum xsd_storage_type. */
static const char *const storage_keys[] = {
	[XSD_STORAGE_FILE] = "file", [XSD_STORAGE_BLOCK] = "block", [XSD_STORAGE_SG] = "sg",
	[XSD_STORAGE_ISCSI] = "iscsi", [XSD_STORAGE_RAM] = "ram",
};

static int op_storage_add(struct dreq *d)
{
	struct xsd_storage *o = calloc(1, sizeof(*o));
	const char *val = NULL;
	int rc;

	if (!o)
		return xsd_fail(&d->err, -ENOMEM, "out of memory");
	rc = f_name(d, "name", "storage", XSD_NAME_MAX, true, o->name, sizeof(o->name));
	for (unsigned int i = 1; rc >= 0 && i < sizeof(storage_keys) / sizeof(storage_keys[0]);
	     i++) {
		const char *v;
		int r = f_str(d, storage_keys[i], false, &v);

		if (r < 0)
			rc = r;
		else if (r == 1 && o->type)
			rc = xsd_fail(&d->err, -EINVAL,
				      "give only one of --file, --block, --sg, --iscsi, --ram");
		else if (r == 1) {
			o->type = (enum xsd_storage_type)i;
			val = v;
		}
	}
	if (rc >= 0 && !o->type)
		rc = xsd_fail(&d->err, -EINVAL, "give one of --file, --block, --sg, --iscsi, --ram");
	if (rc >= 0 && o->type == XSD_STORAGE_RAM) {
		rc = xsd_parse_size("ram size", val, &o->size, &d->err);
		if (!rc && json_object_get(d->in, "size"))
			rc = xsd_fail(&d->err, -EINVAL, "--size goes with --file");
	} else if (rc >= 0) {
		if (strlen(val) > XSD_LOCATION_MAX)
			rc = xsd_fail(&d->err, -EINVAL, "%s path is longer than %d characters",
				      storage_keys[o->type], XSD_LOCATION_MAX);
		else
			snprintf(o->location, sizeof(o->location), "%s", val);
		if (rc >= 0)
			rc = f_size(d, "size", "size", &o->size);
	}
	if (rc >= 0)
		rc = f_bool(d, "direct", &o->direct);
	if (rc >= 0)
		rc = xsd_store_storage_add(d->ctx->store, d->who, o, &d->err);
	if (rc >= 0) {
		changed(d, XSD_CHANGE_STORAGE, XSD_CHANGE_ADD, o->name, 0, NULL, NULL);
		rc = xsd_store_get(d->ctx->store, XSD_OBJ_STORAGE, o->name, o, &d->err);
		if (!rc)
			json_object_set_new(d->reply, "storage", storage_json(d, o));
	}
	free(o);
	return rc < 0 ? rc : 0;
}

static int op_target_add(struct dreq *d)
{
	struct xsd_target t = { 0 };
	const char *w;
	int rc, rw;

	rc = f_name(d, "name", "target", XSD_TARGET_NAME_MAX, true, t.name, sizeof(t.name));
	if (rc < 0)
		return rc;
	rw = f_str(d, "wwpn", false, &w);
	if (rw < 0)
		return rw;
	if (rw == 1 && (rc = xsd_parse_wwn(w, &t.wwpn, &d->err)))
		return rc;
	rc = xsd_store_target_add(d->ctx->store, d->who, &t, rw == 1, &d->err);
	if (rc)
		return rc;
	changed(d, XSD_CHANGE_TARGET, XSD_CHANGE_ADD, t.name, 0, NULL, NULL);
	json_object_set_new(d->reply, "target", target_json(d, &t));
	return 0;
}

static int lun_fields(struct dreq *d, struct xsd_lun *l)
{
	uint64_t n;
	int rc;

	rc = f_name(d, "target", "target", XSD_TARGET_NAME_MAX, true, l->target,
		    sizeof(l->target));
	if (rc < 0)
		return rc;
	rc = f_uint(d, "lun", "LUN", 0, XSD_LUN_MAX, &n);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return xsd_fail(&d->err, BAD_REQUEST, "missing field 'lun' for %s", d->op);
	l->lun = (uint16_t)n;
	return 0;
}

static int op_lun_add(struct dreq *d)
{
	struct xsd_lun l = { 0 };
	int rc;

	rc = lun_fields(d, &l);
	if (!rc)
		rc = f_name(d, "storage", "storage", XSD_NAME_MAX, true, l.storage,
			    sizeof(l.storage));
	if (rc >= 0)
		rc = f_bool(d, "read_only", &l.read_only);
	if (rc >= 0)
		rc = xsd_store_lun_add(d->ctx->store, d->who, &l, &d->err);
	if (rc < 0)
		return rc;
	changed(d, XSD_CHANGE_LUN, XSD_CHANGE_ADD, l.target, 0, NULL, NULL);
	json_object_set_new(d->reply, "lun", json_pack("{s:s, s:i, s:s, s:b}", "target", l.target,
						       "lun", (int)l.lun, "storage", l.storage,
						       "read_only", l.read_only));
	return 0;
}

static int op_lun_delete(struct dreq *d)
{
	struct xsd_lun l = { 0 };
	int rc;

	rc = lun_fields(d, &l);
	if (!rc)
		rc = xsd_store_lun_delete(d->ctx->store, d->who, l.target, l.lun, &l, &d->err);
	if (rc)
		return rc;
	changed(d, XSD_CHANGE_LUN, XSD_CHANGE_DELETE, l.target, 0, NULL, NULL);
	return 0;
}

static int op_sessions_show(struct dreq *d)
{
	const struct xsd_ctl_hooks *h = d->ctx->hooks;
	json_t *a = h && h->sessions ? h->sessions(d->ctx->hooks_arg) : NULL;

	json_object_set_new(d->reply, "sessions", a ? a : json_array());
	return 0;
}

static int op_hosts_show(struct dreq *d)
{
	const struct xsd_ctl_hooks *h = d->ctx->hooks;
	json_t *a = h && h->hosts ? h->hosts(d->ctx->hooks_arg) : NULL;

	json_object_set_new(d->reply, "hosts", a ? a : json_array());
	return 0;
}

static int audit_row(const struct xsd_audit *a, void *arg)
{
	struct show_ctx *s = arg;
	char when[32];
	time_t t = (time_t)a->when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_append_new(s->arr, json_pack("{s:I, s:s, s:I, s:s, s:s}", "seq",
						(json_int_t)a->seq, "when", when, "uid",
						(json_int_t)a->uid, "user", a->user, "what",
						a->what));
	return 0;
}

static int op_log_show(struct dreq *d)
{
	struct show_ctx s = { d, json_array(), NULL };
	uint64_t limit = 20;
	int rc;

	json_object_set_new(d->reply, "log", s.arr);
	rc = f_uint(d, "limit", "limit", 1, 100000, &limit);
	if (rc < 0)
		return rc;
	return xsd_store_audit_each(d->ctx->store, (int)limit, audit_row, &s, &d->err);
}

static int op_config_set(struct dreq *d)
{
	const char *key = NULL, *value = NULL;
	json_t *v;
	char num[32];
	int rc;

	rc = f_str(d, "key", true, &key);
	if (rc <= 0)
		return rc ? rc : BAD_REQUEST;
	v = json_object_get(d->in, "value");
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		value = num;
	} else {
		rc = f_str(d, "value", true, &value);
		if (rc <= 0)
			return rc ? rc : BAD_REQUEST;
	}
	rc = xsd_store_set_config(d->ctx->store, d->who, key, value, &d->err);
	if (!rc)
		changed(d, XSD_CHANGE_CONFIG, XSD_CHANGE_SET, key, 0, NULL, NULL);
	return rc;
}

static int op_config_show(struct dreq *d)
{
	struct xsd_config c;
	char a[18], b[18], wa[24], wb[24], mp[40], wp[52];
	int rc = xsd_store_get_config(d->ctx->store, &c, &d->err);

	if (rc)
		return rc;
	xsd_format_mac(c.mac_pool_lo, a);
	xsd_format_mac(c.mac_pool_hi, b);
	xsd_format_wwn(c.wwn_pool_lo, wa);
	xsd_format_wwn(c.wwn_pool_hi, wb);
	snprintf(mp, sizeof(mp), "%s-%s", a, b);
	snprintf(wp, sizeof(wp), "%s-%s", wa, wb);
	json_object_set_new(d->reply, "config",
			    json_pack("{s:s, s:I, s:I, s:s, s:s}", "auto-accept",
				      c.auto_accept ? "on" : "off", "hello-interval",
				      (json_int_t)c.hello_interval, "max-sessions",
				      (json_int_t)c.max_sessions, "mac-pool", mp, "wwn-pool", wp));
	return 0;
}

static int name_op(struct dreq *d, const char *kind, bool add)
{
	char name[XSD_NAME_MAX + 1];
	bool up = !strcmp(kind, "uplink");
	int rc = f_name(d, "name", up ? "uplink" : "storage pool",
			up ? XSD_UPLINK_MAX : XSD_NAME_MAX, true, name, sizeof(name));

	if (rc < 0)
		return rc;
	return add ? xsd_store_name_add(d->ctx->store, d->who, kind, name, &d->err)
		   : xsd_store_name_delete(d->ctx->store, d->who, kind, name, &d->err);
}

static int name_row(const char *name, void *arg)
{
	json_array_append_new(((struct show_ctx *)arg)->arr, json_string(name));
	return 0;
}

static int name_show(struct dreq *d, const char *kind, const char *key)
{
	struct show_ctx s = { d, json_array(), NULL };

	json_object_set_new(d->reply, key, s.arr);
	return xsd_store_name_each(d->ctx->store, kind, name_row, &s, &d->err);
}

static int op_uplink_add(struct dreq *d)
{
	char name[XSD_UPLINK_MAX + 1], ifname[32] = "";
	int rc = f_name(d, "name", "uplink", XSD_UPLINK_MAX, true, name, sizeof(name));

	if (rc < 0)
		return rc;
	rc = f_opt_name(d, "interface", "interface", 15, ifname, sizeof(ifname));
	if (rc < 0)
		return rc;
	return xsd_store_uplink_add(d->ctx->store, d->who, name, ifname, &d->err);
}
static int op_uplink_delete(struct dreq *d) { return name_op(d, "uplink", false); }
static int op_uplink_show(struct dreq *d) { return name_show(d, "uplink", "uplinks"); }
static int op_pool_add(struct dreq *d) { return name_op(d, "storage-pool", true); }
static int op_pool_delete(struct dreq *d) { return name_op(d, "storage-pool", false); }
static int op_pool_show(struct dreq *d) { return name_show(d, "storage-pool", "storage_pools"); }

#define VNIC_FIELDS "name", "profile", "mac", "mtu", "vlan_mode", "vlans", "uplink", "cir", \
		    "pir", "ha_group", "admin"
#define VHBA_FIELDS "name", "profile", "wwnn", "wwpn", "targets", "lun_mask", "queue_depth", \
		    "link_down_timeout", "admin"

static const struct op {
	const char *name;
	int (*fn)(struct dreq *d);
	const char *fields[13]; /* accepted besides "op" and "id"; NULL-terminated */
} ops[] = {
	{ "ping", op_ping, { NULL } },
	{ "stats", op_stats, { NULL } },
	{ "profile.add", op_profile_add, { "name", "hostname", "host_guids", NULL } },
	{ "profile.set", op_profile_set, { "name", "hostname", "host_guids", NULL } },
	{ "profile.delete", op_profile_delete, { "name", NULL } },
	{ "profile.show", op_profile_show, { "name", NULL } },
	{ "vnic.add", op_vnic_add, { VNIC_FIELDS, NULL } },
	{ "vnic.set", op_vnic_set, { VNIC_FIELDS, NULL } },
	{ "vnic.delete", op_vnic_delete, { "name", NULL } },
	{ "vnic.show", op_vnic_show, { "name", "profile", NULL } },
	{ "vhba.add", op_vhba_add, { VHBA_FIELDS, NULL } },
	{ "vhba.set", op_vhba_set, { VHBA_FIELDS, NULL } },
	{ "vhba.delete", op_vhba_delete, { "name", NULL } },
	{ "vhba.show", op_vhba_show, { "name", "profile", NULL } },
	{ "sessions.show", op_sessions_show, { NULL } },
	{ "hosts.show", op_hosts_show, { NULL } },
	{ "log.show", op_log_show, { "limit", NULL } },
	{ "config.set", op_config_set, { "key", "value", NULL } },
	{ "config.show", op_config_show, { NULL } },
	{ "uplink.add", op_uplink_add, { "name", "interface", NULL } },
	{ "uplink.delete", op_uplink_delete, { "name", NULL } },
	{ "uplink.show", op_uplink_show, { NULL } },
	{ "storage-pool.add", op_pool_add, { "name", NULL } },
	{ "storage-pool.delete", op_pool_delete, { "name", NULL } },
	{ "storage-pool.show", op_pool_show, { NULL } },
	{ "storage.add", op_storage_add,
	  { "name", "file", "block", "sg", "iscsi", "ram", "size", "direct", NULL } },
	{ "storage.delete", op_storage_delete, { "name", NULL } },
	{ "storage.show", op_storage_show, { "name", NULL } },
	{ "target.add", op_target_add, { "name", "wwpn", NULL } },
	{ "target.delete", op_target_delete, { "name", NULL } },
	{ "target.show", op_target_show, { "name", NULL } },
	{ "lun.add", op_lun_add, { "target", "lun", "storage", "read_only", NULL } },
	{ "lun.delete", op_lun_delete, { "target", "lun", NULL } },
};

static const char *errno_code(int neg)
{
	switch (-neg) {
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case EBUSY: return "EBUSY";
	case ENOSPC: return "ENOSPC";
	case ENOMEM: return "ENOMEM";
	case EPROTO: return "EPROTO";
	default: return "EIO";
	}
}

/* Error texts quote what the client sent, which may be any bytes: replace
 * every byte that is not part of a valid UTF-8 sequence (JSON strings must
 * be UTF-8; jansson refuses others) and control characters with '?'. */
static void utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
			: (*p & 0xf8) == 0xf0 ? 3 : -1;
		int i;

		if (n == 0) {
			if (*p < 0x20)
				*p = '?';
			p++;
			continue;
		}
		for (i = 1; n > 0 && i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		if (n < 0 || i <= n || (n == 1 && *p < 0xc2) ||
		    (n == 2 && *p == 0xe0 && p[1] < 0xa0) || (n == 2 && *p == 0xed && p[1] > 0x9f) ||
		    (n == 3 && *p == 0xf0 && p[1] < 0x90) || (n == 3 && *p > 0xf4) ||
		    (n == 3 && *p == 0xf4 && p[1] > 0x8f)) {
			*p++ = '?';
			continue;
		}
		p += n + 1;
	}
}

static int check_fields(struct dreq *d, const struct op *op)
{
	const char *key;
	json_t *v;

	json_object_foreach(d->in, key, v) {
		bool ok = !strcmp(key, "op") || !strcmp(key, "id");

		for (int i = 0; !ok && op->fields[i]; i++)
			ok = !strcmp(key, op->fields[i]);
		if (!ok)
			return xsd_fail(&d->err, BAD_REQUEST, "unknown field '%.40s' for %s", key,
					op->name);
	}
	return 0;
}

static struct xsd_ctl_req *req_new(void)
{
	struct xsd_ctl_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->refs = 1;
	req->reply = json_object();
	if (!req->reply) {
		free(req);
		return NULL;
	}
	return req;
}

struct xsd_ctl_req *xsd_ctl_dispatch(struct xsd_ctl_ctx *ctx, const char *line, size_t len,
				     const struct xsd_actor *who)
{
	struct dreq d = { .ctx = ctx, .who = who };
	struct xsd_ctl_req *req = req_new();
	const struct op *op = NULL;
	json_error_t jerr;
	json_t *opv, *id;
	int rc;

	if (!req)
		return NULL;
	d.req = req;
	d.reply = req->reply;
	ctx->counters.requests++;
	d.in = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!d.in) {
		ctx->counters.bad_json++;
		xsd_fail(&d.err, -EPROTO, "bad JSON at column %d: %s", jerr.column, jerr.text);
		rc = -EPROTO;
		goto reply;
	}
	if (!json_is_object(d.in)) {
		rc = xsd_fail(&d.err, BAD_REQUEST, "a request must be a JSON object");
		goto counted;
	}
	id = json_object_get(d.in, "id");
	if (id)
		json_object_set(d.reply, "id", id);
	opv = json_object_get(d.in, "op");
	if (!json_is_string(opv)) {
		rc = xsd_fail(&d.err, BAD_REQUEST, "missing field 'op' (a string)");
		goto counted;
	}
	d.op = json_string_value(opv);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(d.op, ops[i].name))
			op = &ops[i];
	if (!op) {
		rc = xsd_fail(&d.err, BAD_REQUEST, "unknown op '%.40s'", d.op);
		goto counted;
	}
	rc = check_fields(&d, op);
	if (!rc)
		rc = op->fn(&d);
counted:
	if (rc == BAD_REQUEST)
		ctx->counters.bad_request++;
	else if (rc)
		ctx->counters.refused++;
	else
		ctx->counters.ok++;
reply:
	json_object_set_new(d.reply, "ok", json_boolean(rc == 0));
	if (rc) {
		utf8_clean(d.err.msg);
		json_object_set_new(d.reply, "error", json_string(d.err.msg));
		json_object_set_new(d.reply, "code", json_string(errno_code(rc)));
		XS_DEBUG(COMP, "request refused: %s", d.err.msg);
	}
	json_decref(d.in);
	return req;
}
