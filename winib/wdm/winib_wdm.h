/* SPDX-License-Identifier: MIT */
/*
 * winib_wdm.h - private to the WDM glue: device extensions and helpers.
 * The glue is thin: every decision about children, IDs and locking is the
 * portable core's (winib/bus.h, winib/policy.h); the glue turns IRPs into
 * core calls and core answers into pool buffers and NTSTATUS codes.
 */
#ifndef WINIB_WDM_H
#define WINIB_WDM_H

/* mingw-w64 keeps the DDK headers under ddk/; the WDK puts them on the
 * kernel include path directly. */
#ifdef __MINGW32__
#include <ddk/ntddk.h>
#else
#include <ntddk.h>
#endif

/* SAL role annotations the WDK's Code Analysis and Static Driver Verifier
 * read; mingw-w64's driverspecs.h lacks this one. */
#ifndef _Dispatch_type_
/* The WDK's own name, so reserved-identifier checks do not apply. */
#define _Dispatch_type_(x) /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#endif

#include "winib/bus.h"
#include "winib/reg.h"

#define WINIB_POOL_TAG 0x62497358u /* 'XsIb' as it shows in pool dumps */
#define WINIB_MAX_PORTS 8
#define WINIB_MAX_CHILDREN 128
#define WINIB_MAX_PKEYS 32

/* Both kinds of device extension start with this. */
struct wdm_common {
	BOOLEAN is_fdo;
	PDEVICE_OBJECT self;
};

/* Device usage paths (IRP_MN_DEVICE_USAGE_NOTIFICATION) that put the bus
 * into a special mode while any child is on them. */
enum wdm_path {
	WDM_PATH_PAGING,
	WDM_PATH_HIBERNATION,
	WDM_PATH_DUMP,
	WDM_PATH_BOOT,
	WDM_PATH_COUNT,
};

struct wdm_fdo {
	struct wdm_common common;
	PDEVICE_OBJECT pdo;            /* our own PDO (root-enumerated) */
	PDEVICE_OBJECT lower;
	KSPIN_LOCK spin;               /* the core's bus lock */
	struct winib_env env;
	struct winib_bus *bus;         /* created at START_DEVICE */
	UNICODE_STRING interface_name;
	BOOLEAN interface_on;
	KBUGCHECK_CALLBACK_RECORD bugcheck;
	BOOLEAN bugcheck_on;
	BOOLEAN in_bugcheck;
	BOOLEAN hibernating;
	LONG path_count[WDM_PATH_COUNT];
	volatile LONG dump_children;   /* children counted by the bugcheck callback */
};

struct wdm_pdo {
	struct wdm_common common;
	struct wdm_fdo *fdo;
	struct winib_child *child;
};

/* driver.c */
extern const struct winib_env_ops wdm_env_ops;
NTSTATUS wdm_status(int neg_errno);
void wdm_update_mode(struct wdm_fdo *fdo);

/* pdo.c */
NTSTATUS wdm_pdo_pnp(struct wdm_pdo *pe, PIRP irp);
NTSTATUS wdm_pdo_power(struct wdm_pdo *pe, PIRP irp);

/* regload.c: fill a registry model from the device's driver key. */
NTSTATUS wdm_load_registry(PDEVICE_OBJECT pdo, struct winib_reg *reg);

#endif /* WINIB_WDM_H */
