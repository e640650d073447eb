/* SPDX-License-Identifier: MIT */
/*
 * config.c - the child list from HKR\Parameters: StaticChild, each child's
 * IDs and description, and PartitionKey strings (format in winib/bus.h).
 */
#include "winib/bus.h"

/* What the original IBbus hard-coded for its only child. */
static const char ipoib_name[] = "IPoIB";
static const char ipoib_device_id[] = "IBA\\IPoIB";
static const char ipoib_compatible_id[] = "IBA\\SID_1000066a00020000";
static const char ipoib_description[] = "OpenIB IPoIB Adapter";

static void tmpl_free(struct winib_env *env, struct winib_child_tmpl *t)
{
	winib_free(env, t->device_id);
	winib_free(env, t->hardware_ids);
	winib_free(env, t->compatible_ids);
	winib_free(env, t->description);
	winib_free(env, t->pkeys);
	winib_memset(t, 0, sizeof(*t));
}

void winib_config_destroy(struct winib_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->count; i++)
		tmpl_free(cfg->env, &cfg->tmpl[i]);
	winib_free(cfg->env, cfg);
}

const struct winib_child_tmpl *winib_config_find(const struct winib_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->count; i++)
		if (winib_strcasecmp(cfg->tmpl[i].name, name) == 0)
			return &cfg->tmpl[i];
	return NULL;
}

/* Device, hardware and compatible IDs: 1..199 chars in 0x21..0x7e, no ','. */
static const char *id_problem(const char *s)
{
	size_t n = winib_strnlen(s, WINIB_ID_MAX);

	if (n == 0)
		return "is empty";
	if (n >= WINIB_ID_MAX)
		return "is longer than 199 characters";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == ',')
			return "has a character not allowed in a device ID";
	return NULL;
}

static bool is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

/* Child names become registry subkeys and appear in logs. */
static const char *name_problem(const char *s)
{
	size_t n = winib_strnlen(s, WINIB_NAME_MAX);

	if (n == 0)
		return "empty name";
	if (n >= WINIB_NAME_MAX)
		return "name longer than 63 characters";
	for (; *s != '\0'; s++)
		if (!is_name_char((unsigned char)*s) && *s != '-')
			return "name has characters other than letters, digits, '_', '-', '.'";
	return NULL;
}

/*
 * Load a list-of-IDs value (REG_SZ or REG_MULTI_SZ) as a multi-string.
 * Absent: use def (a single string, may be NULL for "none").
 */
static int load_ids(struct winib_config *cfg, const struct winib_reg *reg, const char *path,
		    const char *value, const char *def, char **out, size_t *out_len,
		    const char **why)
{
	const struct winib_reg_value *v = winib_reg_get(reg, WINIB_HKR, path, value);
	const char *src;
	size_t len, pos = 0;
	const char *s;
	char *buf;

	if (v == NULL) {
		src = def != NULL ? def : "";
		len = def != NULL ? winib_strlen(def) + 2 : 1;
	} else if (v->type == WINIB_REG_SZ || v->type == WINIB_REG_EXPAND_SZ) {
		src = v->data;
		len = v->len + 1;
	} else if (v->type == WINIB_REG_MULTI_SZ) {
		src = v->data;
		len = v->len;
	} else {
		*why = "is not REG_SZ or REG_MULTI_SZ";
		return -EINVAL;
	}
	buf = winib_alloc(cfg->env, len);
	if (buf == NULL)
		return -ENOMEM;
	winib_memcpy(buf, src, len - 1);
	buf[len - 1] = '\0';
	if (len == 1 + 1 && buf[0] == '\0')
		len = 1; /* an empty REG_SZ is an empty list */
	while ((s = winib_multi_next(buf, len, &pos)) != NULL) {
		*why = id_problem(s);
		if (*why != NULL) {
			winib_free(cfg->env, buf);
			return -EINVAL;
		}
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static int load_child(struct winib_config *cfg, const struct winib_reg *reg, const char *name,
		      bool builtin, size_t pkey_cap)
{
	struct winib_env *env = cfg->env;
	struct winib_child_tmpl *t;
	const struct winib_reg_value *v;
	const char *why;
	char path[16 + WINIB_NAME_MAX];
	int rc;

	why = name_problem(name);
	if (why != NULL) {
		winib_log(env, WINIB_LOG_WARN, "StaticChild entry \"%s\" skipped: %s", name, why);
		cfg->skipped++;
		return 0;
	}
	if (cfg->count == WINIB_MAX_TEMPLATES) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: more than %u children", name,
			  WINIB_MAX_TEMPLATES);
		cfg->skipped++;
		return 0;
	}
	t = &cfg->tmpl[cfg->count];
	(void)winib_strlcpy(t->name, name, sizeof(t->name));
	(void)winib_fmt(path, sizeof(path), "Parameters\\%s", name);

	v = winib_reg_get(reg, WINIB_HKR, path, "DeviceId");
	if (v == NULL && !builtin) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: no DeviceId in HKR\\%s", name,
			  path);
		goto skip;
	}
	if (v != NULL && v->type != WINIB_REG_SZ) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: DeviceId is not REG_SZ", name);
		goto skip;
	}
	t->device_id = winib_strndup(env, v != NULL ? v->data : ipoib_device_id,
				     winib_strlen(v != NULL ? v->data : ipoib_device_id));
	if (t->device_id == NULL)
		goto nomem;
	why = id_problem(t->device_id);
	if (why != NULL) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: DeviceId \"%s\" %s", name,
			  t->device_id, why);
		goto skip;
	}
	rc = load_ids(cfg, reg, path, "HardwareId", t->device_id, &t->hardware_ids,
		      &t->hardware_len, &why);
	if (rc == -ENOMEM)
		goto nomem;
	if (rc < 0) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: HardwareId %s", name, why);
		goto skip;
	}
	rc = load_ids(cfg, reg, path, "CompatibleId", builtin ? ipoib_compatible_id : NULL,
		      &t->compatible_ids, &t->compatible_len, &why);
	if (rc == -ENOMEM)
		goto nomem;
	if (rc < 0) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: CompatibleId %s", name, why);
		goto skip;
	}
	v = winib_reg_get(reg, WINIB_HKR, path, "Description");
	if (v != NULL && v->type != WINIB_REG_SZ && v->type != WINIB_REG_EXPAND_SZ) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\" skipped: Description is not REG_SZ",
			  name);
		goto skip;
	}
	{
		const char *d = v != NULL ? v->data : builtin ? ipoib_description : name;

		t->description = winib_strndup(env, d, winib_strlen(d));
		if (t->description == NULL)
			goto nomem;
	}
	t->pkey_cap = pkey_cap;
	t->pkeys = winib_alloc(env, pkey_cap * sizeof(*t->pkeys));
	if (t->pkeys == NULL)
		goto nomem;
	v = winib_reg_get(reg, WINIB_HKR, path, "PartitionKey");
	if (v != NULL && v->type != WINIB_REG_SZ) {
		winib_log(env, WINIB_LOG_WARN, "child \"%s\": PartitionKey ignored: not REG_SZ",
			  name);
	} else if (v != NULL) {
		char why_buf[128];

		rc = winib_pkey_parse(v->data, t->pkeys, pkey_cap, why_buf, sizeof(why_buf));
		if (rc < 0)
			winib_log(env, WINIB_LOG_WARN, "child \"%s\": PartitionKey ignored: %s",
				  name, why_buf);
		else
			t->pkey_count = (size_t)rc;
	}
	winib_log(env, WINIB_LOG_INFO, "child \"%s\": DeviceId %s, %zu hardware ID(s), %zu "
		  "compatible ID(s), %zu P_Key(s)", name, t->device_id,
		  winib_multi_count(t->hardware_ids, t->hardware_len),
		  winib_multi_count(t->compatible_ids, t->compatible_len), t->pkey_count);
	cfg->count++;
	return 0;

skip:
	tmpl_free(env, t);
	cfg->skipped++;
	return 0;
nomem:
	tmpl_free(env, t);
	return -ENOMEM;
}

struct winib_config *winib_config_load(struct winib_env *env, const struct winib_reg *reg,
				       size_t pkey_cap, int *err)
{
	struct winib_config *cfg;
	const struct winib_reg_value *sc;
	const char *list = NULL, *name;
	size_t list_len = 0, pos = 0;
	int rc;

	if (pkey_cap == 0 || pkey_cap > 4096) {
		*err = -EINVAL;
		return NULL;
	}
	cfg = winib_alloc(env, sizeof(*cfg));
	if (cfg == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	cfg->env = env;
	rc = load_child(cfg, reg, ipoib_name, true, pkey_cap);
	if (rc < 0)
		goto err_destroy;

	sc = winib_reg_get(reg, WINIB_HKR, "Parameters", "StaticChild");
	if (sc == NULL) {
		winib_log(env, WINIB_LOG_INFO, "StaticChild not set: IPoIB only");
	} else if (sc->type == WINIB_REG_SZ || sc->type == WINIB_REG_EXPAND_SZ ||
		   sc->type == WINIB_REG_MULTI_SZ) {
		/* A string's data is one string and its NUL: a one-entry list. */
		list = sc->data;
		list_len = sc->len;
	} else {
		winib_log(env, WINIB_LOG_WARN,
			  "StaticChild ignored: not REG_SZ or REG_MULTI_SZ; IPoIB only");
	}
	while (list != NULL && pos < list_len && (name = winib_multi_next(list, list_len, &pos))) {
		size_t i;
		bool seen = false;

		for (i = 0; i < cfg->count; i++)
			seen = seen || winib_strcasecmp(cfg->tmpl[i].name, name) == 0;
		if (seen)
			continue; /* IPoIB (or a repeat) named again: already there */
		rc = load_child(cfg, reg, name, false, pkey_cap);
		if (rc < 0)
			goto err_destroy;
	}
	*err = 0;
	return cfg;

err_destroy:
	winib_config_destroy(cfg);
	*err = rc;
	return NULL;
}

/* ---- PartitionKey ------------------------------------------------------- */

static int hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = winib_tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static size_t skip_ws(const char *s, size_t i)
{
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	return i;
}

int winib_pkey_parse(const char *s, struct winib_pkey_entry *out, size_t cap, char *why,
		     size_t why_cap)
{
	size_t i = skip_ws(s, 0), n = 0;

	while (s[i] != '\0') {
		uint64_t guid = 0;
		size_t digits = 0;

		if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
			i += 2;
		while (hexdig((unsigned char)s[i]) >= 0 && digits < 17) {
			guid = (guid << 4) | (uint64_t)hexdig((unsigned char)s[i]);
			i++;
			digits++;
		}
		if (digits == 0 || digits > 16 || guid == 0) {
			winib_fmt(why, why_cap, "offset %zu: port GUID expected (1-16 hex digits, "
				  "not zero)", i);
			return -EINVAL;
		}
		i = skip_ws(s, i);
		if (s[i] != ':') {
			winib_fmt(why, why_cap, "offset %zu: ':' expected after port GUID", i);
			return -EINVAL;
		}
		i++;
		for (;;) {
			unsigned pkey = 0;
			size_t j, at, name_len = 0;
			const char *name = "";

			/* P_Key errors name the offset where the P_Key starts. */
			i = skip_ws(s, i);
			at = i;
			if (s[i] != '0' || (s[i + 1] != 'x' && s[i + 1] != 'X')) {
				winib_fmt(why, why_cap, "offset %zu: P_Key expected as 0x and 1-4 "
					  "hex digits", at);
				return -EINVAL;
			}
			i += 2;
			for (digits = 0; hexdig((unsigned char)s[i]) >= 0 && digits < 5; digits++)
				pkey = (pkey << 4) | (unsigned)hexdig((unsigned char)s[i++]);
			if (digits == 0 || digits > 4) {
				winib_fmt(why, why_cap, "offset %zu: P_Key expected as 0x and 1-4 "
					  "hex digits", at);
				return -EINVAL;
			}
			if ((pkey & 0x7fffu) == 0) {
				winib_fmt(why, why_cap, "offset %zu: P_Key 0x%04x is not valid", at,
					  pkey);
				return -EINVAL;
			}
			if ((pkey & 0x7fffu) == 0x7fffu) {
				winib_fmt(why, why_cap, "offset %zu: P_Key 0x%04x is the default "
					  "partition, which every child has", at, pkey);
				return -EINVAL;
			}
			if (s[i] == '-') {
				i++;
				name = s + i;
				while (is_name_char((unsigned char)s[i])) {
					i++;
					name_len++;
				}
				if (name_len == 0 || name_len >= WINIB_PKEY_NAME_MAX) {
					winib_fmt(why, why_cap, "offset %zu: name after '-' must be "
						  "1-%u letters, digits, '_' or '.'", i,
						  WINIB_PKEY_NAME_MAX - 1);
					return -EINVAL;
				}
			}
			for (j = 0; j < n; j++) {
				if (out[j].port_guid == guid &&
				    (out[j].pkey & 0x7fffu) == (pkey & 0x7fffu)) {
					winib_fmt(why, why_cap, "offset %zu: P_Key 0x%04x listed twice "
						  "for port %016llx", at, pkey,
						  (unsigned long long)guid);
					return -EINVAL;
				}
			}
			if (n == cap) {
				winib_fmt(why, why_cap, "offset %zu: more than %zu P_Keys", at, cap);
				return -EINVAL;
			}
			winib_memset(&out[n], 0, sizeof(out[n]));
			out[n].port_guid = guid;
			out[n].pkey = (uint16_t)pkey;
			winib_memcpy(out[n].name, name, name_len);
			out[n].name[name_len] = '\0';
			n++;
			i = skip_ws(s, i);
			if (s[i] != ',')
				break;
			i++;
		}
		if (s[i] == ';') {
			i = skip_ws(s, i + 1);
			continue;
		}
		if (s[i] != '\0') {
			winib_fmt(why, why_cap, "offset %zu: ',' or ';' expected", i);
			return -EINVAL;
		}
	}
	return (int)n;
}
