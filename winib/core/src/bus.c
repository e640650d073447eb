/* SPDX-License-Identifier: MIT */
/*
 * bus.c - ports, child devices and their PnP answers (state machine in
 * winib/bus.h). Storage is preallocated in winib_bus_create; nothing here
 * allocates afterwards, so it runs under the special-mode lock policy.
 */
#include "winib/bus.h"

#define MAX_LIMIT 4096u

const char *winib_child_state_name(enum winib_child_state s)
{
	switch (s) {
	case WINIB_CHILD_FREE:
		return "free";
	case WINIB_CHILD_NEW:
		return "new";
	case WINIB_CHILD_REPORTED:
		return "reported";
	case WINIB_CHILD_STARTED:
		return "started";
	case WINIB_CHILD_MISSING:
		return "missing";
	}
	return "unknown";
}

struct winib_bus *winib_bus_create(struct winib_env *env, struct winib_config *cfg,
				   const struct winib_bus_limits *limits, void *os_lock, int *err)
{
	struct winib_bus *bus;
	int rc = -EINVAL;

	if (cfg == NULL || limits == NULL || limits->max_ports == 0 ||
	    limits->max_ports > MAX_LIMIT || limits->max_children == 0 ||
	    limits->max_children > MAX_LIMIT)
		goto err_free_cfg;
	rc = -ENOMEM;
	bus = winib_alloc(env, sizeof(*bus));
	if (bus == NULL)
		goto err_free_cfg;
	bus->ports = winib_alloc(env, limits->max_ports * sizeof(*bus->ports));
	if (bus->ports == NULL)
		goto err_free_bus;
	bus->children = winib_alloc(env, limits->max_children * sizeof(*bus->children));
	if (bus->children == NULL)
		goto err_free_ports;
	bus->env = env;
	bus->cfg = cfg;
	bus->limits = *limits;
	winib_lock_init(&bus->lock, os_lock);
	*err = 0;
	return bus;

err_free_ports:
	winib_free(env, bus->ports);
err_free_bus:
	winib_free(env, bus);
err_free_cfg:
	winib_config_destroy(cfg);
	*err = rc;
	return NULL;
}

void winib_bus_destroy(struct winib_bus *bus)
{
	if (bus == NULL)
		return;
	winib_config_destroy(bus->cfg);
	winib_free(bus->env, bus->children);
	winib_free(bus->env, bus->ports);
	winib_free(bus->env, bus);
}

static struct winib_port *port_find(struct winib_bus *bus, uint64_t guid)
{
	size_t i;

	for (i = 0; i < bus->limits.max_ports; i++)
		if (bus->ports[i].used && bus->ports[i].guid == guid)
			return &bus->ports[i];
	return NULL;
}

static size_t free_slots(const struct winib_bus *bus)
{
	size_t i, n = 0;

	for (i = 0; i < bus->limits.max_children; i++)
		n += bus->children[i].state == WINIB_CHILD_FREE;
	return n;
}

/* Caller holds the lock and has checked a slot is free. */
static struct winib_child *child_new(struct winib_bus *bus, const struct winib_child_tmpl *t,
				     const struct winib_port *port,
				     const struct winib_pkey_entry *pk)
{
	size_t i;

	for (i = 0; i < bus->limits.max_children; i++) {
		struct winib_child *c = &bus->children[i];

		if (c->state != WINIB_CHILD_FREE)
			continue;
		winib_memset(c, 0, sizeof(*c));
		c->bus = bus;
		c->state = WINIB_CHILD_NEW;
		c->tmpl = t;
		c->port_guid = port->guid;
		c->port_num = port->num;
		c->pkey = pk != NULL ? pk->pkey : (uint16_t)WINIB_DEFAULT_PKEY;
		c->pkey_child = pk != NULL;
		if (pk != NULL)
			winib_memcpy(c->pkey_name, pk->name, sizeof(c->pkey_name));
		bus->stats.children_created++;
		return c;
	}
	bus->stats.pool_exhausted++;
	return NULL;
}

static void child_release(struct winib_bus *bus, struct winib_child *c)
{
	c->state = WINIB_CHILD_FREE;
	c->os_pdo = NULL;
	bus->stats.children_freed++;
}

/* Take a child off the bus: never reported -> freed now, else MISSING
 * until PnP sends IRP_MN_REMOVE_DEVICE for its PDO. */
static void child_take_off(struct winib_bus *bus, struct winib_child *c)
{
	if (c->state == WINIB_CHILD_NEW)
		child_release(bus, c);
	else if (c->state == WINIB_CHILD_REPORTED || c->state == WINIB_CHILD_STARTED)
		c->state = WINIB_CHILD_MISSING;
}

static bool child_on_bus(const struct winib_child *c)
{
	return c->state == WINIB_CHILD_NEW || c->state == WINIB_CHILD_REPORTED ||
	       c->state == WINIB_CHILD_STARTED;
}

int winib_bus_port_add(struct winib_bus *bus, uint64_t guid, uint8_t port_num)
{
	struct winib_lock_ctx lc;
	struct winib_port *port = NULL;
	size_t i, j, need = 0;
	int rc, made = 0;

	if (guid == WINIB_PORT_GUID_NONE)
		return -EINVAL;
	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	if (port_find(bus, guid) != NULL) {
		rc = -EEXIST;
		goto out_unlock;
	}
	for (i = 0; i < bus->limits.max_ports && port == NULL; i++)
		if (!bus->ports[i].used)
			port = &bus->ports[i];
	for (i = 0; i < bus->cfg->count; i++) {
		const struct winib_child_tmpl *t = &bus->cfg->tmpl[i];

		need++;
		for (j = 0; j < t->pkey_count; j++)
			need += t->pkeys[j].port_guid == guid;
	}
	if (port == NULL || free_slots(bus) < need) {
		bus->stats.pool_exhausted++;
		rc = -ENOSPC;
		goto out_unlock;
	}
	port->used = true;
	port->guid = guid;
	port->num = port_num;
	for (i = 0; i < bus->cfg->count; i++) {
		const struct winib_child_tmpl *t = &bus->cfg->tmpl[i];

		if (child_new(bus, t, port, NULL) != NULL)
			made++;
		for (j = 0; j < t->pkey_count; j++)
			if (t->pkeys[j].port_guid == guid && child_new(bus, t, port, &t->pkeys[j]))
				made++;
	}
	rc = made;
out_unlock:
	winib_lock_release(bus->env, &bus->lock, &lc);
	if (rc >= 0)
		winib_log(bus->env, WINIB_LOG_INFO, "port %u (%016llx) added: %d children",
			  port_num, (unsigned long long)guid, rc);
	else if (rc == -ENOSPC)
		winib_log(bus->env, WINIB_LOG_ERR, "port %u (%016llx) not added: no room for "
			  "%zu more children", port_num, (unsigned long long)guid, need);
	return rc;
}

int winib_bus_port_remove(struct winib_bus *bus, uint64_t guid)
{
	struct winib_lock_ctx lc;
	struct winib_port *port;
	size_t i;
	int rc, n = 0;

	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	port = port_find(bus, guid);
	if (port == NULL) {
		rc = -ENOENT;
		goto out_unlock;
	}
	for (i = 0; i < bus->limits.max_children; i++) {
		struct winib_child *c = &bus->children[i];

		if (child_on_bus(c) && c->port_guid == guid) {
			child_take_off(bus, c);
			n++;
		}
	}
	port->used = false;
	rc = n;
out_unlock:
	winib_lock_release(bus->env, &bus->lock, &lc);
	if (rc >= 0)
		winib_log(bus->env, WINIB_LOG_INFO, "port %016llx removed: %d children",
			  (unsigned long long)guid, rc);
	return rc;
}

static struct winib_child_tmpl *tmpl_find(struct winib_bus *bus, const char *name)
{
	size_t i;

	for (i = 0; i < bus->cfg->count; i++)
		if (winib_strcasecmp(bus->cfg->tmpl[i].name, name) == 0)
			return &bus->cfg->tmpl[i];
	return NULL;
}

static long pkey_index(const struct winib_child_tmpl *t, uint64_t guid, uint16_t pkey)
{
	size_t i;

	for (i = 0; i < t->pkey_count; i++)
		if (t->pkeys[i].port_guid == guid && (t->pkeys[i].pkey & 0x7fffu) == (pkey & 0x7fffu))
			return (long)i;
	return -1;
}

int winib_bus_pkey_add(struct winib_bus *bus, const char *child, uint64_t guid, uint16_t pkey,
		       const char *name)
{
	struct winib_child_tmpl *t;
	struct winib_pkey_entry *pk;
	struct winib_port *port;
	struct winib_lock_ctx lc;
	size_t i;
	int rc;

	if (guid == WINIB_PORT_GUID_NONE || (pkey & 0x7fffu) == 0)
		return -EINVAL;
	if ((pkey & 0x7fffu) == 0x7fffu)
		return -EEXIST; /* the default partition: every child has it */
	if (name == NULL)
		name = "";
	if (winib_strnlen(name, WINIB_PKEY_NAME_MAX) >= WINIB_PKEY_NAME_MAX)
		return -EINVAL;
	for (i = 0; name[i] != '\0'; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'))
			return -EINVAL;
	}
	t = tmpl_find(bus, child);
	if (t == NULL)
		return -ENOENT;
	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	if (pkey_index(t, guid, pkey) >= 0) {
		rc = -EEXIST;
		goto out_unlock;
	}
	port = port_find(bus, guid);
	if (t->pkey_count == t->pkey_cap || (port != NULL && free_slots(bus) == 0)) {
		bus->stats.pool_exhausted++;
		rc = -ENOSPC;
		goto out_unlock;
	}
	pk = &t->pkeys[t->pkey_count++];
	winib_memset(pk, 0, sizeof(*pk));
	pk->port_guid = guid;
	pk->pkey = pkey;
	pk->runtime = true;
	(void)winib_strlcpy(pk->name, name, sizeof(pk->name));
	rc = 0;
	if (port != NULL && child_new(bus, t, port, pk) != NULL)
		rc = 1;
out_unlock:
	winib_lock_release(bus->env, &bus->lock, &lc);
	if (rc >= 0)
		winib_log(bus->env, WINIB_LOG_INFO, "%s P_Key 0x%04x on port %016llx added%s",
			  t->name, pkey, (unsigned long long)guid,
			  rc == 1 ? "" : " (port not present yet)");
	return rc;
}

int winib_bus_pkey_remove(struct winib_bus *bus, const char *child, uint64_t guid, uint16_t pkey)
{
	struct winib_child_tmpl *t = tmpl_find(bus, child);
	struct winib_lock_ctx lc;
	size_t i;
	long idx;
	int rc;

	if (t == NULL)
		return -ENOENT;
	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	idx = pkey_index(t, guid, pkey);
	if (idx < 0) {
		rc = -ENOENT;
		goto out_unlock;
	}
	rc = 0;
	for (i = 0; i < bus->limits.max_children; i++) {
		struct winib_child *c = &bus->children[i];

		if (child_on_bus(c) && c->tmpl == t && c->pkey_child && c->port_guid == guid &&
		    (c->pkey & 0x7fffu) == (pkey & 0x7fffu)) {
			child_take_off(bus, c);
			rc = 1;
		}
	}
	for (i = (size_t)idx; i + 1 < t->pkey_count; i++)
		t->pkeys[i] = t->pkeys[i + 1];
	t->pkey_count--;
out_unlock:
	winib_lock_release(bus->env, &bus->lock, &lc);
	if (rc >= 0)
		winib_log(bus->env, WINIB_LOG_INFO, "%s P_Key 0x%04x on port %016llx removed",
			  t->name, pkey, (unsigned long long)guid);
	return rc;
}

int winib_bus_relations(struct winib_bus *bus, struct winib_child **out, size_t cap)
{
	struct winib_lock_ctx lc;
	size_t i, n = 0;
	int rc;

	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	for (i = 0; i < bus->limits.max_children; i++) {
		struct winib_child *c = &bus->children[i];

		/* Reported last time but the glue could not make its PDO, and
		 * gone since: PnP never saw it, so no REMOVE will come. PnP
		 * sends one relations query at a time, so no PDO is being made. */
		if (c->state == WINIB_CHILD_MISSING && c->os_pdo == NULL)
			child_release(bus, c);
		n += child_on_bus(c);
	}
	if (n > cap) {
		rc = -ENOSPC;
		goto out_unlock;
	}
	n = 0;
	for (i = 0; i < bus->limits.max_children; i++) {
		struct winib_child *c = &bus->children[i];

		if (!child_on_bus(c))
			continue;
		if (c->state == WINIB_CHILD_NEW)
			c->state = WINIB_CHILD_REPORTED;
		out[n++] = c;
	}
	rc = (int)n;
out_unlock:
	winib_lock_release(bus->env, &bus->lock, &lc);
	return rc;
}

int winib_bus_present_count(struct winib_bus *bus)
{
	struct winib_lock_ctx lc;
	size_t i;
	int rc, n = 0;

	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	for (i = 0; i < bus->limits.max_children; i++)
		n += child_on_bus(&bus->children[i]);
	winib_lock_release(bus->env, &bus->lock, &lc);
	return n;
}

int winib_bus_all_children(struct winib_bus *bus, struct winib_child **out, size_t cap)
{
	struct winib_lock_ctx lc;
	size_t i;
	int rc, n = 0;

	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	for (i = 0; i < bus->limits.max_children; i++) {
		if (bus->children[i].state == WINIB_CHILD_FREE)
			continue;
		if ((size_t)n < cap)
			out[n] = &bus->children[i];
		n++;
	}
	winib_lock_release(bus->env, &bus->lock, &lc);
	return n;
}

void winib_child_set_pdo(struct winib_child *child, void *os_pdo)
{
	child->os_pdo = os_pdo;
}

int winib_child_start(struct winib_child *child)
{
	struct winib_bus *bus = child->bus;
	struct winib_lock_ctx lc;
	int rc;

	rc = winib_lock_acquire(bus->env, &bus->lock, &lc);
	if (rc < 0)
		return rc;
	if (child->state == WINIB_CHILD_REPORTED || child->state == WINIB_CHILD_STARTED) {
		child->state = WINIB_CHILD_STARTED;
		rc = 0;
	} else {
		rc = child->state == WINIB_CHILD_MISSING ? -ENODEV : -EINVAL;
	}
	winib_lock_release(bus->env, &bus->lock, &lc);
	return rc;
}

enum winib_remove_action winib_child_remove(struct winib_child *child)
{
	struct winib_bus *bus = child->bus;
	enum winib_remove_action act = WINIB_REMOVE_KEEP_PDO;
	struct winib_lock_ctx lc;

	if (winib_lock_acquire(bus->env, &bus->lock, &lc) < 0)
		return WINIB_REMOVE_KEEP_PDO; /* cannot touch the pool: keep it safe */
	if (child->state == WINIB_CHILD_MISSING) {
		child_release(bus, child);
		act = WINIB_REMOVE_DELETE_PDO;
	} else if (child->state == WINIB_CHILD_STARTED) {
		child->state = WINIB_CHILD_REPORTED;
	}
	winib_lock_release(bus->env, &bus->lock, &lc);
	return act;
}

/* ---- PnP answers -------------------------------------------------------- */

/* An answer is up to two pieces of text, each with its NULs. */
struct answer {
	const char *p[2];
	size_t n[2];
	char tmp[112];
};

static int answer_id(const struct winib_child *c, enum winib_id_type type, struct answer *a)
{
	const struct winib_child_tmpl *t = c->tmpl;

	a->p[1] = NULL;
	a->n[1] = 0;
	switch (type) {
	case WINIB_ID_DEVICE:
		a->p[0] = t->device_id;
		a->n[0] = winib_strlen(t->device_id) + 1;
		return 0;
	case WINIB_ID_HARDWARE:
		a->p[0] = t->hardware_ids;
		a->n[0] = t->hardware_len;
		return 0;
	case WINIB_ID_COMPATIBLE:
		if (t->compatible_len <= 1)
			return -ENOENT;
		a->p[0] = t->compatible_ids;
		a->n[0] = t->compatible_len;
		return 0;
	case WINIB_ID_INSTANCE:
		a->n[0] = winib_fmt(a->tmp, sizeof(a->tmp), "%016llx_%04x",
				    (unsigned long long)c->port_guid, c->pkey) + 1;
		a->p[0] = a->tmp;
		return 0;
	}
	return -EINVAL;
}

static int answer_text(const struct winib_child *c, enum winib_text_type type, struct answer *a)
{
	const char *desc = c->tmpl->description;

	a->p[1] = NULL;
	a->n[1] = 0;
	switch (type) {
	case WINIB_TEXT_DESCRIPTION:
		a->p[0] = desc;
		if (!c->pkey_child) {
			a->n[0] = winib_strlen(desc) + 1;
			return 0;
		}
		a->n[0] = winib_strlen(desc);
		if (c->pkey_name[0] != '\0')
			a->n[1] = winib_fmt(a->tmp, sizeof(a->tmp), " (P_Key 0x%04x, %s)", c->pkey,
					    c->pkey_name) + 1;
		else
			a->n[1] = winib_fmt(a->tmp, sizeof(a->tmp), " (P_Key 0x%04x)", c->pkey) + 1;
		a->p[1] = a->tmp;
		return 0;
	case WINIB_TEXT_LOCATION:
		a->n[0] = winib_fmt(a->tmp, sizeof(a->tmp), "IB port %u, GUID %016llx, P_Key 0x%04x",
				    c->port_num, (unsigned long long)c->port_guid, c->pkey) + 1;
		a->p[0] = a->tmp;
		return 0;
	}
	return -EINVAL;
}

static int answer_copy(const struct answer *a, char *buf, size_t cap)
{
	size_t total = a->n[0] + a->n[1];

	if (buf == NULL)
		return (int)total;
	if (total > cap)
		return -ENOSPC;
	winib_memcpy(buf, a->p[0], a->n[0]);
	if (a->n[1] > 0)
		winib_memcpy(buf + a->n[0], a->p[1], a->n[1]);
	return (int)total;
}

static int answer_copy_w(const struct answer *a, uint16_t *buf, size_t cap)
{
	int n0, n1 = 0;

	n0 = winib_utf8_to_utf16(a->p[0], a->n[0], buf, cap);
	if (n0 < 0)
		return n0;
	if (a->n[1] > 0) {
		n1 = winib_utf8_to_utf16(a->p[1], a->n[1], buf != NULL ? buf + n0 : NULL,
					 buf != NULL ? cap - (size_t)n0 : 0);
		if (n1 < 0)
			return n1;
	}
	return n0 + n1;
}

int winib_child_query_id(const struct winib_child *child, enum winib_id_type type, char *buf,
			 size_t cap)
{
	struct answer a;
	int rc = answer_id(child, type, &a);

	return rc < 0 ? rc : answer_copy(&a, buf, cap);
}

int winib_child_query_text(const struct winib_child *child, enum winib_text_type type, char *buf,
			   size_t cap)
{
	struct answer a;
	int rc = answer_text(child, type, &a);

	return rc < 0 ? rc : answer_copy(&a, buf, cap);
}

int winib_child_query_id_w(const struct winib_child *child, enum winib_id_type type,
			   uint16_t *buf, size_t cap)
{
	struct answer a;
	int rc = answer_id(child, type, &a);

	return rc < 0 ? rc : answer_copy_w(&a, buf, cap);
}

int winib_child_query_text_w(const struct winib_child *child, enum winib_text_type type,
			     uint16_t *buf, size_t cap)
{
	struct answer a;
	int rc = answer_text(child, type, &a);

	return rc < 0 ? rc : answer_copy_w(&a, buf, cap);
}

int winib_utf8_to_utf16(const char *s, size_t len, uint16_t *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t cp;
		size_t extra, k;

		if (p[i] < 0x80) {
			cp = p[i];
			extra = 0;
		} else if ((p[i] & 0xe0) == 0xc0) {
			cp = p[i] & 0x1fu;
			extra = 1;
		} else if ((p[i] & 0xf0) == 0xe0) {
			cp = p[i] & 0x0fu;
			extra = 2;
		} else if ((p[i] & 0xf8) == 0xf0) {
			cp = p[i] & 0x07u;
			extra = 3;
		} else {
			return -EILSEQ;
		}
		if (extra > 0 && i + extra >= len)
			return -EILSEQ;
		for (k = 1; k <= extra; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -EILSEQ;
			cp = (cp << 6) | (p[i + k] & 0x3fu);
		}
		/* Reject overlong forms, surrogates and values past U+10FFFF. */
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -EILSEQ;
		i += extra + 1;
		if (out == NULL) {
			o += cp >= 0x10000 ? 2 : 1; /* sizing only */
		} else if (cp >= 0x10000) {
			if (o + 2 > cap)
				return -ENOSPC;
			cp -= 0x10000;
			out[o++] = (uint16_t)(0xd800 + (cp >> 10));
			out[o++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			if (o + 1 > cap)
				return -ENOSPC;
			out[o++] = (uint16_t)cp;
		}
	}
	return (int)o;
}

int winib_utf16_to_utf8(const uint16_t *s, size_t units, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	while (i < units) {
		uint32_t cp = s[i++];
		unsigned char b[4];
		size_t n;

		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i == units || s[i] < 0xdc00 || s[i] > 0xdfff)
				return -EILSEQ;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (s[i++] - 0xdc00u);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return -EILSEQ;
		}
		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xc0 | (cp >> 6));
			b[1] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xe0 | (cp >> 12));
			b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xf0 | (cp >> 18));
			b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			b[3] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		if (out != NULL) {
			size_t k;

			if (o + n > cap)
				return -ENOSPC;
			for (k = 0; k < n; k++)
				out[o + k] = (char)b[k];
		}
		o += n;
	}
	return (int)o;
}
