/* SPDX-License-Identifier: MIT */
/*
 * winib/reg.h - a small model of the registry: the part the bus reads.
 *
 * Keys live under one of the INF roots and are named by a backslash path
 * ("Parameters\IPoIB"); key paths and value names compare without regard
 * to case, as in Windows. Values are REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ or
 * REG_DWORD. A multi-string is stored as NUL-terminated strings followed by
 * one more NUL; an empty multi-string is a single NUL.
 */
#ifndef WINIB_REG_H
#define WINIB_REG_H

#include "winib/common.h"

enum winib_reg_root {
	WINIB_HKR = 0,
	WINIB_HKLM,
	WINIB_HKCU,
	WINIB_HKCR,
	WINIB_HKU,
	WINIB_ROOT_COUNT,
};

/* Numbers match the Windows REG_* type codes. */
enum winib_reg_type {
	WINIB_REG_SZ = 1,
	WINIB_REG_EXPAND_SZ = 2,
	WINIB_REG_DWORD = 4,
	WINIB_REG_MULTI_SZ = 7,
};

#define WINIB_REG_MAX_DATA 4096 /* bytes per value, NULs included */
#define WINIB_REG_MAX_PATH 255

struct winib_reg_value {
	enum winib_reg_type type;
	const char *data;   /* SZ/EXPAND_SZ: the string; MULTI_SZ: the list */
	size_t len;         /* bytes of data including every NUL */
	uint32_t dword;
};

struct winib_reg;

/* NULL with *err = -ENOMEM when the policy or host refuses memory. */
struct winib_reg *winib_reg_create(struct winib_env *env, int *err);
void winib_reg_destroy(struct winib_reg *reg);

const char *winib_reg_root_name(enum winib_reg_root root);

/* Each returns 0 or a negative errno (-EINVAL, -ENOMEM, -E2BIG, -EEXIST). */
int winib_reg_create_key(struct winib_reg *reg, enum winib_reg_root root, const char *path);
int winib_reg_set_string(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			 const char *name, enum winib_reg_type type, const char *s);
int winib_reg_set_multi(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			const char *name, const char *multi, size_t len);
/* Add s to a MULTI_SZ unless already there (compared without case);
 * creates the value if absent; -EINVAL if the value exists with another type. */
int winib_reg_append_multi(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			   const char *name, const char *s);
int winib_reg_set_dword(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			const char *name, uint32_t v);
/* 0, or -ENOENT when there was nothing to delete. */
int winib_reg_delete_value(struct winib_reg *reg, enum winib_reg_root root, const char *path,
			   const char *name);

bool winib_reg_key_exists(const struct winib_reg *reg, enum winib_reg_root root, const char *path);
/* NULL when the key or the value does not exist. */
const struct winib_reg_value *winib_reg_get(const struct winib_reg *reg, enum winib_reg_root root,
					    const char *path, const char *name);

/* Multi-string walking: returns the next string or NULL at the end. */
const char *winib_multi_next(const char *multi, size_t len, size_t *pos);
/* Number of strings in a multi-string. */
size_t winib_multi_count(const char *multi, size_t len);
/* Check a MULTI_SZ buffer is well formed (every string ends, final NUL). */
bool winib_multi_valid(const char *multi, size_t len);

#endif /* WINIB_REG_H */
