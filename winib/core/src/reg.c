/* SPDX-License-Identifier: MIT */
/*
 * reg.c - the registry model: keys as case-insensitive backslash paths
 * under a root, each with a list of typed values.
 */
#include "winib/policy.h"
#include "winib/reg.h"

struct reg_val {
	struct reg_val *next;
	char *name;
	struct winib_reg_value v;
	char *data;          /* owned copy behind v.data */
};

struct reg_key {
	struct reg_key *next;
	enum winib_reg_root root;
	char *path;
	struct reg_val *vals;
};

struct winib_reg {
	struct winib_env *env;
	struct reg_key *keys;
};

static const char *const root_names[WINIB_ROOT_COUNT] = { "HKR", "HKLM", "HKCU", "HKCR", "HKU" };

const char *winib_reg_root_name(enum winib_reg_root root)
{
	return (unsigned)root < WINIB_ROOT_COUNT ? root_names[root] : "?";
}

struct winib_reg *winib_reg_create(struct winib_env *env, int *err)
{
	struct winib_reg *reg = winib_alloc(env, sizeof(*reg));

	if (reg == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	reg->env = env;
	reg->keys = NULL;
	*err = 0;
	return reg;
}

static void val_free(struct winib_env *env, struct reg_val *v)
{
	winib_free(env, v->name);
	winib_free(env, v->data);
	winib_free(env, v);
}

void winib_reg_destroy(struct winib_reg *reg)
{
	struct reg_key *k, *kn;
	struct reg_val *v, *vn;

	if (reg == NULL)
		return;
	for (k = reg->keys; k != NULL; k = kn) {
		kn = k->next;
		for (v = k->vals; v != NULL; v = vn) {
			vn = v->next;
			val_free(reg->env, v);
		}
		winib_free(reg->env, k->path);
		winib_free(reg->env, k);
	}
	winib_free(reg->env, reg);
}

/* Trim leading/trailing backslashes: "\Parameters\" names "Parameters". */
static void path_span(const char *path, const char **start, size_t *len)
{
	size_t n;

	if (path == NULL)
		path = "";
	while (*path == '\\')
		path++;
	n = winib_strlen(path);
	while (n > 0 && path[n - 1] == '\\')
		n--;
	*start = path;
	*len = n;
}

static struct reg_key *key_find(const struct winib_reg *reg, enum winib_reg_root root,
				const char *path)
{
	struct reg_key *k;
	const char *p;
	size_t n;

	path_span(path, &p, &n);
	for (k = reg->keys; k != NULL; k = k->next)
		if (k->root == root && winib_strlen(k->path) == n &&
		    winib_strncasecmp(k->path, p, n) == 0)
			return k;
	return NULL;
}

static int key_get(struct winib_reg *reg, enum winib_reg_root root, const char *path,
		   struct reg_key **out)
{
	struct reg_key *k;
	const char *p;
	size_t n;

	if ((unsigned)root >= WINIB_ROOT_COUNT)
		return -EINVAL;
	k = key_find(reg, root, path);
	if (k != NULL) {
		*out = k;
		return 0;
	}
	path_span(path, &p, &n);
	if (n > WINIB_REG_MAX_PATH)
		return -ENAMETOOLONG;
	k = winib_alloc(reg->env, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->path = winib_strndup(reg->env, p, n);
	if (k->path == NULL) {
		winib_free(reg->env, k);
		return -ENOMEM;
	}
	k->root = root;
	k->vals = NULL;
	k->next = reg->keys;
	reg->keys = k;
	*out = k;
	return 0;
}

static struct reg_val *val_find(const struct reg_key *k, const char *name)
{
	struct reg_val *v;

	for (v = k->vals; v != NULL; v = v->next)
		if (winib_strcasecmp(v->name, name) == 0)
			return v;
	return NULL;
}

int winib_reg_create_key(struct winib_reg *reg, enum winib_reg_root root, const char *path)
{
	struct reg_key *k;

	return key_get(reg, root, path, &k);
}

/* Store a value (replacing any old one); data is copied. */
static int val_store(struct winib_reg *reg, enum winib_reg_root root, const char *path,
		     const char *name, enum winib_reg_type type, const char *data, size_t len,
		     uint32_t dword)
{
	struct reg_key *k;
	struct reg_val *v;
	char *copy = NULL;
	int rc;

	if (name == NULL)
		name = "";
	if (len > WINIB_REG_MAX_DATA)
		return -E2BIG;
	rc = key_get(reg, root, path, &k);
	if (rc < 0)
		return rc;
	if (data != NULL) {
		copy = winib_alloc(reg->env, len);
		if (copy == NULL)
			return -ENOMEM;
		winib_memcpy(copy, data, len);
	}
	v = val_find(k, name);
	if (v == NULL) {
		v = winib_alloc(reg->env, sizeof(*v));
		if (v == NULL)
			goto err_free_copy;
		v->name = winib_strndup(reg->env, name, winib_strlen(name));
		if (v->name == NULL)
			goto err_free_val;
		v->next = k->vals;
		k->vals = v;
	} else {
		winib_free(reg->env, v->data);
	}
	v->data = copy;
	v->v.type = type;
	v->v.data = copy;
	v->v.len = len;
	v->v.dword = dword;
	return 0;

err_free_val:
	winib_free(reg->env, v);
err_free_copy:
	winib_free(reg->env, copy);
	return -ENOMEM;
}

int winib_reg_set_string(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			 const char *name, enum winib_reg_type type, const char *s)
{
	if (type != WINIB_REG_SZ && type != WINIB_REG_EXPAND_SZ)
		return -EINVAL;
	return val_store(reg, root, path, name, type, s, winib_strlen(s) + 1, 0);
}

bool winib_multi_valid(const char *multi, size_t len)
{
	if (multi == NULL || len == 0 || multi[len - 1] != '\0')
		return false;
	/* Either the empty list "\0" or strings each ending in NUL plus one. */
	if (len == 1)
		return true;
	return len >= 3 && multi[len - 2] == '\0' && multi[0] != '\0';
}

int winib_reg_set_multi(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			const char *name, const char *multi, size_t len)
{
	size_t i;

	if (!winib_multi_valid(multi, len))
		return -EINVAL;
	/* An empty string inside the list would end it early. */
	for (i = 1; i + 1 < len; i++)
		if (multi[i] == '\0' && multi[i - 1] == '\0')
			return -EINVAL;
	return val_store(reg, root, path, name, WINIB_REG_MULTI_SZ, multi, len, 0);
}

const char *winib_multi_next(const char *multi, size_t len, size_t *pos)
{
	const char *s;

	if (multi == NULL || *pos >= len || multi[*pos] == '\0')
		return NULL;
	s = multi + *pos;
	*pos += winib_strnlen(s, len - *pos) + 1;
	return s;
}

size_t winib_multi_count(const char *multi, size_t len)
{
	size_t pos = 0, n = 0;

	while (winib_multi_next(multi, len, &pos) != NULL)
		n++;
	return n;
}

int winib_reg_append_multi(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			   const char *name, const char *s)
{
	const struct winib_reg_value *old = winib_reg_get(reg, root, path, name);
	size_t slen = winib_strlen(s), pos = 0, oldlen, newlen;
	char *buf;
	int rc;

	if (slen == 0)
		return -EINVAL;
	if (old == NULL) {
		oldlen = 1;
	} else {
		const char *cur;

		if (old->type != WINIB_REG_MULTI_SZ)
			return -EINVAL;
		while ((cur = winib_multi_next(old->data, old->len, &pos)) != NULL)
			if (winib_strlen(cur) == slen && winib_strncasecmp(cur, s, slen) == 0)
				return 0; /* already there: names compare without case */
		oldlen = old->len;
	}
	newlen = oldlen + slen + 1;
	if (newlen > WINIB_REG_MAX_DATA)
		return -E2BIG;
	buf = winib_alloc(reg->env, newlen);
	if (buf == NULL)
		return -ENOMEM;
	if (old != NULL && oldlen > 1)
		winib_memcpy(buf, old->data, oldlen - 1);
	else
		oldlen = 1;
	winib_memcpy(buf + oldlen - 1, s, slen + 1);
	buf[newlen - 1] = '\0';
	rc = val_store(reg, root, path, name, WINIB_REG_MULTI_SZ, buf, newlen, 0);
	winib_free(reg->env, buf);
	return rc;
}

int winib_reg_set_dword(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			const char *name, uint32_t v)
{
	return val_store(reg, root, path, name, WINIB_REG_DWORD, NULL, 4, v);
}

int winib_reg_delete_value(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			   const char *name)
{
	struct reg_key *k = key_find(reg, root, path);
	struct reg_val **pp;

	if (k == NULL)
		return -ENOENT;
	if (name == NULL)
		name = "";
	for (pp = &k->vals; *pp != NULL; pp = &(*pp)->next) {
		if (winib_strcasecmp((*pp)->name, name) == 0) {
			struct reg_val *v = *pp;

			*pp = v->next;
			val_free(reg->env, v);
			return 0;
		}
	}
	return -ENOENT;
}

bool winib_reg_key_exists(const struct winib_reg *reg, enum winib_reg_root root, const char *path)
{
	return key_find(reg, root, path) != NULL;
}

const struct winib_reg_value *winib_reg_get(const struct winib_reg *reg, enum winib_reg_root root,
					    const char *path, const char *name)
{
	const struct reg_key *k = key_find(reg, root, path);
	const struct reg_val *v;

	if (k == NULL)
		return NULL;
	v = val_find(k, name != NULL ? name : "");
	return v != NULL ? &v->v : NULL;
}
