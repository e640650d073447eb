/* SPDX-License-Identifier: MIT */
/* fake_wdm.h - the state behind the fake <ntddk.h>, for the glue tests. */
#ifndef WINIB_FAKE_WDM_H
#define WINIB_FAKE_WDM_H

#include <ntddk.h>

#define FAKE_REG_VALUES 32

struct fake_reg_value {
	const char *path;   /* under the driver key, e.g. "Parameters\\IPoIB" */
	const char *name;
	ULONG type;         /* REG_SZ, REG_MULTI_SZ (data with its NULs), REG_DWORD */
	const char *data;   /* ASCII; stored as UTF-16LE as Windows does */
	size_t len;         /* bytes of data including NULs (REG_MULTI_SZ) */
	ULONG dword;
};

struct fake_wdm {
	long pool_live;
	unsigned long pool_allocs;
	KIRQL irql;
	int spin_depth;
	unsigned long spins;
	unsigned long devices_created, devices_deleted;
	PDEVICE_OBJECT last_created;
	unsigned long invalidations;
	long keys_open;
	PKBUGCHECK_CALLBACK_RECORD bugcheck;
	int interface_on;
	struct fake_reg_value reg[FAKE_REG_VALUES];
	size_t nreg;
	DEVICE_OBJECT root_pdo;  /* the root bus's PDO our FDO sits on */
};

extern struct fake_wdm fake;

void fake_reset(void);
void fake_reg_sz(const char *path, const char *name, const char *s);
void fake_reg_multi(const char *path, const char *name, const char *m, size_t len);

#endif /* WINIB_FAKE_WDM_H */
