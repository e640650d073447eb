/* SPDX-License-Identifier: MIT */
/*
 * fake_wdm.c - just enough of a kernel under the WDM glue: pool with
 * counters, spinlock and IRQL, device objects, a registry holding UTF-16
 * values, and a root bus PDO that completes whatever is passed down to it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake_wdm.h"

struct fake_wdm fake;

struct fake_key {
	char path[240];
};

struct pool_hdr {
	size_t size;
	uint64_t magic;
};
#define POOL_MAGIC 0x6c6f6f506b616646ull

void fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

void fake_reg_sz(const char *path, const char *name, const char *s)
{
	struct fake_reg_value *v = &fake.reg[fake.nreg++];

	v->path = path;
	v->name = name;
	v->type = REG_SZ;
	v->data = s;
	v->len = strlen(s) + 1;
}

void fake_reg_multi(const char *path, const char *name, const char *m, size_t len)
{
	struct fake_reg_value *v = &fake.reg[fake.nreg++];

	v->path = path;
	v->name = name;
	v->type = REG_MULTI_SZ;
	v->data = m;
	v->len = len;
}

PVOID ExAllocatePoolWithTag(POOL_TYPE type, SIZE_T size, ULONG tag)
{
	struct pool_hdr *h = malloc(sizeof(*h) + size);

	(void)type;
	(void)tag;
	if (h == NULL)
		return NULL;
	h->size = size;
	h->magic = POOL_MAGIC;
	fake.pool_live++;
	fake.pool_allocs++;
	memset(h + 1, 0xa5, size); /* pool memory is not zeroed */
	return h + 1;
}

void ExFreePool(PVOID p)
{
	struct pool_hdr *h = (struct pool_hdr *)p - 1;

	if (h->magic != POOL_MAGIC)
		abort(); /* freeing something that is not pool: a glue bug */
	h->magic = 0;
	fake.pool_live--;
	free(h);
}

void ExFreePoolWithTag(PVOID p, ULONG tag)
{
	(void)tag;
	ExFreePool(p);
}

void RtlFreeUnicodeString(PUNICODE_STRING s)
{
	if (s->Buffer != NULL)
		ExFreePool(s->Buffer);
	s->Buffer = NULL;
	s->Length = s->MaximumLength = 0;
}

ULONG DbgPrintEx(ULONG component, ULONG level, const char *fmt, ...)
{
	(void)component;
	(void)level;
	if (getenv("WINIB_TEST_VERBOSE") != NULL) {
		va_list ap;

		va_start(ap, fmt);
		(void)vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	return 0;
}

KIRQL KeGetCurrentIrql(void)
{
	return fake.irql;
}

void KeInitializeSpinLock(PKSPIN_LOCK l)
{
	*l = 0;
}

void fake_acquire_spin(PKSPIN_LOCK l, PKIRQL old)
{
	if (fake.spin_depth != 0 || *l != 0)
		abort(); /* would deadlock on one CPU */
	fake.spin_depth++;
	fake.spins++;
	*l = 1;
	*old = fake.irql;
	fake.irql = 2;
}

void KeReleaseSpinLock(PKSPIN_LOCK l, KIRQL old)
{
	*l = 0;
	fake.spin_depth--;
	fake.irql = old;
}

BOOLEAN KeRegisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD r, PKBUGCHECK_CALLBACK_ROUTINE f,
				   PVOID buf, ULONG len, const UCHAR *component)
{
	(void)component;
	r->CallbackRoutine = f;
	r->Buffer = buf;
	r->Length = len;
	fake.bugcheck = r;
	return TRUE;
}

BOOLEAN KeDeregisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD r)
{
	if (fake.bugcheck != r)
		return FALSE;
	fake.bugcheck = NULL;
	return TRUE;
}

LONG InterlockedIncrement(LONG volatile *p)
{
	return ++*p;
}

LONG InterlockedDecrement(LONG volatile *p)
{
	return --*p;
}

NTSTATUS IoCreateDevice(PDRIVER_OBJECT d, ULONG ext, PUNICODE_STRING name, ULONG type,
			ULONG chars, BOOLEAN excl, PDEVICE_OBJECT *out)
{
	PDEVICE_OBJECT dev = calloc(1, sizeof(*dev));

	(void)name;
	(void)type;
	(void)chars;
	(void)excl;
	if (dev == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	dev->DeviceExtension = malloc(ext);
	if (dev->DeviceExtension == NULL) {
		free(dev);
		return STATUS_INSUFFICIENT_RESOURCES;
	}
	memset(dev->DeviceExtension, 0x5a, ext); /* the glue must initialise it */
	dev->DriverObject = d;
	dev->Flags = DO_DEVICE_INITIALIZING;
	fake.devices_created++;
	fake.last_created = dev;
	*out = dev;
	return STATUS_SUCCESS;
}

void IoDeleteDevice(PDEVICE_OBJECT dev)
{
	fake.devices_deleted++;
	free(dev->DeviceExtension);
	free(dev);
}

PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT src, PDEVICE_OBJECT target)
{
	(void)src;
	return target;
}

void IoDetachDevice(PDEVICE_OBJECT lower)
{
	(void)lower;
}

NTSTATUS IoRegisterDeviceInterface(PDEVICE_OBJECT pdo, const GUID *g, PUNICODE_STRING ref,
				   PUNICODE_STRING out)
{
	(void)pdo;
	(void)g;
	(void)ref;
	out->Buffer = ExAllocatePoolWithTag(PagedPool, 16 * sizeof(WCHAR), 0);
	if (out->Buffer == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	out->Length = 0;
	out->MaximumLength = 16 * sizeof(WCHAR);
	return STATUS_SUCCESS;
}

NTSTATUS IoSetDeviceInterfaceState(PUNICODE_STRING name, BOOLEAN on)
{
	(void)name;
	fake.interface_on = on;
	return STATUS_SUCCESS;
}

void IoInvalidateDeviceRelations(PDEVICE_OBJECT pdo, DEVICE_RELATION_TYPE t)
{
	(void)pdo;
	(void)t;
	fake.invalidations++;
}

void IoCompleteRequest(PIRP irp, int boost)
{
	(void)boost;
	irp->completed++;
}

/* Only the root bus PDO is ever below us: it completes what it gets. */
NTSTATUS IoCallDriver(PDEVICE_OBJECT dev, PIRP irp)
{
	if (dev != &fake.root_pdo)
		abort();
	irp->passed_down++;
	irp->completed++;
	return irp->IoStatus.Status;
}

BOOLEAN IoForwardIrpSynchronously(PDEVICE_OBJECT dev, PIRP irp)
{
	if (dev != &fake.root_pdo)
		abort();
	irp->passed_down++;
	irp->IoStatus.Status = STATUS_SUCCESS;
	return TRUE;
}

NTSTATUS PoCallDriver(PDEVICE_OBJECT dev, PIRP irp)
{
	return IoCallDriver(dev, irp);
}

void PoStartNextPowerIrp(PIRP irp)
{
	(void)irp;
}

/* ---- registry ------------------------------------------------------------ */

static void narrow(const UNICODE_STRING *us, char *out, size_t cap)
{
	size_t i, n = us->Length / sizeof(WCHAR);

	for (i = 0; i < n && i + 1 < cap; i++)
		out[i] = (char)us->Buffer[i];
	out[i] = '\0';
}

static NTSTATUS key_new(const char *path, PHANDLE out)
{
	struct fake_key *k = malloc(sizeof(*k));

	if (k == NULL)
		return STATUS_INSUFFICIENT_RESOURCES;
	(void)snprintf(k->path, sizeof(k->path), "%s", path);
	fake.keys_open++;
	*out = k;
	return STATUS_SUCCESS;
}

NTSTATUS IoOpenDeviceRegistryKey(PDEVICE_OBJECT pdo, ULONG which, ACCESS_MASK access,
				 PHANDLE out)
{
	(void)pdo;
	(void)access;
	if (which != PLUGPLAY_REGKEY_DRIVER)
		return STATUS_INVALID_PARAMETER;
	return key_new("", out);
}

NTSTATUS ZwOpenKey(PHANDLE out, ACCESS_MASK access, OBJECT_ATTRIBUTES *oa)
{
	const struct fake_key *parent = oa->RootDirectory;
	char name[64], path[240];
	size_t i, n;

	(void)access;
	narrow(oa->ObjectName, name, sizeof(name));
	n = strlen(parent->path);
	if (n + 1 + strlen(name) + 1 > sizeof(path))
		return STATUS_OBJECT_NAME_INVALID;
	memcpy(path, parent->path, n);
	if (n > 0)
		path[n++] = '\\';
	memcpy(path + n, name, strlen(name) + 1);
	n = strlen(path);
	for (i = 0; i < fake.nreg; i++)
		if (strncasecmp(fake.reg[i].path, path, n) == 0 &&
		    (fake.reg[i].path[n] == '\0' || fake.reg[i].path[n] == '\\'))
			return key_new(path, out);
	return STATUS_OBJECT_NAME_NOT_FOUND;
}

NTSTATUS ZwQueryValueKey(HANDLE key, PUNICODE_STRING name, KEY_VALUE_INFORMATION_CLASS cls,
			 PVOID buf, ULONG len, PULONG need)
{
	const struct fake_key *k = key;
	PKEY_VALUE_PARTIAL_INFORMATION info = buf;
	char vname[64];
	size_t i, j;

	narrow(name, vname, sizeof(vname));
	if (cls != KeyValuePartialInformation)
		return STATUS_INVALID_PARAMETER;
	for (i = 0; i < fake.nreg; i++) {
		const struct fake_reg_value *v = &fake.reg[i];
		ULONG data_len = v->type == REG_DWORD ? 4 : (ULONG)(v->len * 2);

		if (strcasecmp(v->path, k->path) != 0 || strcasecmp(v->name, vname) != 0)
			continue;
		*need = (ULONG)offsetof(KEY_VALUE_PARTIAL_INFORMATION, Data) + data_len;
		if (len < *need)
			return STATUS_BUFFER_TOO_SMALL;
		info->TitleIndex = 0;
		info->Type = v->type;
		info->DataLength = data_len;
		if (v->type == REG_DWORD) {
			memcpy(info->Data, &v->dword, 4);
		} else {
			for (j = 0; j < v->len; j++) {
				info->Data[2 * j] = (UCHAR)v->data[j];
				info->Data[2 * j + 1] = 0;
			}
		}
		return STATUS_SUCCESS;
	}
	return STATUS_OBJECT_NAME_NOT_FOUND;
}

NTSTATUS ZwClose(HANDLE h)
{
	fake.keys_open--;
	free(h);
	return STATUS_SUCCESS;
}
