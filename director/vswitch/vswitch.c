/* SPDX-License-Identifier: MIT */
/*
 * vswitch.c - ports, VLAN membership, the MAC table (static vNIC MACs,
 * learned and aged uplink MACs), multicast groups, policers, and the
 * forwarding decision. The rules are in docs/vswitch.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>

#include "vswitch.h"
#include "vsw_int.h"

#define NS_PER_S UINT64_C(1000000000)
#define TAKEOVER_LOG_NS (10 * NS_PER_S)

/* ------------------------------------------------------------ policer */

struct policer {
	struct xsd_vsw_rate cfg;
	uint64_t tc, tp;    /* tokens, in nano-bytes (bytes * 1e9) */
	uint64_t last_ns;
	bool primed;
};

enum colour { GREEN, YELLOW, RED };

static bool rate_valid(const struct xsd_vsw_rate *r)
{
	if (r->cir_bps == 0 && r->pir_bps == 0)
		return true;
	if (r->cir_bps == 0 || r->cbs_bytes == 0)
		return false;
	if (r->pir_bps && (r->pir_bps < r->cir_bps || r->pbs_bytes == 0))
		return false;
	return true;
}

static void policer_set(struct policer *p, const struct xsd_vsw_rate *r)
{
	if (memcmp(&p->cfg, r, sizeof(*r)) == 0 && p->primed)
		return;
	p->cfg = *r;
	p->primed = false; /* buckets start full at the next frame */
}

static uint64_t bucket_fill(uint64_t tokens, uint64_t rate_bps, uint64_t elapsed_ns,
			    uint32_t size_bytes)
{
	unsigned __int128 t = (unsigned __int128)elapsed_ns * rate_bps / 8 + tokens;
	unsigned __int128 cap = (unsigned __int128)size_bytes * NS_PER_S;

	return (uint64_t)(t > cap ? cap : t);
}

static enum colour policer_check(struct policer *p, size_t len, uint64_t now_ns)
{
	const struct xsd_vsw_rate *r = &p->cfg;
	uint64_t need = (uint64_t)len * NS_PER_S, elapsed;

	if (r->cir_bps == 0)
		return GREEN;
	if (!p->primed) {
		p->tc = (uint64_t)r->cbs_bytes * NS_PER_S;
		p->tp = (uint64_t)r->pbs_bytes * NS_PER_S;
		p->last_ns = now_ns;
		p->primed = true;
	}
	/* Time never runs backwards for a policer: an older stamp adds nothing. */
	elapsed = now_ns > p->last_ns ? now_ns - p->last_ns : 0;
	if (now_ns > p->last_ns)
		p->last_ns = now_ns;
	p->tc = bucket_fill(p->tc, r->cir_bps, elapsed, r->cbs_bytes);
	if (r->pir_bps) {
		p->tp = bucket_fill(p->tp, r->pir_bps, elapsed, r->pbs_bytes);
		if (p->tp < need)
			return RED;
		p->tp -= need;
		if (p->tc < need)
			return YELLOW;
		p->tc -= need;
		return GREEN;
	}
	if (p->tc < need)
		return RED;
	p->tc -= need;
	return GREEN;
}

/* ----------------------------------------------------------- MAC table */

#define NIL (-1)
#define STATIC_VLAN 0 /* key of vNIC MACs: valid in every VLAN the port is in */

struct mac_ent {
	uint64_t key;       /* VLAN << 48 | MAC */
	uint32_t port;
	int32_t next;
	uint64_t last_ns;
	bool used;
};

struct mac_table {
	int32_t *buckets;
	uint32_t mask;
	struct mac_ent *ents;
	uint32_t cap;
	int32_t free_head;
};

#define KEY_MAC_MASK UINT64_C(0xffffffffffff)

static uint64_t mac_key(uint16_t vlan, const uint8_t *mac)
{
	return (uint64_t)vlan << 48 | (uint64_t)xs_get16(mac) << 32 | xs_get32(mac + 2);
}

/* Fibonacci hashing: one multiply, the high bits are well mixed. */
static uint32_t key_hash(uint64_t key)
{
	return (uint32_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 32);
}

static int mt_init(struct mac_table *t, uint32_t cap)
{
	uint32_t nb = 16, i;

	while (nb < 2 * cap)
		nb <<= 1;
	t->buckets = malloc(sizeof(*t->buckets) * nb);
	t->ents = calloc(cap, sizeof(*t->ents));
	if (!t->buckets || !t->ents) {
		free(t->buckets);
		free(t->ents);
		return -ENOMEM;
	}
	for (i = 0; i < nb; i++)
		t->buckets[i] = NIL;
	t->mask = nb - 1;
	t->cap = cap;
	for (i = 0; i < cap; i++)
		t->ents[i].next = i + 1 < cap ? (int32_t)(i + 1) : NIL;
	t->free_head = cap ? 0 : NIL;
	return 0;
}

static void mt_fini(struct mac_table *t)
{
	free(t->buckets);
	free(t->ents);
}

static struct mac_ent *mt_find(const struct mac_table *t, uint16_t vlan, const uint8_t *mac)
{
	uint64_t key = mac_key(vlan, mac);
	int32_t i = t->buckets[key_hash(key) & t->mask];

	while (i != NIL) {
		struct mac_ent *e = &t->ents[i];

		if (e->key == key)
			return e;
		i = e->next;
	}
	return NULL;
}

static struct mac_ent *mt_insert(struct mac_table *t, uint16_t vlan, const uint8_t *mac)
{
	uint64_t key = mac_key(vlan, mac);
	uint32_t b = key_hash(key) & t->mask;
	struct mac_ent *e;
	int32_t i = t->free_head;

	if (i == NIL)
		return NULL;
	e = &t->ents[i];
	t->free_head = e->next;
	e->key = key;
	e->used = true;
	e->next = t->buckets[b];
	t->buckets[b] = i;
	return e;
}

static void mt_remove(struct mac_table *t, struct mac_ent *victim)
{
	int32_t *link = &t->buckets[key_hash(victim->key) & t->mask];
	int32_t idx = (int32_t)(victim - t->ents);

	while (*link != NIL && *link != idx)
		link = &t->ents[*link].next;
	if (*link == NIL)
		return;
	*link = victim->next;
	victim->used = false;
	victim->next = t->free_head;
	t->free_head = idx;
}

/* --------------------------------------------------------------- ports */

struct vsw_port {
	uint32_t id;
	enum xsd_vsw_port_kind kind;
	bool up;
	enum xsd_vsw_vlan_mode mode;
	uint16_t access_vlan, native_vlan;
	bool allow_all;
	uint8_t allowed[4096 / 8];
	uint8_t mac[XSD_VSW_MAC_LEN];
	bool csum_offload, tso;
	uint64_t takeover_log_ns; /* last takeover warning for this vNIC */
	bool takeover_logged;
	struct policer pol_in, pol_out;
	bool all_multi;
	uint16_t n_mcast;
	uint8_t mcast[XSD_VSW_MAX_MCAST][XSD_VSW_MAC_LEN]; /* sorted */
	struct xsd_vsw_port_stats st;
};

struct xsd_vsw {
	struct vsw_port **ports;
	uint32_t max_ports;
	uint32_t n_ports;
	uint32_t *active;          /* ids of the n_ports ports, for flooding */
	int32_t uplink;
	struct mac_table vnic_macs; /* key (STATIC_VLAN, mac) -> vNIC port */
	struct mac_table learned;   /* key (vlan, mac) -> uplink */
	uint32_t n_learned;
	uint64_t age_ns;
	void (*takeover)(void *arg, uint32_t vnic_port, uint16_t vlan, const uint8_t *mac);
	void *cb_arg;
	struct xsd_vsw_stats st;
};

static const char *const drop_names[XSD_VSW_DROP_N_REASONS] = {
	[XSD_VSW_DROP_NONE] = "none",
	[XSD_VSW_DROP_MALFORMED] = "malformed",
	[XSD_VSW_DROP_PORT_DOWN] = "port_down",
	[XSD_VSW_DROP_VLAN] = "vlan",
	[XSD_VSW_DROP_BAD_SRC] = "bad_src",
	[XSD_VSW_DROP_SPOOF] = "spoof",
	[XSD_VSW_DROP_TAKEOVER] = "takeover",
	[XSD_VSW_DROP_UNKNOWN_DST] = "unknown_dst",
	[XSD_VSW_DROP_NO_EGRESS] = "no_egress",
	[XSD_VSW_DROP_RATE_IN] = "rate_in",
	[XSD_VSW_DROP_RATE_OUT] = "rate_out",
};

const char *xsd_vsw_drop_name(enum xsd_vsw_drop reason)
{
	if ((unsigned int)reason >= XSD_VSW_DROP_N_REASONS)
		return "unknown";
	return drop_names[reason];
}

static bool mac_is_group(const uint8_t *mac) { return mac[0] & 1; }

static bool mac_is_zero(const uint8_t *mac)
{
	static const uint8_t zero[XSD_VSW_MAC_LEN];

	return memcmp(mac, zero, XSD_VSW_MAC_LEN) == 0;
}

static bool mac_is_bcast(const uint8_t *mac)
{
	static const uint8_t ff[XSD_VSW_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return memcmp(mac, ff, XSD_VSW_MAC_LEN) == 0;
}

struct xsd_vsw *xsd_vsw_create(const struct xsd_vsw_opts *opts)
{
	struct xsd_vsw_opts o = { 0 };
	struct xsd_vsw *sw;

	if (opts) {
		if (opts->size < offsetof(struct xsd_vsw_opts, reserved) ||
		    opts->size > sizeof(o)) {
			errno = EINVAL;
			return NULL;
		}
		memcpy(&o, opts, opts->size);
	}
	if (!o.max_ports)
		o.max_ports = XSD_VSW_DEFAULT_MAX_PORTS;
	if (!o.max_learned)
		o.max_learned = XSD_VSW_DEFAULT_MAX_LEARNED;
	if (!o.age_s)
		o.age_s = XSD_VSW_DEFAULT_AGE_S;
	if (o.max_ports > (1u << 20) || o.max_learned > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	sw = calloc(1, sizeof(*sw));
	if (!sw)
		goto err;
	sw->ports = calloc(o.max_ports, sizeof(*sw->ports));
	if (!sw->ports)
		goto err_free_sw;
	sw->active = calloc(o.max_ports, sizeof(*sw->active));
	if (!sw->active)
		goto err_free_ports;
	if (mt_init(&sw->vnic_macs, o.max_ports))
		goto err_free_active;
	if (mt_init(&sw->learned, o.max_learned))
		goto err_fini_vnic_macs;
	sw->max_ports = o.max_ports;
	sw->uplink = -1;
	sw->age_ns = (uint64_t)o.age_s * NS_PER_S;
	sw->takeover = o.takeover;
	sw->cb_arg = o.cb_arg;
	return sw;

err_fini_vnic_macs:
	mt_fini(&sw->vnic_macs);
err_free_active:
	free(sw->active);
err_free_ports:
	free(sw->ports);
err_free_sw:
	free(sw);
err:
	errno = ENOMEM;
	return NULL;
}

void xsd_vsw_destroy(struct xsd_vsw *sw)
{
	uint32_t i;

	if (!sw)
		return;
	for (i = 0; i < sw->max_ports; i++)
		free(sw->ports[i]);
	mt_fini(&sw->learned);
	mt_fini(&sw->vnic_macs);
	free(sw->active);
	free(sw->ports);
	free(sw);
}

static bool vlan_ok(uint16_t v) { return v >= XSD_VSW_VLAN_MIN && v <= XSD_VSW_VLAN_MAX; }

static bool allowed_has(const struct vsw_port *p, uint16_t v)
{
	return p->allowed[v >> 3] & (1u << (v & 7));
}

/* Is @p a member of VLAN @v? */
static bool port_in_vlan(const struct vsw_port *p, uint16_t v)
{
	if (p->mode == XSD_VSW_ACCESS)
		return p->access_vlan == v;
	return p->allow_all ? vlan_ok(v) : allowed_has(p, v);
}

static int cfg_check(enum xsd_vsw_port_kind kind, const struct xsd_vsw_port_cfg *c)
{
	size_t i;

	if (kind != XSD_VSW_PORT_VNIC && kind != XSD_VSW_PORT_UPLINK)
		return -EINVAL;
	if (c->mode == XSD_VSW_ACCESS) {
		if (!vlan_ok(c->access_vlan))
			return -EINVAL;
	} else if (c->mode == XSD_VSW_TRUNK) {
		bool native_listed = false;

		if (c->n_allowed > XSD_VSW_VLAN_MAX || (c->n_allowed && !c->allowed))
			return -EINVAL;
		if (c->n_allowed == 0 && kind == XSD_VSW_PORT_VNIC)
			return -EINVAL;
		for (i = 0; i < c->n_allowed; i++) {
			if (!vlan_ok(c->allowed[i]))
				return -EINVAL;
			if (c->allowed[i] == c->native_vlan)
				native_listed = true;
		}
		if (c->native_vlan && (!vlan_ok(c->native_vlan) ||
				       (c->n_allowed && !native_listed)))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (kind == XSD_VSW_PORT_VNIC && (mac_is_group(c->mac) || mac_is_zero(c->mac)))
		return -EINVAL;
	if (!rate_valid(&c->rate_in) || !rate_valid(&c->rate_out))
		return -EINVAL;
	return 0;
}

static void flush_learned_mac(struct xsd_vsw *sw, const uint8_t *mac)
{
	uint32_t i;

	for (i = 0; i < sw->learned.cap; i++) {
		struct mac_ent *e = &sw->learned.ents[i];

		if (e->used && (e->key & KEY_MAC_MASK) == mac_key(0, mac)) {
			mt_remove(&sw->learned, e);
			sw->n_learned--;
		}
	}
}

static void flush_learned(struct xsd_vsw *sw)
{
	uint32_t i;

	for (i = 0; i < sw->learned.cap; i++)
		if (sw->learned.ents[i].used)
			mt_remove(&sw->learned, &sw->learned.ents[i]);
	sw->n_learned = 0;
}

static void port_apply(struct vsw_port *p, const struct xsd_vsw_port_cfg *c)
{
	size_t i;

	p->mode = c->mode;
	p->access_vlan = c->mode == XSD_VSW_ACCESS ? c->access_vlan : 0;
	p->native_vlan = c->mode == XSD_VSW_TRUNK ? c->native_vlan : 0;
	memset(p->allowed, 0, sizeof(p->allowed));
	p->allow_all = c->mode == XSD_VSW_TRUNK && c->n_allowed == 0;
	if (c->mode == XSD_VSW_TRUNK)
		for (i = 0; i < c->n_allowed; i++)
			p->allowed[c->allowed[i] >> 3] |= (uint8_t)(1u << (c->allowed[i] & 7));
	if (p->kind == XSD_VSW_PORT_VNIC)
		memcpy(p->mac, c->mac, XSD_VSW_MAC_LEN);
	p->csum_offload = c->csum_offload;
	p->tso = c->tso;
	policer_set(&p->pol_in, &c->rate_in);
	policer_set(&p->pol_out, &c->rate_out);
}

static struct vsw_port *port_get(const struct xsd_vsw *sw, uint32_t id)
{
	return id < sw->max_ports ? sw->ports[id] : NULL;
}

int xsd_vsw_port_add(struct xsd_vsw *sw, enum xsd_vsw_port_kind kind,
		     const struct xsd_vsw_port_cfg *cfg)
{
	struct mac_ent *e = NULL;
	struct vsw_port *p;
	uint32_t id;
	int rc;

	rc = cfg_check(kind, cfg);
	if (rc)
		return rc;
	if (kind == XSD_VSW_PORT_UPLINK && sw->uplink >= 0)
		return -EEXIST;
	if (kind == XSD_VSW_PORT_VNIC && mt_find(&sw->vnic_macs, STATIC_VLAN, cfg->mac))
		return -EEXIST;
	for (id = 0; id < sw->max_ports && sw->ports[id]; id++)
		;
	if (id == sw->max_ports)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->id = id;
	p->kind = kind;
	p->up = true;
	port_apply(p, cfg);
	if (kind == XSD_VSW_PORT_VNIC) {
		e = mt_insert(&sw->vnic_macs, STATIC_VLAN, cfg->mac);
		if (!e) { /* cannot happen: the table holds max_ports entries */
			free(p);
			return -ENOSPC;
		}
		e->port = id;
		flush_learned_mac(sw, cfg->mac);
	} else {
		sw->uplink = (int32_t)id;
	}
	sw->ports[id] = p;
	sw->active[sw->n_ports++] = id;
	XS_DEBUG(VSW_LOG, "port %u added (%s)", id, kind == XSD_VSW_PORT_VNIC ? "vnic" : "uplink");
	return (int)id;
}

int xsd_vsw_port_update(struct xsd_vsw *sw, uint32_t port, const struct xsd_vsw_port_cfg *cfg)
{
	struct vsw_port *p = port_get(sw, port);
	struct mac_ent *e;
	int rc;

	if (!p)
		return -ENOENT;
	rc = cfg_check(p->kind, cfg);
	if (rc)
		return rc;
	if (p->kind == XSD_VSW_PORT_VNIC && memcmp(p->mac, cfg->mac, XSD_VSW_MAC_LEN)) {
		if (mt_find(&sw->vnic_macs, STATIC_VLAN, cfg->mac))
			return -EEXIST;
		e = mt_find(&sw->vnic_macs, STATIC_VLAN, p->mac);
		if (e)
			mt_remove(&sw->vnic_macs, e);
		e = mt_insert(&sw->vnic_macs, STATIC_VLAN, cfg->mac);
		if (!e)
			return -ENOSPC; /* cannot happen: one was just freed */
		e->port = port;
		flush_learned_mac(sw, cfg->mac);
	}
	port_apply(p, cfg);
	return 0;
}

int xsd_vsw_port_del(struct xsd_vsw *sw, uint32_t port)
{
	struct vsw_port *p = port_get(sw, port);
	struct mac_ent *e;
	uint32_t i;

	if (!p)
		return -ENOENT;
	if (p->kind == XSD_VSW_PORT_VNIC) {
		e = mt_find(&sw->vnic_macs, STATIC_VLAN, p->mac);
		if (e)
			mt_remove(&sw->vnic_macs, e);
	} else {
		flush_learned(sw);
		sw->uplink = -1;
	}
	sw->ports[port] = NULL;
	for (i = 0; i < sw->n_ports; i++) {
		if (sw->active[i] == port) {
			sw->active[i] = sw->active[--sw->n_ports];
			break;
		}
	}
	free(p);
	return 0;
}

int xsd_vsw_port_set_up(struct xsd_vsw *sw, uint32_t port, bool up)
{
	struct vsw_port *p = port_get(sw, port);

	if (!p)
		return -ENOENT;
	p->up = up;
	return 0;
}

static int mac_cmp(const void *a, const void *b) { return memcmp(a, b, XSD_VSW_MAC_LEN); }

int xsd_vsw_port_set_mcast(struct xsd_vsw *sw, uint32_t port, const uint8_t (*macs)[6],
			   size_t n, bool all_multi)
{
	struct vsw_port *p = port_get(sw, port);
	uint16_t k = 0;
	size_t i;

	if (!p)
		return -ENOENT;
	if (n && !macs)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!mac_is_group(macs[i]))
			return -EINVAL;
	if (n > XSD_VSW_MAX_MCAST || all_multi) {
		p->all_multi = true;
		p->n_mcast = 0;
		return 0;
	}
	p->all_multi = false;
	for (i = 0; i < n; i++)
		memcpy(p->mcast[i], macs[i], XSD_VSW_MAC_LEN);
	qsort(p->mcast, n, XSD_VSW_MAC_LEN, mac_cmp);
	/* drop duplicates */
	for (i = 0; i < n; i++)
		if (k == 0 || memcmp(p->mcast[k - 1], p->mcast[i], XSD_VSW_MAC_LEN))
			memmove(p->mcast[k++], p->mcast[i], XSD_VSW_MAC_LEN);
	p->n_mcast = k;
	return 0;
}

static bool port_wants_group(const struct vsw_port *p, const uint8_t *dst)
{
	if (p->kind == XSD_VSW_PORT_UPLINK || p->all_multi || mac_is_bcast(dst))
		return true;
	return bsearch(dst, p->mcast, p->n_mcast, XSD_VSW_MAC_LEN, mac_cmp) != NULL;
}

int xsd_vsw_port_stats(const struct xsd_vsw *sw, uint32_t port, struct xsd_vsw_port_stats *st)
{
	const struct vsw_port *p = port_get(sw, port);

	if (!p)
		return -ENOENT;
	*st = p->st;
	return 0;
}

void xsd_vsw_stats(const struct xsd_vsw *sw, struct xsd_vsw_stats *st) { *st = sw->st; }

int xsd_vsw_uplink(const struct xsd_vsw *sw) { return sw->uplink; }

/* ------------------------------------------------------------ MAC table */

static bool learned_live(const struct xsd_vsw *sw, const struct mac_ent *e, uint64_t now_ns)
{
	return now_ns < e->last_ns || now_ns - e->last_ns < sw->age_ns;
}

int xsd_vsw_mac_lookup(const struct xsd_vsw *sw, uint16_t vlan, const uint8_t *mac,
		       uint64_t now_ns, bool *is_static)
{
	const struct mac_ent *e = mt_find(&sw->vnic_macs, STATIC_VLAN, mac);

	if (e && port_in_vlan(sw->ports[e->port], vlan)) {
		if (is_static)
			*is_static = true;
		return (int)e->port;
	}
	e = mt_find(&sw->learned, vlan, mac);
	if (e && learned_live(sw, e, now_ns)) {
		if (is_static)
			*is_static = false;
		return (int)e->port;
	}
	return -ENOENT;
}

unsigned int xsd_vsw_learned_count(const struct xsd_vsw *sw) { return sw->n_learned; }

static void key_to_mac(uint64_t key, uint8_t *mac)
{
	xs_put16(mac, (uint16_t)(key >> 32));
	xs_put32(mac + 2, (uint32_t)key);
}

static int learned_row_cmp(const void *a, const void *b)
{
	const struct xsd_vsw_mac_entry *x = a, *y = b;

	if (x->vlan != y->vlan)
		return x->vlan < y->vlan ? -1 : 1;
	return memcmp(x->mac, y->mac, XSD_VSW_MAC_LEN);
}

size_t xsd_vsw_mac_dump(const struct xsd_vsw *sw, uint64_t now_ns, struct xsd_vsw_mac_entry *out,
			size_t cap)
{
	size_t n = 0, first_learned;
	uint32_t i;

	for (i = 0; i < sw->max_ports; i++) {
		const struct vsw_port *p = sw->ports[i];

		if (!p || p->kind != XSD_VSW_PORT_VNIC)
			continue;
		if (n < cap) {
			memcpy(out[n].mac, p->mac, XSD_VSW_MAC_LEN);
			out[n].vlan = 0;
			out[n].port = i;
			out[n].is_static = true;
			out[n].idle_ns = 0;
		}
		n++;
	}
	first_learned = n;
	for (i = 0; i < sw->learned.cap; i++) {
		const struct mac_ent *e = &sw->learned.ents[i];

		if (!e->used || !learned_live(sw, e, now_ns))
			continue;
		if (n < cap) {
			key_to_mac(e->key, out[n].mac);
			out[n].vlan = (uint16_t)(e->key >> 48);
			out[n].port = e->port;
			out[n].is_static = false;
			out[n].idle_ns = now_ns > e->last_ns ? now_ns - e->last_ns : 0;
		}
		n++;
	}
	if (first_learned < cap)
		qsort(out + first_learned, XS_MIN(n, cap) - first_learned, sizeof(*out),
		      learned_row_cmp);
	return n;
}

unsigned int xsd_vsw_age(struct xsd_vsw *sw, uint64_t now_ns)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = 0; i < sw->learned.cap; i++) {
		struct mac_ent *e = &sw->learned.ents[i];

		if (e->used && !learned_live(sw, e, now_ns)) {
			mt_remove(&sw->learned, e);
			sw->n_learned--;
			n++;
		}
	}
	sw->st.aged += n;
	return n;
}

static void learn(struct xsd_vsw *sw, uint32_t port, uint16_t vlan, const uint8_t *mac,
		  uint64_t now_ns)
{
	struct mac_ent *e = mt_find(&sw->learned, vlan, mac);

	if (!e) {
		if (sw->n_learned >= sw->learned.cap || !(e = mt_insert(&sw->learned, vlan, mac))) {
			sw->st.learn_full++;
			return;
		}
		sw->n_learned++;
		sw->st.learned++;
	} else if (!learned_live(sw, e, now_ns)) {
		sw->st.aged++;   /* expired, now seen again: counts as aged + learned */
		sw->st.learned++;
	}
	e->port = port;
	e->last_ns = now_ns;
}

/* ----------------------------------------------------------- forwarding */

/* Classification of the frame's VLAN on ingress. */
struct frame_info {
	bool had_tag;   /* an outer 802.1Q tag, VID 0 included */
	uint16_t tci;   /* the tag's TCI (had_tag) */
};

static enum xsd_vsw_drop classify(const struct vsw_port *p, const struct frame_info *fi,
				  uint16_t *vlan)
{
	uint16_t vid = fi->had_tag ? (fi->tci & 0x0fff) : 0;

	if (vid) {
		if (p->mode == XSD_VSW_ACCESS || !port_in_vlan(p, vid))
			return XSD_VSW_DROP_VLAN;
		*vlan = vid;
		return XSD_VSW_DROP_NONE;
	}
	if (p->mode == XSD_VSW_ACCESS) {
		*vlan = p->access_vlan;
		return XSD_VSW_DROP_NONE;
	}
	if (!p->native_vlan)
		return XSD_VSW_DROP_VLAN;
	*vlan = p->native_vlan;
	return XSD_VSW_DROP_NONE;
}

static bool egress_tagged(const struct vsw_port *p, uint16_t vlan)
{
	return p->mode == XSD_VSW_TRUNK && vlan != p->native_vlan;
}

static void build_variant(struct xsd_vsw_egress *e, const uint8_t *frame, size_t len,
			  const struct frame_info *fi, struct xsd_vsw_result *res, bool tagged)
{
	size_t body = 2 * XSD_VSW_MAC_LEN + (fi->had_tag ? VSW_TAG_LEN : 0);

	e->tagged = tagged;
	if (tagged == fi->had_tag && (!tagged || fi->tci == res->tci)) {
		e->iovcnt = 1;
		e->iov[0].iov_base = (void *)frame;
		e->iov[0].iov_len = len;
		e->len = len;
		return;
	}
	e->iov[0].iov_base = (void *)frame;
	e->iov[0].iov_len = 2 * XSD_VSW_MAC_LEN;
	if (tagged) {
		e->iovcnt = 3;
		e->iov[1].iov_base = res->tag;
		e->iov[1].iov_len = VSW_TAG_LEN;
		e->iov[2].iov_base = (void *)(frame + body);
		e->iov[2].iov_len = len - body;
		e->len = len - body + 2 * XSD_VSW_MAC_LEN + VSW_TAG_LEN;
	} else {
		e->iovcnt = 2;
		e->iov[1].iov_base = (void *)(frame + body);
		e->iov[1].iov_len = len - body;
		e->len = len - body + 2 * XSD_VSW_MAC_LEN;
	}
}

static int drop_in(struct vsw_port *p, struct xsd_vsw_result *res, enum xsd_vsw_drop why)
{
	p->st.drops[why]++;
	res->drop = why;
	res->n = 0;
	return 0;
}

int xsd_vsw_forward(struct xsd_vsw *sw, uint32_t ingress, const uint8_t *frame, size_t len,
		    const struct xsd_vsw_meta *meta, struct xsd_vsw_result *res,
		    struct xsd_vsw_egress *out, size_t cap)
{
	struct vsw_port *in = port_get(sw, ingress), *q;
	const uint8_t *dst = frame, *src = frame + XSD_VSW_MAC_LEN;
	uint32_t cand[1] = { 0 }; /* the one unicast destination */
	struct frame_info fi = { 0 };
	enum xsd_vsw_drop why, last_egress_drop = XSD_VSW_DROP_NONE;
	bool flood = false;
	uint32_t n_cand = 0, i;
	uint16_t vlan = 0;
	enum colour col;

	if (!in)
		return -ENOENT;
	if (sw->n_ports && cap < sw->n_ports - 1)
		return -ENOBUFS;
	memset(res, 0, sizeof(*res));
	in->st.rx_frames++;
	in->st.rx_bytes += len;
	if (len < VSW_ETH_HLEN || len > XSD_VSW_MAX_FRAME)
		return drop_in(in, res, XSD_VSW_DROP_MALFORMED);
	if (xs_get16(frame + 12) == VSW_ETH_P_8021Q) {
		if (len < VSW_ETH_HLEN + VSW_TAG_LEN)
			return drop_in(in, res, XSD_VSW_DROP_MALFORMED);
		fi.had_tag = true;
		fi.tci = xs_get16(frame + 14);
	}
	if (!in->up)
		return drop_in(in, res, XSD_VSW_DROP_PORT_DOWN);
	if (mac_is_group(src) || mac_is_zero(src))
		return drop_in(in, res, XSD_VSW_DROP_BAD_SRC);
	why = classify(in, &fi, &vlan);
	if (why)
		return drop_in(in, res, why);
	res->vlan = vlan;
	res->tci = fi.had_tag ? (uint16_t)((fi.tci & 0xf000) | vlan) : vlan;
	xs_put16(res->tag, VSW_ETH_P_8021Q);
	xs_put16(res->tag + 2, res->tci);

	if (in->kind == XSD_VSW_PORT_VNIC) {
		if (memcmp(src, in->mac, XSD_VSW_MAC_LEN) != 0)
			return drop_in(in, res, XSD_VSW_DROP_SPOOF);
	} else {
		const struct mac_ent *e = mt_find(&sw->vnic_macs, STATIC_VLAN, src);

		if (e) {
			struct vsw_port *v = sw->ports[e->port];

			sw->st.takeovers++;
			/* a LAN host using the MAC sends a lot: one line per 10 s */
			if (!v->takeover_logged || meta->now_ns - v->takeover_log_ns >=
							   TAKEOVER_LOG_NS) {
				XS_WARN(VSW_LOG, "MAC %02x:%02x:%02x:%02x:%02x:%02x of vNIC port %u "
					"arrived on the uplink in VLAN %u (takeover; %" PRIu64
					" so far)", src[0], src[1], src[2], src[3], src[4], src[5],
					e->port, vlan, sw->st.takeovers);
				v->takeover_logged = true;
				v->takeover_log_ns = meta->now_ns;
			}
			if (sw->takeover)
				sw->takeover(sw->cb_arg, e->port, vlan, src);
			return drop_in(in, res, XSD_VSW_DROP_TAKEOVER);
		}
		learn(sw, ingress, vlan, src, meta->now_ns);
	}

	/* Where does it go? */
	if (mac_is_group(dst)) {
		flood = true;
	} else {
		const struct mac_ent *se = mt_find(&sw->vnic_macs, STATIC_VLAN, dst);

		if (se && port_in_vlan(sw->ports[se->port], vlan)) {
			if (se->port == ingress)
				return drop_in(in, res, XSD_VSW_DROP_NO_EGRESS);
			cand[n_cand++] = se->port;
		} else if (in->kind == XSD_VSW_PORT_UPLINK) {
			return drop_in(in, res, XSD_VSW_DROP_UNKNOWN_DST);
		} else if (sw->uplink >= 0 && port_in_vlan(sw->ports[sw->uplink], vlan)) {
			cand[n_cand++] = (uint32_t)sw->uplink;
		} else {
			return drop_in(in, res, XSD_VSW_DROP_NO_EGRESS);
		}
	}
	if (flood) {
		/* Count candidates first: a flood to nobody is an ingress drop. */
		for (i = 0; i < sw->n_ports; i++) {
			q = sw->ports[sw->active[i]];
			if (q != in && port_in_vlan(q, vlan) && port_wants_group(q, dst))
				n_cand++;
		}
		if (!n_cand)
			return drop_in(in, res, XSD_VSW_DROP_NO_EGRESS);
	}

	col = policer_check(&in->pol_in, len, meta->now_ns);
	if (col == RED)
		return drop_in(in, res, XSD_VSW_DROP_RATE_IN);
	if (col == YELLOW)
		in->st.rate_yellow_in++;
	in->st.fwd_frames++;
	if (flood)
		sw->st.flooded++;
	else if (in->kind == XSD_VSW_PORT_VNIC && cand[0] != (uint32_t)sw->uplink)
		sw->st.vnic_to_vnic++;
	else if (in->kind == XSD_VSW_PORT_VNIC) {
		const struct mac_ent *le = mt_find(&sw->learned, vlan, dst);

		if (le && learned_live(sw, le, meta->now_ns))
			sw->st.to_uplink_known++;
		else
			sw->st.to_uplink_unknown++;
	}

	for (i = 0; i < (flood ? sw->n_ports : n_cand); i++) {
		struct xsd_vsw_egress *e;

		if (flood) {
			q = sw->ports[sw->active[i]];
			if (q == in || !port_in_vlan(q, vlan) || !port_wants_group(q, dst))
				continue;
		} else {
			q = sw->ports[cand[i]];
		}
		if (!q->up) {
			q->st.drops_out[XSD_VSW_DROP_PORT_DOWN]++;
			last_egress_drop = XSD_VSW_DROP_PORT_DOWN;
			continue;
		}
		e = &out[res->n];
		e->port = q->id;
		build_variant(e, frame, len, &fi, res, egress_tagged(q, vlan));
		col = policer_check(&q->pol_out, e->len, meta->now_ns);
		if (col == RED) {
			q->st.drops_out[XSD_VSW_DROP_RATE_OUT]++;
			last_egress_drop = XSD_VSW_DROP_RATE_OUT;
			continue;
		}
		if (col == YELLOW)
			q->st.rate_yellow_out++;
		e->csum_fill = meta->needs_csum && !q->csum_offload;
		e->segment = meta->gso && !q->tso;
		q->st.tx_frames++;
		q->st.tx_bytes += e->len;
		res->n++;
	}
	if (!res->n)
		res->drop = last_egress_drop;
	return (int)res->n;
}
